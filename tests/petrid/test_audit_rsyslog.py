# SPDX-License-Identifier: Apache-2.0
"""A tenant's audit stream shipped by the node's log pipeline: Debian's
rsyslogd (foreground, a temp config that includes
deploy/rsyslog/petri-audit.conf with its two paths replaced; no system
sockets, no kernel log) listens on a unix stream socket, petrid writes
the tenant's events there as JSON lines ("format": "jsonl"), rsyslog
writes each line unchanged to a file.  After petrid stops cleanly the
file must hold the whole stream intact: every line JSON, seq gap-free
from the header (0) to the StreamEnd, each prev_hash the previous hash,
only this tenant's sandboxes, and the same objects `petri audit json`
makes of a protobuf stream.  Beside it, a tenant whose destination is a
protobuf unix socket (read by this test) and one with a file: both must
pass `petri audit verify`."""

import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time

import pytest

from deploy_util import (DEPLOY, PETRI, Client, need, need_root, procs,  # noqa: F401
                         sha256_hex, start_petrid, workdir)

SNIPPET = os.path.join(DEPLOY, "rsyslog", "petri-audit.conf")


def replace_once(text, old, new):
    assert text.count(old) == 1, "deploy/rsyslog/petri-audit.conf: expected %r once" % old
    return text.replace(old, new)


def wait_for(pred, what, timeout=10.0, fail=True):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            if fail:
                raise AssertionError("timed out waiting for " + what)
            return False
        time.sleep(0.02)
    return True


class SocketSink:
    """A unix stream socket that stores what every connection sends."""

    def __init__(self, path):
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.data = []
        self.closed = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        with conn:
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                self.data.append(b)
        self.closed.set()

    def close(self):
        self.srv.close()
        self.th.join(5)


LONG_ARG = "".join("arg%05d-\u00e9 " % n for n in range(2000))  # ~24 KB


def workload(client):
    """What each tenant does: two sandboxes, a few execs, one deleted,
    one left for the drain to destroy.  Returns the sandbox ids."""
    ids = [client.json("POST", "/v1/sandboxes", {}, expect=201)["id"] for _ in range(2)]
    for i in ids:
        r = client.json("POST", "/v1/sandboxes/%s/exec" % i,
                        {"code": "echo 'caf\u00e9 \"q\" \\\\ tab\t'; ls /workspace > /dev/null"})
        assert r["exit_code"] == 0, r
        r = client.json("POST", "/v1/sandboxes/%s/exec" % i, {"code": "exit 3"})
        assert r["exit_code"] == 3, r
    # A long command line makes events far over rsyslog's default 8 KiB
    # message size (the snippet's note: raise maxMessageSize).
    r = client.json("POST", "/v1/sandboxes/%s/exec" % ids[1],
                    {"argv": ["/bin/sh", "-c", "true " + LONG_ARG]})
    assert r["exit_code"] == 0, r
    assert client.request("DELETE", "/v1/sandboxes/" + ids[0])[0] == 204
    return ids


def petri_audit(*args):
    return subprocess.run([PETRI, "audit", *args], capture_output=True, text=True, timeout=60)


def check_chain(events, what):
    """seq 0..N gap-free, header first, StreamEnd last, hashes chained."""
    assert events, what + ": no events"
    kinds = [e["unmapped"]["petri"]["kind"] for e in events]
    assert kinds[0] == "stream_header", (what, kinds[:3])
    assert kinds[-1] == "stream_end" and "stream_end" not in kinds[:-1], (what, kinds[-3:])
    prev = ""
    for n, e in enumerate(events):
        p = e["unmapped"]["petri"]
        assert p["seq"] == n and e["metadata"]["sequence"] == n, (what, n, p["seq"])
        assert p["prev_hash"] == prev, (what, n, "prev_hash does not chain")
        assert len(p["hash"]) == 64 and e["metadata"]["uid"] == p["hash"], (what, n)
        prev = p["hash"]
    end = events[-1]["unmapped"]["petri"]["stream_end"]
    assert int(end.get("total_written", 0)) == len(events) - 1, (what, end)
    return kinds


def shape(events):
    """{kind: set of the key paths of its objects}: what must be the same
    in the JSON lines and in `petri audit json` of a protobuf stream."""
    def keys(o, prefix=""):
        out = set()
        for k, v in o.items():
            out.add(prefix + k)
            if isinstance(v, dict):
                out |= keys(v, prefix + k + ".")
        return out
    s = {}
    for e in events:
        s.setdefault(e["unmapped"]["petri"]["kind"], set()).update(keys(e))
    return s


def rsyslog_setup(d):
    """rsyslog's config in @d: only imptcp on our socket (no imuxsock, no
    imklog: this instance touches no system socket), the snippet as
    shipped with its two paths replaced.  Returns (argv, socket, output)."""
    rsyslogd = need("rsyslogd")
    sock, out = os.path.join(d, "audit-acme.sock"), os.path.join(d, "out", "acme.audit.jsonl")
    snippet = open(SNIPPET).read()
    snippet = replace_once(snippet, 'path="/run/petri/audit-acme.sock"', 'path="%s"' % sock)
    snippet = replace_once(snippet, 'file="/var/log/petri/acme.audit.jsonl"', 'file="%s"' % out)
    with open(os.path.join(d, "petri-audit.conf"), "w") as f:
        f.write(snippet)
    os.mkdir(os.path.join(d, "rsyslog-work"))
    main = os.path.join(d, "rsyslog.conf")
    with open(main, "w") as f:
        f.write('global(workDirectory="%s/rsyslog-work" maxMessageSize="1m")\n'
                'include(file="%s/petri-audit.conf")\n' % (d, d))
    return [rsyslogd, "-n", "-f", main, "-i", os.path.join(d, "rsyslogd.pid")], sock, out


def start_rsyslog(procs, argv, sock):
    if os.path.exists(sock):
        os.unlink(sock)
    rs = procs.start("rsyslogd", argv)
    wait_for(lambda: os.path.exists(sock) or not rs.alive(), "rsyslog's socket")
    assert rs.alive(), rs.output()
    return rs


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines()]
    except FileNotFoundError:
        return []


def test_audit_jsonl_through_rsyslog(procs, workdir):  # noqa: F811
    need_root()
    if not os.access(PETRI, os.X_OK):
        pytest.fail("%s not built" % PETRI)
    d = str(workdir)
    argv, sock, out = rsyslog_setup(d)
    rs = start_rsyslog(procs, argv, sock)

    # petrid: acme -> jsonl to rsyslog; beta -> protobuf to our socket;
    # gamma -> protobuf file.
    pb_sock = os.path.join(d, "audit-beta.sock")
    sink = SocketSink(pb_sock)
    gamma_file = os.path.join(d, "gamma.audit")
    tokens = {t: secrets.token_hex(16) for t in ("acme", "beta", "gamma")}
    audit = {"acme": {"unix": sock, "format": "jsonl"}, "beta": {"unix": pb_sock},
             "gamma": {"file": gamma_file}}
    tenants = {t: {"token_sha256": sha256_hex(tokens[t]), "max_sandboxes": 4, "languages": ["sh"],
                   "defaults": {"language": "sh", "memory": "64M"}, "audit": audit[t]}
               for t in tokens}
    try:
        petrid, port = start_petrid(procs, d, "n1", tenants)
        ids = {t: workload(Client(port=port, token=tokens[t])) for t in tokens}
        # A clean stop ends every tenant's stream with its StreamEnd.
        assert petrid.stop() == 0, petrid.output()[-3000:]
        assert sink.closed.wait(10), "petrid did not close the protobuf audit socket"
    finally:
        sink.close()

    # What rsyslog wrote, once the StreamEnd line is in (then stop it: it
    # flushes and closes the file).
    def complete():
        try:
            with open(out, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        return data.endswith(b"\n") and b'"kind":"stream_end"' in data.rsplit(b"\n", 2)[-2]
    # (Without it after 10 s, look at what did arrive: the checks below
    # say where the stream breaks.)
    wait_for(complete, "the StreamEnd line in " + out, fail=False)
    assert rs.stop() == 0, rs.output()
    raw = open(out, "rb").read()
    # Decoded line by line (a cut line may end inside a UTF-8 sequence).
    lines = [line.decode("utf-8", errors="replace") for line in raw.split(b"\n")]
    assert lines[-1] == "", "the file does not end with a newline"
    lines.pop()
    events = []
    for n, line in enumerate(lines):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            raise AssertionError("line %d of %d is not JSON (%s): %.200r" % (n + 1, len(lines), e, line))
    kinds = check_chain(events, "jsonl via rsyslog")
    print("jsonl via rsyslog: %d events intact (%d bytes)" % (len(events), len(raw)))

    # Only acme's sandboxes, every one of them, with its execs.
    seen = {e["unmapped"]["petri"]["sandbox_id"] for e in events} - {""}
    assert seen == set(ids["acme"]), (seen, ids)
    for i in ids["acme"]:
        per = [e["unmapped"]["petri"]["kind"] for e in events
               if e["unmapped"]["petri"]["sandbox_id"] == i]
        assert per.count("sandbox_created") == 1 and per.count("sandbox_destroyed") == 1, per
        assert per.count("exec_started") == per.count("exec_ended") == (2 if i == ids["acme"][0] else 3), per
    assert kinds.count("exec_ended") == 5
    # The long command line arrived whole (in the exec's events).
    assert any(LONG_ARG in line for line in lines), "the long argv did not arrive whole"
    longest = max(len(line.encode()) for line in lines)
    print("longest line %d bytes" % longest)

    # The protobuf streams (socket and file) are intact chains too, and the
    # JSON lines are what `petri audit json` makes of such a stream.
    pb = os.path.join(d, "beta.audit")
    with open(pb, "wb") as f:
        f.write(b"".join(sink.data))
    for path in (pb, gamma_file):
        r = petri_audit("verify", path)
        assert r.returncode == 0, (path, r.stdout, r.stderr)
    r = petri_audit("json", pb)
    assert r.returncode == 0, r.stderr
    pb_events = [json.loads(line) for line in r.stdout.splitlines()]
    check_chain(pb_events, "protobuf via unix socket")
    assert {e["unmapped"]["petri"]["sandbox_id"] for e in pb_events} - {""} == set(ids["beta"])
    jl, ref = shape(events), shape(pb_events)
    for kind in ("stream_header", "sandbox_created", "exec_started", "exec_ended",
                 "sandbox_destroyed", "stream_end"):
        assert kind in jl and kind in ref, (kind, sorted(jl), sorted(ref))
        assert jl[kind] == ref[kind], (kind, jl[kind] ^ ref[kind])


def collector_restart(procs, d):
    """rsyslog up for one exec, down for one, back for two; petrid then
    stopped.  Returns (the lines rsyslog wrote, petrid's audit lost count
    read while the collector was down)."""
    argv, sock, out = rsyslog_setup(d)
    rs = start_rsyslog(procs, argv, sock)
    token = secrets.token_hex(16)
    tenants = {"acme": {"token_sha256": sha256_hex(token), "max_sandboxes": 2, "languages": ["sh"],
                        "defaults": {"language": "sh", "memory": "64M"},
                        "audit": {"unix": sock, "format": "jsonl"}}}
    petrid, port = start_petrid(procs, d, "n1", tenants)
    client = Client(port=port, token=token)
    sid = client.json("POST", "/v1/sandboxes", {}, expect=201)["id"]

    def ended():
        return sum(1 for e in read_lines(out) if e["unmapped"]["petri"]["kind"] == "exec_ended")

    def lost():
        text = client.request("GET", "/metrics")[2].decode()
        return int(re.search(r'petrid_audit_lost_total\{tenant="acme"\} (\d+)', text).group(1))

    client.json("POST", "/v1/sandboxes/%s/exec" % sid, {"code": "echo before"})
    wait_for(lambda: ended() == 1, "the first exec's events at rsyslog")
    assert rs.stop() == 0
    # An exec while no collector listens: its events cannot be delivered.
    client.json("POST", "/v1/sandboxes/%s/exec" % sid, {"code": "echo while-down"})
    time.sleep(1.0)
    lost_down = lost()
    rs = start_rsyslog(procs, argv, sock)
    for _ in range(2):
        client.json("POST", "/v1/sandboxes/%s/exec" % sid, {"code": "echo after"})
    wait_for(lambda: ended() == 3, "the later execs' events at the restarted rsyslog")
    assert petrid.stop() == 0
    wait_for(lambda: read_lines(out)[-1]["unmapped"]["petri"]["kind"] == "stream_end",
             "the StreamEnd")
    assert rs.stop() == 0
    return read_lines(out), lost_down


def test_audit_collector_restart(procs, workdir):  # noqa: F811
    """The log agent is down during an exec, then back: petrid reconnects
    on its next write, says what was lost with a Loss event, and the
    execs that run once the agent is back arrive whole."""
    need_root()
    events, _ = collector_restart(procs, str(workdir))
    seqs = [e["unmapped"]["petri"]["seq"] for e in events]
    kinds = [e["unmapped"]["petri"]["kind"] for e in events]
    gaps = [n for n in range(1, len(seqs)) if seqs[n] != seqs[n - 1] + 1]
    # One gap (the events of the exec nobody received), and right after it
    # the Loss event that reports it; everything else chained.
    assert len(gaps) == 1, (gaps, seqs)
    assert kinds[gaps[0]] == "loss", (kinds[gaps[0]], events[gaps[0]])
    for n in range(1, len(events)):
        if n != gaps[0]:
            assert events[n]["unmapped"]["petri"]["prev_hash"] == \
                events[n - 1]["unmapped"]["petri"]["hash"], n
    assert kinds.count("exec_ended") == 3 and kinds[-1] == "stream_end", kinds
    assert kinds[gaps[0]:].count("exec_started") == 2, kinds


def test_audit_collector_down_loss_count(procs, workdir):  # noqa: F811
    """What the stream and petrid_audit_lost_total say was lost while the
    collector was down is what was produced then: one short exec (about
    ten events), not hundreds (the audit writer once counted each Loss
    record the dead sink refused as lost and made another at once)."""
    need_root()
    events, lost_down = collector_restart(procs, str(workdir))
    end = events[-1]["unmapped"]["petri"]["stream_end"]
    assert lost_down <= 50, "petrid_audit_lost_total %d after one exec of ~10 events" % lost_down
    assert int(end.get("total_lost", 0)) <= 50, end
