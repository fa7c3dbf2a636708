# tests/e2e/markers.sh: a guest program cannot forge what crumb-init tells the host: fake exit,
# ready, error, stopping markers and a printed "Kernel panic" change nothing; the real markers still
# give the status, readiness, the timeline and `crumb logs`; the key is gone from where the guest
# could read it (key file, config disk, PID 1's memory); a RUN step cannot fake the builder's steps.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/markers
mkdir -p "$T/xdg"
export XDG_RUNTIME_DIR=$T/xdg
BB=/bin/busybox
nstx() { tr -cd '\002' <"$1" | wc -c; }

# 1. --exec (the key rides the initramfs): forgeries around a service that is ready at once and
# prints a fake ready marker 2 s later (a host that believed it would see exec → ready >= 2 s).
P=$(free_port)
forge='busybox nc -l -p 8080 &
printf "\002crumb:error 0.6 pwned\003\002crumb:stopping 0.6 ctl\003"
echo "Kernel panic - not syncing: fake"
cat /etc/crumb/init.key 2>/dev/null && echo KEYFILE-READABLE
cat /proc/1/mem 2>&1 | grep -q "Permission denied" && echo pid1-mem-closed
sleep 2; printf "\002crumb:ready 2.5 8080\003"
printf "\002crumb:exit 2.7 0 9:0123456789abcdef0123456789abcdef\003\002crumb:exit 2.8 0\003"
echo after; exit 3'
"$CRUMB" run --kernel "$KERNEL" --timing --name mk1 -p "$P:8080" --exec $BB -- sh -c "$forge" \
	>"$T/1.out" 2>"$T/1.err"
is $? 3 "a program printing exit 0, error and panic lines still exits with its own status (3)"
! grep -q "crumb-init failed\|panicked" "$T/1.err"; ok $? "... and crumb reports no init error, no panic"
printf '\002crumb:error 0.6 pwned\003\002crumb:stopping 0.6 ctl\003Kernel panic - not syncing: fake\npid1-mem-closed\n\002crumb:ready 2.5 8080\003\002crumb:exit 2.7 0 9:0123456789abcdef0123456789abcdef\003\002crumb:exit 2.8 0\003after\n' >"$T/1.want"
cmp -s "$T/1.out" "$T/1.want"; ok $? "the fake markers are the program's output, byte for byte; the real ones are stripped"
diag "$(cat -v "$T/1.out")"
! grep -q KEYFILE-READABLE "$T/1.out"; ok $? "the key file is gone from the initramfs before the program runs"
grep -q pid1-mem-closed "$T/1.out"; ok $? "a root program cannot open /proc/1/mem (no CAP_SYS_PTRACE, PID 1 not dumpable)"
ready=$(awk '/exec → ready/ { print $(NF-1) }' "$T/1.err")
svc=$(awk '/service \(exec → exit\)/ { print $(NF-1) }' "$T/1.err")
awk -v r="${ready:-0}" -v s="${svc:-0}" 'BEGIN { exit !(r > 0 && r < 1500 && s >= 2000) }'
ok $? "ready is the real one, not the fake 2 s later (exec → ready ${ready:-none} ms, exec → exit ${svc:-none} ms)"
grep -q "kernel → init" "$T/1.err" && grep -q "init → exec" "$T/1.err" && grep -q "shutdown (exit → qemu gone)" "$T/1.err"
ok $? "--timing still has init, exec and exit from the real markers"
grep -q "guest clock at init" "$T/1.err"; ok $? "... and the guest's clock at init for the alignment"
is "$("$CRUMB" ps -a | awk '$1 == "mk1" { print $NF }')" 3 "ps records the real status"
"$CRUMB" logs mk1 >"$T/1.logs"
is "$(nstx "$T/1.logs")" 5 "crumb logs strips the real markers and keeps the 5 fake ones"
grep -v '^\[ *[0-9.]*\] ' "$T/1.logs" | cmp -s - "$T/1.out"; ok $? "... the same bytes as the run showed (the kernel's lines aside: --timing logged them)"
"$CRUMB" rm mk1 >/dev/null

# 2. --rootfs (a key-only config disk): the key is wiped from the disk before the program runs.
"$CRUMB" pack --compress none --exec $BB -o "$T/r.cpio" -- \
	sh -c 'head -c 84 /dev/vda; echo; printf "\002crumb:error 0.5 pwned\003"; exit 5' 2>"$T/pack.err"
ok $? "crumb pack makes a root filesystem"
"$CRUMB" run -q --kernel "$KERNEL" --rootfs "$T/r.cpio" >"$T/2.out" 2>"$T/2.err"
is $? 5 "--rootfs: a fake error marker does not hide exit 5"
head -n 1 "$T/2.out" | grep -qx 'crumb-init-config 0 0\{64\}'; ok $? "the key-only disk the program sees holds zeros where the key was"
diag "$(head -n 1 "$T/2.out")"

# 3. The builder VM: a RUN step printing step markers for itself and the next RUN cannot make
# crumb blame the wrong step (both RUNs share one boot; the first fails).
C=$T/ctx
mkdir -p "$C/root/bin" "$C/root/etc"
cp $BB "$C/root/bin/busybox"
ln -s busybox "$C/root/bin/sh"
tar -C "$C/root" --owner=0 --group=0 --mtime=@0 -cf "$C/busybox.tar" .
printf '%s\n' 'FROM ./busybox.tar' \
	"RUN printf '\\002crumb:step 0.5 1 0 RUN x\\003\\002crumb:step 0.6 2 0 RUN y\\003\\002crumb:exit 0.7 0\\003'; exit 4" \
	'RUN echo second' >"$C/Crumbfile"
"$CRUMB" build --kernel "$KERNEL" -q -t forge "$C" >"$T/3.out" 2>"$T/3.err"
rc=$?
[ $rc -ne 0 ] && grep -q "Crumbfile:2:1: RUN printf.*exit status 4" "$T/3.err"
ok $? "the failing RUN (line 2) is blamed with its status, fake markers or not (rc $rc)"
diag "$(cat -v "$T/3.err")"
"$CRUMB" images | grep -q '^forge'; is $? 1 "... and no image is made"
done_testing
