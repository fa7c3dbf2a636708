#!/bin/sh
# scripts/demo.sh: the main job (`make demo`): builds the crumb kernel (once) and the sshd example
# with your SSH key, boots it as a microVM with a published port, runs one command in it over
# ssh, and prints the ssh command to connect, the image size and the boot timeline. On a
# terminal it then keeps a VM up until Ctrl-C; otherwise it stops it cleanly and exits 0.
set -eu
cd "$(dirname "$0")/.."
CRUMB=$(pwd)/crumb
STORE=${CRUMB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/crumb}
NAME=crumb-demo
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crumb-demo.XXXXXX")
vm_up=""
cleanup() {
	if [ -n "$vm_up" ]; then
		"$CRUMB" stop "$vm_up" >/dev/null 2>&1 || :
		"$CRUMB" rm -f "$vm_up" >/dev/null 2>&1 || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '\n== %s\n' "$*"; }

say "the crumb kernel (built once, about 9 minutes on 2 cores; cached in $STORE)"
"$CRUMB" kernel build >/dev/null
"$CRUMB" kernel ls

# The keys: a demo key (no passphrase, so this script can log in by itself) and yours.
DEMOKEY=$STORE/demo/id_ed25519
if [ ! -f "$DEMOKEY" ]; then
	mkdir -p "$STORE/demo"
	ssh-keygen -q -t ed25519 -N '' -C crumb-demo -f "$DEMOKEY"
fi
USERKEY=""
for k in "$HOME/.ssh/id_ed25519" "$HOME/.ssh/id_rsa"; do
	if [ -f "$k.pub" ]; then
		USERKEY=$k
		break
	fi
done
KEYS=$(cat "$DEMOKEY.pub")
[ -n "$USERKEY" ] && KEYS="$KEYS
$(cat "$USERKEY.pub")"

say "crumb build -t sshd --build-arg AUTHORIZED_KEYS=\"\$(cat ${USERKEY:-$DEMOKEY}.pub)\" examples/sshd"
"$CRUMB" build -t sshd --build-arg AUTHORIZED_KEYS="$KEYS" examples/sshd

# A free port: 2222 if nothing listens there.
PORT=2222
if ! python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1", 2222))' 2>/dev/null; then
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
SSHOPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
# ssh_demo CMD: one command over ssh with the demo key; a try that connects before the guest
# listens can hang (QEMU accepts at once), so each try is bounded.
ssh_demo() { timeout 8 ssh -n -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$DEMOKEY" $SSHOPTS -p "$PORT" root@127.0.0.1 "$@"; }
# banner: the SSH server's banner arrives within 0.2 s (a short probe that a connection made
# before the guest listens cannot hold up for seconds).
banner() {
	python3 -c 'import socket,sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2); s.settimeout(0.2)
    sys.exit(0 if s.recv(4) == b"SSH-" else 1)
except OSError:
    sys.exit(1)' "$PORT"
}
wait_ssh() {
	end=$(($(date +%s) + 60))
	until banner && ssh_demo true 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.3
	done
}
"$CRUMB" rm -f "$NAME" >/dev/null 2>&1 || :

say "crumb run --timing --name $NAME -p $PORT:22 sshd    (booting; then one command over ssh)"
setsid "$CRUMB" run --timing --name "$NAME" -p "127.0.0.1:$PORT:22" sshd </dev/null >"$tmp/console" 2>"$tmp/timing" &
run_pid=$!
vm_up=$NAME
t0=$(date +%s%N)
if ! wait_ssh; then
	echo "crumb demo: no SSH session within 60 s; the VM's console:" >&2
	cat "$tmp/console" "$tmp/timing" >&2
	exit 1
fi
t1=$(date +%s%N)
# The example's shell is dash: builtins read what uname, id and cat would print.
DEMOCMD='read -r v </proc/version; echo "$v"; read -r up idle </proc/uptime; echo "user $USER, up $up s"'
echo "\$ ssh -p $PORT root@127.0.0.1 '$DEMOCMD'"
ssh_demo "$DEMOCMD"
echo "(the first SSH session completed $(((t1 - t0) / 1000000)) ms after crumb run started)"
"$CRUMB" stop "$NAME" >/dev/null
wait "$run_pid" || :
"$CRUMB" rm "$NAME" >/dev/null 2>&1 || :
vm_up=""

say "the boot timeline (crumb run --timing; the service is 'ready' once dropbear listens on 22)"
sed -n '/^crumb: boot timeline/,/^  first console byte/p' "$tmp/timing"
echo "console: $(grep 'host key fingerprint' "$tmp/console" || :)"

say "the image"
"$CRUMB" images | awk 'NR == 1 || $1 == "sshd"'
"$CRUMB" inspect sshd | python3 -c '
import json, sys
L = json.load(sys.stdin)[0]["Layers"]
k = sum(l["Size"] for l in L if "kernel" in l["MediaType"])
r = sum(l["Size"] for l in L if "rootfs" in l["MediaType"])
print("kernel %.1f MB + root filesystem %.2f MB (compressed): dropbear, dash, their libraries, crumb-init" % (k / 1e6, r / 1e6))'

CONNECT="ssh -p $PORT $SSHOPTS root@127.0.0.1"
[ -z "$USERKEY" ] && CONNECT="ssh -p $PORT -i $DEMOKEY $SSHOPTS root@127.0.0.1"
if [ -t 0 ]; then
	say "crumb run -d --name $NAME -p $PORT:22 sshd    (kept up until Ctrl-C)"
	"$CRUMB" run -d -q --name "$NAME" -p "127.0.0.1:$PORT:22" sshd
	vm_up=$NAME
	wait_ssh || { echo "crumb demo: the detached VM did not answer over ssh" >&2; exit 1; }
	echo
	echo "Connect with:"
	echo "    $CONNECT"
	echo "(crumb ps, crumb logs $NAME; Ctrl-C here stops the VM)"
	trap 'echo; echo "stopping $NAME"; exit 0' INT TERM
	while [ "$("$CRUMB" ps -q | grep -cx "$NAME")" = 1 ]; do sleep 1; done
	echo "$NAME ended"
else
	echo
	echo "To connect while it runs (make demo on a terminal keeps it up; or: crumb run -d -p $PORT:22 sshd):"
	echo "    $CONNECT"
	echo "(stdin is not a terminal: the VM was stopped)"
fi
