# tests/e2e/kernel.sh: the kernel layer and stored kernels. An image carries the crumb kernel
# stripped and zstd-compressed (judged by zstd(1), objcopy and readelf: the PVH note stays), boots
# from a copy decompressed once into the store's cache and reused; a tampered cache file is made
# again before the boot; a damaged compressed blob is refused; an image with the old uncompressed
# layer still boots. A stored kernel records its vmlinux's sha256 and one changed after the build
# is refused by run and build with one line naming the file. prune removes the decompressed
# kernel with its blob. The kernel loads at 2 MiB and carries kernel/patches (a 24 MiB guest
# reads virtio_mmio.queue_max). Nine boots (three at once).
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/kernel
mkdir -p "$T"
export CRUMB_HOME="$T/home"
unset SOURCE_DATE_EPOCH
inspect() { "$CRUMB" inspect "$1" | python3 -c 'import json, sys
l = [l for l in json.load(sys.stdin)[0]["Layers"] if "kernel" in l["MediaType"]][0]
print(l["MediaType"], l["Digest"], l["Size"])'; }
flip() { python3 -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1
open(p, "r+b").write(b)' "$1"; }
# refused CODE GREP CMD...: CMD exits CODE with one line on stderr holding GREP.
refused() {
	c=$1 g=$2
	shift 2
	"$@" >/dev/null 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$c" ] && one_line_error "$T/err" && grep -qF -- "$g" "$T/err"; then return 0; fi
	diag "exit $rc: $(head -3 "$T/err")"
	return 1
}

"$CRUMB" pack --exec /bin/true --compress none -o "$T/root.cpio" &&
	"$CRUMB" import -t k --kernel "$KERNEL" --rootfs "$T/root.cpio" --cmd /bin/true >"$T/d1"
ok $? "import the crumb kernel and a rootfs as image k"
set -- $(inspect k)
is "$1" "application/vnd.crumb.kernel.vmlinux.v1+zstd" "the kernel layer is zstd"
[ "$3" -lt 3000000 ]; ok $? "... of under 3 MB ($3 bytes; vmlinux: $(stat -c %s "$KERNEL"))"
BLOB=$CRUMB_HOME/blobs/sha256/${2#sha256:}
CACHE=$CRUMB_HOME/cache/kernel/${2#sha256:}
objcopy --strip-all "$KERNEL" "$T/stripped" && zstd -q -dc "$BLOB" >"$T/vm" && cmp -s "$T/vm" "$T/stripped"
ok $? "zstd(1) decompresses it to the vmlinux objcopy --strip-all makes"
readelf -n "$T/vm" | grep -q 'Xen .*0x00000012'; ok $? "... which keeps the PVH entry note (readelf -n)"
! readelf -S "$T/vm" | grep -q '\.symtab'; ok $? "... and has no symbol table"
"$CRUMB" import -t k2 --kernel "$KERNEL" --rootfs "$T/root.cpio" --cmd /bin/true >"$T/d2"
is "$(cat "$T/d2")" "$(cat "$T/d1")" "importing again gives the same image digest"

readelf -lW "$KERNEL" | awk '$1 == "LOAD" { print $4; exit }' | grep -qx 0x0000000000200000
ok $? "the kernel loads at 2 MiB (CONFIG_PHYSICAL_START, readelf -l)"
out=$("$CRUMB" run -q --rm --net none -m 24M --kernel "$KERNEL" --exec /bin/cat -- \
	/sys/module/virtio_mmio/parameters/queue_max 2>"$T/err")
is "$out" 32 "a guest of 24 MiB boots, with kernel/patches' virtio_mmio.queue_max (32)"
diag "$(tail -2 "$T/err")"

"$CRUMB" run --rm k >"$T/out" 2>"$T/err"; ok $? "image k boots from the stripped kernel"
cmp -s "$CACHE" "$T/stripped"; ok $? "... decompressed into the store's cache"
is "$(stat -c %a "$CACHE")" "444" "... read-only"
ino=$(stat -c %i "$CACHE")
"$CRUMB" run --rm k >"$T/out" 2>"$T/err"; ok $? "a second run boots"
is "$(stat -c %i "$CACHE")" "$ino" "... from the same cached file"
chmod 644 "$CACHE" && flip "$CACHE" && chmod 444 "$CACHE"
"$CRUMB" run --rm k >"$T/out" 2>"$T/err"; ok $? "a run after the cached kernel was changed boots"
cmp -s "$CACHE" "$T/stripped"; ok $? "... from a file made again from the blob"
rm -f "$CACHE" "$CACHE.stamp"
for i in 1 2 3; do ("$CRUMB" run --rm k >/dev/null 2>"$T/par$i"; echo $? >"$T/par$i.rc") & done
wait
is "$(cat "$T/par1.rc" "$T/par2.rc" "$T/par3.rc" | tr -d '\n')" "000" "three first runs at once all boot"
cmp -s "$CACHE" "$T/stripped"; ok $? "... leaving one good cached kernel"
rm -f "$CACHE" && chmod 644 "$BLOB" && cp "$BLOB" "$T/blob.good" && flip "$BLOB"
refused 125 "$BLOB" "$CRUMB" run --rm k; ok $? "a damaged kernel blob is refused, one line naming it"
[ ! -e "$CACHE" ]; ok $? "... and nothing is decompressed from it"
cp "$T/blob.good" "$BLOB"

# An image as crumb stored them before: the vmlinux itself, application/vnd.crumb.kernel.vmlinux.v1.
python3 - "$CRUMB_HOME" "$KERNEL" "$(cat "$T/d1")" <<'PY'
import hashlib, json, shutil, sys
home, kernel, man = sys.argv[1], sys.argv[2], sys.argv[3]
def path(d): return f"{home}/blobs/sha256/{d[7:]}"
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(path(d), "wb").write(data)
    return d
m = json.load(open(path(man)))
raw = open(kernel, "rb").read()
m["layers"][0] = {"mediaType": "application/vnd.crumb.kernel.vmlinux.v1", "digest": put(raw), "size": len(raw)}
c = json.load(open(path(m["config"]["digest"])))
c["rootfs"]["diff_ids"] = [l["digest"] for l in m["layers"]]
cb = json.dumps(c, sort_keys=True, separators=(",", ":")).encode()
m["config"]["digest"], m["config"]["size"] = put(cb), len(cb)
mb = json.dumps(m, sort_keys=True, separators=(",", ":")).encode()
idx = json.load(open(f"{home}/index.json"))
idx["manifests"].append({"mediaType": m["mediaType"], "digest": put(mb), "size": len(mb),
                         "annotations": {"org.opencontainers.image.ref.name": "old:latest"}})
json.dump(idx, open(f"{home}/index.json", "w"))
PY
ok $? "an image with an uncompressed kernel layer (old:latest)"
"$CRUMB" run --rm old >"$T/out" 2>"$T/err"; ok $? "... boots"

"$CRUMB" rmi k k2 old >/dev/null && "$CRUMB" prune >/dev/null && [ ! -e "$CACHE" ] && [ ! -e "$CACHE.stamp" ]
ok $? "prune removes the decompressed kernel with its blob"

# A stored kernel: info records the vmlinux's sha256 (or gets it on first use).
ID=0123456789abcdef
K=$CRUMB_HOME/kernels/$ID
mkdir -p "$K" && cp "$KERNEL" "$K/vmlinux" && printf 'release 6.1\nsource test\n' >"$K/info"
"$CRUMB" run --rm --kernel $ID --exec /bin/true >"$T/out" 2>"$T/err"; ok $? "run --kernel ID boots a stored kernel"
grep -qx "sha256 $(sha256sum <"$KERNEL" | cut -d' ' -f1)" "$K/info"; ok $? "... and its info now records the vmlinux's sha256"
flip "$K/vmlinux"
refused 125 "$K/vmlinux" "$CRUMB" run --rm --kernel $ID --exec /bin/true
ok $? "run --kernel ID refuses a vmlinux changed since, one line naming the file"
mkdir -p "$T/ctx" && printf 'FROM scratch\nLABEL crumb.kernel=%s\n' $ID >"$T/ctx/Crumbfile"
refused 1 "$K/vmlinux" "$CRUMB" build -q --kernel "$KERNEL" -t kl "$T/ctx"
ok $? "build with LABEL crumb.kernel=ID refuses it the same way"
done_testing
