# SPDX-License-Identifier: Apache-2.0
"""Files in and out of /workspace, state across execs, and paths planted by the code."""

from __future__ import annotations

import os
import pathlib

import pytest

import petri
from petri import Sandbox


def test_write_then_read_back(sb: Sandbox) -> None:
    data = bytes(range(256)) * 100
    sb.write_file("in/data.bin", data)  # parent directories are created
    r = sb.exec("import hashlib; print(hashlib.sha256(open('in/data.bin','rb').read()).hexdigest())")
    import hashlib

    assert r.stdout.strip() == hashlib.sha256(data).hexdigest()
    assert sb.read_file("in/data.bin") == data
    assert sb.read_file("/workspace/in/data.bin") == data
    assert sb.read_file(pathlib.PurePosixPath("in") / "data.bin") == data


def test_str_data_mode_and_empty(sb: Sandbox) -> None:
    sb.write_file("script.sh", "#!/bin/sh\necho ran ünïcode\n", mode=0o755)
    r = sb.run(["./script.sh"])
    assert r.stdout == "ran ünïcode\n"
    assert (
        sb.exec("import os, stat; print(oct(stat.S_IMODE(os.stat('script.sh').st_mode)))").stdout == "0o755\n"
    )
    sb.write_file("empty", b"")
    assert sb.read_file("empty") == b""


def test_state_persists_between_execs(sb: Sandbox) -> None:
    sb.exec("open('counter', 'w').write('1')")
    sb.exec("n = int(open('counter').read()); open('counter', 'w').write(str(n + 1))")
    assert sb.read_file("counter") == b"2"


def test_code_output_file_out(sb: Sandbox) -> None:
    sb.exec("import json; json.dump({'answer': 42}, open('/workspace/out.json', 'w'))")
    import json

    assert json.loads(sb.read_file("out.json")) == {"answer": 42}


def test_missing_file_and_max_bytes(sb: Sandbox) -> None:
    with pytest.raises(petri.NotFoundError) as e:
        sb.read_file("nope.txt")
    assert "nope.txt" in str(e.value) and e.value.errno == 2
    sb.write_file("big", b"x" * 10000)
    with pytest.raises(petri.TooLargeError, match="more than 100"):
        sb.read_file("big", max_bytes=100)
    assert len(sb.read_file("big", max_bytes="10K")) == 10000


@pytest.mark.parametrize(
    "plant,path",
    [
        ("os.symlink('/etc/passwd', 'link')", "link"),
        ("os.symlink('/etc', 'dirlink')", "dirlink/passwd"),
        ("os.symlink('/proc/1/root/etc/passwd', 'proclink')", "proclink"),
        ("os.mkdir('d'); os.symlink('../../../etc/passwd', 'd/rel')", "d/rel"),
    ],
)
def test_read_file_refuses_symlinks_planted_by_code(sb: Sandbox, plant: str, path: str) -> None:
    r = sb.exec("import os; " + plant)
    assert r.exit_code == 0, r.stderr
    with pytest.raises(petri.PetriError) as e:
        sb.read_file(path)
    assert e.value.message  # the library's message, e.g. "open /workspace/link: ..."
    assert "workspace" in str(e.value)


def test_write_file_does_not_follow_planted_symlinks(sb: Sandbox, tmp_path: pathlib.Path) -> None:
    target = tmp_path / "host-file"
    target.write_text("untouched")
    os.chmod(tmp_path, 0o755)
    sb.exec(f"import os; os.symlink({str(target)!r}, 'evil'); os.symlink('/tmp', 'evildir')")
    with pytest.raises(petri.PetriError):
        sb.write_file("evil", b"pwned")
    with pytest.raises(petri.PetriError):
        sb.write_file("evildir/x", b"pwned")
    assert target.read_text() == "untouched"


@pytest.mark.parametrize("path", ["../etc/passwd", "a/../../x", "/etc/passwd/../../x"])
def test_paths_leaving_the_workspace_are_refused(sb: Sandbox, path: str) -> None:
    with pytest.raises(petri.PetriError):
        sb.read_file(path)
    with pytest.raises(petri.PetriError):
        sb.write_file(path, b"x")


def test_directory_is_not_a_file(sb: Sandbox) -> None:
    sb.exec("import os; os.mkdir('adir')")
    with pytest.raises(petri.InvalidArgumentError, match="not a regular file"):
        sb.read_file("adir")
