# SPDX-License-Identifier: Apache-2.0
"""TLS in front of petrid: Debian's nginx running deploy/nginx/petrid.conf
(only its port, certificate and socket paths replaced) in front of a
petrid listening on a unix socket, and HAProxy's TLS bind of
deploy/haproxy/haproxy.cfg; a self-signed certificate made with openssl
is the clients' only CA.  Create, exec, files and an SSE stream over
https; the stream arrives unbuffered; nginx's own errors are JSON."""

import grp
import os
import secrets
import ssl
import subprocess

import pytest

from deploy_util import (DEPLOY, Client, need, need_root, procs, random_port,  # noqa: F401
                         sha256_hex, start_petrid, wait_healthz, wait_states, workdir)

NGINX_CONF = os.path.join(DEPLOY, "nginx", "petrid.conf")
HAPROXY_CFG = os.path.join(DEPLOY, "haproxy", "haproxy.cfg")


def replace_once(text, old, new):
    assert text.count(old) == 1, "deploy/nginx/petrid.conf: expected %r once" % old
    return text.replace(old, new)


@pytest.fixture
def base(workdir):  # noqa: F811
    return str(workdir)


def make_cert(openssl, d):
    crt, key = os.path.join(d, "petrid.crt"), os.path.join(d, "petrid.key")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


def check_front(client, crt_is_ca=True):
    """Create, exec, files, stream and delete through @client (https)."""
    sb = client.json("POST", "/v1/sandboxes", {}, expect=201)
    sid = sb["id"]
    r = client.json("POST", "/v1/sandboxes/%s/exec" % sid, {"code": "echo tls-$((40+2))"})
    assert r["exit_code"] == 0 and r["stdout"] == "tls-42\n", r
    blob = os.urandom(1 << 20)
    st, _, body = client.request("PUT", "/v1/sandboxes/%s/files/blob.bin" % sid, blob)
    assert st == 204, (st, body)
    st, _, body = client.request("GET", "/v1/sandboxes/%s/files/blob.bin" % sid)
    assert st == 200 and body == blob, st
    events = list(client.stream("/v1/sandboxes/%s/exec" % sid,
                                {"code": "for k in 1 2 3; do echo tick $k; sleep 0.6; done"}))
    outs = [(d["data"], t) for e, d, t in events if e == "stdout"]
    assert "".join(d for d, _ in outs) == "tick 1\ntick 2\ntick 3\n", events
    assert events[-1][0] == "result" and events[-1][1]["exit_code"] == 0, events
    # Buffered, the first chunk would come with the result.
    assert events[-1][2] - outs[0][1] > 1.0, "stream buffered: %r" % events
    st, _, _ = client.request("DELETE", "/v1/sandboxes/" + sid)
    assert st == 204
    return sid


def test_nginx_tls_front(procs, base):  # noqa: F811
    need_root()
    nginx, openssl = need("nginx"), need("openssl")
    crt, key = make_cert(openssl, base)
    token = secrets.token_hex(16)
    tenants = {"acme": {"token_sha256": sha256_hex(token), "max_sandboxes": 4,
                        "languages": ["sh"], "defaults": {"language": "sh", "memory": "64M"}}}

    # The socket's directory as deploy/nginx/petrid.conf says: setgid, group
    # of nginx's workers (here nobody:nogroup), so petrid's 0660 socket is
    # theirs to connect to, and nobody else's.
    run = os.path.join(base, "run")
    os.mkdir(run)
    nogroup = grp.getgrnam("nogroup").gr_gid
    os.chown(run, 0, nogroup)
    os.chmod(run, 0o2750)
    sock = os.path.join(run, "petrid.sock")
    petrid, _ = start_petrid(procs, base, "n1", tenants, unix=sock, tcp=False)
    st = os.stat(sock)
    assert st.st_gid == nogroup and (st.st_mode & 0o777) == 0o660, (st.st_gid, oct(st.st_mode))

    conf = open(NGINX_CONF).read()
    port = random_port()
    conf = replace_once(conf, "listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % port)
    conf = replace_once(conf, "listen [::]:443 ssl http2;", "")
    conf = replace_once(conf, "ssl_certificate     /etc/nginx/tls/petrid.crt;",
                        "ssl_certificate %s;" % crt)
    conf = replace_once(conf, "ssl_certificate_key /etc/nginx/tls/petrid.key;",
                        "ssl_certificate_key %s;" % key)
    conf = replace_once(conf, "server unix:/run/petrid/petrid.sock;", "server unix:%s;" % sock)
    with open(os.path.join(base, "petrid.conf"), "w") as f:
        f.write(conf)
    temp = "".join("%s_temp_path %s/%s;\n" % (k, base, k) for k in
                   ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = os.path.join(base, "nginx.conf")
    with open(main, "w") as f:
        f.write("user nobody nogroup;\nworker_processes 1;\npid %s/nginx.pid;\n"
                "error_log %s/error.log info;\nevents { worker_connections 64; }\n"
                "http {\n access_log %s/access.log;\n default_type application/octet-stream;\n%s"
                " include %s/petrid.conf;\n}\n" % (base, base, base, temp, base))
    ng = procs.start("nginx", [nginx, "-e", os.path.join(base, "error.log"), "-p", base,
                               "-c", main, "-g", "daemon off;"])

    ctx = ssl.create_default_context(cafile=crt)
    client = Client(port=port, ssl_context=ctx, token=token)
    health = wait_healthz(client, ng, "nginx", timeout=15)
    assert health["node"] == "n1", health
    check_front(client)

    # The certificate really is checked: without it as CA the handshake fails.
    other = Client(port=port, ssl_context=ssl.create_default_context(), token=token)
    with pytest.raises(ssl.SSLCertVerificationError):
        other.request("GET", "/healthz", token=False)

    # Bodies over client_max_body_size (= petrid's max_body_bytes, 16 MiB):
    # nginx's own 413, in petrid's JSON shape.
    sb = client.json("POST", "/v1/sandboxes", {}, expect=201)
    st, hdrs, body = client.request("PUT", "/v1/sandboxes/%s/files/big" % sb["id"],
                                    b"x" * ((16 << 20) + 1))
    assert st == 413 and body["error"]["code"] == "body_too_large", (st, body)
    assert client.request("DELETE", "/v1/sandboxes/" + sb["id"])[0] == 204

    # petrid gone: nginx answers JSON 503 node_unavailable.
    assert petrid.stop() == 0
    st, hdrs, body = client.request("GET", "/v1/sandboxes")
    assert st == 503 and body["error"]["code"] == "node_unavailable", (st, body)
    assert ng.alive()


def test_haproxy_tls_bind(procs, base):  # noqa: F811
    need_root()
    haproxy, openssl = need("haproxy"), need("openssl")
    crt, key = make_cert(openssl, base)
    pem = os.path.join(base, "petrid.pem")
    with open(pem, "w") as f:
        f.write(open(crt).read() + open(key).read())
    token = secrets.token_hex(16)
    tenants = {"acme": {"token_sha256": sha256_hex(token), "max_sandboxes": 4,
                        "languages": ["sh"], "defaults": {"language": "sh", "memory": "64M"}}}
    _, node_port = start_petrid(procs, base, "n1", tenants)
    # n2 and n3: loopback ports nothing listens on (down from the start).
    dead = [random_port(taken={node_port}) for _ in range(2)]
    plain, tls = random_port(taken={node_port, *dead}), random_port(taken={node_port, *dead})
    env = dict(os.environ, PETRID_BIND="127.0.0.1:%d" % plain,
               PETRID_TLS_BIND="127.0.0.1:%d" % tls, PETRID_TLS_CERT=pem,
               PETRID_HAPROXY_SOCK=os.path.join(base, "admin.sock"),
               PETRID_HAPROXY_LOG="stderr", PETRID_CHECK_INTER="200ms",
               PETRID_N1="127.0.0.1:%d" % node_port,
               PETRID_N2="127.0.0.1:%d" % dead[0], PETRID_N3="127.0.0.1:%d" % dead[1])
    hp = procs.start("haproxy", [haproxy, "-db", "-f", HAPROXY_CFG], env=env)
    client = Client(port=tls, ssl_context=ssl.create_default_context(cafile=crt), token=token)
    wait_healthz(client, hp, "haproxy (TLS)", timeout=10)
    wait_states(env["PETRID_HAPROXY_SOCK"], {"n1": "UP", "n2": "DOWN", "n3": "DOWN"})
    sid = check_front(client)
    assert sid.startswith("sb_n1_")
