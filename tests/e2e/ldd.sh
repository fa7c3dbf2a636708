#!/bin/sh
# ldd.sh: end-to-end test of `crumb ldd` against the host's ldd (TAP output; needs $CRUMB).
set -u

if [ -z "${CRUMB:-}" ] || [ ! -x "$CRUMB" ]; then
	echo "Bail out! CRUMB must name the crumb binary under test"
	exit 1
fi

n=0
failed=0
tmp=$(mktemp -d /tmp/crumb-e2e-ldd.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# The resolved paths and the interpreter, one a line, sorted: from ldd's
# "name => path (addr)" and "/interp (addr)" lines (the vDSO has no file).
paths() {
	sed -n -e 's/^[[:space:]]*[^[:space:]]* => \(\/[^[:space:]]*\).*/\1/p' \
		-e 's/^[[:space:]]*\(\/[^[:space:]]*\)\( (0x[0-9a-f]*)\)\{0,1\}$/\1/p' | sort -u
}

for bin in /bin/ls /usr/bin/python3 /usr/bin/curl /usr/sbin/dropbear; do
	if [ ! -e "$bin" ]; then
		skip "$bin is not installed"
		continue
	fi
	ldd "$bin" 2>/dev/null | paths >"$tmp/want"
	if ! "$CRUMB" ldd "$bin" >"$tmp/out" 2>"$tmp/err"; then
		fail "crumb ldd $bin failed: $(cat "$tmp/err")"
		continue
	fi
	paths <"$tmp/out" >"$tmp/got"
	if [ -s "$tmp/want" ] && cmp -s "$tmp/want" "$tmp/got"; then
		pass "crumb ldd $bin resolves the same paths as ldd"
	else
		fail "crumb ldd $bin resolves the same paths as ldd"
		diff "$tmp/want" "$tmp/got" | sed 's/^/# /'
	fi
done

# Several binaries: one "BINARY:" header each.
if "$CRUMB" ldd /bin/ls /bin/sh >"$tmp/out" 2>&1 && grep -qx '/bin/ls:' "$tmp/out" &&
	grep -qx '/bin/sh:' "$tmp/out"; then
	pass "several binaries get a header line each"
else
	fail "several binaries get a header line each"
fi

# Failures: exit 1, one line on stderr, nothing on stdout.
for bad in /etc/passwd /nonexistent; do
	"$CRUMB" ldd "$bad" >"$tmp/out" 2>"$tmp/err"
	st=$?
	if [ "$st" -eq 1 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
		grep -q "^crumb: .*$bad" "$tmp/err"; then
		pass "crumb ldd $bad fails with one line naming it"
	else
		fail "crumb ldd $bad fails with one line naming it (status $st)"
		sed 's/^/# /' "$tmp/err"
	fi
done

# A static binary: "statically linked", success (documented in the usage).
static=
if [ -f /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; then
	static=/bin/busybox
elif command -v cc >/dev/null 2>&1 && echo 'int main(void){return 0;}' >"$tmp/s.c" &&
	cc -static -o "$tmp/static" "$tmp/s.c" 2>/dev/null; then
	static=$tmp/static
fi
if [ -z "$static" ]; then
	skip "no static binary (no busybox, no static libc)"
elif "$CRUMB" ldd "$static" >"$tmp/out" 2>"$tmp/err" && grep -q 'statically linked' "$tmp/out"; then
	pass "crumb ldd on a static binary says so and succeeds"
else
	fail "crumb ldd on a static binary says so and succeeds"
fi

# A missing library: listed as "not found" like ldd, exit 1.
if command -v cc >/dev/null 2>&1 && mkdir -p "$tmp/lib" &&
	echo 'int f(void){return 0;}' >"$tmp/f.c" && echo 'int f(void); int main(void){return f();}' >"$tmp/m.c" &&
	cc -shared -fPIC -o "$tmp/lib/libcrumbgone.so" "$tmp/f.c" &&
	cc -o "$tmp/m" "$tmp/m.c" -L"$tmp/lib" -lcrumbgone 2>/dev/null && rm "$tmp/lib/libcrumbgone.so"; then
	"$CRUMB" ldd "$tmp/m" >"$tmp/out" 2>"$tmp/err"
	st=$?
	if [ "$st" -eq 1 ] && grep -q 'libcrumbgone.so => not found' "$tmp/out" &&
		grep -q 'libcrumbgone.so not found' "$tmp/err"; then
		pass "a missing library is listed as not found, exit 1"
	else
		fail "a missing library is listed as not found, exit 1 (status $st)"
	fi
else
	skip "no cc"
fi

# Usage.
"$CRUMB" ldd >/dev/null 2>&1
st=$?
if [ "$st" -eq 2 ]; then pass "no BINARY is a usage error (2)"; else fail "no BINARY is a usage error (got $st)"; fi
"$CRUMB" ldd --bogus /bin/ls >/dev/null 2>&1
st=$?
if [ "$st" -eq 2 ]; then pass "unknown option is a usage error (2)"; else fail "unknown option is a usage error (got $st)"; fi
if "$CRUMB" ldd --help >"$tmp/out" 2>&1 && [ "$(head -n 1 "$tmp/out")" = "usage: crumb ldd BINARY..." ]; then
	pass "--help prints the usage"
else
	fail "--help prints the usage"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
