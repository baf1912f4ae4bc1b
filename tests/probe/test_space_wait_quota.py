"""A full quota (EDQUOT) that statvfs does not count: the run folder's disk shows plenty free, yet nothing more
can be written there. The scheduler read only statvfs, so it launched each queued probe onto the full quota, each
failing for want of space, and with the scheduler stopped `probe status` and `wait` (every 10 s) started another
that launched the next: a run's queued probes were used up one failure after another. Now the space is asked
for itself (MIN_FREE_BYTES allocated in the run folder, lorplan.probe.status.space_short): refused, nothing is
launched, the run is "waiting" and no scheduler is restarted; with the quota freed, the probe is launched and
finishes. The quota is simulated at the OS boundary: os.posix_fallocate raising EDQUOT in this process (the
scheduler's); the worker it launches is a real one."""

from __future__ import annotations

import errno
import os

from lorplan.probe import runner, scheduler, status
from lorplan.probe.runs import create_run, read_json
from lorplan.probe.status import space_marker


def test_a_full_quota_launches_nothing_and_the_run_waits(state_home, monkeypatch, capsys):
    run = create_run(runner.make_plan((4,), steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                      max_parallel=1, run="20261205-100000-aaaa"), state_home)

    def quota(fd, offset, length):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(os, "posix_fallocate", quota, raising=False)
    scheduler.schedule(run)
    out = capsys.readouterr().out
    reason = f"could not set aside 128 KiB in {run.path} (Disk quota exceeded), what a probe needs"
    assert "launched r4" not in out and f"launched nothing more: {reason}" in out, out
    assert read_json(space_marker(run))["reason"] == reason
    assert not run.result_path("r4").exists()
    st = runner.status(run)
    assert st.state == "waiting" and not st.stalled
    assert (st.space_wait["reason"], st.space_wait["free_bytes"]) == (reason, None)
    assert runner.restart_stalled(run, st) is False
    assert not list(run.path.glob(".space-check-*"))  # the check's file is removed

    monkeypatch.undo()  # the quota freed
    status._asked.clear()  # as in the new process a `lorplan probe status` typed now is (a poller: test_space_polls)
    assert runner.status(run).stalled
    scheduler.schedule(run)
    assert "launched r4 on cpu" in capsys.readouterr().out
    assert read_json(run.result_path("r4"))["state"] == "finished"
    assert not list(run.path.glob(".space-check-*"))


def test_a_file_system_without_fallocate_still_gets_its_probes(state_home, monkeypatch):
    # EOPNOTSUPP (ZFS, some FUSE and network file systems) tells nothing: the probes are launched as before
    run = create_run(runner.make_plan((4,), steps=3, device="cpu", run="20261205-100000-bbbb"), state_home)

    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(os, "posix_fallocate", unsupported, raising=False)
    st = runner.status(run)
    assert st.space_wait is None and st.stalled and st.state == "running"
