"""A ladder's --budget-minutes counts the time it ran, not the time since it started. It counted wall time since
LadderSpec.started, so a ladder resumed (`lorplan recommend --run RUN`) after the machine was down for an hour
found its budget spent at the driver's first step and cancelled every probe, and a re-attach queued nothing it
had cut short. Now the driver writes the seconds it has driven the ladder (ladder-clock.json) and adds its own."""

from __future__ import annotations

import json
import time

from test_requeue_cut_short import CountingBackend  # the local backend minus the scheduler's launch

from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.probe.status import run_status
from lorplan.recommend.driver import Driver, requeue_cut_short
from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState

HOUR = 3600.0


def _ladder(state_home, *, started: float, budget: float = 600.0):
    """A ladder's run, two probes queued, started `started` (an hour ago: the machine was off since)."""
    run = create_run(runner.make_plan((4, 8), steps=10, device="cpu"), state_home)
    files = LadderFiles(run)
    files.write_spec(LadderSpec(
        kind="data", model="tiny", spec_source="/nowhere", task="causal-lm", target_modules=("q_proj",),
        data={"task": "causal-lm", "trained_tokens": 50_000, "examples": 500},
        adapter={"model": "tiny", "targets": "q_proj", "per_rank": 1000, "fixed": 0, "min_dim": 64},
        learning_rate=1e-3, learning_rate_why="test", planned_steps=400, probe_steps=10, seeds=(0,),
        ranks=(4, 8), max_rank=64, refine=False, extra_learning_rates=False, halving=False,
        budget_seconds=budget, started=started))
    files.write_state(LadderState())
    run.scheduler_log.write_text("")  # a scheduler was just asked for: the driver's step starts none
    return run, files


def test_a_ladder_resumed_after_an_hour_down_has_the_budget_it_had_left(state_home):
    run, files = _ladder(state_home, started=time.time() - HOUR)
    files.write_driven(30.0)  # its driver ran 30 s before the machine went down
    assert files.driven_seconds() == 30.0

    driver = Driver(run)
    assert driver.step() is False
    assert files.state().budget_spent is None  # was 3600 s: spent, and both probes cancelled
    assert {p.id: p.state for p in run_status(run).probes} == {"r4": "queued", "r8": "queued"}
    assert 30.0 <= files.driven_seconds() < 40.0  # the clock carries on from what it had

    # 570 s more of this driver's time spends the 600 s: every probe is cancelled and the ladder ends
    assert driver.step(now=driver._t0 + 580.0) is True
    state = files.state()
    assert state.budget_spent is not None and 600.0 <= state.budget_spent <= 611.0
    results = {pid: json.loads(run.result_path(pid).read_text()) for pid in ("r4", "r8")}
    assert all(r["state"] == "cancelled" and "600 s budget was spent" in r["message"] for r in results.values())


def test_a_probe_cut_short_is_queued_again_while_the_running_time_lasts(state_home):
    """requeue_cut_short (on re-attach) refused every ladder older than its budget."""
    run, files = _ladder(state_home, started=time.time() - HOUR)
    files.write_driven(45.0)
    atomic_write_json(run.proc_path("r4"), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    append_event(run.events_path("r4"), {"type": "loading", "pid": 999999})
    assert run_status(run).probes[0].state == "died"
    backend = CountingBackend()
    assert requeue_cut_short(run, backend=backend) == ["r4"] and backend.launches == 1

    files.write_driven(600.0)  # the budget ran out with a driver alive: nothing is queued again
    assert requeue_cut_short(run, backend=backend) == []


def test_a_ladder_written_before_the_clock_counts_up_to_its_last_recommendation(state_home):
    started = time.time() - HOUR
    run, files = _ladder(state_home, started=started)
    assert files.driven_seconds() == 0.0  # nothing written yet
    files.write_recommendation({"state": "running", "updated": started + 50.0})
    assert files.driven_seconds() == 50.0
    files.clock_path.write_text("{damaged")  # a damaged clock reads as the fallback, not an error
    assert files.driven_seconds() == 50.0
