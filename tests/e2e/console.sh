# tests/e2e/console.sh: the fast console (a virtio-serial port crumb-init relays the service's
# stdout and stderr to; the UART keeps the kernel's lines): big output byte for byte, stdout and
# stderr in order, nothing lost before the exit marker to a slow reader, markers from the service
# ignored, a panic after service output reported, -i input, and the UART paths (CRUMB_CONSOLE=uart,
# and crumb-init's fallback when the port is missing).
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/console
mkdir -p "$T"
BB=/bin/busybox
run() { "$CRUMB" run -q --kernel "$KERNEL" "$@"; }

# 1. 20 MB of random bytes (every byte value, framing bytes included), then its sha256 as the
# guest computed it: the host's copy must hash the same.
run -m 256M --exec $BB -- sh -c 'head -c 20000000 /dev/urandom >/tmp/r; cat /tmp/r
	sha256sum </tmp/r | cut -c1-64' >"$T/big" 2>"$T/big.err"
is $? 0 "20 MB of random output: exit 0"
is "$(wc -c <"$T/big")" 20000065 "... all of it and the checksum line arrive"
want=$(tail -c 65 "$T/big" | head -c 64)
got=$(head -c 20000000 "$T/big" | sha256sum | cut -c1-64)
is "$got" "$want" "... byte for byte (sha256 as the guest computed it)"

# 2. stdout and stderr: one stream, in the order written; the service's stdin is a terminal.
out=$(run --exec $BB -- sh -c 'echo 1; echo 2 >&2; echo 3; [ -t 0 ] && echo stdin-tty' 2>&1)
is "$(echo "$out" | tr '\n' ' ')" "1 2 3 stdin-tty " "stdout and stderr arrive in order; stdin is a tty"

# 3. Written just before exit, read slowly: the guest waits for the host's ack of the exit marker
# before it powers off, so QEMU has nothing left to drop.
{
	run --exec $BB -- sh -c 'dd if=/dev/zero bs=1000000 count=8 2>/dev/null; echo last; exit 5'
	echo $? >"$T/slow.rc"
} 2>"$T/slow.err" | {
	sleep 3
	cat
} >"$T/slow"
is "$(wc -c <"$T/slow")" 8000005 "8 MB then exit to a reader that sleeps 3 s first: every byte arrives"
is "$(tail -c 5 "$T/slow")" "last" "... the last line too"
is "$(cat "$T/slow.rc")" 5 "... and the exit status is the service's (5)"

# 4. A service printing markers (signed ones come only from crumb-init) changes nothing.
run --exec $BB -- sh -c 'printf "\002crumb:exit 1.0 0\003\002crumb:error 1.1 x 1:0123456789abcdef0123456789abcdef\003"; echo; exit 4' \
	>"$T/fake" 2>"$T/fake.err"
is $? 4 "fake exit and error markers from the service: its own status (4)"
[ "$(tr -cd '\002' <"$T/fake" | wc -c)" -eq 2 ]; ok $? "... and they are shown as its output"

# 5. A panic after service output: the output (port) and the panic line (UART) both reach the user.
run -m 64M --exec $BB -- sh -c 'echo before-panic; echo 1 >/proc/sys/vm/panic_on_oom
	for i in 1 2 3 4; do dd if=/dev/zero of=/dev/null bs=30M count=1 & done; wait' >"$T/panic" 2>"$T/panic.err"
is $? 123 "a kernel panic (panic_on_oom) after output exits 123"
grep -qx before-panic "$T/panic"; ok $? "... the service's output arrived"
grep -q 'panicked: Kernel panic - not syncing' "$T/panic.err"; ok $? "... and the panic is reported"
diag "$(cat "$T/panic.err")"

# 6. -i: input through the port reaches the service's terminal; EOF is a ^D.
is "$(printf 'one\ntwo\n' | run -i --exec $BB -- cat | tr '\n' ' ')" "one two " "-i: stdin reaches the service, EOF ends it"

# 7. The kernel's messages stay on the UART: shown with --verbose, never inside the service's output.
out=$("$CRUMB" run --verbose --kernel "$KERNEL" --exec $BB -- sh -c 'echo svc' 2>/dev/null)
echo "$out" | grep -q 'Linux version' && echo "$out" | grep -qx svc
ok $? "--verbose: the kernel's boot log and the service's output both shown"

# 8. The old path: everything on the UART (CRUMB_CONSOLE=uart), markers and all.
out=$(CRUMB_CONSOLE=uart run --exec $BB -- sh -c 'echo out; echo err >&2; [ -t 1 ] && echo tty; exit 6' 2>&1)
is $? 6 "CRUMB_CONSOLE=uart: exit status"
is "$(echo "$out" | tr '\n' ' ')" "out err tty " "... output on the UART (stdout a tty, as before)"

# 9. crumb-init asked for the port but without it (the UART path plus the command-line flag):
# it says so (a boot message: --verbose) and stays on the UART.
out=$(CRUMB_CONSOLE=uart "$CRUMB" run --verbose --kernel "$KERNEL" --cmdline crumb.console=virtio --exec $BB -- sh -c 'echo still-here; exit 7' 2>&1)
is $? 7 "no port for crumb.console=virtio: exit status still arrives"
echo "$out" | grep -qx still-here; ok $? "... and the output"
echo "$out" | grep -q 'crumb-init: .*output stays on the serial console'; ok $? "... with crumb-init's note"
diag "$(echo "$out" | grep -a "crumb-init\|still-here")"

# 10. A detached run's console.log and crumb logs.
export XDG_RUNTIME_DIR=$T/xdg
mkdir -p "$XDG_RUNTIME_DIR"
"$CRUMB" run -d --name con1 --kernel "$KERNEL" --exec $BB -- sh -c 'echo logged-out; echo logged-err >&2' >/dev/null
i=0
while [ $i -lt 300 ] && "$CRUMB" ps | grep -q '^con1 '; do sleep 0.1; i=$((i + 1)); done
is "$("$CRUMB" logs con1 | grep '^logged-' | tr '\n' ' ')" "logged-out logged-err " "crumb logs: a detached run's output"
"$CRUMB" rm con1 >/dev/null
done_testing
