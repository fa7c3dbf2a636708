#!/bin/sh
# bench/warm.sh: warm start vs cold boot for examples/httpd: time from starting `crumb run -d -p`
# to the first HTTP answer (curl, retried every 10 ms with a 100 ms limit each), N runs of each,
# interleaved; median and min-max. Extra variants as "NAME:WARM-FLAGS:RUN-FLAGS" arguments after N
# (e.g. "m64:-m 64M:-m 64M": a snapshot taken and restored at 64 MiB) are measured warm the same way.
#   usage: bench/warm.sh [N] [VARIANT...]      (default N=5)
# Needs: curl, python3. Uses a private store unless CRUMB_HOME is set.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
CRUMB=${CRUMB:-$top/crumb}
N=${1:-5}
[ $# -gt 0 ] && shift
KERNEL=${KERNEL:-$(CRUMB_HOME= "$CRUMB" kernel path)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crumb-bench-warm.XXXXXX")
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

# one FLAGS...: ms from `crumb run -d` to the first HTTP answer.
one() {
	port=$(free_port)
	python3 - "$CRUMB" "$port" "$@" <<'EOF'
import subprocess, sys, time, urllib.request
crumb, port, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
t0 = time.monotonic()
p = subprocess.Popen([crumb, "run", "-q", "--name", "bench", "-p", "127.0.0.1:%s:80" % port] + flags + ["httpd"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        urllib.request.urlopen("http://127.0.0.1:%s/" % port, timeout=0.1).read()
        break
    except Exception:
        if time.monotonic() - t0 > 30:
            print("-1"); sys.exit(0)
        time.sleep(0.01)
print(int((time.monotonic() - t0) * 1000))
subprocess.run([crumb, "stop", "-t", "2", "bench"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
p.wait()
subprocess.run([crumb, "rm", "-f", "bench"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
EOF
}
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:int((a[NR/2]+a[NR/2+1])/2); printf "%6d ms  (%d-%d, n=%d)\n", m, a[1], a[NR], NR}'; }

"$CRUMB" build -q --kernel "$KERNEL" -t httpd examples/httpd >/dev/null
"$CRUMB" warm -p "$(free_port):80" httpd >/dev/null
for v in "$@"; do
	# shellcheck disable=SC2086
	"$CRUMB" warm -p "$(free_port):80" $(echo "$v" | cut -d: -f2) httpd >/dev/null 2>&1 || true
done
: >"$tmp/cold"
: >"$tmp/warm"
for i in $(seq "$N"); do
	one --cold >>"$tmp/cold"
	one >>"$tmp/warm"
	for v in "$@"; do
		# shellcheck disable=SC2046
		one $(echo "$v" | cut -d: -f3) >>"$tmp/v-${v%%:*}"
	done
done
printf "%-12s %s\n" "httpd" "start -> first HTTP answer, median (min-max)"
printf "%-12s " cold
stats <"$tmp/cold"
printf "%-12s " warm
stats <"$tmp/warm"
for v in "$@"; do
	printf "%-12s " "${v%%:*}"
	stats <"$tmp/v-${v%%:*}"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
