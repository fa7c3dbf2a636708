# tests/tap.sh: TAP helpers sourced by the end-to-end shell tests.
n=0
# ok STATUS DESC: passes when STATUS is 0.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
# check DESC CMD...: passes when CMD succeeds.
check() {
	d=$1
	shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
diag() { echo "# $*" | sed '2,$s/^/# /'; }
done_testing() { echo "1..$n"; }
# one_line_error FILE: FILE holds exactly one line starting "crumb: " and no sanitizer report.
one_line_error() {
	[ "$(wc -l <"$1")" -eq 1 ] && grep -q '^crumb: ' "$1" && ! grep -q 'Sanitizer' "$1"
}
# is GOT WANT DESC
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		diag "got:  '$1'"
		diag "want: '$2'"
	fi
}
# free_port: a TCP port nothing listens on now (127.0.0.1).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# retry SECS CMD...: runs CMD until it succeeds or SECS seconds have passed.
retry() {
	end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.3
	done
}
# in_store NEEDLE: whether NEEDLE is in any file of $CRUMB_HOME: blobs also decompressed (zstd,
# gzip), sparse files (build cache disks) read only where they hold data.
in_store() {
	python3 - "$CRUMB_HOME" "$1" <<'PY'
import os, subprocess, sys
root, needle = sys.argv[1], sys.argv[2].encode()
def data(path):
    with open(path, "rb") as f:
        fd, end, off = f.fileno(), os.fstat(f.fileno()).st_size, 0
        while off < end:
            try:
                off = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                return
            hole = os.lseek(fd, off, os.SEEK_HOLE)
            f.seek(off)
            while off < hole:
                chunk = f.read(min(hole - off, 1 << 24) + len(needle))
                yield chunk
                off += max(1, len(chunk) - len(needle))
                f.seek(off)
for d, _, files in os.walk(root):
    for n in files:
        p = os.path.join(d, n)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        if any(needle in c for c in data(p)):
            sys.exit(0)
        if "/blobs/" in p:
            for z in (["zstd", "-dcq", p], ["gzip", "-dc", p]):
                out = subprocess.run(z, capture_output=True).stdout
                if needle in out:
                    sys.exit(0)
sys.exit(1)
PY
}
# busybox_tar DIR: DIR/busybox.tar, a root filesystem for RUN steps: busybox and its applets'
# links in /bin, root in /etc/passwd and /etc/group; owned by 0:0, dated 0.
busybox_tar() {
	mkdir -p "$1/root/bin" "$1/root/etc"
	cp /bin/busybox "$1/root/bin/busybox"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$1/root/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/root/etc/passwd"
	printf 'root:x:0:\n' >"$1/root/etc/group"
	tar -C "$1/root" --owner=0 --group=0 --mtime=@0 -cf "$1/busybox.tar" .
	rm -rf "$1/root"
}
