# tests/e2e/boot.sh: real boots under QEMU (TCG here) with the crumb kernel: output, exit status,
# closures (curl, python), #! scripts, memory checks. Few and purposeful: each boot costs ~1 s.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/boot
mkdir -p "$T"
run() { "$CRUMB" run --kernel "$KERNEL" "$@"; }

out=$(run --exec /bin/echo -- hello 2>"$T/err"); r=$?
is "$r" 0 "echo hello exits 0"
is "$out" "hello" "echo hello prints exactly hello"
grep -Eq '^crumb: (tcg|kvm) boot: qemu→init [0-9.]+s, init→exec [0-9.]+s, exec→exit [0-9.]+s' "$T/err"
ok $? "a boot-time line is printed on stderr"
diag "$(cat "$T/err")"

run -q --exec /bin/false 2>"$T/err"; is $? 1 "/bin/false exits 1"
[ ! -s "$T/err" ]; ok $? "-q prints nothing on stderr"
run -q --exec /bin/sh -- -c 'echo out; echo err >&2; exit 42' >"$T/out" 2>&1; is $? 42 "sh -c 'exit 42' exits 42"
grep -qx out "$T/out" && grep -qx err "$T/out"; ok $? "stdout and stderr both reach the host"
run -q --exec /bin/sh -- -c 'kill -TERM $$' 2>/dev/null; is $? 143 "a program killed by SIGTERM gives 128+15"
run -q --exec /bin/sh -- -c 'exec /no/such/program' >/dev/null 2>&1; is $? 127 "exec of a missing program gives 127"

out=$(run -q --exec /usr/bin/curl -- --version); r=$?
is "$r" 0 "curl --version exits 0"
echo "$out" | head -1 | grep -q '^curl [0-9]'; ok $? "curl prints its version (closure of $(ldd /usr/bin/curl | wc -l) libraries)"

out=$(run -q --exec /usr/bin/python3 --add /usr/lib/python3.11 -- -c 'print(6*7)'); r=$?
is "$r" 0 "python3 exits 0"
is "$out" "42" "python3 -c 'print(6*7)' prints 42"

printf '#!/bin/sh\necho "script says $1 from $0"\n' >"$T/hello.sh"; chmod +x "$T/hello.sh"
out=$(run -q --exec "$T/hello.sh" -- hi); r=$?
is "$r" 0 "a #! script exits 0"
is "$out" "script says hi from $T/hello.sh" "a #! script runs with its interpreter"
printf '#!/usr/bin/env python3\nimport sys\nprint("env-python", len(sys.argv))\n' >"$T/hello.py"; chmod +x "$T/hello.py"
out=$(run -q --exec "$T/hello.py" --add /usr/lib/python3.11 -- a b); r=$?
is "$out" "env-python 3" "#!/usr/bin/env python3 brings python3 from PATH"

out=$(run -q -e GREETING=bonjour --exec /bin/sh -- -c 'echo $GREETING $HOME $PWD'); 
is "$out" "bonjour /root /" "-e sets the environment; HOME and workdir defaults"

run --exec /bin/true -m 8M 2>"$T/err"; is $? 125 "-m 8M is refused before booting"
grep -q 'too small' "$T/err"; ok $? "... saying it is too small"
check "... in one line" one_line_error "$T/err"
run -q --exec /bin/true -m 100M; is $? 0 "-m 100M boots /bin/true"

run -q --exec /bin/true --cmdline "rdinit=/nonexistent" 2>"$T/err"; is $? 123 "a broken init (kernel panic) exits 123"
grep -q 'panicked: Kernel panic - not syncing' "$T/err"; ok $? "... and reports the panic line"
check "... in one line" one_line_error "$T/err"

start=$(date +%s)
run -q --timeout 2 --cmdline "crumbtest.timeout=$$" --exec /bin/sh -- -c 'while :; do echo spam; done' >/dev/null 2>"$T/err"
is $? 124 "--timeout kills a VM that runs too long (a chatty one): exit 124"
[ $(($(date +%s) - start)) -lt 30 ]; ok $? "... promptly"
grep -q 'still running after 2s' "$T/err"; ok $? "... saying so"
check "... in one line" one_line_error "$T/err"
sleep 1
pgrep -f "crumbtest.timeout=$$" >/dev/null; is $? 1 "... and leaves no QEMU behind"
is "$(run --timeout 60 --exec /bin/echo -- quick)" "quick" "a program that ends in time is unaffected by --timeout"

printf '# settings\nGREETING=hello there\n\n  EMPTY=\nGREETING2=x=y\n' >"$T/env"
out=$(run --env-file "$T/env" --exec /bin/sh -- -c 'echo "$GREETING|$EMPTY|$GREETING2"')
is "$out" "hello there||x=y" "--env-file sets the variables (comments, blank lines, = in values)"
printf 'A=1\nnot a setting\n' >"$T/badenv"
run --env-file "$T/badenv" --exec /bin/true 2>"$T/err"; is $? 125 "a malformed --env-file exits 125"
grep -q "badenv:2: want NAME=VALUE" "$T/err"; ok $? "... naming FILE:LINE"
diag "$(cat "$T/err")"
done_testing
