#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""egress_bench.py - controlled egress (issue 12): what `--net proxy` costs
against the same client with the host's network, side by side in one run.

A server on the host's 127.0.0.1 (nginx, its own prefix and config in a
temporary directory, a test CA and a certificate for bench.test made with
the openssl CLI) serves a 100 MiB file and a small one over HTTPS.  The
same client runs in five places:

  host         petri run --net host: the sandbox on the host's network,
               dialling 127.0.0.1 itself (the baseline)
  proxy        petri run --net proxy --allow bench.test:PORT=127.0.0.1:
               through the explicit proxy (HTTPS_PROXY, CONNECT)
  transparent  the same sandbox, proxy variables ignored (curl --noproxy
               '*', urllib without ProxyHandler): the sandbox's DNS gives
               bench.test a synthetic 127.80.x.y, the host side takes the
               connection and checks the SNI
  relay        a reference, not a side: --net host, the client sent to a
               minimal relay on the host (splice(2), a thread per direction,
               in this script's process), which dials the server: the least
               any proxy hop costs on this machine
  bare         the client with no sandbox at all (a reference, not a side)

Workloads (each timed inside the sandbox by the client, from its start to
its end: the sandbox's own start and teardown are not in it; the wall time
of the whole `petri run` is reported beside it):

  download     curl -o /dev/null of the 100 MiB file
  keepalive    one curl with 1,000 URLs of a 512-byte file: one TLS
               connection, 1,000 requests on it (what a client with a
               connection pool does: pip, npm, requests.Session, fetch)
  newconn      1,000 urllib.request.urlopen() calls: a new TCP and TLS
               connection each, and through the proxy a new CONNECT each
               (what a script without a session does); in the transparent
               variant each also asks the sandbox's DNS

Rounds are interleaved (bench/interleave.py's method): each round runs every
variant once in a rotating order; medians, and the median over rounds of each
variant's ratio to (or difference from) host in the same round.

Then the proxy's CPU (unless --no-cpu): the proxy is a thread of the host process,
so an in-process driver (the Python binding over this build's libpetri.so)
runs the same client in a Sandbox(net=...) and reads, around the exec,
getrusage(RUSAGE_SELF) (every thread of the host; not the sandbox's
processes) and the CPU clock of each thread the first proxied sandbox
started.  CPU per request = (proxy's RUSAGE_SELF - host's) / requests.
A fourth variant there, proxy+audit, gives the sandbox an audit stream
(--no-audit leaves it out: it loads the kernel audit).

Everything runs under env -i PATH=/usr/bin:/bin (the script re-executes
itself so when started otherwise).  Needs nginx, openssl, curl, and a build
of petri (--build, default build/).

Usage: bench/egress_bench.py [--build DIR] [--rounds N] [--newconn-rounds N]
       [--requests N] [--mib N] [--variants host,proxy,transparent,relay,bare]
       [--workloads download,keepalive,newconn] [--cpu-rounds N] [--no-cpu]
       [--serve] [--dev]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "bench.test"
SMALL_BYTES = 512
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}
INSIDE = "/bench"  # where the sandbox sees the public half of the temp dir


# ---------------------------------------------------------------------------
# The client: runs inside the sandbox (or bare), prints one JSON line.
# ---------------------------------------------------------------------------


def client_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="egress_bench.py --client")
    ap.add_argument("--dir", required=True, help="where ca.pem and urls.cfg are")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--resolve", default=None, help="dial this address for bench.test (direct)")
    ap.add_argument("--noproxy", action="store_true", help="ignore the proxy variables")
    ap.add_argument("--connect-to", type=int, default=0, help="dial 127.0.0.1:THIS for bench.test:PORT")
    ap.add_argument("workload", choices=["download", "keepalive", "newconn"])
    ap.add_argument("--n", type=int, default=1000, help="requests (keepalive, newconn)")
    ap.add_argument("--size", type=int, default=0, help="expected bytes per response")
    a = ap.parse_args(argv)
    ca = os.path.join(a.dir, "ca.pem")
    base = "https://%s:%d" % (HOST, a.port)
    if a.workload in ("download", "keepalive"):
        cmd = ["curl", "-sS", "--cacert", ca, "--http1.1", "-w", "%{http_code} %{size_download}\\n"]
        if a.resolve:
            cmd += ["--resolve", "%s:%d:%s" % (HOST, a.port, a.resolve)]
        if a.noproxy:
            cmd += ["--noproxy", "*"]
        if a.connect_to:
            cmd += ["--connect-to", "%s:%d:127.0.0.1:%d" % (HOST, a.port, a.connect_to)]
        if a.workload == "download":
            cmd += ["-o", "/dev/null", base + "/big.bin"]
            want = 1
        else:
            cmd += ["-K", os.path.join(a.dir, "urls.cfg")]
            want = a.n
        t0 = time.perf_counter_ns()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t1 = time.perf_counter_ns()
        if p.returncode != 0:
            print("curl failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")), file=sys.stderr)
            return 1
        lines = p.stdout.decode().split()
        codes, sizes = lines[0::2], [int(x) for x in lines[1::2]]
        if len(codes) != want or set(codes) != {"200"} or any(s != a.size for s in sizes):
            print("curl: unexpected results: %d of %d, codes %s, sizes %s"
                  % (len(codes), want, sorted(set(codes)), sorted(set(sizes))[:4]), file=sys.stderr)
            return 1
        print(json.dumps({"ms": (t1 - t0) / 1e6, "n": want}))
        return 0
    # newconn: urllib, a new connection per request.
    import ssl
    import urllib.request

    if a.resolve:
        real = socket.getaddrinfo

        def pinned(host, *rest, **kw):  # as curl --resolve: no resolver for bench.test
            return real(a.resolve if host == HOST else host, *rest, **kw)

        socket.getaddrinfo = pinned
    if a.connect_to:
        real_cc = socket.create_connection

        def relayed(address, *rest, **kw):  # as curl --connect-to
            if tuple(address[:2]) == (HOST, a.port):
                address = ("127.0.0.1", a.connect_to)
            return real_cc(address, *rest, **kw)

        socket.create_connection = relayed
    ctx = ssl.create_default_context(cafile=ca)
    handlers = [urllib.request.HTTPSHandler(context=ctx)]
    if a.noproxy:
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    url = base + "/small.bin"
    t0 = time.perf_counter_ns()
    for _ in range(a.n):
        with opener.open(url, timeout=30) as r:
            body = r.read()
            if r.status != 200 or len(body) != a.size:
                print("urllib: status %d, %d bytes" % (r.status, len(body)), file=sys.stderr)
                return 1
    t1 = time.perf_counter_ns()
    print(json.dumps({"ms": (t1 - t0) / 1e6, "n": a.n}))
    return 0


# ---------------------------------------------------------------------------
# The server: a test CA, a certificate for bench.test, nginx.
# ---------------------------------------------------------------------------


def which(tool: str) -> str:
    return shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") or tool


def sh(cmd: list[str], **kw) -> None:
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=CLEAN_ENV, **kw)
    if p.returncode != 0:
        sys.exit("egress_bench: %s failed:\n%s" % (" ".join(cmd), p.stdout.decode(errors="replace")))


def make_certs(priv: str, pub: str) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh(["openssl", "req", "-x509", *ec, "-keyout", priv + "/ca.key", "-out", pub + "/ca.pem",
        "-days", "2", "-subj", "/CN=petri egress bench CA"])
    sh(["openssl", "req", "-new", *ec, "-keyout", priv + "/srv.key", "-out", priv + "/srv.csr",
        "-subj", "/CN=" + HOST])
    with open(priv + "/ext.cnf", "w") as f:
        f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % HOST)
    sh(["openssl", "x509", "-req", "-in", priv + "/srv.csr", "-CA", pub + "/ca.pem", "-CAkey",
        priv + "/ca.key", "-CAcreateserial", "-out", priv + "/srv.pem", "-days", "2",
        "-extfile", priv + "/ext.cnf"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(priv: str, www: str, port: int, location: str = "",
                prog: str = "egress_bench") -> subprocess.Popen:
    """nginx serving @www over TLS (the bench certificate in @priv) on
    127.0.0.1:@port, once it listens; @location: more of its server block
    (nginx text, after its root).  Exits the script (@prog: its name in the
    message) when nginx does not come up."""
    conf = priv + "/nginx.conf"
    with open(conf, "w") as f:
        f.write("""
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    types {{ application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {host};
        ssl_certificate {p}/srv.pem;
        ssl_certificate_key {p}/srv.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root {www};{location}
    }}
}}
""".format(p=priv, port=port, host=HOST, www=www, location=location))
    proc = subprocess.Popen([which("nginx"), "-p", priv, "-c", conf, "-g", "daemon off;"], env=CLEAN_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("%s: nginx exited: %s" % (prog, proc.stderr.read().decode(errors="replace")))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("%s: nginx did not listen on %d" % (prog, port))


def stop_nginx(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)  # graceful: the master ends its worker
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Relay:
    """A reference: the cheapest TCP relay this machine can run (splice(2)
    through a pipe, a blocking thread per direction, no policy, no event
    loop), listening on 127.0.0.1 and dialling the server.  What any proxy
    hop costs here at the least: the second TCP connection over loopback and
    a thread woken for the data."""

    def __init__(self, target: int) -> None:
        import threading

        self.target = target
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1024)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self) -> None:
        import threading

        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            done = threading.Semaphore(0)
            for src, dst in ((c, u), (u, c)):
                threading.Thread(target=self.pump, args=(src, dst, done), daemon=True).start()
            threading.Thread(target=self.reap, args=(c, u, done), daemon=True).start()

    @staticmethod
    def pump(src: socket.socket, dst: socket.socket, done) -> None:
        r, w = os.pipe()
        try:
            while True:
                n = os.splice(src.fileno(), w, 1 << 20, flags=getattr(os, "SPLICE_F_MOVE", 1))
                if n == 0:
                    break
                while n:
                    n -= os.splice(r, dst.fileno(), n, flags=getattr(os, "SPLICE_F_MOVE", 1))
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            os.close(r)
            os.close(w)
            done.release()

    @staticmethod
    def reap(c: socket.socket, u: socket.socket, done) -> None:
        done.acquire()
        done.acquire()
        c.close()
        u.close()


# ---------------------------------------------------------------------------
# The timed side by side.
# ---------------------------------------------------------------------------


class Setup:
    def __init__(self, args, pub: str, port: int, relay_port: int) -> None:
        self.relay_port = relay_port
        self.petri = os.path.join(args.build, "petri")
        self.pub = pub
        self.port = port
        self.args = args

    def client_args(self, variant: str, workload: str, where: str) -> list[str]:
        a = self.args
        n = 1 if workload == "download" else a.requests
        size = a.mib << 20 if workload == "download" else SMALL_BYTES
        c = ["--client", "--dir", where, "--port", str(self.port), workload, "--n", str(n),
             "--size", str(size)]
        if variant in ("host", "bare") or (a.dev and variant in ("proxy", "transparent")):
            c += ["--resolve", "127.0.0.1"]
        if variant == "relay":
            c += ["--connect-to", str(self.relay_port)]
        if variant == "transparent":
            c += ["--noproxy"]
        return c

    def argv(self, variant: str, workload: str) -> list[str]:
        if variant == "bare":
            return ["/usr/bin/python3", self.pub + "/egress_bench.py",
                    *self.client_args(variant, workload, self.pub)]
        if variant in ("host", "relay") or self.args.dev:
            net = ["--net", "host"]
        else:
            net = ["--net", "proxy", "--allow", "%s:%d=127.0.0.1" % (HOST, self.port)]
        return [self.petri, "run", *net, "--timeout", "600s", "--bind", self.pub + ":" + INSIDE,
                "--", "/usr/bin/python3", INSIDE + "/egress_bench.py",
                *self.client_args(variant, workload, INSIDE)]


def run_once(argv: list[str]) -> tuple[float, float]:
    t0 = time.perf_counter_ns()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=CLEAN_ENV)
    t1 = time.perf_counter_ns()
    if p.returncode != 0:
        sys.exit("egress_bench: %s\nexited %d: %s" % (" ".join(argv), p.returncode,
                                                     p.stderr.decode(errors="replace").strip()))
    inner = json.loads(p.stdout.decode().strip().splitlines()[-1])["ms"]
    return inner, (t1 - t0) / 1e6


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def side_by_side(setup: Setup, workload: str, rounds: int, variants: list[str]) -> dict:
    argvs = [setup.argv(v, workload) for v in variants]
    for argv in argvs:  # warm-up, and a check that every variant works
        run_once(argv)
    inner = {v: [] for v in variants}
    outer = {v: [] for v in variants}
    for r in range(rounds):
        k = r % len(variants)
        for i in list(range(k, len(variants))) + list(range(k)):
            t_in, t_out = run_once(argvs[i])
            inner[variants[i]].append(t_in)
            outer[variants[i]].append(t_out)
    return {"inner": inner, "outer": outer}


def report(workload: str, res: dict, variants: list[str], args, rounds: int) -> None:
    inner, outer = res["inner"], res["outer"]
    base = "host"
    n = args.requests
    print()
    if workload == "download":
        print("### %d MiB download over HTTPS (curl -o /dev/null), %d rounds" % (args.mib, rounds))
        print()
        print("| variant | client's time, median ms | MiB/s | ratio to host, per round | "
              "`petri run` wall, median ms | ratio to host, per round |")
        print("|---|---|---|---|---|---|")
        for v in variants:
            mi = statistics.median(inner[v])
            ri = statistics.median(x / b for x, b in zip(inner[v], inner[base]))
            ro = statistics.median(x / b for x, b in zip(outer[v], outer[base]))
            print("| %s | %.1f | %.0f | **%.3f** | %.1f | %.3f |"
                  % (v, mi, args.mib / (mi / 1e3), ri, statistics.median(outer[v]), ro))
    else:
        what = ("one curl, %d URLs on one connection (keep-alive)" % n if workload == "keepalive"
                else "%d urllib.urlopen() calls, a new connection each" % n)
        print("### %s, %d-byte body, %d rounds" % (what, SMALL_BYTES, rounds))
        print()
        print("| variant | client's time, median ms | per request, µs | added per request vs host, "
              "median of per-round differences, µs | ratio to host, per round | `petri run` wall, median ms |")
        print("|---|---|---|---|---|---|")
        for v in variants:
            mi = statistics.median(inner[v])
            added = statistics.median((x - b) / n * 1e3 for x, b in zip(inner[v], inner[base]))
            ri = statistics.median(x / b for x, b in zip(inner[v], inner[base]))
            print("| %s | %.1f | %.1f | **%+.1f** | %.3f | %.1f |"
                  % (v, mi, mi / n * 1e3, added, ri, statistics.median(outer[v])))
    spread = ", ".join("%s %.0f-%.0f" % (v, min(inner[v]), max(inner[v])) for v in variants)
    print()
    print("Spread of the client's time (min-max ms): %s; load average after: %s." % (spread, loadavg()))
    sys.stdout.flush()


# ---------------------------------------------------------------------------
# The proxy's CPU, in process (a child: the binding loads this build's lib).
# ---------------------------------------------------------------------------


def thread_cpu_ns(tid: int) -> int:
    # Linux's per-thread CPU clock of another thread of this process:
    # MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) = (~tid << 3) | 4 | 2.
    try:
        return time.clock_gettime_ns(((~tid) << 3) | 6)
    except OSError:
        return 0


def tasks() -> dict:
    out = {}
    for t in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % t) as f:
                out[int(t)] = f.read().strip()
        except OSError:
            pass
    return out


def self_cpu_ns() -> int:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return int((r.ru_utime + r.ru_stime) * 1e9)


def cpu_child_parser(prog: str) -> argparse.ArgumentParser:
    """The options of the CPU driver's child (`@prog --cpu-child`) both
    benches share."""
    ap = argparse.ArgumentParser(prog=prog + " --cpu-child")
    ap.add_argument("--pub", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--variants", required=True)
    ap.add_argument("--workloads", required=True)
    return ap


def cpu_main(argv: list[str]) -> int:
    ap = cpu_child_parser("egress_bench.py")
    ap.add_argument("--mib", type=int, required=True)
    ap.add_argument("--dev", action="store_true")
    ap.add_argument("--no-audit", action="store_true")
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import petri

    variants = [v for v in a.variants.split(",") if v not in ("bare", "relay")]
    if "proxy" in variants and not a.no_audit:
        variants.append("proxy+audit")
    allow = ["%s:%d=127.0.0.1" % (HOST, a.port)]
    stream = None

    def sandbox(v):
        if v == "host" or a.dev:
            return petri.Sandbox(net="host", binds=[(a.pub, INSIDE)])
        if v == "proxy+audit":
            return petri.Sandbox(net="proxy", allow=allow, binds=[(a.pub, INSIDE)], audit=stream)
        return petri.Sandbox(net="proxy", allow=allow, binds=[(a.pub, INSIDE)])

    # The threads the library starts for any sandbox, then those the first
    # proxied one adds: the proxy's.
    with sandbox("host") as sb:
        sb.run(["/bin/true"])
    before = set(tasks())
    proxy_tids: dict = {}
    for v in variants:
        if v != "host":
            with sandbox(v) as sb:
                sb.run(["/bin/true"])
            proxy_tids = {t: c for t, c in tasks().items() if t not in before}
            break
    me = threading_native_id()
    tmp = None
    if "proxy+audit" in variants:  # opened after the proxy's threads are known
        import petri.audit

        tmp = tempfile.mkdtemp(prefix="petri-egress-audit-")
        stream = petri.audit.AuditStream(os.path.join(tmp, "audit.pb"))
    results = {}
    for workload in a.workloads.split(","):
        n = 1 if workload == "download" else a.requests
        size = a.mib << 20 if workload == "download" else SMALL_BYTES
        per = {v: {"self": [], "proxy": [], "wall": [], "life": []} for v in variants}
        for r in range(a.rounds):
            k = r % len(variants)
            for v in variants[k:] + variants[:k]:
                c = ["/usr/bin/python3", INSIDE + "/egress_bench.py", "--client", "--dir", INSIDE,
                     "--port", str(a.port), workload, "--n", str(n), "--size", str(size)]
                if v == "host" or a.dev:
                    c += ["--resolve", "127.0.0.1"]
                if v == "transparent":
                    c += ["--noproxy"]
                l0 = self_cpu_ns()
                with sandbox(v) as sb:
                    s0 = self_cpu_ns()
                    p0 = sum(thread_cpu_ns(t) for t in proxy_tids)
                    w0 = time.perf_counter_ns()
                    res = sb.run(c, timeout=600)
                    w1 = time.perf_counter_ns()
                    p1 = sum(thread_cpu_ns(t) for t in proxy_tids)
                    s1 = self_cpu_ns()
                l1 = self_cpu_ns()
                if res.exit_code != 0:
                    sys.exit("cpu: %s %s failed: %s" % (v, workload, res.stderr.decode(errors="replace")))
                per[v]["self"].append(s1 - s0)
                per[v]["proxy"].append(p1 - p0)
                per[v]["wall"].append(w1 - w0)
                per[v]["life"].append((l1 - l0) - (s1 - s0))  # create + destroy
        results[workload] = per
    if stream is not None:
        stream.close()
        shutil.rmtree(tmp, ignore_errors=True)
    json.dump({"results": results, "variants": variants, "proxy_threads": sorted(set(proxy_tids.values())), "me": me,
               "n": a.requests, "mib": a.mib}, sys.stdout)
    return 0


def threading_native_id() -> int:
    import threading

    return threading.get_native_id()


def cpu_child(prog: str, script: str, env: dict, pub: str, port: int,
              args: argparse.Namespace, extra: list[str]) -> dict:
    """Run @script's CPU driver (`--cpu-child`, under @env, with the
    rounds, requests, variants and workloads of @args, then @extra) and
    return what it printed; exits (naming @prog) when it fails."""
    cmd = ["/usr/bin/python3", os.path.abspath(script), "--cpu-child", "--pub", pub,
           "--port", str(port), "--rounds", str(args.cpu_rounds), "--requests",
           str(args.requests), "--variants", args.variants, "--workloads", args.workloads] + extra
    p = subprocess.run(cmd, stdout=subprocess.PIPE, env=env)
    if p.returncode != 0:
        sys.exit("%s: the CPU driver failed" % prog)
    return json.loads(p.stdout)


def cpu_report_head(data: dict, rounds: int, per: str) -> None:
    """The title of the CPU driver's report and its table's head; @per:
    what its per-X columns count."""
    print()
    print("### The proxy's CPU, in process (Python binding, %d rounds, medians)" % rounds)
    print()
    print("The proxy's threads (new with the first proxied sandbox): %s."
          % (", ".join(data["proxy_threads"]) or "none"))
    print()
    print("| workload | variant | host process CPU (RUSAGE_SELF) during the exec, ms | "
          "minus host's, per %s | proxy threads' CPU, per %s |" % (per, per))
    print("|---|---|---|---|---|")


def cpu_report(data: dict, rounds: int) -> None:
    n, mib = data["n"], data["mib"]
    res = data["results"]
    variants = data["variants"]
    cpu_report_head(data, rounds, "unit")
    for workload in res:
        unit, div = ("MiB", mib) if workload == "download" else ("request", n)
        per = res[workload]
        base = statistics.median(per["host"]["self"]) if "host" in per else 0
        for v in variants:
            if v in ("bare", "relay"):
                continue
            s = statistics.median(per[v]["self"])
            pr = statistics.median(per[v]["proxy"])
            print("| %s | %s | %.2f | %.1f µs/%s | %.1f µs/%s |"
                  % (workload, v, s / 1e6, (s - base) / div / 1e3, unit, pr / div / 1e3, unit))
    print()
    life = {v: statistics.median(x for w in res.values() for x in w[v]["life"])
            for v in variants if v not in ("bare", "relay")}
    print("Host process CPU of the sandbox's create + destroy (outside the exec), median of all "
          "its runs: %s." % ", ".join("%s %.2f ms" % (v, t / 1e6) for v, t in life.items()))
    if "proxy+audit" in variants:
        print()
        print("proxy+audit: the explicit proxy with the sandbox writing an audit stream (a file), "
              "so every connection and DNS answer is an event. Its RUSAGE_SELF also holds the "
              "kernel audit's consumer and writer threads (the client's own syscalls are events "
              "too), and while a sandbox is watched every syscall on the machine takes the "
              "tracepoint path: compare the proxy thread's column.")
    sys.stdout.flush()


# ---------------------------------------------------------------------------


def clean_env(prog: str, flag: str, script: str) -> None:
    """Re-exec @script (with this argv) in an environment of PATH alone
    unless it runs in one already; @flag: the variable that marks the
    re-exec'd run (a second failure exits, naming @prog)."""
    if set(os.environ) - {"PATH", "PWD", "SHLVL", "_", "OLDPWD", "LC_CTYPE", flag} or \
            os.environ.get("PATH") != CLEAN_ENV["PATH"]:
        if os.environ.get(flag):
            sys.exit("%s: could not clean the environment" % prog)
        os.execv("/usr/bin/env", ["env", "-i", "PATH=/usr/bin:/bin", flag + "=1",
                                  "/usr/bin/python3", os.path.abspath(script), *sys.argv[1:]])
    os.environ.pop(flag, None)


def arg_parser(doc: str, rounds: str, variants: str, workloads: str) -> argparse.ArgumentParser:
    """The options both benches take; @rounds: what --rounds counts
    rounds of; @variants, @workloads: their defaults."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=15, help="rounds of " + rounds)
    ap.add_argument("--newconn-rounds", type=int, default=7)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--variants", default=variants)
    ap.add_argument("--workloads", default=workloads)
    ap.add_argument("--cpu-rounds", type=int, default=5)
    ap.add_argument("--no-cpu", action="store_true")
    return ap


def check_args(prog: str, args: argparse.Namespace) -> list[str]:
    """Make args.build absolute; the variants, host first.  Exits (naming
    @prog) when they do not start with host, or a tool or the build is
    missing."""
    args.build = os.path.abspath(args.build)
    variants = args.variants.split(",")
    if variants[0] != "host":
        sys.exit("%s: the first variant must be host (the baseline)" % prog)
    for tool in ("nginx", "openssl", "curl"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            sys.exit("%s: needs %s (Debian package %s)" % (prog, tool, tool))
    if not os.access(os.path.join(args.build, "petri"), os.X_OK):
        sys.exit("%s: no %s/petri (build first)" % (prog, args.build))
    return variants


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        return client_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--cpu-child":
        return cpu_main(sys.argv[2:])
    clean_env("egress_bench", "PETRI_EGRESS_CLEAN", __file__)
    ap = arg_parser(__doc__, "download and keepalive", "host,proxy,transparent,relay,bare",
                    "download,keepalive,newconn")
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--no-audit", action="store_true",
                    help="no proxy+audit variant in the CPU driver (it loads the kernel audit)")
    ap.add_argument("--serve", action="store_true",
                    help="start the server, print each variant's command, wait (to profile by hand)")
    ap.add_argument("--dev", action="store_true",
                    help="run the proxy variants with --net host too (to work on this script)")
    args = ap.parse_args()
    variants = check_args("egress_bench", args)

    tmp = tempfile.mkdtemp(prefix="petri-egress-")
    priv, pub = tmp + "/priv", tmp + "/pub"
    nginx = None
    try:
        os.chmod(tmp, 0o755)  # nginx's worker (nobody) reads the files
        os.mkdir(priv, 0o700)
        os.mkdir(pub, 0o755)
        www = pub + "/www"
        os.mkdir(www, 0o755)
        make_certs(priv, pub)
        with open(www + "/big.bin", "wb") as f:  # not sparse: real pages to read
            block = os.urandom(1 << 20)
            for _ in range(args.mib):
                f.write(block)
        with open(www + "/small.bin", "wb") as f:
            f.write(os.urandom(SMALL_BYTES))
        port = free_port()
        with open(pub + "/urls.cfg", "w") as f:
            for _ in range(args.requests):
                f.write('url = "https://%s:%d/small.bin"\noutput = "/dev/null"\n' % (HOST, port))
        shutil.copy(os.path.abspath(__file__), pub + "/egress_bench.py")
        for root, dirs, files in os.walk(pub):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for fn in files:
                os.chmod(os.path.join(root, fn), 0o644)
        nginx = start_nginx(priv, www, port)
        relay = Relay(port) if "relay" in variants else None
        setup = Setup(args, pub, port, relay.port if relay else 0)
        if args.serve:  # for profiling by hand: the commands, then wait
            for v in variants:
                for w in args.workloads.split(","):
                    print("%s %s: %s" % (v, w, " ".join(shlex.quote(x) for x in setup.argv(v, w))))
            print("serving on 127.0.0.1:%d until SIGINT or SIGTERM" % port, flush=True)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
            return 0

        ver = subprocess.run([setup.petri, "--version"], stdout=subprocess.PIPE, env=CLEAN_ENV).stdout
        with open("/etc/os-release") as f:
            osr = dict(l.rstrip().split("=", 1) for l in f if "=" in l)
        nginx_v = subprocess.run([which("nginx"), "-v"], stderr=subprocess.PIPE, env=CLEAN_ENV).stderr
        print("## Egress: `--net proxy` vs `--net host` (bench/egress_bench.py)")
        print()
        print("- %s %s %s, %d CPUs, %s" % (os.uname().sysname, os.uname().release, os.uname().machine,
                                           os.cpu_count(), osr.get("PRETTY_NAME", "?").strip('"')))
        print("- %s, %s, %s" % (ver.decode().splitlines()[0] if ver else "petri ?",
                                nginx_v.decode().strip(), subprocess.run(
                                    ["curl", "--version"], stdout=subprocess.PIPE,
                                    env=CLEAN_ENV).stdout.decode().split("\n")[0]))
        print("- date: %s, env -i, load average at start: %s%s"
              % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), loadavg(),
                 " (--dev: the proxy variants ran with --net host)" if args.dev else ""))
        sys.stdout.flush()
        for workload in args.workloads.split(","):
            rounds = args.newconn_rounds if workload == "newconn" else args.rounds
            res = side_by_side(setup, workload, rounds, variants)
            report(workload, res, variants, args, rounds)
        if not args.no_cpu:
            env = dict(CLEAN_ENV, PETRI_LIBRARY=os.path.join(args.build, "libpetri.so"))
            extra = ["--mib", str(args.mib)]
            if args.dev:
                extra.append("--dev")
            if args.no_audit:
                extra.append("--no-audit")
            cpu_report(cpu_child("egress_bench", __file__, env, pub, port, args, extra),
                       args.cpu_rounds)
    finally:
        if nginx is not None:
            stop_nginx(nginx)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
