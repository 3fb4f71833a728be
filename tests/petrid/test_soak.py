# SPDX-License-Identifier: Apache-2.0
"""Soak: 10,000 create/exec/delete requests leave petrid as they found it.

After a warm-up (so that lazily made things -- the BPF audit, the egress
machinery, malloc's arenas, the worker threads -- exist), a baseline of
petrid's open fds, threads, RSS, its cgroups (petri-<pid>-*) and the mounts
of its mount namespace is taken; then 4 clients, each on one keep-alive
connection, run create/exec(/bin/true)/delete cycles until 10,000 requests
(PETRID_SOAK_REQUESTS) have been answered, every one as expected; petrid is
sampled every tenth of the way.  At the end (connections closed): fds and
threads are back to the baseline, no sandbox and no cgroup of petrid's is
left, no mount appeared, and RSS did not grow with the work: at most 4 MiB
over the baseline in all, and at most 1 MiB between the middle and the end
(a leak grows linearly, so 1 MiB over ~1,700 cycles catches ~600 bytes a
cycle; allocator noise does not).  ~25 s here (2 vCPUs); the count keeps
the whole ctest run well under its 20 minutes.
"""
import json
import os
import threading
import time

from conftest import cgroups_of, wait_for

REQUESTS = int(os.environ.get("PETRID_SOAK_REQUESTS", "10000"))
CLIENTS = 4
WARMUP_CYCLES = 100


def usage(pid):
    fds = len(os.listdir("/proc/%d/fd" % pid))
    threads = len(os.listdir("/proc/%d/task" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open("/proc/%d/mountinfo" % pid) as f:
        mounts = {line.split()[4] for line in f}
    return {"fds": fds, "threads": threads, "rss_kib": rss, "mounts": mounts,
            "cgroups": len(cgroups_of(pid))}


class Cycler:
    """One client: a keep-alive connection doing create/exec/delete."""

    def __init__(self, d):
        self.d = d
        self.conn = d.connection(timeout=60)
        self.headers = {"Authorization": "Bearer " + d.tokens["soak"],
                        "Content-Type": "application/json"}

    def call(self, method, path, body, want):
        self.conn.request(method, path, body=json.dumps(body).encode() if body else None,
                          headers=self.headers)
        r = self.conn.getresponse()
        data = r.read()
        assert r.status == want, "%s %s: %d %r" % (method, path, r.status, data[:300])
        return json.loads(data) if data else None

    def cycle(self):
        sid = self.call("POST", "/v1/sandboxes", {"language": "sh"}, 201)["id"]
        r = self.call("POST", "/v1/sandboxes/%s/exec" % sid, {"argv": ["/bin/true"]}, 200)
        assert r["exit_code"] == 0 and r["reason"] == "exited", r
        self.call("DELETE", "/v1/sandboxes/%s" % sid, None, 204)
        return 3

    def close(self):
        self.conn.close()


def test_soak_no_growth(petrid):
    d = petrid(tenants={"soak": {"max_sandboxes": 16, "max_execs": 8}})
    warm = Cycler(d)
    for _ in range(WARMUP_CYCLES):
        warm.cycle()
    warm.close()
    time.sleep(0.5)  # the warm-up connection is closed on petrid's side too
    base = usage(d.pid)
    assert base["cgroups"] == 0, base

    done = [0]
    lock = threading.Lock()
    errors = []
    samples = []

    def client():
        c = Cycler(d)
        try:
            while True:
                with lock:
                    if done[0] >= REQUESTS:
                        return
                    done[0] += 3  # claimed before it runs: the total is exact
                c.cycle()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(repr(e))
        finally:
            c.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    next_sample = REQUESTS // 10
    while any(t.is_alive() for t in threads):
        time.sleep(0.05)
        if done[0] >= next_sample:
            samples.append((done[0], usage(d.pid)))
            next_sample += REQUESTS // 10
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert not errors, errors[:5]
    assert done[0] >= REQUESTS

    # Connections closed, execs and deletes over: petrid settles back.
    assert d.request("GET", "/v1/sandboxes", tenant="soak").body == {"sandboxes": []}
    settled = wait_for(lambda: (lambda u: u if u["fds"] <= base["fds"] and
                                u["threads"] <= base["threads"] else None)(usage(d.pid)),
                       timeout=15)
    end = usage(d.pid)
    mid = min(samples, key=lambda s: abs(s[0] - REQUESTS // 2))[1] if samples else base
    report = ("%d requests in %.1f s (%.0f/s); fds %d -> %d, threads %d -> %d, RSS %d -> %d "
              "(middle %d) KiB, cgroups %d, mounts %d -> %d" % (
                  done[0], elapsed, done[0] / elapsed, base["fds"], end["fds"],
                  base["threads"], end["threads"], base["rss_kib"], end["rss_kib"],
                  mid["rss_kib"], end["cgroups"], len(base["mounts"]), len(end["mounts"])))
    print(report)
    assert settled, "petrid did not settle: " + report
    assert end["cgroups"] == 0 and not cgroups_of(d.pid), report
    new_mounts = end["mounts"] - base["mounts"]
    ours = [m for m in new_mounts if "petri" in m or m.startswith(("/tmp/", "/run/"))]
    assert not ours, "mounts appeared: %s; %s" % (sorted(ours), report)
    assert end["rss_kib"] <= base["rss_kib"] + 4 * 1024, report
    assert end["rss_kib"] <= mid["rss_kib"] + 1024, report
    # During the run: bounded by the clients, never by the requests.
    for n, u in samples:
        # a sandbox has one directory per hierarchy: unified, and on a
        # hybrid host memory, pids (and cpu with a CPU limit)
        assert u["cgroups"] <= 4 * CLIENTS, (n, u["cgroups"], report)
        assert u["fds"] <= base["fds"] + 16 * CLIENTS, (n, u["fds"], report)
