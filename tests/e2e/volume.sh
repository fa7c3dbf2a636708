# tests/e2e/volume.sh: -v: named ext4 volumes made on demand and kept across runs, an existing
# ext4 image, host directories over 9p (read-only refused writes, read-write visible on the host),
# volumes after an ext4 root disk, `crumb volume`, and malformed -v values.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/volume
mkdir -p "$T/xdg"
export XDG_RUNTIME_DIR=$T/xdg
BB=/bin/busybox
r() { "$CRUMB" run -q --kernel "$KERNEL" "$@"; }
V=$CRUMB_HOME/volumes

# A named volume: made on first use, an ext4 image that e2fsck finds clean, kept across runs.
out=$(r -v vdata:/data --exec $BB -- sh -c 'echo kept > /data/f; mount | grep " /data "')
echo "$out" | grep -q '^/dev/vda on /data type ext4 (rw'; ok $? "a named volume is mounted read-write at /data"
[ -f "$V/vdata.ext4" ]; ok $? "... made as $V/vdata.ext4"
is "$(stat -c %s "$V/vdata.ext4")" 1073741824 "... 1 GiB"
[ "$(du -k "$V/vdata.ext4" | cut -f1)" -lt 65536 ]; ok $? "... sparse (under 64 MiB on the host)"
e2fsck -fn "$V/vdata.ext4" >"$T/fsck" 2>&1; ok $? "... and e2fsck -fn finds it clean after the run"
is "$(r -v vdata:/data --exec $BB -- cat /data/f)" kept "the next run sees the file"
is "$("$CRUMB" fs cat "$V/vdata.ext4:/f")" kept "crumb fs reads it on the host"
is "$(r -v vdata:/data:ro --exec $BB -- sh -c 'cat /data/f; (echo x > /data/g) 2>/dev/null || echo refused')" \
	"$(printf 'kept\nrefused')" ":ro mounts it read-only"

# An ext4 image file, two volumes in order.
mkdir -p "$T/img"
echo from-image >"$T/img/hello"
"$CRUMB" mkfs -t ext4 "$T/img" "$T/disk.ext4" >/dev/null
out=$(r -v "$T/disk.ext4:/a" -v vdata:/b --exec $BB -- sh -c 'cat /a/hello /b/f; echo new > /a/w')
is "$out" "$(printf 'from-image\nkept')" "-v FILE.ext4 and a named volume side by side"
is "$("$CRUMB" fs cat "$T/disk.ext4:/w")" new "-v FILE.ext4 is read-write: the write is in the file"

# Host directories over 9p.
mkdir -p "$T/share"
echo host-file >"$T/share/h.txt"
out=$(r -v "$T/share:/mnt:ro" --exec $BB -- sh -c 'cat /mnt/h.txt; (echo x > /mnt/new) 2>/dev/null; echo "w=$?"')
is "$out" "$(printf 'host-file\nw=1')" "-v HOSTDIR:/mnt:ro shows the host's file and refuses writes"
[ ! -e "$T/share/new" ]; ok $? "... nothing written on the host"
r -v "$T/share:/mnt" --exec $BB -- sh -c 'echo from-guest > /mnt/g.txt' >/dev/null
is "$(cat "$T/share/g.txt" 2>/dev/null)" from-guest "-v HOSTDIR:/mnt (rw): a file written in the guest appears on the host"

# An ext4 root disk: volumes come after it (/dev/vdb).
"$CRUMB" pack --exec $BB -o "$T/bb.cpio" -- true >/dev/null
"$CRUMB" mkfs -t ext4 "$T/bb.cpio" "$T/root.ext4" >/dev/null
"$CRUMB" import -t volroot --kernel "$KERNEL" --rootfs "$T/root.ext4" --entrypoint $BB --cmd true >/dev/null
out=$(r -v vdata:/data volroot sh -c 'cat /data/f; mount | grep " /data " | cut -d" " -f1')
is "$out" "$(printf 'kept\n/dev/vdb')" "with an ext4 root, the volume is /dev/vdb"

# crumb volume
"$CRUMB" volume ls | grep -q "^vdata	"; ok $? "volume ls lists vdata"
is "$("$CRUMB" volume rm vdata)" vdata "volume rm"
[ ! -e "$V/vdata.ext4" ]; ok $? "... deletes the image"
"$CRUMB" volume rm vdata 2>"$T/err"; is $? 1 "volume rm of a missing volume fails"
check "... in one line" one_line_error "$T/err"

# Malformed -v: one-line errors before anything boots.
for bad in "vdata" "vdata:data" "vdata:/" "vdata:/x:rx" "/no/such/dir:/x" "b@d:/x" "/etc/passwd:/x"; do
	r -v "$bad" --exec $BB -- true 2>"$T/err"
	rc=$?
	one_line_error "$T/err"
	is "$rc:$?" "125:0" "-v $bad: exit 125, one-line error"
done
ls "$XDG_RUNTIME_DIR/crumb/vms" | grep -q .; is $? 1 "no state directory left"
done_testing
