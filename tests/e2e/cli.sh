# tests/e2e/cli.sh: the command line: help, version, exit codes, one-line errors for bad input.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/cli
mkdir -p "$T"

out=$("$CRUMB" help)
ok $? "crumb help exits 0"
for v in build run ps stop kill logs rm volume images inspect tag rmi prune import pack mkfs fs kernel ldd help version; do
	echo "$out" | grep -q "^  $v " ; ok $? "crumb help lists $v"
done
for v in build ps stop kill logs rm volume images inspect tag rmi prune import; do
	"$CRUMB" "$v" --help | grep -q "^usage: crumb $v"; ok $? "crumb $v --help shows its usage"
done
echo "$out" | grep -q '125  crumb failed'; ok $? "crumb help documents exit codes"
"$CRUMB" help run | grep -q '^usage: crumb run --exec PATH'; ok $? "crumb help run shows usage"
"$CRUMB" run --help | grep -q '^usage: crumb run'; ok $? "crumb run --help shows usage"
is "$("$CRUMB" version)" "crumb 0.1.0" "crumb version"

"$CRUMB" frobnicate 2>"$T/err"; is $? 2 "unknown command exits 2"
check "unknown command: one-line error" one_line_error "$T/err"
"$CRUMB" 2>/dev/null >/dev/null; is $? 2 "no command exits 2"
"$CRUMB" run --exec /bin/true -m lots 2>"$T/err"; is $? 125 "run: bad -m exits 125"
check "run: bad -m: one-line error" one_line_error "$T/err"
"$CRUMB" run 2>"$T/err"; is $? 125 "run without --exec exits 125"
"$CRUMB" run --exec /bin/true --timeout soon 2>"$T/err"; is $? 125 "run: bad --timeout exits 125"
check "run: bad --timeout: one-line error" one_line_error "$T/err"
"$CRUMB" help | grep -q '124  --timeout expired'; ok $? "crumb help documents the timeout status"
"$CRUMB" run --exec /bin/true --accel warp 2>"$T/err"; is $? 125 "run: bad --accel exits 125"
check "run: bad --accel: one-line error" one_line_error "$T/err"

"$CRUMB" run --kernel "$KERNEL" --exec /nonexistent 2>"$T/err"; is $? 125 "run --exec /nonexistent exits 125"
check "run --exec /nonexistent: one-line error" one_line_error "$T/err"
grep -q '/nonexistent' "$T/err"; ok $? "... naming the path"
"$CRUMB" run --kernel "$KERNEL" --exec /etc/passwd 2>"$T/err"; r=$?
is $r 125 "run --exec of a non-executable file exits 125"
check "... one-line error" one_line_error "$T/err"
printf 'just text\n' >"$T/notelf"; chmod +x "$T/notelf"
"$CRUMB" run --kernel "$KERNEL" --exec "$T/notelf" 2>"$T/err"; is $? 125 "run --exec of an executable that is neither ELF nor #! exits 125"
grep -q 'not an ELF executable or a #! script' "$T/err"; ok $? "... and says why"
check "... in one line" one_line_error "$T/err"
"$CRUMB" run --kernel /no/such/vmlinux --exec /bin/true 2>"$T/err"; is $? 125 "run --kernel missing exits 125"
check "run --kernel missing: one-line error" one_line_error "$T/err"
grep -q '/no/such/vmlinux' "$T/err"; ok $? "... naming the kernel"
CRUMB_QEMU=/no/qemu "$CRUMB" run --kernel "$KERNEL" --exec /bin/true 2>"$T/err"; is $? 125 "missing QEMU (CRUMB_QEMU) exits 125"
check "missing QEMU: one-line error" one_line_error "$T/err"
PATH=/nonexistent "$CRUMB" run --kernel "$KERNEL" --exec /bin/true 2>"$T/err"; is $? 125 "no QEMU in PATH exits 125"
grep -q 'qemu-system-x86' "$T/err"; ok $? "... with an install hint"
CRUMB_HOME=$T/empty-store "$CRUMB" run --exec /bin/true 2>"$T/err"; is $? 125 "no kernel in the store exits 125"
grep -q "crumb kernel build" "$T/err"; ok $? "... and says to run crumb kernel build"
check "... in one line" one_line_error "$T/err"
CRUMB_INIT=/no/init "$CRUMB" run --kernel "$KERNEL" --exec /bin/true 2>"$T/err"; is $? 125 "missing crumb-init exits 125"
check "... one-line error" one_line_error "$T/err"

"$CRUMB" kernel 2>"$T/err"; is $? 2 "kernel without subcommand exits 2"
"$CRUMB" kernel ls >"$T/ls"; ok $? "kernel ls exits 0"
head -1 "$T/ls" | grep -q 'ID.*RELEASE.*SIZE'; ok $? "kernel ls prints a header"
CRUMB_HOME=$T/empty-store "$CRUMB" kernel path 2>"$T/err"; is $? 1 "kernel path without a kernel exits 1"
CRUMB_HOME=$T/empty-store "$CRUMB" kernel build --source /no/linux.tar.xz 2>"$T/err"; is $? 1 "kernel build with a missing source exits 1"
check "... one-line error" one_line_error "$T/err"
ls "$T/empty-store/kernels" 2>/dev/null | grep -q . ; is $? 1 "... and leaves no kernel behind"
done_testing
