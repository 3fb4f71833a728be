#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""petrid vs the in-process library, side by side in one run.

    /usr/bin/python3 bench/petrid_bench.py [--build build] [--rounds 300]
                                           [--seconds 10] [--clients 1,4,16] [--json FILE]

1. Added latency.  Each round runs one sandbox cycle in process (the Python
   binding: Sandbox(language="sh"), run(["/bin/true"]), close()) and one
   over petrid on loopback (POST /v1/sandboxes, POST .../exec with argv
   /bin/true, DELETE), in alternating order, each step timed on its own.
   Reported: the medians, and the median over rounds of petrid's time minus
   the library's in the same round (the added latency; target <= 1 ms).
   Both sides are driven from this Python process, so petrid's numbers
   include the client's http.client and json work (what an SDK pays).
2. Throughput.  N clients (threads; each keeps one HTTP connection alive)
   loop create/exec/delete for --seconds; the same with N threads calling the
   library.  Reported: requests per second (a cycle is three requests),
   p50/p99 per request kind.
3. petrid's own fds, threads and RSS before and after.
4. With --pool W (default 8; 0: skip): a second petrid whose config has
   "warm": {"sh": W}, and a library Context(warm={"sh": W}).  Interleaved
   rounds of the cycle on petrid, pooled petrid and the pooled library,
   each step timed (the pooled create figure), then the throughput of the
   pooled petrid for each client count; petrid's pool counts from /metrics.

The library side disables the binding's main-thread helper hop (an internal
knob, ~0.1 ms per exec, there for Ctrl-C) so that it measures the library,
not the binding.  petrid is started here with a config of its own on a free
127.0.0.1 port in 20000-29999 and stopped (SIGTERM) at the end.
"""

import argparse
import hashlib
import http.client
import json
import os
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    for _ in range(200):
        port = random.randint(20000, 29999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


class Petrid:
    """A petrid on loopback with one tenant allowed enough for the bench."""

    def __init__(self, binary, max_sandboxes=64, max_execs=64, warm=None):
        self.dir = tempfile.mkdtemp(prefix="petrid-bench-")
        self.token = "bench-" + secrets.token_hex(16)
        self.admin = "admin-" + secrets.token_hex(16)
        self.port = free_port()
        cfg = {
            "admin_token_sha256": hashlib.sha256(self.admin.encode()).hexdigest(),
            "listen": ["127.0.0.1:%d" % self.port],
            "max_execs": max_execs,
            "max_connections": 1024,
            "tenants": {"bench": {
                "token_sha256": hashlib.sha256(self.token.encode()).hexdigest(),
                "max_sandboxes": max_sandboxes, "max_execs": max_execs,
                "max_memory": "1T"}},
        }
        if warm:
            cfg["warm"] = warm
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.log = open(os.path.join(self.dir, "petrid.log"), "wb")
        self.proc = subprocess.Popen([binary, "--config", path], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("petrid exited %d: %s" % (self.proc.returncode, self.logtext()))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    c.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("petrid not ready: " + self.logtext())
            time.sleep(0.05)

    def get(self, path, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def wait_pool_full(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, body = self.get("/healthz")
            if st == 200 and json.loads(body).get("pool_full"):
                return
            time.sleep(0.05)
        raise RuntimeError("petrid's pool not full in %ds" % timeout)

    def pool_counts(self):
        _, body = self.get("/metrics", self.admin)
        out = {}
        for line in body.decode().splitlines():
            if line.startswith("petrid_pool_") and 'language="sh"' in line:
                out[line.split("{")[0][len("petrid_pool_"):]] = int(line.split()[-1])
        return out

    def logtext(self):
        with open(os.path.join(self.dir, "petrid.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        return rc

    def usage(self):
        pid = self.proc.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        threads = len(os.listdir("/proc/%d/task" % pid))
        rss = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return {"fds": fds, "threads": threads, "rss_kib": rss}


class Client:
    """One keep-alive HTTP connection to petrid."""

    def __init__(self, port, token):
        self.port = port
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None, want=200):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # the server closed an idle keep-alive connection: once more
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        if resp.status != want:
            raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, payload[:300]))
        return json.loads(payload) if payload else None

    def create(self):
        return self.call("POST", "/v1/sandboxes", {"language": "sh"}, 201)["id"]

    def exec_true(self, sid):
        r = self.call("POST", "/v1/sandboxes/%s/exec" % sid, {"argv": ["/bin/true"]})
        if r["exit_code"] != 0:
            raise RuntimeError("exec: %r" % r)

    def delete(self, sid):
        self.call("DELETE", "/v1/sandboxes/%s" % sid, want=204)

    def close(self):
        self.conn.close()


def lib_cycle(petri, clock, context=None):
    t0 = clock()
    sb = petri.Sandbox(language="sh", context=context)
    t1 = clock()
    r = sb.run(["/bin/true"])
    t2 = clock()
    sb.close()
    t3 = clock()
    if r.exit_code != 0:
        raise RuntimeError("library exec: %r" % r)
    return t1 - t0, t2 - t1, t3 - t2


def petrid_cycle(client, clock):
    t0 = clock()
    sid = client.create()
    t1 = clock()
    client.exec_true(sid)
    t2 = clock()
    client.delete(sid)
    t3 = clock()
    return t1 - t0, t2 - t1, t3 - t2


def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def ms(x):
    return "%.2f" % (x * 1e3)


OPS = ("create", "exec", "delete")


def latency(petri, client, rounds, warmup):
    clock = time.perf_counter
    lib = {op: [] for op in OPS}
    pd = {op: [] for op in OPS}
    diff = {op: [] for op in OPS + ("cycle",)}
    for i in range(warmup + rounds):
        if i % 2:
            a = petrid_cycle(client, clock)
            b = lib_cycle(petri, clock)
        else:
            b = lib_cycle(petri, clock)
            a = petrid_cycle(client, clock)
        if i < warmup:
            continue
        for k, op in enumerate(OPS):
            pd[op].append(a[k])
            lib[op].append(b[k])
            diff[op].append(a[k] - b[k])
        diff["cycle"].append(sum(a) - sum(b))
    return lib, pd, diff


def load(kind, n, seconds, petri, port, token):
    """@n threads doing cycles for @seconds; latencies per op and the count."""
    lat = {op: [] for op in OPS}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors = []
    start = threading.Barrier(n + 1)

    def worker():
        clock = time.perf_counter
        client = Client(port, token) if kind == "petrid" else None
        mine = {op: [] for op in OPS}
        start.wait()
        try:
            while time.monotonic() < stop:
                t = petrid_cycle(client, clock) if client else lib_cycle(petri, clock)
                for k, op in enumerate(OPS):
                    mine[op].append(t[k])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            if client:
                client.close()
        with lock:
            for op in OPS:
                lat[op].extend(mine[op])

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError("%s N=%d: %s" % (kind, n, errors[:3]))
    requests = sum(len(v) for v in lat.values())
    return {"requests": requests, "seconds": elapsed, "rps": requests / elapsed,
            "p50": {op: pct(lat[op], 50) for op in OPS},
            "p99": {op: pct(lat[op], 99) for op in OPS},
            "all_p50": pct(sum(lat.values(), []), 50), "all_p99": pct(sum(lat.values(), []), 99)}


def pooled_latency(petri, pctx, plain, pooled, rounds, warmup):
    """Rounds of the cycle on petrid, pooled petrid and the pooled library,
    in an order that rotates; each step timed."""
    clock = time.perf_counter
    sides = ("petrid", "petrid pooled", "library pooled")
    t = {k: {op: [] for op in OPS + ("cycle",)} for k in sides}
    run = {"petrid": lambda: petrid_cycle(plain, clock),
           "petrid pooled": lambda: petrid_cycle(pooled, clock),
           "library pooled": lambda: lib_cycle(petri, clock, pctx)}
    for i in range(warmup + rounds):
        for j in range(len(sides)):
            k = sides[(i + j) % len(sides)]
            v = run[k]()
            if i >= warmup:
                for n, op in enumerate(OPS):
                    t[k][op].append(v[n])
                t[k]["cycle"].append(sum(v))
    return {k: {op: statistics.median(x) * 1e3 for op, x in t[k].items()} for k in sides}


def machine():
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024 // 1024
    try:
        with open("/etc/os-release") as f:
            osr = dict(line.rstrip().split("=", 1) for line in f if "=" in line)
        distro = osr.get("PRETTY_NAME", "").strip('"')
    except OSError:
        distro = "?"
    return "Linux %s %s, %d CPUs, %d GiB, %s, load average %s" % (
        platform.release(), platform.machine(), os.cpu_count(), mem, distro,
        " ".join("%.2f" % x for x in os.getloadavg()))


def pooled_section(petri, plain_d, args, clients):
    """Section 4: the pooled petrid and library beside the plain petrid."""
    pd2 = Petrid(os.path.join(args.build, "petrid"), max_sandboxes=max(64, 2 * max(clients)),
                 max_execs=max(64, 2 * max(clients)), warm={"sh": args.pool})
    pctx = petri.Context(warm={"sh": args.pool})
    res = {}
    try:
        pd2.wait_pool_full()
        if not pctx.pool_wait(120):
            raise RuntimeError("the library's pool did not fill")
        load0 = " ".join("%.2f" % x for x in os.getloadavg())
        plain, pooled = Client(plain_d.port, plain_d.token), Client(pd2.port, pd2.token)
        c0 = pd2.pool_counts()
        res["latency_ms"] = pooled_latency(petri, pctx, plain, pooled, args.rounds, args.warmup)
        plain.close()
        pooled.close()
        res["loadavg"] = "%s before, %s after" % (load0, " ".join("%.2f" % x for x in os.getloadavg()))
        res["throughput"] = {}
        for n in clients:
            pd2.wait_pool_full()
            res["throughput"]["petrid_pooled_%d" % n] = load("petrid", n, args.seconds, petri,
                                                             pd2.port, pd2.token)
        c1 = pd2.pool_counts()
        res["counts"] = {k: c1[k] - c0.get(k, 0) if k.endswith("_total") else c1[k] for k in sorted(c1)}
    finally:
        pctx.close()
        res["exit"] = pd2.stop()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--pool", type=int, default=8,
                    help='the pooled section: "warm": {"sh": N} (0: skip it)')
    args = ap.parse_args()

    os.environ.setdefault("PETRI_LIBRARY", os.path.join(args.build, "libpetri.so"))
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import petri  # noqa: E402
    import petri.sandbox  # noqa: E402

    petri.sandbox._interruptible_main = False
    clients = [int(x) for x in args.clients.split(",") if x]
    d = Petrid(os.path.join(args.build, "petrid"), max_sandboxes=max(64, 2 * max(clients)),
               max_execs=max(64, 2 * max(clients)))
    out = {"machine": machine(), "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
           "rounds": args.rounds}
    try:
        before = d.usage()
        client = Client(d.port, d.token)
        lib, pd, diff = latency(petri, client, args.rounds, args.warmup)
        client.close()
        out["latency_ms"] = {
            op: {"library": statistics.median(lib[op]) * 1e3,
                 "petrid": statistics.median(pd[op]) * 1e3,
                 "added_median": statistics.median(diff[op]) * 1e3,
                 "added_p90": pct(diff[op], 90) * 1e3,
                 "petrid_p99": pct(pd[op], 99) * 1e3}
            for op in OPS}
        out["latency_ms"]["cycle"] = {"added_median": statistics.median(diff["cycle"]) * 1e3}
        out["load"] = {}
        for n in clients:
            for kind in ("library", "petrid"):
                out["load"]["%s_%d" % (kind, n)] = load(kind, n, args.seconds, petri, d.port,
                                                         d.token)
        out["petrid_before"] = before
        out["petrid_after"] = d.usage()
        if args.pool:
            out["pool"] = pooled_section(petri, d, args, clients)
    finally:
        rc = d.stop()
    out["petrid_exit"] = rc

    print("machine: %s; %s" % (out["machine"], out["date"]))
    print("\nlatency, %d interleaved rounds (ms, medians):" % args.rounds)
    print("| step | library | petrid | added (median of per-round differences) | added p90 | petrid p99 |")
    print("|---|---|---|---|---|---|")
    for op in OPS:
        v = out["latency_ms"][op]
        print("| %s | %.2f | %.2f | **%.2f** | %.2f | %.2f |" % (
            op, v["library"], v["petrid"], v["added_median"], v["added_p90"], v["petrid_p99"]))
    print("| whole cycle | | | **%.2f** | | |" % out["latency_ms"]["cycle"]["added_median"])
    print("\nthroughput, create/exec/delete cycles, %.0f s each:" % args.seconds)
    print("| clients | side | requests/s | p50 create/exec/delete (ms) | p99 create/exec/delete (ms) |")
    print("|---|---|---|---|---|")
    for n in clients:
        for kind in ("library", "petrid"):
            v = out["load"]["%s_%d" % (kind, n)]
            print("| %d | %s | %.0f | %s | %s |" % (
                n, kind, v["rps"], " / ".join(ms(v["p50"][op]) for op in OPS),
                " / ".join(ms(v["p99"][op]) for op in OPS)))
    print("\npetrid before: %(fds)d fds, %(threads)d threads, %(rss_kib)d KiB RSS" %
          out["petrid_before"])
    print("petrid after:  %(fds)d fds, %(threads)d threads, %(rss_kib)d KiB RSS" %
          out["petrid_after"])
    print("petrid exit status on SIGTERM: %d" % rc)
    if args.pool:
        p = out["pool"]
        print("\npooled (warm {\"sh\": %d}), %d interleaved rounds (ms, medians); load average %s:"
              % (args.pool, args.rounds, p["loadavg"]))
        print("| step | petrid | petrid pooled | library pooled | petrid pooled / petrid |")
        print("|---|---|---|---|---|")
        for op in OPS + ("cycle",):
            a, b, c = (p["latency_ms"][k][op] for k in ("petrid", "petrid pooled", "library pooled"))
            print("| %s | %.2f | **%.2f** | %.2f | %.2fx |" % (op, a, b, c, b / a))
        print("\npooled petrid throughput, create/exec/delete cycles, %.0f s each:" % args.seconds)
        print("| clients | requests/s | p50 create/exec/delete (ms) | p99 create/exec/delete (ms) |")
        print("|---|---|---|---|")
        for n in clients:
            v = p["throughput"]["petrid_pooled_%d" % n]
            print("| %d | %.0f | %s | %s |" % (
                n, v["rps"], " / ".join(ms(v["p50"][op]) for op in OPS),
                " / ".join(ms(v["p99"][op]) for op in OPS)))
        print("pooled petrid's pool over the run (sh): %s" % p["counts"])
        print("pooled petrid exit status on SIGTERM: %d" % p["exit"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
