#!/bin/sh
# bench/minimize.sh: minimises the service examples (crumb minimize, driven by their real
# clients) and prints, per example: files and content bytes before -> after, the root
# filesystem and the whole image as stored, the system calls allowed out of the kernel's
# x86_64 table, and whether the real client still passes under the filter; then the peers'
# published figures beside ours, as ratios (no peer runs here: SlimToolkit needs Docker, B-Side
# is a research prototype).
#   usage: bench/minimize.sh
# Needs: ssh, ssh-keygen, curl, redis-cli, python3. Uses a private store unless CRUMB_HOME is set.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
CRUMB=${CRUMB:-$top/crumb}
KERNEL=${KERNEL:-$(CRUMB_HOME= "$CRUMB" kernel path)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crumb-bench-min.XXXXXX")
export CRUMB_HOME=${CRUMB_HOME:-$tmp/home}
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"
cleanup() {
	"$CRUMB" ps -a -q 2>/dev/null | while read -r v; do "$CRUMB" rm -f "$v" >/dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
retry() {
	end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.3
	done
}
ssh-keygen -q -t ed25519 -N '' -C bench -f "$tmp/good"
ssh-keygen -q -t ed25519 -N '' -C bad -f "$tmp/bad"
SSH="ssh -n -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"

b() { "$CRUMB" build -q --kernel "$KERNEL" "$@" >/dev/null; }
b -t httpd examples/httpd
b -t redis examples/redis
b --build-arg AUTHORIZED_KEYS="$(cat "$tmp/good.pub")" -t sshd examples/sshd

# check EXAMPLE PORT: the real client against a running (minimised) VM
check() {
	case $1 in
	httpd) [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/")" = 200 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/nope")" = 404 ] ;;
	sshd) [ "$($SSH -i "$tmp/good" -p "$2" root@127.0.0.1 echo ok)" = ok ] &&
		! $SSH -i "$tmp/bad" -p "$2" root@127.0.0.1 true 2>/dev/null ;;
	redis) redis-cli -p "$2" set k v | grep -q OK && [ "$(redis-cli -p "$2" get k)" = v ] ;;
	esac
}
guest_port() { case $1 in sshd) echo 22 ;; httpd) echo 80 ;; redis) echo 6379 ;; esac; }
minimize() {
	case $1 in
	httpd) "$CRUMB" minimize --probe 'curl -fs http://{host}:{port}/ >/dev/null' \
		--probe 'test "$(curl -s -o /dev/null -w %{http_code} http://{host}:{port}/nope)" = 404' httpd ;;
	sshd) "$CRUMB" minimize --probe "$SSH -i $tmp/good -p {port} root@{host} 'echo hi; cd / && echo * >/dev/null'" \
		--probe "! $SSH -i $tmp/bad -p {port} root@{host} true" sshd ;;
	redis) "$CRUMB" minimize --probe 'redis-cli -p {port} set k v | grep -q OK' \
		--probe 'redis-cli -p {port} get k | grep -q v' redis ;;
	esac
}
field() { sed -n "s/^$1: //p" "$2"; }

printf '%-6s %15s %19s %21s %19s %10s %7s %6s\n' example files 'content MB' 'rootfs stored MB' \
	'image MB' syscalls ratio client
for ex in httpd sshd redis; do
	t0=$(date +%s)
	minimize "$ex" >"$tmp/$ex.report" 2>"$tmp/$ex.err" || {
		echo "$ex: crumb minimize failed:" >&2
		tail -3 "$tmp/$ex.err" >&2
		continue
	}
	secs=$(($(date +%s) - t0))
	"$CRUMB" inspect --minimal "$ex:latest-min" >"$tmp/$ex.inspect"
	p=$(free_port)
	"$CRUMB" run -d -q --wait-ready --name "bench-$ex" -p "127.0.0.1:$p:$(guest_port "$ex")" "$ex:latest-min" >/dev/null
	if retry 30 check "$ex" "$p"; then pass=yes; else pass=NO; fi
	"$CRUMB" logs "bench-$ex" 2>&1 | grep -q 'seccomp: denied' && pass="$pass,denied"
	"$CRUMB" rm -f "bench-$ex" >/dev/null 2>&1
	python3 - "$ex" "$tmp/$ex.report" "$pass" "$secs" <<'PY'
import re, sys
ex, path, ok, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
t = open(path).read()
f = re.search(r"^files: +(\d+) -> (\d+) \(([\d.]+) MB -> ([\d.]+) MB", t, re.M)
r = re.search(r"^rootfs: ([\d.]+) MB -> ([\d.]+) MB stored; image ([\d.]+) MB -> ([\d.]+) MB", t, re.M)
s = re.search(r"^system calls allowed: (\d+) of (\d+)", t, re.M)
print("%-6s %6s -> %-6s %7s -> %-7s %8s -> %-8s %7s -> %-7s %4s/%-4s %6.2fx %6s" % (
    ex, f[1], f[2], f[3], f[4], r[1], r[2], r[3], r[4], s[1], s[2],
    float(r[1]) / float(r[2]), ok))
print("       (minimised in %s s under this machine's accelerator)" % secs)
PY
done
echo
echo "ratio: rootfs stored before / after. The peers' published figures (README, 'Minimising an image'):"
echo "  SlimToolkit README: Node.js app from ubuntu:14.04 432 MB -> 14 MB (30.85x); from node:alpine"
echo "    66.7 MB -> 34.7 MB (1.92x), an already small base like crumb's examples (FROM scratch)"
echo "  B-Side (static analysis of 557 Debian binaries): ~43 system calls per binary on average;"
echo "    crumb's counts above are per whole service (all its programs and libraries, traced)"
