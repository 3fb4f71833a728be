# SPDX-License-Identifier: Apache-2.0
"""Files in and out of /workspace, state across execs, and paths planted by the code."""

from __future__ import annotations

import errno
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


# -- remove_file / list_dir ---------------------------------------------------


def test_remove_file_file_symlink_and_empty_dir(sb: Sandbox, tmp_path: pathlib.Path) -> None:
    target = tmp_path / "host-file"
    target.write_text("untouched")
    sb.write_file("a.txt", b"a")
    sb.exec(f"import os; os.mkdir('empty'); os.symlink({str(target)!r}, 'link')")
    sb.remove_file("a.txt")
    sb.remove_file("/workspace/link")  # the link goes, its host target stays
    sb.remove_file("empty")
    assert sb.exec("import os; print(sorted(os.listdir('.')))").stdout == "[]\n"
    assert target.read_text() == "untouched"
    with pytest.raises(petri.NotFoundError) as e:
        sb.remove_file("a.txt")
    assert e.value.errno == errno.ENOENT and "a.txt" in str(e.value)


def test_remove_file_refusals(sb: Sandbox, tmp_path: pathlib.Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.chmod(tmp_path, 0o777)
    sb.exec(f"import os; os.makedirs('full/sub'); os.symlink({str(tmp_path)!r}, 'out')")
    with pytest.raises(petri.PetriError) as e:
        sb.remove_file("full")
    assert e.value.errno == errno.ENOTEMPTY
    with pytest.raises(petri.UnsafePathError):
        sb.remove_file("out/victim")
    assert victim.read_text() == "keep"
    with pytest.raises(petri.PermissionDeniedError):
        sb.remove_file("../etc/passwd")
    with pytest.raises(petri.PetriError) as e:
        sb.remove_file("/workspace")
    assert e.value.errno == errno.EISDIR
    with pytest.raises(ValueError):
        sb.remove_file("")


def test_list_dir_sorted_typed_not_followed(sb: Sandbox) -> None:
    sb.exec(
        "import os\n"
        "open('b.txt', 'w').write('hello'); os.chmod('b.txt', 0o640)\n"
        "os.utime('b.txt', (1700000000.5, 1700000000.5))\n"
        "os.mkdir('adir'); open('adir/in', 'w').write('x')\n"
        "os.symlink('/etc/passwd', 'zlink'); os.mkfifo('fifo')\n"
    )
    listing = sb.list_dir()
    assert isinstance(listing, petri.DirListing) and listing.truncated is False
    assert [e.name for e in listing] == ["adir", "b.txt", "fifo", "zlink"]
    by = {e.name: e for e in listing}
    assert by["b.txt"] == petri.DirEntry("b.txt", "file", 5, 0o640, 1700000000.5)
    assert by["adir"].type == "dir"
    assert by["zlink"].type == "symlink" and by["zlink"].size == len("/etc/passwd")
    assert by["fifo"].type == "other"
    assert sb.list_dir("/") == listing and sb.list_dir("/workspace") == listing
    (inner,) = sb.list_dir("adir")
    assert (inner.name, inner.type, inner.size) == ("in", "file", 1)


def test_list_dir_truncation_and_errors(sb: Sandbox) -> None:
    sb.exec("import os\nfor i in reversed(range(30)): open('f%02d' % i, 'w').close()\nos.symlink('.', 'self')")
    some = sb.list_dir(max_entries=5)
    assert [e.name for e in some] == ["f00", "f01", "f02", "f03", "f04"] and some.truncated
    everything = sb.list_dir(max_entries=31)
    assert len(everything) == 31 and not everything.truncated
    with pytest.raises(petri.UnsafePathError):
        sb.list_dir("self")
    with pytest.raises(petri.NotFoundError):
        sb.list_dir("missing")
    with pytest.raises(petri.PetriError) as e:
        sb.list_dir("f00")
    assert e.value.errno == errno.ENOTDIR
    with pytest.raises(petri.PermissionDeniedError):
        sb.list_dir("..")
    with pytest.raises(ValueError):
        sb.list_dir(max_entries=0)
    with pytest.raises(TypeError):
        sb.list_dir(max_entries="5")  # type: ignore[arg-type]
