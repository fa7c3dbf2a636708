# tests/e2e/examples.sh: builds every examples/* image and checks it with the real client:
# hello (built by gcc in a builder stage, exit status), sshd (OpenSSH's ssh: a session, a wrong
# key refused, keys from --build-arg / the context / -e, a host key per instance, none baked in),
# httpd (curl: 200 + body, 404) and redis (redis-cli: PING, SET/GET). Detached VMs with
# published ports; readiness is a real answer from the service, retried with a deadline.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/examples
mkdir -p "$T/xdg"
export XDG_RUNTIME_DIR=$T/xdg # our own VM state root: ps sees only our VMs
top=$(cd "$(dirname "$0")/../.." && pwd)
ex=$top/examples
build() { "$CRUMB" build -q --kernel "$KERNEL" "$@"; }
started=""
# start NAME HOSTPORT:GUESTPORT IMAGE [ARGS...]: crumb run -d, remembered for the cleanup.
start() {
	vm=$1 port=$2
	shift 2
	started="$started $vm"
	"$CRUMB" run -d -q --name "$vm" -p "127.0.0.1:$port" --kernel "$KERNEL" "$@" >"$T/$vm.name" 2>"$T/$vm.run"
}
finish() { for vm in $started; do "$CRUMB" rm -f "$vm" >/dev/null 2>&1; done; }
trap finish EXIT
# stop_rm NAME: stop gracefully, then remove; passes when both work.
stop_rm() { "$CRUMB" stop "$1" >/dev/null 2>&1 && "$CRUMB" rm "$1" >/dev/null 2>&1; }
# note FILE: its last lines as TAP diagnostics, if it has any.
note() { if [ -s "$1" ]; then diag "$(tail -3 "$1")"; fi; }
rootfs_size() {
	skopeo inspect --raw "oci:$CRUMB_HOME:$1" |
		python3 -c 'import json,sys; print([l["size"] for l in json.load(sys.stdin)["layers"] if "rootfs" in l["mediaType"]][0])'
}
rootfs_of() {
	d=$(skopeo inspect --raw "oci:$CRUMB_HOME:$1" |
		python3 -c 'import json,sys; print([l["digest"] for l in json.load(sys.stdin)["layers"] if "rootfs" in l["mediaType"]][0])')
	echo "$CRUMB_HOME/blobs/sha256/${d#sha256:}"
}

# 1. hello: compiled in the builder VM, FROM scratch, one-shot, its exit status comes back.
build -t hello "$ex/hello" >/dev/null 2>"$T/err"; ok $? "build examples/hello (gcc + musl in a builder stage)"
note "$T/err"
out=$("$CRUMB" run -q --kernel "$KERNEL" hello 2>"$T/err"); r=$?
is "$r" 0 "crumb run hello: exit status 0"
echo "$out" | grep -q '^hello from a crumb microVM: Linux 6\.'; ok $? "... it printed its greeting"
"$CRUMB" run -q --kernel "$KERNEL" hello 42 >/dev/null 2>&1; is $? 42 "crumb run hello 42: exit status 42"
"$CRUMB" fs ls "$(rootfs_of hello:latest):/usr/bin" | tr -s ' \n' ' ' | grep -qx 'hello '
ok $? "the final stage holds the program alone (no compiler)"

# 2. Build the services. sshd with a key as a build arg.
ssh-keygen -q -t ed25519 -N '' -C good -f "$T/good" && ssh-keygen -q -t ed25519 -N '' -C bad -f "$T/bad"
ok $? "ssh-keygen made two throwaway ed25519 keys"
build --build-arg AUTHORIZED_KEYS="$(cat "$T/good.pub")" -t sshd "$ex/sshd" >/dev/null 2>"$T/err"
ok $? "build examples/sshd --build-arg AUTHORIZED_KEYS=..."
note "$T/err"
sz=$(rootfs_size sshd:latest)
[ "$sz" -lt 2000000 ]; ok $? "sshd's compressed root filesystem is under 2 MB ($sz bytes)"
size=$("$CRUMB" images | awk '$1 == "sshd" && $2 == "latest" { print $4, $5 }')
case $size in [0-3].[0-9]\ MB | 4.0\ MB) r=0 ;; *) r=1 ;; esac
ok $r "the sshd image is at most 4 MB as crumb images shows it ($size)"
# The busybox variant: its shell runs every applet (uname, id, cat below).
build --build-arg AUTHORIZED_KEYS="$(cat "$T/good.pub")" --build-arg SHELL_BIN=/bin/busybox \
	-t sshd-bb "$ex/sshd" >/dev/null 2>"$T/err"
ok $? "build examples/sshd --build-arg SHELL_BIN=/bin/busybox"
R=$(rootfs_of sshd:latest)
"$CRUMB" fs ls -R "$R:/" >"$T/sshd.files" 2>&1
grep -q host_key "$T/sshd.files"; is $? 1 "no host key is baked into the image"
"$CRUMB" fs cat "$R:/etc/sshd/authorized_keys.build-arg" | grep -qF "$(cat "$T/good.pub")"
ok $? "the build arg's key is in the image"
# The context's authorized_keys file instead (a copy of the example; built, not booted).
cp -r "$ex/sshd" "$T/sshdctx"
cat "$T/bad.pub" >>"$T/sshdctx/authorized_keys"
build -t sshd-ctx "$T/sshdctx" >/dev/null 2>"$T/err"; ok $? "build a copy of examples/sshd with a key in its authorized_keys"
"$CRUMB" fs cat "$(rootfs_of sshd-ctx:latest):/etc/sshd/authorized_keys" | grep -qF "$(cat "$T/bad.pub")"
ok $? "... the context's key is in the image"
build -t httpd "$ex/httpd" >/dev/null 2>"$T/err"; ok $? "build examples/httpd"
build -t redis "$ex/redis" >/dev/null 2>"$T/err"; ok $? "build examples/redis"

# 3. Boot the three services at once, detached, on free ports.
ps1=$(free_port) ph=$(free_port) pr=$(free_port)
start ssh1 "$ps1:22" sshd-bb; ok $? "crumb run -d -p $ps1:22 sshd-bb"
note "$T/ssh1.run"
start web "$ph:80" httpd; ok $? "crumb run -d -p $ph:80 httpd"
start kv "$pr:6379" redis; ok $? "crumb run -d -p $pr:6379 redis"

# sshd: a session with the right key, as root, over the real OpenSSH client.
SSH="ssh -n -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
sess() { timeout 20 $SSH -p "$1" -i "$2" root@127.0.0.1 "${3:-uname -a; id}" >"$T/ssh.out" 2>"$T/ssh.err"; }
# The server's banner first, with a short timeout: QEMU accepts a connection before the guest
# listens, and a client that connects that early can wait seconds on TCP retries.
banner() {
	python3 -c 'import socket,sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2); s.settimeout(0.2)
    sys.exit(0 if s.recv(4) == b"SSH-" else 1)
except OSError:
    sys.exit(1)' "$1"
}
ready_sess() { banner "$1" && sess "$@"; }
retry 60 ready_sess "$ps1" "$T/good"; ok $? "ssh -i good root@127.0.0.1 'uname -a; id' succeeds"
note "$T/ssh.err"
grep -q '^Linux crumb 6\.' "$T/ssh.out" && grep -q '^uid=0(root) gid=0(root)' "$T/ssh.out"
ok $? "... it ran uname and id in the guest, as root"
diag "$(cat "$T/ssh.out")"
sess "$ps1" "$T/bad"; is $? 255 "a wrong key is refused (ssh exits 255)"
grep -q 'Permission denied (publickey)' "$T/ssh.err"; ok $? "... with 'Permission denied (publickey)': no password method offered"
$SSH -p "$ps1" -o PubkeyAuthentication=no -o PasswordAuthentication=yes -o KbdInteractiveAuthentication=yes root@127.0.0.1 true 2>"$T/ssh.err"
is $? 255 "password logins are refused"
"$CRUMB" logs ssh1 | sed -n 's/.*host key fingerprint //p' | head -1 >"$T/fp1"
ssh-keyscan -t ed25519 -p "$ps1" 127.0.0.1 2>/dev/null | ssh-keygen -lf - | awk '{ print $2 }' >"$T/scan1"
[ -s "$T/fp1" ] && cmp -s "$T/fp1" "$T/scan1"; ok $? "the host key the client sees is the one this instance made at boot ($(cat "$T/fp1"))"

# httpd: curl, the baked-in page, a 404.
get() { curl -s --max-time 2 -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$ph$1" >"$T/code"; }
retry 60 get /; ok $? "curl http://127.0.0.1:$ph/ answers"
is "$(cat "$T/code")" 200 "... 200"
cmp -s "$T/body" "$ex/httpd/www/index.html"; ok $? "... with www/index.html, byte for byte"
get /no-such-page; is "$(cat "$T/code")" 404 "a missing page: 404"

# redis: redis-cli PING, SET, GET.
rping() { [ "$(timeout 2 redis-cli -p "$pr" ping 2>/dev/null)" = PONG ]; }
retry 60 rping; ok $? "redis-cli -p $pr ping: PONG"
is "$(timeout 5 redis-cli -p "$pr" set crumb "tiny vm" 2>&1)" OK "redis-cli SET"
is "$(timeout 5 redis-cli -p "$pr" get crumb 2>&1)" "tiny vm" "redis-cli GET gives the value back"

check "stop and rm httpd" stop_rm web
check "stop and rm redis" stop_rm kv

# 4. The example as it is (dash) in 32 MiB of guest memory: its own host key; a key given at
# run time (-e AUTHORIZED_KEYS); a session of shell builtins.
ps2=$(free_port)
start ssh2 "$ps2:22" -m 32M -e AUTHORIZED_KEYS="$(cat "$T/bad.pub")" sshd
ok $? "the sshd example (dash), -m 32M, with -e AUTHORIZED_KEYS=<the other key>"
note "$T/ssh2.run"
retry 60 ready_sess "$ps2" "$T/bad" true; ok $? "... the run-time key logs in"
timeout 20 $SSH -p "$ps2" -i "$T/bad" root@127.0.0.1 \
	'read -r v </proc/version; echo "$v"; while read -r k u r; do [ "$k" != Uid: ] || echo "uid=$u"; done </proc/self/status' >"$T/dash.out" 2>&1
grep -q '^Linux version 6\.' "$T/dash.out" && grep -qx 'uid=0' "$T/dash.out"
ok $? "... a session in dash's builtins, as root"
timeout 20 $SSH -p "$ps2" -i "$T/bad" root@127.0.0.1 \
	'while read -r l; do echo "$l"; done </proc/meminfo' >"$T/meminfo" 2>&1
mt=$(awk '/^MemTotal:/ { print $2 }' "$T/meminfo")
[ -n "$mt" ] && [ "$mt" -le 32768 ]; ok $? "... serving in 32 MiB (MemTotal ${mt:-?} kB)"
diag "$(grep -E '^(MemTotal|MemFree|MemAvailable|Slab):' "$T/meminfo" | tr -s ' ' | tr '\n' ' ')"
sess "$ps2" "$T/good" true; ok $? "... and the build arg's key still does"
"$CRUMB" logs ssh2 | sed -n 's/.*host key fingerprint //p' | head -1 >"$T/fp2"
[ -s "$T/fp2" ] && ! cmp -s "$T/fp1" "$T/fp2"; ok $? "... its host key differs from the first instance's"
check "stop and rm both sshd VMs" sh -c "\"$CRUMB\" stop ssh1 ssh2 >/dev/null && \"$CRUMB\" rm ssh1 ssh2 >/dev/null"
is "$("$CRUMB" ps -a -q)" "" "no VM left"
pgrep -f "$XDG_RUNTIME_DIR/crumb" >/dev/null; is $? 1 "no QEMU left"

# 5. No key anywhere: the entrypoint refuses to start a server nobody can log in to.
build -t sshd-nokey "$ex/sshd" >/dev/null 2>"$T/err"; ok $? "build examples/sshd without a key"
"$CRUMB" run -q --net none --kernel "$KERNEL" sshd-nokey >"$T/out" 2>&1; is $? 78 "crumb run: it exits 78 (EX_CONFIG)"
grep -q 'sshd-start: no authorized keys' "$T/out"; ok $? "... saying there are no authorized keys"

done_testing
