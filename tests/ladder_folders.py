"""Probe-ladder run folders written from recorded state (no probe trains, no driver or scheduler is started), for
the tests of ladders that have ended or been cut short, and a backend whose scheduler launch is counted instead of
run (the test boundary)."""

from __future__ import annotations

from pathlib import Path

from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.recommend.decide import probe_specs
from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState, Pass


def ladder_spec(*, data: dict | None = None, adapter: dict | None = None) -> LadderSpec:
    """The spec of a ladder of ranks 2 and 4 (one seed, no refinement, rates or halving) for a model folder that is
    not there; data and adapter replace its small defaults."""
    return LadderSpec(kind="data", model="/models/not-here", spec_source="/models/not-here", task="causal-lm",
                      target_modules=("q_proj",),
                      data=data or {"task": "causal-lm", "trained_tokens": 750, "examples": 48},
                      adapter=adapter or {"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0,
                                          "min_dim": 16},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=40, probe_steps=10, seeds=(0,),
                      ranks=(2, 4), max_rank=16, refine=False, extra_learning_rates=False, halving=False)


def ladder_run(runs: Path, *, done: bool = False):
    """(run, LadderFiles): a ladder's run of ranks 2 and 4 in `runs` (ladder_spec), its first pass queued, for a
    model folder that is not there; done: its state says the ladder has ended."""
    run = create_run(runner.make_plan((2, 4), steps=10, device="cpu", model="/models/not-here"), runs)
    spec = ladder_spec()
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(Pass("first", probe_specs((2, 4), spec), (2, 4)),), done=done))
    return run, files


def ladder_with_recommendation(runs: Path, edit, *, gpus: int = 1, sharding: str = "none"):
    """(run, LadderFiles): a done ladder_run whose recommendation.json is what the driver writes from its (empty)
    observations, every rank priced as fitting an H100 on `gpus` GPUs with `sharding`, then passed through
    edit(obj) -> obj (no probe trains)."""
    from lorplan.recommend import measured
    from lorplan.recommend.observe import RunObserver
    from lorplan.recommend.types import Fit

    run, files = ladder_run(runs, done=True)
    spec = files.spec()

    def price(r):
        return Fit(r, 10 << 30, 24 << 30, "H100", True, r, (), f"rank {r} fits H100", gpus=gpus, sharding=sharding)

    obj = measured.recommendation_json(spec, RunObserver(run, spec.learning_rate).observe(), files.state(), price,
                                       run_id=run.id)
    files.write_recommendation(edit(obj))
    return run, files


def failed_probe(run, probe_id: str) -> None:
    """The probe launched (a process that is gone) and failed at step 3 with a traceback."""
    atomic_write_json(run.proc_path(probe_id), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    atomic_write_json(run.result_path(probe_id), {"state": "failed", "step": 3, "traceback": "Boom"})


class CountingBackend(LocalProcessBackend):
    """The local backend minus the scheduler's launch (a test boundary): counts the launches asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.launches = 0

    def submit(self, run) -> None:
        self.launches += 1
