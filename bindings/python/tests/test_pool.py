# SPDX-License-Identifier: Apache-2.0
"""The warm pool through the binding: Context(warm=..., recycle=...),
Context.pool_stats/pool_wait, Sandbox.reuses and Sandbox(no_pool=True)."""

from __future__ import annotations

import threading
from typing import List

import pytest

import petri
from petri import _lib

WAIT = 60.0  # seconds for a pool to fill on a loaded machine
LEAVE = "echo left > /workspace/f; echo x > /tmp/t; echo y > /dev/shm/s"


def _fresh_cycle(ctx: petri.Context, **kw: object) -> petri.Sandbox:
    """A sandbox taken once the pools are full again (the previous one's
    recycle done), so that the take cannot be a miss."""
    assert ctx.pool_wait(WAIT)
    return ctx.sandbox(**kw)


# -- arguments, checked before the library sees them ------------------------


@pytest.mark.parametrize(
    "warm, exc, match",
    [
        (["sh"], TypeError, "warm must be a mapping"),
        ({"sh": "4"}, TypeError, r"warm\['sh'\] must be an int"),
        ({"sh": True}, TypeError, r"warm\['sh'\] must be an int"),
        ({"sh": 0}, ValueError, r"warm\['sh'\] must be between 1 and 1024, got 0"),
        ({"sh": 1025}, ValueError, "between 1 and 1024"),
        ({3: 1}, TypeError, "a language must be str or None"),
        ({"s\0h": 1}, ValueError, "NUL"),
        ({"l%d" % i: 1 for i in range(17)}, ValueError, "at most 16 languages, got 17"),
    ],
)
def test_bad_warm_is_refused_with_a_clear_message(warm: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        petri.Context(warm=warm)  # type: ignore[arg-type]


def test_bad_flags_types() -> None:
    with pytest.raises(TypeError, match="recycle must be bool"):
        petri.Context(recycle=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no_pool must be bool"):
        petri.Sandbox(language="sh", no_pool=1)  # type: ignore[arg-type]


def test_an_unknown_language_is_the_librarys_einval() -> None:
    with pytest.raises(petri.InvalidArgumentError):
        petri.Context(warm={"cobol": 1})


def test_the_flags_are_the_headers() -> None:
    assert _lib.CTX_F_NO_RECYCLE == 4
    assert _lib.SANDBOX_F_NO_POOL == 2


# -- the pool ---------------------------------------------------------------


def test_a_create_is_served_from_the_pool_and_counted() -> None:
    with petri.Context(warm={"sh": 2, None: 1}) as ctx:
        assert ctx.pool_wait(WAIT) is True
        st = ctx.pool_stats("sh")
        assert isinstance(st, petri.PoolStats)
        assert (st.language, st.target, st.ready, st.hits) == ("sh", 2, 2, 0)
        assert st.created >= 2
        with ctx.sandbox(language="sh", env={"A": "1"}, memory="128M") as sb:
            assert sb.reuses == 0
            r = sb.run(["sh", "-c", 'echo "$A"'])
            assert r.exit_code == 0 and r.stdout == "1\n"
        after = ctx.pool_stats("sh")
        assert after.hits == 1 and after.misses == 0
        # The language-less pool is its own, and untouched.
        none = ctx.pool_stats(None)
        assert (none.language, none.target, none.hits) == (None, 1, 0)
        with ctx.sandbox() as sb:
            assert sb.run(["/bin/true"]).exit_code == 0
        assert ctx.pool_stats(None).hits == 1
        assert ctx.pool_stats("sh").hits == 1


def test_a_missing_pool_is_not_found() -> None:
    with petri.Context(warm={"sh": 1}) as ctx:
        with pytest.raises(petri.NotFoundError, match="no warm pool for language 'python'"):
            ctx.pool_stats("python")
        with pytest.raises(petri.NotFoundError, match="without a language"):
            ctx.pool_stats(None)
    with petri.Context() as ctx:
        with pytest.raises(petri.NotFoundError):
            ctx.pool_stats("sh")
        assert ctx.pool_wait(0) is True  # no pool: full at once


def test_options_a_pool_cannot_give_build_a_sandbox() -> None:
    with petri.Context(warm={"sh": 1}) as ctx:
        assert ctx.pool_wait(WAIT)
        for kw in ({"no_pool": True}, {"hostname": "other"}, {"tmp_size": "8M"}, {"landlock": False}):
            with ctx.sandbox(language="sh", **kw) as sb:
                assert sb.reuses == 0
                assert sb.run(["/bin/true"]).exit_code == 0
        st = ctx.pool_stats("sh")
        assert (st.hits, st.misses, st.recycled) == (0, 0, 0), st


def test_a_closed_sandbox_is_recycled_clean() -> None:
    # Two ready: a take leaves one, so the refill waits a moment for the
    # taken one to come back (with one, it would build at once, and the
    # closed sandbox would find the pool full and be discarded).
    with petri.Context(warm={"sh": 2}) as ctx:
        seen: List[int] = []
        for i in range(6):
            with _fresh_cycle(ctx, language="sh") as sb:
                seen.append(sb.reuses)
                # What the previous user left is gone.
                r = sb.run(["sh", "-c", "find /workspace /tmp /dev/shm -mindepth 1; echo left > /workspace/f; echo x > /tmp/t; echo y > /dev/shm/s"])
                assert r.exit_code == 0 and r.stdout == "", (i, r.stdout)
        st = ctx.pool_stats("sh")
        assert st.recycled >= 1 and max(seen) >= 1, (seen, st)
        assert st.hits == 6 and st.misses == 0


def test_no_pool_is_never_recycled() -> None:
    with petri.Context(warm={"sh": 1}) as ctx:
        for _ in range(3):
            with _fresh_cycle(ctx, language="sh", no_pool=True) as sb:
                assert sb.reuses == 0
        assert ctx.pool_wait(WAIT)
        st = ctx.pool_stats("sh")
        assert (st.hits, st.recycled) == (0, 0), st


def test_recycle_false_only_refills_fresh() -> None:
    with petri.Context(warm={"sh": 1}, recycle=False) as ctx:
        for _ in range(4):
            with _fresh_cycle(ctx, language="sh") as sb:
                assert sb.reuses == 0
        assert ctx.pool_wait(WAIT)
        st = ctx.pool_stats("sh")
        assert st.hits == 4 and st.recycled == 0 and st.created >= 5, st


def test_pool_wait_zero_only_checks() -> None:
    with petri.Context(warm={"sh": 1}) as ctx:
        assert ctx.pool_wait(WAIT)
        sb = ctx.sandbox(language="sh")  # takes the only one
        try:
            assert isinstance(ctx.pool_wait(0), bool)
            assert isinstance(ctx.pool_wait(None), bool)
        finally:
            sb.close()
    ctx.close()
    with pytest.raises(petri.SandboxClosedError):
        ctx.pool_wait(1)
    with pytest.raises(petri.SandboxClosedError):
        ctx.pool_stats("sh")


def test_threads_create_at_once_and_close_waits_for_them() -> None:
    # Creates no longer hold the context's lock across the C call: two
    # threads take from the pool at once, and close() still frees the
    # context only after every create in flight returned.
    ctx = petri.Context(warm={"sh": 4})
    assert ctx.pool_wait(WAIT)
    errors: List[BaseException] = []
    made: List[petri.Sandbox] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(5):
                sb = ctx.sandbox(language="sh")
                assert sb.run(["/bin/true"]).exit_code == 0
                with lock:
                    made.append(sb)
        except petri.SandboxClosedError:
            pass  # closed under it: fine, as long as nothing crashes
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert len(made) == 10
    st = ctx.pool_stats("sh")
    assert st.hits + st.misses == 10
    ctx.close()
    assert all(sb.closed for sb in made)
