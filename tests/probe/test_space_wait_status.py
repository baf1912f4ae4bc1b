"""What `lorplan probe status`, `wait` and `list` say about queued probes left waiting for disk space.

Since the scheduler stops launching on a full disk (a probe that found no space, or under two reserves free),
the probes it left were shown as plain "queued", the scheduler "restarted" at every `probe status` (which then
launched nothing), and `probe wait` waited with no word of why: the reason was only in scheduler.log. Now the run
is "waiting", a note line (and "waiting" in --json) says why, where and what starts them, nothing is restarted
while the disk is still short, and `probe wait` says so once and goes on waiting.

The full disk is simulated at the OS boundary: os.statvfs answers 16 blocks of 4 KiB free (64 KiB, under the
128 KiB a probe needs), as in test_full_disk_mid_probe."""

from __future__ import annotations

import fcntl
import os

import pytest

from lorplan.cli import main
from lorplan.core.errors import LorplanError
from lorplan.probe import runner, scheduler
from lorplan.probe.runs import create_run, read_json


def _demo_run(state_home, run_id, ranks=(4,)):
    return create_run(runner.make_plan(ranks, steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu",
                                       max_parallel=1, run=run_id), state_home)


def _note(run, reason, queued=1):
    return (f"note: run {run.id} waits for disk space: {reason}; {'1 probe stays' if queued == 1 else f'{queued} probes stay'} queued: free space there, "
            f"then `lorplan probe status {run.id}` starts them")


def test_status_says_the_queued_probes_wait_for_space_and_restarts_nothing(state_home, nearly_full, capsys):
    run = _demo_run(state_home, "20261205-080000-aaaa")
    reason = f"{run.path} has 64 KiB free, less than a probe needs (128 KiB)"

    st = runner.status(run)
    assert st.state == "waiting" and not st.stalled
    assert st.space_wait == {"for": "disk space", "message": _note(run, reason)[len("note: "):], "reason": reason,
                             "path": str(run.path), "free_bytes": 64 * 1024, "queued": 1,
                             "resume": f"lorplan probe status {run.id}"}
    assert runner.restart_stalled(run, st) is False  # a scheduler would launch nothing

    assert main(["probe", "status", run.id]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith(f"run {run.id}  waiting  scheduler stopped  ")
    assert _note(run, reason) in out.splitlines()  # one line under the table
    assert "started a new one" not in err
    assert not run.scheduler_log.exists()  # no scheduler was started

    assert main(["probe", "status", run.id, "--json"]) == 0
    shown = read_json_text(capsys.readouterr().out)
    assert (shown["state"], shown["scheduler"], shown["waiting"]["reason"]) == ("waiting", "stopped", reason)

    assert main(["probe", "list"]) == 0
    assert capsys.readouterr().out.startswith(f"{run.id}  waiting   ranks 4  1 queued  ")
    assert main(["probe", "list", "--json"]) == 0
    (row,) = read_json_text(capsys.readouterr().out)["runs"]
    assert (row["state"], row["waiting"]["path"]) == ("waiting", str(run.path))


def read_json_text(text: str) -> dict:
    import json

    return json.loads(text)


def test_the_scheduler_records_why_it_stopped_and_a_launch_clears_it(state_home, nearly_full, capsys):
    """The scheduler, stopped by the short disk, writes no_space.json; with space back, status restarts it (the
    run is stalled, not waiting), and the scheduler's launch removes the file. A real worker trains r4."""
    from lorplan.probe.status import space_marker

    run = _demo_run(state_home, "20261205-080000-bbbb")
    scheduler.schedule(run)
    reason = f"{run.path} has 64 KiB free, less than a probe needs (128 KiB)"
    assert read_json(space_marker(run))["reason"] == reason
    assert runner.status(run).space_wait["reason"] == reason

    nearly_full()  # space freed
    st = runner.status(run)
    assert st.space_wait is None and st.stalled and st.state == "running"
    scheduler.schedule(run)
    assert "launched r4 on cpu" in capsys.readouterr().out
    assert not space_marker(run).exists()
    assert read_json(run.result_path("r4"))["state"] == "finished"
    assert runner.status(run).state == "done"


def test_the_probe_that_found_no_space_is_named_with_the_free_space_now(state_home, nearly_full, capsys):
    from lorplan.probe.status import note_space_wait

    run = _demo_run(state_home, "20261205-080000-cccc", (4, 8))
    note_space_wait(run, f"probe r4 found no space left in {run.path}")  # as the scheduler writes it
    runner._write_cancelled(run, "r4", step=2)  # an ended probe (its state does not matter here)
    st = runner.status(run)
    reason = f"probe r4 found no space left in {run.path}; it has 64 KiB free now, a probe needs 128 KiB"
    assert st.space_wait["reason"] == reason and st.space_wait["queued"] == 1

    assert main(["probe", "status", run.id]) == 0
    assert _note(run, reason) in capsys.readouterr().out.splitlines()


def test_a_live_scheduler_that_stopped_launching_for_space_is_said(state_home):
    """While its running probes end, the scheduler that stopped launching lives on: its no_space.json says so
    (the disk itself may have room again: a quota, or space freed meanwhile). Another scheduler's file does not."""
    from lorplan.probe.status import note_space_wait

    run = _demo_run(state_home, "20261205-080000-dddd")
    run.scheduler_lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(run.scheduler_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())  # this process is the live scheduler, as scheduler.main writes
        assert runner.status(run).space_wait is None
        note_space_wait(run, f"probe r0 found no space left in {run.path}")
        st = runner.status(run)
        assert st.scheduler_alive and st.state == "waiting"
        assert st.space_wait["reason"] == f"probe r0 found no space left in {run.path}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"1\n", 0)  # a scheduler started since, which has not stopped
        assert runner.status(run).space_wait is None
    finally:
        os.close(fd)


def test_wait_says_so_once_and_its_timeout_names_the_wait(state_home, nearly_full, capsys):
    run = _demo_run(state_home, "20261205-080000-eeee")
    said = []
    with pytest.raises(LorplanError) as exc:
        runner.wait(run, timeout=0.3, poll_s=0.1, on_space_wait=said.append)
    assert len(said) == 1 and said[0]["path"] == str(run.path)
    assert str(exc.value) == (f"run {run.id}: timed out after 0.3 s (r4 queued); the queued probes wait for disk "
                              f"space in {run.path}: free space there, then `lorplan probe status {run.id}` "
                              "starts them")
    assert not run.scheduler_log.exists()

    assert main(["probe", "wait", run.id, "--timeout", "0"]) != 0
    err = capsys.readouterr().err.splitlines()
    reason = f"{run.path} has 64 KiB free, less than a probe needs (128 KiB)"
    assert err[0] == (_note(run, reason) + "; this wait goes on and starts them itself once there is space "
                      "(--timeout gives up)")
    assert "the queued probes wait for disk space" in err[-1]
