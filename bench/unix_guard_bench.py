#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What the unix guard costs a call: the same loops of socket calls in a
guarded sandbox (an rw bind) and in an unguarded one, interleaved round by
round in the same run.

    bench/unix_guard_bench.py --lib BUILD/libpetri.so [--rounds 15] [--n 300]

Per call (µs, median over rounds): a pathname unix connect to a listener of
the sandbox's own (brokered when guarded), a TCP connect to a closed
loopback port (a round trip to the reaper when guarded), a unix datagram
sendto() to a pathname of its own (brokered), and a UDP sendto() (a round
trip).  Prints each median and the guarded/unguarded ratio.
"""
import argparse
import os
import statistics
import sys
import tempfile

LOOPS = r"""
import os, socket, sys, time
for p in ("/tmp/b.sock", "/tmp/d.sock"):
    if os.path.exists(p):
        os.unlink(p)
n = int(sys.argv[1])
out = {}
l = socket.socket(socket.AF_UNIX); l.bind("/tmp/b.sock"); l.listen(n + 8)
t = time.perf_counter()
for _ in range(n):
    c = socket.socket(socket.AF_UNIX); c.connect("/tmp/b.sock"); c.close(); l.accept()[0].close()
out["unix connect (pathname)"] = time.perf_counter() - t
t = time.perf_counter()
for _ in range(n):
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", 1))
    except OSError:
        pass
    c.close()
out["tcp connect (refused)"] = time.perf_counter() - t
r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); r.bind("/tmp/d.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
t = time.perf_counter()
for _ in range(n):
    s.sendto(b"x", "/tmp/d.sock"); r.recv(8)
out["unix sendto (pathname)"] = time.perf_counter() - t
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.bind(("127.0.0.1", 0)); a = v.getsockname()
t = time.perf_counter()
for _ in range(n):
    u.sendto(b"x", a); v.recv(8)
out["udp sendto"] = time.perf_counter() - t
for k, v in out.items():
    print("%s\t%.2f" % (k, v / n * 1e6))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--n", type=int, default=300)
    a = ap.parse_args()
    os.environ["PETRI_LIBRARY"] = os.path.abspath(a.lib)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bindings", "python"))
    import petri

    data = tempfile.mkdtemp(prefix="petri-guard-bench-")
    times = {"guarded": {}, "unguarded": {}}
    with petri.Sandbox(binds=["%s:/data:rw" % data]) as g, petri.Sandbox() as u:
        boxes = {"guarded": g, "unguarded": u}
        for rnd in range(a.rounds):
            order = ["guarded", "unguarded"] if rnd % 2 == 0 else ["unguarded", "guarded"]
            for name in order:
                r = boxes[name].exec(LOOPS, language="python", args=[str(a.n)])
                if r.exit_code != 0:
                    sys.exit("%s: %s" % (name, r.stderr))
                for line in r.stdout.splitlines():
                    k, v = line.split("\t")
                    times[name].setdefault(k, []).append(float(v))
    os.rmdir(data)
    print("%-26s %12s %12s %8s" % ("per call, median (µs)", "guarded", "unguarded", "ratio"))
    for k in times["guarded"]:
        gm = statistics.median(times["guarded"][k])
        um = statistics.median(times["unguarded"][k])
        print("%-26s %12.1f %12.1f %7.1fx" % (k, gm, um, gm / um))


if __name__ == "__main__":
    main()
