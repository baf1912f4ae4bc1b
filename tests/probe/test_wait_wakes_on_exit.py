"""A wait for a run wakes when the ladder's driver exits, rather than sleeping out its poll: `lorplan recommend`
(cli.recommend._wait) reads the ended recommendation the driver wrote just before it let its lock go, and
runner.wait (`lorplan probe wait`) sees the run done. Each test waits with a 600 s poll, so only the lock's
release can end it in time. The lock is held here as a live driver holds it (lorplan.recommend.driver.drive)."""

from __future__ import annotations

import argparse
import threading

from test_status_views import _driver_lock, _ladder_run

from lorplan.probe import runner
from lorplan.probe.runs import atomic_write_json


def _in_thread(target, *args, **kwargs):
    got: dict = {}

    def call() -> None:
        got["value"] = target(*args, **kwargs)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, got


def test_recommend_wait_returns_when_the_driver_exits(state_home):
    from lorplan.cli import recommend as cli_recommend

    run, files, _ = _ladder_run(state_home)
    atomic_write_json(files.recommendation_path, {"state": "running", "probes": []})
    sub = argparse.ArgumentParser().add_subparsers()
    cli_recommend.register(sub)
    args = sub.choices["recommend"].parse_args(["--run", run.id, "--wait"])
    with _driver_lock(files):
        waiter, got = _in_thread(cli_recommend._wait, run, 600.0, args=args)
        waiter.join(0.3)
        assert waiter.is_alive()  # the ladder runs: nothing to return
        atomic_write_json(files.recommendation_path, {"state": "done", "probes": [], "rank": 4})
    waiter.join(30.0)  # the driver's lock let go: read at once, not after the 600 s poll
    assert not waiter.is_alive()
    assert got["value"]["state"] == "done" and got["value"]["rank"] == 4


def test_runner_wait_returns_when_the_driver_exits(state_home):
    run, files, _ = _ladder_run(state_home)
    with _driver_lock(files):
        waiter, got = _in_thread(runner.wait, run, poll_s=600.0)
        waiter.join(0.3)
        assert waiter.is_alive()  # its probes ended, the driver lives: about to add the next pass
    waiter.join(30.0)
    assert not waiter.is_alive()
    assert got["value"].done and not got["value"].driver_alive


def test_a_lock_that_cannot_be_waited_for_leaves_the_poll(tmp_path, monkeypatch):
    """A held lock whose blocking flock fails (ENOLCK: a network file system's lock service gone) is not watched
    again: each sleep lasts its interval (no spin), and the watcher's error reaches no traceback."""
    import errno
    import fcntl
    import os
    import time

    from lorplan.probe import backend

    lock = tmp_path / "ladder.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held: lock_held's test (another open file) says so
    real, tries, raised = fcntl.flock, [], []

    def no_wait(f, op):
        if op == fcntl.LOCK_SH:  # the watcher's blocking wait; lock_held's LOCK_NB test still works
            tries.append(op)
            raise OSError(errno.ENOLCK, "No locks available")
        return real(f, op)

    monkeypatch.setattr(backend.fcntl, "flock", no_wait)
    monkeypatch.setattr(threading, "excepthook", raised.append)
    wake = backend.UnlockWake()
    try:
        start = time.monotonic()
        for _ in range(4):
            wake.sleep((lock,), 0.1)
        took = time.monotonic() - start
    finally:
        os.close(fd)
    assert tries == [fcntl.LOCK_SH] and raised == []
    assert took >= 0.4
