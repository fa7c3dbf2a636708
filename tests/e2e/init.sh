# tests/e2e/init.sh: crumb-init's protocol in real boots, QEMU command lines built by hand: config
# channels (config disk, fw_cfg, the root's file), user, build mode, volumes (ext4, 9p), the
# control port's stop, SIGTERM, ready, restart, tty. Markers are checked as the host sees them.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/init
mkdir -p "$T"
QEMU=${CRUMB_QEMU:-qemu-system-x86_64}
BB=/bin/busybox # static: no closure to think about
export PATH="$PATH:/usr/sbin:/sbin"

# confdisk CONF OUT: the config disk format of src/init/config.h (header, bytes, zero padding).
confdisk() {
	{ printf 'crumb-init-config %d\n' "$(wc -c <"$1")"; cat "$1"; } >"$2"
	pad=$(( (512 - $(wc -c <"$2") % 512) % 512 ))
	head -c "$pad" /dev/zero >>"$2"
}
# drive ID FILE [ro]: a virtio-blk disk's QEMU arguments.
drive() { echo "-drive file=$2,format=raw,if=none,id=$1${3:+,readonly=on} -device virtio-blk-device,drive=$1"; }
# boot NAME APPEND QEMU-ARGS...: boots under TCG; the console goes to $T/NAME.raw, and to
# $T/NAME.out with each marker on a line of its own; $T/NAME.m lists the markers without times.
boot() {
	name=$1 append=$2
	shift 2
	timeout 120 "$QEMU" -M microvm,accel=tcg,acpi=off -m 256 -smp 1 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot -device virtio-rng-device -kernel "$KERNEL" \
		-append "console=ttyS0 reboot=t panic=-1 quiet $append" "$@" >"$T/$name.raw" 2>"$T/$name.err"
	qrc=$?
	post "$name"
	return $qrc
}
post() {
	tr '\002\003' '\n\n' <"$T/$1.raw" | tr -d '\r' >"$T/$1.out"
	sed -n 's/^crumb:\([a-z]*\) [0-9]*\.[0-9]\{6\}\(.*\)$/\1\2/p' "$T/$1.out" >"$T/$1.m"
}
pack() { # OUT ARGS...: an initramfs around busybox (the root's config: echo from-root)
	out=$1
	shift
	"$CRUMB" pack --compress none --exec $BB -o "$out" "$@" -- sh -c 'echo from-root'
}
initrd_append="rdinit=/sbin/crumb-init"

# --- A service: config disk over the root's file, user, groups, HOME, TERM, ext4 + 9p volumes, rng.
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n' >"$T/passwd"
printf 'root:x:0:\nalice:x:1000:\nstaff:x:50:bob,alice\nwheel:x:10:carol\n' >"$T/group"
pack "$T/a.cpio" --add "$T/passwd:/etc/passwd" --add "$T/group:/etc/group" 2>"$T/pack.err"
ok $? "crumb pack makes a busybox initramfs"
mkdir -p "$T/vol" "$T/share"
echo hello-9p >"$T/share/hello"
"$CRUMB" mkfs --owner 1000:1000 --size 8M "$T/vol" "$T/vol.ext4" >/dev/null
cat >"$T/a.conf" <<'EOF'
crumb-init 1
arg /bin/busybox
arg sh
arg -c
arg echo from-disk; id; echo "HOME=$HOME TERM=$TERM"; echo "rng $(cat /sys/class/misc/hw_random/rng_current) $(cat /proc/sys/kernel/random/entropy_avail)"; echo written >"/data/my vol/f" && echo wrote; cat /share/hello; touch /share/x 2>/dev/null || echo share-ro; hostname; cat /etc/hosts
env PATH=/bin
user alice
term xterm-test
hostname svc-a
mount ext4 /dev/vda /data/my\x20vol rw,noatime
mount 9p share /share ro
host 10.1.2.3 db.local
host ::1 v6.example-host
EOF
confdisk "$T/a.conf" "$T/a.img"
boot a "$initrd_append" -initrd "$T/a.cpio" $(drive vol "$T/vol.ext4") $(drive cfg "$T/a.img" ro) \
	-fsdev local,id=fs0,path="$T/share",security_model=none,readonly=on \
	-device virtio-9p-device,fsdev=fs0,mount_tag=share
is "$(cat "$T/a.m")" "$(printf 'init\nexec\nexit 0')" "A: markers init, exec, exit 0"
grep -qx from-disk "$T/a.out" && ! grep -q from-root "$T/a.out"
ok $? "A: the config disk replaces the root's config"
grep -qx 'uid=1000(alice) gid=1000(alice) groups=50(staff),1000(alice)' "$T/a.out" ||
	grep -qx 'uid=1000(alice) gid=1000(alice) groups=1000(alice),50(staff)' "$T/a.out"
ok $? "A: user alice runs with her primary group and staff from /etc/group"
grep -qx 'HOME=/home/alice TERM=xterm-test' "$T/a.out"
ok $? "A: HOME from passwd, TERM from term"
grep -qx 'rng virtio_rng.0 256' "$T/a.out"
ok $? "A: the kernel's RNG is fed by virtio-rng (entropy_avail 256)"
grep -qx wrote "$T/a.out" && grep -qx hello-9p "$T/a.out" && grep -qx share-ro "$T/a.out"
ok $? "A: ext4 volume written (as alice, path with a space), 9p share read-only"
grep -qx svc-a "$T/a.out"
ok $? "A: hostname"
grep -q '^127\.0\.0\.1.localhost' "$T/a.out" && grep -qx "$(printf '10.1.2.3\tdb.local')" "$T/a.out" &&
	grep -qx "$(printf '::1\tv6.example-host')" "$T/a.out"
ok $? "A: host lines appended to the root's /etc/hosts"
e2fsck -fn "$T/vol.ext4" >"$T/a.fsck" 2>&1
ok $? "A: the volume is clean after power-off (e2fsck -fn)"
is "$("$CRUMB" fs cat "$T/vol.ext4:/f" 2>&1)" "written" "A: the file written in the VM is on the volume"
grep -v '^crumb:\|reboot: Restarting' "$T/a.out" | grep -q 'crumb-init:'
[ $? -ne 0 ]; ok $? "A: no crumb-init warnings"

# --- B build mode on a disk root: steps, users, workdir, stop at the first failure, persistence.
R=$T/broot
mkdir -p "$R/bin" "$R/sbin" "$R/etc" "$R/tmp"
chmod 1777 "$R/tmp"
cp $BB "$R/bin/busybox"
cp "$CRUMB_INIT" "$R/sbin/crumb-init"
cp "$T/passwd" "$R/etc/passwd"
cp "$T/group" "$R/etc/group"
"$CRUMB" mkfs --size 16M "$R" "$T/b.ext4" >/dev/null
cat >"$T/b.conf" <<'EOF'
crumb-init 1
mode build
hostname builder
host 10.1.2.3 db.local
step 1/3 RUN as root
arg /bin/busybox
arg sh
arg -c
arg echo "step1 $(hostname)" >/tmp/s1; mkdir -p /home/alice && chown alice /home/alice; [ -e /etc/resolv.conf ] && echo has-resolv; grep -q "^10.1.2.3.db.local$" /etc/hosts && echo sees-host; echo 1.1.1.1 step-wrote >>/etc/hosts; (sleep 1000 &); echo one
env PATH=/bin
step 2/3 RUN as alice
arg /bin/busybox
arg sh
arg -c
arg id -u; pwd; echo "$HOME"; echo x >/tmp/alice; read line || echo stdin-null; exit 3
user alice
workdir /home/alice/new dir
step 3/3 never
arg /bin/busybox
arg touch
arg /never
EOF
confdisk "$T/b.conf" "$T/b.img"
boot b "root=/dev/vda rootfstype=ext4 init=/sbin/crumb-init" $(drive root "$T/b.ext4") $(drive cfg "$T/b.img" ro) \
	-netdev user,id=n0 -device virtio-net-device,netdev=n0
is "$(cat "$T/b.m")" "$(printf 'init\nexec\nstep 1 0 1/3 RUN as root\nstep 2 3 2/3 RUN as alice\nexit 3')" \
	"B: step markers with index, status, label; stops at the failed step; exit 3"
grep -qx one "$T/b.out" && grep -qx has-resolv "$T/b.out"
ok $? "B: step 1 ran as root with a resolv.conf (network)"
is "$(sed -n '/^crumb:step [0-9.]* 1 0 /,/^crumb:step/p' "$T/b.out" | sed '1d;$d')" "$(printf '1000\n/home/alice/new dir\n/home/alice\nstdin-null')" \
	"B: step 2 as alice, in its created workdir, HOME from passwd, stdin /dev/null"
e2fsck -fn "$T/b.ext4" >"$T/b.fsck" 2>&1
ok $? "B: the root disk is clean after the build (e2fsck -fn)"
is "$("$CRUMB" fs cat "$T/b.ext4:/tmp/s1")" "step1 builder" "B: /tmp is not a tmpfs: step 1's file persists"
is "$("$CRUMB" fs cat "$T/b.ext4:/tmp/alice")" "x" "B: a failed step's writes persist too"
"$CRUMB" fs cat "$T/b.ext4:/never" >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "B: the step after the failure never ran"
"$CRUMB" fs cat "$T/b.ext4:/etc/resolv.conf" >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "B: the build's resolv.conf is not left in the image"
grep -qx sees-host "$T/b.out"
ok $? "B: a step sees the host line in /etc/hosts"
"$CRUMB" fs ls "$T/b.ext4:/etc" >"$T/b.etc" 2>&1 && ! grep -q hosts "$T/b.etc"
ok $? "B: the hosts file made for the build (the root had none) is not left on the disk"
"$CRUMB" fs ls "$T/b.ext4:/home/alice" | grep -qx 'new dir'
ok $? "B: the workdir was created"

# --- C control port: ready marker once the service listens, then "stop": TERM to the group,
# the service traps it and exits 7.
pack "$T/c.cpio" 2>/dev/null
cat >"$T/c.conf" <<'EOF'
crumb-init 1
arg /bin/busybox
arg sh
arg -c
arg trap 'echo trapped; exit 7' TERM; busybox sleep 0.3; busybox httpd -p 8080 -h /; busybox httpd -p 9090 -h /; while :; do busybox sleep 0.1; done
ready 8080
ready 9090
stop_timeout 30
EOF
confdisk "$T/c.conf" "$T/c.img"
rm -f "$T/ctl.sock"
timeout 120 "$QEMU" -M microvm,accel=tcg,acpi=off -m 256 -smp 1 -nodefaults -no-user-config \
	-display none -serial stdio -no-reboot -device virtio-rng-device -kernel "$KERNEL" \
	-append "console=ttyS0 reboot=t panic=-1 quiet $initrd_append" -initrd "$T/c.cpio" $(drive cfg "$T/c.img" ro) \
	-netdev user,id=n0 -device virtio-net-device,netdev=n0 \
	-device virtio-serial-device -chardev socket,id=crumbctl,path="$T/ctl.sock",server=on,wait=off \
	-device virtserialport,chardev=crumbctl,name=crumb.ctl >"$T/c.raw" 2>"$T/c.err" &
qpid=$!
i=0
until grep -q 'crumb:ready' "$T/c.raw" 2>/dev/null || [ $i -ge 600 ] || ! kill -0 $qpid 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"stop\n"); s.close()' "$T/ctl.sock"
ok $? "C: the host connects to the control socket and sends stop"
wait $qpid
post c
is "$(cat "$T/c.m")" "$(printf 'init\nexec\nready 8080 9090\nstopping ctl\nexit 7')" \
	"C: ready once both ports listen, stopping on the request, exit with the service's status"
grep -qx trapped "$T/c.out"
ok $? "C: the service got SIGTERM (stop_signal) and trapped it"

# --- D restart on-failure, then SIGTERM to init: stop_timeout, SIGKILL, the exit status.
pack "$T/d.cpio" 2>/dev/null
cat >"$T/d.conf" <<'EOF'
crumb-init 1
arg /bin/busybox
arg sh
arg -c
arg n=$(cat /run/n 2>/dev/null || echo 0); n=$((n + 1)); echo $n >/run/n; echo "run $n"; [ $n -lt 3 ] && exit 5; trap '' TERM; kill -TERM 1; while :; do busybox sleep 1; done
restart on-failure
stop_timeout 1
EOF
confdisk "$T/d.conf" "$T/d.img"
boot d "$initrd_append" -initrd "$T/d.cpio" $(drive cfg "$T/d.img" ro)
is "$(cat "$T/d.m")" "$(printf 'init\nexec\nrestart 1 5\nrestart 2 5\nstopping SIGTERM\nexit 137')" \
	"D: two restarts after exit 5, SIGTERM to init stops it, ignored TERM ends in SIGKILL (137)"
is "$(grep -c '^run [123]$' "$T/d.out")" 3 "D: the service ran three times"

# --- E tty: a controlling terminal in cooked mode with the window size, stdin from the host.
pack "$T/e.cpio" 2>/dev/null
cat >"$T/e.conf" <<'EOF'
crumb-init 1
arg /bin/busybox
arg sh
arg -c
arg stty size; tty; echo "TERM=$TERM"; stty -a | busybox tr ' ;' '\n\n' | busybox grep -x -e icanon -e echo -e isig | busybox sort | busybox tr '\n' ' '; echo; read x; echo "got:$x"; set -- $(cat /proc/self/stat); echo "ctty $7"
tty 1
term vt220
rows 33
cols 101
EOF
confdisk "$T/e.conf" "$T/e.img"
# Input sent before the guest's UART is set up is lost, as on real hardware: wait for exec.
{
	i=0
	until grep -q 'crumb:exec' "$T/e.raw" 2>/dev/null || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
	printf 'hello\n'
} | boot e "$initrd_append" -initrd "$T/e.cpio" $(drive cfg "$T/e.img" ro)
is "$(cat "$T/e.m")" "$(printf 'init\nexec\nexit 0')" "E: boots and exits 0"
grep -qx '33 101' "$T/e.out" && grep -qx '/dev/ttyS0' "$T/e.out" && grep -qx 'TERM=vt220' "$T/e.out"
ok $? "E: window size, the console's own tty, TERM"
grep -qx 'echo icanon isig ' "$T/e.out"
ok $? "E: cooked mode (icanon, echo, isig)"
grep -qx 'got:hello' "$T/e.out"
ok $? "E: the service reads the host's input"
grep -q '^ctty [1-9]' "$T/e.out"
ok $? "E: the console is the service's controlling terminal"
grep -q "$(printf 'got:hello\r$')" "$T/e.raw"
ok $? "E: output is post-processed (LF to CR LF) like a terminal"

# --- F errors: an unknown user; no config anywhere.
printf 'crumb-init 1\narg /bin/busybox\narg true\nuser nosuchuser\n' >"$T/f.conf"
confdisk "$T/f.conf" "$T/f.img"
boot f1 "$initrd_append" -initrd "$T/c.cpio" $(drive cfg "$T/f.img" ro)
is "$(cat "$T/f1.m")" "$(printf 'init\nerror user nosuchuser: no such user in /etc/passwd')" "F: an unknown user is an error marker"
mkdir -p "$T/noconf/sbin" "$T/noconf/dev"
cp "$CRUMB_INIT" "$T/noconf/sbin/crumb-init"
"$CRUMB" mkfs -t cpio "$T/noconf" "$T/noconf.cpio" >/dev/null
boot f2 "$initrd_append" -initrd "$T/noconf.cpio"
grep -q "^error no config: no fw_cfg opt/crumb/init.conf, no config disk, /etc/crumb/init.conf: No such file or directory" "$T/f2.m"
ok $? "F: no config anywhere is an error marker"

# --- G fw_cfg: only with a kernel that has ioperm(2) (CONFIG_X86_IOPL_IOPERM).
kconfig=$(dirname "$KERNEL")/config
if grep -qx 'CONFIG_X86_IOPL_IOPERM=y' "$kconfig" 2>/dev/null; then
	printf 'crumb-init 1\narg /bin/busybox\narg echo\narg from-fw-cfg\n' >"$T/g.conf"
	boot g "$initrd_append" -initrd "$T/c.cpio" $(drive cfg "$T/a.img" ro) -fw_cfg name=opt/crumb/init.conf,file="$T/g.conf"
	grep -qx from-fw-cfg "$T/g.out" && ! grep -q 'from-disk\|from-root' "$T/g.out"
	ok $? "G: fw_cfg's config wins over the config disk and the root's file"
else
	skip "G: fw_cfg config" "the kernel has no CONFIG_X86_IOPL_IOPERM (ioperm)"
fi
done_testing
