# tests/e2e/build.sh: `crumb build`: every instruction (golden tree + config), RUN in the builder
# VM, a failing RUN, the cache, reproducibility, errors, and killed builds leaving the store sound.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/build
mkdir -p "$T"
top=$(cd "$(dirname "$0")/../.." && pwd)
golden=$top/tests/golden/build
build() { "$CRUMB" build --kernel "$KERNEL" "$@"; }
# rootfs_of REF: the path of the image's root filesystem blob.
rootfs_of() {
	d=$(skopeo inspect --raw "oci:$CRUMB_HOME:$1" |
		python3 -c 'import json,sys; m=json.load(sys.stdin); print([l["digest"] for l in m["layers"] if "rootfs" in l["mediaType"]][0])')
	echo "$CRUMB_HOME/blobs/sha256/${d#sha256:}"
}

# 1. Every non-RUN instruction, checked against golden files.
build -q -t instr "$top/tests/build/instructions" >"$T/digest" 2>"$T/err"
ok $? "build tests/build/instructions"
diag "$(cat "$T/err")"
R=$(rootfs_of instr:latest)
# crumb-init's size changes with its source: left out.
"$CRUMB" fs ls -lR "$R:/" 2>&1 | sed "s|^$R:||" | grep -v ' crumb-init$' >"$T/tree"
if [ -n "${GOLDEN:-}" ]; then mkdir -p "$golden" && cp "$T/tree" "$golden/instructions.tree"; fi
diff -u "$golden/instructions.tree" "$T/tree" >"$T/diff"; ok $? "the tree matches tests/golden/build/instructions.tree"
[ -s "$T/diff" ] && diag "$(head -40 "$T/diff")"
skopeo inspect --raw --config "oci:$CRUMB_HOME:instr:latest" | python3 -c '
import json, sys
c = json.load(sys.stdin)["config"]
for k in sorted(c):
    print(k, json.dumps(c[k], sort_keys=True))' >"$T/config"
if [ -n "${GOLDEN:-}" ]; then cp "$T/config" "$golden/instructions.config"; fi
diff -u "$golden/instructions.config" "$T/config" >"$T/diff"; ok $? "the config (skopeo inspect --config) matches tests/golden/build/instructions.config"
[ -s "$T/diff" ] && diag "$(head -40 "$T/diff")"
"$CRUMB" fs cat "$R:/etc/motd" >/dev/null 2>&1; is $? 1 "the first stage's /etc/motd went to /from-stage only"
printf 'hello   from   a   heredoc\n\ttab kept\n' >"$T/motd"
"$CRUMB" fs cat "$R:/from-stage/motd" | cmp -s - "$T/motd"; ok $? "COPY <<EOF keeps whitespace byte for byte"
"$CRUMB" fs cat "$R:/licenses/Apache-2.0" | cmp -s - /usr/share/common-licenses/Apache-2.0
ok $? "COPY --from=host copies the host file"

# 2. The same inputs give the same manifest digest, with and without the cache.
d1=$(cat "$T/digest")
d0=$(build -q "$top/tests/build/instructions" 2>"$T/err"); ok $? "a build without -t works"
is "$d0" "$d1" "... and gives the same digest, untagged"
"$CRUMB" inspect "$d0" >/dev/null 2>&1; ok $? "... by which the untagged image is found"
d2=$(build -q -t instr2 "$top/tests/build/instructions" 2>/dev/null)
is "$d2" "$d1" "a rebuild gives the same manifest digest"
d3=$(build -q --no-cache -t instr3 "$top/tests/build/instructions" 2>/dev/null)
is "$d3" "$d1" "a --no-cache rebuild gives the same manifest digest"
d4=$(build -q --build-arg VERSION=2.0 -t instr4 "$top/tests/build/instructions" 2>/dev/null)
[ -n "$d4" ] && [ "$d4" != "$d1" ]; ok $? "--build-arg VERSION=2.0 changes the image"
skopeo inspect "oci:$CRUMB_HOME:instr4:latest" | grep -q '"org.example.version": "2.0"'; ok $? "... the label took the build-arg"

# .dockerignore: patterns, "**", "!" exceptions, directories.
I=$T/ignorectx
mkdir -p "$I/src/a" "$I/src/b" "$I/logs"
for f in keep.txt src/a/x.c src/a/x.o src/b/y.o src/b/keep.o logs/1.log secret.env; do echo "$f" >"$I/$f"; done
printf '# comments and blank lines are skipped\n\n**/*.o\n!src/b/keep.o\nlogs/\n/secret.env\n' >"$I/.dockerignore"
printf 'FROM scratch\nCOPY . /ctx/\n' >"$I/Crumbfile"
build -q -t ign "$I" >/dev/null 2>"$T/err"; ok $? "build with a .dockerignore"
R=$(rootfs_of ign:latest)
got=$("$CRUMB" fs ls -R "$R:/ctx" | grep -v ":$" | grep . | LC_ALL=C sort | tr '\n' ' ')
is "$got" ".dockerignore Crumbfile a b keep.o keep.txt src x.c " "excluded: **/*.o (except !src/b/keep.o), logs/, /secret.env"
printf 'FROM scratch\nCOPY secret.env /x\n' >"$I/Crumbfile"
build -q "$I" 2>"$T/err"; is $? 1 "COPY of an ignored file fails"
grep -q 'secret.env: excluded by .dockerignore' "$T/err"; ok $? "... saying it is excluded"

# FROM an OCI image layout directory, a docker-archive tar (skopeo makes it), a stored image.
L=$T/fromctx
mkdir -p "$L/layer/etc" "$L/layer/bin"
echo "from a layer" >"$L/layer/etc/issue"
ln -s /bin/busybox "$L/layer/bin/sh"
python3 - "$L" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name in ["etc", "etc/issue", "bin", "bin/sh"]:
        ti = t.gettarinfo(os.path.join(d, "layer", name), name)
        ti.uid = ti.gid = 0; ti.uname = ti.gname = ""; ti.mtime = 0
        t.addfile(ti, open(os.path.join(d, "layer", name), "rb") if ti.isfile() else None)
layer = buf.getvalue()
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    os.makedirs(f"{d}/layout/blobs/sha256", exist_ok=True)
    open(f"{d}/layout/blobs/sha256/{h}", "wb").write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
l = blob(layer)
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "config": {"Env": ["FROMLAYOUT=yes"], "Cmd": ["/bin/sh", "-c", "cat /etc/issue"]},
                  "rootfs": {"type": "layers", "diff_ids": [l["digest"]]}}).encode()
c = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": dict(c, mediaType="application/vnd.oci.image.config.v1+json"),
                  "layers": [dict(l, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode()
m = blob(man)
json.dump({"schemaVersion": 2, "manifests": [dict(m, mediaType="application/vnd.oci.image.manifest.v1+json",
           annotations={"org.opencontainers.image.ref.name": "base:1"})]}, open(f"{d}/layout/index.json", "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(f"{d}/layout/oci-layout", "w"))
PY
skopeo copy -q "oci:$L/layout:base:1" "docker-archive:$L/base.tar:base:1" 2>"$T/err"; ok $? "skopeo makes a docker-archive from the OCI layout"
for from in ./layout ./base.tar; do
	printf 'FROM %s\nENV MORE=1\n' "$from" >"$L/Crumbfile"
	build -q -t "from-${from#./}" "$L" >/dev/null 2>"$T/err"; ok $? "FROM $from"
	diag "$(cat "$T/err")"
	R=$(rootfs_of "from-${from#./}:latest")
	is "$("$CRUMB" fs cat "$R:/etc/issue")" "from a layer" "FROM $from: the layer's files"
	skopeo inspect --config "oci:$CRUMB_HOME:from-${from#./}:latest" | tr -d ' \n' >"$T/cfg"
	grep -q '"Env":\["FROMLAYOUT=yes","MORE=1"\]' "$T/cfg" && grep -q '"Cmd":\["/bin/sh","-c","cat/etc/issue"\]' "$T/cfg"
	ok $? "FROM $from: its Env and Cmd are inherited"
done
ls "$L/layout" | tr '\n' ' ' | grep -qx 'blobs index.json oci-layout '; ok $? "FROM ./layout reads the layout without writing to it"
printf 'FROM from-layout\nCOPY --from=host /usr/share/common-licenses/GPL-3 /MIT\n' >"$L/Crumbfile"
build -q -t from-store "$L" >/dev/null 2>"$T/err"; ok $? "FROM a stored image"
R=$(rootfs_of from-store:latest)
"$CRUMB" fs ls "$R:/etc/issue" "$R:/MIT" >/dev/null; ok $? "... holds the base's files and the new one"
# A name with '/' is looked up in the store first (then it is a path in the context).
build -q -t me/base:1 "$L" >/dev/null 2>"$T/err"; ok $? "tag me/base:1"
mkdir -p "$L/sub"; cp "$L/base.tar" "$L/sub/"
printf 'FROM me/base:1\nFROM sub/base.tar\nCOPY --from=0 /MIT /MIT\n' >"$L/Crumbfile"
build -q -t from-slash "$L" >/dev/null 2>"$T/err"; ok $? "FROM me/base:1 (stored), FROM sub/base.tar (a path)"
diag "$(cat "$T/err")"
R=$(rootfs_of from-slash:latest)
"$CRUMB" fs ls "$R:/etc/issue" "$R:/MIT" >/dev/null; ok $? "... the stored image's files and the archive's"
printf 'FROM other/base:1\n' >"$L/Crumbfile"
build -q --no-pull "$L" >/dev/null 2>"$T/err"; is $? 1 "FROM other/base:1 (neither stored nor a file), --no-pull, fails"
is "$(cat "$T/err")" "crumb: $L/Crumbfile:1:1: FROM other/base:1: no stage, stored image or file of that name (see 'crumb images'; --no-pull: nothing pulled)" "... with one line"
# COPY --from=IMAGE: a stored image's files, as Docker copies from an image.
printf 'FROM scratch\nCOPY --from=me/base:1 /MIT /MIT\nCOPY --from=from-layout /etc/issue /issue\n' >"$L/Crumbfile"
build -q -t copy-image "$L" >/dev/null 2>"$T/err"; ok $? "COPY --from=me/base:1 and --from=from-layout (stored images)"
diag "$(cat "$T/err")"
R=$(rootfs_of copy-image:latest)
is "$("$CRUMB" fs cat "$R:/issue")" "from a layer" "... copies from the images' trees"
"$CRUMB" fs ls "$R:/MIT" >/dev/null; ok $? "... both of them"
printf 'FROM scratch\nCOPY --from=nosuch:1 /x /x\n' >"$L/Crumbfile"
build -q --no-pull "$L" >/dev/null 2>"$T/err"; is $? 1 "COPY --from=nosuch:1 (no stage, no stored image), --no-pull, fails"
is "$(cat "$T/err")" "crumb: $L/Crumbfile:2:1: COPY --from=nosuch:1: no earlier stage or stored image of that name (or 'host')" "... naming it in one line"
# NAME[:TAG]@DIGEST: the stored image of that name and manifest digest (the tag ignored), in
# FROM and COPY --from alike; a malformed one is one precise line in every spelling.
mb=sha256:$(skopeo inspect --raw "oci:$CRUMB_HOME:me/base:1" | sha256sum | cut -d' ' -f1)
printf 'FROM %s\nFROM me/base@%s\nFROM me/base:9@%s\nCOPY --from=me/base@%s /MIT /MIT\nCOPY --from=me/base:9@%s /etc/issue /issue\nCOPY --from=%s /MIT /MIT2\n' \
	"$mb" "$mb" "$mb" "$mb" "$mb" "$mb" >"$L/Crumbfile"
build -q -t by-digest "$L" >/dev/null 2>"$T/err"; ok $? "FROM and COPY --from DIGEST, me/base@DIGEST and me/base:9@DIGEST"
diag "$(cat "$T/err")"
R=$(rootfs_of by-digest:latest)
"$CRUMB" fs ls "$R:/MIT" "$R:/issue" "$R:/MIT2" >/dev/null; ok $? "... found the stored image by its digest"
printf 'FROM from-layout@%s\n' "$mb" >"$L/Crumbfile"
build -q --no-pull "$L" >/dev/null 2>"$T/err"; is $? 1 "FROM NAME@DIGEST of another name's image fails"
is "$(cat "$T/err")" "crumb: $L/Crumbfile:1:1: FROM from-layout@$mb: no stage, stored image or file of that name (see 'crumb images'; --no-pull: nothing pulled)" "... with one line"
# the digest alone (sha256:HEX) is held to the same rule as NAME@DIGEST
MB=sha256:$(echo "${mb#sha256:}" | tr a-f A-F)
for ref in me/base@sha256:12 base:1@sha256:12 me/base:1@md5:12 sha256:12 "$MB" "me/base@$MB"; do
	for ins in "FROM $ref" "COPY --from=$ref /x /x"; do
		printf 'FROM scratch\n%s\n' "$ins" >"$L/Crumbfile"
		build -q "$L" >/dev/null 2>"$T/err"; is $? 1 "$ins is refused"
		is "$(cat "$T/err")" "crumb: $L/Crumbfile:2:1: ${ins%% *}: invalid reference '$ref': a digest is sha256: and 64 lowercase hex digits" "... with one precise line"
	done
done
printf 'FROM from-layout AS Base\nFROM BASE\nCOPY --from=bAsE /etc/issue /issue2\n' >"$L/Crumbfile"
build -q -t stage-case "$L" >/dev/null 2>"$T/err"; ok $? "stage names are case-insensitive (FROM, COPY --from)"
diag "$(cat "$T/err")"
R=$(rootfs_of stage-case:latest)
"$CRUMB" fs ls "$R:/etc/issue" "$R:/issue2" >/dev/null; ok $? "... FROM BASE and --from=bAsE found stage base"
# BuildKit's platform ARGs: global, and in a stage once an ARG without a value declares them.
printf '%s\n' 'ARG OUT=$TARGETOS-$BUILDARCH' 'FROM --platform=$BUILDPLATFORM from-layout AS one' \
	'ARG TARGETARCH' 'ARG OUT' 'ENV A=$TARGETARCH P=[$TARGETPLATFORM] O=$OUT' \
	'COPY --from=host /usr/share/common-licenses/GPL-3 /$TARGETARCH/' \
	'FROM --platform=linux/amd64 one' >"$L/Crumbfile"
build -q -t platform-args "$L" >/dev/null 2>"$T/err"; ok $? "FROM --platform=\$BUILDPLATFORM and linux/amd64 build"
diag "$(cat "$T/err")"
skopeo inspect --config "oci:$CRUMB_HOME:platform-args:latest" | tr -d ' \n' | grep -q '"A=amd64","P=\[\]","O=linux-amd64"'
ok $? "... TARGETARCH after ARG TARGETARCH, TARGETPLATFORM undeclared is empty, global TARGETOS/BUILDARCH"
R=$(rootfs_of platform-args:latest)
"$CRUMB" fs ls "$R:/amd64/GPL-3" >/dev/null; ok $? "... COPY to /\$TARGETARCH/ wrote /amd64/"
printf 'FROM scratch\nFROM   --platform=linux/arm64 scratch\n' >"$L/Crumbfile"
build -q "$L" >/dev/null 2>"$T/err"; is $? 1 "FROM --platform=linux/arm64 is refused"
is "$(cat "$T/err")" "crumb: $L/Crumbfile:2:8: FROM --platform=linux/arm64: only linux/amd64 can be built" "... with one line at the flag"

# 3. RUN in the builder microVM, FROM a busybox root filesystem tarball.
C=$T/runctx
mkdir -p "$C"
cp "$top/tests/build/run/Crumbfile" "$C/"
busybox_tar "$C"
"$CRUMB" images >"$T/images.before"
build -t runimg "$C" >"$T/run.out" 2>"$T/run.err"
ok $? "build with RUN steps (busybox: echo, useradd, exec form, heredoc, USER, WORKDIR, ARG)"
diag "$(tail -5 "$T/run.err")"
grep -q '1 builder boot\|2 builder boots' "$T/run.err"; ok $? "consecutive RUNs share a boot (2 groups: before and after USER)"
R=$(rootfs_of runimg:latest)
is "$("$CRUMB" fs cat "$R:/hello")" "$(printf 'hi\nexec form')" "RUN wrote /hello (shell and exec form)"
"$CRUMB" fs cat "$R:/etc/passwd" | grep -q '^app:[^:]*:1000:1000:'; ok $? "useradd added app (uid 1000) to /etc/passwd"
"$CRUMB" fs ls -ld "$R:/home/app" | grep -q ' 1000 *1000 '; ok $? "/home/app is owned by app"
is "$("$CRUMB" fs cat "$R:/srv/heredoc")" "  spaced  " "RUN <<EOF ran the heredoc as a script"
is "$("$CRUMB" fs cat "$R:/home/app/uid.txt")" "1000" "USER app: the RUN ran as uid 1000"
is "$("$CRUMB" fs cat "$R:/home/app/pwd.txt")" "/home/app" "WORKDIR applies to RUN"
is "$("$CRUMB" fs cat "$R:/home/app/who.txt")" "builder" "ARG is in RUN's environment"
"$CRUMB" fs ls -l "$R:/home/app/uid.txt" | grep -q ' 1000 *1000 '; ok $? "files a USER's RUN makes are theirs"
"$CRUMB" fs ls "$R:/" | grep -qx 'lost+found'; is $? 1 "no lost+found left from the builder disk"

build -t runimg "$C" >/dev/null 2>"$T/run2.err"
grep -q '0 builder boots' "$T/run2.err"; ok $? "an unchanged rebuild boots no builder VM"
grep -q '(cached)' "$T/run2.err"; ok $? "... and says the RUN steps were cached"
build --no-cache -t runimg "$C" >/dev/null 2>"$T/run3.err"
grep -q '2 builder boots' "$T/run3.err"; ok $? "--no-cache boots the builder again"
build -t runimg "$C" >/dev/null 2>"$T/run4.err"
grep -q '0 builder boots' "$T/run4.err"; ok $? "... and refreshed the cache for the next build"
# SOURCE_DATE_EPOCH set: times are clamped, not forced (tests/e2e/sde.sh); what RUN writes too.
s1=$(SOURCE_DATE_EPOCH=1700000000 build -q "$C" 2>/dev/null)
s2=$(SOURCE_DATE_EPOCH=1700000000 build -q --no-cache "$C" 2>/dev/null)
[ -n "$s1" ] && [ "$s1" = "$s2" ]; ok $? "SOURCE_DATE_EPOCH set: RUN's files give the same digest with and without the cache"

# --add-host: RUN sees the line, the image's /etc/hosts stays the base's (Docker's rule).
H=$T/hostsctx
mkdir -p "$H/root/etc"
tar -C "$H/root" -xf "$C/busybox.tar"
printf '127.0.0.1\tlocalhost\n' >"$H/root/etc/hosts"
tar -C "$H/root" --owner=0 --group=0 --mtime=@0 -cf "$H/base.tar" .
rm -rf "$H/root"
printf 'FROM ./base.tar\nRUN grep db.local /etc/hosts >/seen && echo 1.1.1.1 step >>/etc/hosts\n' >"$H/Crumbfile"
build -q -t hostsimg --add-host db.local:10.1.2.3 "$H" >/dev/null 2>"$T/err"; ok $? "build --add-host db.local:10.1.2.3: RUN greps db.local in /etc/hosts"
R=$(rootfs_of hostsimg:latest)
is "$("$CRUMB" fs cat "$R:/seen")" "$(printf '10.1.2.3\tdb.local')" "... the RUN step saw the line"
is "$("$CRUMB" fs cat "$R:/etc/hosts")" "$(printf '127.0.0.1\tlocalhost')" "... the image's /etc/hosts is the base's (no added host, no step's write)"
build -q -t hostsimg "$H" >/dev/null 2>"$T/err"; is $? 1 "without --add-host the RUN fails: not served from the cache of the build with it"
build -q -t hostsimg --add-host x:host-gateway --network none "$H" 2>"$T/err"; is $? 2 "--add-host host-gateway with --network none is a usage error"
check "... in one line" one_line_error "$T/err"

# LABEL crumb.rootfs=ext4: the root filesystem is an ext4 image, booted as the root disk.
mkdir -p "$T/ext4ctx"
cp "$C/busybox.tar" "$T/ext4ctx/"
printf 'FROM ./busybox.tar\nLABEL crumb.rootfs=ext4\nCMD ["sh", "-c", "echo root is $(stat -f -c %%T /); exit 5"]\n' >"$T/ext4ctx/Crumbfile"
build -q -t ext4img "$T/ext4ctx" >/dev/null 2>"$T/err"; ok $? "build an image with crumb.rootfs=ext4"
skopeo inspect --raw "oci:$CRUMB_HOME:ext4img:latest" | grep -q 'application/vnd.crumb.rootfs.ext4.v1'
ok $? "... its root filesystem layer is ext4"
e2fsck -fn "$(rootfs_of ext4img:latest)" >"$T/fsck" 2>&1; ok $? "... which e2fsck -fn finds clean"
out=$("$CRUMB" run -q ext4img 2>"$T/err"); r=$?
is "$r" 5 "crumb run boots it (exit status 5; CMD [\"sh\", ...] found along PATH)"
is "$out" "root is ext2/ext3" "... from the ext4 root disk"

# 4. A failing RUN fails the build with its status and output; the store is unchanged.
mkdir -p "$T/failctx"
cp "$top/tests/build/fail/Crumbfile" "$C/busybox.tar" "$T/failctx/"
"$CRUMB" images >"$T/images.before"
build -t failimg "$T/failctx" >/dev/null 2>"$T/fail.err"
is $? 1 "RUN false fails the build (exit 1)"
tail -1 "$T/fail.err" | grep -q 'Crumbfile:3:1: RUN echo before-failure && false: exit status 1; last output: before-failure'
ok $? "... with file:line:col, the exit status and the step's last output"
diag "$(tail -1 "$T/fail.err")"
"$CRUMB" images >"$T/images.after"
cmp -s "$T/images.before" "$T/images.after"; ok $? "... and crumb images is unchanged"

# 5. Errors: one line, non-zero.
"$CRUMB" build "$T/nonexistent" 2>"$T/err"; is $? 1 "a missing context fails"
check "... one-line error" one_line_error "$T/err"
mkdir -p "$T/bad"
printf 'FROM scratch\nCOPY ../../etc/passwd /x\n' >"$T/bad/Crumbfile"
build -q "$T/bad" 2>"$T/err"; is $? 1 "COPY from outside the context fails"
grep -q 'Crumbfile:2:1: .*outside the build context' "$T/err"; ok $? "... naming file:line:col"
printf 'FROM scratch\nFROBNICATE x\n' >"$T/bad/Crumbfile"
build -q "$T/bad" 2>"$T/err"; is $? 1 "an unknown instruction fails"
grep -q 'Crumbfile:2:1: ' "$T/err" && one_line_error "$T/err"; ok $? "... one line with file:line:col"
printf 'FROM no-such-image\n' >"$T/bad/Crumbfile"
build -q "$T/bad" 2>"$T/err"; is $? 1 "FROM an unknown image fails"
grep -q 'Crumbfile:1:1: FROM no-such-image' "$T/err"; ok $? "... saying so"
printf 'FROM scratch\nCOPY missing.txt /x\n' >"$T/bad/Crumbfile"
build -q "$T/bad" 2>"$T/err"; is $? 1 "COPY of a missing file fails"
check "... one-line error" one_line_error "$T/err"
printf 'FROM scratch\nRUN echo hi\n' >"$T/bad/Crumbfile"
build -q "$T/bad" 2>"$T/err"; is $? 1 "RUN in a stage without a shell fails before booting"
grep -q "'/bin/sh' is not in the image" "$T/err" && one_line_error "$T/err"; ok $? "... saying the shell is missing"

# 6. Multi-stage, last stage FROM scratch with the host's python3 (--deps) and its stdlib: it runs.
build -q -t py "$top/tests/build/python" >/dev/null 2>"$T/err"; ok $? "build tests/build/python"
diag "$(cat "$T/err")"
out=$("$CRUMB" run -q py 2>"$T/err"); r=$?
is "$r" 3 "crumb run py: the program's exit status"
echo "$out" | grep -q '^python 3\.[0-9.]* in a crumb microVM: 42$'; ok $? "python ran in the VM (WORKDIR, CMD, a file from the first stage)"
diag "$out$(cat "$T/err")"

# 7. Killing a build at random moments never leaves a broken store.
"$CRUMB" images >"$T/images.before"
for i in 1 2 3 4; do
	"$CRUMB" build --kernel "$KERNEL" --no-cache -t killme "$C" >/dev/null 2>&1 &
	p=$!
	sleep "$(awk -v s="$i" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 2.5 }')"
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
sleep 1
"$CRUMB" images >"$T/images.after" 2>&1; ok $? "after 4 killed builds crumb images works"
pgrep -f "crumb-tests.*run-[0-9]*.ext4" >/dev/null; is $? 1 "... no builder QEMU is left running"
build -q -t afterkill "$C" >/dev/null 2>"$T/err"; ok $? "... and a fresh build works"
ls "$CRUMB_HOME/tmp" 2>/dev/null | grep -c build- | grep -qx '0'; ok $? "... which swept the killed builds' temporary directories"

done_testing
