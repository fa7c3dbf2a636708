#!/bin/sh
# bench/net.sh: the guest's user networking, passt (CRUMB_NETDEV=passt: passt even with -p) against
# QEMU's built-in slirp (CRUMB_NETDEV=slirp: without restrict=on), side by side under the same
# kernel, crumb-init and busybox guest:
#   boot         wall seconds of `crumb run --exec /bin/true` (spawning passt included)
#   ready        wall seconds from `crumb run` to the first HTTP 200 through -p (busybox httpd),
#                curl polling every 20 ms
#   guest->host  MB/s of a 50 MB file fetched by curl from busybox httpd through -p
#   host->guest  MB/s of 50 MB sent to busybox nc -l in the guest through -p (until its EOF)
#   latency      ms per HTTP request, 50 sequential requests (a new connection each)
#   loopback     whether the guest reached a listener on the host's 127.0.0.1 at 10.0.2.2
# Each figure is the median of N rounds (default 3). The columns: slirp, passt, passt / slirp, and
# crumb as shipped (no CRUMB_NETDEV: passt without -p, slirp restrict=on with -p).
# Usage: sh bench/net.sh   (CRUMB, KERNEL, N may be set)
set -e
CRUMB=${CRUMB:-$(dirname "$0")/../crumb}
KERNEL=${KERNEL:-$("$CRUMB" kernel path)}
N=${N:-3}
W=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$W"' EXIT
export CRUMB_HOME=$W/home XDG_RUNTIME_DIR=$W
SIZE=52428800
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# On the host: a listener on 127.0.0.1 that records what reaches it.
LP=$(free_port)
python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $LP)); s.listen()
while True:
    c, a = s.accept(); open('$W/loopback.log', 'a').write('reached\n'); c.close()
" &
pids="$pids $!"

# In the guest: nc -l for the upload, httpd for the rest, a probe of the host's loopback.
# (nc keeps a stdin: on its EOF busybox nc half-closes, and passt 2023.03 then stalls the upload;
# nothing here has the guest speak first: passt 2023.03 loses that, see src/lib/vmm.h)
guest="sleep 600 | nc -l -p 81 >/dev/null & mkdir /www; echo hi >/www/index.html; httpd -p 80 -h /www;
dd if=/dev/zero of=/www/big bs=1M count=50 2>/dev/null; echo done >/www/done;
nc -w 2 10.0.2.2 $LP </dev/null; echo done >/www/probed; sleep 600"

# wait_http BACKEND URL STEP: polls URL every STEP seconds until it answers (600 tries at most).
wait_http() {
	i=0
	until curl -sf -m 2 -o /dev/null "$2"; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "bench/net.sh: $1: no HTTP answer" >&2; exit 1; }
		sleep "$3"
	done
}

# One round for backend $1: appends "boot ready down up latency" to $W/$1.
round() {
	t0=$(now)
	CRUMB_NETDEV=$1 "$CRUMB" run -q --kernel "$KERNEL" --exec /bin/true
	t1=$(now)
	boot=$(echo "$t1 - $t0" | bc)
	P=$(free_port)
	t0=$(now)
	CRUMB_NETDEV=$1 "$CRUMB" run -q --kernel "$KERNEL" -p "$P:80" --exec /bin/busybox -- \
		httpd -f -p 80 -h /etc 2>/dev/null &
	vm=$!
	pids="$pids $vm"
	wait_http "$1" "http://127.0.0.1:$P/passwd" 0.02
	t1=$(now)
	ready=$(echo "$t1 - $t0" | bc)
	kill $vm
	wait $vm 2>/dev/null || true
	P=$(free_port)
	Q=$(free_port)
	CRUMB_NETDEV=$1 "$CRUMB" run -q -m 256M --kernel "$KERNEL" -p "$P:80" -p "$Q:81" \
		--exec /bin/busybox -- sh -c "$guest" 2>/dev/null &
	vm=$!
	pids="$pids $vm"
	wait_http "$1" "http://127.0.0.1:$P/done" 0.1
	down=$(curl -s -o /dev/null -w '%{size_download} %{time_total}' "http://127.0.0.1:$P/big" |
		awk -v s=$SIZE '$1 == s { printf "%.1f", $1 / 1e6 / $2 }')
	python3 - "$Q" "$P" >>"$W/$1.py" <<'EOF'
import socket, sys, time
q, p = int(sys.argv[1]), int(sys.argv[2])
buf = bytes(1 << 20)
s = socket.create_connection(("127.0.0.1", q))
t = time.monotonic()
for _ in range(50):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
up = 50 * len(buf) / 1e6 / (time.monotonic() - t)
t = time.monotonic()
for _ in range(50):
    c = socket.create_connection(("127.0.0.1", p))
    c.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    got = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        got += d
    assert got.startswith(b"HTTP/1.") and b" 200 " in got.split(b"\r\n")[0], got[:80]
    c.close()
print("%.1f %.2f" % (up, (time.monotonic() - t) * 1000 / 50))
EOF
	until curl -sf -m 2 -o /dev/null "http://127.0.0.1:$P/probed"; do sleep 0.1; done
	kill $vm
	wait $vm 2>/dev/null || true
	echo "$boot $ready $down $(tail -1 "$W/$1.py")" >>"$W/$1"
	echo "# $1: $(tail -1 "$W/$1")"
}

# Rounds alternate the two, so that a busy host weighs on both alike.
echo no >"$W/slirp.lo"
echo no >"$W/passt.lo"
echo no >"$W/default.lo"
r=0
while [ $r -lt "$N" ]; do
	for b in slirp passt default; do
		: >"$W/loopback.log"
		round $b
		# the guest's probe (nc -w 2) has ended before the VM was stopped
		if [ -s "$W/loopback.log" ]; then echo yes >"$W/$b.lo"; fi
	done
	r=$((r + 1))
done

col() { cut -d' ' -f"$2" "$W/$1" | median; }
printf '%-24s %10s %10s %8s %10s\n' "median of $N" slirp passt "passt/slirp" "crumb"
row() {
	s=$(col slirp "$2")
	p=$(col passt "$2")
	d=$(col default "$2")
	printf '%-24s %10.3f %10.3f %8.2f %10.3f\n' "$1" "$s" "$p" "$(echo "scale=2; $p / $s" | bc)" "$d"
}
row "boot, /bin/true (s)" 1
row "boot to HTTP 200 (s)" 2
row "guest->host 50MB (MB/s)" 3
row "host->guest 50MB (MB/s)" 4
row "HTTP request (ms)" 5
printf '%-24s %10s %10s %8s %10s\n' "reaches host 127.0.0.1" "$(cat "$W/slirp.lo")" "$(cat "$W/passt.lo")" "" \
	"$(cat "$W/default.lo")"
