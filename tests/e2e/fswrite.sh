# tests/e2e/fswrite.sh: `crumb fs` on damaged and unusual images: loops, refused writes, failed writes that change nothing, speed.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/fswrite
rm -rf "$T"
mkdir -p "$T/src/etc" "$T/src/sub"
cd "$T" || exit 1
echo myhost >src/etc/hostname
head -c 3000 /dev/urandom >src/etc/blob
clean() { e2fsck -fn "$1" >"$T/fsck.out" 2>&1; }
sum() { sha256sum <"$1"; }
# ms CMD...: runs CMD (output discarded), prints the milliseconds it took
ms() {
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1
	echo $((($(date +%s%N) - s) / 1000000))
}
mke2fs -q -F -t ext4 -d src a.ext4 16M >/dev/null

# a hard link to / inside a subdirectory: ls -R and du refuse at once
cp a.ext4 loop.ext4 && debugfs -w -R 'link / /sub/root' loop.ext4 >/dev/null 2>&1
for verb in "ls -R" du; do
	t=$(ms timeout 20 "$CRUMB" fs $verb loop.ext4:/)
	timeout 20 "$CRUMB" fs $verb loop.ext4:/ >out.txt 2>err.out
	is $? 1 "fs $verb of a directory loop fails"
	check "... one-line error" one_line_error err.out
	grep -q 'loop.ext4:/sub/root: directory loop' err.out; ok $? "... naming the path"
	[ "$t" -lt 5000 ] && [ "$(wc -c <out.txt)" -lt 1000 ]
	ok $? "... at once ($t ms, $(wc -c <out.txt) bytes of output)"
done

# garbage and truncated cpio: one clean line each
head -c 2000 /dev/urandom >garbage.cpio
(cd src && find . | cpio -o -H newc --quiet) >whole.cpio
for cut in 6 200 1500; do
	head -c $cut whole.cpio >cut$cut.cpio
	"$CRUMB" fs ls cut$cut.cpio: >/dev/null 2>err.out
	is $? 1 "a cpio cut at $cut bytes: fails"
	check "... one-line error" one_line_error err.out
	grep -q "^crumb: cut$cut.cpio: .*truncated" err.out; ok $? "... called truncated: $(cat err.out)"
	[ "$(grep -o 'cut[0-9]*.cpio' err.out | wc -l)" -eq 1 ]; ok $? "... naming the archive once"
done
"$CRUMB" fs ls garbage.cpio: 2>err.out; is $? 1 "a garbage file: fails"
check "... one-line error" one_line_error err.out
[ "$(grep -o 'garbage.cpio' err.out | wc -l)" -eq 1 ] && ! grep -q '()' err.out
ok $? "... naming it once, no empty parentheses: $(cat err.out)"

# revision-0 superblock: no s_first_ino (zeroed here), still valid
mke2fs -q -r 0 -F r0.img 2M >/dev/null 2>&1
printf '\0\0\0\0' | dd of=r0.img bs=1 seek=1108 conv=notrunc 2>/dev/null
clean r0.img; ok $? "e2fsck -fn: the revision-0 image is clean"
"$CRUMB" fs ls r0.img:/ >out.txt 2>err.out && grep -qx lost+found out.txt; ok $? "fs ls of a revision-0 image"
"$CRUMB" fs cp -r src r0.img:/src && clean r0.img; ok $? "... fs cp -r into it, e2fsck -fn clean"

# features libext2fs does not know are named (set by hand: bit 19 of incompat, 20 of ro_compat)
mke2fs -q -F -t ext4 -O ^metadata_csum uf.ext4 8M >/dev/null 2>&1 && cp uf.ext4 ur.ext4
python3 - <<'EOF'
import struct
for path, off, bit in (("uf.ext4", 0x60, 1 << 19), ("ur.ext4", 0x64, 1 << 20)):
    with open(path, "r+b") as f:
        f.seek(1024 + off)
        v = struct.unpack("<I", f.read(4))[0]
        f.seek(1024 + off)
        f.write(struct.pack("<I", v | bit))
EOF
"$CRUMB" fs ls uf.ext4:/ 2>err.out; is $? 1 "an unknown incompat feature: fails"
grep -q 'unsupported features\{0,1\}: FEATURE_I19$' err.out; ok $? "... naming it: $(cat err.out)"
"$CRUMB" fs ls ur.ext4:/ >/dev/null; ok $? "an unknown ro_compat feature: it can be read"
"$CRUMB" fs mkdir --force ur.ext4:/x 2>err.out; is $? 1 "... not written, even with --force"
grep -q 'FEATURE_R20 (it can only be read)' err.out; ok $? "... naming it: $(cat err.out)"

# write refusals: a block two files claim (made with debugfs), a quota image, a bigalloc image
cp a.ext4 shared.ext4
blk=$(debugfs -R 'bmap /etc/blob 0' shared.ext4 2>/dev/null)
debugfs -w -R "sif /etc/hostname block[5] $blk" shared.ext4 >/dev/null 2>&1 # first extent's start
mke2fs -q -F -t ext4 -O quota quota.ext4 16M >/dev/null 2>&1
mke2fs -q -F -t ext4 -O bigalloc -C 16384 bigalloc.ext4 32M >/dev/null 2>&1
clean shared.ext4; is $? 4 "e2fsck -fn finds the shared block"
for img in shared.ext4 quota.ext4 bigalloc.ext4; do
	before=$(sum $img)
	for cmd in "cp src/etc/hostname $img:/new" "mkdir $img:/d" "chmod 700 $img:/" "rm -r $img:/lost+found"; do
		"$CRUMB" fs $cmd 2>err.out
		is $? 1 "$img: fs ${cmd%% *} refused"
		check "... one-line error" one_line_error err.out
	done
	grep -q -- '--force' err.out; ok $? "... saying --force writes anyway: $(cat err.out)"
	is "$(sum $img)" "$before" "$img: ... the image is byte-identical"
	"$CRUMB" fs ls $img:/ >/dev/null; ok $? "$img: ... reading it still works"
done
grep -q 'damaged: .*claimed twice' err.out || "$CRUMB" fs cp src/etc/hostname shared.ext4:/new 2>&1 | grep -q 'damaged: .*claimed twice'
ok $? "shared.ext4: the refusal names the problem"
"$CRUMB" fs cp src/etc/hostname quota.ext4:/new 2>&1 | grep -q 'quota'; ok $? "quota.ext4: the refusal names the feature"
"$CRUMB" fs cp --force src/etc/hostname shared.ext4:/new; ok $? "--force writes into the damaged image"
is "$("$CRUMB" fs cat shared.ext4:/new)" myhost "... the file is there"
"$CRUMB" fs ls --force a.ext4:/ 2>/dev/null; is $? 2 "--force on a verb that reads is a usage error"

# uninit_bg and metadata_csum images: new inodes past a group's used part keep e2fsck clean
mkdir -p many && (cd many && i=0 && while [ $i -lt 300 ]; do echo $i >f$i; i=$((i + 1)); done)
for f in "^metadata_csum,uninit_bg" "metadata_csum,^uninit_bg"; do
	mke2fs -q -F -t ext4 -b 1024 -g 1024 -N 2048 -O "$f" g.ext4 8M >/dev/null 2>&1
	"$CRUMB" fs cp -r many g.ext4:/m1 && "$CRUMB" fs cp -r many g.ext4:/m2 &&
		"$CRUMB" fs mkdir -p g.ext4:/x/y/z && "$CRUMB" fs rm -r g.ext4:/m1
	ok $? "-O $f: cp -r, mkdir -p, rm -r"
	clean g.ext4; ok $? "... e2fsck -fn clean"
	[ "$f" = "${f#^metadata}" ] || {
		dumpe2fs g.ext4 2>/dev/null | grep -q 'ITABLE_ZEROED\|INODE_UNINIT'; ok $? "... (groups do start uninitialized)"
	}
done

# a full image: cp fails and changes nothing
mke2fs -q -F -t ext4 full.ext4 4M >/dev/null 2>&1
head -c 6000000 /dev/urandom >big.bin
before=$(sum full.ext4)
"$CRUMB" fs cp big.bin full.ext4:/big 2>err.out; is $? 1 "cp of 6 MB into a 4 MB image fails"
check "... one-line error" one_line_error err.out
is "$(sum full.ext4)" "$before" "... the image is byte-identical"
"$CRUMB" fs cp src/etc/hostname big.bin full.ext4:/ 2>err.out; is $? 1 "cp of a small file, then a too-big one, fails"
is "$(sum full.ext4)" "$before" "... the small file is not written either"
"$CRUMB" fs cp -r src nosuch full.ext4:/ 2>err.out; is $? 1 "cp of a directory and a missing source fails"
is "$(sum full.ext4)" "$before" "... the image is byte-identical"
"$CRUMB" fs cp src/etc/hostname full.ext4:/h && clean full.ext4; ok $? "a cp that fits succeeds, e2fsck -fn clean"

# speed: 100k entries in one directory, ls -R and du linear (they were quadratic: 47 s for 47k)
python3 - "$T/wide.cpio" "$T/w40k.cpio" <<'EOF'
import sys
def member(name, mode=0o100644, ino=1, nlink=1):
    name = name.encode() + b"\0"
    h = b"070701" + b"".join(b"%08X" % v for v in (ino, mode, 0, 0, nlink, 0, 0, 0, 0, 0, 0, len(name), 0))
    out = h + name
    return out + b"\0" * (-len(out) % 4)
# names of files with two hard links each (an archive's link counts took a walk per entry)
for path, count in ((sys.argv[1], 100000), (sys.argv[2], 40000)):
    with open(path, "wb") as f:
        f.write(member("d", 0o40755, 1))
        f.write(b"".join(member("d/f%06d" % i, ino=i // 2 + 2, nlink=2) for i in range(count)))
        f.write(member("TRAILER!!!", 0, 0))
EOF
"$CRUMB" mkfs -t ext4 wide.cpio wide.ext4 >/dev/null 2>&1; ok $? "mkfs of 100k empty files"
# the bound is 2 s for a release build; an ASan build (make check) gets 8 s
limit=2000
grep -q __asan_init "$CRUMB" && limit=8000
for verb in "ls -R" "ls -lR" du; do
	t=$(ms timeout 60 "$CRUMB" fs $verb wide.ext4:/)
	[ "$t" -lt $limit ]; ok $? "fs $verb of a 100k-entry directory: $t ms (limit $limit)"
done
listed=$("$CRUMB" fs ls -R wide.ext4:/ | grep -c "^f0")
is "$listed" 100000 "... every entry listed"
"$CRUMB" fs ls -l wide.ext4:/d/f000001 | grep -q '^-rw-r--r--  *2 '; ok $? "... hard links kept"
# an archive is read whole into memory first: 40k names (0.5 s release, ~5 s under ASan)
[ $limit -gt 2000 ] && limit=15000
for verb in "ls -lR" du; do
	t=$(ms timeout 120 "$CRUMB" fs $verb w40k.cpio:/)
	[ "$t" -lt $limit ]; ok $? "fs $verb of a cpio of 40k names: $t ms (limit $limit)"
done
"$CRUMB" fs ls -l w40k.cpio:/d/f039999 | grep -q '^-rw-r--r--  *2 '; ok $? "... link counts right"
done_testing
