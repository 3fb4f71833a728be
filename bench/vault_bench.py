#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""vault_bench.py - TenantVault (issue 13): what a secret costs per request.
The same HTTPS client, sending "Authorization: Bearer $BENCH_TOKEN" to a
server that answers 401 unless it gets the real value, side by side in one
run (bench/egress_bench.py's method and server):

  host     petri run --net host: the sandbox on the host's network, dialling
           127.0.0.1 itself, BENCH_TOKEN the real value (the baseline)
  tunnel   petri run --net proxy --allow bench.test:PORT=127.0.0.1, no
           secret: through the explicit proxy (CONNECT), BENCH_TOKEN the
           real value (in the sandbox: for this benchmark only); the proxy
           copies TLS bytes it cannot read
  vault    the same with --secret BENCH_TOKEN@bench.test:PORT and
           --upstream-ca: BENCH_TOKEN is the placeholder; the proxy
           terminates TLS with the sandbox's CA, puts the value in, opens
           (or reuses) its own TLS to the server, scrubs the response
  bare     the client with no sandbox (a reference, not a side)

A 401 anywhere fails the run: the vault rows are only printed if every
request really carried the substituted value.

Workloads (timed inside the sandbox by the client; the sandbox's start and
teardown are not in it):

  keepalive  one curl with 1,000 URLs of a 512-byte file on one connection:
             a TLS handshake once, then 1,000 requests (no new handshake)
  newconn    1,000 urllib.request.urlopen() calls: a new TCP and TLS
             connection each (with the vault: a new handshake with the
             proxy's certificate each, and whatever upstream connection
             the proxy makes or reuses)

Rounds are interleaved (each round runs every variant once, in a rotating
order); reported: medians, and the median over rounds of each variant's
per-request difference from host in the same round.  The issue's target:
vault adds at most 2 ms per request over host on loopback, handshake
included (newconn).

Then the proxy's CPU (unless --no-cpu): an in-process driver (the Python
binding over this build's libpetri.so) runs the same client in
Sandbox(net=..., secrets=...) and reads, around the exec, getrusage
(RUSAGE_SELF: every thread of the host process, not the sandbox's) and the
CPU clock of the threads the first proxied sandbox started (the proxy's),
as egress_bench.py does.  CPU per request = that / requests.

Everything runs under env -i PATH=/usr/bin:/bin (the script re-executes
itself).  Needs nginx, openssl, curl, and a build with the vault (--build,
default build/).

Usage: bench/vault_bench.py [--build DIR] [--rounds N] [--newconn-rounds N]
       [--requests N] [--variants host,tunnel,vault,bare]
       [--workloads keepalive,newconn] [--cpu-rounds N] [--no-cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# egress_bench.py sits beside this script (in bench/, and in the directory
# the sandbox sees, where it is copied).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import egress_bench as eb  # noqa: E402  (certificates, nginx's helpers, CPU clocks)

HOST = eb.HOST  # bench.test
NAME = "BENCH_TOKEN"
SMALL_BYTES = 512
CLEAN_ENV = eb.CLEAN_ENV
INSIDE = "/bench"
TARGET_US = 2000


# ---------------------------------------------------------------------------
# The client: runs inside the sandbox (or bare), prints one JSON line.
# ---------------------------------------------------------------------------


def bundle(d: str) -> str:
    """The client's trust: the default bundle (inside a vault sandbox, the
    host's CAs plus the sandbox's CA) plus the test CA of the server."""
    out = "/tmp/vault-bench-bundle.pem"
    with open(out, "w") as f:
        for p in (os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt",
                  os.path.join(d, "ca.pem")):
            with open(p) as g:
                f.write(g.read() + "\n")
    return out


def client_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="vault_bench.py --client")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--resolve", default=None, help="dial this address for bench.test")
    ap.add_argument("workload", choices=["keepalive", "newconn"])
    ap.add_argument("--n", type=int, default=1000)
    a = ap.parse_args(argv)
    token = os.environ[NAME]
    ca = bundle(a.dir)
    url = "https://%s:%d/small.bin" % (HOST, a.port)
    if a.workload == "keepalive":
        cfg = "/tmp/vault-bench-urls.cfg"
        with open(cfg, "w") as f:
            f.write('header = "Authorization: Bearer %s"\n' % token)
            for _ in range(a.n):
                f.write('url = "%s"\noutput = "/dev/null"\n' % url)
        cmd = ["curl", "-sS", "--cacert", ca, "--http1.1", "-w", "%{http_code} %{size_download}\\n",
               "-K", cfg]
        if a.resolve:
            cmd += ["--resolve", "%s:%d:%s" % (HOST, a.port, a.resolve)]
        t0 = time.perf_counter_ns()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t1 = time.perf_counter_ns()
        lines = p.stdout.decode().split()
        codes, sizes = lines[0::2], [int(x) for x in lines[1::2]]
        if p.returncode != 0 or len(codes) != a.n or set(codes) != {"200"} or \
                any(s != SMALL_BYTES for s in sizes):
            print("curl: exit %d, %d of %d, codes %s: %s" % (
                p.returncode, len(codes), a.n, sorted(set(codes)),
                p.stderr.decode(errors="replace")[-300:]), file=sys.stderr)
            return 1
        print(json.dumps({"ms": (t1 - t0) / 1e6, "n": a.n}))
        return 0
    import socket
    import ssl
    import urllib.error
    import urllib.request

    if a.resolve:
        real = socket.getaddrinfo

        def pinned(host, *rest, **kw):
            return real(a.resolve if host == HOST else host, *rest, **kw)

        socket.getaddrinfo = pinned
    ctx = ssl.create_default_context(cafile=ca)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx))
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    t0 = time.perf_counter_ns()
    for _ in range(a.n):
        try:
            with opener.open(req, timeout=30) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            print("urllib: status %d" % e.code, file=sys.stderr)
            return 1
        if r.status != 200 or len(body) != SMALL_BYTES:
            print("urllib: status %d, %d bytes" % (r.status, len(body)), file=sys.stderr)
            return 1
    t1 = time.perf_counter_ns()
    print(json.dumps({"ms": (t1 - t0) / 1e6, "n": a.n}))
    return 0


# ---------------------------------------------------------------------------
# The server: nginx, 401 without the real value.
# ---------------------------------------------------------------------------


def start_nginx(priv: str, www: str, port: int, value: str) -> subprocess.Popen:
    return eb.start_nginx(priv, www, port, prog="vault_bench", location="""
        location / {
            if ($http_authorization != "Bearer %s") { return 401; }
        }""" % value)


# ---------------------------------------------------------------------------
# The timed side by side.
# ---------------------------------------------------------------------------


class Setup:
    def __init__(self, args, pub: str, port: int, value: str) -> None:
        self.args, self.pub, self.port, self.value = args, pub, port, value
        self.petri = os.path.join(args.build, "petri")
        self.allow = "%s:%d=127.0.0.1" % (HOST, port)
        self.secret = "%s@%s:%d" % (NAME, HOST, port)

    def client_args(self, variant: str, workload: str, where: str) -> list[str]:
        c = ["--client", "--dir", where, "--port", str(self.port), workload, "--n",
             str(self.args.requests)]
        if variant in ("host", "bare"):
            c += ["--resolve", "127.0.0.1"]
        return c

    def argv_env(self, variant: str, workload: str) -> tuple[list[str], dict]:
        env = dict(CLEAN_ENV)
        client = ["/usr/bin/python3", INSIDE + "/vault_bench.py"] + \
            self.client_args(variant, workload, INSIDE)
        if variant == "bare":
            env[NAME] = self.value
            return ["/usr/bin/python3", self.pub + "/vault_bench.py"] + \
                self.client_args(variant, workload, self.pub), env
        argv = [self.petri, "run", "--timeout", "600s", "--bind", self.pub + ":" + INSIDE]
        if variant == "host":
            argv += ["--net", "host", "--env", "%s=%s" % (NAME, self.value)]
        elif variant == "tunnel":
            argv += ["--net", "proxy", "--allow", self.allow, "--env", "%s=%s" % (NAME, self.value)]
        else:  # vault: the value from the host's environment, never the command line
            argv += ["--net", "proxy", "--allow", self.allow, "--secret", self.secret,
                     "--upstream-ca", self.pub + "/ca.pem"]
            env[NAME] = self.value
        return argv + ["--"] + client, env


def run_once(argv: list[str], env: dict) -> tuple[float, float]:
    t0 = time.perf_counter_ns()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env)
    t1 = time.perf_counter_ns()
    if p.returncode != 0:
        sys.exit("vault_bench: %s\nexited %d: %s %s" % (
            " ".join(argv), p.returncode, p.stdout.decode(errors="replace")[-300:],
            p.stderr.decode(errors="replace").strip()[-600:]))
    return json.loads(p.stdout.decode().strip().splitlines()[-1])["ms"], (t1 - t0) / 1e6


def side_by_side(setup: Setup, workload: str, rounds: int, variants: list[str]) -> dict:
    runs = [setup.argv_env(v, workload) for v in variants]
    for argv, env in runs:  # warm-up, and a check that every variant works
        run_once(argv, env)
    inner = {v: [] for v in variants}
    outer = {v: [] for v in variants}
    for r in range(rounds):
        k = r % len(variants)
        for i in list(range(k, len(variants))) + list(range(k)):
            t_in, t_out = run_once(*runs[i])
            inner[variants[i]].append(t_in)
            outer[variants[i]].append(t_out)
    return {"inner": inner, "outer": outer}


def report(workload: str, res: dict, variants: list[str], n: int, rounds: int) -> dict:
    inner, outer = res["inner"], res["outer"]
    what = ("one curl, %d requests on one connection (one handshake)" % n
            if workload == "keepalive" else
            "%d urllib.urlopen() calls, a new connection and TLS handshake each" % n)
    print()
    print("### %s, %d-byte body, %d rounds" % (what, SMALL_BYTES, rounds))
    print()
    print("| variant | client's time, median ms | per request, µs | added per request vs host, "
          "median of per-round differences, µs | added vs tunnel, µs | `petri run` wall, "
          "median ms |")
    print("|---|---|---|---|---|---|")
    added = {}
    for v in variants:
        mi = statistics.median(inner[v])
        added[v] = statistics.median((x - b) / n * 1e3 for x, b in zip(inner[v], inner["host"]))
        vs_tunnel = (statistics.median((x - b) / n * 1e3 for x, b in zip(inner[v], inner["tunnel"]))
                     if "tunnel" in inner else float("nan"))
        print("| %s | %.1f | %.1f | **%+.1f** | %+.1f | %.1f |" % (
            v, mi, mi / n * 1e3, added[v], vs_tunnel, statistics.median(outer[v])))
    spread = ", ".join("%s %.0f-%.0f" % (v, min(inner[v]), max(inner[v])) for v in variants)
    print()
    print("Spread of the client's time (min-max ms): %s; load average after: %s." % (
        spread, eb.loadavg()))
    if "vault" in added:
        print()
        print("Target (issue 13): vault adds at most %d µs per request over host%s: %+.1f µs, "
              "**%s**." % (TARGET_US, ", handshake included" if workload == "newconn" else "",
                           added["vault"], "met" if added["vault"] <= TARGET_US else "MISSED"))
    sys.stdout.flush()
    return added


# ---------------------------------------------------------------------------
# The proxy's CPU, in process (a child: the binding loads this build's lib).
# ---------------------------------------------------------------------------


def cpu_main(argv: list[str]) -> int:
    a = eb.cpu_child_parser("vault_bench.py").parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import petri

    value = os.environ.pop("VAULT_BENCH_VALUE")
    variants = [v for v in a.variants.split(",") if v != "bare"]
    allow = ["%s:%d=127.0.0.1" % (HOST, a.port)]
    binds = [(a.pub, INSIDE)]

    def sandbox(v):
        if v == "host":
            return petri.Sandbox(net="host", binds=binds, env={NAME: value})
        if v == "tunnel":
            return petri.Sandbox(net="proxy", allow=allow, binds=binds, env={NAME: value})
        return petri.Sandbox(net="proxy", allow=allow, binds=binds,
                             secrets={NAME: petri.Secret(value.encode(),
                                                         hosts=["%s:%d" % (HOST, a.port)])},
                             upstream_ca=a.pub + "/ca.pem")

    with sandbox("host") as sb:
        sb.run(["/bin/true"])
    before = set(eb.tasks())
    proxy_tids: dict = {}
    for v in variants:
        if v != "host":
            with sandbox(v) as sb:
                sb.run(["/bin/true"])
            proxy_tids = {t: c for t, c in eb.tasks().items() if t not in before}
            break
    results = {}
    for workload in a.workloads.split(","):
        per = {v: {"self": [], "proxy": [], "life": []} for v in variants}
        for r in range(a.rounds):
            k = r % len(variants)
            for v in variants[k:] + variants[:k]:
                c = ["/usr/bin/python3", INSIDE + "/vault_bench.py", "--client", "--dir", INSIDE,
                     "--port", str(a.port), workload, "--n", str(a.requests)]
                if v == "host":
                    c += ["--resolve", "127.0.0.1"]
                l0 = eb.self_cpu_ns()
                with sandbox(v) as sb:
                    s0 = eb.self_cpu_ns()
                    p0 = sum(eb.thread_cpu_ns(t) for t in proxy_tids)
                    res = sb.run(c, timeout=600)
                    p1 = sum(eb.thread_cpu_ns(t) for t in proxy_tids)
                    s1 = eb.self_cpu_ns()
                l1 = eb.self_cpu_ns()
                if res.exit_code != 0:
                    sys.exit("cpu: %s %s failed: %s" % (v, workload,
                                                        res.stderr_bytes.decode(errors="replace")))
                per[v]["self"].append(s1 - s0)
                per[v]["proxy"].append(p1 - p0)
                per[v]["life"].append((l1 - l0) - (s1 - s0))
        results[workload] = per
    json.dump({"results": results, "variants": variants,
               "proxy_threads": sorted(set(proxy_tids.values())), "n": a.requests}, sys.stdout)
    return 0


def cpu_report(data: dict, rounds: int) -> None:
    n, res, variants = data["n"], data["results"], data["variants"]
    eb.cpu_report_head(data, rounds, "request")
    for workload, per in res.items():
        base = statistics.median(per["host"]["self"]) if "host" in per else 0
        for v in variants:
            s = statistics.median(per[v]["self"])
            pr = statistics.median(per[v]["proxy"])
            print("| %s | %s | %.2f | %.1f µs | %.1f µs |" % (
                workload, v, s / 1e6, (s - base) / n / 1e3, pr / n / 1e3))
    print()
    life = {v: statistics.median(x for w in res.values() for x in w[v]["life"]) for v in variants}
    print("Host process CPU of the sandbox's create + destroy (outside the exec; the vault's "
          "includes its CA key and certificate), median of all its runs: %s." % ", ".join(
              "%s %.2f ms" % (v, t / 1e6) for v, t in life.items()))
    sys.stdout.flush()


# ---------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        return client_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--cpu-child":
        return cpu_main(sys.argv[2:])
    eb.clean_env("vault_bench", "PETRI_VAULT_CLEAN", __file__)
    args = eb.arg_parser(__doc__, "keepalive", "host,tunnel,vault,bare",
                         "keepalive,newconn").parse_args()
    variants = eb.check_args("vault_bench", args)

    # The value: hex (nginx's config holds it), random per run.
    value = "pvbench-" + secrets.token_hex(20)
    tmp = tempfile.mkdtemp(prefix="petri-vault-bench-")
    priv, pub = tmp + "/priv", tmp + "/pub"
    nginx = None
    try:
        os.chmod(tmp, 0o755)
        os.mkdir(priv, 0o700)
        os.mkdir(pub, 0o755)
        www = pub + "/www"
        os.mkdir(www, 0o755)
        eb.make_certs(priv, pub)
        with open(www + "/small.bin", "wb") as f:
            f.write(os.urandom(SMALL_BYTES))
        port = eb.free_port()
        shutil.copy(os.path.abspath(__file__), pub + "/vault_bench.py")
        shutil.copy(os.path.join(ROOT, "bench", "egress_bench.py"), pub + "/egress_bench.py")
        for root, dirs, files in os.walk(pub):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for fn in files:
                os.chmod(os.path.join(root, fn), 0o644)
        nginx = start_nginx(priv, www, port, value)
        setup = Setup(args, pub, port, value)
        ver = subprocess.run([setup.petri, "--version"], stdout=subprocess.PIPE, env=CLEAN_ENV).stdout
        print("## TenantVault: intercepted vs tunnelled vs direct (bench/vault_bench.py)")
        print()
        print("- %s %s %s, %d CPUs; %s" % (os.uname().sysname, os.uname().release,
                                          os.uname().machine, os.cpu_count(),
                                          ver.decode().splitlines()[0] if ver else "petri ?"))
        print("- date: %s, env -i, load average at start: %s" % (
            time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), eb.loadavg()))
        sys.stdout.flush()
        for workload in args.workloads.split(","):
            rounds = args.newconn_rounds if workload == "newconn" else args.rounds
            res = side_by_side(setup, workload, rounds, variants)
            report(workload, res, variants, args.requests, rounds)
        if not args.no_cpu:
            env = dict(CLEAN_ENV, PETRI_LIBRARY=os.path.join(args.build, "libpetri.so"),
                       VAULT_BENCH_VALUE=value)
            cpu_report(eb.cpu_child("vault_bench", __file__, env, pub, port, args, []),
                       args.cpu_rounds)
    finally:
        if nginx is not None:
            eb.stop_nginx(nginx)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
