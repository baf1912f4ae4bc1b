"""The run status of a run with queued probes and no live scheduler reads the disk as a new scheduler would
(status.space_short: statvfs, then 128 KiB allocated in the run folder and removed, which a full quota refuses).
It did both at every look: `probe wait` every second, `recommend --run --wait` every 5 s, the Probes tab at each
refresh, for as long as the run waited for space. Now statvfs is read at every look (a disk it shows short is
said at once), and the allocation is asked again only after status.SPACE_RECHECK_S (30 s), when a scheduler has
written no_space.json since, or after a refusal once the disk has 128 KiB more free (files deleted).

The quota is simulated at the OS boundary, as in test_space_wait_quota: os.posix_fallocate raising EDQUOT; the
calls are counted there and at os.statvfs."""

from __future__ import annotations

import os
import time

import pytest
from disk_fakes import Disk

from lorplan.core.errors import LorplanError
from lorplan.probe import runner, scheduler, status
from lorplan.probe.runs import create_run
from lorplan.probe.status import MIN_FREE_BYTES, run_status


def _run(state_home, run_id):
    return create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                       max_parallel=1, run=run_id), state_home)


def test_probe_wait_on_a_full_quota_allocates_once_per_recheck(state_home, monkeypatch):
    run = _run(state_home, "20261205-120000-aaaa")
    disk = Disk(monkeypatch)
    disk.quota = True
    said = []
    with pytest.raises(LorplanError, match="wait for disk space"):
        runner.wait(run, timeout=1.0, poll_s=0.05, on_space_wait=said.append)  # ~20 looks on an idle machine
    looks = disk.statvfs_calls
    assert looks >= 3  # statvfs at every look (a loaded machine gets through fewer looks in the second)
    assert disk.fallocate_calls == 1  # was one per look
    reason = f"could not set aside 128 KiB in {run.path} (Disk quota exceeded), what a probe needs"
    assert len(said) == 1 and said[0]["reason"] == reason and said[0]["path"] == str(run.path)
    assert not run.scheduler_log.exists()  # nothing restarted while the run waits

    disk.quota = False  # freed, with nothing that statvfs shows: seen at the next allocation
    st = run_status(run)
    assert st.state == "waiting" and disk.fallocate_calls == 1
    monkeypatch.setattr(status, "SPACE_RECHECK_S", 0.2)
    time.sleep(0.25)
    st = run_status(run)
    assert st.space_wait is None and st.stalled and disk.fallocate_calls == 2
    assert not list(run.path.glob(".space-check-*"))


def test_files_deleted_on_a_full_quota_are_seen_at_the_next_look(state_home, monkeypatch):
    run = _run(state_home, "20261205-120000-bbbb")
    disk = Disk(monkeypatch)
    disk.quota = True
    assert run_status(run).state == "waiting"
    disk.freed_bytes = MIN_FREE_BYTES // 2  # not enough to be worth asking again
    assert run_status(run).state == "waiting" and disk.fallocate_calls == 1
    disk.quota = False
    disk.freed_bytes = 2 * MIN_FREE_BYTES  # files deleted, the quota with them
    st = run_status(run)
    assert st.space_wait is None and st.stalled and disk.fallocate_calls == 2


def test_a_run_with_room_is_asked_once_and_again_when_a_scheduler_found_none(state_home, monkeypatch, capsys):
    """The Probes tab on a run whose scheduler was killed (queued probes, room): one allocation, not one per
    refresh. A scheduler started since that found the quota full wrote no_space.json: the next look asks again
    and says the run waits, without waiting out SPACE_RECHECK_S."""
    run = _run(state_home, "20261205-120000-cccc")
    disk = Disk(monkeypatch)
    watcher = status.RunWatcher(run)
    for _ in range(10):
        st = watcher.refresh()
        assert st.stalled and st.space_wait is None
    assert disk.fallocate_calls == 1  # was 10

    disk.quota = True
    scheduler.schedule(run)  # as `probe status` starts one: it asks the disk itself, finds the quota, stops
    assert "launched nothing more" in capsys.readouterr().out
    assert disk.fallocate_calls == 2
    st = watcher.refresh()
    assert st.state == "waiting" and not st.stalled and disk.fallocate_calls == 3
    assert "Disk quota exceeded" in st.space_wait["reason"]
    watcher.refresh()
    assert disk.fallocate_calls == 3


def test_a_disk_that_statvfs_shows_short_is_never_allocated_in(state_home, monkeypatch):
    run = _run(state_home, "20261205-120000-dddd")
    disk = Disk(monkeypatch)
    disk.freed_bytes = 0
    real = disk.statvfs

    def short(path):
        st = real(path)
        return os.statvfs_result((4096, 4096, st.f_blocks, 16, 16, *tuple(st)[5:]))  # 64 KiB free

    monkeypatch.setattr(os, "statvfs", short)
    for _ in range(5):
        assert run_status(run).space_wait["free_bytes"] == 64 * 1024
    assert (disk.statvfs_calls, disk.fallocate_calls) == (5, 0)
    monkeypatch.setattr(os, "statvfs", disk.statvfs)  # space freed: seen at the next look
    assert run_status(run).stalled and disk.fallocate_calls == 1
