# SPDX-License-Identifier: Apache-2.0
"""The unix guard through the binding (README, "Security model"): a host
socket in a writable bind is refused with ECONNREFUSED and the refusal is
counted as a denial in the result; the same socket in a read-only bind is
refused by the kernel (the overlay), which is no denial; the sandbox's own
sockets work in both, across several execs of one sandbox."""

from __future__ import annotations

import os
import socket
import tempfile
from typing import Iterator, Tuple

import pytest

import petri

from conftest import require

CONNECT = """
import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("REACHED")
except OSError as e:
    print("BLOCKED", errno.errorcode[e.errno])
"""

OWN = """
import os, socket
p = "/tmp/own.sock"
if os.path.exists(p):
    os.unlink(p)
l = socket.socket(socket.AF_UNIX); l.bind(p); l.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(p); a, _ = l.accept()
c.sendall(b"ping"); print(a.recv(4).decode())
"""


@pytest.fixture
def host_listener() -> Iterator[Tuple[str, socket.socket]]:
    require(os.geteuid() == 0, "binds of a directory the sandbox user can reach need root here")
    d = tempfile.mkdtemp(prefix="petri-guard-py-")
    os.chmod(d, 0o777)
    path = os.path.join(d, "s.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    os.chmod(path, 0o777)
    s.listen(8)
    s.setblocking(False)
    try:
        yield d, s
    finally:
        s.close()
        os.unlink(path)
        os.rmdir(d)


def accepted(s: socket.socket) -> int:
    n = 0
    while True:
        try:
            s.accept()[0].close()
            n += 1
        except BlockingIOError:
            return n


@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_host_socket_refused(host_listener: Tuple[str, socket.socket], mode: str) -> None:
    d, s = host_listener
    with petri.Sandbox(binds=["%s:/h:%s" % (d, mode)], language="python") as sb:
        for _ in range(2):
            r = sb.exec(CONNECT, args=["/h/s.sock"])
            assert r.exit_code == 0, r.stderr
            assert r.stdout == "BLOCKED ECONNREFUSED\n"
            # The guard's refusal is a denial; the overlay's is the kernel's.
            assert r.seccomp_denials == (1 if mode == "rw" else 0)
            r = sb.exec(OWN)
            assert (r.exit_code, r.stdout) == (0, "ping\n"), r.stderr
    assert accepted(s) == 0


def test_sockets_option_reaches(host_listener: Tuple[str, socket.socket]) -> None:
    d, s = host_listener
    with petri.Sandbox(binds=["%s:/h:rw,sockets" % d], language="python") as sb:
        r = sb.exec(CONNECT, args=["/h/s.sock"])
        assert (r.stdout, r.seccomp_denials) == ("REACHED\n", 0), r.stderr
    assert accepted(s) == 1
