"""Starts a server and times it to the first GET that answers: the restart scripts' clock.

    python3 scripts/timed_start.py PORT KEY PREFIX OUT CMD...

Starts CMD (its stderr to OUT.log), then polls 127.0.0.1:PORT with `GET KEY` until the reply
is a bulk string starting with PREFIX (Redis answers -LOADING until its data is in memory);
writes "PID MICROSECONDS" to OUT. The server keeps running.
"""
import socket
import subprocess
import sys
import time

port, key, prefix, out, cmd = (int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode(),
                               sys.argv[4], sys.argv[5:])
req = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key)
t0 = time.perf_counter()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(out + ".log", "w"))
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port))
    except OSError:
        continue
    s.sendall(req)
    r = s.recv(200)
    s.close()
    if r.startswith(b"$") and r.split(b"\r\n", 1)[-1].startswith(prefix):
        break
us = (time.perf_counter() - t0) * 1e6
open(out, "w").write("%d %d\n" % (p.pid, us))
