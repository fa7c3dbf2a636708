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
