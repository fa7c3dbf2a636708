#!/usr/bin/env python3
"""tests/registry/slowproxy.py PORTFILE UPSTREAM_PORT RATE: a TCP proxy on 127.0.0.1 that
forwards to 127.0.0.1:UPSTREAM_PORT, the answers at most RATE bytes per second (16 KiB at a
time): a slow network for the resumable-pull test, since curl's own rate limit lets the first
megabytes through at once. Writes its port to PORTFILE once it listens."""
import os, socket, sys, threading, time

portfile, upstream, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
CHUNK = 16384


def pipe(src, dst, slow):
    try:
        while True:
            b = src.recv(CHUNK)
            if not b:
                break
            dst.sendall(b)
            if slow:
                time.sleep(len(b) / rate)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = srv.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHUNK)
    u = socket.create_connection(("127.0.0.1", upstream))
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHUNK)
    threading.Thread(target=pipe, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, True), daemon=True).start()
