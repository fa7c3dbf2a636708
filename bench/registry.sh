#!/bin/sh
# bench/registry.sh: pull and push throughput, crumb beside skopeo, the same image and the same
# registry (Debian's docker-registry on 127.0.0.1, plain HTTP), runs interleaved; medians and
# the ratio skopeo/crumb (above 1: crumb is faster).
#   usage: bench/registry.sh [RUNS] [MB]     (default 5 runs, an image of about 64 MB: four
#                                            random 16 MB layers, gzip, as a registry holds them)
# Pull: a fresh store (crumb pull) against a fresh OCI layout (skopeo copy docker:// oci:).
# Push: the pulled image to a fresh, empty registry each run, so neither can mount a blob the
# registry has already (skopeo would: its blob info cache remembers where blobs went); crumb push,
# and skopeo copy from crumb's store, which is an OCI layout, so both send the same bytes.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
CRUMB=${CRUMB:-$top/crumb}
RUNS=${1:-5}
MB=${2:-64}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crumb-bench-reg.XXXXXX")
TEST_TMP=$tmp
. "$top/tests/tap.sh" >/dev/null
reg_here=$top/tests/registry
. "$top/tests/registry/lib.sh"
cleanup() {
	reg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
reg_start plain "$tmp/reg" || { echo "bench/registry.sh: docker-registry did not start" >&2; exit 1; }

# the image: busybox plus MB of random bytes in four layers, pushed by skopeo (which gzips)
mkdir -p "$tmp/root/bin" "$tmp/lay"
cp /bin/busybox "$tmp/root/bin/"
python3 - "$tmp/lay" "$MB" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
d, mb = sys.argv[1], int(sys.argv[2])
os.makedirs(d + "/blobs/sha256", exist_ok=True)
def put(b):
    h = hashlib.sha256(b).hexdigest(); open(d + "/blobs/sha256/" + h, "wb").write(b); return "sha256:" + h, len(b)
layers, diffs = [], []
for k in range(4):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w") as t:
        data = os.urandom(mb * 1000000 // 4)
        ti = tarfile.TarInfo("blob%d" % k); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    raw = bio.getvalue(); gz = gzip.compress(raw, compresslevel=1, mtime=0)
    layers.append(("application/vnd.oci.image.layer.v1.tar+gzip",) + put(gz))
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
cd, cs = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
    "rootfs": {"type": "layers", "diff_ids": diffs}}).encode())
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
    "layers": [{"mediaType": a, "digest": b, "size": c} for a, b, c in layers]}).encode()
md, ms = put(m)
open(d + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, open(d + "/index.json", "w"))
PY
skopeo copy -q --dest-tls-verify=false "oci:$tmp/lay:v1" "docker://$REG/big:v1"
bytes=$(du -sb "$tmp/lay/blobs" | cut -f1)

t() { s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s.%N); echo "$s $e" | awk '{printf "%.3f\n", $2-$1}'; }
: >"$tmp/cp"; : >"$tmp/sp"; : >"$tmp/cu"; : >"$tmp/su"
for i in $(seq "$RUNS"); do
	t env CRUMB_HOME="$tmp/c$i" "$CRUMB" pull -q "$REG/big:v1" >>"$tmp/cp"
	t skopeo copy -q --src-tls-verify=false "docker://$REG/big:v1" "oci:$tmp/s$i:v1" >>"$tmp/sp"
	src=$REG
	reg_stop
	for who in crumb skopeo; do
		rm -rf "$tmp/push"
		reg_start plain "$tmp/push" || exit 1
		if [ $who = crumb ]; then
			t env CRUMB_HOME="$tmp/c$i" "$CRUMB" push -q "$src/big:v1" "$REG/big:v1" >>"$tmp/cu"
		else
			t skopeo copy -q --dest-tls-verify=false "oci:$tmp/c$i:$src/big:v1" "docker://$REG/big:v1" >>"$tmp/su"
		fi
		reg_stop
	done
	REG=$src
	rm -rf "$tmp/reg.cfg"
	docker-registry serve "$tmp/reg/config.yml" >>"$tmp/reg/registry.log" 2>&1 &
	REG_PID=$!
	retry 15 curl -s -o /dev/null "http://$REG/v2/"
	rm -rf "$tmp/s$i"
	[ "$i" -gt 1 ] && rm -rf "$tmp/c$((i - 1))"
done
med() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "# $(($bytes / 1000000)) MB image (4 gzip layers + config), $RUNS runs each, interleaved; registry $REG (plain HTTP); $(nproc) cores"
printf '%-6s %12s %10s %12s %10s %8s\n' op "crumb s" "crumb MB/s" "skopeo s" "skopeo MB/s" ratio
for op in pull push; do
	k=$([ "$op" = pull ] && echo p || echo u)
	c=$(med "$tmp/c$k")
	s=$(med "$tmp/s$k")
	awk -v op="$op" -v c="$c" -v s="$s" -v b="$bytes" 'BEGIN {printf "%-6s %12.2f %10.1f %12.2f %10.1f %7.2fx\n", op, c, b/c/1e6, s, b/s/1e6, s/c}'
done
