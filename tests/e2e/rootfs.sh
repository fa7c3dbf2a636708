# tests/e2e/rootfs.sh: `crumb run --rootfs`: a packed cpio boots as the initramfs, an ext4 image
# as the root disk (a snapshot: the file is unchanged after the run).
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/rootfs
mkdir -p "$T/tree"
run() { "$CRUMB" run -q --kernel "$KERNEL" "$@"; }
script='read r < /proc/cmdline; case "$r" in *root=/dev/vda*) echo disk;; *) echo initramfs;; esac; echo hi > /x; read x < /x; echo "$x"; exit 5'

"$CRUMB" pack --exec /bin/sh -o "$T/sh.cpio.gz" -- -c "$script"; ok $? "pack a shell script image"
out=$(run --rootfs "$T/sh.cpio.gz"); r=$?
is "$r" 5 "--rootfs CPIO: the program's exit status"
is "$out" "$(printf 'initramfs\nhi')" "--rootfs CPIO: booted as the initramfs, root writable"

# An ext4 image of the same tree (cpio(1) cannot make /dev/console unprivileged; a disk
# root does not need it: the kernel mounts devtmpfs on /dev itself).
(cd "$T/tree" && gzip -dc "$T/sh.cpio.gz" | cpio -id --quiet 2>/dev/null)
mke2fs -q -F -t ext4 -d "$T/tree" "$T/sh.ext4" 32M >/dev/null; ok $? "mke2fs -d makes an ext4 of it"
sum=$(md5sum <"$T/sh.ext4")
out=$(run --rootfs "$T/sh.ext4"); r=$?
is "$r" 5 "--rootfs EXT4: the program's exit status"
is "$out" "$(printf 'disk\nhi')" "--rootfs EXT4: root is /dev/vda, writable"
is "$(md5sum <"$T/sh.ext4")" "$sum" "... and the image file is unchanged (snapshot)"

run --rootfs "$T/missing.ext4" 2>"$T/err"; is $? 125 "--rootfs of a missing file exits 125"
check "... one-line error" one_line_error "$T/err"
echo "not an archive" >"$T/junk"
run --rootfs "$T/junk" 2>"$T/err"; is $? 125 "--rootfs of junk exits 125"
check "... one-line error" one_line_error "$T/err"
run --rootfs "$T/sh.cpio.gz" --exec /bin/true 2>"$T/err"; is $? 125 "--rootfs with --exec is a usage error"
done_testing
