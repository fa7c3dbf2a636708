# tests/e2e/mkfs.sh: `crumb mkfs` checked with e2fsck, debugfs and cpio; golden stat output, byte-identical rebuilds.
# Needs $CRUMB (the binary under test) and $TEST_TMP (scratch). The debugfs 'stat' output of a
# few paths is compared with tests/golden/mkfs/*.stat; run with GOLDEN=1 to rewrite those files
# after an intended change (then review the diff).
. "$(dirname "$0")/../tap.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
golden=$top/tests/golden/mkfs
T=$TEST_TMP/mkfs
rm -rf "$T"
mkdir -p "$T"
export TZ=UTC LC_ALL=C
unset SOURCE_DATE_EPOCH

# The source tree: every file type, hard links, a sparse file, setuid, fixed mtimes.
S=$T/src
mkdir -p "$S/etc" "$S/bin" "$S/run" "$S/data/sub"
printf 'crumb\n' >"$S/etc/hostname"
printf '#!/bin/sh\necho hi\n' >"$S/bin/tool"
chmod 4755 "$S/bin/tool"
chmod 2755 "$S/data/sub"
chmod 1777 "$S/run"
printf 'linked\n' >"$S/data/a"
ln "$S/data/a" "$S/data/b"
ln "$S/data/a" "$S/data/sub/c"
truncate -s 1G "$S/data/sparse"
printf 'middle' | dd of="$S/data/sparse" bs=1 seek=536870912 conv=notrunc 2>/dev/null
mkfifo "$S/run/fifo"
ln -s ../etc/hostname "$S/bin/short"
ln -s "/$(printf 'x%.0s' $(seq 1 100))" "$S/bin/long"
ln -s /no/such/target "$S/bin/dangling"
head -c 300000 /dev/zero | tr '\0' 'z' >"$S/data/big"
xattr=0
if command -v setfattr >/dev/null 2>&1 && setfattr -n user.crumb -v tested "$S/etc/hostname" 2>/dev/null; then
	xattr=1
fi
find "$S" -exec touch -h -d '2020-02-02 02:02:02' {} +

dbg() { debugfs -R "$1" "$2" 2>/dev/null; }
# stat output with the lines that depend on nothing we control removed
dstat() { dbg "stat $1" "$2" | grep -v '^Inode checksum:'; }

timeout 60 "$CRUMB" mkfs "$S" "$T/a.ext4" 2>"$T/err"
ok $? "mkfs a directory (with a FIFO inside: never opened)"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
e2fsck -fn "$T/a.ext4" >"$T/fsck" 2>&1
ok $? "e2fsck -fn is clean"
[ $? -ne 0 ] && diag "$(tail -20 "$T/fsck")"

stat_of() { dbg "stat $1" "$T/a.ext4"; }
stat_of /etc/hostname | grep -q 'User:     0   Group:     0'; ok $? "files are root-owned by default"
stat_of /bin/tool | grep -q 'Mode:  04755'; ok $? "setuid kept"
stat_of /data/sub | grep -q 'Mode:  02755'; ok $? "setgid directory kept"
stat_of /run | grep -q 'Mode:  01777'; ok $? "sticky directory kept"
stat_of /data/a | grep -q 'Links: 3'; ok $? "hard link count 3"
ia=$(dbg "stat /data/a" "$T/a.ext4" | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
ib=$(dbg "stat /data/sub/c" "$T/a.ext4" | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
is "$ia" "$ib" "hard links share an inode"
stat_of /data/sparse | grep -q 'Size: 1073741824'; ok $? "sparse file size"
stat_of /data/sparse | grep -q 'Blockcount: 8$'; ok $? "sparse file holds one block"
is "$(dbg "cat /data/sparse" "$T/a.ext4" | tail -c +536870913 | head -c 6)" middle "sparse data at 512 MiB"
stat_of /run/fifo | grep -q 'Type: FIFO'; ok $? "FIFO recorded"
stat_of /bin/short | grep -q 'Fast link dest: "../etc/hostname"'; ok $? "fast symlink"
stat_of /bin/long | grep -q 'Type: symlink' && ! stat_of /bin/long | grep -q 'Fast link'
ok $? "slow symlink"
stat_of /bin/dangling | grep -q 'Fast link dest: "/no/such/target"'; ok $? "dangling symlink is fine"
stat_of /etc/hostname | grep -q 'mtime: 0x5e362d9a.* Feb  2 02:02:02 2020'; ok $? "mtime kept"
stat_of /etc/hostname | grep -q 'atime: 0x5e362d9a'; ok $? "atime = mtime"
is "$(dbg "cat /data/big" "$T/a.ext4" | md5sum)" "$(md5sum <"$S/data/big")" "content reads back"
if [ $xattr = 1 ]; then
	dbg "ea_get /etc/hostname user.crumb" "$T/a.ext4" | grep -q tested; ok $? "user xattr kept"
else
	skip "user xattr kept" "setfattr missing or unsupported here"
fi

# golden stat output
mkdir -p "$golden"
for p in /bin/tool /bin/long /data/a /data/sparse /data/sub /run/fifo; do
	g=$golden/$(echo "${p#/}" | tr / _).stat
	dstat "$p" "$T/a.ext4" >"$T/got.stat"
	if [ -n "${GOLDEN:-}" ]; then cp "$T/got.stat" "$g"; fi
	if cmp -s "$T/got.stat" "$g"; then ok 0 "debugfs stat $p matches golden"; else
		ok 1 "debugfs stat $p matches golden"
		diag "$(diff "$g" "$T/got.stat" | head -20)"
	fi
done

# reproducibility
(umask 077 && "$CRUMB" mkfs "$S" "$T/b.ext4")
cmp -s "$T/a.ext4" "$T/b.ext4"; ok $? "a rebuild under umask 077 is byte-identical"
SOURCE_DATE_EPOCH=1700000000 "$CRUMB" mkfs "$S" "$T/c.ext4"
cmp -s "$T/a.ext4" "$T/c.ext4"; is $? 1 "SOURCE_DATE_EPOCH changes the bytes"
dumpe2fs -h "$T/c.ext4" 2>/dev/null | grep -q 'Filesystem created: *Tue Nov 14 22:13:20 2023'
ok $? "... and dates the filesystem"

# another user: a world-readable copy of the source in a directory they can reach
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	U=$(mktemp -d /tmp/crumb-mkfs-user.XXXXXX)
	chmod 755 "$U"
	cp -a "$S" "$U/src"
	mkdir "$U/out" && chmod 777 "$U/out"
	(umask 002 && setpriv --reuid=65534 --regid=65534 --clear-groups "$CRUMB" mkfs "$U/src" "$U/out/n.ext4")
	ok $? "mkfs as uid 65534"
	cmp -s "$T/a.ext4" "$U/out/n.ext4"; ok $? "... gives the same bytes"
	# as that user a mode-000 file really is unreadable
	echo secret >"$U/src/etc/secret"
	chmod 000 "$U/src/etc/secret"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CRUMB" mkfs "$U/src" "$U/out/u.ext4" 2>"$T/err"
	is $? 1 "an unreadable file fails (exit 1)"
	check "... with one line" one_line_error "$T/err"
	grep -q 'etc/secret' "$T/err"; ok $? "... naming it"
	[ ! -e "$U/out/u.ext4" ] && [ -z "$(ls "$U/out" | grep -v n.ext4)" ]; ok $? "... leaving no output"
	rm -rf "$U"
elif [ "$(id -u)" -ne 0 ]; then
	skip "mkfs as another user" "not root"
	skip "... gives the same bytes" "not root"
	cp -a "$S" "$T/src2"
	echo secret >"$T/src2/etc/secret"
	chmod 000 "$T/src2/etc/secret"
	"$CRUMB" mkfs "$T/src2" "$T/u.ext4" 2>"$T/err"
	is $? 1 "an unreadable file fails (exit 1)"
	check "... with one line" one_line_error "$T/err"
	grep -q 'etc/secret' "$T/err"; ok $? "... naming it"
	[ ! -e "$T/u.ext4" ] && [ -z "$(ls "$T" | grep 'u.ext4')" ]; ok $? "... leaving no output"
	chmod 600 "$T/src2/etc/secret"
else
	for d in "mkfs as another user" "... same bytes" "unreadable file" "... one line" "... naming it" "... no output"; do
		skip "$d" "no setpriv"
	done
fi

# --owner, --device-table, --label, --size
cat >"$T/table" <<'EOF'
# path        type mode uid gid major minor start inc count
/dev/console  c    600  0   0   5     1     -     -   -
/dev/tty      c    620  0   5   4     0     0     1   3
/dev/vda      b    660  0   6   254   0     -     -   -
/etc/hostname f    640  0   42  -     -     -     -   -
/data/a       f    600  7   7   -     -     -     -   -
/srv          d    750  33  33  -     -     -     -   -
EOF
"$CRUMB" mkfs --owner 1000:1000 --device-table "$T/table" --label crumbtest --size 64M "$S" "$T/d.ext4"
ok $? "mkfs --owner --device-table --label --size"
e2fsck -fn "$T/d.ext4" >/dev/null 2>&1; ok $? "... e2fsck clean"
is "$(stat -c %s "$T/d.ext4")" 67108864 "--size 64M is 64 MiB"
dumpe2fs -h "$T/d.ext4" 2>/dev/null | grep -q 'volume name: *crumbtest'; ok $? "label set"
dbg "stat /bin/tool" "$T/d.ext4" | grep -q 'User:  1000   Group:  1000'; ok $? "--owner applies to directory sources"
dbg "stat /dev/console" "$T/d.ext4" | grep -q 'Device major/minor number: 05:01'; ok $? "table: /dev/console 5,1"
dbg "stat /dev/tty2" "$T/d.ext4" | grep -q 'Device major/minor number: 04:02'; ok $? "table: /dev/tty2 is 4,2 (start/inc/count)"
dbg "stat /dev/vda" "$T/d.ext4" | grep -q 'Type: block special'; ok $? "table: block device"
dbg "stat /etc/hostname" "$T/d.ext4" | grep -q 'Mode:  0640'; ok $? "table sets a mode"
dbg "stat /etc/hostname" "$T/d.ext4" | grep -q 'User:     0   Group:    42'; ok $? "table sets an owner"
dbg "stat /data/sub/c" "$T/d.ext4" | grep -q 'User:     7   Group:     7'; ok $? "table on a hard link sets every name's owner"
dbg "stat /srv" "$T/d.ext4" | grep -q 'Type: directory'; ok $? "table makes a directory"
printf '/dev/x c 600 0 0 1\n' >"$T/badtable"
"$CRUMB" mkfs --device-table "$T/badtable" "$S" "$T/e.ext4" 2>"$T/err"
is $? 1 "a malformed table line fails"
grep -q "badtable:1:" "$T/err"; ok $? "... naming FILE:LINE"
[ ! -e "$T/e.ext4" ]; ok $? "... leaving no output"
mkdir -p "$T/fat" && head -c 3000000 /dev/zero | tr '\0' 'f' >"$T/fat/file"
"$CRUMB" mkfs --size 1M "$S" "$T/fat" "$T/f.ext4" 2>"$T/err"
is $? 1 "a too small --size fails"
check "... with one line" one_line_error "$T/err"
[ ! -e "$T/f.ext4" ]; ok $? "... leaving no output"
"$CRUMB" mkfs --size 12Q "$S" "$T/f.ext4" 2>/dev/null
is $? 2 "a bad --size is a usage error"
"$CRUMB" mkfs -t ext2 "$S" "$T/g.ext2"
ok $? "mkfs -t ext2"
e2fsck -fn "$T/g.ext2" >/dev/null 2>&1; ok $? "... e2fsck clean"
dumpe2fs -h "$T/g.ext2" 2>/dev/null | grep -q has_journal; is $? 1 "... no journal"

# layering: an image as a source, with a directory over it
mkdir -p "$T/over/etc"
printf 'over\n' >"$T/over/etc/hostname"
"$CRUMB" mkfs "$T/a.ext4" "$T/over" "$T/h.ext4" 2>"$T/err"
ok $? "an image and a directory layered"
is "$(dbg "cat /etc/hostname" "$T/h.ext4")" over "... the later source wins"
dbg "stat /data/a" "$T/h.ext4" | grep -q 'Links: 3'; ok $? "... hard links from the image kept"

# cpio
"$CRUMB" mkfs -t cpio "$S" "$T/a.cpio"
ok $? "mkfs -t cpio"
cpio -itv --numeric-uid-gid <"$T/a.cpio" >"$T/cpio.lst" 2>/dev/null
ok $? "cpio(1) reads it"
grep -q '^-rwsr-xr-x .* 0  *0 .* bin/tool$' "$T/cpio.lst"; ok $? "cpio: setuid tool owned 0:0"
grep -q '^p.* run/fifo$' "$T/cpio.lst"; ok $? "cpio: FIFO"
grep -q '^lrwxrwxrwx .* bin/short -> ../etc/hostname$' "$T/cpio.lst"; ok $? "cpio: symlink"
grep -q ' Feb  2  2020 etc/hostname$' "$T/cpio.lst"; ok $? "cpio: mtime kept"
"$CRUMB" mkfs -t cpio --compress gzip "$S" "$T/a.cpio.gz"
gzip -dc "$T/a.cpio.gz" | cmp -s - "$T/a.cpio"; ok $? "cpio --compress gzip holds the same archive"
"$CRUMB" mkfs -t cpio --size 1M "$S" "$T/x.cpio" 2>/dev/null
is $? 2 "--size with cpio is a usage error"

"$CRUMB" help mkfs | grep -q -- '--device-table'; ok $? "crumb help mkfs documents the options"
done_testing
