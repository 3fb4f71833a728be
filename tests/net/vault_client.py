#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Runs INSIDE a `petri run --net proxy --secret ...` sandbox (bound read-only
at /e2e by vault_e2e.py, beside probe.py): what a prompt-injected program
would try with the placeholder the vault gives it, each attempt reported as
data so the host side judges it.

    vault_client.py '[{"op": "env"}, {"op": "https", ...}, ...]'

prints one JSON list, one result per operation.  An operation never raises.
Stdlib only, every socket with a timeout.  Output is latin-1 text of what
came back (the host looks for the real value in it: this script must never
hide bytes from the host, so bodies are returned whole up to 256 KiB).
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402  (dns, resolve, http: the egress tests' probe)

TIMEOUT = 10.0
PROXY = ("127.0.0.1", 3128)
MAX_BODY = 256 * 1024


def expand(s):
    """"$NAME" in a request template is the env var NAME (the placeholder),
    as a shell would put it there; "$b64(NAME)" its Basic credentials
    "x-access-token:" + NAME, base64-encoded."""
    for k, v in os.environ.items():
        if k.startswith("VAULT_") or k.startswith("FILE_"):
            s = s.replace("$b64(%s)" % k, base64.b64encode(
                ("x-access-token:" + v).encode()).decode())
            s = s.replace("$%s" % k, v)
    return s


def finish(req):
    """@req with "$NAME" expanded and "%CL%" (Content-Length) set to the
    length of its body as sent."""
    req = expand(req)
    if "%CL%" in req:
        head, _, body = req.partition("\r\n\r\n")
        req = head.replace("%CL%", str(len(body.encode("latin-1")))) + "\r\n\r\n" + body
    return req


def read_reply(s):
    return probe.read_all(s, MAX_BODY, "cap")


def reply(buf, how):
    head, _, body = buf.partition(b"\r\n\r\n")
    return {"status": probe.http_status(buf), "end": how, "head": head.decode("latin-1"),
            "body": body.decode("latin-1")}


def op_https(a):
    """A raw request (template expanded) over TLS to @host:@port: through
    the explicit proxy (CONNECT @host:@port) when @proxy, else straight to
    the name's (synthetic) address: the transparent path.  SNI @sni
    (default @host).  @verify: the sandbox's default trust (SSL_CERT_FILE,
    i.e. the vault's bundle) plus @cafile if given; False: no verification."""
    out = {}
    try:
        if a.get("proxy"):
            s = socket.create_connection(PROXY, timeout=TIMEOUT)
            t = "%s:%d" % (a["host"], a["port"])
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (t, t)).encode())
            head = probe.read_head(s)
            out["connect_status"] = probe.http_status(head)
            if out["connect_status"] != 200:
                out["handshake"] = False
                out["connect_head"] = head.decode("latin-1")
                return out
        else:
            s = socket.create_connection((a["host"], a["port"]), timeout=TIMEOUT)
    except OSError as e:
        out.update(probe.err(e))
        out["handshake"] = False
        return out
    if a.get("verify", True):
        ctx = ssl.create_default_context()
        if a.get("cafile"):
            ctx.load_verify_locations(a["cafile"])
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if a.get("alpn"):
        ctx.set_alpn_protocols(a["alpn"])
    t = probe.handshake(ctx, s, expand(a.get("sni", a["host"])), out)
    if t is None:
        return out
    out["alpn"] = t.selected_alpn_protocol()
    out["issuer"] = dict(x[0] for x in t.getpeercert()["issuer"]) if a.get("verify", True) \
        else None
    try:
        # @pad: that many bytes added to the form body, after it (or before
        # it with @pad_first): a large body, made here (a command line could
        # not carry it).
        req = a["request"]
        if a.get("pad"):
            head, _, body = req.partition("\r\n\r\n")
            pad = "pad=" + "x" * a["pad"]
            body = pad + "&" + body if a.get("pad_first") else body + "&" + pad
            req = head + "\r\n\r\n" + body
        t.sendall(finish(req).encode("latin-1"))
        buf, how = read_reply(t)
        out.update(reply(buf, how))
    except (ssl.SSLError, OSError) as e:
        out.update(probe.err(e))
    t.close()
    return out


def op_http(a):
    """A raw plain-HTTP request (template expanded) to @host:@port:
    through the explicit proxy when @proxy (absolute-form target), else
    straight to the name's address (the transparent listener)."""
    req = finish(a["request"])
    if a.get("proxy"):
        host, port = PROXY
    else:
        host, port = a["host"], a["port"]
    try:
        s = socket.create_connection((host, port), timeout=TIMEOUT)
        s.sendall(req.encode("latin-1"))
    except OSError as e:
        return probe.err(e)
    buf, how = read_reply(s)
    s.close()
    return reply(buf, how)


def op_urllib(a):
    """urllib.request (which follows redirects and carries added headers
    to the new host) with @headers (expanded), the environment's proxies
    unless @noproxy, the default trust plus @cafile."""
    handlers = [urllib.request.ProxyHandler({})] if a.get("noproxy") else []
    ctx = ssl.create_default_context()
    if a.get("cafile"):
        ctx.load_verify_locations(a["cafile"])
    handlers.append(urllib.request.HTTPSHandler(context=ctx))
    opener = urllib.request.build_opener(*handlers)
    data = expand(a["data"]).encode() if a.get("data") is not None else None
    req = urllib.request.Request(expand(a["url"]), data=data, method=a.get("method"))
    for k, v in a.get("headers", {}).items():
        req.add_header(k, expand(v))
    out = {}
    try:
        with opener.open(req, timeout=20) as r:
            out["status"] = r.status
            out["url"] = r.url
            out["head"] = str(r.headers)
            out["body"] = r.read(MAX_BODY).decode("latin-1")
    except urllib.error.HTTPError as e:
        out["status"] = e.code
        out["url"] = e.url
        try:
            out["body"] = e.read(MAX_BODY).decode("latin-1")
        except Exception:  # noqa: BLE001
            pass
    except Exception as e:  # noqa: BLE001 - every failure is a result
        out.update(probe.err(e))
    return out


def op_env(a):
    """The vault's variables as the code sees them, and the trust files."""
    keys = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
            "NODE_EXTRA_CA_CERTS"]
    out = {"env": {k: v for k, v in os.environ.items() if k in keys or
                   k.startswith("VAULT_") or k.startswith("FILE_")}}
    for path in ("/etc/ssl/certs/ca-certificates.crt", "/etc/petri/vault-ca.pem"):
        try:
            with open(path) as f:
                pem = f.read()
            out[path] = {"certs": pem.count("-----BEGIN CERTIFICATE-----"),
                         "subjects": cert_subjects(pem, path)}
        except OSError as e:
            out[path] = probe.err(e)
    return out


def cert_subjects(pem, path):
    """The subjects of the last two certificates in @pem (the vault's CA
    is appended to the host's bundle), via the ssl module's decoder."""
    out = []
    certs = pem.split("-----END CERTIFICATE-----")[:-1][-2:]
    for i, c in enumerate(certs):
        tmp = "/tmp/.vault-cert-%d.pem" % i
        with open(tmp, "w") as f:
            f.write(c.strip() + "\n-----END CERTIFICATE-----\n")
        try:
            d = ssl._ssl._test_decode_cert(tmp)  # noqa: SLF001 - stdlib, no openssl here
            out.append(dict(x[0] for x in d.get("subject", ())))
        except Exception as e:  # noqa: BLE001
            out.append({"error": str(e)})
        os.unlink(tmp)
    return out


def scan_bytes(data, prefix, digest, n):
    """Offsets of @prefix in @data whose @n bytes hash to @digest."""
    hits = []
    i = data.find(prefix)
    while i >= 0:
        if hashlib.sha256(data[i:i + n]).hexdigest() == digest:
            hits.append(i)
        i = data.find(prefix, i + 1)
    return hits


def op_scan(a):
    """Look for the real value everywhere this code can read, without
    being given it: the host passes a public prefix of the value, its
    SHA-256 and length, and every occurrence of the prefix is hashed.
    Files under @roots (not /proc, /sys, /dev: the kernel's views; /usr is
    the host's read-only tree, where nothing of the sandbox is written),
    each up to 32 MiB, within @seconds; every readable
    /proc/*/{environ,cmdline}; and this process's own memory (its
    environment was copied there at exec)."""
    prefix = a["prefix"].encode()
    digest, n = a["sha256"], a["len"]
    found, files, skipped = [], 0, 0
    deadline = time.monotonic() + a.get("seconds", 30)
    for root in a["roots"]:
        for dirpath, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in
                       ("/proc", "/sys", "/dev", "/usr")]
            for name in names:
                if time.monotonic() > deadline:
                    return {"error": "scan ran out of time", "files": files, "found": found}
                p = os.path.join(dirpath, name)
                try:
                    if not os.path.isfile(p) or os.path.islink(p):
                        continue
                    if os.path.getsize(p) > 32 << 20:
                        skipped += 1
                        continue
                    with open(p, "rb") as f:
                        data = f.read()
                except OSError:
                    skipped += 1
                    continue
                files += 1
                if scan_bytes(data, prefix, digest, n):
                    found.append(p)
    procs = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for what in ("environ", "cmdline"):
            try:
                with open("/proc/%s/%s" % (pid, what), "rb") as f:
                    data = f.read()
            except OSError:
                continue
            procs += 1
            if scan_bytes(data, prefix, digest, n):
                found.append("/proc/%s/%s" % (pid, what))
    mem = 0
    with open("/proc/self/maps") as f:
        maps = f.read().splitlines()
    with open("/proc/self/mem", "rb", buffering=0) as m:
        for line in maps:
            f = line.split()
            if len(f) < 2 or "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            try:
                m.seek(lo)
                data = m.read(hi - lo)
            except (OSError, OverflowError, ValueError):
                continue
            mem += len(data)
            if scan_bytes(data, prefix, digest, n):
                found.append("memory %s %s" % (f[0], f[5] if len(f) > 5 else ""))
    return {"files": files, "skipped": skipped, "proc_files": procs, "memory_bytes": mem,
            "found": found}


def op_read(a):
    """A file's bytes, as latin-1 text (e.g. /proc/self/environ)."""
    try:
        with open(a["path"], "rb") as f:
            return {"data": f.read(MAX_BODY).decode("latin-1")}
    except OSError as e:
        return probe.err(e)


def op_dns(a):
    """probe.py's DNS query, with "$NAME" in @labels expanded (and upper-
    cased with @upper: names are case-insensitive)."""
    if "labels" in a:
        a = dict(a, labels=[expand(x).upper() if a.get("upper") else expand(x)
                            for x in a["labels"]])
    return probe.op_dns(a)


OPS = {"https": op_https, "http": op_http, "urllib": op_urllib, "env": op_env, "scan": op_scan,
       "read": op_read, "dns": op_dns, "resolve": probe.op_resolve}


def main():
    probe.run_ops(json.loads(sys.argv[1]), OPS)


if __name__ == "__main__":
    main()
