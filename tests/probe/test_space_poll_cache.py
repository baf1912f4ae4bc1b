"""status.polled_space_short's memory of its allocations (status._asked), one entry per run folder polled.

It was never emptied: a process polling run after run (the TUI's Probes tab) kept every run folder it had ever
asked, removed ones too. Now a removed folder is forgotten at the next allocation and at most status.ASKED_MAX
are kept, the longest asked ago dropped first.

After a refusal (a full quota), it allocates again at the first look where the disk shows MIN_FREE_BYTES more
free than at that allocation: files deleted are seen at the next look. For a while (9ebf95c) such asks were
limited to one per SPACE_RECHECK_S and counted above the most free seen at any look: a user who deleted files,
was still refused and deleted more waited up to 30 s for the run to start, and a disk freed a little at a time
(under MIN_FREE_BYTES a look) was never asked for until the 30 s passed. Other processes' files that come and
go, back to where they were, ask once: the refused ask at their high is the level counted from.

The disk is faked at the OS boundary (tests/disk_fakes.Disk: free space frozen at the first look, plus what a
test frees), so other processes' files on the real disk do not change the counts."""

from __future__ import annotations

import shutil

from disk_fakes import Disk

from lorplan.probe import runner, status
from lorplan.probe.runs import create_run
from lorplan.probe.status import run_status

MIB = 1024 * 1024


def _run(state_home, run_id):
    return create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                       max_parallel=1, run=run_id), state_home)


def _refused(state_home, monkeypatch, run_id):
    """A run whose first look was refused (a full quota), with the fake disk and the allocations counted."""
    monkeypatch.setattr(status, "_asked", {})
    run = _run(state_home, run_id)
    disk = Disk(monkeypatch)
    disk.quota = True
    assert run_status(run).state == "waiting" and disk.fallocate_calls == 1
    return run, disk


def test_a_busy_disk_after_a_refusal_asks_once_for_files_that_come_and_go(state_home, monkeypatch):
    run, disk = _refused(state_home, monkeypatch, "20261206-120000-aaaa")
    for look in range(10):  # another process's 2 MiB file deleted and written again between the looks
        disk.freed_bytes = 2 * MIB if look % 2 == 0 else 0
        assert run_status(run).state == "waiting"
    assert disk.fallocate_calls == 2  # the refusal and one ask at the first high, none at the highs back to it
    monkeypatch.setattr(status, "SPACE_RECHECK_S", 0.0)  # its time passed: asked again
    disk.quota = False
    st = run_status(run)
    assert st.space_wait is None and st.stalled and disk.fallocate_calls == 3


def test_files_deleted_after_a_refused_ask_are_seen_at_the_next_look(state_home, monkeypatch):
    """The user deletes files, the quota still refuses, and deletes more: the run starts at the next look. It
    waited SPACE_RECHECK_S (30 s) after the first ask."""
    run, disk = _refused(state_home, monkeypatch, "20261206-120000-cccc")
    disk.freed_bytes = 5 * MIB  # not enough for the quota: still refused
    assert run_status(run).state == "waiting" and disk.fallocate_calls == 2
    disk.freed_bytes, disk.quota = 50 * MIB, False  # more deleted: room
    st = run_status(run)
    assert disk.fallocate_calls == 3 and st.space_wait is None and st.stalled  # was: 2, still waiting


def test_a_disk_freed_a_little_at_a_look_is_asked_once_it_adds_up(state_home, monkeypatch):
    """Files deleted slowly (a large folder on a slow disk), under MIN_FREE_BYTES between two looks: asked once
    MIN_FREE_BYTES more are free than at the refusal. Counted from the most free at any look, it never was
    within SPACE_RECHECK_S."""
    run, disk = _refused(state_home, monkeypatch, "20261206-120000-dddd")
    disk.quota = False  # the quota has room now
    step = status.MIN_FREE_BYTES // 2
    disk.freed_bytes = step
    assert run_status(run).state == "waiting" and disk.fallocate_calls == 1  # under MIN_FREE_BYTES: taken as it stood
    disk.freed_bytes = 2 * step
    st = run_status(run)
    assert disk.fallocate_calls == 2 and st.space_wait is None and st.stalled  # was: 1, still waiting


def test_removed_run_folders_are_forgotten_and_at_most_asked_max_kept(state_home, monkeypatch):
    monkeypatch.setattr(status, "_asked", {})
    Disk(monkeypatch)
    runs = [_run(state_home, f"20261206-12000{i}-bbbb") for i in range(6)]
    for run in runs[:3]:
        assert run_status(run).stalled
    assert list(status._asked) == [str(r.path) for r in runs[:3]]
    shutil.rmtree(runs[0].path)
    shutil.rmtree(runs[1].path)
    run_status(runs[3])
    assert list(status._asked) == [str(runs[2].path), str(runs[3].path)]  # was all four, the removed ones too

    monkeypatch.setattr(status, "ASKED_MAX", 2)
    run_status(runs[4])
    run_status(runs[5])
    assert list(status._asked) == [str(runs[4].path), str(runs[5].path)]  # the longest asked ago dropped
