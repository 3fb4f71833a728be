# SPDX-License-Identifier: Apache-2.0
"""Proof of zero state through the binding (issue 15, item 2): the C suite
tests/security/test_recycle_zero_state.c, in its two main cases, from
Python: tenant A of Context(warm={"sh": 1}) leaves traces everywhere it can
(tests/security/attacks/recycle_plant.sh and recycle_tenant.py), B -- A's
init recycled, sb.reuses == 1 -- finds none in its first exec; and the probe
battery (attacks/recycle_probe.sh) gives the same picture in a recycled, a
fresh (recycle=False) and an unpooled (no_pool=True) sandbox but for the
sections that differ by design.

To be sure the pool has room for A when A is closed, the recycling context
has a single host id range (host_uid_base 0xfffe0000, the last one; a
sandbox claims its range while it lives): while A lives the refill cannot
build, so A's init is what refills the pool.  That needs a root host (an
unprivileged one maps only its own id and the pool then refills at once).
"""

from __future__ import annotations

import os
import time
from typing import Dict, List

import petri
from conftest import ROOT, require

ATTACKS = ROOT / "tests" / "security" / "attacks"
WAIT = 60.0
ONE_RANGE_BASE = 0xFFFE0000

# Sections of the battery that differ between any two sandboxes, and why
# (the same list as by_design[] in the C suite).
BY_DESIGN = {
    "boot_id": "a new boot id per exec (libpetri/init/mounts.c): two execs never share one",
    "net_sockstat_host": "sockstat's TCP/UDP alloc and mem are the host's global counters",
}


def attack(name: str) -> str:
    text = (ATTACKS / name).read_text()
    if name.endswith(".py"):
        text = (ATTACKS / "attack_common.py").read_text() + "\n" + text
    return text


def verdicts(out: str) -> Dict[str, str]:
    v = {}
    for line in out.splitlines():
        if line.startswith("CHECK "):
            name, _, verdict = line[6:].partition(" ")
            v[name] = verdict
    return v


def recycling_context() -> petri.Context:
    require(os.geteuid() == 0, "the pool is held off by the single id range only on a root host")
    ctx = petri.Context(warm={"sh": 1}, host_uid_base=ONE_RANGE_BASE)
    assert ctx.pool_wait(WAIT), "the pool did not fill (does another sandbox hold id range 0xfffe0000?)"
    return ctx


def give_back(ctx: petri.Context, sb: petri.Sandbox) -> None:
    """Close @sb and wait until the pool recycled or discarded it and is
    full again (pool_wait answers at once with the refill's last failure,
    the missing id range, while the pool is not full: poll)."""
    before = ctx.pool_stats("sh")
    sb.close()
    deadline = time.monotonic() + WAIT
    while True:
        st = ctx.pool_stats("sh")
        if st.recycled + st.discarded > before.recycled + before.discarded and st.ready == st.target:
            return
        assert time.monotonic() < deadline, st
        time.sleep(0.02)


def plant(a: petri.Sandbox) -> None:
    r = a.exec(attack("recycle_plant.sh"), language="sh", env={"EXEC_A_SECRET": "exec-secret-of-a"}, timeout=60)
    v = verdicts(r.stdout)
    assert r.exit_code == 0 and "DONE" in r.stdout.splitlines(), r.stdout
    bad = {k: x for k, x in v.items() if k.startswith("plant_") and not k.startswith("plant_env") and x != "OK"}
    assert not bad, bad
    assert v["plant_env_sandbox"] == "sandbox-secret-of-a" and v["plant_env_exec"] == "exec-secret-of-a"
    r = a.exec(attack("recycle_tenant.py"), language="python", env={"RECYCLE_MODE": "plant"}, timeout=60)
    v = verdicts(r.stdout)
    assert r.exit_code == 0 and "DONE" in r.stdout.splitlines(), (r.stdout, r.stderr)
    for name in ("sysv_shm", "sysv_sem", "sysv_msg", "posix_shm", "xattr", "memory", "sockets",
                 "stubborn", "reforker", "stopped", "children", "ghosts", "mq_quota"):
        assert v.get("plant_" + name, "missing").split()[0] == "OK", (name, v.get("plant_" + name))
    assert v["plant_posix_mq"] in ("OK", "BLOCKED EACCES")
    for name in ("keyring", "keyring_session", "hostname"):
        assert v["plant_" + name] == "BLOCKED EPERM", (name, v["plant_" + name])


def take_recycled(ctx: petri.Context, a_init: int, **kw: object) -> petri.Sandbox:
    before = ctx.pool_stats("sh")
    b = ctx.sandbox(language="sh", **kw)
    after = ctx.pool_stats("sh")
    assert after.hits == before.hits + 1, after
    assert b.reuses == 1 and b.init_pid == a_init, (b.reuses, b.init_pid, a_init)
    return b


def test_the_next_tenant_finds_nothing() -> None:
    with recycling_context() as ctx:
        a = ctx.sandbox(language="sh", env={"TENANT_A_SECRET": "sandbox-secret-of-a"})
        assert a.reuses == 0
        a_init, a_id = a.init_pid, a.id
        plant(a)
        give_back(ctx, a)
        st = ctx.pool_stats("sh")
        assert st.recycled == 1 and st.discarded == 0, st
        with take_recycled(ctx, a_init, env={"TENANT_B": "1"}) as b:
            assert b.id != a_id
            r = b.exec(attack("recycle_tenant.py"), language="python", env={"RECYCLE_MODE": "look"}, timeout=60)
            assert r.exit_code == 0 and "DONE" in r.stdout.splitlines(), (r.stdout, r.stderr)
            v = verdicts(r.stdout)
            traces = [k for k in v if k.startswith("trace_") and k != "trace_sysctls"]
            assert len(traces) >= 21, v
            leaked = {k: v[k] for k in traces if not v[k].startswith("CLEAN")}
            assert not leaked, leaked
            # Nothing A planted ran (e.g. a usercustomize printing LEAKED).
            assert not [x for x in r.stdout.splitlines() if "LEAKED" in x and not x.startswith("CHECK trace_")]
            assert "LEAKED" not in r.stderr
            r = b.run(["sh", "-c", 'echo "B=$TENANT_B A=${TENANT_A_SECRET:-none}"'])
            assert r.stdout == "B=1 A=none\n"


def battery(sb: petri.Sandbox) -> List[str]:
    r = sb.exec(attack("recycle_probe.sh"), language="sh", timeout=60)
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and lines and lines[-1] == "DONE", (r.stdout[-2000:], r.stderr)
    for section in BY_DESIGN:
        assert any(line.startswith(section + ": ") for line in lines), section
    return [line for line in lines if line.partition(":")[0] not in BY_DESIGN]


def differences(a: List[str], b: List[str]) -> List[str]:
    """Section by section, line by line within each (as the C suite)."""
    out = []
    order = list(dict.fromkeys(x.partition(":")[0] for x in a + b))
    for sec in order:
        xa = [x for x in a if x.partition(":")[0] == sec]
        xb = [x for x in b if x.partition(":")[0] == sec]
        for i in range(max(len(xa), len(xb))):
            x = xa[i] if i < len(xa) else "<none>"
            y = xb[i] if i < len(xb) else "<none>"
            if x != y:
                out.append("%s\n  vs %s" % (x, y))
    return out


_TRIO: Dict[str, List[str]] = {}


def trio() -> Dict[str, List[str]]:
    """The battery in a recycled sandbox after an A that left everything
    (its first exec; then the look's counters line), a fresh one and an
    unpooled one.  Made once for both tests below."""
    if _TRIO:
        return _TRIO
    with recycling_context() as ctx, petri.Context(warm={"sh": 1}, recycle=False) as fctx:
        a = ctx.sandbox(language="sh", env={"TENANT_A_SECRET": "sandbox-secret-of-a"})
        a_init = a.init_pid
        plant(a)
        give_back(ctx, a)
        with take_recycled(ctx, a_init) as b:
            _TRIO["recycled"] = battery(b)
        assert fctx.pool_wait(WAIT)
        with fctx.sandbox(language="sh") as f:
            assert f.reuses == 0
            _TRIO["fresh"] = battery(f)
        with fctx.sandbox(language="sh", no_pool=True) as u:
            _TRIO["unpooled"] = battery(u)
    return _TRIO


def test_a_recycled_sandbox_answers_the_probes_as_a_fresh_one() -> None:
    t = trio()
    assert len(t["recycled"]) > 500
    assert differences(t["fresh"], t["unpooled"]) == []
    diff = differences(t["recycled"], t["fresh"])
    assert diff == [], "\n".join(diff[:40])
