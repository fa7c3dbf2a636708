#!/bin/sh
# bench/9p.sh: what a host directory over 9p (-v DIR:/mnt) costs under TCG, next to the same
# files in the initramfs and on an ext4 volume: reading a 50 MB file (twice: cold, then again)
# and `find` over a tree of many small files. Timed inside the guest (/proc/uptime, 10 ms).
# Each figure is the median of N boots (default 3).
# Usage: sh bench/9p.sh [TREE]   (TREE default /usr/lib/python3.11; CRUMB, KERNEL, N may be set)
set -e
CRUMB=${CRUMB:-$(dirname "$0")/../crumb}
KERNEL=${KERNEL:-$("$CRUMB" kernel path)}
TREE=${1:-/usr/lib/python3.11}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export CRUMB_HOME=$W/home XDG_RUNTIME_DIR=$W
mkdir -p "$W/d"
head -c 50000000 /dev/urandom >"$W/d/big"
cp -a "$TREE" "$W/d/tree"
nfiles=$(find "$W/d/tree" | wc -l)
"$CRUMB" mkfs -t ext4 "$W/d" "$W/vol.ext4" >/dev/null

# In the guest: seconds for cat big (twice) and find tree, from /proc/uptime.
prog='t() { read u x < /proc/uptime; echo $u; }
a=$(t); cat $1/big > /dev/null; b=$(t); cat $1/big > /dev/null; c=$(t)
find $1/tree > /dev/null; d=$(t)
echo "$a $b $c $d"'
run() { "$CRUMB" run -q --kernel "$KERNEL" "$@" --exec /bin/busybox -- sh -c "$prog" sh "$where"; }

printf '%-22s %12s %12s %14s\n' "where" "50 MB cold" "50 MB again" "find $nfiles"
for m in initramfs ext4 9p; do
	case $m in
	initramfs) where=/data; set -- --add "$W/d:/data" ;;
	ext4) where=/v; set -- -v "$W/vol.ext4:/v:ro" ;;
	9p) where=/mnt; set -- -v "$W/d:/mnt:ro" ;;
	esac
	: >"$W/times"
	i=0
	while [ $i -lt "${N:-3}" ]; do
		run "$@" | tail -1 | awk '{ print $2 - $1, $3 - $2, $4 - $3 }' >>"$W/times"
		i=$((i + 1))
	done
	# the median of each column
	for col in 1 2 3; do cut -d' ' -f$col "$W/times" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; done |
		tr '\n' ' ' | awk -v m="$m" '{
		printf "%-22s %7.2fs %4.0fMB/s %6.2fs %4.0fMB/s %13.2fs\n", m,
		       $1, 50 / ($1 + 0.005), $2, 50 / ($2 + 0.005), $3 }'
done
