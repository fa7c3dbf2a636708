# tests/e2e/saveload.sh: crumb save and load: round trips between stores with the same digests,
# checked with skopeo (oci-archive, docker-archive), byte-identical saves, and hostile or
# damaged archives refused with one line, the store left as it was. No boot.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/saveload
mkdir -p "$T"
export CRUMB_HOME="$T/home"
unset SOURCE_DATE_EPOCH
# json FILE EXPR: evaluates a Python expression over the parsed JSON in FILE as j.
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# snap HOME: every file under a store (content hash) and symlink (target), sorted.
snap() {
	(cd "$1" && find . \( -type f -o -type l \) ! -name '*.lock' | LC_ALL=C sort |
		while read -r f; do
			if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(sha256sum <"$f")"; fi
		done)
}
digest() { "$CRUMB" inspect "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])'; }
# refused DESC ARCHIVE: crumb load refuses ARCHIVE with one line, exit 1, the store unchanged.
refused() {
	before=$(snap "$CRUMB_HOME")
	"$CRUMB" load -i "$2" >"$T/out" 2>"$T/err"
	is $? 1 "$1: refused"
	check "... with one line" one_line_error "$T/err"
	[ -s "$T/out" ] && diag "stdout: $(cat "$T/out")"
	is "$(snap "$CRUMB_HOME")" "$before" "... the store as it was"
	ls -a "$CRUMB_HOME" | grep -q '^\.load-'
	is $? 1 "... no private directory left"
	diag "$(cat "$T/err")"
}

# ---- a crumb image (kernel + rootfs layers) ----
"$CRUMB" pack --exec /bin/true --compress none -o "$T/root.cpio" || exit 1
printf 'not really a kernel %0512d\n' 7 >"$T/vmlinux"
"$CRUMB" import -t hello:1 --kernel "$T/vmlinux" --rootfs "$T/root.cpio" --cmd /bin/true \
	-l org.example.kind=test >"$T/d"
ok $? "import hello:1"
D=$(cat "$T/d")

"$CRUMB" save -o "$T/a.tar" hello:1 2>"$T/err"; ok $? "save -o a.tar hello:1"
tar tf "$T/a.tar" >"$T/list"; ok $? "... tar reads it"
is "$(grep -v '^blobs/sha256/.' "$T/list" | tr '\n' ' ')" "blobs/ blobs/sha256/ index.json oci-layout " \
	"... an OCI layout, no manifest.json for a crumb image"
is "$(grep -c '^blobs/sha256/.' "$T/list")" 4 "... four blobs: manifest, config, kernel, rootfs"
tar tvf "$T/a.tar" | awk '{print $2, $4, $5}' | sort -u >"$T/own"
is "$(cat "$T/own" | tr '\n' ' ')" "0/0 1970-01-01 00:00 " "... every member 0/0 at the epoch"
tar xOf "$T/a.tar" index.json >"$T/index.json"
is "$(json "$T/index.json" 'j["manifests"][0]["digest"]')" "$D" "... index.json names the manifest"
is "$(json "$T/index.json" 'j["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]')" "1" \
	"... ref.name is the tag"
is "$(json "$T/index.json" 'j["manifests"][0]["annotations"]["io.containerd.image.name"]')" "hello:1" \
	"... io.containerd.image.name is NAME:TAG"
"$CRUMB" save hello:1 >"$T/b.tar"; ok $? "save to stdout"
cmp -s "$T/a.tar" "$T/b.tar"; ok $? "... the same bytes as -o"
"$CRUMB" save hello:1 | cat >"$T/c.tar"
cmp -s "$T/a.tar" "$T/c.tar"; ok $? "... and through a pipe"
SOURCE_DATE_EPOCH=1700000000 "$CRUMB" save -o "$T/sde.tar" hello:1
tar tvf "$T/sde.tar" | grep -q '2023-11-1[45] ..:..' && ! cmp -s "$T/a.tar" "$T/sde.tar"
ok $? "SOURCE_DATE_EPOCH dates the members"
if command -v script >/dev/null 2>&1; then
	script -qec "$CRUMB save hello:1" /dev/null >"$T/tty" 2>&1
	is $? 2 "save to a terminal is refused"
	grep -q 'terminal' "$T/tty"; ok $? "... saying why"
else
	skip "save to a terminal" "no script(1)"
	skip "... saying why" "no script(1)"
fi
"$CRUMB" save -o "$T/x.tar" nosuch 2>"$T/err"; is $? 1 "save of a missing image fails"
check "... with one line" one_line_error "$T/err"
[ ! -e "$T/x.tar" ]; ok $? "... and writes no file"

H2=$T/home2
CRUMB_HOME=$H2 "$CRUMB" load -i "$T/a.tar" >"$T/out" 2>"$T/err"; ok $? "load into a fresh store"
is "$(cat "$T/out")" "Loaded image: hello:1" "... prints Loaded image: hello:1"
is "$(CRUMB_HOME=$H2 digest hello:1)" "$D" "... the same manifest digest"
CRUMB_HOME=$H2 "$CRUMB" images --verify >/dev/null; ok $? "... every blob verifies"
CRUMB_HOME=$H2 "$CRUMB" load <"$T/a.tar" >"$T/out"; ok $? "load from stdin, again"
is "$(cat "$T/out")" "Loaded image: hello:1" "... the same line"
CRUMB_HOME=$H2 "$CRUMB" save -o "$T/a2.tar" hello:1
cmp -s "$T/a.tar" "$T/a2.tar"; ok $? "saving the loaded image gives the same bytes"
ls -a "$H2" | grep -q '^\.load-'; is $? 1 "no private directory left in the store"

# ---- skopeo reads what save wrote, and writes what load reads ----
skopeo inspect "oci-archive:$T/a.tar" >"$T/sk.json" 2>"$T/err"; ok $? "skopeo inspect oci-archive:a.tar"
is "$(json "$T/sk.json" 'j["Digest"]')" "$D" "... the same digest"
is "$(json "$T/sk.json" 'j["Labels"]["org.example.kind"]')" "test" "... sees the label"
skopeo inspect "oci-archive:$T/a.tar:1" >"$T/sk1.json" 2>"$T/err"; ok $? "skopeo inspect oci-archive:a.tar:1 (by tag)"
skopeo copy -q "oci-archive:$T/a.tar" "oci:$T/layout:x" >/dev/null 2>"$T/err"
ok $? "skopeo copy oci-archive:a.tar oci:DIR"
is "sha256:$(skopeo inspect --raw "oci:$T/layout:x" | sha256sum | cut -d' ' -f1)" "$D" "... the manifest bytes kept"
skopeo copy -q "oci:$T/layout:x" "oci-archive:$T/sk.tar:other/name:2" >/dev/null 2>"$T/err"
ok $? "skopeo copy oci:DIR oci-archive:sk.tar:other/name:2"
"$CRUMB" load -i "$T/sk.tar" >"$T/out" 2>"$T/err"; ok $? "crumb load of skopeo's oci-archive"
is "$(cat "$T/out")" "Loaded image: other/name:2" "... named by its ref.name"
is "$(digest other/name:2)" "$D" "... the same digest"
skopeo copy -q "oci:$T/layout:x" "oci-archive:$T/bare.tar:v9" >/dev/null 2>"$T/err"
"$CRUMB" load -i "$T/bare.tar" >"$T/out" 2>"$T/err"; ok $? "an archive whose ref.name is a bare tag loads"
is "$(cat "$T/out")" "Loaded image ID: $D" "... untagged: Loaded image ID"

# ---- a container image (one tar layer): docker-archive both ways ----
mkdir -p "$T/ctr/rootfs"
echo hi >"$T/ctr/rootfs/hello.txt"
python3 - "$T/ctr" <<'EOF'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(d + "/oci/blobs/sha256", exist_ok=True)
def blob(b):
    h = hashlib.sha256(b).hexdigest()
    open(f"{d}/oci/blobs/sha256/{h}", "wb").write(b)
    return "sha256:" + h
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    i = t.gettarinfo(d + "/rootfs/hello.txt", "hello.txt")
    i.mtime = 0; i.uid = i.gid = 0; i.uname = i.gname = ""
    t.addfile(i, open(d + "/rootfs/hello.txt", "rb"))
layer = buf.getvalue()
ld = blob(layer)
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "config": {"Cmd": ["/hello"], "Env": ["A=1"]},
                  "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
cd = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
md = blob(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "web"}}]},
          open(d + "/oci/index.json", "w"))
open(d + "/oci/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
ok $? "an OCI layout of a container image (one tar layer)"
skopeo copy -q "oci:$T/ctr/oci:web" "docker-archive:$T/docker.tar:web:1" >/dev/null 2>"$T/err"
ok $? "skopeo copy it to docker-archive:docker.tar:web:1"
tar tf "$T/docker.tar" | grep -qx manifest.json; ok $? "... a docker archive (manifest.json)"
"$CRUMB" load -i "$T/docker.tar" >"$T/out" 2>"$T/err"; ok $? "crumb load of the docker archive"
grep -q '^Loaded image: \(docker.io/library/\)\{0,1\}web:1$' "$T/out"; ok $? "... Loaded image: web:1 ($(cat "$T/out"))"
W=$(sed -n 's/^Loaded image: //p' "$T/out")
"$CRUMB" inspect "$W" >"$T/w.json"; ok $? "crumb inspect shows it"
is "$(json "$T/w.json" 'j[0]["Config"]["Cmd"]')" "['/hello']" "... its Cmd"
is "$(json "$T/w.json" '[l["MediaType"] for l in j[0]["Layers"]]')" "['application/vnd.oci.image.layer.v1.tar']" \
	"... one tar layer"
"$CRUMB" images --verify >/dev/null; ok $? "... the store verifies"
"$CRUMB" save -o "$T/web.tar" "$W"; ok $? "save the container image"
tar tf "$T/web.tar" | grep -qx manifest.json; ok $? "... with a docker manifest.json (tar layers only)"
tar xOf "$T/web.tar" manifest.json >"$T/dm.json"
is "$(json "$T/dm.json" '[j[0]["RepoTags"], len(j[0]["Layers"]), j[0]["Config"][:13]]')" \
	"[['$W'], 1, 'blobs/sha256/']" "... listing the image by blobs/ paths"
skopeo inspect "docker-archive:$T/web.tar" >/dev/null 2>"$T/err"; ok $? "skopeo reads it as a docker-archive too"
H3=$T/home3
CRUMB_HOME=$H3 "$CRUMB" load <"$T/docker.tar" >"$T/out" 2>"$T/err"; ok $? "docker archive from stdin"
is "$(CRUMB_HOME=$H3 digest "$W")" "$(digest "$W")" "... the same manifest as from the file"
"$CRUMB" save -o "$T/two.tar" hello:1 "$W" hello:1; ok $? "save two images (one named twice)"
is "$(tar xOf "$T/two.tar" index.json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["manifests"]))')" 2 \
	"... two index entries"
CRUMB_HOME=$T/home4 "$CRUMB" load -i "$T/two.tar" >"$T/out"; ok $? "load both"
is "$(tr '\n' ' ' <"$T/out")" "Loaded image: hello:1 Loaded image: $W " "... one line each, in order"

# an image index (two platforms; only linux/amd64's blobs there): its amd64 image is stored
AMD=$(python3 - "$T/ctr/oci" <<'EOF2'
import hashlib, json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json")); m = idx["manifests"][0]
arm = dict(m, digest="sha256:" + "e" * 64, platform={"os": "linux", "architecture": "arm64"})
amd = dict(m, platform={"os": "linux", "architecture": "amd64"}); amd.pop("annotations")
lst = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": [arm, amd]}).encode()
h = hashlib.sha256(lst).hexdigest()
open(f"{d}/blobs/sha256/{h}", "wb").write(lst)
idx["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + h,
                     "size": len(lst), "annotations": {"io.containerd.image.name": "multi:1"}}]
json.dump(idx, open(d + "/index.json", "w"))
print(m["digest"])
EOF2
)
(cd "$T/ctr/oci" && tar cf "$T/multi.tar" oci-layout index.json blobs)
CRUMB_HOME=$T/home5 "$CRUMB" load -i "$T/multi.tar" >"$T/out" 2>"$T/err"; ok $? "an image index loads"
is "$(cat "$T/out")" "Loaded image: multi:1" "... by its io.containerd.image.name"
is "$(CRUMB_HOME=$T/home5 digest multi:1)" "$AMD" "... as its linux/amd64 manifest"

# ---- hostile and damaged archives: one line, the store as it was ----
# tarmod IN OUT PY: rewrites the tar IN as OUT, PY editing each (info, data) pair in a list l.
tarmod() {
	python3 - "$1" "$2" "$3" <<'EOF'
import io, sys, tarfile
src, dst, code = sys.argv[1:]
l = []
with tarfile.open(src) as t:
    for m in t.getmembers():
        l.append([m, t.extractfile(m).read() if m.isfile() else None])
exec(code)
with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as t:
    for m, data in l:
        if data is not None:
            m.size = len(data)
        t.addfile(m, io.BytesIO(data) if data is not None else None)
EOF
}
big=$(tar tvf "$T/a.tar" | sort -k3 -n | tail -1 | awk '{print $6}')
tarmod "$T/a.tar" "$T/flip.tar" "
for e in l:
    if e[0].name == '$big':
        b = bytearray(e[1]); b[len(b) // 2] ^= 1; e[1] = bytes(b)"
refused "a flipped byte in a blob" "$T/flip.tar"
grep -q 'corrupt' "$T/err"; ok $? "... says corrupt"
grep -q "$T/flip.tar" "$T/err" && ! grep -q '\.load-' "$T/err"; ok $? "... names the archive, not the private directory"
tarmod "$T/a.tar" "$T/dotdot.tar" "
m = tarfile.TarInfo('../evil'); l.append([m, b'x'])"
refused "a ../ member" "$T/dotdot.tar"
[ ! -e "$CRUMB_HOME/../evil" ] && [ ! -e "$T/evil" ]; ok $? "... nothing written outside"
tarmod "$T/a.tar" "$T/abs.tar" "
m = tarfile.TarInfo('/tmp/evil-crumb-load'); l.insert(0, [m, b'x'])"
refused "an absolute member name" "$T/abs.tar"
tarmod "$T/a.tar" "$T/link.tar" "
m = tarfile.TarInfo('blobs/sha256/' + '0' * 64); m.type = tarfile.SYMTYPE; m.linkname = '/etc/passwd'
l.insert(2, [m, None])"
refused "a symlink in a blob's place" "$T/link.tar"
tarmod "$T/a.tar" "$T/link2.tar" "
m = tarfile.TarInfo('x/evil'); m.type = tarfile.SYMTYPE; m.linkname = '../../etc/passwd'
l.insert(0, [m, None])"
refused "a symlink out of the archive" "$T/link2.tar"
tarmod "$T/a.tar" "$T/missing.tar" "
l[:] = [e for e in l if e[0].name != '$big']"
refused "a missing blob" "$T/missing.tar"
grep -q 'not in the archive' "$T/err"; ok $? "... says which is not in the archive"
tarmod "$T/a.tar" "$T/badjson.tar" "
for e in l:
    if e[0].name == 'index.json': e[1] = b'{\"manifests\": ['"
refused "malformed index.json" "$T/badjson.tar"
tarmod "$T/a.tar" "$T/size.tar" "
for e in l:
    if e[0].name == 'index.json': e[1] = e[1].replace(b'\"size\":', b'\"size\":1')"
refused "a descriptor's size that is not the blob's" "$T/size.tar"
tarmod "$T/a.tar" "$T/twice.tar" "
l.insert(3, list(l[2]))"
refused "a blob given twice" "$T/twice.tar"
python3 - "$T/a.tar" "$T/huge.tar" <<'EOF'
import sys, tarfile
src, dst = sys.argv[1:]
data = open(src, "rb").read()
i = tarfile.TarInfo("blobs/sha256/" + "1" * 64); i.size = 1 << 40
open(dst, "wb").write(i.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 4096)
EOF
refused "a member declaring 1 TiB" "$T/huge.tar"
grep -q 'declares 1099511627776 bytes' "$T/err"; ok $? "... refused before reading it"
head -c 3000 "$T/a.tar" >"$T/trunc.tar"
refused "a truncated archive" "$T/trunc.tar"
echo 'not an archive' >"$T/junk.tar"
refused "not a tar" "$T/junk.tar"
# a docker archive with a flipped layer byte
python3 - "$T/docker.tar" "$T/dflip.tar" <<'EOF'
import io, sys, tarfile
src, dst = sys.argv[1:]
with tarfile.open(src) as t, tarfile.open(dst, "w") as o:
    for m in t.getmembers():
        data = t.extractfile(m).read() if m.isfile() else None
        if data is not None and m.name.endswith(".tar"):
            b = bytearray(data); b[600] ^= 1; data = bytes(b)
        o.addfile(m, io.BytesIO(data) if data is not None else None)
EOF
refused "a docker archive with a flipped layer byte" "$T/dflip.tar"
tarmod "$T/docker.tar" "$T/dbad.tar" "
for e in l:
    if e[0].name == 'manifest.json': e[1] = b'[{\"Config\": 7}]'"
refused "a docker archive with a malformed manifest.json" "$T/dbad.tar"

# ---- a damaged store blob: save refuses, no file left behind ----
blobf=$CRUMB_HOME/blobs/sha256/${big#blobs/sha256/}
cp -p "$blobf" "$T/blob.good"
python3 -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1
open(p, "r+b").write(b)' "$blobf"
"$CRUMB" save -o "$T/dmg.tar" hello:1 2>"$T/err"; is $? 1 "save of an image with a damaged blob fails"
check "... with one line" one_line_error "$T/err"
grep -q 'corrupt' "$T/err"; ok $? "... saying corrupt"
[ ! -e "$T/dmg.tar" ] && ! ls "$T" | grep -q 'dmg.tar.tmp'; ok $? "... no output file, no temp file"
"$CRUMB" save hello:1 >"$T/dmg-out" 2>"$T/err"; is $? 1 "save to stdout refuses it too"
[ ! -s "$T/dmg-out" ]; ok $? "... before writing a byte"
cp -p "$T/blob.good" "$blobf"

"$CRUMB" help save | grep -q 'usage: crumb save'; ok $? "crumb help save"
"$CRUMB" help load | grep -q 'usage: crumb load'; ok $? "crumb help load"
done_testing
