"""How the knee of a rank sweep moves with the training run's length (the rank-regret causal-LM tasks).

lorplan's ladder compares ranks on short probes (half the planned length in the rank-regret benchmark, 100 steps
in real use whatever the plan's length), yet the knee it must predict is the planned run's. Trained 20-step
probes put the LM tasks' knees lower than the 40-step sweep (benchmarks/results/rank_regret_probes.jsonl). This
benchmark measures the knee at run lengths 20, 80 and 160 steps (each run with its linear schedule over its own
length, rank_regret_tasks.train_run(steps=N)) next to the sweep's 40 (rank_regret_sweep.jsonl, not retrained):
every rank of rank_regret_replay.RANKS x seeds 0, 1, 2 at one learning rate, 1e-2 (the sweep's best rate at most
ranks), alpha rank_regret_replay.ALPHA.

The two classifiers (cls-docpkg, cls-license) ran at 160 steps too, lr 3e-3 (their best rate at every rank in
the 32-step sweep), 1e-3 and 1e-2, with the head trained alone for the same length as their base (rank 0; its
best rate at 160 steps is 1e-2, where no adapter learned): does their
knee (64 and 32 at 32 steps) come from what a rank can hold, or from how fast it learns in a short run? The
capacity prior, which counts what the labels can teach, says rank 1 for both.

    python benchmarks/knee_length.py train [--tasks lm-license,lm-source] [--lengths 20,80,160]
    python benchmarks/knee_length.py train --tasks cls-license --lengths 160 --lr 0.003   # and 0.001, 0.01
    python benchmarks/knee_length.py report [--write]      # benchmarks/results/knee_length.md

The rank-regret sweep's second seed group (seeds 3, 4, 5 of every task at its planned length, every rank and
rate, a classifier's head alone too: `train --tasks T --lengths 32 --seeds 3,4,5 --lr 0.003`, and so on) is kept
in the same file; benchmarks/knee_ceiling.py scores against it.

Every run is appended to benchmarks/results/knee_length.jsonl as it finishes, keyed (task, rank, lr, seed,
steps); a rerun trains only what is missing. Two trainers (one per task) may append to the file at once
(results_file.append_row holds an exclusive flock on the file). The report part is pure (no torch).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import rank_regret_replay as replay  # noqa: E402
from results_file import append_row, read_unique, show_report  # noqa: E402

RESULTS = HERE / "results" / "knee_length.jsonl"
SWEEP = HERE / "results" / "rank_regret_sweep.jsonl"
REPORT = HERE / "results" / "knee_length.md"
KEY = ("task", "rank", "lr", "seed", "steps")
TASKS = ("lm-license", "lm-source", "lm-docstring")
TRAIN_LENGTHS = (20, 80, 160)
SWEEP_LENGTH = 40  # the sweep's planned length of the causal-LM tasks (rank_regret_tasks.TASKS)
LENGTHS = (20, 40, 80, 160)
LR = 1e-2
CLS = "sequence-classification"
SEEDS = (0, 1, 2)


def run_key(row: dict) -> tuple:
    """What identifies a run: task, rank, lr (to 12 digits), seed, steps."""
    return tuple(round(row[k], 12) if isinstance(row[k], float) else row[k] for k in KEY)


def read_runs(path: Path = RESULTS) -> list[dict]:
    """Every complete row of the results file, the first of each key."""
    return read_unique(path, run_key)


def jobs(tasks: Sequence[str], lengths: Sequence[int] = TRAIN_LENGTHS, seeds: Sequence[int] = SEEDS,
         lr: float = LR, ranks: Sequence[int] = replay.RANKS) -> list[dict]:
    """Every run, in training order: length by length (the short ones first), task by task, rank by rank,
    seed by seed."""
    return [{"task": t, "rank": r, "lr": lr, "seed": s, "steps": n}
            for n in lengths for t in tasks for r in ranks for s in seeds]


def missing(all_jobs: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """The jobs with no row in `rows` (what a rerun still trains)."""
    done = {run_key(r) for r in rows}
    return [j for j in all_jobs if run_key(j) not in done]


# ---------------------------------------------------------------- analysis (pure)

def _finite(row: dict) -> bool:
    return all(math.isfinite(float(v)) for _, v in row["curve"])


def length_rows(runs: Sequence[dict], sweep: Sequence[dict], task: str, steps: int,
                lr: float | None = LR, seeds: Sequence[int] | None = SEEDS) -> list[dict]:
    """The runs of `task` at `steps` (the sweep's for its own length), at `lr` and `seeds` (None: every one),
    finite only."""
    rows = [r for r in runs if r["task"] == task and r["steps"] == steps]
    if steps == SWEEP_LENGTH:
        # the sweep's runs, and this file's only where the sweep has none (its extra seeds; a rerun of a sweep
        # run is the reproduction check, sweep_reproduced)
        swept = [r for r in sweep if r["task"] == task and r["kind"] == "sweep" and r.get("variant", "") == ""
                 and r["alpha"] == replay.ALPHA and r["steps"] == steps]
        have = {run_key(r) for r in swept}
        rows = swept + [r for r in rows if run_key(r) not in have]
    return [r for r in rows if (lr is None or round(r["lr"], 12) == round(lr, 12))
            and (seeds is None or r["seed"] in seeds) and _finite(r)]


def sweep_reproduced(runs: Sequence[dict], sweep: Sequence[dict], task: str) -> str:
    """This file's reruns of sweep runs (same task, rank, lr, seed, 40 steps): their final eval loss next to
    the sweep's, so a reader sees that train_run(steps=40) is the sweep's run."""
    swept = {run_key(r): r for r in sweep if r["task"] == task and r["kind"] == "sweep"
             and r.get("variant", "") == "" and r["alpha"] == replay.ALPHA}
    pairs = [(r, swept[run_key(r)]) for r in runs if r["task"] == task and run_key(r) in swept]
    return "; ".join(f"r{a['rank']} s{a['seed']} lr {a['lr']:g}: {a['curve'][-1][1]:.6f} vs the sweep's "
                     f"{b['curve'][-1][1]:.6f}" for a, b in pairs)


EXTRA_SEEDS = (3, 4, 5)  # this study's second seed group; seeds 6-11 are benchmarks/knee_ceiling.py's (40 steps only)


def extra_seeds(runs: Sequence[dict], task: str) -> list[int]:
    """The seeds of EXTRA_SEEDS that ran for `task`: the length study reads these beside SEEDS, not the later groups
    knee_ceiling.py trained at the planned length alone."""
    return [s for s in EXTRA_SEEDS if any(r["task"] == task and r["seed"] == s for r in runs)]


def knee_of(rows: Sequence[dict], seed: int | None = None):
    """lorplan.recommend.knee.find_knee on the rows (best lr per rank, mean over seeds; only `seed`'s runs
    when given), None when there are none."""
    from lorplan.recommend.knee import find_knee

    pick = [r for r in rows if seed in (None, r["seed"])]
    if not pick:
        return None
    return find_knee(replay.ladder_rows(pick), replay.step_zero_mean(pick))


def knee_table(runs: Sequence[dict], sweep: Sequence[dict], task: str,
               seeds: Sequence[int] = SEEDS) -> dict[int, dict]:
    """Per run length: the knee over `seeds` at lr LR, the one-seed knees, the runs behind them and whether
    every rank and seed ran (and, where more lrs ran at that length, the knee at each rank's best of them)."""
    out = {}
    for n in LENGTHS:
        rows = length_rows(runs, sweep, task, n, seeds=seeds)
        if not rows:
            continue
        entry = {"knee": knee_of(rows), "runs": len(rows), "seed_knees": {s: knee_of(rows, s) for s in seeds},
                 "complete": len(rows) == len(replay.RANKS) * len(seeds)}
        # only lrs run with the same seeds as lr LR's (the sweep's 3 lrs have seeds 0-2 only)
        seen = {r["seed"] for r in rows}
        every_lr = [r for r in length_rows(runs, sweep, task, n, lr=None, seeds=seeds)
                    if {q["seed"] for q in length_rows(runs, sweep, task, n, lr=r["lr"], seeds=seeds)} == seen]
        lrs = sorted({r["lr"] for r in every_lr})
        if len(lrs) > 1:
            entry["all_lr_knee"], entry["lrs"] = knee_of(every_lr), lrs
        out[n] = entry
    return out


def movement(table: dict[int, dict]) -> str:
    """One line: how the knee moves with length, e.g. "20→40→80→160: 4→8→16→16 (grows 4x ...)"."""
    ns = [n for n in LENGTHS if n in table]
    if not ns:
        return "no runs"
    knees = [table[n]["knee"].rank for n in ns]
    first, last = knees[0], knees[-1]
    verdict = ("stays" if first == last else f"grows {last / first:g}x" if last > first
               else f"shrinks {first / last:g}x")
    steps_ = list(zip(knees, knees[1:], strict=False))
    if any(a > b for a, b in steps_) and any(a < b for a, b in steps_):
        verdict = f"up and down; {verdict}"
    shown = [str(k) if table[n]["complete"] else f"{k}*" for n, k in zip(ns, knees, strict=True)]
    note = "; * = not every rank and seed ran yet" if any(s.endswith("*") for s in shown) else ""
    return f"{'→'.join(map(str, ns))}: {'→'.join(shown)} ({verdict} from {ns[0]} to {ns[-1]} steps{note})"


def data_note(runs: Sequence[dict], sweep: Sequence[dict], task: str, micro_batch: int = 8) -> str:
    """Training items, epochs each length implies, and whether every run evaluated the same held-out split
    (the same step-0 eval loss and eval items at every length)."""
    rows = [r for n in LENGTHS for r in length_rows(runs, sweep, task, n, lr=None, seeds=None)]
    if not rows:
        return "no runs"
    items = sorted({r["train_items"] for r in rows})
    evals = sorted({r["eval_items"] for r in rows})
    zeros = sorted({round(float(r["curve"][0][1]), 6) for r in rows})
    epochs = ", ".join(f"{n} steps {n * micro_batch / items[0]:.2f}" for n in LENGTHS)
    same = "yes" if len(zeros) == 1 and len(evals) == 1 and len(items) == 1 else "NO"
    over = [n for n in LENGTHS if n * micro_batch > items[0]]
    wrap = (f"; past one epoch ({', '.join(map(str, over))} steps) the engine starts a new pass in a new shuffled "
            "order (lorplan.train.data.epoch_order), so those runs see rows twice" if over else "")
    return (f"{items} training items of 64 tokens, {evals} eval items; epochs (micro-batch {micro_batch}): "
            f"{epochs}{wrap}; same held-out split and base at every length: {same} (step-0 eval loss "
            f"{', '.join(f'{z:.6f}' for z in zeros)}); every run of one seed visits rows in the same order, so "
            "a longer run's first steps see the same rows as a shorter run's (only the schedule differs)")


def _knee_lines(table: dict[int, dict], seeds: Sequence[int]) -> list[str]:
    lines = [f"| steps | runs | knee ({len(seeds)} seeds, lr 1e-2) | band | best rank | gain (base − best) | "
             f"one-seed knees {'/'.join(f's{s}' for s in seeds)} |", "|---|---|---|---|---|---|---|"]
    for n, e in table.items():
        k = e["knee"]
        one = "/".join(str(e["seed_knees"][s].rank) if e["seed_knees"][s] else "-" for s in seeds)
        knee = f"{k.rank}" if e["complete"] else f"{k.rank}*"
        if "all_lr_knee" in e:
            knee += f" (best of lrs {', '.join(f'{lr:g}' for lr in e['lrs'])}: {e['all_lr_knee'].rank})"
        lines.append(f"| {n} | {e['runs']} | {knee} | {k.low}–{k.high} | {k.best_rank} | "
                     f"{k.base_loss - k.best_loss:.4f} | {one} |")
    return lines


def _share_lines(table: dict[int, dict]) -> list[str]:
    """Rank by length: each rank's share of the best rank's improvement (lr 1e-2)."""
    ns = list(table)
    lines = ["| rank | " + " | ".join(f"{n} steps" for n in ns) + " |", "|---|" + "---|" * len(ns)]
    for r in replay.RANKS:
        cells = [table[n]["knee"].share(r) for n in ns]
        lines.append(f"| {r} | " + " | ".join("-" if c is None else f"{c:.2f}" for c in cells) + " |")
    return lines


def capped_knees(runs: Sequence[dict], sweep: Sequence[dict], task: str, top: int) -> str:
    """The 3-seed knee per length when no rank above `top` is measured (a ladder that stops there: the best
    improvement it sees is smaller, so its knee can only be the same or lower)."""
    out = []
    for n in LENGTHS:
        rows = [r for r in length_rows(runs, sweep, task, n) if r["rank"] <= top]
        if rows:
            out.append(f"{n} steps {knee_of(rows).rank}")
    return ", ".join(out)


def task_report(runs: Sequence[dict], sweep: Sequence[dict], task: str) -> list[str]:
    """The report's lines for one task."""
    table = knee_table(runs, sweep, task)
    lines = [f"## {task}", "", f"- data: {data_note(runs, sweep, task)}", ""]
    diverged = [r for r in runs if r["task"] == task and not _finite(r)]
    if diverged:
        names = ", ".join(f"r{r['rank']} s{r['seed']} {r['steps']} steps lr {r['lr']:g}" for r in diverged)
        lines += [f"- non-finite eval loss (left out): {names}", ""]
    again = sweep_reproduced(runs, sweep, task)
    if again:
        lines += [f"- sweep runs retrained here (40 steps): {again}", ""]
    lines += _knee_lines(table, SEEDS)
    lines += ["", "Each rank's share of the best rank's improvement over the base (3 seeds, lr 1e-2):", ""]
    lines += _share_lines(table)
    lines += ["", f"- knee vs length (3 seeds, lr 1e-2): {movement(table)}",
              f"- the same with no rank above 32 measured: {capped_knees(runs, sweep, task, 32)}", ""]
    more = extra_seeds(runs, task)
    if more:
        seeds = (*SEEDS, *more)
        wide = knee_table(runs, sweep, task, seeds)
        lines += [f"With the extra seeds {', '.join(map(str, more))} (lengths where they ran; at 40 steps the "
                  "sweep's seeds 0-2 and this file's others):", ""]
        lines += _knee_lines({n: e for n, e in wide.items()
                              if any(r["seed"] in more for r in length_rows(runs, sweep, task, n, seeds=more))},
                             seeds)
        lines.append("")
    return lines


CLS_TASKS = ("cls-docpkg", "cls-license")


def classifier_rows(runs: Sequence[dict], sweep: Sequence[dict], task: str, steps: int,
                    lr: float | None = None) -> tuple[list[dict], list[dict]]:
    """A classifier's (rank runs, head-alone base runs) at `steps` (at `lr` when given, else every rate),
    finite only: the sweep's own (kinds sweep and base) at its planned length, this file's (rank 0 is the head
    alone) at the others."""
    from rank_regret_tasks import TASK_BY_NAME

    if steps == TASK_BY_NAME[task].steps:
        pool = [r for r in sweep if r["task"] == task and r["kind"] in ("sweep", "base") and r.get("variant", "") == ""
                and r["alpha"] == replay.ALPHA]
    else:
        pool = [r for r in runs if r["task"] == task and r["steps"] == steps]
    pool = [r for r in pool if (lr is None or round(r["lr"], 12) == round(lr, 12)) and _finite(r)]
    return [r for r in pool if r["rank"] >= 1], [r for r in pool if r["rank"] == 0]


def classifier_lines(runs: Sequence[dict], sweep: Sequence[dict], task: str) -> list[str]:
    """A classifier's knee at its sweep's length and at every longer length this file holds (best rate per rank
    among those run at that length, the base its head trained alone for the same length at its best rate),
    beside the capacity prior's rank, which counts what the labels can teach (examples × label entropy), not
    how fast a rank learns."""
    from rank_regret_tasks import TASK_BY_NAME

    from lorplan.recommend.knee import find_knee

    planned = TASK_BY_NAME[task].steps
    lengths = [planned] + sorted({r["steps"] for r in runs if r["task"] == task and r["steps"] != planned})
    prior = replay.prior(sweep, TASK_BY_NAME[task])
    lines = [f"## {task} (classifier)", "",
             f"The capacity prior says rank {prior.rank}: "
             + "; ".join(f"{r.name} {r.need:,} parameters against {prior.adapter.per_rank:,} per rank unit"
                         for r in prior.rules) + ". The knee at the "
             f"sweep's {planned} steps and at longer runs: every rank × seed at each rate run at that length, "
             "each rank at its best rate (mean over seeds), the base the head trained alone for the same length at "
             "its best rate. Runs whose eval loss stayed at the untrained level (about ln 6 = 1.79) did not learn "
             "at that rate.", "",
             "| steps | runs | rates | knee | band | best rank | head alone | best loss | rate at the knee | "
             "one-seed knees |", "|---|---|---|---|---|---|---|---|---|---|"]
    shares: dict[int, object] = {}
    for n in lengths:
        rows, base = classifier_rows(runs, sweep, task, n)
        if not rows or not base:
            continue
        seeds = sorted({r["seed"] for r in rows})
        lrs = sorted({r["lr"] for r in rows})
        b, se = replay.best_rate_mean(base)  # the head trained alone at its best rate
        knee = find_knee(replay.ladder_rows(rows), b, base_stderr=se)
        shares[n] = knee
        at = next(x.learning_rate for x in knee.ranks if x.rank == knee.rank)
        one = "/".join(str(find_knee(replay.ladder_rows([r for r in rows if r["seed"] == s]), b).rank) for s in seeds)
        lines.append(f"| {n} | {len(rows)} | {', '.join(f'{x:g}' for x in lrs)} | {knee.rank} | {knee.low}–"
                     f"{knee.high} | {knee.best_rank} | {b:.4f} | {knee.best_loss:.4f} | {at:g} | {one} |")
    if len(shares) > 1:
        lines += ["", "Each rank's share of the best rank's improvement over the head alone, and its best rate:", "",
                  "| rank | " + " | ".join(f"{n} steps" for n in shares) + " |", "|---|" + "---|" * len(shares)]
        for r in replay.RANKS:
            cells = []
            for k in shares.values():
                c, lr = k.share(r), next((x.learning_rate for x in k.ranks if x.rank == r), None)
                cells.append("-" if c is None else f"{c:.2f} @ {lr:g}")
            lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return lines + [""]


HALVES = ((0, 1, 2), (3, 4, 5))


def split_halves(runs: Sequence[dict], sweep: Sequence[dict], tasks: Sequence[str] = TASKS,
                 target: int = SWEEP_LENGTH) -> list[str]:
    """Independent halves: the knee of seeds 0-2 next to that of seeds 3-5 at every length, and how often
    probes at each length with 1, 2 or 3 seeds of one half find the OTHER half's 3-seed knee at `target` steps
    (rank in [knee, 2×knee]). The truth never shares a seed with the probes (the rank_regret rows' references
    do share). Empty when the extra seeds have not run."""
    import itertools

    from results_file import hit

    have = [t for t in tasks if all(length_rows(runs, sweep, t, n, seeds=h) for n in LENGTHS for h in HALVES)]
    if not have:
        return []
    lines = ["## Independent halves: can a short run find the planned run's knee?", "",
             f"Knee of seeds 0-2 and of seeds 3-5 (lr 1e-2), and hits of probes from one half against the other "
             f"half's {target}-step knee (every pairing of probe seeds, both halves, tasks {', '.join(have)}):", "",
             "| task | " + " | ".join(f"{n} steps: 0-2 / 3-5" for n in LENGTHS) + " |", "|---|" + "---|" * len(LENGTHS)]
    for t in have:
        cells = [" / ".join(str(knee_of(length_rows(runs, sweep, t, n, seeds=h)).rank) for h in HALVES)
                 for n in LENGTHS]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", "| probe length | 1 seed | 2 seeds | 3 seeds |", "|---|---|---|---|"]
    for n in LENGTHS:
        cells = []
        for k in (1, 2, 3):
            hits = total = 0
            for t in have:
                for probes, truth in (HALVES, HALVES[::-1]):
                    knee = knee_of(length_rows(runs, sweep, t, target, seeds=truth)).rank
                    for pick in itertools.combinations(probes, k):
                        hits += hit(knee_of(length_rows(runs, sweep, t, n, seeds=pick)).rank, knee)
                        total += 1
            cells.append(f"{hits}/{total} ({hits / total:.0%})")
        lines.append(f"| {n} steps{' (the planned length)' if n == target else ''} | " + " | ".join(cells) + " |")
    return lines + [""]


def report(runs: Sequence[dict], sweep: Sequence[dict], tasks: Sequence[str] = TASKS) -> str:
    lines = ["# The knee vs the training run's length (rank-regret causal-LM tasks)", "",
             "Made by `python benchmarks/knee_length.py report --write` from benchmarks/results/knee_length.jsonl "
             "(20, 80, 160 steps) and rank_regret_sweep.jsonl (40 steps, its lr 1e-2 runs). Every run: ranks "
             f"{', '.join(map(str, replay.RANKS))} x seeds 0, 1, 2, lr 1e-2, alpha {replay.ALPHA}, linear schedule "
             "(5% warmup) over its own length. Knee: lorplan.recommend.knee.find_knee (smallest rank reaching 95% "
             "of the best rank's improvement over the step-0 eval loss), here at ONE lr (1e-2), so at 40 steps "
             "the sweep's own knee (best of lrs 1e-3, 3e-3, 1e-2 per rank) is shown next to it. Band: "
             "find_knee's low–high. One-seed knees: the same on one seed's runs, the spread a one-seed ladder "
             "lives with. * marks a length where not every rank and seed ran. Extra runs where they ran: seeds "
             "3, 4, 5 (at 40 steps too, trained here with train_run(steps=40), the sweep's own run: see the "
             "retrained sweep runs), and lrs 1e-3 and 3e-3 at 160 steps (the best-of-lrs knee next to the lr-1e-2 one; "
             "these are the ground-truth sweep of benchmarks/rank_regret_long.py).", ""]
    summary = []
    for t in tasks:
        if any(r["task"] == t for r in runs):
            lines += task_report(runs, sweep, t)
            summary.append(f"- {t}: {movement(knee_table(runs, sweep, t))}")
            more = extra_seeds(runs, t)
            if more:
                wide = knee_table(runs, sweep, t, (*SEEDS, *more))
                summary.append(f"  - over seeds 0-{max(more)}: {movement(wide)}")
    for t in CLS_TASKS:
        if any(r["task"] == t for r in runs):
            lines += classifier_lines(runs, sweep, t)
    return "\n".join(lines + split_halves(runs, sweep, tasks) + ["## Summary", ""] + summary) + "\n"


# ---------------------------------------------------------------- training (torch, only in `train`)

def train(tasks: Sequence[str], lengths: Sequence[int], seeds: Sequence[int] = SEEDS, lr: float = LR,
          ranks: Sequence[int] = replay.RANKS, path: Path = RESULTS, log=print) -> int:
    """Train every missing run of `tasks` x `lengths` x `seeds` at `lr` on one CPU thread, appending each as it
    finishes."""
    from rank_regret_tasks import TASK_BY_NAME

    # a classifier's base is its head trained alone (rank 0, adapters frozen at B = 0) for the same length
    todo = missing([j for t in tasks for j in jobs([t], lengths, seeds, lr,
                                                   (0, *ranks) if TASK_BY_NAME[t].kind == CLS else ranks)],
                   read_runs(path))
    log(f"{len(todo)} runs to train ({', '.join(tasks)}; lengths {', '.join(map(str, lengths))})")
    return train_jobs(todo, "length", path, log)


def train_jobs(todo: Sequence[dict], kind: str, path: Path, log=print) -> int:
    """Train each job (task, rank, lr, seed, steps; rank 0: a classifier's head alone) on one CPU thread through
    rank_regret_tasks.train_run, appending its row (marked `kind`) to `path` as it finishes."""
    import torch

    torch.set_num_threads(1)
    from rank_regret_tasks import TASK_BY_NAME, train_run
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    t_all = time.monotonic()
    for i, job in enumerate(todo, 1):
        t0 = time.monotonic()
        out = train_run(TASK_BY_NAME[job["task"]], rank=max(1, job["rank"]), alpha=replay.ALPHA, lr=job["lr"],
                        seed=job["seed"], steps=job["steps"], head_only=job["rank"] == 0)
        row = {**job, "kind": kind, "alpha": replay.ALPHA, **out, "wall_s": round(time.monotonic() - t0, 2)}
        append_row(path, row)
        log(f"[{i}/{len(todo)}] {job['task']} r{job['rank']} lr {job['lr']:g} s{job['seed']} {job['steps']} steps: "
            f"eval {row['curve'][0][1]:.4f} -> {row['curve'][-1][1]:.4f} ({row['wall_s']:.1f} s; "
            f"{time.monotonic() - t_all:.0f} s in all) {time.strftime('%H:%M:%S')}")
    return len(todo)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("train", "report"))
    ap.add_argument("--tasks", default=",".join(TASKS[:2]))
    ap.add_argument("--lengths", default=",".join(map(str, TRAIN_LENGTHS)))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--lr", type=float, default=LR)
    ap.add_argument("--ranks", default=",".join(map(str, replay.RANKS)))
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/knee_length.md")
    a = ap.parse_args(argv)
    tasks = [t for t in a.tasks.split(",") if t]
    if a.what == "train":
        train(tasks, [int(n) for n in a.lengths.split(",")], [int(x) for x in a.seeds.split(",")], a.lr,
              [int(x) for x in a.ranks.split(",")])
        return 0
    from rank_regret import read_rows

    sweep = read_rows(SWEEP)
    show_report(report(read_runs(), sweep, TASKS), REPORT, a.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
