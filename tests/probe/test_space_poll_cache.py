"""status.polled_space_short's memory of its allocations (status._asked), one entry per run folder polled.

It was never emptied: a process polling run after run (the TUI's Probes tab) kept every run folder it had ever
asked, removed ones too. Now a removed folder is forgotten at the next allocation and at most status.ASKED_MAX
are kept, the longest asked ago dropped first.

After a refusal (a full quota), it allocated again whenever the disk showed MIN_FREE_BYTES more free than at the
refusal: on a busy disk, where another process's files come and go, at every look that caught them gone, far
more often than once per SPACE_RECHECK_S. Now free space counts only above the most seen since the allocation,
and asks again for it at most once per SPACE_RECHECK_S.

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


def test_a_busy_disk_after_a_refusal_is_asked_again_only_for_room_not_seen_before(state_home, monkeypatch):
    monkeypatch.setattr(status, "_asked", {})
    run = _run(state_home, "20261206-120000-aaaa")
    disk = Disk(monkeypatch)
    disk.quota = True
    assert run_status(run).state == "waiting" and disk.fallocate_calls == 1
    for look in range(10):  # other processes' files come and go between the looks, more gone each time
        disk.freed_bytes = (look + 1) * MIB if look % 2 == 0 else 0
        assert run_status(run).state == "waiting"
    assert disk.fallocate_calls == 2  # was 6: once more at each new high (1, 3, 5, 7, 9 MiB more free)
    disk.freed_bytes = 20 * MIB  # within SPACE_RECHECK_S: taken as it stood
    assert run_status(run).state == "waiting" and disk.fallocate_calls == 2
    monkeypatch.setattr(status, "SPACE_RECHECK_S", 0.0)  # its time passed: asked again
    disk.quota = False
    st = run_status(run)
    assert st.space_wait is None and st.stalled and disk.fallocate_calls == 3


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
