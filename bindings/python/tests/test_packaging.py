# SPDX-License-Identifier: Apache-2.0
"""The ctypes structs match the C header, the package installs with pip,
and the example runs."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path


from petri import _lib
from petri.audit import verify_stream

from conftest import PKG_DIR, PYTHON, ROOT, child_env, require

STRUCTS = {
    "petri_ctx_opts": _lib.CtxOpts,
    "petri_warm": _lib.Warm,
    "petri_pool_stats": _lib.PoolStats,
    "petri_sandbox_opts": _lib.SandboxOpts,
    "petri_secret": _lib.SecretOpts,
    "petri_exec_opts": _lib.ExecOpts,
    "petri_audit_opts": _lib.AuditOpts,
    "petri_audit_reader_opts": _lib.AuditReaderOpts,
}


def test_structs_match_the_header_field_by_field(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    require(cc is not None, "a C compiler, to read the header's layout")
    lines = [
        "#include <stddef.h>",
        "#include <stdio.h>",
        "#include <petri/petri.h>",
        "#include <petri/audit.h>",
    ]
    lines.append("int main(void) {")
    for cname, struct in STRUCTS.items():
        lines.append(f'printf("{cname} sizeof %zu\\n", sizeof({cname}));')
        for field, _ in struct._fields_:
            lines.append(
                f'printf("{cname} {field} %zu %zu\\n", offsetof({cname}, {field}), '
                f"sizeof((({cname} *)0)->{field}));"
            )
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c99", "-I", str(ROOT / "include"), str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    c_layout = {}
    for line in out:
        parts = line.split()
        c_layout[(parts[0], parts[1])] = tuple(int(x) for x in parts[2:])
    py_layout = {}
    for cname, struct in STRUCTS.items():
        for field, ftype in struct._fields_:
            py_layout[(cname, field)] = (getattr(struct, field).offset, ctypes.sizeof(ftype))
        # Ours may be a prefix of a grown header struct (new fields take
        # their defaults), never larger than it.
        assert ctypes.sizeof(struct) <= c_layout[(cname, "sizeof")][0], cname
    c_fields = {k: v for k, v in c_layout.items() if k[1] != "sizeof"}
    assert py_layout == c_fields


def test_the_library_is_not_older_than_the_binding() -> None:
    # petri_*_opts_init() writes the library's struct size: a library older
    # than the binding would refuse the options it does not know.
    lib = _lib.lib()
    for init, struct in (
        ("petri_ctx_opts_init", _lib.CtxOpts),
        ("petri_sandbox_opts_init", _lib.SandboxOpts),
        ("petri_exec_opts_init", _lib.ExecOpts),
        ("petri_audit_opts_init", _lib.AuditOpts),
        ("petri_audit_reader_opts_init", _lib.AuditReaderOpts),
    ):
        scratch = ctypes.create_string_buffer(4096)
        getattr(lib, init)(scratch)
        assert ctypes.c_uint32.from_buffer(scratch).value >= ctypes.sizeof(struct), init


def test_pip_install_and_typed_marker(tmp_path: Path) -> None:
    pip_ok = subprocess.run([PYTHON, "-m", "pip", "--version"], capture_output=True).returncode == 0
    require(pip_ok, "pip for /usr/bin/python3 (Debian: python3-pip)")
    # Build from a copy: an in-tree build would leave build/ and *.egg-info behind.
    src = tmp_path / "src"
    shutil.copytree(
        PKG_DIR, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info")
    )
    target = tmp_path / "site"
    p = subprocess.run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert (target / "petri" / "py.typed").is_file()
    assert (target / "petri" / "__init__.py").is_file()
    env = child_env()
    env["PYTHONPATH"] = str(target)  # only the installed copy
    code = (
        "import petri\n"
        "assert petri.__file__.startswith(%r), petri.__file__\n"
        "from petri import Sandbox\n"
        "with Sandbox(language='python') as sb:\n"
        "    print(sb.exec(\"print('hello from isolation')\").output, end='')\n"
    ) % str(target)
    p = subprocess.run(
        [PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path)
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello from isolation\n"


def test_agent_loop_example_runs(tmp_path: Path) -> None:
    example = ROOT / "examples" / "python" / "agent_loop.py"
    assert example.is_file()
    audit = tmp_path / "run.audit"
    p = subprocess.run(
        [PYTHON, str(example), "--audit", str(audit)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    # Each cell's output and reason, in order; state carried in /workspace.
    assert "--- cell 1: exited (exit code 0," in out
    assert "loaded 5 rows" in out
    assert "total = 150" in out  # computed by cell 3 from what cell 2 saved
    assert "--- cell 4: timeout (signal 9, limits hit: timeout," in out  # the runaway cell is stopped...
    assert "--- cell 5: exited (exit code 0," in out  # ...and the loop goes on
    assert "report: total=150 mean=30.0" in out
    assert (
        out.index("cell 1")
        < out.index("cell 2")
        < out.index("cell 3")
        < out.index("cell 4")
        < out.index("cell 5")
    )
    # The audit stream, read back and verified: one line per cell's exec.
    assert "--- audit stream (%s):" % audit in out
    summary = [line for line in out.splitlines() if line.startswith("audit: exec ")]
    assert len(summary) == 5, out
    reasons = [re.search(r": started, ended (\S+)", line) for line in summary]
    assert [m.group(1) if m else None for m in reasons] == ["exited"] * 3 + ["timeout", "exited"]
    assert "(limits hit: timeout)" in summary[3]
    assert all(":%d (seq " % n in line for n, line in enumerate(summary, 1))
    assert re.search(r"^audit: \d+ events, chain verified$", out, re.M)
    verify_stream(audit)  # kept where --audit said, and intact
