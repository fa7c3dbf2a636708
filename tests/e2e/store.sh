# tests/e2e/store.sh: the image store (an OCI layout): import, images, inspect, tag, rmi, prune, checked with skopeo.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/store
mkdir -p "$T"
export CRUMB_HOME="$T/home"
unset SOURCE_DATE_EPOCH
# json FILE EXPR: evaluates a Python expression over the parsed JSON in FILE as j.
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

"$CRUMB" pack --exec /bin/true --compress none -o "$T/root.cpio"; ok $? "pack a rootfs (cpio)"
"$CRUMB" pack --exec /bin/true --compress zstd -o "$T/root.cpio.zst"; ok $? "pack a rootfs (zstd)"
printf 'not really a kernel %0512d\n' 7 >"$T/vmlinux"

"$CRUMB" import -t a --kernel "$T/vmlinux" --rootfs "$T/root.cpio" --cmd /bin/true \
	-l org.example.kind=test -e GREETING=hi -p 8080 -w /srv >"$T/a.out" 2>"$T/err"
ok $? "import a kernel and a rootfs as image a"
D=$(cat "$T/a.out")
echo "$D" | grep -qx 'sha256:[0-9a-f]\{64\}'; ok $? "import prints the manifest digest ($D)"
"$CRUMB" import -t a2:v1 --kernel "$T/vmlinux" --rootfs "$T/root.cpio" --cmd /bin/true \
	-l org.example.kind=test -e GREETING=hi -p 8080/tcp -w /srv >"$T/a2.out"
is "$(cat "$T/a2.out")" "$D" "importing the same inputs again gives the same digest"
SOURCE_DATE_EPOCH=1700000000 "$CRUMB" import -t a3 --kernel "$T/vmlinux" --rootfs "$T/root.cpio" \
	--cmd /bin/true -l org.example.kind=test -e GREETING=hi -p 8080 -w /srv >"$T/a3.out"
[ "$(cat "$T/a3.out")" != "$D" ]; ok $? "another SOURCE_DATE_EPOCH gives another digest"
"$CRUMB" import -t c:zst --kernel "$T/vmlinux" --rootfs "$T/root.cpio.zst" >/dev/null
ok $? "import a zstd rootfs as c:zst"

"$CRUMB" images >"$T/images"; ok $? "crumb images"
grep -q '^NAME  *TAG  *DIGEST  *SIZE  *CREATED$' "$T/images"; ok $? "... has a header"
short=$(echo "$D" | cut -c8-19)
grep -q "^a  *latest  *$short  *[0-9.]* [kM]B  *1970-01-01T00:00:00Z$" "$T/images"; ok $? "... lists a:latest ($short)"
grep -q "^a2  *v1  *$short " "$T/images"; ok $? "... and a2:v1 with the same digest"
grep -q "^a3  *latest  *[0-9a-f]\{12\} .*2023-11-14T22:13:20Z$" "$T/images"; ok $? "... a3 was created at SOURCE_DATE_EPOCH"
is "$(sed 1d "$T/images" | awk '{print $1 ":" $2}' | tr '\n' ' ')" "a:latest a2:v1 a3:latest c:zst " "... sorted by name"
is "$("$CRUMB" images -q | head -1)" "$short" "images -q prints short digests"
"$CRUMB" images --digests | grep -q "^a  *latest  *$D "; ok $? "images --digests prints full digests"

"$CRUMB" inspect a >"$T/inspect.json"; ok $? "crumb inspect a"
is "$(json "$T/inspect.json" 'j[0]["Digest"]')" "$D" "... its Digest is the imported one"
is "$(json "$T/inspect.json" 'j[0]["Ref"]')" "a:latest" "... Ref a:latest"
is "$(json "$T/inspect.json" '[l["Title"] for l in j[0]["Layers"]]')" "['vmlinux', 'rootfs.cpio']" "... two titled layers"
is "$(json "$T/inspect.json" 'j[0]["Layers"][1]["Size"]')" "$(stat -c %s "$T/root.cpio")" "... the rootfs layer size is the file's"
is "$(json "$T/inspect.json" 'j[0]["Config"]["Cmd"]')" "['/bin/true']" "... Config.Cmd"
is "$(json "$T/inspect.json" 'sorted(j[0]["Config"]["ExposedPorts"])')" "['8080/tcp']" "... Config.ExposedPorts normalized"
is "$(json "$T/inspect.json" 'j[0]["Config"]["WorkingDir"]')" "/srv" "... Config.WorkingDir"
"$CRUMB" inspect c:zst >"$T/c.json"
is "$(json "$T/c.json" 'j[0]["Layers"][1]["MediaType"]')" "application/vnd.crumb.rootfs.cpio.v1+zstd" "a zstd rootfs gets the +zstd media type"
"$CRUMB" inspect "$short" >"$T/s.json"; ok $? "inspect by a 12-digit prefix"
is "$(json "$T/s.json" 'j[0]["Digest"]')" "$D" "... finds the same image"
"$CRUMB" inspect missing >"$T/m.out" 2>"$T/err"; is $? 1 "inspect of a missing image fails"
check "... with a one-line error" one_line_error "$T/err"
is "$(tr -d ' \n' <"$T/m.out")" "[]" "... and prints an empty array"

if command -v skopeo >/dev/null 2>&1; then
	skopeo inspect "oci:$CRUMB_HOME:a:latest" >"$T/sk.json"; ok $? "skopeo inspect oci:\$CRUMB_HOME:a:latest"
	is "$(json "$T/sk.json" 'j["Digest"]')" "$D" "... same manifest digest as crumb inspect"
	is "$(json "$T/sk.json" 'j["Labels"]["org.example.kind"]')" "test" "... sees the label"
	is "$(json "$T/sk.json" 'j["Architecture"] + "/" + j["Os"]')" "amd64/linux" "... amd64/linux"
	skopeo inspect --raw "oci:$CRUMB_HOME:a:latest" >"$T/raw.json"; ok $? "skopeo inspect --raw"
	is "sha256:$(sha256sum <"$T/raw.json" | cut -d' ' -f1)" "$D" "... the raw manifest hashes to the digest"
	is "$(json "$T/raw.json" 'j["layers"][0]["mediaType"]')" "application/vnd.crumb.kernel.vmlinux.v1" "... layer 0 is the kernel"
	skopeo inspect --config "oci:$CRUMB_HOME:a:latest" >"$T/cfg.json"; ok $? "skopeo inspect --config"
	is "$(json "$T/cfg.json" 'j["config"]["Env"]')" "['GREETING=hi']" "... the config's Env"
	is "$(json "$T/cfg.json" 'j["rootfs"]["diff_ids"] == [l["digest"] for l in json.load(open(sys.argv[1].replace("cfg","raw")))["layers"]]')" \
		"True" "... diff_ids are the layer digests"
	skopeo copy -q "oci:$CRUMB_HOME:a:latest" "oci:$T/copy:a" >/dev/null 2>"$T/err"; ok $? "skopeo copy to another OCI layout"
	is "$(skopeo inspect --raw "oci:$T/copy:a" | sha256sum | cut -d' ' -f1)" "${D#sha256:}" "... the copy keeps the manifest bytes"
	skopeo copy -q "oci:$T/copy:a" "oci:$CRUMB_HOME:back:1" >/dev/null 2>"$T/err"; ok $? "skopeo copy back into the store"
	"$CRUMB" inspect back:1 >"$T/back.json"; ok $? "crumb reads the index skopeo rewrote"
	is "$(json "$T/back.json" 'j[0]["Digest"]')" "$D" "... back:1 is the same image"
	"$CRUMB" rmi back:1 >/dev/null
else
	for t in inspect digest label arch raw rawdigest rawlayer config env diffids copy copykeeps copyback readback same; do
		skip "skopeo: $t" "skopeo not installed"
	done
fi

"$CRUMB" tag a b/x:v2; ok $? "crumb tag a b/x:v2"
"$CRUMB" images | grep -q "^b/x  *v2  *$short "; ok $? "... b/x:v2 has a's digest"
"$CRUMB" tag a 'B:x' 2>"$T/err"; is $? 2 "tag to an uppercase name is a usage error"
check "... one line" one_line_error "$T/err"
grep -q lowercase "$T/err"; ok $? "... saying why"

"$CRUMB" prune >"$T/prune.out"; ok $? "crumb prune"
is "$(cat "$T/prune.out")" "deleted 0 blobs, 0.0 MB" "... deletes nothing while every image is tagged"
"$CRUMB" rmi c:zst >/dev/null; ok $? "rmi c:zst"
"$CRUMB" images | grep -q '^c '; is $? 1 "... c is gone from the list"
c_root=$(json "$T/c.json" 'j[0]["Layers"][1]["Digest"][7:]')
[ -f "$CRUMB_HOME/blobs/sha256/$c_root" ]; ok $? "... its rootfs blob stays until prune"
"$CRUMB" prune >"$T/prune.out"; ok $? "prune after rmi"
grep -q '^deleted 3 blobs, [0-9.]* MB$' "$T/prune.out"; ok $? "... deletes c's rootfs, config and manifest: $(cat "$T/prune.out")"
[ ! -e "$CRUMB_HOME/blobs/sha256/$c_root" ]; ok $? "... the rootfs blob is gone"
[ -f "$CRUMB_HOME/blobs/sha256/${D#sha256:}" ]; ok $? "... a's manifest stays"
"$CRUMB" rmi a a2:v1 >/dev/null; ok $? "rmi a a2:v1"
"$CRUMB" inspect b/x:v2 >/dev/null; ok $? "... b/x:v2 (same manifest) still inspects"
"$CRUMB" prune >"$T/prune.out"
is "$(cat "$T/prune.out")" "deleted 0 blobs, 0.0 MB" "... and prune keeps its blobs"
"$CRUMB" rmi nope 2>"$T/err"; is $? 1 "rmi of a missing image fails"
check "... one line" one_line_error "$T/err"
"$CRUMB" rmi -f nope 2>"$T/err"; ok $? "rmi -f of a missing image succeeds"

"$CRUMB" import -t bad --kernel "$T/vmlinux" --rootfs "$T/vmlinux" 2>"$T/err"; is $? 1 "import of an unknown rootfs kind fails"
check "... one line" one_line_error "$T/err"
"$CRUMB" import --kernel "$T/vmlinux" 2>"$T/err"; is $? 2 "import without -t/--rootfs is a usage error"
"$CRUMB" import -t x --kernel "$T/vmlinux" --rootfs "$T/root.cpio" --cmd '[1]' 2>"$T/err"; is $? 2 "--cmd with a bad JSON array"
for v in images inspect tag rmi prune import; do
	"$CRUMB" "$v" --help | grep -q "^usage: crumb $v"; ok $? "$v --help"
done

# corruption: one-line errors naming the file
cp "$CRUMB_HOME/index.json" "$T/index.good"
printf '{"schemaVersion":2,"manifests":[{"digest":"sha256:12"' >"$CRUMB_HOME/index.json"
"$CRUMB" images >/dev/null 2>"$T/err"; is $? 1 "images with a corrupt index.json fails"
check "... with one line" one_line_error "$T/err"
grep -q "index.json" "$T/err"; ok $? "... naming index.json: $(cat "$T/err")"
printf '{"schemaVersion":2,"manifests":{}}' >"$CRUMB_HOME/index.json"
"$CRUMB" inspect b/x:v2 >/dev/null 2>"$T/err"; is $? 1 "inspect with a mistyped index.json fails"
check "... one line" one_line_error "$T/err"
cp "$T/index.good" "$CRUMB_HOME/index.json"
cfg=$(json "$T/inspect.json" 'j[0]["ConfigDigest"][7:]')
chmod u+w "$CRUMB_HOME/blobs/sha256/$cfg"
printf '{}' >"$CRUMB_HOME/blobs/sha256/$cfg"
"$CRUMB" inspect b/x:v2 >/dev/null 2>"$T/err"; is $? 1 "inspect with a corrupt config blob fails"
check "... one line" one_line_error "$T/err"
grep -q "$cfg" "$T/err"; ok $? "... naming the blob"
"$CRUMB" images >"$T/images" 2>"$T/err"; ok $? "images still lists the other images"
grep -q '^b/x .*(broken)$' "$T/images"; ok $? "... marking the broken one"
done_testing
