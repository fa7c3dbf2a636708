# tests/e2e/fsck.sh: `crumb fs fsck` on images damaged with debugfs, one line per kind, e2fsck -fn as the oracle.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/fsck
rm -rf "$T"
mkdir -p "$T/src/sub/deeper" "$T/src/big" "$T/src/d"
cd "$T" || exit 1

echo hello >src/file
echo other >src/file2
ln -s file src/fast
ln -s "$(printf 'x%.0s' $(seq 100))" src/slow
for i in $(seq 300); do : >"src/big/a-name-long-enough-to-fill-blocks-$i"; done
# every other 4 KiB block written: 7 extents, more than the inode holds, so a depth-1 tree
for i in 0 2 4 6 8 10 12; do
	dd if=/dev/urandom of=src/frag bs=4096 count=1 seek=$i conv=notrunc 2>/dev/null
done
head -c 300 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 400 >xval
mke2fs -q -F -t ext4 -b 4096 -d src base.img 16M >/dev/null
# an htree for /big, an xattr block for /file, two more names for /file in /d
e2fsck -fyD base.img >/dev/null 2>&1
debugfs -w -f - base.img >/dev/null 2>&1 <<EOF
ea_set -f xval /file user.big
link /file d/xa
link /file d/xb
sif /file links_count 3
EOF
e2fsck -fn base.img >fsck.out 2>&1
ok $? "the base image: e2fsck -fn is clean"
[ $? -ne 0 ] && diag "$(tail -20 fsck.out)"
"$CRUMB" fs fsck base.img >out 2>&1
ok $? "... and crumb fs fsck agrees"
[ $? -ne 0 ] && diag "$(cat out)"

BS=4096
# pblk FILESPEC LBLK: the physical block of a logical block (debugfs bmap)
pblk() { debugfs -R "bmap $1 $2" base.img 2>/dev/null; }
XB=$(debugfs -R 'stat /file' base.img 2>/dev/null | sed -n 's/.*File ACL: \([0-9]*\).*/\1/p')
HT=$(($(pblk /big 0) * BS))  # the htree root
DB=$(($(pblk /d 0) * BS))    # /d: '.' at 0, '..' at 12, xa at 24, xb at 36
JB=$(($(pblk '<8>' 0) * BS)) # the journal superblock
XA=$((XB * BS))
FB=$(pblk /file 0)
[ "${XB:-0}" -gt 0 ] && [ "$HT" -gt 0 ] && [ "$DB" -gt 0 ] && [ "$JB" -gt 0 ]
ok $? "found the htree root, /d, the journal superblock and the xattr block"

# dbg CMD...: each a debugfs -w command on k.img. poke OFFSET BYTES: printf-escaped bytes into k.img.
dbg() { for c in "$@"; do debugfs -w -R "$c" k.img >/dev/null 2>&1; done; }
poke() { printf "$2" | dd of=k.img bs=1 seek="$1" conv=notrunc 2>/dev/null; }

# kind | how to damage k.img | what crumb's report must say (grep -E)
while IFS='|' read -r kind how want; do
	[ -z "$kind" ] && continue
	cp base.img k.img
	eval "$how"
	e2fsck -fn k.img >e2.out 2>&1
	e2=$?
	"$CRUMB" fs fsck k.img >c.out 2>c.err
	c=$?
	if [ $e2 -ne 0 ] && [ $c -eq 1 ] && grep -qE "$want" c.out && ! grep -q Sanitizer c.err; then
		ok 0 "$kind: e2fsck -fn rejects it, crumb fs fsck reports it"
	else
		ok 1 "$kind: e2fsck -fn rejects it, crumb fs fsck reports it"
		diag "e2fsck: $e2, crumb: $c, want /$want/ in:"
		diag "$(head -8 c.out c.err)"
	fi
done <<'EOF'
hard link to the root (a cycle)|dbg 'link / sub/deeper/root'|link to the root directory
hard link to a directory (a cycle)|dbg 'link /sub sub/deeper/up'|second name of directory
cycle cut off from the root|dbg 'link /sub sub/deeper/up' 'unlink /sub'|directory cycle
hard link to the journal inode|dbg 'link <8> sub/j'|reserved inode 8
hard link to inode 1|dbg 'link <1> sub/one'|reserved inode 1
directory size 2^47|dbg 'sif /sub size 0x800000000000'|directory size
file size 2^48|dbg 'sif /file2 size 0x1000000000000'|file size
fast symlink of size 5000|dbg 'sif /fast size 5000'|symlink of size 5000
slow symlink of 1 MiB|dbg 'sif /slow size 1048576'|symlink of size 1048576
zero-size slow symlink|dbg 'sif /slow size 0'|symlink of size 0
symlink size not its target's|dbg 'sif /fast size 2'|fast symlink of size 2 holds a target of 4
'.' typed as a regular file|poke $((DB + 7)) '\001'|'\.' has file type 1
duplicate directory entries|poke $((DB + 45)) a|two entries named 'xa'
duplicate '.' entry|poke $((DB + 42)) '\001'; poke $((DB + 44)) .|a second '\.' entry
htree root levels=3|poke $((HT + 30)) '\003'|3 indirect levels
htree root count=4000|poke $((HT + 34)) '\240\017'|count 4000
htree block out of range|poke $((HT + 36)) '\377\377\000\000'|points to block 65535
htree root info_length=0|poke $((HT + 29)) '\000'|info length 0
htree bad limit|poke $((HT + 32)) '\000\001'|limit 256
htree bad max hash|poke $((HT + 40)) '\020\000\000\000'|bad max hash
xattr block bad magic|poke $XA '\000\000\000\000'|xattr block [0-9]+: bad magic
xattr value offset out of range|poke $((XA + 34)) '\360\377'|offset 65520.*outside
xattr value size out of range|poke $((XA + 40)) '\000\000\001\000'|size 65536.*outside
xattr name_len 255|poke $((XA + 32)) '\377'|name of length 255
i_extra_isize 0xfff0|dbg 'sif /file2 extra_isize 0xfff0'|i_extra_isize 65520
i_size short of the extents|dbg 'sif /frag size 4096'|ends before its block
i_blocks not the extents'|dbg 'sif /frag blocks 8'|i_blocks is 8
zero-length extent|dbg 'sif /file2 block[4] 0'|has length 0
extent start not its index's|dbg 'sif /frag block[3] 1'|its index says 1
zeroed extent header|dbg 'sif /file2 block[0] 0'|bad magic 0x0000
non-zero i_file_acl_hi|dbg 'sif /file2 file_acl_hi 1'|xattr block [0-9]+ out of range
journal superblock magic|poke $JB '\000\000\000\000'|journal superblock: bad magic
journal superblock size|poke $((JB + 12)) '\000\000\004\000'|journal superblock: block size 1024
block claimed twice|dbg "sif /file2 block[5] $FB"|claimed twice
block in use but marked free|dbg "freeb $FB"|block [0-9]+ in use but marked free
inode in use but marked free|dbg 'freei /file2'|in use but marked free in the bitmap
group free blocks count|dbg 'set_bg 0 free_blocks_count 7'|free blocks count 7
inodes in the unused inode area|dbg 'set_bg 0 itable_unused 4000'|inside the 4000 inodes marked unused
link count|dbg 'sif /file2 links_count 5'|link count 5, named 1
EOF

# i_file_acl_hi without 64bit; an inline-data symlink longer than its data (fs ls says why)
mke2fs -q -F -t ext4 -O ^64bit,inline_data -d src n.img 16M >/dev/null
cp n.img k.img
dbg 'sif /file2 file_acl_hi 1' 'sif /slow size 150'
e2fsck -fn n.img >/dev/null 2>&1 && "$CRUMB" fs fsck n.img >/dev/null
ok $? "an inline_data image without 64bit: clean to both"
! e2fsck -fn k.img >/dev/null 2>&1
ok $? "... e2fsck -fn rejects a non-zero i_file_acl_hi and a short inline symlink"
"$CRUMB" fs fsck k.img >c.out
is $? 1 "... crumb fs fsck too"
grep -q 'i_file_acl_hi is 1 on a filesystem without 64bit' c.out; ok $? "... naming i_file_acl_hi"
grep -q 'inline symlink of size 150 holds a target of 100 bytes' c.out; ok $? "... and the symlink"
"$CRUMB" fs ls -l k.img:/ >/dev/null 2>c.err
grep -q 'symlink inode [0-9]* unreadable: 100 of its 150 bytes are stored' c.err && one_line_error c.err
ok $? "fs ls -l gives the reason a symlink is unreadable ($(cat c.err))"

# an image with a feature the check does not verify: its own exit status, the feature named
mke2fs -q -F -t ext4 -O quota q.img 8M >/dev/null
"$CRUMB" fs fsck q.img >c.out 2>c.err
is $? 3 "a quota image: exit 3 (not fully checked)"
grep -q 'quota' c.err && one_line_error c.err
ok $? "... one line naming the feature"
mke2fs -q -F -t ext4 -O bigalloc -C 16384 b.img 32M >/dev/null 2>&1
"$CRUMB" fs fsck b.img >c.out 2>c.err
is $? 3 "a bigalloc image: exit 3"
grep -q bigalloc c.err; ok $? "... naming bigalloc"
"$CRUMB" fs fsck base.img q.img k.img >/dev/null 2>&1
is $? 1 "several images: problems found win over not checked"

# an image with an incompat feature libext2fs does not know: the feature is named
mke2fs -q -F -t ext4 -O ^metadata_csum u.img 8M >/dev/null
printf '\200' | dd of=u.img bs=1 seek=$((1024 + 99)) conv=notrunc 2>/dev/null
"$CRUMB" fs fsck u.img 2>c.err
is $? 3 "an unknown incompat feature: exit 3"
grep -q 'unsupported feature: FEATURE_I31' c.err && one_line_error c.err
ok $? "... one line naming it ($(cat c.err))"

# not an image at all: one line, no repetition, exit 1
head -c 5000 /dev/urandom >garbage
"$CRUMB" fs fsck garbage 2>c.err
is $? 1 "garbage: exit 1"
[ "$(grep -o 'not an ext2/3/4 image' c.err | wc -l)" -eq 1 ] && ! grep -q '()' c.err && one_line_error c.err
ok $? "... one line, said once ($(cat c.err))"

done_testing
