# SPDX-License-Identifier: Apache-2.0
"""The contract of DESIGN.md "Python binding", verbatim, and the result's shape."""

from __future__ import annotations

import json
import subprocess

import petri
from petri import Sandbox

from conftest import PYTHON, child_env, cli_path, require

CONTRACT = """\
from petri import Sandbox
with Sandbox(language="python") as sb:           # also "node", "go", "sh"
    result = sb.exec("print('hello from isolation')")
    print(result.output)                           # stdout; also .stdout .stderr .exit_code .reason
"""


def test_contract_snippet_verbatim_in_a_fresh_interpreter() -> None:
    p = subprocess.run([PYTHON, "-c", CONTRACT], env=child_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello from isolation\n\n"
    assert p.stderr == ""


def test_contract_snippet_in_process(capsys) -> None:  # type: ignore[no-untyped-def]
    exec(compile(CONTRACT, "<contract>", "exec"), {})
    assert capsys.readouterr().out == "hello from isolation\n\n"


def test_result_fields() -> None:
    with Sandbox(language="python") as sb:
        r = sb.exec("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
    assert r.output == r.stdout == "out\n"
    assert r.stdout_bytes == b"out\n"
    assert r.stderr == "err\n" and r.stderr_bytes == b"err\n"
    assert r.exit_code == 3 and r.signal is None
    assert r.reason == "exited"
    assert r.truncated is False and r.stdout_truncated is False and r.stderr_truncated is False
    assert r.limits_hit == []
    assert r.wall_ms > 0 and r.cpu_ms >= 0 and r.peak_memory_bytes > 0
    assert r.stdout_total_bytes == 4 and r.stderr_total_bytes == 4
    assert r.sandbox_id == sb.id
    assert not r.ok


def test_undecodable_output_is_replaced_not_raised() -> None:
    with Sandbox(language="python") as sb:
        r = sb.exec("import sys; sys.stdout.buffer.write(b'a\\xff\\x00b')")
    assert r.stdout_bytes == b"a\xff\x00b"
    assert r.stdout == "a\ufffd\x00b"


def test_to_dict_has_the_cli_json_keys_and_values() -> None:
    cli = cli_path()
    require(cli is not None, "the petri CLI next to PETRI_LIBRARY (to compare --json keys)")
    code = "import sys; print('x'); sys.exit(2)"
    p = subprocess.run(
        [str(cli), "run", "--json", "--lang", "python", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    cli_json = json.loads(p.stdout)
    with Sandbox(language="python") as sb:
        d = sb.exec(code).to_dict()
    assert list(d) == list(cli_json)
    for k in (
        "exit_code",
        "signal",
        "reason",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
        "stdout_total_bytes",
        "stderr_total_bytes",
        "limits_hit",
    ):
        assert d[k] == cli_json[k], k
    for k, v in cli_json.items():
        assert type(d[k]) is type(v) or (isinstance(v, float) and isinstance(d[k], float)), k
    json.dumps(d)  # serialisable as is


def test_versions() -> None:
    assert petri.library_version().count(".") == 2
    assert petri.__version__ == "0.1.0"


def test_reasons_list_matches_library() -> None:
    from petri import _lib

    lib = _lib.lib()
    names = tuple(lib.petri_reason_name(i).decode() for i in range(len(petri.REASONS)))
    assert names == petri.REASONS
    assert lib.petri_reason_name(len(petri.REASONS)).decode() == "unknown"
