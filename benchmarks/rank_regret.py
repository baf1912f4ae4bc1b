"""Rank regret: lorplan's rank recommendations against a measured ground-truth sweep, on real text.

    python benchmarks/rank_regret.py sweep     # train what benchmarks/results/rank_regret_sweep.jsonl lacks
    python benchmarks/rank_regret.py report    # the recommenders against the sweep (no training)

Tasks (benchmarks/rank_regret_tasks.py): two classification and two causal-LM tasks built from the Python
standard library's own source and Debian's license texts, trained through lorplan's engine on one CPU thread.
The sweep: ranks 1, 2, 4 ... 64 × 3 learning rates × 3 seeds per task, lora_alpha 32 at every rank (the
policy of lorplan.recommend.policy), each run's eval loss recorded every few steps. It appends one JSON row per
finished run and skips rows already in the file, so a rerun redoes only the recommenders; the order fills
every rank at the middle learning rate with two seeds first, so a sweep cut short still covers every task.

The knee (lorplan.recommend.knee.find_knee): the smallest rank whose improvement over the base model's eval
loss is at least 95% of the best rank's improvement (best learning rate per rank, mean over seeds).
Hit: the recommended rank lies in [knee, 2 × knee]. Regret: the recommended setup's eval loss (best learning
rate, mean over seeds) minus the best rank's. Compute: training steps the recommender needs / the sweep's.

Rows: lorplan's capacity prior alone; prior + probe ladder (a REPLAY on the recorded sweep runs, see
`replay_ladder`); lorplan with its per-module pattern; the fixed defaults r=8 α=16, r=16 α=32 and QLoRA's
r=64 α=16 (trained here, since their alpha differs from the sweep's: r=16 α=32 is the sweep's own rank 16);
EVA's allocation at the ladder's rank (peft's EVA, through lorplan.recommend.pattern).
The pure parts (knee, hit, regret, compute, replay) import no torch and train nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

RESULTS = HERE / "results" / "rank_regret_sweep.jsonl"
REPORT = HERE / "results" / "rank_regret.md"
RANKS = (1, 2, 4, 8, 16, 32, 64)
SEEDS = (0, 1, 2)
ALPHA = 32
FIXED = ((8, 16), (64, 16))  # r=8 α=16 and QLoRA's r=64 α=16; r=16 α=32 is the sweep's rank 16
KEY_FIELDS = ("task", "kind", "variant", "rank", "alpha", "lr", "seed")


# ---------------------------------------------------------------- results file (pure)

def row_key(row: dict) -> tuple:
    """What identifies a run: task, kind (sweep | base | fixed | pattern | eva), variant, rank, alpha, lr, seed."""
    return tuple(round(row[k], 12) if isinstance(row.get(k), float) else row.get(k, "") for k in KEY_FIELDS)


def read_rows(path: Path) -> list[dict]:
    """Every complete JSON row of the results file, the first of each key (a line cut short by a kill is
    skipped; a run written twice counts once)."""
    if not path.exists():
        return []
    rows, seen = [], set()
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row_key(row) not in seen:
            seen.add(row_key(row))
            rows.append(row)
    return rows


def append_row(path: Path, row: dict) -> None:
    """One row, written as one line and flushed to disk before the next run starts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def pending(jobs: Iterable[dict], rows: Iterable[dict]) -> list[dict]:
    """The jobs whose key is not among the rows (resumability: what is in the file is never rerun)."""
    done = {row_key(r) for r in rows}
    return [j for j in jobs if row_key(j) not in done]


# ---------------------------------------------------------------- the sweep's order

def sweep_jobs(tasks: Sequence) -> list[dict]:
    """Every run of the sweep, most important first: every rank at the middle learning rate with seeds 0 and 1
    (and classification's base, the head alone), then seed 2, then the other two learning rates at seed 0,
    the fixed defaults whose alpha differs from the sweep's at the middle rate, the other rates' seeds 1 and
    2, and the fixed defaults at the other rates. (`next_job` puts the pattern rows after the middle rate.)"""
    jobs: list[dict] = []

    def add(task, kind, rank, alpha, lr, seed):
        jobs.append({"task": task.name, "kind": kind, "variant": "", "rank": rank, "alpha": alpha, "lr": lr,
                     "seed": seed})

    def block(lr_idx: Sequence[int], seeds: Sequence[int]):
        for i in lr_idx:
            for seed in seeds:
                for task in tasks:
                    lr = task.lrs[i]
                    if task.kind == "sequence-classification":
                        add(task, "base", 0, ALPHA, lr, seed)
                    for rank in RANKS:
                        add(task, "sweep", rank, ALPHA, lr, seed)

    def fixed(lr_idx: Sequence[int], seeds: Sequence[int]):
        for i in lr_idx:
            for seed in seeds:
                for task in tasks:
                    for rank, alpha in FIXED:
                        add(task, "fixed", rank, alpha, task.lrs[i], seed)

    block([1], [0, 1])
    block([1], [2])
    block([0, 2], [0])  # seed 0 at both other rates first: the ladder's learning-rate pass replays them
    fixed([1], SEEDS)
    block([0, 2], [1])
    block([0, 2], [2])
    fixed([0, 2], SEEDS)
    return jobs


# ---------------------------------------------------------------- analysis (pure)

def final_loss(row: dict) -> float:
    return float(row["curve"][-1][1])


def trained(rows: Iterable[dict]) -> list[dict]:
    """The rows of runs that trained (a pattern that could not be made leaves a row with an "error" instead)."""
    return [r for r in rows if "error" not in r]


def base_loss(rows: Sequence[dict], task: str) -> tuple[float, float]:
    """The base eval loss and its standard error over seeds: classification, the head trained alone (best
    learning rate, mean over seeds); causal LM, the model before any step (every run's step-0 eval)."""
    head = [r for r in rows if r["task"] == task and r["kind"] == "base"]
    if head:
        by = defaultdict(list)
        for r in head:
            by[r["lr"]].append(final_loss(r))
        lr = min(by, key=lambda k: sum(by[k]) / len(by[k]))
        return _mean_se(by[lr])
    zero = [float(r["curve"][0][1]) for r in rows if r["task"] == task and r["kind"] == "sweep"
            and r["curve"] and r["curve"][0][0] == 0]
    if not zero:
        raise ValueError(f"task {task}: no base loss in the results")
    return sum(zero) / len(zero), 0.0


def _mean_se(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1) / n)


def ladder_rows(rows: Iterable[dict]):
    """LadderRows (lorplan.recommend.types) of sweep rows, at their final eval loss."""
    from lorplan.recommend.types import LadderRow

    return [LadderRow(rank=r["rank"], learning_rate=r["lr"], eval_loss=final_loss(r), seed=r["seed"],
                      steps=r["curve"][-1][0]) for r in rows]


def sweep_knee(rows: Sequence[dict], task: str):
    """lorplan.recommend.knee.find_knee on the task's sweep (best lr per rank, mean over seeds)."""
    from lorplan.recommend.knee import find_knee

    sweep = [r for r in rows if r["task"] == task and r["kind"] == "sweep"]
    base, se = base_loss(rows, task)
    return find_knee(ladder_rows(sweep), base, base_stderr=se)


def config_loss(rows: Sequence[dict], task: str, kind: str, rank: int, alpha: float, variant: str = "",
                lrs: Sequence[float] | None = None) -> tuple[float, float, int] | None:
    """(mean eval loss over seeds at the best learning rate, that lr, seeds) of one configuration, or None."""
    by = defaultdict(list)
    for r in trained(rows):
        if (r["task"] == task and r["kind"] == kind and r["rank"] == rank and r["alpha"] == alpha
                and r.get("variant", "") == variant and (lrs is None or r["lr"] in lrs)):
            by[r["lr"]].append(final_loss(r))
    if not by:
        return None
    lr = min(by, key=lambda k: sum(by[k]) / len(by[k]))
    return sum(by[lr]) / len(by[lr]), lr, len(by[lr])


def hit(rank: int, knee: int) -> bool:
    """The recommended rank lies in [knee, 2 × knee]."""
    return knee <= rank <= 2 * knee


def regret(loss: float, best_loss: float) -> float:
    """Eval loss above the best rank's (0 when the recommendation is the best rank)."""
    return loss - best_loss


def sweep_steps(task) -> int:
    """Optimizer steps of the task's full ground-truth sweep: ranks × learning rates × seeds, and for
    classification the head-alone base at every rate and seed (the compute fractions' denominator, whether
    or not every run is in the file yet)."""
    runs = len(RANKS) + (1 if task.kind == "sequence-classification" else 0)
    return runs * len(task.lrs) * len(SEEDS) * task.steps


def compute_fraction(steps: float, sweep: float) -> float:
    return steps / sweep if sweep else float("nan")


# ---------------------------------------------------------------- the ladder, replayed (pure)

@dataclass(frozen=True)
class Replay:
    rank: int
    learning_rate: float
    probes: tuple[tuple[int, float, int, int], ...]  # (rank, lr, seed, steps) of every probe the ladder ran
    steps: int
    knee_low: int
    knee_high: int
    explanation: str
    first_ranks: tuple[int, ...] = ()
    probe_steps: int = 0


def _truncate(curve, steps: int) -> tuple[tuple[int, float], ...]:
    return tuple((int(s), float(v)) for s, v in curve if s <= steps)


def replay_ladder(rows: Sequence[dict], task, prior_rank: int, data: dict, adapter: dict,
                  seeds: Sequence[int] = (0,), allow_missing_lr: bool = False) -> Replay:
    """The probe ladder lorplan runs (recommend.decide: first pass ×4 around the prior, successive halving,
    refine ×2 around the knee, two more learning rates at the leading rank; recommend.measured: curves
    extrapolated to the planned length, the knee, the learning-rate check), REPLAYED on recorded sweep runs
    instead of trained: a probe of rank r, lr, seed is the recorded run's eval curve cut at the probe's length
    (half the planned steps). A recorded run's learning rate decays over the full length, so its first half
    is the start of the planned run, which the ladder's extrapolation predicts (a real probe's schedule would
    decay over its own length instead). Missing recorded runs raise KeyError, except the learning-rate pass's
    with allow_missing_lr (it changes the learning rate, never the rank)."""
    from lorplan.recommend.decide import halving, next_pass, probe_specs, rungs
    from lorplan.recommend.ladder import coarse_ladder
    from lorplan.recommend.ladder_spec import LadderSpec, LadderState, Pass, Stop
    from lorplan.recommend.measured import recommendation
    from lorplan.recommend.observe import ProbeObs

    planned = task.steps
    probe_steps = planned // 2
    mid = task.lrs[1]
    cls = task.kind == "sequence-classification"
    spec = LadderSpec(kind="data", model=task.model, spec_source=task.model, task=task.kind,
                      target_modules=tuple(task.targets), data=data, adapter=adapter, learning_rate=mid,
                      learning_rate_why="the benchmark's middle learning rate", planned_steps=planned,
                      probe_steps=probe_steps, seeds=tuple(seeds),
                      ranks=coarse_ladder(prior_rank, low=1, high=max(RANKS)), max_rank=max(RANKS), started=0.0)
    index = {}
    for r in rows:
        if r["task"] == task.name and r["kind"] in ("sweep", "base"):
            index[(r["rank"], round(r["lr"], 12), r["seed"])] = r

    def on_grid(lr: float) -> float:
        # the learning-rate pass tries lr / 3 and lr × 3 (recommend.ladder.LR_FACTOR); the sweep's grid is
        # 1e-3, 3e-3, 1e-2, so 9e-3 is replayed by the recorded 1e-2 (the nearest rate, 11% apart)
        return min(task.lrs, key=lambda g: abs(math.log(g / lr)))

    def obs_of(d: dict, cut: int) -> ProbeObs:
        rank, seed = d["rank"], d["seed"] if d["seed"] is not None else seeds[0]
        lr = on_grid(d["lr"])
        if not cls and rank == 0:  # a causal LM's base probe only evaluates the model before training
            rec = index[(1, round(lr, 12), seed)]
            curve = _truncate(rec["curve"], 0)
        else:
            rec = index[(rank, round(lr, 12), seed)]
            curve = _truncate(rec["curve"], cut)
        return ProbeObs(id=d["id"], rank=rank, lr=lr, seed=seed, state="finished", step=curve[-1][0],
                        curve=curve, trainable_params=rec.get("trainable"))

    first = probe_specs(spec.ranks, spec)
    base_specs = probe_specs((0,), spec)
    state = LadderState().with_pass(Pass("first", specs=base_specs + first, ranks=spec.ranks))
    probes: dict[str, ProbeObs] = {d["id"]: obs_of(d, probe_steps) for d in base_specs + first}
    # successive halving at each rung the probes pass (none when a probe is shorter than a fitted curve needs)
    eval_every = task.eval_every
    for g in rungs(spec, eval_every):
        seen = [ProbeObs(**{**o.__dict__, "curve": _truncate(o.curve, g), "step": g, "state": "running"})
                if o.rank >= 1 and o.rank not in state.stopped_ranks else o for o in probes.values()]
        base_obs = [o for o in probes.values() if o.rank == 0]
        rec, base = recommendation(spec, base_obs + [o for o in seen if o.rank >= 1], state)
        if base is None:
            continue
        stops, judged = halving(spec, state, seen, base.loss, eval_every)
        state = LadderState(passes=state.passes, stops=state.stops + tuple(Stop(s.rank, s.step, s.reason)
                                                                          for s in stops),
                            judged=state.judged + tuple(judged))
        for s in stops:
            for pid, o in list(probes.items()):
                if o.rank == s.rank:
                    probes[pid] = ProbeObs(**{**o.__dict__, "curve": _truncate(o.curve, s.step), "step": s.step,
                                              "state": "cancelled"})
    while True:
        rec, _ = recommendation(spec, tuple(probes.values()), state)
        knee = rec.rank if rec.ladder else None
        p = next_pass(spec, state, tuple(probes.values()), knee, now=0.0)
        if p is None:
            break
        try:
            added = {d["id"]: obs_of(d, probe_steps) for d in p.specs}
        except KeyError as exc:
            if p.name != "learning rate" or not allow_missing_lr:
                raise
            p = Pass(p.name, skipped=f"not replayed: the sweep has no run {exc.args[0]} yet")
            added = {}
        state = state.with_pass(p)
        probes.update(added)
    rec, _ = recommendation(spec, tuple(probes.values()), LadderState(passes=state.passes, stops=state.stops,
                                                                       judged=state.judged, done=True))
    used = tuple((o.rank, o.lr, o.seed, o.step if (cls or o.rank > 0) else 0) for o in probes.values())
    text = "; ".join(e.explanation for e in rec.evidence if e.source in ("ladder", "knee", "learning rate"))
    return Replay(rec.rank, rec.learning_rate, used, sum(u[3] for u in used), rec.confidence[0],
                  rec.confidence[1], text, tuple(spec.ranks), probe_steps)


# ---------------------------------------------------------------- the capacity prior and the patterns

def data_size(rows: Sequence[dict], task) -> dict:
    one = next(r for r in rows if r["task"] == task.name and r["kind"] == "sweep")
    return dict(_data_size(task.name, int(one["train_items"]), one.get("trained_tokens")))


@functools.cache
def _data_size(name: str, train_items: int, trained_tokens: int | None) -> tuple:
    """recommend.DataSize fields of the task's training split, as the engine counted it (recorded in the rows):
    trained tokens for a causal LM; examples and the label entropy (of the whole labelled set) for
    classification."""
    from rank_regret_tasks import TASK_BY_NAME, classification_rows

    from lorplan.recommend.datasize import label_entropy

    task = TASK_BY_NAME[name]
    if task.kind == "causal-lm":
        return tuple({"task": task.kind, "trained_tokens": int(trained_tokens), "examples": train_items,
                      "source": f"benchmark task {task.name}"}.items())
    labels = [y for _, y in classification_rows(task.name)]
    counts = {k: labels.count(k) for k in sorted(set(labels))}
    return tuple({"task": task.kind, "examples": train_items, "num_labels": len(counts),
                  "label_entropy_bits": label_entropy(counts), "entropy_counted": True,
                  "source": f"benchmark task {task.name}"}.items())


def adapter_of(task) -> dict:
    """recommend.AdapterSize fields of the task's model and targets (exact, lorplan.core.lora)."""
    return dict(_adapter_of(task.name))


@functools.cache
def _adapter_of(name: str) -> tuple:
    from dataclasses import asdict

    from rank_regret_tasks import TASK_BY_NAME, model_folder

    from lorplan.core.lora import LoraTargets
    from lorplan.core.model import load_spec
    from lorplan.recommend.capacity import adapter_size

    task = TASK_BY_NAME[name]
    spec = load_spec(str(model_folder(task)))
    return tuple(asdict(adapter_size(spec, LoraTargets(modules=tuple(task.targets)))).items())


def prior(rows: Sequence[dict], task):
    """lorplan's capacity prior on the task's data size (recommend.capacity_prior)."""
    from lorplan.recommend.capacity import AdapterSize, capacity_prior
    from lorplan.recommend.datasize import DataSize

    return capacity_prior(DataSize(**data_size(rows, task)), AdapterSize(**adapter_of(task)))


def ladder_for(rows: Sequence[dict], task, allow_missing_lr: bool = False) -> Replay:
    p = prior(rows, task)
    return replay_ladder(rows, task, p.rank, data_size(rows, task), adapter_of(task),
                         allow_missing_lr=allow_missing_lr)


def pattern_file(task: str, source: str, rank: int, top: int) -> Path:
    from rank_regret_tasks import CACHE

    return CACHE / "patterns" / f"{task}-{source}-r{rank}-top{top}.json"


def make_pattern(task, source: str, rank: int, top: int) -> dict:
    """{"pattern", "explanation", ...} at uniform `rank`'s parameter budget: lorplan's as its ladder makes it
    (recommend.launch / measured: the adapters of two seeds at the first pass's largest rank `top`, compared by
    pattern_from_adapters; here the sweep's seed-0 and seed-1 adapters at `top`, middle lr, which trained the
    full length rather than a probe's half) or peft's EVA (recommend.pattern.eva_pattern). Cached."""
    path = pattern_file(task.name, source, rank, top)
    if path.exists():
        return json.loads(path.read_text())
    from rank_regret_tasks import SEED, make_plan, task_examples

    from lorplan.recommend.pattern import eva_pattern, pattern_from_adapters

    if source == "lorplan":
        rp = pattern_from_adapters([adapter_dir(task.name, top, s) for s in (0, 1)], top, budget_rank=rank)
    else:
        plan = make_plan(task, rank=rank, alpha=ALPHA, lr=task.lrs[1], seed=SEED)
        rp = eva_pattern(plan, task_examples(task), rank)
    out = {"pattern": dict(rp.pattern), "explanation": rp.explanation, "parameters": rp.parameters,
           "uniform_parameters": rp.uniform_parameters}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    return out


def recommender_jobs(rows: Sequence[dict], tasks: Sequence) -> list[dict]:
    """The pattern rows (lorplan's pattern, EVA's) at the ladder's rank, middle lr, every seed: only for the
    tasks whose ladder can be replayed from the rows so far."""
    jobs = []
    for task in tasks:
        try:
            rep = ladder_for(rows, task, allow_missing_lr=True)
        except (KeyError, StopIteration, ValueError):
            continue
        for source in ("lorplan", "eva"):
            for seed in SEEDS:
                jobs.append({"task": task.name, "kind": "pattern", "variant": source, "rank": rep.rank,
                             "alpha": ALPHA, "lr": task.lrs[1], "seed": seed, "top": max(rep.first_ranks)})
    return jobs


# ---------------------------------------------------------------- training (torch, only in `sweep`)

def adapter_dir(task: str, rank: int, seed: int) -> Path:
    from rank_regret_tasks import CACHE

    return CACHE / "adapters" / task / f"r{rank}-s{seed}"


def run_job(job: dict, log) -> dict:
    from rank_regret_tasks import TASK_BY_NAME, train_run

    task = TASK_BY_NAME[job["task"]]
    save = None
    if job["kind"] == "sweep" and job["seed"] in (0, 1) and math.isclose(job["lr"], task.lrs[1]):
        save = adapter_dir(task.name, job["rank"], job["seed"])  # for the pattern row (seeds 0 and 1)
    t0 = time.monotonic()
    out = train_run(task, rank=max(1, job["rank"]), alpha=job["alpha"], lr=job["lr"], seed=job["seed"],
                    head_only=job["kind"] == "base", save_to=save, rank_pattern=job.get("pattern"))
    row = {**job, **out, "steps": task.steps, "wall_s": round(time.monotonic() - t0, 2)}
    return row


def next_job(rows: Sequence[dict], tasks: Sequence, with_patterns: bool = True) -> dict | None:
    """The first run not in the rows, in this order: every rank at the middle learning rate, seeds 0 and 1
    (classification's base too); the pattern rows at seeds 0 and 1 (once the ladder can be replayed); the other
    two learning rates at seed 0; the middle rate's seed 2; the fixed defaults at the middle rate; the pattern
    rows' seed 2; the other rates' seeds 1 and 2; the fixed defaults at the other rates."""
    mid = {t.name: t.lrs[1] for t in tasks}

    def part(kinds, at_mid, seeds):
        return [j for j in sweep_jobs(tasks) if j["kind"] in kinds and (j["lr"] == mid[j["task"]]) == at_mid
                and j["seed"] in seeds]

    rec = recommender_jobs(rows, tasks) if with_patterns else []
    grid = ("sweep", "base")
    order = (part(grid, True, (0, 1)) + [j for j in rec if j["seed"] in (0, 1)] + part(grid, False, (0,))
             + part(grid, True, (2,)) + part(("fixed",), True, SEEDS) + [j for j in rec if j["seed"] == 2]
             + part(grid, False, (1, 2)) + part(("fixed",), False, SEEDS))
    todo = pending(order, rows)
    return todo[0] if todo else None


PATTERN_SECONDS = 300  # one pattern's making (EVA's PCA cycles until it converges) may take this long


def _with_timeout(seconds: int, fn, *args):
    import signal

    def expire(signum, frame):
        raise TimeoutError(f"not done within {seconds} s of a shared CPU core")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        return fn(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)




def sweep(results: Path, tasks: Sequence, log=print, with_patterns: bool = True) -> int:
    import torch

    torch.set_num_threads(1)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    n = 0
    while True:
        rows = read_rows(results)
        job = next_job(rows, tasks, with_patterns)
        if job is None:
            break
        if job["kind"] == "pattern":
            try:
                made = _with_timeout(PATTERN_SECONDS, make_pattern, TASK_BY_NAME_LAZY()[job["task"]],
                                     job["variant"], job["rank"], job["top"])
            except Exception as exc:  # a pattern that cannot be made is reported as not run, never invented
                why = f"{type(exc).__name__}: {exc}"
                log(f"pattern {job['variant']} for {job['task']} r{job['rank']}: {why}")
                for seed in SEEDS:  # kept in the file, so a rerun does not try again and the report says why
                    append_row(results, {**job, "seed": seed, "error": why[:300]})
                continue
            job = {**job, "pattern": made["pattern"], "pattern_explanation": made["explanation"]}
        row = run_job(job, log)
        append_row(results, row)
        n += 1
        log(f"[{n}] {job['task']} {job['kind']}{'/' + job['variant'] if job['variant'] else ''} r{job['rank']} "
            f"a{job['alpha']} lr{job['lr']:g} s{job['seed']}: eval {final_loss(row):.4f} ({row['wall_s']:.0f} s) "
            f"{time.strftime('%H:%M:%S')}")
    log("sweep complete")
    return 0


def TASK_BY_NAME_LAZY() -> dict:  # noqa: N802
    from rank_regret_tasks import TASK_BY_NAME

    return TASK_BY_NAME


# ---------------------------------------------------------------- the report (pure, from the rows)

@dataclass(frozen=True)
class Outcome:
    """One recommender on one task: rank (None: not run), hit, loss, regret, compute share, a note."""

    name: str
    rank: int | None
    hit: bool | None
    loss: float | None
    regret: float | None
    compute: float | None
    note: str = ""


def outcomes(rows: Sequence[dict], task, knee) -> list[Outcome]:
    """Every recommender's outcome on `task` against the sweep's knee."""
    out: list[Outcome] = []
    best = knee.best_loss
    total = sweep_steps(task)

    def scored(name, rank, got, compute, note=""):
        if got is None:
            out.append(Outcome(name, rank, hit(rank, knee.rank) if rank else None, None, None, compute,
                               note or "not run"))
            return
        loss, lr, n = got
        out.append(Outcome(name, rank, hit(rank, knee.rank), loss, regret(loss, best), compute,
                           note or f"lr {lr:g}, {n} seed{'s' if n > 1 else ''}"))

    p = prior(rows, task)
    scored("lorplan prior", p.rank, config_loss(rows, task.name, "sweep", p.rank, ALPHA), 0.0)
    try:
        rep = ladder_for(rows, task)
        replay_note = ""
    except KeyError:
        try:
            rep = ladder_for(rows, task, allow_missing_lr=True)
            replay_note = "lr pass not replayed (runs missing); "
        except KeyError as exc:
            rep, replay_note = None, f"not replayed: run {exc.args[0]} missing"
    if rep is None:
        out.append(Outcome("lorplan prior + ladder (replay)", None, None, None, None, None, replay_note))
    else:
        got = config_loss(rows, task.name, "sweep", rep.rank, ALPHA)
        scored("lorplan prior + ladder (replay)", rep.rank, got, compute_fraction(rep.steps, total),
               replay_note + (f"lr {got[1]:g}, {got[2]} seeds; ladder's lr {rep.learning_rate:g}" if got else ""))
        for variant, name in (("lorplan", "lorplan + pattern"), ("eva", "EVA allocation (same budget)")):
            got = config_loss(rows, task.name, "pattern", rep.rank, ALPHA, variant=variant)
            uni = config_loss(rows, task.name, "sweep", rep.rank, ALPHA, lrs=[task.lrs[1]])
            extra = (f"lr {got[1]:g}, {got[2]} seeds; uniform r{rep.rank} at that lr {uni[0]:.4f}"
                     if got and uni else "")
            err = next((r["error"] for r in rows if r["task"] == task.name and r["kind"] == "pattern"
                        and r.get("variant") == variant and "error" in r), None)
            if got is None and err:
                extra = f"not run: the pattern could not be made ({err})"
            # lorplan's pattern costs one probe more than the ladder: a second seed at the first pass's top rank
            cost = compute_fraction(rep.steps + rep.probe_steps, total) if variant == "lorplan" else None
            scored(name, rep.rank, got, cost, extra)
    scored("fixed r=8 α=16", 8, config_loss(rows, task.name, "fixed", 8, 16), None)
    scored("fixed r=16 α=32", 16, config_loss(rows, task.name, "sweep", 16, ALPHA), None,
           "the sweep's own rank 16")
    scored("QLoRA r=64 α=16", 64, config_loss(rows, task.name, "fixed", 64, 16), None)
    return out


def _fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def coverage(rows: Sequence[dict], task) -> str:
    sweep = [r for r in rows if r["task"] == task.name and r["kind"] == "sweep"]
    per = defaultdict(set)
    for r in sweep:
        per[r["lr"]].add((r["rank"], r["seed"]))
    parts = [f"lr {lr:g}: {len(v)}/{len(RANKS) * len(SEEDS)}" for lr, v in sorted(per.items())]
    return f"{len(sweep)} sweep runs ({'; '.join(parts)} rank×seed cells)"


def report(rows: Sequence[dict], tasks: Sequence) -> str:
    """The printed report: per task the knee and every recommender's rank, hit, regret and compute, then the
    overall hit rates against the issue's targets."""
    lines = ["# Rank regret: lorplan's rank recommendations against measured sweeps", "",
             "Knee: the smallest rank whose improvement over the base model's eval loss is at least 95% of the best "
             "rank's improvement (best learning rate per rank, mean over seeds; lorplan.recommend.knee.find_knee). "
             "Hit: rank in [knee, 2×knee] (a property of the rank: the pattern and EVA rows share the ladder's "
             "rank, and a fixed default hits or misses whether or not its loss was measured). "
             "Regret: eval loss − the best rank's (each at its best learning rate, "
             "mean over seeds). Compute: optimizer steps the recommender trained / the full sweep's steps.",
             "The ladder row is a REPLAY on the recorded sweep runs (lorplan's decide/measured/knee code fed the "
             "recorded eval curves cut at the probe length, half the planned steps), not a fresh training; its "
             "learning-rate pass's 3× rate (9e-3) is replayed by the recorded 1e-2. Successive halving never fires "
             "here: its rungs (recommend.decide.rungs) need 4 eval points before half a probe, and a 16-20 step "
             "probe evaluated every 4-5 steps has none, so every probe runs its full (half-plan) length.",
             "Setup: every run goes through lorplan's engine (build_engine/run_steps/evaluate) on one CPU thread, "
             "alpha 32 at every rank (lorplan's policy), linear decay after 5% warmup, eval on a fixed held-out "
             "split. Learning rates 1e-3, 3e-3, 1e-2; the ladder's is the middle one, 3e-3 (runs are 32-40 "
             "steps, too short for the policy's 1e-3 to converge). The pattern rows train the ladder's rank with "
             "a rank_pattern at the middle rate (lorplan's from the sweep's seed-0/1 adapters at the first pass's "
             "largest rank; EVA's from peft's get_eva_state_dict), alpha 32, standard LoRA init (not EVA's "
             "SVD init). EVA needs forward passes only, so it has no step count. Fixed defaults with α≠32 are "
             "trained here; r=16 α=32 is the sweep's own rank 16.", ""]
    per_task: dict[str, list[Outcome]] = {}
    stable: dict[str, bool] = {}
    for task in tasks:
        try:
            knee = sweep_knee(rows, task.name)
        except (ValueError, StopIteration) as exc:
            lines += [f"## {task.name}: no sweep yet ({exc})", ""]
            continue
        lines += [f"## {task.name}: {task.describe}", "",
                  f"{coverage(rows, task)}; {task.steps} steps, micro-batch {task.micro_batch}, seq {task.seq_len}.",
                  f"Base eval loss {knee.base_loss:.4f}; best rank {knee.best_rank} at {knee.best_loss:.4f}; "
                  f"KNEE = rank {knee.rank} (seed band {knee.low}-{knee.high}).",
                  "Per rank (best lr, mean over seeds, share of the best improvement): " + "; ".join(
                      f"r{s.rank} {s.mean_loss:.4f}±{_fmt(s.stderr, '.4f')} @ {s.learning_rate:g} "
                      f"({_fmt(knee.share(s.rank), '.0%')})" for s in knee.ranks), ""]
        lrs_seen = {r["lr"] for r in rows if r["task"] == task.name and r["kind"] == "sweep"}
        best_lrs = {s.rank: s.learning_rate for s in knee.ranks}
        if len(lrs_seen) > 1:
            same = len(set(best_lrs.values())) == 1
            stable[task.name] = same
            lines += [f"Best learning rate by rank at α=32 (policy: it should not move with rank): "
                      f"{', '.join(f'r{r} {lr:g}' for r, lr in best_lrs.items())} -> "
                      f"{'the same at every rank' if same else 'it moves'}.", ""]
        wall = sum(r.get("wall_s", 0.0) for r in rows if r["task"] == task.name)
        lines += [f"Wall time of this task's runs: {wall / 60:.1f} min (one CPU thread on a shared machine).", ""]
        res = outcomes(rows, task, knee)
        per_task[task.name] = res
        lines += ["| recommender | rank | hit | eval loss | regret | compute | note |", "|---|---|---|---|---|---|---|"]
        for o in res:
            lines.append(f"| {o.name} | {_fmt(o.rank, 'd')} | {'-' if o.hit is None else ('yes' if o.hit else 'no')} "
                         f"| {_fmt(o.loss, '.4f')} | {_fmt(o.regret, '+.4f')} | {_fmt(o.compute, '.1%')} | {o.note} |")
        lines.append("")
    if per_task:
        lines += ["## Overall", "", "| recommender | hit rate | mean regret | mean compute | tasks |",
                  "|---|---|---|---|---|"]
        names = [o.name for o in next(iter(per_task.values()))]
        summary = {}
        for name in names:
            got = [o for res in per_task.values() for o in res if o.name == name]
            hits = [o.hit for o in got if o.hit is not None]  # a property of the rank, trained or not
            regs = [o.regret for o in got if o.regret is not None]
            comp = [o.compute for o in got if o.compute is not None and o.loss is not None]
            rate = sum(hits) / len(hits) if hits else None
            summary[name] = (rate, comp)
            lines.append(f"| {name} | {_fmt(rate, '.0%')} ({sum(hits)}/{len(hits)}) | "
                         f"{_fmt(sum(regs) / len(regs) if regs else None, '+.4f')} | "
                         f"{_fmt(sum(comp) / len(comp) if comp else None, '.1%')} | {len(got)} |")
        lines += ["", "Targets (issue 11):"]
        lad = summary.get("lorplan prior + ladder (replay)", (None, []))
        fixed = [summary[n][0] for n in ("fixed r=8 α=16", "fixed r=16 α=32", "QLoRA r=64 α=16")
                 if n in summary and summary[n][0] is not None]
        pr = summary.get("lorplan prior", (None, []))[0]
        r16 = summary.get("fixed r=16 α=32", (None, []))[0]

        def met(ok) -> str:
            return "not measured" if ok is None else ("MET" if ok else "NOT MET")

        lines.append(f"- ladder hit rate ≥ 80% and above every fixed default: "
                     f"{met(None if lad[0] is None else lad[0] >= 0.8 and all(lad[0] > f for f in fixed))} "
                     f"({_fmt(lad[0], '.0%')} vs fixed {', '.join(_fmt(f, '.0%') for f in fixed)})")
        lines.append(f"- ladder compute ≤ 10% of the sweep: "
                     f"{met(None if not lad[1] else max(lad[1]) <= 0.10)} "
                     f"(largest {_fmt(max(lad[1]) if lad[1] else None, '.1%')})")
        lines.append(f"- prior alone above r=16's hit rate: {met(None if pr is None or r16 is None else pr > r16)} "
                     f"({_fmt(pr, '.0%')} vs {_fmt(r16, '.0%')})")
        if stable:
            lines.append(f"- the best learning rate stays put across ranks at α=32: {sum(stable.values())} of "
                         f"{len(stable)} tasks ({', '.join(k for k, v in stable.items() if not v) or 'none'} moved)")
        wall = sum(r.get("wall_s", 0.0) for r in rows)
        lines.append(f"\nAll runs in the results file: {len(rows)}, {wall / 60:.0f} min of one CPU thread.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("sweep", "report"))
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--tasks", nargs="*", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rank_regret_tasks import TASKS

    tasks = [t for t in TASKS if args.tasks is None or t.name in args.tasks]
    if args.what == "sweep":
        return sweep(args.results, tasks, log=lambda s: print(s, flush=True))
    text = report(read_rows(args.results), tasks)
    print(text)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
