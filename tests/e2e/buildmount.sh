# tests/e2e/buildmount.sh: `crumb build` with RUN --mount: a cache kept across builds and never
# in the image, binds from the context and from a stage, tmpfs, secrets (--secret) that reach the
# step and nothing else (the image, the store, the output), and bad mounts refused before
# anything is written.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/buildmount
mkdir -p "$T"
build() { "$CRUMB" build --kernel "$KERNEL" "$@"; }
rootfs_of() {
	d=$(skopeo inspect --raw "oci:$CRUMB_HOME:$1" |
		python3 -c 'import json,sys; m=json.load(sys.stdin); print([l["digest"] for l in m["layers"] if "rootfs" in l["mediaType"]][0])')
	echo "$CRUMB_HOME/blobs/sha256/${d#sha256:}"
}
# store_state: what a failed build must not change (its temporary files aside).
store_state() { find "$CRUMB_HOME" -path "$CRUMB_HOME/tmp" -prune -o -print | LC_ALL=C sort; cat "$CRUMB_HOME/index.json" 2>/dev/null; }

C=$T/ctx
mkdir -p "$C/src"
busybox_tar "$C"
echo "context file v1" >"$C/src/a.txt"
SECRET="crumb-e2e-s3cr3t-$$-Zq8vXw"
printf '%s' "$SECRET" >"$T/secret.txt"
want_sha=$(sha256sum "$T/secret.txt" | cut -d' ' -f1)
cat >"$C/Crumbfile" <<'EOF'
FROM ./busybox.tar AS base
RUN echo stagefile > /stage.txt
FROM ./busybox.tar
WORKDIR /work
RUN --mount=type=cache,target=/var/cache/app --mount=type=cache,id=seeded,target=/seed,from=base,mode=0700 sh -c 'ls /var/cache/app > /seen.txt; echo run >> /var/cache/app/runs; wc -l < /var/cache/app/runs > /runs.txt; cat /seed/stage.txt > /seeded.txt; stat -c %a /seed > /seed.mode'
RUN --mount=type=tmpfs,target=scratch,size=4m sh -c 'echo x > /work/scratch/f && stat -f -c %T /work/scratch > /tmpfs.txt'
RUN --mount=type=bind,target=/ctx cat /ctx/src/a.txt > /bind.txt
RUN --mount=type=bind,from=base,source=/stage.txt,target=/etc/stage.txt --mount=type=bind,source=src,target=/rw,rw sh -c 'cat /etc/stage.txt > /bindstage.txt; echo scribble > /rw/new && cat /rw/new > /rw.txt'
RUN --mount=type=secret,id=tok --mount=type=secret,id=tok,env=TOK,target=/root/tok --mount=type=secret,id=nope sh -c 'sha256sum /run/secrets/tok | cut -d" " -f1 > /tok.sha; printf %s "$TOK" | sha256sum | cut -d" " -f1 > /env.sha; stat -c %a /run/secrets/tok > /tok.mode; test -e /run/secrets/nope || echo absent > /nope.txt'
EOF

# 1. The first build: each mount seen by its step, none of them in the image.
build -t m1 --secret "id=tok,src=$T/secret.txt" "$C" >"$T/out1" 2>"$T/err1"
ok $? "build with cache, tmpfs, bind (context, stage, rw) and secret mounts"
diag "$(tail -3 "$T/err1")"
grep -q '3 builder boots' "$T/err1"; ok $? "3 boots: the base stage, the mounts sharing one, the secret step apart"
R=$(rootfs_of m1:latest)
is "$("$CRUMB" fs cat "$R:/seen.txt")" "" "the first build's cache is empty"
is "$("$CRUMB" fs cat "$R:/runs.txt" | tr -d ' ')" "1" "... and the step wrote to it"
is "$("$CRUMB" fs cat "$R:/seeded.txt")" "stagefile" "a new cache with from=base starts as that stage's files"
is "$("$CRUMB" fs cat "$R:/seed.mode")" "700" "... its directory with mode=0700"
is "$("$CRUMB" fs cat "$R:/tmpfs.txt")" "tmpfs" "tmpfs: the step's relative target (below WORKDIR) is a tmpfs"
is "$("$CRUMB" fs cat "$R:/bind.txt")" "context file v1" "bind: the context at /ctx"
is "$("$CRUMB" fs cat "$R:/bindstage.txt")" "stagefile" "bind from=base: the stage's file at /etc/stage.txt"
is "$("$CRUMB" fs cat "$R:/rw.txt")" "scribble" "bind rw: the step could write"
[ ! -e "$C/src/new" ]; ok $? "... and the write stayed out of the context"
is "$("$CRUMB" fs cat "$R:/tok.sha")" "$want_sha" "secret: the step read --secret's file at /run/secrets/tok"
is "$("$CRUMB" fs cat "$R:/env.sha")" "$want_sha" "secret env=TOK: the step had it in \$TOK"
is "$("$CRUMB" fs cat "$R:/tok.mode")" "400" "secret: mode 0400 by default"
is "$("$CRUMB" fs cat "$R:/nope.txt")" "absent" "an optional secret not given is no file"
for p in /var/cache/app /seed /work/scratch /ctx /etc/stage.txt /rw /run/secrets /root/tok; do
	if "$CRUMB" fs ls "$R:$p" >/dev/null 2>&1; then ok 1 "$p is not in the image"; else ok 0 "$p is not in the image"; fi
done
"$CRUMB" fs ls "$R:/etc" >/dev/null 2>&1; ok $? "... though /etc, the bind target's parent the stage had, is"
ls "$CRUMB_HOME"/buildcache/*/cache.ext4 >/dev/null 2>&1; ok $? "the cache is a disk in \$CRUMB_HOME/buildcache"

# 2. A second build (no build cache): the cache mount still holds the first build's files.
build -t m2 --no-cache --secret "id=tok,src=$T/secret.txt" "$C" >"$T/out2" 2>"$T/err2"
ok $? "a --no-cache rebuild"
R=$(rootfs_of m2:latest)
is "$("$CRUMB" fs cat "$R:/seen.txt" | tr '\n' ' ')" "runs " "the second build sees the first's file in the cache"
is "$("$CRUMB" fs cat "$R:/runs.txt" | tr -d ' ')" "2" "... and adds to it"
"$CRUMB" fs ls "$R:/var/cache/app" >/dev/null 2>&1; is $? 1 "the cache is still not in the image"

# 3. A bind's content is part of the step's key; a cache's is not.
echo "context file v2" >"$C/src/a.txt"
build -t m3 --secret "id=tok,src=$T/secret.txt" "$C" >"$T/out3" 2>"$T/err3"
ok $? "a build after the bound context file changed"
is "$("$CRUMB" fs cat "$(rootfs_of m3:latest):/bind.txt")" "context file v2" "... is not served the stale step from the cache"
d3=$(cat "$T/out3")
d4=$(build -t m4 --secret "id=tok,src=$T/secret.txt" "$C" 2>"$T/err4")
is "$d4" "$d3" "the same inputs again: the same manifest digest (from the cache)"
grep -q ' 0 builder boots' "$T/err4"; ok $? "... with no builder boot"

# 4. Reproducible without the cache too, when the steps do not read the cache mount.
R2=$T/repro
mkdir -p "$R2"
cp "$C/busybox.tar" "$R2/"
cp -r "$C/src" "$R2/"
printf 'FROM ./busybox.tar\nRUN --mount=type=tmpfs,target=/t --mount=type=bind,source=src,target=/s --mount=type=secret,id=tok cat /s/a.txt /run/secrets/tok | sha256sum > /sum\n' >"$R2/Crumbfile"
r1=$(build -q --no-cache --secret "id=tok,src=$T/secret.txt" "$R2" 2>"$T/err5")
r2=$(build -q --no-cache --secret "id=tok,src=$T/secret.txt" "$R2" 2>>"$T/err5")
[ -n "$r1" ] && [ "$r1" = "$r2" ]; ok $? "two --no-cache builds with tmpfs, bind and secret mounts: the same digest"
diag "$(tail -2 "$T/err5")"

# 5. The secret is nowhere but in the steps that mounted it.
in_store "stagefile"; ok $? "(the store search finds what an image holds: 'stagefile')"
in_store "$SECRET"; is $? 1 "the secret is in no file of \$CRUMB_HOME (blobs decompressed, build cache, buildcache)"
cat "$T"/out* "$T"/err* | grep -qF -- "$SECRET"; is $? 1 "... nor in any build's output"
env_sec=$(SECRET_TOK="$SECRET" "$CRUMB" build --kernel "$KERNEL" -q --secret id=tok,env=SECRET_TOK "$R2" 2>"$T/err6")
is "$env_sec" "$r1" "--secret id=tok,env=VAR gives the same bytes (the same image)"
env_sec=$(tok="$SECRET" "$CRUMB" build --kernel "$KERNEL" -q --secret id=tok "$R2" 2>"$T/err7")
is "$env_sec" "$r1" "--secret id=tok alone reads \$tok"

# 6. Bad mounts: one line with FILE:LINE:COL, exit 1, the store as it was, no boot.
E=$T/errctx
mkdir -p "$E"
cp "$C/busybox.tar" "$E/"
store_state >"$T/state.before"
bad() { # DESC FLAGS... -- LINE3 WANT
	desc=$1
	printf 'FROM ./busybox.tar\nRUN echo %s > /first\n%s\n' "$$-$n" "$2" >"$E/Crumbfile"
	shift 2
	build -q "$@" "$E" >/dev/null 2>"$T/bad.err"
	rc=$?
	if [ "$rc" -eq 1 ] && one_line_error "$T/bad.err" && grep -qF "$E/Crumbfile:3:" "$T/bad.err"; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		diag "exit $rc: $(cat "$T/bad.err")"
	fi
}
bad "type=ssh is refused" 'RUN --mount=type=ssh true'
bad "an unknown type" 'RUN --mount=type=volume,target=/x true'
bad "an unknown key" 'RUN --mount=type=cache,target=/x,colour=red true'
bad "a cache without target" 'RUN --mount=type=cache,id=x true'
bad "a target in /proc" 'RUN --mount=type=tmpfs,target=/proc/x true'
bad "target / (after ..)" 'RUN --mount=type=tmpfs,target=/a/.. true'
bad "from= naming no stage or image" 'RUN --mount=type=bind,from=nosuch,target=/x true'
bad "a required secret not given" 'RUN --mount=type=secret,id=tok,required=true true'
grep -qF "secret 'tok' is required" "$T/bad.err"; ok $? "... says which secret"
store_state >"$T/state.after"
cmp -s "$T/state.before" "$T/state.after"; ok $? "nothing was written to the store by the failed builds"
printf 'FROM ./busybox.tar\nRUN true\n' >"$E/Crumbfile"
build -q --secret "id=tok,src=$T/nofile" "$E" >/dev/null 2>"$T/bad.err"
is $? 1 "--secret with a missing file fails"
one_line_error "$T/bad.err"; ok $? "... with one line"
build -q --secret "src=$T/secret.txt" "$E" >/dev/null 2>"$T/bad.err"
is $? 2 "--secret without id= is a usage error"
done_testing
