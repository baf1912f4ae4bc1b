"""States derived from run folders prepared by hand (no process is started here)."""

from __future__ import annotations

import fcntl
import os

from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend, device_slots
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run, find_run, list_runs
from lorplan.probe.status import run_status


class NoSpawnBackend(LocalProcessBackend):
    """The local backend minus the process launch (a test boundary): records submit calls."""

    def __init__(self):
        self.submitted = []

    def submit(self, run):
        self.submitted.append(run.id)


def _run(state_home, ranks=(4, 8, 16, 32)):
    plan = runner.make_plan(ranks, steps=10, device="cpu")
    return create_run(plan, state_home)


def _launched(run, pid, steps):
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    append_event(run.events_path(pid), {"type": "loading", "pid": 999999})
    append_event(run.events_path(pid), {"type": "started", "trainable_params": 1234, "device": "cpu", "lr": 0.002})
    for s in range(1, steps + 1):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": 1.0 / s, "tokens_per_second": 100.0})


def test_states_from_files(state_home):
    run = _run(state_home)
    # r4 finished (result file), r8 running (lock held), r16 died (launched, no lock, no result), r32 queued
    _launched(run, "r4", 10)
    atomic_write_json(run.result_path("r4"), {"state": "finished", "step": 10, "eval_loss": 0.3,
                                              "eval_accuracy": 0.9, "tokens_per_second": 321.0,
                                              "peak_memory_bytes": 123456789, "wall_seconds": 12.5})
    _launched(run, "r8", 3)
    fd = os.open(run.alive_lock("r8"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _launched(run, "r16", 6)
    try:
        st = run_status(run)
    finally:
        os.close(fd)
    by = {p.id: p for p in st.probes}
    assert [p.rank for p in st.probes] == [4, 8, 16, 32]
    assert (by["r4"].state, by["r4"].eval_accuracy, by["r4"].peak_memory_bytes) == ("finished", 0.9, 123456789)
    assert (by["r8"].state, by["r8"].step, by["r8"].tokens_per_second) == ("running", 3, 100.0)
    assert (by["r16"].state, by["r16"].step) == ("died", 6)
    assert "step 6" in by["r16"].message
    assert (by["r32"].state, by["r32"].step) == ("queued", 0)
    assert not st.scheduler_alive and st.stalled and not st.done
    row = st.to_json()["probes"][0]
    assert list(row)[:8] == ["rank", "state", "step", "eval_loss", "eval_accuracy", "tokens_per_second",
                             "peak_memory_bytes", "wall_seconds"]
    # once r8's lock is gone it is died too, at its last step
    assert {p.id: p.state for p in run_status(run).probes}["r8"] == "died"


def test_cancel_queued_probe_writes_a_cancelled_result(state_home):
    run = _run(state_home, ranks=(4, 8))
    backend = NoSpawnBackend()
    assert runner.cancel(run, rank=8, backend=backend) == ["r8"]
    states = {p.id: p.state for p in run_status(run).probes}
    assert states == {"r4": "queued", "r8": "cancelled"}
    assert runner.cancel(run, rank=8, backend=backend) == []  # already ended: left alone
    assert not run.run_cancel_marker.exists()  # one rank: the run goes on
    assert runner.cancel(run, backend=backend) == ["r4"]
    assert run.run_cancel_marker.exists()  # the whole run: whatever drives it adds nothing more


def test_retry_moves_the_attempt_aside_and_requeues(state_home):
    run = _run(state_home, ranks=(4,))
    _launched(run, "r4", 2)
    atomic_write_json(run.result_path("r4"), {"state": "failed", "step": 2, "traceback": "Boom"})
    backend = NoSpawnBackend()
    run.run_cancel_marker.write_text("1\n")  # as `lorplan probe cancel RUN` leaves it
    runner.retry(run, "r4", backend=backend)
    assert backend.submitted == [run.id] and not run.run_cancel_marker.exists()
    assert (run.probe_dir("r4") / "attempt-1" / "result.json").exists()
    assert run_status(run).probes[0].state == "queued"
    assert runner.attempts(run, "r4") == 1


def test_find_run_newest_and_prefix(state_home):
    a = create_run(runner.make_plan((4,), run="20260101-000000-aaaa"), state_home)
    b = create_run(runner.make_plan((4,), run="20260102-000000-bbbb"), state_home)
    assert [r.id for r in list_runs(state_home)] == [a.id, b.id]
    assert find_run(None, state_home).id == b.id
    assert find_run("20260101", state_home).id == a.id


def test_device_slots_honour_cuda_visible_devices():
    env = {"CUDA_VISIBLE_DEVICES": "2,5"}
    assert [s["cuda_visible"] for s in device_slots("auto", None, env)] == ["2", "5"]
    assert [s["cuda_visible"] for s in device_slots("cuda:1", None, env)] == ["5"]
    assert [s["device"] for s in device_slots("auto", None, {"CUDA_VISIBLE_DEVICES": ""})] == ["cpu"]
    assert len(device_slots("cpu", 3, env)) == 3


def test_corrupt_last_line_of_a_died_probe_is_reported_not_fatal(state_home):
    run = _run(state_home, ranks=(4,))
    _launched(run, "r4", 5)
    with open(run.events_path("r4"), "a") as fh:
        fh.write('{"type": "step", "step": 6, "lo')  # the crash cut this line short
    (p,) = run_status(run).probes
    assert p.state == "died" and p.step == 5
    assert len(p.warnings) == 1 and "corrupt event line" in p.warnings[0]
    assert run_status(run).to_json()["probes"][0]["warnings"] == list(p.warnings)


def test_a_pattern_check_probe_is_shown_but_not_averaged_into_its_rank(tmp_path):
    """A ladder's pattern check trains the rank with per-module ranks: status marks it, and the rank comparison
    (lorplan probe compare, the Probes tab's v) does not count it as another seed of that rank."""
    from dataclasses import replace

    from lorplan.probe.compare import compare_ranks
    from lorplan.probe.runs import ProbeSpec

    plan = runner.make_plan((4,), steps=10, device="cpu", run="20261204-100000-beef")
    plan = replace(plan, probes=plan.probes + (ProbeSpec("r4-pattern", 4, rank_pattern={"v_proj": 8}),))
    run = create_run(plan, tmp_path)
    for pid, loss in (("r4", 0.5), ("r4-pattern", 0.1)):
        atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
        atomic_write_json(run.result_path(pid), {"state": "finished", "step": 10, "eval_loss": loss})
    st = run_status(run)
    by = {p.id: p for p in st.probes}
    assert by["r4-pattern"].pattern and not by["r4"].pattern and st.to_json()["probes"][1]["pattern"] is True
    (row,) = compare_ranks(st.probes)
    assert row.rank == 4 and row.probes == ("r4",) and row.eval_loss == 0.5
