# tests/e2e/netsec.sh: the network side of the trust boundary. A guest (crumb run, or a build's
# RUN step) cannot reach a service on the host's 127.0.0.1 (passt --no-map-gw; with -p, the
# ports come in on a second card, slirp with restrict=on; an open slirp, the control, can); published ports still work; passt and QEMU die
# with crumb, kill -9 included; crumb build --network none and RUN --network=none leave the step
# without eth0.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/netsec
mkdir -p "$T"

# A service on the host's loopback that logs every connection reaching it.
LP=$(free_port)
python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $LP)); s.listen()
while True:
    c, a = s.accept(); open('$T/reached', 'a').write('reached\n'); c.close()
" &
listener=$!
for i in $(seq 1 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $LP))" 2>/dev/null && break; sleep 0.1; done
sleep 0.2
[ -s "$T/reached" ]; ok $? "the host's loopback listener logs a connection (the oracle works)"
: >"$T/reached"
# The guest tries the gateway, the DNS address and the host's own addresses.
addrs="10.0.2.2 10.0.2.3 $(hostname -I 2>/dev/null)"
probe="for a in $addrs; do echo probe | nc -w 2 \$a $LP; done"

# 1. crumb run with a published port: passt as eth0 for the guest's own traffic, the port on a
# second card (QEMU's slirp, restrict=on, 10.0.4.0/24): the probes (that network's gateway and DNS
# addresses too), the routes, then a web server.
P=$(free_port)
probe1="for a in $addrs 10.0.4.2 10.0.4.3; do echo probe | nc -w 2 \$a $LP; done; ip route"
"$CRUMB" run -q --kernel "$KERNEL" --name netsec1 -p "$P:80" --exec /bin/busybox -- \
	sh -c "$probe1; mkdir /w; echo hello >/w/i; httpd -f -p 80 -h /w" >"$T/run.out" 2>&1 &
vm=$!
body=""
for i in $(seq 1 90); do
	body=$(curl -s -m 3 "http://127.0.0.1:$P/i") && [ "$body" = hello ] && break
	kill -0 "$vm" 2>/dev/null || break
	sleep 1
done
is "$body" hello "-p $P:80 reaches busybox httpd in the guest"
is "$(cat "$T/reached")" "" "a crumb run -p guest does not reach the host's 127.0.0.1:$LP (at $addrs 10.0.4.2 10.0.4.3)"
grep -q "^default via 10.0.2.2 dev eth0" "$T/run.out" && grep -q "^10.0.4.0/24 dev eth1" "$T/run.out"
ok $? "... its own traffic goes out through eth0 (passt); eth1 only carries the published port"
kill -9 "$vm"
sleep 2
pgrep -f "vms/netsec1/" >/dev/null; is $? 1 "kill -9 of crumb leaves no QEMU behind"
"$CRUMB" rm netsec1 >/dev/null 2>&1

# 2. crumb run without published ports (passt): the probes, then it waits.
"$CRUMB" run -q --kernel "$KERNEL" --exec /bin/busybox -- sh -c "$probe; echo probed; sleep 600" \
	>"$T/run2.out" 2>&1 &
vm=$!
for i in $(seq 1 90); do
	grep -q probed "$T/run2.out" && break
	kill -0 "$vm" 2>/dev/null || break
	sleep 1
done
grep -q probed "$T/run2.out"; ok $? "a guest on passt ran the probes"
is "$(cat "$T/reached")" "" "a crumb run guest on passt does not reach the host's 127.0.0.1:$LP"
kids=$(ps -o pid=,comm= --ppid "$vm")
passt=$(echo "$kids" | awk '$2 ~ /^passt/ { print $1 }')
[ -n "$passt" ]; ok $? "one passt serves the VM, crumb's child"
kill -9 "$vm"
sleep 2
gone=1
for p in $(echo "$kids" | awk '{ print $1 }'); do kill -0 "$p" 2>/dev/null && gone=0; done
is "$gone" 1 "kill -9 of crumb leaves neither passt nor QEMU behind"

# No passt, or a passt that fails: the run fails in one line, nothing boots unnetworked.
CRUMB_PASST=/nonexistent/passt "$CRUMB" run -q --kernel "$KERNEL" --exec /bin/true 2>"$T/err"
is $? 125 "a missing passt fails the run (125)"
grep -q "passt not usable at /nonexistent/passt" "$T/err"; ok $? "... naming it"
check "... in one line" one_line_error "$T/err"
CRUMB_PASST=/bin/false "$CRUMB" run -q --kernel "$KERNEL" --exec /bin/true 2>"$T/err"
is $? 125 "a passt that exits at once fails the run (125)"
grep -q "passt (the guest's network) failed" "$T/err"; ok $? "... saying so"
check "... in one line" one_line_error "$T/err"

# The control: the same probe through QEMU's slirp reaches the host's loopback.
CRUMB_NETDEV=slirp "$CRUMB" run -q --kernel "$KERNEL" --exec /bin/busybox -- sh -c "$probe" >/dev/null 2>&1
[ -s "$T/reached" ]; ok $? "control: through QEMU's slirp (CRUMB_NETDEV=slirp) the same probe reaches it"
: >"$T/reached"

# 3. crumb build: RUN with the default network and with --network=none.
C=$T/ctx
busybox_tar "$C"
cat >"$C/Crumbfile" <<EOF
FROM ./busybox.tar
RUN grep -c eth0: /proc/net/dev > /net-default; for a in $addrs; do echo probe | nc -w 2 \$a $LP; done; true
RUN --network=none grep -c eth0: /proc/net/dev > /net-none; true
EOF
"$CRUMB" build --kernel "$KERNEL" -t netsec "$C" >"$T/b.out" 2>"$T/b.err"
ok $? "build: a default RUN, then a RUN --network=none"
diag "$(tail -3 "$T/b.err")"
R=$(skopeo inspect --raw "oci:$CRUMB_HOME:netsec:latest" |
	python3 -c 'import json,sys; m=json.load(sys.stdin); print([l["digest"] for l in m["layers"] if "rootfs" in l["mediaType"]][0])')
R=$CRUMB_HOME/blobs/sha256/${R#sha256:}
is "$("$CRUMB" fs cat "$R:/net-default")" 1 "the default RUN step has eth0"
is "$("$CRUMB" fs cat "$R:/net-none")" 0 "RUN --network=none has no eth0"
is "$(cat "$T/reached")" "" "a build's RUN step does not reach the host's 127.0.0.1:$LP"
grep -q '2 builder boots' "$T/b.err"; ok $? "... the two network modes took two boots"

# crumb build --network none: no RUN has a network; a RUN that needs one fails.
"$CRUMB" build --kernel "$KERNEL" --network none -t netsec-none "$C" >/dev/null 2>"$T/n.err"
ok $? "build --network none"
R=$(skopeo inspect --raw "oci:$CRUMB_HOME:netsec-none:latest" |
	python3 -c 'import json,sys; m=json.load(sys.stdin); print([l["digest"] for l in m["layers"] if "rootfs" in l["mediaType"]][0])')
R=$CRUMB_HOME/blobs/sha256/${R#sha256:}
is "$("$CRUMB" fs cat "$R:/net-default")" 0 "... its otherwise default RUN has no eth0"
grep -q '1 builder boot' "$T/n.err"; ok $? "... and both RUNs shared one boot"
printf 'FROM ./busybox.tar\nRUN nc -w 2 10.0.2.2 80 </dev/null\n' >"$C/Crumbfile"
"$CRUMB" build --kernel "$KERNEL" --network none "$C" >/dev/null 2>"$T/f.err"
is $? 1 "build --network none: a RUN that connects out fails"
"$CRUMB" build --kernel "$KERNEL" --network host "$C" >/dev/null 2>"$T/err"
is $? 2 "build --network host is a usage error"
check "... in one line" one_line_error "$T/err"

kill "$listener" 2>/dev/null
done_testing
