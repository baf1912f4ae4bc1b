"""The first seconds of a real ladder, as `lorplan recommend` starts one (start_ladder: a real scheduler and a
real detached driver), asked about from another terminal at once. The driver takes ladder.lock only after its
imports, and until then `lorplan probe status RUN --json` said {"state": "stopped", "resume": "lorplan
recommend --run RUN"}, and `lorplan recommend --run RUN` (ensure_driver) started a second driver, which exited
with 'another driver holds ladder.lock' while the command said 'its driver had stopped; started it again'.
Now the launch is stamped and the driver counts as starting (lorplan.probe.runner.driver_alive)."""

from __future__ import annotations

import json
import time

import pytest

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.backend import lock_held
from lorplan.probe.runs import ProbeSpec, RunPlan
from lorplan.recommend.decide import probe_specs
from lorplan.recommend.driver import ensure_driver, start_ladder
from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, Pass


def tiny_ladder(tiny_llama, lm_data, run_id: str, *, steps: int = 4, halving: bool = False, eval_every: int = 2,
                eval_examples: int = 8, seq_len: int = 32) -> tuple[LadderSpec, RunPlan, Pass]:
    """A ladder of the base and ranks 1 and 4, probes of `steps` steps on the tiny llama, as start_ladder takes
    it: (spec, plan, first pass)."""
    spec = LadderSpec(kind="data", model="tiny", spec_source=str(tiny_llama), task="causal-lm",
                      target_modules=("q_proj",), data={"task": "causal-lm", "trained_tokens": 750, "examples": 150},
                      adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0, "min_dim": 32},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=40, probe_steps=steps, seeds=(0,),
                      ranks=(1, 4), max_rank=16, refine=False, extra_learning_rates=False, halving=halving)
    first = Pass("first", probe_specs((0, 1, 4), spec), (1, 4))
    plan = RunPlan(run=run_id, created=time.time(), model=str(tiny_llama), data=str(lm_data), steps=steps,
                   eval_every=eval_every, eval_examples=eval_examples, micro_batch=2, seq_len=seq_len, targets=("q_proj",), alpha=32,
                   device="cpu", probes=tuple(ProbeSpec(d["id"], d["rank"], d["lr"], d["seed"]) for d in first.specs))
    return spec, plan, first


@pytest.mark.slow
def test_a_ladder_just_started_reads_running_and_gets_no_second_driver(state_home, tiny_llama, lm_data, capsys):
    spec, plan, first = tiny_ladder(tiny_llama, lm_data, "window")
    run = start_ladder(spec, plan, first, root=state_home)
    files = LadderFiles(run)
    try:
        # at once, whether or not the driver has its lock yet
        assert main(["probe", "status", run.id, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["ladder"] == {"state": "running"}
        assert ensure_driver(run) is None  # `lorplan recommend --run RUN`: no second driver
        assert main(["recommend", "--run", run.id]) == 0
        assert "started it again" not in capsys.readouterr().err

        deadline = time.monotonic() + 60
        while not lock_held(run.driver_lock) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock_held(run.driver_lock)
        assert not runner.driver_launch_stamp(run).exists()  # the lock says it now, and its release the end
        time.sleep(1.0)  # a second driver, had one been launched, would have said so in ladder.log by now
        log = files.log_path.read_text()
        assert log.count(" driver ") == 1 and "another driver holds" not in log, log
    finally:
        main(["probe", "cancel", run.id])
        capsys.readouterr()
