"""lorplan's probe ladder on the rank-regret tasks with TRAINED probes: the ladder's own decisions
(rank_regret_replay.walk_ladder: recommend.decide and recommend.measured, the same spec as the replay), each
probe it asks for (rank, lr, seed) trained fresh through lorplan's engine for the probe length (half the planned
steps) with its learning-rate schedule over that length, at exactly the rate the ladder asked for (9e-3 stays
9e-3), as lorplan.probe.worker trains one. The replay (rank_regret_replay.replay_ladder) cuts recorded
full-length runs at half length instead, mid-schedule.

Every probe is appended to benchmarks/results/rank_regret_probes.jsonl as it finishes, keyed by (task, kind,
rank, lr, seed, steps); a rerun looks those up and trains only what is missing. The lookup is pure (no torch):
the report replays the trained ladders from the file, and a ladder with a probe not yet trained is "not run".
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import rank_regret_replay as replay  # noqa: E402
from results_file import append_row, read_unique  # noqa: E402

PROBES = HERE / "results" / "rank_regret_probes.jsonl"
PROBE_KEY = ("task", "kind", "rank", "lr", "seed", "steps")


class MissingProbe(KeyError):
    """A probe the ladder asks for is not in the probes file (and nothing trains it)."""


def probe_key(row: dict) -> tuple:
    """What identifies a trained probe: task, kind (probe | base), rank, lr (to 12 digits), seed, steps."""
    return tuple(round(row[k], 12) if isinstance(row[k], float) else row[k] for k in PROBE_KEY)


def read_probes(path: Path = PROBES) -> list[dict]:
    """Every complete row of the probes file, the first of each key."""
    return read_unique(path, probe_key)


def probe_job(task, d: dict, seed: int) -> dict:
    """The training job of the ladder's probe spec `d` (id, rank, lr, seed): a rank probe trains half the
    planned steps; the base (rank 0) is, for classification, the head alone for as long, for a causal LM the
    step-0 eval (0 steps)."""
    steps = task.steps // 2
    base = d["rank"] == 0
    if base and task.kind == "causal-lm":
        steps = 0
    return {"task": task.name, "kind": "base" if base else "probe", "rank": d["rank"], "lr": d["lr"],
            "seed": d["seed"] if d.get("seed") is not None else seed, "steps": steps}


def probe_obs(row: dict, d: dict):
    """The finished ProbeObs of a trained probe's row, under the ladder's id."""
    from lorplan.recommend.observe import ProbeObs

    curve = tuple((int(s), float(v)) for s, v in row["curve"])
    return ProbeObs(id=d["id"], rank=row["rank"], lr=row["lr"], seed=row["seed"], state="finished",
                    step=curve[-1][0], curve=curve, trainable_params=row.get("trainable"))


def trained_ladder(rows: Sequence[dict], probe_rows: Sequence[dict], task, seed: int = 0,
                   train: Callable[[dict], dict] | None = None, second: bool = True,
                   budget: float | None = None):
    """lorplan's ladder on `task` with one training seed (rank_regret_replay.Replay), every probe from the
    probes file; one not there is trained by train(job) -> row when given (it appends the row), else
    MissingProbe. Without its second-seed pass when not `second`; with a budget of `budget` × the sweep's steps
    (None: none; the clock is walk_ladder's, a second a step, not the probes' recorded wall time). `rows` (the
    sweep's) give only the prior's data size; no sweep curve is read."""
    p = replay.prior(rows, task)
    spec = replay.ladder_spec(task, p.rank, replay.data_size(rows, task), replay.adapter_of(task), seeds=(seed,),
                              second=second, budget_steps=replay.budget_steps(task, budget))
    index = {probe_key(r): r for r in probe_rows if r["task"] == task.name}

    def probe_of(d: dict):
        job = probe_job(task, d, seed)
        row = index.get(probe_key(job))
        if row is None:
            if train is None:
                raise MissingProbe(f"r{job['rank']} lr {job['lr']:g} seed {job['seed']} ({job['steps']} steps)")
            row = index[probe_key(job)] = train(job)
        return probe_obs(row, d)

    return replay.walk_ladder(spec, task, probe_of)


def probe_wall(probe_rows: Sequence[dict], task, rep) -> float:
    """Seconds the ladder's probes took to train (each row's wall_s, model load included)."""
    used = {(rk, round(lr, 12), s) for rk, lr, s, _ in rep.probes}
    return sum(r.get("wall_s", 0.0) for r in probe_rows
               if r["task"] == task.name and (r["rank"], round(r["lr"], 12), r["seed"]) in used)


# ---------------------------------------------------------------- training (torch, only in `probes`)

def train_probe(job: dict, path: Path) -> dict:
    """Train one probe through lorplan's engine (rank_regret_tasks.train_run for job["steps"], its schedule
    over those steps), append its row to `path` and return it."""
    from rank_regret_tasks import TASK_BY_NAME, train_run

    task = TASK_BY_NAME[job["task"]]
    t0 = time.monotonic()
    out = train_run(task, rank=max(1, job["rank"]), alpha=replay.ALPHA, lr=job["lr"], seed=job["seed"],
                    head_only=job["kind"] == "base" and task.kind == "sequence-classification",
                    steps=job["steps"])
    row = {**job, "alpha": replay.ALPHA, **out, "wall_s": round(time.monotonic() - t0, 2)}
    append_row(path, row)
    return row


def run_probes(rows: Sequence[dict], tasks: Sequence, seeds: Sequence[int], path: Path = PROBES,
               log=print) -> int:
    """Every ladder's missing probes, seed by seed (seed 0 of every task first, so a partial file already
    answers), on one CPU thread. Returns the number of probes trained."""
    import torch

    torch.set_num_threads(1)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    n = 0

    def train(job: dict) -> dict:
        nonlocal n
        row = train_probe(job, path)
        n += 1
        log(f"[{n}] {job['task']} {job['kind']} r{job['rank']} lr {job['lr']:g} s{job['seed']} "
            f"{job['steps']} steps: eval {row['curve'][-1][1]:.4f} ({row['wall_s']:.0f} s) {time.strftime('%H:%M:%S')}")
        return row

    for seed in seeds:
        for task in tasks:
            for share in (replay.BUDGET_SHARE, None):  # the report's ladder rows, with the budget and without
                rep = trained_ladder(rows, read_probes(path), task, seed, train=train, budget=share)
                log(f"ladder {task.name} seed {seed} (budget {share or 'none'}): rank {rep.rank}, lr "
                    f"{rep.learning_rate:g}, {len(rep.probes)} probes, {rep.steps} steps")
    log(f"probes complete ({n} trained)")
    return n
