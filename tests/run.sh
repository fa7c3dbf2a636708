#!/bin/sh
# tests/run.sh [--no-e2e] UNIT...: runs the unit test binaries given as arguments, then (unless
# --no-e2e) builds or finds the crumb kernel and runs every tests/e2e/*.sh, each producing TAP,
# and ends with "N passed, N failed". Needs $CRUMB and $CRUMB_INIT.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CRUMB:?set CRUMB to the crumb binary under test}"
: "${CRUMB_INIT:?set CRUMB_INIT to crumb-init}"
export CRUMB CRUMB_INIT
# The oracles (mke2fs, e2fsck, debugfs) live in /usr/sbin, which is not in an
# ordinary Debian user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

e2e=1
if [ "${1:-}" = --no-e2e ]; then
	e2e=0
	shift
fi
# The crumb kernel is built once per machine and cached in the user's own store
# (after the unit tests, which need no kernel); the tests use a store of their own
# and name the kernel explicitly.
user_home=${CRUMB_HOME-}
work=$(mktemp -d "${TMPDIR:-/tmp}/crumb-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
export CRUMB_HOME="$work/home"
export TEST_TMP="$work"

passed=0 failed=0 skipped=0
run_one() {
	name=$1
	shift
	out="$work/out.tap"
	start=$(date +%s)
	"$@" >"$out" 2>"$work/err.txt"
	rc=$?
	cat "$out"
	p=$(grep -c '^ok ' "$out")
	s=$(grep -c '^ok .*# SKIP' "$out")
	f=$(grep -c '^not ok ' "$out")
	plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$out" | tail -1)
	if [ -s "$work/err.txt" ]; then sed 's/^/# stderr: /' "$work/err.txt" | tail -30; fi
	if [ -z "$plan" ] || [ "$plan" -ne $((p + f)) ]; then
		echo "not ok - $name: plan ${plan:-missing}, ran $((p + f))"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited $rc"
		f=$((f + 1))
	fi
	passed=$((passed + p - s)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "# $name: $((p - s)) passed, $f failed, $s skipped ($(($(date +%s) - start))s)"
}

for t in "$@"; do
	run_one "$(basename "$t")" "$t"
done
if [ "$e2e" = 1 ]; then
	echo "# building (or finding) the crumb kernel"
	if [ -n "$user_home" ]; then
		KERNEL=$(CRUMB_HOME=$user_home "$CRUMB" kernel build)
	else
		KERNEL=$(env -u CRUMB_HOME "$CRUMB" kernel build)
	fi || {
		echo "Bail out! crumb kernel build failed"
		echo "$passed passed, $((failed + 1)) failed, $skipped skipped"
		exit 1
	}
	export KERNEL
	# What tests may keep between runs (the Debian base image: tests/registry/debian-base.sh),
	# beside the kernel in the user's own store.
	store=${user_home:-${XDG_DATA_HOME:-${HOME:-/tmp}/.local/share}/crumb}
	export CRUMB_TEST_CACHE=${CRUMB_TEST_CACHE:-$store/test-cache}
	for t in "$top"/tests/e2e/*.sh; do
		run_one "e2e/$(basename "$t")" sh "$t"
	done
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
