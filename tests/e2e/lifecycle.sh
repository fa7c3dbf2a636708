# tests/e2e/lifecycle.sh: detached VMs and their state: run -d, ps, logs, stop (graceful: the
# service's TERM trap writes to a volume), kill, rm, a killed QEMU, three VMs at once, -it on a
# pty, Ctrl-C in the foreground, a stuck guest killed after the grace period, and the errors
# that must leave no QEMU and no state behind.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/lifecycle
mkdir -p "$T/xdg"
# Our own state root: ps must see only this test's VMs (and sockets want a short path).
export XDG_RUNTIME_DIR=$T/xdg
VMS=$XDG_RUNTIME_DIR/crumb/vms
BB=/bin/busybox
c() { "$CRUMB" "$@"; }
r() { "$CRUMB" run -q --kernel "$KERNEL" "$@"; }
# state NAME: the STATE column of `crumb ps -a` for NAME
state() { c ps -a | awk -v n="$1" '$1 == n { print $3 }'; }
excode() { c ps -a | awk -v n="$1" '$1 == n { print $NF }'; }
# wait_for CMD...: retries CMD for up to 20 s
wait_for() { i=0; while ! "$@" 2>/dev/null; do i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.2; done; }
no_qemu() { ! pgrep -f "$VMS/$1/ctl.sock" >/dev/null; }
trap_loop='trap "echo got-term > /data/marker; exit 0" TERM; echo started; while :; do sleep 1; done'

# -d: returns once the service runs, prints the name.
out=$(r -d --name t1 -v lvol:/data --exec $BB -- sh -c "$trap_loop" 2>"$T/err"); rc=$?
is "$rc:$out" "0:t1" "run -d prints the name and exits 0"
is "$(state t1)" running "ps shows it running"
c ps | grep -q '^t1 .*exec:/bin/busybox .*running'; ok $? "... in the default listing, with what runs"
is "$(c ps -q)" t1 "ps -q prints names only"
wait_for sh -c "\"$CRUMB\" logs t1 | grep -q started"; ok $? "logs shows the service's output"
c logs t1 | grep -q "$(printf '\002')"; is $? 1 "... with crumb-init's markers stripped"
r -d --name t1 --exec $BB -- true 2>"$T/err"; is $? 125 "a second run with the same name fails"
grep -q "name 't1' is already in use" "$T/err"; ok $? "... saying the name is in use"
check "... in one line" one_line_error "$T/err"
c rm t1 2>"$T/err"; is $? 1 "rm refuses a running VM"
check "... in one line" one_line_error "$T/err"

# stop: graceful, the trap runs and writes to the volume.
t0=$(date +%s)
is "$(c stop t1)" t1 "stop prints the name"
[ $(($(date +%s) - t0)) -lt 8 ]; ok $? "... and returns quickly (the guest stopped, no forced kill)"
is "$(state t1):$(excode t1)" "exited:0" "ps -a shows it exited with the trap's status 0"
is "$(c ps -q)" "" "ps without -a no longer lists it"
no_qemu t1; ok $? "no QEMU left"
is "$(c fs cat "$CRUMB_HOME/volumes/lvol.ext4:/marker")" got-term "the service got SIGTERM: its marker is in the volume"
c logs t1 | grep -q started; ok $? "logs still works after the end"
is "$(c rm t1)" t1 "rm removes it"
[ ! -e "$VMS/t1" ]; ok $? "... and its state directory"
is "$(r -v lvol:/data --exec $BB -- cat /data/marker)" got-term "the volume kept the file for the next run"

# A QEMU killed by a signal: recorded by the supervisor. Both killed: dead.
r -d --name t2 --exec $BB -- sleep 600 >/dev/null
qpid=$(awk '$1 == "qemu_pid" { print $2 }' "$VMS/t2/state")
spid=$(awk '$1 == "supervisor_pid" { print $2 }' "$VMS/t2/state")
kill -9 "$qpid"
wait_for sh -c "[ -e '$VMS/t2/exit' ]"
is "$(state t2):$(excode t2)" "exited:qemu:137" "kill -9 of QEMU: ps -a shows it exited, killed (137)"
r -d --name t3 --exec $BB -- sleep 600 >/dev/null
spid=$(awk '$1 == "supervisor_pid" { print $2 }' "$VMS/t3/state")
qpid=$(awk '$1 == "qemu_pid" { print $2 }' "$VMS/t3/state")
kill -9 "$spid"
wait_for sh -c "! kill -0 $qpid"; ok $? "QEMU dies with its supervisor"
is "$(state t3)" dead "supervisor and QEMU killed: ps -a shows it dead"
c stop t3 >/dev/null; is $? 0 "stop of a dead VM is a no-op"
c kill t2 2>"$T/err"; is $? 1 "kill of a VM that ended fails"
check "... in one line" one_line_error "$T/err"
c rm t2 t3 >/dev/null; is $? 0 "rm of ended VMs"

# Three at once, all up, all stop cleanly.
for v in a b cc; do r -d --name "m$v" --exec $BB -- sh -c 'trap "exit 7" TERM; while :; do sleep 1; done' >"$T/m$v.out" 2>&1 & done
wait
is "$(cat "$T/ma.out" "$T/mb.out" "$T/mcc.out" | tr '\n' ' ')" "ma mb mcc " "three detached runs started at once all came up"
is "$(c ps -q | sort | tr '\n' ' ')" "ma mb mcc " "ps lists the three running"
is "$(c stop ma mb mcc | tr '\n' ' ')" "ma mb mcc " "stop stops all three"
is "$(excode ma)$(excode mb)$(excode mcc)" 777 "... each through its TERM trap"
no_qemu ma && no_qemu mb && no_qemu mcc; ok $? "... leaving no QEMU"
c kill -s HUP ma 2>"$T/err"; is $? 2 "kill -s HUP is a usage error"
c rm -f ma mb mcc >/dev/null

# kill (SIGKILL) and --rm: the state goes when the VM ends.
r -d --rm --name t4 --exec $BB -- sleep 600 >/dev/null
is "$(c kill t4)" t4 "kill prints the name"
wait_for sh -c "[ ! -e '$VMS/t4' ]"; ok $? "--rm: the state directory goes when the VM ends"

# Foreground: unnamed runs leave nothing, named ones keep their exit status.
r --exec $BB -- true; [ -z "$(ls "$VMS")" ]; ok $? "an unnamed foreground run leaves no state"
r --name fg --exec $BB -- sh -c 'exit 3'; is $? 3 "a named foreground run exits with the program's status"
is "$(state fg):$(excode fg)" "exited:3" "... and ps -a remembers it"
c rm fg >/dev/null

# SIGTERM to a foreground crumb asks the guest to stop the service.
"$CRUMB" run -q --kernel "$KERNEL" --name sig --exec $BB -- \
	sh -c 'trap "echo trapped; exit 5" TERM; echo up; while :; do sleep 1; done' >"$T/sig.out" 2>"$T/sig.err" &
pid=$!
wait_for grep -q up "$T/sig.out"
kill -TERM $pid
wait $pid; rc=$?
is "$rc:$(grep -c trapped "$T/sig.out")" "5:1" "SIGTERM to crumb run: the service's trap runs, its status is crumb's"
c rm sig >/dev/null

# A guest that cannot answer (QEMU stopped): one SIGTERM, then the grace period (the stop timeout,
# 0 here, plus 5 s) ends in a kill, with one line saying so.
"$CRUMB" run -q --kernel "$KERNEL" --name hang --stop-timeout 0 --exec $BB -- \
	sh -c 'echo up; while :; do sleep 1; done' >"$T/hang.out" 2>"$T/hang.err" &
pid=$!
wait_for grep -q up "$T/hang.out"
qpid=$(pgrep -f "qemu-system.*$VMS/hang/")
kill -STOP $qpid
start=$(date +%s)
kill -TERM $pid
wait $pid
took=$(($(date +%s) - start))
[ "$took" -ge 4 ] && [ "$took" -le 15 ]; ok $? "SIGTERM, guest stuck: crumb run ends after the grace period (${took}s)"
grep -q "the guest did not stop in time: killing the VM" "$T/hang.err"; ok $? "... saying it kills the VM"
kill -0 "$qpid" 2>/dev/null; is $? 1 "... and QEMU is gone"
c rm -f hang >/dev/null 2>&1

# -it on a pty: a shell in the VM, arithmetic, Ctrl-C to the guest, exit status.
cat >"$T/drive_pty.py" <<'EOF'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def pump(t, want=None):
    global out
    end = time.time() + t
    while time.time() < end:
        if want and want in out:
            return
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return
            if not d:
                return
            out += d
pump(30, b"# ")
os.write(fd, b"echo $((6*7))\r")
pump(10, b"42")
os.write(fd, b"sleep 60\r")
pump(1)
os.write(fd, b"\x03")
pump(10, b"^C")
os.write(fd, b"echo after-int; exit 3\r")
pump(20)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode("latin-1").replace("\r", ""))
print("status=%d" % os.waitstatus_to_exitcode(st))
EOF
out=$(timeout 90 python3 "$T/drive_pty.py" "$CRUMB" run -q -it --kernel "$KERNEL" --exec $BB -- sh)
echo "$out" | grep -qx 42; ok $? "-it: the guest's shell computes \$((6*7))"
echo "$out" | grep -qx after-int; ok $? "-it: Ctrl-C interrupted the guest's sleep, not crumb"
echo "$out" | grep -qx status=3; ok $? "-it: exit 3 in the guest is crumb's status"
is "$(printf 'one\ntwo\n' | r -i --exec $BB -- cat | tr '\n' ' ')" "one two " "-i: stdin reaches the service once (no echo, as docker run -i), EOF ends it"

# Errors: one line, non-zero, no QEMU, no state.
# A port held by someone else (bound here, so no other test can take it meanwhile).
python3 -c "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1]); sys.stdout.flush(); time.sleep(60)" >"$T/port" &
holder=$!
wait_for test -s "$T/port"
P=$(cat "$T/port")
r -d --name e1 -p "$P:80" --exec $BB -- sleep 9 2>"$T/err"; is $? 125 "-d with a busy port exits 125"
grep -q "port $P on 127.0.0.1 is already in use" "$T/err" && one_line_error "$T/err"; ok $? "... one line saying which port"
kill $holder
r -d nosuch-image 2>"$T/err"; is $? 125 "a missing image exits 125"
grep -q "no image 'nosuch-image:latest'\|no image 'nosuch-image'" "$T/err" && one_line_error "$T/err"; ok $? "... one line naming it"
r -d -v relative:path --exec $BB -- true 2>"$T/err"; is $? 125 "-v with a relative guest path exits 125"
check "... one-line error" one_line_error "$T/err"
r -d -v /no/such/dir:/x --exec $BB -- true 2>"$T/err"; is $? 125 "-v with a missing host path exits 125"
check "... one-line error" one_line_error "$T/err"
r --name 'bad/name' --exec $BB -- true 2>"$T/err"; is $? 125 "a bad --name exits 125"
r -d --name e2 --exec /no/such/program 2>"$T/err"; is $? 125 "a missing program exits 125"
c stop nosuch 2>"$T/err"; is $? 1 "stop of an unknown name exits 1"
grep -q "no VM named 'nosuch'" "$T/err" && one_line_error "$T/err"; ok $? "... one line saying so"
c logs nosuch 2>"$T/err"; is $? 1 "logs of an unknown name exits 1"
c rm nosuch 2>"$T/err"; is $? 1 "rm of an unknown name exits 1"
is "$(ls "$VMS")" "" "no state directory left by any failure"
pgrep -f "$VMS/" >/dev/null; is $? 1 "no QEMU left by any failure"
done_testing
