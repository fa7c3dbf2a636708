#!/bin/sh
# bench/mkfs.sh: crumb mkfs vs mke2fs -d vs genext2fs on one large tree, and crumb fs cp vs e2cp/debugfs.
# Usage: sh bench/mkfs.sh   (env: CRUMB=binary, default ./crumb; RUNS=3; BENCH_TREE=dir to reuse
# a tree instead of copying one). Prints a table of medians; runs are interleaved so drift in the
# machine's state hits every tool alike.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
CRUMB=${CRUMB:-$top/crumb}
RUNS=${RUNS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/crumb-bench-mkfs.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
export TZ=UTC LC_ALL=C
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench/mkfs: needs GNU time (/usr/bin/time; Debian package 'time')" >&2; exit 1; }

# The tree: copies of big host directories (copied once, so every tool reads the same files).
if [ -n "${BENCH_TREE:-}" ]; then
	SRC=$BENCH_TREE
	what="$SRC"
else
	SRC=$W/tree
	mkdir -p "$SRC"
	what=""
	for d in /usr/lib/gcc /usr/lib/python3 /usr/lib/python3.11 /usr/share/doc /usr/include /usr/share/locale; do
		[ -d "$d" ] || continue
		mkdir -p "$SRC$(dirname "$d")"
		cp -a "$d" "$SRC$d" 2>/dev/null
		what="$what $d"
		n=$(find "$SRC" | wc -l)
		mb=$(du -sm --apparent-size "$SRC" | cut -f1)
		[ "$n" -ge 10000 ] && [ "$mb" -ge 200 ] && break
	done
fi
nfiles=$(find "$SRC" | wc -l)
mbytes=$(du -sm --apparent-size "$SRC" | cut -f1)
echo "tree: $nfiles entries, $mbytes MiB, copied from:$what"
echo "runs: $RUNS each, interleaved; medians"
echo

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'; }

# One timed run: NAME OUT CMD...; appends "wall rss" to $W/NAME.times.
timed() {
	name=$1 out=$2
	shift 2
	rm -f "$out"
	sync
	if $TIME -f '%e %M' -o "$W/t" "$@" >"$W/$name.log" 2>&1; then
		cat "$W/t" >>"$W/$name.times"
		if e2fsck -fn "$out" >/dev/null 2>&1; then echo clean >"$W/$name.fsck"; else echo ERRORS >"$W/$name.fsck"; fi
		echo "$(stat -c %s "$out") $(du -k "$out" | cut -f1)" >"$W/$name.size"
	else
		echo "failed" >"$W/$name.fsck"
		tail -3 "$W/$name.log" | sed "s/^/# $name: /" >&2
	fi
}

# crumb first, once, to learn the size the others get (mke2fs -d needs one; same size for all)
"$CRUMB" mkfs "$SRC" "$W/size.ext4" || { echo "crumb mkfs failed" >&2; exit 1; }
size=$(stat -c %s "$W/size.ext4")
inodes=$(dumpe2fs -h "$W/size.ext4" 2>/dev/null | sed -n 's/^Inode count: *//p')
rm -f "$W/size.ext4"
echo "image size: $((size >> 20)) MiB (crumb's automatic size), $inodes inodes, for every tool"
uuid=2a1c6e4e-8b0e-4f7e-9a51-3d4a1b2c3d4e
have_gen=0
command -v genext2fs >/dev/null 2>&1 && have_gen=1

for i in $(seq 1 "$RUNS"); do
	timed crumb "$W/crumb.ext4" "$CRUMB" mkfs "$SRC" "$W/crumb.ext4"
	truncate -s "$size" "$W/mke2fs.ext4.new"
	timed mke2fs "$W/mke2fs.ext4" sh -c "truncate -s $size '$W/mke2fs.ext4' && \
		E2FSPROGS_FAKE_TIME=1 mke2fs -q -F -t ext4 -b 4096 -N $inodes -m 0 -U $uuid \
		-E hash_seed=$uuid,root_owner=0:0 -d '$SRC' '$W/mke2fs.ext4'"
	rm -f "$W/mke2fs.ext4.new"
	if [ $have_gen = 1 ]; then
		timed genext2fs "$W/gen.ext2" genext2fs -q -B 4096 -b $((size / 4096)) -N "$inodes" -U \
			-d "$SRC" "$W/gen.ext2"
	fi
done

row() {
	name=$1 label=$2
	if [ ! -s "$W/$name.times" ]; then
		printf '%-28s %10s %10s %10s %10s %8s %8s\n' "$label" n/a n/a n/a n/a "$(cat "$W/$name.fsck" 2>/dev/null || echo n/a)" n/a
		return
	fi
	wall=$(cut -d' ' -f1 "$W/$name.times" | median)
	rss=$(cut -d' ' -f2 "$W/$name.times" | median)
	set -- $(cat "$W/$name.size")
	ratio=$(awk -v a="$wall" -v b="$mke2fs_wall" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
	printf '%-28s %10s %10s %10s %10s %8s %8s\n' "$label" "$wall" "$((rss / 1024))" "$(($1 >> 20))" \
		"$(($2 >> 10))" "$(cat "$W/$name.fsck")" "$ratio"
}
mke2fs_wall=$(cut -d' ' -f1 "$W/mke2fs.times" 2>/dev/null | median)
printf '%-28s %10s %10s %10s %10s %8s %8s\n' tool "wall s" "RSS MiB" "size MiB" "used MiB" "e2fsck" "/mke2fs"
row crumb "crumb mkfs (ext4)"
row mke2fs "mke2fs -t ext4 -d"
if [ $have_gen = 1 ]; then row genext2fs "genext2fs (ext2)"; else
	printf '%-28s %s\n' "genext2fs (ext2)" "n/a (not installed)"
fi

# Editing: one 1 MiB file into a 1 GiB image, each tool on a fresh copy of the same image.
echo
head -c 1048576 /dev/urandom >"$W/one.bin"
mkdir -p "$W/empty"
E2FSPROGS_FAKE_TIME=1 mke2fs -q -F -t ext4 -U $uuid -E hash_seed=$uuid "$W/base.img" 1G >/dev/null
edit() {
	name=$1
	shift
	for i in $(seq 1 "$RUNS"); do
		cp --sparse=always "$W/base.img" "$W/img"
		s=$(date +%s%N)
		if "$@" >/dev/null 2>&1; then
			e=$(date +%s%N)
			echo $(((e - s) / 1000)) >>"$W/$name.edit"
		fi
	done
	if [ -s "$W/$name.edit" ]; then
		ms=$(median <"$W/$name.edit" | awk '{ printf "%.1f", $1 / 1000 }')
		e2fsck -fn "$W/img" >/dev/null 2>&1 && fs=clean || fs=ERRORS
	else
		ms=n/a fs=n/a
	fi
	printf '%-34s %10s %8s\n' "$name" "$ms" "$fs"
}
printf '%-34s %10s %8s\n' "copy 1 MiB into a 1 GiB image" "wall ms" "e2fsck"
edit "crumb fs cp" "$CRUMB" fs cp "$W/one.bin" "$W/img:/one.bin"
if command -v e2cp >/dev/null 2>&1; then
	edit "e2cp (e2tools)" e2cp "$W/one.bin" "$W/img:/one.bin"
else
	printf '%-34s %10s %8s\n' "e2cp (e2tools)" n/a "(not installed)"
fi
edit "debugfs -w -R write" debugfs -w -R "write $W/one.bin one.bin" "$W/img"
