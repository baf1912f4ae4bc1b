"""Rank regret: lorplan's rank recommendations against a measured ground-truth sweep, on real text.

    python benchmarks/rank_regret.py sweep     # train what benchmarks/results/rank_regret_sweep.jsonl lacks
    python benchmarks/rank_regret.py probes    # train the probes lorplan's ladder asks for (rank_regret_probes)
    python benchmarks/rank_regret.py report    # the recommenders against the sweep (no training)
    python benchmarks/rank_regret.py adapters  # retrain the saved adapters the pending pattern rows need

Tasks (benchmarks/rank_regret_tasks.py): two classification and three causal-LM tasks built from the Python
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
EVA's allocation at the ladder's rank (peft's EVA, through lorplan.recommend.pattern); and reference rows that
say what limits the ladder (its decisions on probes 3/4 of and as long as the planned run, with two and three
seeds per probe, one seed of the whole sweep). benchmarks/rank_regret_long.py asks the same of these tasks
planned at 160 steps. The pure parts import no torch and train nothing: benchmarks/rank_regret_replay.py (knee, hit, regret,
compute, the prior, the ladder replay) and benchmarks/rank_regret_report.py (the printed report).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

RESULTS = HERE / "results" / "rank_regret_sweep.jsonl"
REPORT = HERE / "results" / "rank_regret.md"
FIXED = ((8, 16), (64, 16))  # r=8 α=16 and QLoRA's r=64 α=16; r=16 α=32 is the sweep's rank 16
KEY_FIELDS = ("task", "kind", "variant", "rank", "alpha", "lr", "seed")

from rank_regret_probes import PROBES, read_probes, run_probes  # noqa: E402
from rank_regret_replay import (  # noqa: E402
    ALPHA,
    RANKS,
    SEEDS,
    final_loss,
    ladder_for,
)
from rank_regret_report import report  # noqa: E402
from results_file import append_row, read_unique, show_report  # noqa: E402

# ---------------------------------------------------------------- results file (pure)

def row_key(row: dict) -> tuple:
    """What identifies a run: task, kind (sweep | base | fixed | pattern | eva), variant, rank, alpha, lr, seed."""
    return tuple(round(row[k], 12) if isinstance(row.get(k), float) else row.get(k, "") for k in KEY_FIELDS)


def read_rows(path: Path) -> list[dict]:
    """Every complete JSON row of the results file, the first of each key (a line cut short by a kill is
    skipped; a run written twice counts once)."""
    return read_unique(path, row_key)


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


PATTERN_SECONDS = 300  # one pattern's making (EVA's PCA cycles until it converges) may take this long (--pattern-seconds)


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




def sweep(results: Path, tasks: Sequence, log=print, with_patterns: bool = True,
          pattern_seconds: int = PATTERN_SECONDS) -> int:
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
                made = _with_timeout(pattern_seconds, make_pattern, TASK_BY_NAME_LAZY()[job["task"]],
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


def retrain_adapters(results: Path, tasks: Sequence, log=print) -> list[str]:
    """Retrain the sweep runs whose saved adapters the pending lorplan-pattern rows read (seeds 0 and 1 at the
    ladder's first-pass largest rank, middle learning rate) when they are not on this machine (they live in a
    cache, not in the repository) and the pattern is not cached either. The runs are deterministic in their
    seed: each retrained run's final eval loss is compared with the recorded one. Returns one line per run."""
    import torch

    torch.set_num_threads(1)
    rows = read_rows(results)
    done = {row_key(r) for r in rows}
    out = []
    for job in recommender_jobs(rows, tasks):
        if job["variant"] != "lorplan" or job["seed"] != 0 or row_key(job) in done:
            continue
        if pattern_file(job["task"], "lorplan", job["rank"], job["top"]).exists():
            continue
        task = TASK_BY_NAME_LAZY()[job["task"]]
        for seed in (0, 1):
            if adapter_dir(task.name, job["top"], seed).is_dir():
                continue
            old = next(r for r in rows if r["task"] == task.name and r["kind"] == "sweep" and r["rank"] == job["top"]
                       and r["seed"] == seed and math.isclose(r["lr"], task.lrs[1]))
            new = run_job({k: old[k] for k in KEY_FIELDS}, log)
            same = math.isclose(final_loss(new), final_loss(old), rel_tol=1e-4)
            line = (f"{task.name} r{job['top']} s{seed}: eval loss {final_loss(new):.6g} vs the sweep's "
                    f"{final_loss(old):.6g} ({'same' if same else 'DIFFERENT: not the adapter the sweep measured'})")
            log(line)
            out.append(line)
    return out


def TASK_BY_NAME_LAZY() -> dict:  # noqa: N802
    from rank_regret_tasks import TASK_BY_NAME

    return TASK_BY_NAME

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("sweep", "probes", "adapters", "report"))
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--probes", type=Path, default=PROBES, help="the trained probes' results file")
    ap.add_argument("--tasks", "--task", nargs="*", default=None,
                    help="only these tasks (names in rank_regret_tasks)")
    ap.add_argument("--seeds", default="0,1,2", help="probes: the ladders' training seeds, in order (0,1,2)")
    ap.add_argument("--no-patterns", action="store_true",
                    help="sweep: leave the pattern and EVA rows for a later run (ground truth and fixed rows only)")
    ap.add_argument("--pattern-seconds", type=int, default=PATTERN_SECONDS,
                    help=f"sweep: the longest one pattern's making may take ({PATTERN_SECONDS}); a pattern not made in "
                         "time is kept in the results file as not run: delete those rows to try again")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rank_regret_tasks import TASKS

    unknown = sorted(set(args.tasks or ()) - {t.name for t in TASKS})
    if unknown:
        ap.error(f"--tasks: no task named {', '.join(unknown)} (tasks: {', '.join(t.name for t in TASKS)})")
    tasks = [t for t in TASKS if args.tasks is None or t.name in args.tasks]
    if args.what == "sweep":
        return sweep(args.results, tasks, log=lambda s: print(s, flush=True), with_patterns=not args.no_patterns,
                     pattern_seconds=args.pattern_seconds)
    if args.what == "adapters":
        retrain_adapters(args.results, tasks, log=lambda s: print(s, flush=True))
        return 0
    if args.what == "probes":
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            ap.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers (e.g. 0,1,2)")
        run_probes(read_rows(args.results), tasks, seeds, args.probes, log=lambda s: print(s, flush=True))
        return 0
    text = report(read_rows(args.results), tasks, read_probes(args.probes))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    show_report(text + "\n", REPORT, True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
