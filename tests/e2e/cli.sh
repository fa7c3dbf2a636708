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
"$CRUMB" run --exec /bin/true --seccomp maybe 2>"$T/err"; is $? 125 "run: bad --seccomp exits 125"
grep -q 'want errno, kill or off' "$T/err" && one_line_error "$T/err"; ok $? "... one line saying what it wants"
"$CRUMB" run --exec /bin/true --wait-ready 2>"$T/err"; is $? 125 "run --wait-ready without -d exits 125"
grep -q -- '--wait-ready goes with -d' "$T/err" && one_line_error "$T/err"; ok $? "... in one line"
"$CRUMB" run --trace "$T/a,b" --exec /bin/true 2>"$T/err"; is $? 125 "run --trace with a comma in the name exits 125"
"$CRUMB" minimize 2>"$T/err"; is $? 2 "minimize without IMAGE exits 2"
"$CRUMB" minimize --no-seccomp --all-files x 2>"$T/err"; is $? 2 "minimize --no-seccomp --all-files: nothing to do, exits 2"
"$CRUMB" minimize --allow 'read nosuch' x 2>"$T/err"; is $? 2 "minimize --allow with an unknown call exits 2"
grep -q "'nosuch' is not an x86_64 system call" "$T/err"; ok $? "... naming it"

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
# One parser for every verb (src/lib/opt.h): `crumb help VERB` is `VERB --help` (the options'
# lines come from the verb's table), every documented option is listed, and usage errors keep
# their one-line wording and status 2.
for v in build run ps stop kill logs rm volume images inspect tag rmi prune import pack mkfs fs kernel ldd help version; do
	"$CRUMB" help "$v" >"$T/help" 2>&1; st=$?
	"$CRUMB" "$v" --help >"$T/dashhelp" 2>&1
	"$CRUMB" "$v" -h >"$T/h" 2>&1
	[ $st -eq 0 ] && cmp -s "$T/help" "$T/dashhelp" && cmp -s "$T/help" "$T/h"
	ok $? "crumb help $v = $v --help = $v -h"
done
# documented VERB OPTION...: each OPTION is in `crumb help VERB`
documented() {
	v=$1
	shift
	"$CRUMB" help "$v" >"$T/help"
	for o in "$@"; do
		grep -q -- "$o\b" "$T/help" || { diag "crumb help $v lacks $o"; return 1; }
	done
}
check "build documents its options" documented build -t --tag -f --file --build-arg --target \
	--no-cache --network --kernel --allow-host -q --quiet
check "images documents its options" documented images -q --digests --verify
check "import documents its options" documented import -t --tag --kernel --rootfs \
	--config-json --entrypoint --cmd -e --env -w --workdir -u --user -p --expose -l --label
check "ps documents its options" documented ps -a --all -q --quiet
check "stop documents -t" documented stop -t --time
check "kill documents -s" documented kill -s --signal
check "logs documents -f" documented logs -f --follow
check "rm documents -f" documented rm -f --force
check "rmi documents -f" documented rmi -f --force
check "kernel documents build's options" documented kernel -v -j --source --fragment
"$CRUMB" ps --all --quiet >/dev/null; ok $? "ps --all --quiet"
"$CRUMB" ps -aq >/dev/null; ok $? "ps -aq"
"$CRUMB" images --quiet --digests >/dev/null; ok $? "images --quiet --digests"
# usage VERB-ARGS... -- WANT: exit status 2 and exactly this one line on stderr
usage() {
	a=
	while [ "$1" != -- ]; do a="$a '$1'"; shift; done
	eval "\"\$CRUMB\" $a" >/dev/null 2>"$T/err"
	is "$?:$(cat "$T/err")" "2:crumb: $2 (see 'crumb help $3')" "crumb$a: $2"
}
usage ps -x -- "ps: unexpected '-x'" ps
usage ps --all=1 -- "ps: unexpected '--all=1'" ps
usage ps foo -- "ps: unexpected 'foo'" ps
usage images -x -- "images: unexpected argument '-x'" images
usage images foo -- "images: unexpected argument 'foo'" images
usage prune -x -- "prune: unexpected argument '-x'" prune
usage inspect -- "inspect: no IMAGE given" inspect
usage inspect -x -- "inspect: unknown option '-x'" inspect
usage tag a -- "tag: want SOURCE and NEWREF" tag
usage rmi -x -- "rmi: unknown option '-x'" rmi
usage rmi -f -- "rmi: no IMAGE given" rmi
usage import --kernel k -- "import: -t NAME[:TAG], --kernel FILE and --rootfs FILE are required" import
usage import -x -- "import: unexpected argument '-x'" import
usage import --cmd -- "import: --cmd needs a value" import
usage import -e X -- "import: -e X: want NAME=VALUE" import
usage import -p 99999 -- "import: -p 99999: want PORT[/tcp|udp|sctp]" import
usage import --entrypoint '[1]' -- "import: --entrypoint: not a JSON array of strings" import
usage build -- "build: missing CONTEXT (a directory, e.g. '.')" build
usage build a b -- "build: one CONTEXT directory only ('a' and 'b')" build
usage build --bogus=1 . -- "build: unknown option '--bogus=1'" build
usage build -t -- "build: -t needs a value" build
usage build --network host . -- "build: --network host: want default or none" build
usage build --build-arg =x . -- "build: --build-arg =x: want NAME[=VALUE]" build
usage build --allow-host= . -- "build: --allow-host needs a path" build
usage stop -- "stop: name a VM" stop
usage stop -t abc x -- "stop: -t abc: want seconds" stop
usage stop --time -- "stop: --time needs a value" stop
usage kill -s HUP x -- "kill: -s HUP: want KILL, TERM or INT" kill
usage kill -q -- "kill: unknown option '-q'" kill
usage logs -- "logs: name a VM" logs
usage logs a b -- "logs: one VM at a time" logs
usage logs -x -- "logs: unknown option '-x'" logs
usage rm -x -- "rm: unknown option '-x'" rm
usage volume -- "volume: ls or rm?" volume
usage volume ls x -- "volume: want 'ls' or 'rm NAME...'" volume
usage kernel -x -- "kernel: unknown subcommand or argument '-x'" kernel
usage kernel ls x -- "kernel: unknown subcommand or argument 'x'" kernel
usage kernel build -j 0 -- "kernel: bad -j value '0'" kernel
usage kernel build -x -- "kernel: unexpected argument '-x'" kernel
usage ldd -x -- "ldd: unknown option '-x'" ldd
usage help -x -- "help: unknown command '-x'" help
usage help a b -- "help: too many arguments" help
usage version x -- "version: unexpected argument 'x'" version
done_testing
