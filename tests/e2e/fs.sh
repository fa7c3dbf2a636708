# tests/e2e/fs.sh: `crumb fs` on ext2/ext4 images and cpio archives, checked with debugfs, e2fsck, cpio.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/fs
rm -rf "$T"
mkdir -p "$T/src/etc" "$T/src/bin" "$T/src/empty"
cd "$T" || exit 1

echo myhost >src/etc/hostname
printf 'root:x:0:0::/root:/bin/sh\n' >src/etc/passwd
ln src/etc/passwd src/etc/passwd.hl
ln -s /etc src/evil
head -c 300000 /dev/urandom >src/bin/blob
truncate -s 20M src/sparse && printf tail | dd of=src/sparse bs=1 seek=10485760 conv=notrunc 2>/dev/null
head -c 1048576 /dev/urandom >one.bin
mke2fs -q -F -t ext4 -d src a.ext4 64M >/dev/null
mke2fs -q -F -t ext2 -d src a.ext2 64M >/dev/null
clean() { e2fsck -fn "$1" >"$T/fsck.out" 2>&1; }

for img in a.ext4 a.ext2; do
	out=$("$CRUMB" fs ls "$img:/etc")
	is "$out" "$(printf 'hostname\npasswd\npasswd.hl')" "$img: ls lists sorted names"
	"$CRUMB" fs ls -l "$img:/" >ls.out
	# mke2fs -d keeps the host owner: the user running the tests
	grep -q "^lrwxrwxrwx *1 *$(id -u) *$(id -g) .* evil -> /etc\$" ls.out
	ok $? "$img: ls -l shows the symlink with numeric ids"
	"$CRUMB" fs ls -lR "$img:/" | grep -q ' passwd.hl$'; ok $? "$img: ls -R descends"
	is "$("$CRUMB" fs cat "$img:/etc/hostname")" myhost "$img: cat"
	is "$("$CRUMB" fs cat "$img:/evil/hostname")" myhost "$img: an absolute symlink resolves inside the image"
	is "$("$CRUMB" fs cat "$img:/etc/../../../etc/hostname")" myhost "$img: '..' stops at the image root"
	"$CRUMB" fs stat "$img:/etc/passwd" >stat.out
	grep -q '^ Links: 2$' stat.out && grep -q '^  Mode: 0644$' stat.out
	ok $? "$img: stat shows links and mode"

	"$CRUMB" fs cp one.bin "$img:/etc/one.bin"; ok $? "$img: cp host -> image"
	"$CRUMB" fs cat "$img:/etc/one.bin" | cmp -s - one.bin; ok $? "$img: ... content read back"
	debugfs -R "dump /etc/one.bin $T/dumped" "$img" >/dev/null 2>&1
	cmp -s dumped one.bin; ok $? "$img: ... debugfs dumps the same bytes"
	clean "$img"; ok $? "$img: e2fsck -fn clean after cp"
	"$CRUMB" fs cp -r src/bin "$img:/bin2"; ok $? "$img: cp -r of a host directory"
	"$CRUMB" fs cp "$img:/sparse" "$img:/sparse2"; ok $? "$img: cp image -> image"
	blocks=$(debugfs -R 'stat /sparse2' "$img" 2>/dev/null | sed -n 's/.*Blockcount: \([0-9]*\).*/\1/p')
	[ "${blocks:-99999}" -lt 100 ]; ok $? "$img: ... the sparse file stays sparse ($blocks sectors)"
	"$CRUMB" fs mkdir -p "$img:/a/b/c"; ok $? "$img: mkdir -p"
	"$CRUMB" fs mkdir "$img:/a" 2>err.out; is $? 1 "$img: mkdir of an existing dir fails"
	check "$img: ... one-line error" one_line_error err.out
	"$CRUMB" fs mv "$img:/bin2" "$img:/a/b/c"; ok $? "$img: mv a directory into another"
	debugfs -R 'ls /a/b/c/bin2' "$img" 2>/dev/null | grep -q blob; ok $? "$img: ... debugfs sees it there"
	"$CRUMB" fs ln -s ../etc/hostname "$img:/a/hn"; ok $? "$img: ln -s"
	is "$("$CRUMB" fs cat "$img:/a/hn")" myhost "$img: ... resolves"
	"$CRUMB" fs ln "$img:/etc/hostname" "$img:/hn.hard"; ok $? "$img: ln (hard)"
	"$CRUMB" fs chmod 4755 "$img:/hn.hard" && "$CRUMB" fs chown 1000:50 "$img:/hn.hard"
	ok $? "$img: chmod and chown"
	debugfs -R 'stat /etc/hostname' "$img" 2>/dev/null | grep -q 'Mode:  04755' &&
		debugfs -R 'stat /etc/hostname' "$img" 2>/dev/null | grep -q 'User:  1000   Group:    50'
	ok $? "$img: ... debugfs agrees (through the other name)"
	"$CRUMB" fs rm "$img:/a" 2>err.out; is $? 1 "$img: rm of a directory without -r fails"
	"$CRUMB" fs rm -r "$img:/a" "$img:/sparse2" "$img:/etc/passwd.hl"; ok $? "$img: rm -r"
	clean "$img"; ok $? "$img: e2fsck -fn clean after mkdir/mv/ln/chmod/chown/rm"
	"$CRUMB" fs fsck "$img" >/dev/null; ok $? "$img: crumb fs fsck agrees"
	"$CRUMB" fs du "$img:/bin" | grep -q '^29[0-9]	'; ok $? "$img: du of a 300 KB directory"
done

# image -> host, never through a symlink
mkdir -p out
"$CRUMB" fs cp -r a.ext4: out; ok $? "cp -r IMAGE: DEST copies the whole image out"
[ -L out/evil ] && [ "$(readlink out/evil)" = /etc ]; ok $? "... the symlink arrives as a symlink"
cmp -s out/etc/one.bin one.bin; ok $? "... file content intact"
[ "$(stat -c %h out/etc/hostname)" = 2 ]; ok $? "... hard links stay hard links"
# a second image whose evil is a directory holding passwd: copying it over must not write to /etc
mkdir -p src2/evil && echo pwned >src2/evil/passwd.crumbtest && mke2fs -q -F -t ext4 -d src2 b.ext4 8M >/dev/null
"$CRUMB" fs cp -r b.ext4: out 2>err.out; is $? 1 "copying a directory over a host symlink fails"
[ ! -e /etc/passwd.crumbtest ]; ok $? "... and writes nothing through it"
check "... one-line error" one_line_error err.out
"$CRUMB" fs cp -p a.ext4:/etc/hostname host.copy && [ "$(cat host.copy)" = myhost ]
ok $? "cp -p image -> host file"

# cpio archives
(cd src && find . -mindepth 1 | cpio -o -H newc --quiet) >a.cpio
gzip -c a.cpio >a.cpio.gz
for arc in a.cpio a.cpio.gz; do
	is "$("$CRUMB" fs cat "$arc:/etc/hostname")" myhost "$arc: cat"
	"$CRUMB" fs ls -l "$arc:/etc" | grep -q ' 2 .* passwd$'; ok $? "$arc: ls -l counts hard links"
	"$CRUMB" fs cp one.bin "$arc:/etc/one.bin" && "$CRUMB" fs mkdir "$arc:/newdir" &&
		"$CRUMB" fs rm "$arc:/etc/passwd.hl" && "$CRUMB" fs chmod 700 "$arc:/newdir"
	ok $? "$arc: cp, mkdir, rm, chmod"
	if [ "$arc" = a.cpio.gz ]; then
		gzip -t "$arc"; ok $? "$arc: still gzip"
		list=$(gzip -dc "$arc" | cpio -itv --quiet 2>/dev/null)
	else
		list=$(cpio -itv --quiet <"$arc" 2>/dev/null)
	fi
	echo "$list" | grep -q '^drwx------ .* newdir$'; ok $? "$arc: cpio -itv sees the new directory"
	echo "$list" | grep -q ' 1048576 .* etc/one.bin$'; ok $? "$arc: ... and the new file"
	echo "$list" | grep -q 'passwd.hl'; is $? 1 "$arc: ... and not the removed one"
	"$CRUMB" fs cat "$arc:/etc/one.bin" | cmp -s - one.bin; ok $? "$arc: content read back"
done
"$CRUMB" fs mv a.cpio:/newdir a.cpio:/etc && "$CRUMB" fs ln a.cpio:/etc/passwd a.cpio:/pw &&
	"$CRUMB" fs ln -s etc/passwd a.cpio:/pw.sym
ok $? "cpio: mv, ln, ln -s"
cpio -itv --quiet <a.cpio 2>/dev/null >list.out
grep -q ' etc/newdir$' list.out && grep -q '^-.* 2 .* pw$' list.out && grep -q ' pw.sym -> etc/passwd$' list.out
ok $? "... cpio -itv agrees"
"$CRUMB" fs mv a.cpio:/etc a.cpio:/etc/newdir/x 2>err.out; is $? 1 "cpio: a directory cannot move below itself"
"$CRUMB" fs cp -r a.ext4:/etc a.cpio:/from-ext4; ok $? "cp -r ext4 -> cpio"
cpio -it --quiet <a.cpio 2>/dev/null | grep -qx 'from-ext4/hostname'; ok $? "... cpio lists it"
"$CRUMB" fs cp a.cpio:/etc/one.bin a.ext2:/from-cpio; ok $? "cp cpio -> ext2"
"$CRUMB" fs cat a.ext2:/from-cpio | cmp -s - one.bin; ok $? "... same bytes"
clean a.ext2; ok $? "... e2fsck -fn clean"

# a cpio member named ../../x, written by hand
python3 - "$T/evil.cpio" <<'EOF'
import sys
def member(name, data, mode=0o100644):
    name = name.encode() + b"\0"
    h = b"070701" + b"".join(b"%08X" % v for v in
        (1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0))
    out = h + name
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)
blob = member("../../x-crumbtest", b"escaped\n") + member("TRAILER!!!", b"", 0)
open(sys.argv[1], "wb").write(blob)
EOF
mkdir -p deep/a/b
"$CRUMB" fs cp -r evil.cpio: deep/a/b 2>err.out
[ ! -e deep/x-crumbtest ] && [ ! -e x-crumbtest ]; ok $? "a ../../x cpio member lands nowhere outside DEST"
"$CRUMB" fs ls evil.cpio: >ls.out 2>&1; ok $? "... and lists inside the archive"

# hostile images
cp a.ext4 bad.ext4 && printf '\0\0' | dd of=bad.ext4 bs=1 seek=1080 conv=notrunc 2>/dev/null
"$CRUMB" fs ls bad.ext4:/ 2>err.out; is $? 1 "zeroed superblock magic: fails"
check "... one-line error" one_line_error err.out
cp a.ext4 bad.ext4 && truncate -s 32M bad.ext4
"$CRUMB" fs ls bad.ext4:/ 2>err.out; is $? 1 "truncated image: fails"
check "... one-line error" one_line_error err.out
grep -q truncated err.out; ok $? "... saying so"
cp a.ext4 bad.ext4 && debugfs -w -R 'link /etc /etc/loop' bad.ext4 >/dev/null 2>&1
"$CRUMB" fs cp -r bad.ext4: loopout 2>err.out; is $? 1 "a directory loop: refused"
check "... one-line error" one_line_error err.out
"$CRUMB" fs fsck bad.ext4 >fsck.out 2>&1; is $? 1 "fsck reports the loop image"
cp a.ext4 bad.ext4 && debugfs -w -R 'sif /etc/hostname size 0x1000000000000000' bad.ext4 >/dev/null 2>&1
"$CRUMB" fs cp bad.ext4:/etc/hostname huge.out 2>err.out; is $? 1 "a 2^60-byte sparse claim: refused"
check "... one-line error" one_line_error err.out
[ ! -e huge.out ]; ok $? "... nothing written"
cp a.ext4 bad.ext4 && debugfs -w -R 'sif /bin/blob block[5] 99999999' bad.ext4 >/dev/null 2>&1
"$CRUMB" fs cat bad.ext4:/bin/blob >/dev/null 2>err.out; is $? 1 "a bad block number: fails"
check "... one-line error" one_line_error err.out
"$CRUMB" fs ls nosuch.img:/ 2>err.out; is $? 1 "a missing image (treated as a host path) is an error"

"$CRUMB" fs --help | grep -q 'IMAGE:PATH'; ok $? "crumb fs --help"
"$CRUMB" help fs | grep -q 'fsck IMAGE'; ok $? "crumb help fs"
"$CRUMB" fs frobnicate 2>/dev/null; is $? 2 "an unknown verb is a usage error"
"$CRUMB" fs ls -z a.ext4: 2>/dev/null; is $? 2 "an unknown option is a usage error"
done_testing
