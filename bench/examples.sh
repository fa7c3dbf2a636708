#!/bin/sh
# bench/examples.sh: builds every examples/* image and prints a table per example: image size
# (kernel + rootfs layers as stored, MB), the minimum memory that still serves (bisection on
# `crumb run -m` between 16M and 512M: "serves" = the real client succeeds within a timeout) and
# boot-to-ready (median of N runs: from starting `crumb run` to the first successful request of
# the real client: ssh, curl, redis-cli; for the one-shot hello, to its exit). Then splits
# sshd's boot-to-first-SSH-session into kernel, init, service start and the SSH session itself.
#   usage: bench/examples.sh [N]      (default N=5; BENCH_MEM=0 skips the memory bisection)
# Needs: ssh, ssh-keygen, curl, redis-cli, python3. Uses a private store unless CRUMB_HOME is set.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
CRUMB=${CRUMB:-$top/crumb}
N=${1:-5}
KERNEL=${KERNEL:-$(CRUMB_HOME= "$CRUMB" kernel path)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crumb-bench-ex.XXXXXX")
export CRUMB_HOME=${CRUMB_HOME:-$tmp/home}
export XDG_RUNTIME_DIR=$tmp/xdg # our own VM state root
mkdir -p "$XDG_RUNTIME_DIR"
cleanup() {
	"$CRUMB" ps -a -q 2>/dev/null | while read -r v; do "$CRUMB" rm -f "$v" >/dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
state() { "$CRUMB" ps -a | awk -v n="$1" '$1 == n { print $3 }'; }

ssh-keygen -q -t ed25519 -N '' -C bench -f "$tmp/key"
SSH="ssh -n -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $tmp/key"
# QEMU's user networking accepts a connection before the guest listens, and a client that
# connects too early can wait seconds on TCP retries: each probe is short, and sshd's first
# waits for the server's banner (0.2 s per try) before the real ssh session.
banner() {
	python3 - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)
    s.settimeout(0.2)
    sys.exit(0 if s.recv(4).startswith(b"SSH-") else 1)
except OSError:
    sys.exit(1)
PY
}
probe() { # probe EXAMPLE PORT: one try of the real client
	case $1 in
	sshd) banner "$2" && timeout 15 $SSH -p "$2" root@127.0.0.1 true 2>/dev/null ;;
	httpd) [ "$(curl -s --max-time 0.3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/")" = 200 ] ;;
	redis) [ "$(timeout 0.3 redis-cli -p "$2" ping 2>/dev/null)" = PONG ] ;;
	esac
}
guest_port() { case $1 in sshd) echo 22 ;; httpd) echo 80 ;; redis) echo 6379 ;; esac; }

# serve EXAMPLE [RUN-OPTIONS...]: boots it, waits up to 30 s for the client; prints the ms from
# `crumb run` to the first success. Fails if it never served (or crumb refused to boot it).
serve() {
	ex=$1
	shift
	if [ "$ex" = hello ]; then
		t0=$(now_ms)
		out=$("$CRUMB" run -q --kernel "$KERNEL" "$@" hello 2>"$tmp/err") || return 1
		t1=$(now_ms)
		case $out in "hello from a crumb microVM"*) echo $((t1 - t0)) ;; *) return 1 ;; esac
		return 0
	fi
	port=$(free_port)
	vm=b-$ex-$$
	t0=$(now_ms)
	if ! "$CRUMB" run -d -q --name "$vm" -p "127.0.0.1:$port:$(guest_port "$ex")" --kernel "$KERNEL" \
		"$@" "$ex" >/dev/null 2>"$tmp/err"; then
		"$CRUMB" rm -f "$vm" >/dev/null 2>&1 || :
		return 1
	fi
	end=$((t0 + 30000)) r=1
	while [ "$(now_ms)" -lt "$end" ]; do
		if probe "$ex" "$port"; then
			echo $(($(now_ms) - t0))
			r=0
			break
		fi
		[ "$(state "$vm")" = running ] || break
		sleep 0.05
	done
	"$CRUMB" rm -f "$vm" >/dev/null 2>&1 || :
	return $r
}

layers() { # layers IMAGE: "kernel-bytes rootfs-bytes"
	"$CRUMB" inspect "$1" | python3 -c '
import json, sys
L = json.load(sys.stdin)[0]["Layers"]
print(sum(l["Size"] for l in L if "kernel" in l["MediaType"]), sum(l["Size"] for l in L if "rootfs" in l["MediaType"]))'
}

EXAMPLES="sshd httpd redis hello"
echo "# building the examples (store $CRUMB_HOME)" >&2
for ex in $EXAMPLES; do
	set --
	[ "$ex" = sshd ] && set -- --build-arg AUTHORIZED_KEYS="$(cat "$tmp/key.pub")"
	"$CRUMB" build -q --kernel "$KERNEL" "$@" -t "$ex" "examples/$ex" >/dev/null
done

printf '| %-7s | %-26s | %-20s | %-28s |\n' example "image MB (kernel + rootfs)" "min memory" "boot-to-ready, median of $N"
printf '|%s|%s|%s|%s|\n' --------- ---------------------------- ---------------------- ------------------------------
for ex in $EXAMPLES; do
	set -- $(layers "$ex")
	size=$(awk -v k="$1" -v r="$2" 'BEGIN { printf "%.1f (%.1f + %.2f)", (k + r) / 1e6, k / 1e6, r / 1e6 }')
	mem="-"
	if [ "${BENCH_MEM:-1}" != 0 ]; then
		lo=16 hi=512 note=""
		if serve "$ex" -m ${lo}M >/dev/null; then
			mem="<=${lo} MiB"
		else
			# crumb refuses less than the root filesystem needs ("needs at least XM"):
			# that is the floor to start from.
			floor=$(sed -n 's/.*needs at least \([0-9]*\)M.*/\1/p' "$tmp/err")
			if [ -n "$floor" ]; then
				if serve "$ex" -m "${floor}M" >/dev/null; then hi=$floor lo=$((floor - 1)) note=" (crumb's floor)"; else lo=$floor; fi
			fi
			if [ -z "$note" ] && ! serve "$ex" -m ${hi}M >/dev/null; then
				mem="(fails at ${hi} MiB)"
			else
				while [ $((hi - lo)) -gt 1 ]; do
					mid=$(((lo + hi) / 2))
					if serve "$ex" -m ${mid}M >/dev/null; then hi=$mid; else lo=$mid; fi
				done
				mem="$hi MiB$note"
			fi
		fi
	fi
	: >"$tmp/times"
	i=0
	while [ "$i" -lt "$N" ]; do
		serve "$ex" >>"$tmp/times" || echo "# $ex: run $((i + 1)) did not serve within 30 s" >&2
		i=$((i + 1))
	done
	t=$(median <"$tmp/times")
	all=$(sort -n "$tmp/times" | tr '\n' ' ')
	printf '| %-7s | %-26s | %-20s | %-28s |\n' "$ex" "$size" "$mem" "$(awk -v t="$t" 'BEGIN { printf "%.2f s", t / 1000 }') (${all% } ms)"
done

# sshd: where boot-to-first-session goes. One boot with --timing (foreground, in the
# background); the host polls for the server's banner, then times an `ssh -v` session line by line.
echo
echo "sshd, boot to first SSH session (one boot; crumb run --timing for the guest's phases, ssh -v for the session):"
port=$(free_port)
t0=$(now_ms)
"$CRUMB" run --timing --name b-split-$$ -p "127.0.0.1:$port:22" --kernel "$KERNEL" sshd \
	</dev/null >/dev/null 2>"$tmp/timing" &
rp=$!
until banner "$port"; do sleep 0.02; done
tb=$(now_ms)
python3 - "$tmp/sshv" $SSH -v -p "$port" root@127.0.0.1 true <<'PY'
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[2:], stderr=subprocess.PIPE, text=True)
with open(sys.argv[1], "w") as f:
    for line in p.stderr:
        f.write("%.1f %s" % ((time.monotonic() - t0) * 1000, line))
sys.exit(p.wait())
PY
ts=$(now_ms)
"$CRUMB" stop "b-split-$$" >/dev/null
wait "$rp" || :
te=$(now_ms)
"$CRUMB" rm "b-split-$$" >/dev/null 2>&1 || :
end_of() { awk -v p="$1" 'index($0, p) == 3 { print int($(NF - 2) + $(NF - 1)) }' "$tmp/timing"; }
at() { awk -v p="$1" 'index($0, p) { print int($1); exit }' "$tmp/sshv"; }
qk=$(end_of "qemu start → kernel entry") kern=$(end_of "kernel → init") exec=$(end_of "init → exec")
ready=$(end_of "exec → ready") total=$(awk '$1 == "total" { print int($2) }' "$tmp/timing")
prep=$((te - t0 - total)) # crumb run's own work before QEMU starts (and after it ends)
ver=$(at "Remote protocol version") kex=$(at "SSH2_MSG_NEWKEYS received") auth=$(at "Authenticated to")
done_=$(at "Exit status")
row() { printf '  %-52s %6s ms\n' "$1" "$2"; }
row "crumb run: image → initramfs, QEMU spawn (and exit)" "$prep"
row "QEMU start → kernel entry" "$qk"
row "kernel: entry → crumb-init" $((kern - qk))
row "crumb-init: mounts, lo/eth0 → exec sshd-start" $((exec - kern))
row "service start: host key + dropbear listening" $((ready - exec))
row "listening → banner seen by the host's poll" $((tb - t0 - prep - ready))
row "ssh: connect → server banner" "$ver"
row "ssh: banner → key exchange done (NEWKEYS)" $((kex - ver))
row "ssh: publickey auth" $((auth - kex))
row "ssh: session, 'true', exit status" $((done_ - auth))
row "total: crumb run → first session done" $((ts - t0))
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name.*: //p' /proc/cpuinfo | head -1); accel: $(sed -n 's/^crumb: boot timeline (\(.*\)), .*/\1/p' "$tmp/timing"); load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
