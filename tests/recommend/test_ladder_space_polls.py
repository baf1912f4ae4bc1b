"""The ladder's driver, while its run's probes are queued and none runs, asks whether the run waits for disk space
(its clock stops then: test_ladder_space_wait_budget), and so does the run status it reads (RunObserver). Each did
it at every step, every POLL_S (1 s): statvfs, then 128 KiB allocated in the run folder and removed (what a full
quota refuses), two allocations a second for as long as the probes stayed queued (a slot another run holds, a
disk out of quota). Now statvfs is read at every step, the allocation once per status.SPACE_RECHECK_S for both.

Counted at the OS boundary (os.statvfs, os.posix_fallocate); the quota is simulated there, as in
tests/probe/test_space_wait_quota.py."""

from __future__ import annotations

import errno
import os
import time

from test_budget_counts_running_time import _ladder

from lorplan.probe import status
from lorplan.recommend.driver import Driver


def _counted(monkeypatch, quota: list[bool]) -> dict[str, int]:
    calls = {"statvfs": 0, "posix_fallocate": 0}
    statvfs, fallocate = os.statvfs, os.posix_fallocate

    frozen = []

    def counted_statvfs(path):
        calls["statvfs"] += 1
        st = statvfs(path)  # free space as at the first look: other processes' files come and go meanwhile, and
        frozen[:] = frozen or [st.f_bfree, st.f_bavail]  # 128 KiB more free after a refusal is asked again
        return os.statvfs_result((*tuple(st)[:3], *frozen, *tuple(st)[5:]))

    def counted_fallocate(fd, offset, length):
        calls["posix_fallocate"] += 1
        if quota[0]:
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
        return fallocate(fd, offset, length)

    monkeypatch.setattr(os, "statvfs", counted_statvfs)
    monkeypatch.setattr(os, "posix_fallocate", counted_fallocate)
    return calls


def test_queued_probes_with_room_are_not_allocated_for_at_every_step(state_home, monkeypatch):
    run, files = _ladder(state_home, started=time.time())
    calls = _counted(monkeypatch, [False])
    driver = Driver(run)
    for _ in range(10):
        assert driver.step() is False
    assert calls["statvfs"] >= 10  # statvfs at every step
    assert calls["posix_fallocate"] == 1  # was 20: the driver's and its run status's, at each step
    assert driver._space_since is None and files.state().budget_spent is None
    assert not list(run.path.glob(".space-check-*"))


def test_a_full_quota_stops_the_clock_with_one_allocation_and_a_freed_one_starts_it(state_home, monkeypatch, capsys):
    run, files = _ladder(state_home, started=time.time())
    quota = [True]
    calls = _counted(monkeypatch, quota)
    driver = Driver(run)
    t0 = driver._t0
    assert driver.step(now=t0 + 10.0) is False
    for i in range(10):
        assert driver.step(now=t0 + 700.0 + i) is False  # past the 600 s budget in wall time
    assert calls["posix_fallocate"] == 1
    assert files.state().budget_spent is None and driver.ran(t0 + 710.0) == 10.0
    out = capsys.readouterr().out
    assert out.count("waits for disk space") == 1 and "Disk quota exceeded" in out, out

    quota[0] = False  # freed: seen at the next allocation, SPACE_RECHECK_S after the last
    monkeypatch.setattr(status, "SPACE_RECHECK_S", 0.2)
    time.sleep(0.25)
    assert driver.step(now=t0 + 720.0) is False
    assert driver._space_since is None and driver.ran(t0 + 730.0) == 20.0
    assert calls["posix_fallocate"] == 2
