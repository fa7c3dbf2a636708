# tests/e2e/sde.sh: SOURCE_DATE_EPOCH: file times newer than it are clamped to it when it is set
# (mkfs, fs cp/mkdir, pack, build), kept when it is not (build: as if 0); a malformed value is
# one line of error. Oracles: debugfs stat, cpio -itv, cpio -idm + stat, cmp.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/sde
rm -rf "$T"
mkdir -p "$T"
export TZ=UTC LC_ALL=C CRUMB_HOME="$T/home"
unset SOURCE_DATE_EPOCH
E=1500000000     # 2017-07-14 02:40:00 UTC: the epoch used below
EHEX=0x59682f00
OLD=1000000000   # 2001-09-09 01:46:40: older than E, kept
OLDHEX=0x3b9aca00
NEW=1700000000   # 2023-11-14 22:13:20: newer than E, clamped
NEWHEX=0x6553f100
dbg() { debugfs -R "$1" "$2" 2>/dev/null; }
# mtime_of IMAGE PATH: the hex seconds debugfs shows (ext2 and ext4 alike)
mtime_of() { dbg "stat $2" "$1" | sed -n 's/^ *mtime: \(0x[0-9a-f]\{8\}\).*/\1/p'; }
ctime_of() { dbg "stat $2" "$1" | sed -n 's/^ *ctime: \(0x[0-9a-f]\{8\}\).*/\1/p'; }
# cpio_time ARCHIVE PATH: the date cpio -itv shows for PATH
cpio_time() { cpio -itv <"$1" 2>/dev/null | awk -v p="$2" '$NF == p { print $6, $7, $8 }'; }
# cpio_secs ARCHIVE PATH: its exact mtime, extracted by cpio -idm and read by stat
cpio_secs() {
	rm -rf "$T/x" && mkdir "$T/x" && (cd "$T/x" && cpio -idm --quiet "$2" <"$1" 2>/dev/null)
	stat -c %Y "$T/x/$2"
}

S=$T/src
mkdir -p "$S/d"
echo old >"$S/d/old"
echo new >"$S/d/new"
touch -d @$OLD "$S/d/old"
touch -d @$NEW "$S/d/new"

# 1. mkfs: with SOURCE_DATE_EPOCH set, a touch of a file newer than it changes nothing.
for ty in ext4 ext2 cpio; do
	SOURCE_DATE_EPOCH=$E "$CRUMB" mkfs -t $ty "$S" "$T/a.$ty" 2>"$T/err"
	ok $? "mkfs -t $ty with SOURCE_DATE_EPOCH set"
	touch "$S/d/new"
	SOURCE_DATE_EPOCH=$E "$CRUMB" mkfs -t $ty "$S" "$T/b.$ty"
	cmp -s "$T/a.$ty" "$T/b.$ty"; ok $? "... a touched file, same bytes ($ty)"
	touch -d @$NEW "$S/d/new"
done
for ty in ext4 ext2; do
	is "$(mtime_of "$T/a.$ty" /d/old)" $OLDHEX "$ty: an mtime older than the epoch is kept (debugfs)"
	is "$(mtime_of "$T/a.$ty" /d/new)" $EHEX "$ty: a newer one becomes the epoch (debugfs)"
	is "$(ctime_of "$T/a.$ty" /d/new)" $EHEX "$ty: ... its ctime too"
	e2fsck -fn "$T/a.$ty" >/dev/null 2>&1; ok $? "$ty: e2fsck -fn clean"
done
is "$(cpio_time "$T/a.cpio" d/old)" "Sep 9 2001" "cpio: an older mtime is kept (cpio -itv)"
is "$(cpio_time "$T/a.cpio" d/new)" "Jul 14 2017" "cpio: a newer one becomes the epoch (cpio -itv)"
is "$(cpio_secs "$T/a.cpio" d/new)" $E "cpio: ... to the second (cpio -idm)"
SOURCE_DATE_EPOCH=0 "$CRUMB" mkfs -t cpio "$S" "$T/z.cpio"
is "$(cpio -itv <"$T/z.cpio" 2>/dev/null | grep -vc ' Jan  1  1970 ')" 0 "cpio: SOURCE_DATE_EPOCH=0 dates every entry 1970"

# Unset: the files' own times.
"$CRUMB" mkfs "$S" "$T/u.ext4"
is "$(mtime_of "$T/u.ext4" /d/new)" $NEWHEX "unset: ext4 keeps a file's own mtime"
is "$(mtime_of "$T/u.ext4" /d/old)" $OLDHEX "unset: ... the older one too"
"$CRUMB" mkfs -t cpio "$S" "$T/u.cpio"
is "$(cpio_secs "$T/u.cpio" d/new)" $NEW "unset: cpio keeps a file's own mtime"
touch "$S/d/new"
"$CRUMB" mkfs "$S" "$T/u2.ext4"
cmp -s "$T/u.ext4" "$T/u2.ext4"; is $? 1 "unset: a touch shows in the image"
touch -d @$NEW "$S/d/new"

# 2. Malformed values: one line, nothing written.
for v in abc -1 +5 1.5 ' 7' 0x10 99999999999999999999 253402300800; do
	SOURCE_DATE_EPOCH=$v "$CRUMB" mkfs "$S" "$T/bad.ext4" 2>"$T/err"
	st=$?
	[ $st -eq 1 ] && one_line_error "$T/err" && grep -q 'SOURCE_DATE_EPOCH' "$T/err" && [ ! -e "$T/bad.ext4" ]
	ok $? "mkfs: SOURCE_DATE_EPOCH='$v' is one line of error, no image (exit $st)"
done
SOURCE_DATE_EPOCH=253402300799 "$CRUMB" mkfs -t cpio "$S" "$T/max.cpio"
ok $? "SOURCE_DATE_EPOCH=253402300799 (9999-12-31) is taken"
SOURCE_DATE_EPOCH= "$CRUMB" mkfs "$S" "$T/empty.ext4"
cmp -s "$T/u.ext4" "$T/empty.ext4"; ok $? "an empty SOURCE_DATE_EPOCH is unset"

# 3. fs cp / mkdir into an image: times written are clamped too.
mkdir "$T/empty"
"$CRUMB" mkfs --size 8M "$T/empty" "$T/base.ext4"
cp "$T/base.ext4" "$T/f1.ext4"
cp "$T/base.ext4" "$T/f2.ext4"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs cp "$S/d/old" "$T/f1.ext4:/plain"
ok $? "fs cp with SOURCE_DATE_EPOCH set"
is "$(mtime_of "$T/f1.ext4" /plain)" $EHEX "fs cp: a copy dated now gets the epoch"
is "$(ctime_of "$T/f1.ext4" /plain)" $EHEX "fs cp: ... its ctime too"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs cp -p "$S/d/old" "$S/d/new" "$T/f1.ext4:/"
is "$(mtime_of "$T/f1.ext4" /old)" $OLDHEX "fs cp -p: an older mtime is kept"
is "$(mtime_of "$T/f1.ext4" /new)" $EHEX "fs cp -p: a newer one becomes the epoch"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs mkdir "$T/f1.ext4:/m"
is "$(mtime_of "$T/f1.ext4" /m)" $EHEX "fs mkdir: the new directory gets the epoch"
e2fsck -fn "$T/f1.ext4" >/dev/null 2>&1; ok $? "... e2fsck -fn clean"
touch "$S/d/new"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs cp "$S/d/old" "$T/f2.ext4:/plain"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs cp -p "$S/d/old" "$S/d/new" "$T/f2.ext4:/"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs mkdir "$T/f2.ext4:/m"
cmp -s "$T/f1.ext4" "$T/f2.ext4"; ok $? "the same edits later, a file touched: the same bytes"
touch -d @$NEW "$S/d/new"
cp "$T/base.ext4" "$T/f3.ext4"
"$CRUMB" fs cp -p "$S/d/new" "$T/f3.ext4:/new"
is "$(mtime_of "$T/f3.ext4" /new)" $NEWHEX "fs cp -p unset: the file's own mtime"
SOURCE_DATE_EPOCH=x "$CRUMB" fs cp "$S/d/new" "$T/f3.ext4:/n2" 2>"$T/err"
is $? 1 "fs cp: a malformed SOURCE_DATE_EPOCH fails"
check "... with one line" one_line_error "$T/err"
"$CRUMB" fs ls "$T/f3.ext4:/n2" >/dev/null 2>&1; is $? 1 "... and copies nothing"
SOURCE_DATE_EPOCH=x "$CRUMB" fs ls "$T/f3.ext4:/" >/dev/null 2>&1; ok $? "reading verbs do not need it"
# into a cpio archive
"$CRUMB" mkfs -t cpio "$T/empty" "$T/c1.cpio"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs cp -p "$S/d/old" "$S/d/new" "$T/c1.cpio:/"
SOURCE_DATE_EPOCH=$E "$CRUMB" fs cp "$S/d/old" "$T/c1.cpio:/plain"
is "$(cpio_time "$T/c1.cpio" old)" "Sep 9 2001" "fs cp -p into cpio: an older mtime is kept (cpio -itv)"
is "$(cpio_time "$T/c1.cpio" new)" "Jul 14 2017" "fs cp -p into cpio: a newer one becomes the epoch"
is "$(cpio_secs "$T/c1.cpio" plain)" $E "fs cp into cpio: a copy dated now gets the epoch"

# 4. pack: clamped when set, own times when not.
pk() { "$CRUMB" pack --exec /bin/echo --add "$S/d/old:/old" --add "$S/d/new:/new" --compress none "$@"; }
SOURCE_DATE_EPOCH=$E pk -o "$T/p1.cpio"; ok $? "pack with SOURCE_DATE_EPOCH set"
touch "$S/d/new"
SOURCE_DATE_EPOCH=$E pk -o "$T/p2.cpio"
cmp -s "$T/p1.cpio" "$T/p2.cpio"; ok $? "pack: a touched file, same bytes"
touch -d @$NEW "$S/d/new"
is "$(cpio_time "$T/p1.cpio" old)" "Sep 9 2001" "pack: an older mtime is kept (cpio -itv)"
is "$(cpio_time "$T/p1.cpio" new)" "Jul 14 2017" "pack: a newer one becomes the epoch (cpio -itv)"
pk -o "$T/p3.cpio"
is "$(cpio_secs "$T/p3.cpio" new)" $NEW "pack unset: a file's own mtime"
SOURCE_DATE_EPOCH=1e9 pk -o "$T/p4.cpio" 2>"$T/err"
is $? 1 "pack: a malformed SOURCE_DATE_EPOCH fails"
check "... with one line" one_line_error "$T/err"
[ ! -e "$T/p4.cpio" ]; ok $? "... and writes nothing"

# 5. build (FROM scratch + COPY; nothing boots): clamped when set; unset is 0.
C=$T/ctx
mkdir -p "$C"
cp -p "$S/d/old" "$S/d/new" "$C/"
printf 'FROM scratch\nCOPY old new /d/\n' >"$C/Crumbfile"
build() { "$CRUMB" build -q --kernel "$KERNEL" "$@" "$C"; }
# rootfs_of REF: the image's root filesystem blob
rootfs_of() {
	d=$(skopeo inspect --raw "oci:$CRUMB_HOME:$1:latest" |
		python3 -c 'import json,sys; m=json.load(sys.stdin); print([l["digest"] for l in m["layers"] if "rootfs" in l["mediaType"]][0])')
	zstd -dqc "$CRUMB_HOME/blobs/sha256/${d#sha256:}" >"$T/$1.cpio"
	echo "$T/$1.cpio"
}
d1=$(SOURCE_DATE_EPOCH=$E build -t s1 2>"$T/err"); ok $? "build with SOURCE_DATE_EPOCH set"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
R=$(rootfs_of s1)
is "$(cpio_time "$R" d/old)" "Sep 9 2001" "build: an older mtime is kept (cpio -itv)"
is "$(cpio_secs "$R" d/new)" $E "build: a newer one becomes the epoch"
is "$(cpio_secs "$R" sbin/crumb-init)" $E "build: ... crumb-init's too"
touch "$C/new"
d2=$(SOURCE_DATE_EPOCH=$E build 2>/dev/null)
is "$d2" "$d1" "build: a file touched (still newer): same digest"
d3=$(SOURCE_DATE_EPOCH=$E build --no-cache 2>/dev/null)
is "$d3" "$d1" "build: ... and the same without the cache"
touch -d @1100000000 "$C/old"
d4=$(SOURCE_DATE_EPOCH=$E build -t s4 2>/dev/null)
[ -n "$d4" ] && [ "$d4" != "$d1" ]; ok $? "build: an older file touched to another older time: a new digest (no stale cache hit)"
is "$(cpio_secs "$(rootfs_of s4)" d/old)" 1100000000 "build: ... carrying the new time"
d5=$(SOURCE_DATE_EPOCH=$E build --no-cache 2>/dev/null)
is "$d5" "$d4" "build: ... the same digest without the cache"
d6=$(build -t s6 2>/dev/null); ok $? "build with SOURCE_DATE_EPOCH unset"
is "$(cpio -itv <"$(rootfs_of s6)" 2>/dev/null | grep -vc ' Jan  1  1970 ')" 0 "build unset: every time is 0"
d7=$(SOURCE_DATE_EPOCH=0 build 2>/dev/null)
is "$d7" "$d6" "build unset: the digest of SOURCE_DATE_EPOCH=0"
# An epoch later than every file: times are the files' own, the ext4 superblock's the epoch.
X=$T/ctx4
mkdir -p "$X"
cp -p "$S/d/old" "$X/"
printf 'FROM scratch\nLABEL crumb.rootfs=ext4\nCOPY old /d/\n' >"$X/Crumbfile"
blob_of() {
	d=$(skopeo inspect --raw "oci:$CRUMB_HOME:$1:latest" |
		python3 -c 'import json,sys; m=json.load(sys.stdin); print([l["digest"] for l in m["layers"] if "rootfs" in l["mediaType"]][0])')
	echo "$CRUMB_HOME/blobs/sha256/${d#sha256:}"
}
SOURCE_DATE_EPOCH=4000000000 "$CRUMB" build -q --kernel "$KERNEL" -t f1 "$X" >/dev/null 2>&1
SOURCE_DATE_EPOCH=4000000001 "$CRUMB" build -q --kernel "$KERNEL" -t f2 "$X" >/dev/null 2>&1
dumpe2fs -h "$(blob_of f2)" 2>/dev/null | grep -q 'Filesystem created: .*Oct  2 07:06:41 2096'
ok $? "build: another epoch, the same file times: the ext4 rootfs is not a stale cache hit"
is "$(mtime_of "$(blob_of f2)" /sbin/crumb-init)" "$(printf '0x%08x' "$(stat -c %Y "$CRUMB_INIT")")" \
	"build: an epoch later than crumb-init keeps its own mtime"
SOURCE_DATE_EPOCH=-5 build >/dev/null 2>"$T/err"
is $? 1 "build: a malformed SOURCE_DATE_EPOCH fails"
check "... with one line" one_line_error "$T/err"

done_testing
