# tests/e2e/tamper.sh: a tampered store, OCI layout or docker archive: every verb that reads a blob
# (images --verify, run, build with a cache hit, FROM a stored image / an OCI layout / a docker
# archive, inspect) refuses a flipped byte, a truncated blob, a symlink in a blob's place and a
# swapped blob with one line naming the image and the blob, exit 1, and changes nothing. One boot.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/tamper
mkdir -p "$T"
export CRUMB_HOME="$T/home"
unset SOURCE_DATE_EPOCH
build() { "$CRUMB" build -q --kernel "$KERNEL" "$@"; }
blob() { echo "$CRUMB_HOME/blobs/sha256/${1#sha256:}"; }
# digest_of REF WHAT: WHAT is kernel, rootfs, config or manifest.
digest_of() {
	"$CRUMB" inspect "$1" | python3 -c '
import json, sys
j = json.load(sys.stdin)[0]; w = sys.argv[1]
if w == "config": print(j["ConfigDigest"])
elif w == "manifest": print(j["Digest"])
else: print([l["Digest"] for l in j["Layers"] if w in l["MediaType"]][0])' "$2"
}
# snap DIR: every file (content hash) and symlink (target) under DIR's index.json, blobs/, cache/.
snap() {
	(cd "$1" && find index.json blobs cache \( -type f -o -type l \) 2>/dev/null | LC_ALL=C sort |
		while read -r f; do
			if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(sha256sum <"$f")"; fi
		done)
}
# tamper KIND FILE [OTHER]: flip | truncate | symlink | swap (OTHER's bytes under FILE's name).
# The good bytes are kept in FILE.good for restore.
tamper() {
	cp -p "$2" "$2.good"
	case $1 in
	flip) python3 -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1
open(p, "r+b").write(b)' "$2" ;;
	truncate) truncate -s "$(($(stat -c %s "$2") / 2))" "$2" ;;
	symlink) rm -f "$2" && cp -p "$2.good" "$T/symlink-target" && ln -s "$T/symlink-target" "$2" ;;
	swap) rm -f "$2" && cp "$3" "$2" ;;
	esac
}
restore() { rm -f "$1" && mv "$1.good" "$1"; }
# refused DESC GREP CMD...: CMD exits 1 (crumb run: 125, its own failure as docker run's) with
# one line on stderr holding GREP (a fixed string).
refused() {
	d=$1 g=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	want=1
	[ "$2" = run ] && want=125
	if [ "$rc" -eq "$want" ] && one_line_error "$T/err" && grep -qF -- "$g" "$T/err"; then
		ok 0 "$d"
	else
		ok 1 "$d"
		diag "exit $rc: $(head -3 "$T/err")"
	fi
}

# An image a (the real kernel, a cpio of /bin/true) and one FROM it.
"$CRUMB" pack --exec /bin/true --compress none -o "$T/root.cpio" &&
	"$CRUMB" import -t a --kernel "$KERNEL" --rootfs "$T/root.cpio" --cmd /bin/true >/dev/null
ok $? "import image a"
A_ROOT=$(blob "$(digest_of a rootfs)") A_KERNEL=$(blob "$(digest_of a kernel)")
A_CONFIG=$(blob "$(digest_of a config)") A_MAN=$(blob "$(digest_of a manifest)")
F=$T/fromimg
mkdir -p "$F"
echo hi >"$F/f"
printf 'FROM a\nCOPY f /f\n' >"$F/Crumbfile"
build -t froma "$F" >/dev/null 2>"$T/err"; ok $? "FROM a builds while a is intact"
"$CRUMB" images --verify >"$T/out" 2>"$T/err"; ok $? "images --verify: a clean store exits 0"
[ ! -s "$T/err" ]; ok $? "... saying nothing on stderr"

# The layout and the docker archive: one tar layer, made by skopeo from a layout of our own.
L=$T/ctx
mkdir -p "$L/layer/etc"
echo "from a layer" >"$L/layer/etc/issue"
python3 - "$T" "$L" <<'PY'
import hashlib, io, json, os, sys, tarfile
t, ctx = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
    for name in ["etc", "etc/issue"]:
        ti = tf.gettarinfo(os.path.join(ctx, "layer", name), name)
        ti.uid = ti.gid = 0; ti.uname = ti.gname = ""; ti.mtime = 0
        tf.addfile(ti, open(os.path.join(ctx, "layer", name), "rb") if ti.isfile() else None)
layer = buf.getvalue()
def layout(d, size_lie=0):
    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        os.makedirs(f"{d}/blobs/sha256", exist_ok=True)
        open(f"{d}/blobs/sha256/{h}", "wb").write(data)
        return {"digest": "sha256:" + h, "size": len(data)}
    l = blob(layer)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["X=1"]},
                      "rootfs": {"type": "layers", "diff_ids": [l["digest"]]}}).encode()
    c = blob(cfg)
    l["size"] += size_lie
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": dict(c, mediaType="application/vnd.oci.image.config.v1+json"),
                      "layers": [dict(l, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode()
    m = blob(man)
    json.dump({"schemaVersion": 2, "manifests": [dict(m, mediaType="application/vnd.oci.image.manifest.v1+json",
               annotations={"org.opencontainers.image.ref.name": "base:1"})]}, open(f"{d}/index.json", "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(f"{d}/oci-layout", "w"))
layout(t + "/src")
layout(ctx + "/badsize", 7)  # the manifest records the layer 7 bytes longer than it is
PY
rm -rf "$L/layer"
skopeo copy -q "oci:$T/src:base:1" "oci:$L/layout:base:1" >/dev/null 2>"$T/err"; ok $? "skopeo copy makes an OCI layout"
skopeo copy -q "oci:$T/src:base:1" "docker-archive:$L/dock.tar:base:1" >/dev/null 2>"$T/err"
ok $? "skopeo copy makes a docker archive"
LAYER=$(python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"][7:]
print(json.load(open(d+"/blobs/sha256/"+i))["layers"][0]["digest"][7:])' "$L/layout")
L_LAYER=$L/layout/blobs/sha256/$LAYER
L_CONFIG=$(python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"][7:]
print(d+"/blobs/sha256/"+json.load(open(d+"/blobs/sha256/"+i))["config"]["digest"][7:])' "$L/layout")
for from in ./layout ./dock.tar; do
	printf 'FROM %s\nENV MORE=1\n' "$from" >"$L/Crumbfile"
	build -t "from-${from#./}" "$L" >/dev/null 2>"$T/err"; ok $? "FROM $from builds while it is intact"
	[ -s "$T/err" ] && diag "$(cat "$T/err")"
done

# One boot: a good image runs, and its blobs are then known good (the verification cache).
sleep 2 # a record is written only for blobs last changed more than a second before the hash
"$CRUMB" run -q a >/dev/null 2>"$T/err"; ok $? "crumb run a: the intact image boots"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
[ -f "$CRUMB_HOME/verified/$(basename "$A_KERNEL")" ] && [ -f "$CRUMB_HOME/verified/$(basename "$A_ROOT")" ]
ok $? "... and its kernel and rootfs are recorded in verified/"

# The rootfs blob of a: each damage, each verb.
printf 'FROM scratch\nCOPY f /f\n' >"$F/Crumbfile"
for kind in flip truncate symlink swap; do
	tamper $kind "$A_ROOT" "$A_CONFIG"
	before=$(snap "$CRUMB_HOME")
	refused "$kind rootfs: images --verify exits 1, one line" "image a:latest: blob $A_ROOT" "$CRUMB" images --verify
	grep -q '^a  .*(broken)$' "$T/out"; ok $? "... and lists a as (broken)"
	refused "$kind rootfs: run a is refused before booting" "image a:latest: blob $A_ROOT" "$CRUMB" run -q a
	printf 'FROM a\nCOPY f /g\n' >"$F/Crumbfile"
	refused "$kind rootfs: FROM a is refused" "FROM: image a:latest: blob $A_ROOT" build -t froma2 "$F"
	is "$(snap "$CRUMB_HOME")" "$before" "$kind rootfs: the store is unchanged"
	restore "$A_ROOT"
done
tamper flip "$A_KERNEL"
refused "flipped kernel: run a is refused, though verified/ had it" "image a:latest: blob $A_KERNEL" "$CRUMB" run -q a
"$CRUMB" images --verify >/dev/null 2>"$T/err"; is $? 1 "flipped kernel: images --verify exits 1"
is "$(grep -cF ": blob $A_KERNEL: corrupt" "$T/err")" "$("$CRUMB" images -q | wc -l)" "... one line for each image (all share it)"
is "$(wc -l <"$T/err")" "$("$CRUMB" images -q | wc -l)" "... and nothing else"
restore "$A_KERNEL"
# The manifest and config, which every verb reads (inspect too).
for kind in flip symlink; do
	for f in "$A_CONFIG" "$A_MAN"; do
		tamper $kind "$f"
		refused "$kind $(test "$f" = "$A_MAN" && echo manifest || echo config): inspect a" "image a:latest: blob $f" "$CRUMB" inspect a
		refused "... run a" "image a:latest: blob $f" "$CRUMB" run -q a
		restore "$f"
	done
done
"$CRUMB" images --verify >/dev/null 2>"$T/err"; ok $? "restored: images --verify is clean again"

# A build cache hit: the cached rootfs of c is committed as it is, so it is checked whole.
C=$T/cachectx
mkdir -p "$C"
echo hello >"$C/hello"
printf 'FROM scratch\nCOPY hello /hello\n' >"$C/Crumbfile"
DC=$(build -t c "$C" 2>"$T/err"); ok $? "build c"
C_ROOT=$(blob "$(digest_of c rootfs)")
for kind in flip truncate symlink swap; do
	tamper $kind "$C_ROOT" "$A_CONFIG"
	before=$(snap "$CRUMB_HOME")
	refused "$kind cached rootfs: a rebuild (cache hit) is refused" "blob $C_ROOT" build -t c2 "$C"
	grep -q 'no-cache' "$T/err"; ok $? "... saying --no-cache writes it again"
	is "$(snap "$CRUMB_HOME")" "$before" "... nothing committed (no c2), the store unchanged"
	if [ $kind = flip ]; then
		D3=$(build --no-cache -t c3 "$C" 2>"$T/err"); ok $? "build --no-cache writes the blob again"
		is "$D3" "$DC" "... the same image as before the damage"
		"$CRUMB" images --verify >/dev/null 2>&1; ok $? "... and the store is clean"
		rm -f "$C_ROOT.good"
	else
		restore "$C_ROOT"
	fi
done

# A RUN step's cached result (one builder boot to make it): checked as it is read back.
R=$T/runctx
mkdir -p "$R/root/bin"
cp /bin/busybox "$R/root/bin/busybox" && ln -s busybox "$R/root/bin/sh"
tar -C "$R/root" --owner=0 --group=0 --mtime=@0 -cf "$R/bb.tar" . && rm -rf "$R/root"
printf 'FROM ./bb.tar\nRUN echo built > /built\n' >"$R/Crumbfile"
build -t runc "$R" >/dev/null 2>"$T/err"; ok $? "build with a RUN step (one builder boot)"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
RUNBLOB=
for c in "$CRUMB_HOME"/cache/*; do
	b=$(blob "$(cat "$c")")
	[ "$(head -c 6 "$b")" = 070701 ] && RUNBLOB=$b # the RUN result: a plain cpio (the image's is zstd)
done
[ -n "$RUNBLOB" ]; ok $? "... its result is a cached cpio blob"
for kind in flip truncate; do
	tamper $kind "$RUNBLOB"
	before=$(snap "$CRUMB_HOME")
	refused "$kind RUN result: a rebuild (cache hit) is refused" "RUN: build cache: blob $RUNBLOB" build -t runc2 "$R"
	is "$(snap "$CRUMB_HOME")" "$before" "... the store unchanged"
	restore "$RUNBLOB"
done

# FROM an OCI layout (skopeo made it): the layer must match its digest and size.
printf 'FROM ./layout\nENV MORE=1\n' >"$L/Crumbfile"
for kind in flip truncate symlink swap; do
	tamper $kind "$L_LAYER" "$L_CONFIG"
	before=$(snap "$CRUMB_HOME")
	want="image oci:$L/layout:base:1: blob $L/layout/blobs/sha256/$LAYER"
	# a blob that links out of the context is refused before it is read (the trust boundary)
	[ $kind = symlink ] && want="$L/layout/blobs/sha256/$LAYER: a symlink out of the build context"
	refused "$kind layer: FROM ./layout is refused" "$want" build -t lay2 "$L"
	refused "... with --no-cache too" "$want" build --no-cache -t lay2 "$L"
	is "$(snap "$CRUMB_HOME")" "$before" "... the store unchanged"
	restore "$L_LAYER"
done
printf 'FROM ./badsize\n' >"$L/Crumbfile"
refused "a layout whose manifest gives the layer another size is refused" "where its descriptor says" build -t lay3 "$L"
refused "... with --no-cache too" "where its descriptor says" build --no-cache -t lay3 "$L"
build -t lay4 "$L" 2>/dev/null; is $? 1 "(and again: the refusal is not cached)"

# FROM a docker archive: the config by the digest in its name, the layers by rootfs.diff_ids.
python3 - "$L" <<'PY'
import hashlib, io, json, sys, tarfile
d = sys.argv[1]
src = tarfile.open(d + "/dock.tar")
members = {m.name: src.extractfile(m).read() for m in src.getmembers() if m.isfile()}
man = json.loads(members["manifest.json"])
cfg_name, layer_name = man[0]["Config"], man[0]["Layers"][0]
open(d + "/names", "w").write(layer_name + "\n")
def write(path, files, sizes={}):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
layer = members[layer_name]
# the layer's data with one byte flipped
bad = bytearray(layer); bad[600] ^= 1
write(d + "/flip.tar", [("manifest.json", members["manifest.json"]), (cfg_name, members[cfg_name]), (layer_name, bytes(bad))])
write(d + "/good.tar", [("manifest.json", members["manifest.json"]), (cfg_name, members[cfg_name]), (layer_name, layer)])
# the same layer named twice in Layers (docker save writes identical layers once)
cfg = json.loads(members[cfg_name]); cfg["rootfs"]["diff_ids"] *= 2
cb = json.dumps(cfg).encode(); cn = hashlib.sha256(cb).hexdigest() + ".json"
m2 = [dict(man[0], Config=cn, Layers=[layer_name, layer_name])]
write(d + "/twice.tar", [("manifest.json", json.dumps(m2).encode()), (cn, cb), (layer_name, layer)])
# a layer that is no archive, its diff_id right: the import's error names ARCHIVE: MEMBER
junk = b"junk " * 300
cfg = json.loads(members[cfg_name]); cfg["rootfs"]["diff_ids"] = ["sha256:" + hashlib.sha256(junk).hexdigest()]
cb = json.dumps(cfg).encode(); cn = hashlib.sha256(cb).hexdigest() + ".json"
write(d + "/junk.tar", [("manifest.json", json.dumps([dict(man[0], Config=cn)]).encode()), (cn, cb), (layer_name, junk)])
# a member declaring 1 TiB, the archive ending long before
with open(d + "/huge.tar", "wb") as f:
    for name, data in [("manifest.json", members["manifest.json"]), (cfg_name, members[cfg_name])]:
        ti = tarfile.TarInfo(name); ti.size = len(data)
        f.write(ti.tobuf(tarfile.PAX_FORMAT)); f.write(data + b"\0" * (-len(data) % 512))
    ti = tarfile.TarInfo(layer_name); ti.size = 1 << 40
    f.write(ti.tobuf(tarfile.PAX_FORMAT)); f.write(layer[:4096])
PY
LN=$(cat "$L/names")
# manifest.json, config, layer (as good.tar), cut in the middle of the layer
cp "$L/good.tar" "$L/trunc.tar"
truncate -s 7000 "$L/trunc.tar" # the layer member holds bytes 2560 to 12800
for t in flip trunc huge junk; do
	printf 'FROM ./%s.tar\n' $t >"$L/Crumbfile"
	before=$(snap "$CRUMB_HOME")
	case $t in
	flip) want="$L/flip.tar: $LN: corrupt: its content does not match its digest" ;;
	trunc) want="$L/trunc.tar: $LN: Truncated" ;;
	huge) want="$L/huge.tar: $LN: declares 1099511627776 bytes, more than the limit" ;;
	junk) want="$L/junk.tar: $LN: not an archive crumb reads" ;;
	esac
	refused "docker archive, $t: refused naming ARCHIVE: MEMBER" "$want" build -t dock2 "$L"
	! grep -q 'layer-[0-9]\|/tmp/build-\|/build-[0-9]' "$T/err"; ok $? "... never crumb's temp files"
	is "$(snap "$CRUMB_HOME")" "$before" "... the store unchanged"
done
printf 'FROM ./twice.tar\n' >"$L/Crumbfile"
build -t twice "$L" >/dev/null 2>"$T/err"; ok $? "docker archive naming one layer file twice in Layers: accepted"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
"$CRUMB" fs cat "$(blob "$(digest_of twice rootfs)"):/etc/issue" 2>/dev/null | grep -q 'from a layer'
ok $? "... its files are there"

"$CRUMB" images --verify >/dev/null 2>"$T/err"; ok $? "at the end, images --verify is clean"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
done_testing
