# tests/e2e/net.sh: guest networking and published ports: a web server in the VM answers curl on
# the host; eth0, route and resolv.conf in the guest; --net none; busy and malformed ports.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/net
mkdir -p "$T"
run() { "$CRUMB" run -q --kernel "$KERNEL" "$@"; }

# The guest's view: eth0 with the default route via 10.0.2.2, and a resolv.conf.
show='while read i d g r; do [ "$d" = 00000000 ] && echo "$i $g"; done < /proc/net/route; read n < /etc/resolv.conf; echo "$n"'
hosts='while read a n; do case $n in db.local|v6|gw) echo "$a $n";; esac; done </etc/hosts'
out=$(run --add-host db.local:10.1.2.3 --add-host v6=[::1] --add-host gw:host-gateway --exec /bin/sh -- -c "$show; $hosts"); r=$?
is "$r" 0 "a guest with the default network exits 0"
is "$(echo "$out" | head -2)" "$(printf 'eth0 0202000A\nnameserver 10.0.2.3')" "eth0 has the default route via 10.0.2.2, resolv.conf names 10.0.2.3"
is "$(echo "$out" | sed -n 3,4p)" "$(printf '10.1.2.3 db.local\n::1 v6')" "--add-host HOST:IP and HOST=[IPv6] are in /etc/hosts"
echo "$out" | sed -n 5p | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ gw$' | grep -qv '^127\.'
ok $? "--add-host gw:host-gateway: a non-loopback IPv4 address of the host ($(echo "$out" | sed -n 5p))"
# host-gateway reaches the host's services on 0.0.0.0 through passt, by name (glibc reads /etc/hosts).
G=$(free_port)
python3 -m http.server "$G" --bind 0.0.0.0 --directory "$T" >/dev/null 2>&1 &
gsrv=$!
for i in $(seq 1 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $G)).close()" 2>/dev/null && break
	sleep 0.1
done
out=$(run --add-host gw.test:host-gateway --exec /usr/bin/curl -- -s -m 20 -o /dev/null -w '%{http_code}' "http://gw.test:$G/")
is "$out" 200 "curl in the guest reaches a host server on 0.0.0.0 as gw.test (--add-host gw.test:host-gateway)"
kill "$gsrv" 2>/dev/null
out=$(run --net none --exec /bin/sh -- -c "$show" 2>&1)
is "$out" "/bin/sh: 1: cannot open /etc/resolv.conf: No such file" "--net none: no route, no resolv.conf"

# A real server in the VM, reached from the host with curl through -p.
P=$(free_port)
"$CRUMB" run -q --kernel "$KERNEL" --rm --name netsrv -p "$P:8000" --exec /usr/bin/python3 --add /usr/lib/python3.11 \
	-- -m http.server 8000 >"$T/server.out" 2>&1 &
pid=$!
code=000
# QEMU's user networking accepts on the host side before the guest listens, so
# only a real HTTP answer proves readiness (see NOTES.md).
for i in $(seq 1 90); do
	code=$(curl -s -m 3 -o "$T/page" -w '%{http_code}' "http://127.0.0.1:$P/") && [ "$code" = 200 ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 1
done
is "$code" 200 "curl gets 200 from python3 -m http.server in the VM (-p $P:8000)"
grep -q 'href="etc/"' "$T/page"; ok $? "... with the guest's directory listing"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/no/such/file")
is "$code" 404 "... and 404 for a missing file"

Q=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', $Q)); s.listen(); time.sleep(60)" &
holder=$!
# wait until it really holds the port (a loaded machine starts python3 slowly)
for i in $(seq 1 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $Q)).close()" 2>/dev/null && break
	sleep 0.1
done
run -p "$Q:80" --exec /bin/true 2>"$T/err"; is $? 125 "a busy host port exits 125 before booting"
grep -q "port $Q on 127.0.0.1 is already in use" "$T/err"; ok $? "... saying which port"
check "... in one line" one_line_error "$T/err"
kill "$holder" 2>/dev/null

kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
sleep 1
pgrep -f "vms/netsrv/" >/dev/null; is $? 1 "stopping crumb leaves no QEMU behind"
pgrep -f "passt .*127.0.0.1/$P:8000" >/dev/null; is $? 1 "... and no passt"

run -p 80 --exec /bin/true 2>"$T/err"; is $? 125 "-p without a guest port exits 125"
check "... one-line error" one_line_error "$T/err"
run -p 1.2.3:80:80 --exec /bin/true 2>"$T/err"; is $? 125 "-p with a bad address exits 125"
run -p 70000:80 --exec /bin/true 2>"$T/err"; is $? 125 "-p with a port out of range exits 125"
run --net none -p 8080:80 --exec /bin/true 2>"$T/err"; is $? 125 "-p with --net none is a usage error"
run --net tap --exec /bin/true 2>"$T/err"; is $? 125 "--net tap is refused"
run --add-host db_x:10.1.2.3 --exec /bin/true 2>"$T/err"; is $? 125 "--add-host with a bad host name exits 125"
grep -q "add-host db_x:10.1.2.3: 'db_x' is not a host name" "$T/err"; ok $? "... naming the value"
check "... in one line" one_line_error "$T/err"
run --add-host db:10.1.2 --exec /bin/true 2>"$T/err"; is $? 125 "--add-host with a bad address exits 125"
grep -q "'10.1.2' is not an IPv4 or IPv6 address" "$T/err"; ok $? "... naming it"
run --net none --add-host gw:host-gateway --exec /bin/true 2>"$T/err"; is $? 125 "--add-host host-gateway with --net none exits 125"
grep -q "host-gateway needs a network" "$T/err"; ok $? "... saying why"
done_testing
