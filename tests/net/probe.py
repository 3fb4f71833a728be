#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Runs INSIDE a `petri run --net proxy` sandbox (bound read-only at /e2e by
e2e_clients.py): the raw network operations a well-behaved client library
would not do, each reported as data so the host side judges them.

    probe.py '[{"op": "dns", "name": "files.test", "qtype": 1}, ...]'

prints one JSON list, one result object per operation, in order.  An
operation never raises: errors are results ({"errno": N, "error": "..."}).
Stdlib only; every socket has a timeout, so a hang is a result ("timeout"),
not a stuck test.
"""
import errno
import json
import os
import random
import socket
import ssl
import struct
import sys
import time
import urllib.request

TIMEOUT = 5.0


def err(e):
    out = {"error": "%s: %s" % (type(e).__name__, e)}
    if isinstance(e, socket.timeout):
        out["timeout"] = True
    elif isinstance(e, OSError) and e.errno is not None:
        out["errno"] = e.errno
        out["errname"] = errno.errorcode.get(e.errno, "")
    return out


# ---- DNS, by hand ----------------------------------------------------------


def dns_query(labels, qtype, qid):
    """A standard query (RD set) for the name made of @labels (bytes each,
    written with their own length even when that is not a valid label)."""
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for lab in labels:
        q += bytes([len(lab)]) + lab
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def dns_parse(m, qid):
    if len(m) < 12:
        return {"error": "short answer (%d bytes)" % len(m)}
    rid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", m[:12])
    out = {"id_ok": rid == qid, "rcode": flags & 0xF, "qr": bool(flags & 0x8000),
           "tc": bool(flags & 0x0200), "ancount": an, "answers": []}
    try:
        i = 12
        for _ in range(qd):
            i = skip_name(m, i) + 4
        for _ in range(an):
            i = skip_name(m, i)
            rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", m[i:i + 10])
            i += 10
            rdata = m[i:i + rdlen]
            i += rdlen
            if rtype == 1 and rdlen == 4:
                val = socket.inet_ntoa(rdata)
            elif rtype == 28 and rdlen == 16:
                val = socket.inet_ntop(socket.AF_INET6, rdata)
            else:
                val = rdata.hex()
            out["answers"].append({"type": rtype, "ttl": ttl, "data": val})
    except (IndexError, struct.error) as e:
        out["parse_error"] = str(e)
    return out


def dns_tcp_exchange(s, q):
    """Send the DNS message @q on the TCP socket @s (with its length
    prefix); the reply as read, length prefix included: short when the
    server closed before the whole of it."""
    s.sendall(struct.pack(">H", len(q)) + q)
    buf = b""
    while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def op_dns(a):
    qid = random.randrange(1, 65536)
    if "raw_hex" in a:
        q = bytes.fromhex(a["raw_hex"])
    else:
        if "labels" in a:
            labels = [s.encode() for s in a["labels"]]
        else:
            labels = [s.encode() for s in a["name"].rstrip(".").split(".")]
        q = dns_query(labels, a.get("qtype", 1), qid)
    server = (a.get("server", "127.0.0.1"), a.get("port", 53))
    try:
        if a.get("tcp"):
            s = socket.create_connection(server, timeout=TIMEOUT)
            buf = dns_tcp_exchange(s, q)
            s.close()
            if len(buf) < 2:
                return {"no_answer": True}
            m = buf[2:]
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(a.get("timeout", TIMEOUT))
            s.sendto(q, server)
            m, _ = s.recvfrom(65536)
            s.close()
    except socket.timeout:
        return {"no_answer": True, "timeout": True}
    except OSError as e:
        return err(e)
    return dns_parse(m, qid)


def op_resolve(a):
    fam = {4: socket.AF_INET, 6: socket.AF_INET6}.get(a.get("family"), socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(a["name"], a.get("port", 80), fam, socket.SOCK_STREAM)
    except socket.gaierror as e:
        return {"gaierror": e.errno, "error": str(e)}
    return {"addrs": sorted({i[4][0] for i in infos})}


# ---- sockets ----------------------------------------------------------------


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def resolve4(host):
    if ":" in host:
        return host
    return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]


def op_connect(a):
    try:
        host = resolve4(a["host"])
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect((host, a["port"]))
        peer = s.getpeername()[0]
        s.close()
        return {"ok": True, "peer": peer}
    except OSError as e:
        return err(e)


def op_udp(a):
    """sendto() one datagram, then wait briefly for anything back."""
    try:
        host = resolve4(a["host"])
        s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        s.settimeout(a.get("wait", 0.5))
        n = s.sendto(a.get("data", "petri-e2e").encode(), (host, a["port"]))
    except OSError as e:
        return err(e)
    out = {"sent": n}
    try:
        data, peer = s.recvfrom(65536)
        out["recv"] = data.hex()
        out["peer"] = peer[0]
    except socket.timeout:
        out["recv_timeout"] = True
    except OSError as e:
        out["recv_error"] = err(e)
    s.close()
    return out


def handshake(ctx, s, sni, out):
    """The TLS client side of @s, under @ctx with @sni: the wrapped socket,
    out["handshake"] True; or None, @s closed, out["handshake"] False and
    out["handshake_error"] why."""
    try:
        t = ctx.wrap_socket(s, server_hostname=sni)
    except (ssl.SSLError, OSError) as e:
        out["handshake"] = False
        out["handshake_error"] = str(e)
        s.close()
        return None
    out["handshake"] = True
    return t


def read_all(s, limit=1 << 20, full="limit"):
    """Read @s to its end, at most about @limit bytes: (bytes, how it
    ended: "eof", "timeout", "error: ..." or @full when the limit was
    reached)."""
    buf = b""
    try:
        while len(buf) < limit:
            chunk = s.recv(65536)
            if not chunk:
                return buf, "eof"
            buf += chunk
    except socket.timeout:
        return buf, "timeout"
    except (ssl.SSLError, OSError) as e:
        return buf, "error: %s" % e
    return buf, full


def http_status(buf):
    line = buf.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def http_result(buf, how):
    head, _, body = buf.partition(b"\r\n\r\n")
    return {"status": http_status(buf), "end": how, "bytes": len(buf),
            "head": head.decode("latin-1")[:400], "body": body.decode("latin-1")[:400]}


def op_http(a):
    """Send a raw request (bytes as given) to host:port and read the reply
    until the peer closes; for a CONNECT, only its answer's head (after a
    200 the tunnel stays open)."""
    try:
        host = resolve4(a["host"])
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.settimeout(a.get("timeout", TIMEOUT))
        s.connect((host, a["port"]))
        s.sendall(a["request"].encode("latin-1"))
    except OSError as e:
        return err(e)
    if a["request"].startswith("CONNECT "):
        try:
            buf, how = read_head(s), "head"
        except (socket.timeout, OSError) as e:
            buf, how = b"", "error: %s" % e
    else:
        buf, how = read_all(s)
    s.close()
    out = http_result(buf, how)
    out["peer"] = host
    return out


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def op_tls(a):
    """A TLS handshake with SNI @sni, either straight to host:port or
    through the explicit proxy (CONNECT @target first), then one GET."""
    out = {}
    try:
        if a.get("proxy"):
            s = socket.create_connection(("127.0.0.1", 3128), timeout=TIMEOUT)
            t = a["target"]
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (t, t)).encode())
            head = read_head(s)
            out["connect_status"] = http_status(head)
            if out["connect_status"] != 200:
                out["handshake"] = False
                return out
        else:
            host = resolve4(a["host"])
            s = socket.socket(family_of(host), socket.SOCK_STREAM)
            s.settimeout(TIMEOUT)
            s.connect((host, a["port"]))
            out["peer"] = host
    except OSError as e:
        out.update(err(e))
        out["handshake"] = False
        return out
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = handshake(ctx, s, a["sni"], out)
    if t is None:
        return out
    try:
        t.sendall(("GET /whoami HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                   a.get("host_header", a["sni"])).encode())
        buf, how = read_all(t)
        out.update(http_result(buf, how))
    except (ssl.SSLError, OSError) as e:
        out.update(err(e))
    t.close()
    return out


HELD = []


def op_hold(a):
    """Open @n connections to host:port and write @send on each (half a
    request head: a slowloris; a whole request to a server that never
    answers: stuck clients), and leave them open (op release closes
    them)."""
    errors = {}
    host = resolve4(a["host"])
    n = 0
    for _ in range(a["n"]):
        try:
            s = socket.socket(family_of(host), socket.SOCK_STREAM)
            s.settimeout(TIMEOUT)
            s.connect((host, a["port"]))
            if a.get("send"):
                s.sendall(a["send"].encode("latin-1"))
            HELD.append(s)
            n += 1
        except OSError as e:
            key = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
            errors[key] = errors.get(key, 0) + 1
    return {"connected": n, "errors": errors}


def op_release(a):
    """Close the held connections; how many got an answer meanwhile, and
    how many the far side had closed."""
    answered = closed = 0
    for s in HELD:
        s.setblocking(False)
        try:
            data = s.recv(65536)
            if data:
                answered += 1
            else:
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    n = len(HELD)
    del HELD[:]
    return {"held": n, "answered": answered, "closed_by_peer": closed}


def op_urllib(a):
    """urllib.request with the environment's proxies, or none at all."""
    handlers = []
    if a.get("proxies") == "none":
        handlers.append(urllib.request.ProxyHandler({}))
    else:
        handlers.append(urllib.request.ProxyHandler())
    if a["url"].startswith("https:"):
        ctx = ssl.create_default_context(cafile=a.get("cafile"))
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    opener = urllib.request.build_opener(*handlers)
    out = {"env_proxies": sorted(urllib.request.getproxies())}
    try:
        with opener.open(a["url"], timeout=20) as r:
            out["status"] = r.status
            out["body"] = r.read(4096).decode("latin-1")
    except urllib.error.HTTPError as e:
        out["status"] = e.code
    except Exception as e:  # noqa: BLE001 - every failure is a result
        out.update(err(e))
    return out


def op_env(a):
    keys = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy",
            "ALL_PROXY", "all_proxy"]
    try:
        with open("/etc/resolv.conf") as f:
            resolv = f.read()
    except OSError as e:
        resolv = "error: %s" % e
    return {"env": {k: os.environ.get(k) for k in keys}, "resolv_conf": resolv}


def op_say(a):
    """A line on stderr, at once: a host watching the output knows the
    operations before this one are done."""
    sys.stderr.write(a["text"] + "\n")
    sys.stderr.flush()
    return {}


def op_sleep(a):
    time.sleep(a["seconds"])
    return {}


OPS = {"dns": op_dns, "resolve": op_resolve, "connect": op_connect, "udp": op_udp,
       "http": op_http, "tls": op_tls, "hold": op_hold, "release": op_release, "urllib": op_urllib, "env": op_env,
       "say": op_say, "sleep": op_sleep}


def run_ops(ops, table):
    """Run each operation of @ops by its "op" in @table; print the results
    as one JSON list (an exception is a result, "crashed")."""
    results = []
    for a in ops:
        t0 = time.monotonic()
        try:
            r = table[a["op"]](a)
        except Exception as e:  # noqa: BLE001 - report, never die half-way
            r = err(e)
            r["crashed"] = True
        r["ms"] = int((time.monotonic() - t0) * 1000)
        results.append(r)
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


def main():
    run_ops(json.loads(sys.argv[1]), OPS)


if __name__ == "__main__":
    main()
