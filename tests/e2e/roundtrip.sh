# tests/e2e/roundtrip.sh: images made by crumb round-trip and boot: directory -> ext4 -> cpio ->
# ext4 gives the same bytes; a crumb-made ext4 is the root of a microVM, a crumb cpio its initramfs.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/roundtrip
D=$T/dir
mkdir -p "$D/etc" "$D/bin" "$D/empty" "$D/deep/a/b/c"
printf 'hello\n' >"$D/etc/motd"
printf '#!/bin/sh\necho hi\n' >"$D/bin/tool"; chmod 4755 "$D/bin/tool"
: >"$D/etc/empty-file"
ln "$D/etc/motd" "$D/etc/motd.link"
ln -s ../etc/motd "$D/bin/short"
ln -s "/$(printf 'x%.0s' $(seq 1 120))/target" "$D/bin/long"
mkfifo "$D/fifo"
dd if=/dev/zero of="$D/sparse" bs=1 count=0 seek=4M 2>/dev/null
printf 'tail' >>"$D/sparse"
head -c 300000 /dev/urandom >"$D/deep/a/b/c/blob"
chmod 1777 "$D/empty"
printf '/dev d 755 0 0 - - - - -\n/dev/null c 666 0 0 1 3 - - -\n' >"$T/devs"

# Sizes are given: newc has no holes, so an automatic size computed from the
# cpio would count the sparse file in full (the writer still makes zero blocks holes).
"$CRUMB" mkfs -t ext4 --size 16M --device-table "$T/devs" "$D" "$T/a.ext4"; ok $? "directory -> ext4"
e2fsck -fn "$T/a.ext4" >/dev/null 2>&1; ok $? "... e2fsck -fn is clean"
for z in none gzip zstd; do
	"$CRUMB" mkfs -t cpio --compress $z "$T/a.ext4" "$T/b.$z.cpio"; ok $? "ext4 -> cpio ($z)"
	"$CRUMB" mkfs -t ext4 --size 16M "$T/b.$z.cpio" "$T/c.$z.ext4"; ok $? "cpio ($z) -> ext4"
	cmp -s "$T/a.ext4" "$T/c.$z.ext4"; ok $? "directory -> ext4 -> cpio ($z) -> ext4 is byte-identical"
done
cpio -itv --numeric-uid-gid <"$T/b.none.cpio" 2>/dev/null >"$T/list"
grep -q '^crw-rw-rw- .* 1, *3 .* dev/null$' "$T/list"; ok $? "the device from the table is in the cpio"
grep -q '^prw.* fifo$' "$T/list"; ok $? "the FIFO is in the cpio"
grep -q '^-rwsr-xr-x .* bin/tool$' "$T/list"; ok $? "setuid survives"
debugfs -R 'stat /sparse' "$T/c.none.ext4" 2>/dev/null | grep -Eq 'Blockcount: (8|16)$'
ok $? "the sparse file is sparse again after the trip through cpio"

# Boots: a crumb cpio is the initramfs (run --exec does that); a crumb ext4 is the root disk.
script='read r < /proc/cmdline; case "$r" in *root=/dev/vda*) echo disk;; esac; read m < /etc/motd; echo "$m"; exit 3'
"$CRUMB" pack --exec /bin/sh --add "$D/etc/motd:/etc/motd" -o "$T/p.cpio.gz" -- -c "$script"
"$CRUMB" mkfs -t ext4 "$T/p.cpio.gz" "$T/p.ext4"; ok $? "crumb mkfs makes an ext4 from a packed cpio"
out=$("$CRUMB" run -q --kernel "$KERNEL" --rootfs "$T/p.ext4"); r=$?
is "$r" 3 "a crumb-made ext4 boots as the root disk: exit status"
is "$out" "$(printf 'disk\nhello')" "... output, read from the disk"
done_testing
