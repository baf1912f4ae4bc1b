"""The ladder's driver, while its run's probes are queued and none runs, asks whether the run waits for disk space
(its clock stops then: test_ladder_space_wait_budget), and so does the run status it reads (RunObserver). Each did
it at every step, every POLL_S (1 s): statvfs, then 128 KiB allocated in the run folder and removed (what a full
quota refuses), two allocations a second for as long as the probes stayed queued (a slot another run holds, a
disk out of quota). Now statvfs is read at every step, the allocation once per status.SPACE_RECHECK_S for both.

Counted at the OS boundary (os.statvfs, os.posix_fallocate); the quota is simulated there, as in
tests/probe/test_space_wait_quota.py."""

from __future__ import annotations

import time

from disk_fakes import Disk
from test_budget_counts_running_time import _ladder

from lorplan.probe import status
from lorplan.recommend.driver import Driver


def test_queued_probes_with_room_are_not_allocated_for_at_every_step(state_home, monkeypatch):
    run, files = _ladder(state_home, started=time.time())
    disk = Disk(monkeypatch)
    driver = Driver(run)
    for _ in range(10):
        assert driver.step() is False
    assert disk.statvfs_calls >= 10  # statvfs at every step
    assert disk.fallocate_calls == 1  # was 20: the driver's and its run status's, at each step
    assert driver._space_since is None and files.state().budget_spent is None
    assert not list(run.path.glob(".space-check-*"))


def test_a_full_quota_stops_the_clock_with_one_allocation_and_a_freed_one_starts_it(state_home, monkeypatch, capsys):
    run, files = _ladder(state_home, started=time.time())
    disk = Disk(monkeypatch)
    disk.quota = True
    driver = Driver(run)
    t0 = driver._t0
    assert driver.step(now=t0 + 10.0) is False
    for i in range(10):
        assert driver.step(now=t0 + 700.0 + i) is False  # past the 600 s budget in wall time
    assert disk.fallocate_calls == 1
    assert files.state().budget_spent is None and driver.ran(t0 + 710.0) == 10.0
    out = capsys.readouterr().out
    assert out.count("waits for disk space") == 1 and "Disk quota exceeded" in out, out

    disk.quota = False  # freed: seen at the next allocation, SPACE_RECHECK_S after the last
    monkeypatch.setattr(status, "SPACE_RECHECK_S", 0.2)
    time.sleep(0.25)
    assert driver.step(now=t0 + 720.0) is False
    assert driver._space_since is None and driver.ran(t0 + 730.0) == 20.0
    assert disk.fallocate_calls == 2
