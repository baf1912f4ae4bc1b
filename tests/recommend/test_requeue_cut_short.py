"""requeue_cut_short queues again every probe a restart cut short, then starts the run's scheduler once: it
started one per probe (runner.retry submits), all but the first exiting at the queue's lock."""

from __future__ import annotations

from ladder_folders import CountingBackend

from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.probe.status import run_status
from lorplan.recommend.driver import requeue_cut_short
from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec


def _died(run, pid: str) -> None:
    """A probe whose process was killed mid-training: launched, a few steps, no result and no live process."""
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    append_event(run.events_path(pid), {"type": "loading", "pid": 999999})
    append_event(run.events_path(pid), {"type": "started", "trainable_params": 1234, "device": "cpu", "lr": 0.002})
    append_event(run.events_path(pid), {"type": "step", "step": 1, "loss": 1.0, "tokens_per_second": 100.0})


def test_two_died_probes_are_queued_again_with_one_scheduler_launch(state_home):
    run = create_run(runner.make_plan((4, 8, 16), steps=10, device="cpu"), state_home)
    LadderFiles(run).write_spec(LadderSpec(
        kind="data", model="tiny", spec_source="/nowhere", task="causal-lm", target_modules=("q_proj",),
        data={"task": "causal-lm", "trained_tokens": 50_000, "examples": 500},
        adapter={"model": "tiny", "targets": "q_proj", "per_rank": 1000, "fixed": 0, "min_dim": 64},
        learning_rate=1e-3, learning_rate_why="test", planned_steps=400, probe_steps=10, seeds=(0,),
        ranks=(4, 8, 16), max_rank=64, budget_seconds=None, started=0.0))
    _died(run, "r4")
    _died(run, "r8")
    assert {p.id: p.state for p in run_status(run).probes} == {"r4": "died", "r8": "died", "r16": "queued"}

    backend = CountingBackend()
    assert requeue_cut_short(run, backend=backend) == ["r4", "r8"]
    assert backend.launches == 1
    assert {p.id: p.state for p in run_status(run).probes} == {"r4": "queued", "r8": "queued", "r16": "queued"}
    assert runner.attempts(run, "r4") == runner.attempts(run, "r8") == 1

    assert requeue_cut_short(run, backend=backend) == []  # nothing died: no launch either
    assert backend.launches == 1
