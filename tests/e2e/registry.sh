# tests/e2e/registry.sh: crumb pull, push, login, logout and FROM a registry image, against a real
# registry (Debian's docker-registry) in its four modes (plain HTTP, TLS, htpasswd, bearer tokens),
# with skopeo as the client on the other side; resumed and refused pulls.
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/../registry/lib.sh"
T=$TEST_TMP/registry
mkdir -p "$T"
export DOCKER_CONFIG=$T/docker XDG_CONFIG_HOME=$T/xdg
unset SOURCE_DATE_EPOCH
trap 'reg_stop; [ -n "${slow-}" ] && kill $slow 2>/dev/null' EXIT
H=$CRUMB_HOME
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
rootfs_of() {
	d=$(skopeo inspect --raw "oci:$CRUMB_HOME:$1" |
		python3 -c 'import json,sys; m=json.load(sys.stdin); print([l["digest"] for l in m["layers"] if "rootfs" in l["mediaType"]][0])')
	echo "$CRUMB_HOME/blobs/sha256/${d#sha256:}"
}
# registry_digest REF [SKOPEO FLAGS]: the digest skopeo sees for docker://REF
registry_digest() {
	r=$1
	shift
	skopeo inspect "$@" "docker://$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])'
}
certs() { mkdir -p "$XDG_CONFIG_HOME/containers/certs.d/$REG" && cp "$REG_CERTS/ca.crt" "$XDG_CONFIG_HOME/containers/certs.d/$REG/"; }

# Inputs: a container image (busybox, two layers, whiteouts) as an OCI layout; a crumb image.
mkdir -p "$T/root/bin"
cp /bin/busybox "$T/root/bin/"
MD=$(python3 "$reg_here/mklayout.py" "$T/lay" v1 "$T/root")
"$CRUMB" pack --exec /bin/true --compress zstd -o "$T/root.cpio.zst"
printf 'not really a kernel %0512d\n' 7 >"$T/vmlinux"
D=$("$CRUMB" import -t app:1 --kernel "$T/vmlinux" --rootfs "$T/root.cpio.zst" --cmd /bin/true -l org.example.kind=test)
ok $? "a crumb image app:1 to push ($D)"

# 1. Plain HTTP (a 127.0.0.1 registry may answer HTTP, as Docker allows)
reg_start plain "$T/plain"; ok $? "registry (plain HTTP) on $REG"
skopeo copy -q --dest-tls-verify=false "oci:$T/lay:v1" "docker://$REG/bb:v1"; ok $? "skopeo pushes a container image"
# skopeo compresses the uncompressed layer as it pushes: the registry's digest is not the layout's
MD=$(registry_digest "$REG/bb:v1" --tls-verify=false)
"$CRUMB" pull "$REG/bb:v1" >"$T/out" 2>"$T/err"; ok $? "crumb pull $REG/bb:v1"
is "$(cat "$T/out")" "$MD" "... prints the manifest digest skopeo pushed"
is "$(grep -c ': fetching ' "$T/err")" 3 "... a line per blob fetched (config, two layers)"
"$CRUMB" images | grep -q "^$REG/bb  *v1  *$(echo "$MD" | cut -c8-19) "; ok $? "... stored as $REG/bb:v1"
"$CRUMB" pull "$REG/bb:v1" >"$T/out" 2>"$T/err"; ok $? "pull again"
is "$(grep -c 'already in the store' "$T/err"):$(grep -c fetching "$T/err")" "3:0" "... fetches nothing"
"$CRUMB" pull -q "$REG/bb@$MD" >"$T/out"; ok $? "pull by digest"
is "$(cat "$T/out")" "$MD" "... the same manifest"
# an image index (two platforms), and a Docker schema 2 manifest
INDEX=1 python3 "$reg_here/mklayout.py" "$T/multi" v1 "$T/root" >/dev/null
skopeo copy -q --all --dest-tls-verify=false "oci:$T/multi:v1" "docker://$REG/multi:v1"
skopeo inspect --raw --tls-verify=false "docker://$REG/multi:v1" >"$T/multi.json"
amd=$(json "$T/multi.json" '[m["digest"] for m in j["manifests"] if m["platform"]["architecture"] == "amd64"][0]')
arm=$(json "$T/multi.json" '[m["digest"] for m in j["manifests"] if m["platform"]["architecture"] == "arm64"][0]')
is "$("$CRUMB" pull -q "$REG/multi:v1")" "${amd:-none}" "an image index: pull takes its linux/amd64 image"
is "$("$CRUMB" pull -q --platform linux/arm64 "$REG/multi:v1")" "${arm:-none}" "... --platform linux/arm64 the other"
"$CRUMB" pull -q --platform linux/s390x "$REG/multi:v1" >/dev/null 2>"$T/err"; is $? 1 "... a platform it lacks fails"
one_line_error "$T/err" && grep -q "no image for linux/s390x" "$T/err"; ok $? "... in one line"
PLAIN=1 python3 "$reg_here/mklayout.py" "$T/plain-lay" v1 "$T/root" >/dev/null
skopeo copy -q --format v2s2 --dest-tls-verify=false "oci:$T/plain-lay:v1" "docker://$REG/v2s2:v1"
ok $? "skopeo pushes a Docker schema 2 image (it gzips the plain layer)"
V2=$(registry_digest "$REG/v2s2:v1" --tls-verify=false)
is "$("$CRUMB" pull -q "$REG/v2s2:v1")" "${V2:-none}" "a Docker schema 2 manifest pulls, its digest kept"
"$CRUMB" inspect "$REG/v2s2:v1" | grep -q '"application/vnd.docker.distribution.manifest.v2+json"'; ok $? "... stored with its media type"
# a manifest declaring a layer larger than the disk (the registry keeps it as written)
skopeo inspect --raw --tls-verify=false "docker://$REG/bb:v1" >"$T/bbraw.json"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); m["layers"][0]["size"]=1<<60; sys.stdout.write(json.dumps(m))' "$T/bbraw.json" >"$T/huge.json"
curl -fs -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary "@$T/huge.json" "http://$REG/v2/bb/manifests/huge" >/dev/null
ok $? "a manifest declaring a 1 EiB layer, put by curl"
CRUMB_HOME=$T/hh "$CRUMB" pull -q "$REG/bb:huge" >/dev/null 2>"$T/err"; is $? 1 "... its pull is refused"
one_line_error "$T/err" && grep -q "declares .* bytes of blobs; the store's filesystem has .* free" "$T/err"; ok $? "... before fetching, in one line"
diag "$(cat "$T/err")"
[ ! -d "$T/hh/tmp/pull" ] || [ -z "$(ls "$T/hh/tmp/pull")" ]; ok $? "... nothing fetched"
"$CRUMB" pull "$REG/nosuch:1" >"$T/out" 2>"$T/err"; is $? 1 "pull of a missing image fails"
one_line_error "$T/err" && grep -q "nosuch:1: HTTP 404 (MANIFEST_UNKNOWN" "$T/err"; ok $? "... in one line with the registry's words"
diag "$(cat "$T/err")"
"$CRUMB" pull "Bad/Name" >"$T/out" 2>"$T/err"; is $? 2 "a malformed reference is a usage error"
one_line_error "$T/err"; ok $? "... in one line"

"$CRUMB" push app:1 "$REG/app:1" >"$T/out" 2>"$T/err"; ok $? "crumb push app:1 $REG/app:1"
is "$(cat "$T/out")" "$D" "... prints the store's digest"
is "$(registry_digest "$REG/app:1" --tls-verify=false)" "$D" "skopeo inspect sees the same digest"
skopeo inspect --raw --tls-verify=false "docker://$REG/app:1" | grep -q 'application/vnd.crumb.kernel.vmlinux.v1'; ok $? "... and crumb's media types"
skopeo copy -q --src-tls-verify=false "docker://$REG/app:1" "oci:$T/skop:app" &&
	skopeo copy -q --dest-tls-verify=false "oci:$T/skop:app" "docker://$REG/app-back:1"
ok $? "skopeo copies the crumb image out of the registry and back"
is "$(registry_digest "$REG/app-back:1" --tls-verify=false)" "$D" "... keeping its digest"
CRUMB_HOME=$T/other "$CRUMB" pull -q "$REG/app-back:1" >"$T/out"; ok $? "another store pulls it"
is "$(cat "$T/out")" "$D" "... same digest as where it was built"
CRUMB_HOME=$T/other "$CRUMB" images --verify >/dev/null; ok $? "... every blob verified"
CRUMB_HOME=$T/other "$CRUMB" inspect "$REG/app-back:1" | grep -q '"org.example.kind": "test"'; ok $? "... its labels kept"
"$CRUMB" tag app:1 "$REG/app:2" && "$CRUMB" push "$REG/app:2" >/dev/null 2>"$T/err"; ok $? "tag then push REGISTRY/NAME:TAG"
is "$(grep -c 'the registry has it' "$T/err")" 3 "... sends no blob the registry has"
"$CRUMB" push app:1 >"$T/out" 2>"$T/err"; is $? 2 "push of a name with no registry and no destination"
one_line_error "$T/err"; ok $? "... is one line"

# 2. FROM a registry image: pulled into a fresh store, layers applied with their whiteouts.
mkdir -p "$T/ctx"
echo from-context >"$T/ctx/f"
printf 'FROM %s/bb:v1\nCOPY f /f\nCOPY --from=%s/bb:v1 /opq/new /copied\n' "$REG" "$REG" >"$T/ctx/Crumbfile"
export CRUMB_HOME=$T/h2
"$CRUMB" build --kernel "$KERNEL" -t fromreg "$T/ctx" >"$T/out" 2>"$T/err"; ok $? "build FROM $REG/bb:v1 (a fresh store; gzip and zstd layers)"
grep -q "pulled $REG/bb:v1 ($MD)" "$T/out" "$T/err"; ok $? "... pulled it"
diag "$(cat "$T/err")"
R=$(rootfs_of fromreg:latest)
"$CRUMB" fs ls "$R:/bin/busybox" "$R:/f" "$R:/opq/new" "$R:/copied" >/dev/null; ok $? "... the layers' files, COPY and COPY --from=IMAGE"
"$CRUMB" fs ls "$R:/etc/gone" >/dev/null 2>&1; is $? 1 "... a .wh. file deleted its file"
"$CRUMB" fs ls "$R:/opq/old" >/dev/null 2>&1; is $? 1 "... an opaque directory hid the lower layer's"
"$CRUMB" fs ls "$R:/etc/.wh.gone" >/dev/null 2>&1; is $? 1 "... no whiteout is left in the tree"
"$CRUMB" run --timeout 120 fromreg >"$T/out" 2>"$T/err"; ok $? "crumb run boots it (crumb's kernel and init)"
grep -q "^hello from a registry image" "$T/out"; ok $? "... runs the image's Entrypoint and Cmd"
"$CRUMB" build --kernel "$KERNEL" -q -t fromreg2 "$T/ctx" >/dev/null 2>"$T/err"; ok $? "build again"
grep -q pulled "$T/err"; is $? 1 "... the store has it: nothing pulled"
"$CRUMB" build --kernel "$KERNEL" -t fromreg3 --pull "$T/ctx" >"$T/out" 2>"$T/err"; ok $? "build --pull"
grep -q "pulled $REG/bb:v1" "$T/out" "$T/err"; ok $? "... pulls the base again"
printf 'FROM %s/bb@%s\nFROM %s/bb:v1@%s\nCOPY --from=0 /opq/new /n\n' "$REG" "$MD" "$REG" "$MD" >"$T/ctx/Crumbfile"
"$CRUMB" build --kernel "$KERNEL" -q -t bydigest "$T/ctx" >/dev/null 2>"$T/err"; ok $? "FROM REGISTRY/NAME@DIGEST and NAME:TAG@DIGEST"
printf 'FROM %s/v2s2:v1\n' "$REG" >"$T/ctx/Crumbfile"
CRUMB_HOME=$T/h2b "$CRUMB" build --kernel "$KERNEL" -q -t fromv2 "$T/ctx" >/dev/null 2>"$T/err"; ok $? "FROM a Docker schema 2 image"
printf 'FROM %s/nosuch:1\n' "$REG" >"$T/ctx/Crumbfile"
"$CRUMB" build --kernel "$KERNEL" -q "$T/ctx" >/dev/null 2>"$T/err"; is $? 1 "FROM a missing registry image fails"
one_line_error "$T/err" && grep -q "Crumbfile:1:1: FROM $REG/nosuch:1: pulling $REG/nosuch:1: registry $REG: manifest nosuch:1: HTTP 404" "$T/err"
ok $? "... FILE:LINE:COL and the registry's answer in one line"
diag "$(cat "$T/err")"
export CRUMB_HOME=$H

# 3. A pull killed midway resumes; a wrong blob is refused.
python3 "$reg_here/mklayout.py" "$T/biglay" v1 "$T/root" 24000000 >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$T/biglay:v1" "docker://$REG/big:v1"
skopeo inspect --raw --tls-verify=false "docker://$REG/big:v1" >"$T/big.json"
big=$(json "$T/big.json" 'j["layers"][2]["digest"][7:]')
export CRUMB_HOME=$T/h3
# through a slow link (1 MB/s), so that the kill lands mid-blob
python3 "$reg_here/slowproxy.py" "$T/slow.port" "${REG#*:}" 1000000 &
slow=$!
retry 10 test -s "$T/slow.port"
"$CRUMB" pull -q "127.0.0.1:$(cat "$T/slow.port")/big:v1" >/dev/null 2>"$T/killed.err" &
pid=$!
part=$CRUMB_HOME/tmp/pull/$big.part
s=$(date +%s)
retry 60 sh -c "[ \$(stat -c %s '$part' 2>/dev/null || echo 0) -gt 2000000 ]"
kill -9 $pid
wait $pid 2>/dev/null
kill $slow
kept=$(stat -c %s "$part" 2>/dev/null || echo 0)
[ "$kept" -gt 2000000 ] && [ "$kept" -lt 24000000 ]; ok $? "pull killed by kill -9 after $(($(date +%s) - s)) s left $kept bytes of the big layer"
[ -s "$T/killed.err" ] && diag "$(cat "$T/killed.err")"
"$CRUMB" pull "$REG/big:v1" >"$T/out" 2>"$T/err"; ok $? "pull again"
grep -q "^sha256:$(echo "$big" | cut -c1-12): resuming at " "$T/err"; ok $? "... resumes the layer where it stopped"
sent=$(grep "GET /v2/big/blobs/sha256:$big" "$REG_LOG" | sed -n 's/.*" \(20[06]\) \([0-9][0-9]*\) .*/\2/p' | awk '{s+=$1} END {print s+0}')
[ "$sent" -lt 30000000 ]; ok $? "... the registry sent $sent bytes for the 24 MB layer in both pulls"
"$CRUMB" images --verify >/dev/null; ok $? "... the store verifies"
[ ! -e "$part" ]; ok $? "... no part file left"
# killed once the whole blob had come (before it was stored): the next pull stores it, fetching nothing
cp "$CRUMB_HOME/blobs/sha256/$big" "$T/whole"
CRUMB_HOME=$T/h3b "$CRUMB" pull -q "$REG/bb:v1" >/dev/null
mkdir -p "$T/h3b/tmp/pull" && cp "$T/whole" "$T/h3b/tmp/pull/$big.part"
CRUMB_HOME=$T/h3b "$CRUMB" pull "$REG/big:v1" >"$T/out" 2>"$T/err"; ok $? "a part file holding the whole blob: pull"
grep -q "^sha256:$(echo "$big" | cut -c1-12): already in the store" "$T/err"; ok $? "... stores it without fetching it"
export CRUMB_HOME=$T/h4
skopeo inspect --raw --tls-verify=false "docker://$REG/bb:v1" >"$T/bb.json"
l1=$(json "$T/bb.json" 'j["layers"][0]["digest"][7:]')
data=$REG_STORE/docker/registry/v2/blobs/sha256/$(echo "$l1" | cut -c1-2)/$l1/data
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[100]^=1; open(p,"wb").write(b)' "$data"
"$CRUMB" pull -q "$REG/bb:v1" >"$T/out" 2>"$T/err"; is $? 1 "a registry sending a wrong blob: the pull fails"
one_line_error "$T/err" && grep -q "sent a wrong blob for sha256:$l1" "$T/err"; ok $? "... in one line"
diag "$(cat "$T/err")"
[ ! -e "$CRUMB_HOME/blobs/sha256/$l1" ] && [ ! -e "$CRUMB_HOME/tmp/pull/$l1.part" ]; ok $? "... the bad bytes are not kept"
"$CRUMB" images -q | grep -q .; is $? 1 "... nothing tagged"
export CRUMB_HOME=$H
reg_stop

# 4. TLS: the registry's own CA in certs.d, or --tls-verify=false
reg_start tls "$T/tls"; ok $? "registry (TLS) on $REG"
skopeo copy -q --dest-cert-dir "$REG_CERTS" "oci:$T/lay:v1" "docker://$REG/bb:v1"
MD=$(registry_digest "$REG/bb:v1" --cert-dir "$REG_CERTS")
CRUMB_HOME=$T/h5 "$CRUMB" pull -q "$REG/bb:v1" >"$T/out" 2>"$T/err"; is $? 1 "an unknown CA is refused"
one_line_error "$T/err" && grep -q "certs.d" "$T/err"; ok $? "... in one line that says where a CA goes"
diag "$(cat "$T/err")"
CRUMB_HOME=$T/h5 "$CRUMB" pull -q --tls-verify=false "$REG/bb:v1" >"$T/out"; ok $? "--tls-verify=false pulls"
certs
CRUMB_HOME=$T/h6 "$CRUMB" pull -q "$REG/bb:v1" >"$T/out"; ok $? "the CA in ~/.config/containers/certs.d/HOST: pull"
is "$(cat "$T/out")" "$MD" "... the same digest"
"$CRUMB" push -q app:1 "$REG/app:1" >/dev/null; ok $? "... and push"
is "$(registry_digest "$REG/app:1" --cert-dir "$REG_CERTS")" "$D" "... skopeo sees the digest"
reg_stop

# 5. htpasswd (basic auth): login keeps Docker's config.json
reg_start htpasswd "$T/basic"; ok $? "registry (TLS + htpasswd) on $REG"
certs
skopeo copy -q --dest-cert-dir "$REG_CERTS" --dest-creds "$REG_USER:$REG_PASS" "oci:$T/lay:v1" "docker://$REG/bb:v1"
CRUMB_HOME=$T/h7 "$CRUMB" pull -q "$REG/bb:v1" >"$T/out" 2>"$T/err"; is $? 1 "pull without credentials fails"
one_line_error "$T/err" && grep -q "crumb login $REG" "$T/err"; ok $? "... saying to log in"
"$CRUMB" login -u "$REG_USER" -p wrong "$REG" >"$T/out" 2>"$T/err"; is $? 1 "login with a wrong password fails"
one_line_error "$T/err"; ok $? "... in one line"
[ ! -e "$DOCKER_CONFIG/config.json" ]; ok $? "... and keeps nothing"
echo "$REG_PASS" | "$CRUMB" login -u "$REG_USER" --password-stdin "$REG" >"$T/out" 2>"$T/err"; ok $? "login --password-stdin"
is "$(json "$DOCKER_CONFIG/config.json" 'j["auths"]["'"$REG"'"]["auth"]')" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64)" "... kept as Docker keeps it"
is "$(stat -c %a "$DOCKER_CONFIG/config.json")" 600 "... mode 0600"
skopeo inspect --authfile "$DOCKER_CONFIG/config.json" --cert-dir "$REG_CERTS" "docker://$REG/bb:v1" >/dev/null; ok $? "skopeo reads the credentials crumb kept"
CRUMB_HOME=$T/h7 "$CRUMB" pull -q "$REG/bb:v1" >"$T/out"; ok $? "pull with them"
"$CRUMB" push -q app:1 "$REG/app:1" >/dev/null; ok $? "push with them"
is "$(registry_digest "$REG/app:1" --cert-dir "$REG_CERTS" --creds "$REG_USER:$REG_PASS")" "$D" "... skopeo sees the digest"
"$CRUMB" logout "$REG" | grep -q "^Removing login credentials for $REG"; ok $? "logout"
is "$(json "$DOCKER_CONFIG/config.json" 'len(j["auths"])')" 0 "... the entry is gone"
CRUMB_HOME=$T/h8 "$CRUMB" pull -q "$REG/bb:v1" >/dev/null 2>&1; is $? 1 "... pull fails again"
reg_stop

# 6. Bearer tokens: anonymous pull, push only with credentials
reg_start token "$T/token"; ok $? "registry (TLS + token service) on $REG"
certs
skopeo copy -q --dest-cert-dir "$REG_CERTS" --dest-creds "$REG_USER:$REG_PASS" "oci:$T/lay:v1" "docker://$REG/bb:v1"
MD=$(registry_digest "$REG/bb:v1" --cert-dir "$REG_CERTS")
CRUMB_HOME=$T/h9 "$CRUMB" pull -q "$REG/bb:v1" >"$T/out"; ok $? "anonymous pull (a pull-only token)"
is "$(cat "$T/out")" "$MD" "... the same digest"
"$CRUMB" push -q app:1 "$REG/app:1" >"$T/out" 2>"$T/err"; is $? 1 "anonymous push is refused"
one_line_error "$T/err" && grep -q "access denied" "$T/err"; ok $? "... in one line"
"$CRUMB" push -q --creds "$REG_USER:$REG_PASS" app:1 "$REG/app:1" >/dev/null; ok $? "push with --creds (a push token)"
is "$(registry_digest "$REG/app:1" --cert-dir "$REG_CERTS" --creds "$REG_USER:$REG_PASS")" "$D" "... skopeo sees the digest"
grep -q "scope=repository%3Aapp%3Apull%2Cpush.*auth=basic" "$REG_DIR/token.log"; ok $? "... asked the token service for pull,push with the credentials"
reg_stop

done_testing
