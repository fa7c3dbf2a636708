#!/usr/bin/env python3
# bench/ready.py: the clock for bench/boot.sh's "first answer" table. Starts one command (a
# `crumb run`), and measures on the host's monotonic clock, from just before the start, until:
#   exit                the command exits (for /bin/true)
#   http PORT           the first HTTP status line from 127.0.0.1:PORT (a new connection every
#                       10 ms, several in flight: QEMU's slirp accepts a connection before the
#                       guest listens, so only an answer counts)
#   ssh PORT KEY        the first SSH banner, then a real session (`ssh ... true` with KEY) that
#                       succeeds; prints the session's end
# then stops the command (SIGTERM, then SIGKILL after 20 s) and prints one line: seconds, or
# "fail REASON". Usage: ready.py exit|http PORT|ssh PORT KEY -- COMMAND...
import os
import select
import signal
import socket
import subprocess
import sys
import time

LIMIT = 60.0


def probe(port, want, t0, proc):
    """Seconds from t0 until a connection to port receives bytes starting with want."""
    conns, last = {}, 0.0
    while time.monotonic() - t0 < LIMIT:
        if proc.poll() is not None:
            raise RuntimeError("command exited with %d before answering" % proc.returncode)
        now = time.monotonic()
        if now - last >= 0.01:
            last = now
            # A connection made before the guest listened may hang (slirp accepted it): keep
            # opening one every 10 ms and give up on the oldest beyond 16, so hung ones never
            # hold the clock back.
            while len(conns) >= 16:
                old = min(conns, key=lambda k: conns[k][0])
                old.close()
                del conns[old]
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                s = None
            if s:
                conns[s] = [now, False, b""]
        r, w, _ = select.select(list(conns), [k for k, v in conns.items() if not v[1]], [], 0.005)
        for s in w:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                s.close()
                del conns[s]
                continue
            conns[s][1] = True
            if want == b"HTTP/":
                try:
                    s.send(b"GET / HTTP/1.0\r\n\r\n")
                except OSError:
                    s.close()
                    del conns[s]
        for s in r:
            if s not in conns:
                continue
            try:
                data = s.recv(64)
            except OSError:
                data = b""
            if not data:
                s.close()
                del conns[s]
                continue
            conns[s][2] += data
            if conns[s][2].startswith(want):
                t = time.monotonic() - t0
                for k in conns:
                    k.close()
                return t
        for s, v in list(conns.items()):
            if now - v[0] > 2.0:  # a connection slirp accepted for a guest not yet listening
                s.close()
                del conns[s]
    raise RuntimeError("no answer in %.0f s" % LIMIT)


def ssh_session(port, key, t0, proc):
    probe(port, b"SSH-", t0, proc)
    while time.monotonic() - t0 < LIMIT:
        r = subprocess.run(["ssh", "-q", "-p", str(port), "-i", key, "-o", "BatchMode=yes",
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "ConnectTimeout=10", "root@127.0.0.1", "true"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError("no SSH session in %.0f s" % LIMIT)


def main(argv):
    if "--" not in argv:
        sys.exit("usage: ready.py exit|http PORT|ssh PORT KEY -- COMMAND...")
    i = argv.index("--")
    mode, cmd = argv[:i], argv[i + 1:]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.environ.get("READY_ERR", os.devnull), "w"))
    try:
        if mode[0] == "exit":
            rc = proc.wait(timeout=LIMIT)
            t = time.monotonic() - t0
            if rc:
                raise RuntimeError("command exited with %d" % rc)
        elif mode[0] == "http":
            t = probe(int(mode[1]), b"HTTP/", t0, proc)
        else:
            t = ssh_session(int(mode[1]), mode[2], t0, proc)
        print("%.4f" % t)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("fail %s" % e)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


main(sys.argv[1:])
