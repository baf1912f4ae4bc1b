"""The rank-regret tasks planned at 160 steps instead of 40 (32 for the classifiers): lorplan's ladder against
a ground truth that holds still.

At the sweep's own length the three-seed knee moves between seed groups (benchmarks/results/knee_length.md,
independent halves: seeds 0-2 and 3-5 agree at 160 steps on every LM task, at 40 steps not), so rank_regret's
hit rate there measures seed noise as much as the recommender. This benchmark asks the same question at 160
steps: the ground-truth sweep is knee_length.jsonl's 160-step runs (ranks 1-64 × lrs 1e-3, 3e-3, 1e-2 × seeds
0-2, and seeds 3-5 too at 1e-2 on the language-model tasks; the classifiers' head trained alone as their base), every task of rank_regret_tasks.TASKS
knee_length trained at 160 steps (SWEPT) with steps = 160, and lorplan's ladder (rank_regret_replay.ladder_spec: probes half the planned length, 80 steps)
is

- replayed on those runs cut at step 80 (mid-schedule, as rank_regret's replay), and
- trained: every probe the ladder asks for trained fresh for 80 steps with its own schedule
  (rank_regret_probes.run_probes; rows in benchmarks/results/rank_regret_long_probes.jsonl).

    python benchmarks/knee_length.py train --tasks ... --lengths 160 --lr ...   # the sweep (see knee_length)
    python benchmarks/rank_regret_long.py probes [--tasks lm-license,...] [--seeds 0,1,2]
    python benchmarks/rank_regret_long.py report [--write]      # benchmarks/results/rank_regret_long.md

The report part is pure (no torch).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import rank_regret_replay as replay  # noqa: E402
import rank_regret_report as report_of  # noqa: E402
from knee_length import RESULTS as LENGTH_RESULTS  # noqa: E402
from knee_length import read_runs  # noqa: E402
from rank_regret_probes import read_probes, run_probes  # noqa: E402
from results_file import show_report  # noqa: E402

STEPS = 160
PROBES = HERE / "results" / "rank_regret_long_probes.jsonl"
REPORT = HERE / "results" / "rank_regret_long.md"


# the tasks knee_length.py trained at 160 steps (rank_regret's cls-docpkg5 and cls-unicode came later and have
# no 160-step sweep)
SWEPT = ("cls-docpkg", "cls-license", "lm-source", "lm-license", "lm-docstring")


def long_tasks(names: Sequence[str] | None = None) -> list:
    """rank_regret_tasks.TASKS (those named, else those in SWEPT, in order) planned at STEPS steps."""
    from rank_regret_tasks import TASKS

    pick = [t for t in TASKS if t.name in (SWEPT if names is None else names)]
    return [dataclasses.replace(t, steps=STEPS) for t in pick]


def sweep_rows(runs: Sequence[dict], steps: int = STEPS) -> list[dict]:
    """knee_length's runs at `steps` as rank_regret sweep rows: rank 0 (a classifier's head alone) is the
    "base", every other run a "sweep" run."""
    return [{**r, "kind": "base" if r["rank"] == 0 else "sweep", "variant": ""} for r in runs
            if r["steps"] == steps]


def complete(rows: Sequence[dict], task) -> bool:
    """Whether the task's sweep has every rank × lr × seed (and the classifier's base at every lr and seed)."""
    cls = task.kind == "sequence-classification"
    need = {(rk, round(lr, 12), s) for rk in ((0, *replay.RANKS) if cls else replay.RANKS)
            for lr in task.lrs for s in replay.SEEDS}
    have = {(r["rank"], round(r["lr"], 12), r["seed"]) for r in rows if r["task"] == task.name}
    return need <= have


# not trained at 160 steps: their alpha differs from the sweep's, or they need adapters saved by the sweep
NOT_TRAINED = ("lorplan + pattern", "EVA allocation (same budget)", "fixed r=8 α=16", "QLoRA r=64 α=16")


def outcomes(rows: Sequence[dict], probe_rows: Sequence[dict], task):
    """One task's knee and rank_regret_report.outcomes on the 160-step sweep (the prior, the replayed and trained
    ladders, the reference rows, r=16 α=32 as the sweep's own rank 16), without the rows nothing trained here."""
    knee = replay.sweep_knee(rows, task.name)
    return knee, [o for o in report_of.outcomes(rows, task, knee, probe_rows) if o.name not in NOT_TRAINED]


HELD_SEEDS = (3, 4, 5)  # knee_length's other seed group at lr 1e-2 (the language-model tasks)


def independent_seed_group(rows: Sequence[dict], tasks: Sequence) -> str | None:
    """The ladder (seeds 0-2 only: its own and its second seed) with and without its second-seed pass, scored
    against the three-seed knee of seeds 3-5, which share nothing with it (knee_length trained them at lr 1e-2
    only, on the language-model tasks). None when no task has those runs."""
    cases = []
    for task in tasks:
        held = [r for r in rows if r["task"] == task.name and r["seed"] in HELD_SEEDS]
        if task.kind == "causal-lm" and {r["seed"] for r in held} == set(HELD_SEEDS):
            knee = replay.sweep_knee(held, task.name).rank
            cases += [(task, seed, knee) for seed in replay.SEEDS]
    with_, without, n = report_of.second_seed_tally([r for r in rows if r["seed"] in replay.SEEDS], cases)
    if not n:
        return None
    return (f"Against a knee measured with other seeds (the three-seed knee of seeds 3-5 at lr 1e-2, which neither "
            f"the ladder nor its second seed trained; the language-model tasks): the replayed ladder hits {with_}/"
            f"{n} with its second-seed pass, {without}/{n} without.")


def report(runs: Sequence[dict], probe_rows: Sequence[dict], tasks: Sequence | None = None) -> str:
    """The benchmark's markdown: per task its knee and every recommender's rank, hit, regret and compute; then
    the overall table over the tasks whose sweep is complete, and the same per task kind."""
    tasks = long_tasks() if tasks is None else tasks
    rows = sweep_rows(runs)
    lines = ["# The rank-regret tasks planned at 160 steps", "",
             "Made by `python benchmarks/rank_regret_long.py report --write` from "
             "benchmarks/results/knee_length.jsonl (the 160-step runs: ranks 1-64 × lrs 1e-3, 3e-3, 1e-2 × seeds "
             "0-2, and seeds 3-5 too at 1e-2 on the language-model tasks, so their knee averages six seeds there; "
             "alpha 32; a classifier's base is its head trained alone as long) and "
             "benchmarks/results/rank_regret_long_probes.jsonl (the ladder's probes, trained 80 steps with their "
             "own schedule). The rows are benchmarks/rank_regret.py's (rank_regret_report.outcomes) without the "
             "fixed defaults, pattern and EVA rows, which were not trained at this length. Knee: the smallest "
             "rank whose improvement over the base's eval loss is at least 95% of the best rank's (best learning "
             "rate per rank, mean over seeds). Hit: the rank in [knee, 2×knee]. Regret: eval loss − the best "
             "rank's. Compute: optimizer steps against the whole 160-step sweep's.", ""]
    per_task: dict[str, list] = {}
    by_kind: dict[str, dict[str, list]] = {}
    for task in tasks:
        if not complete(rows, task):
            lines += [f"## {task.name}", "", "The 160-step sweep is not complete yet.", ""]
            continue
        knee, res = outcomes(rows, probe_rows, task)
        per_task[task.name] = by_kind.setdefault(task.kind, {})[task.name] = res
        lines += [f"## {task.name}: {task.describe}", "",
                  f"KNEE = rank {knee.rank} (band {knee.low}-{knee.high}); base eval loss {knee.base_loss:.4f}, "
                  f"best rank {knee.best_rank} at {knee.best_loss:.4f}.", ""]
        lines += report_of.outcome_table(res) + [""]
    if per_task:
        lines += ["## Overall", ""] + report_of.overall_table(per_task)[0]
        if len(by_kind) > 1:
            for kind, got in by_kind.items():
                lines += ["", f"{kind} tasks only:", ""] + report_of.overall_table(got)[0]
        independent = report_of.held_out_second_seed(rows, [t for t in tasks if t.name in per_task])
        if independent:
            lines += ["", independent.removeprefix("- ")[:1].upper() + independent.removeprefix("- ")[1:] + "."]
        group = independent_seed_group(rows, [t for t in tasks if t.name in per_task])
        if group:
            lines += ["", group]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("probes", "report"))
    ap.add_argument("--tasks", default="", help="comma-separated task names (every task when empty)")
    ap.add_argument("--seeds", default="0,1,2", help="probes: the ladders' training seeds, in order")
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/rank_regret_long.md")
    a = ap.parse_args(argv)
    tasks = long_tasks([t for t in a.tasks.split(",") if t] or None)
    runs = read_runs(LENGTH_RESULTS)
    if a.what == "probes":
        run_probes(sweep_rows(runs), tasks, [int(s) for s in a.seeds.split(",")], PROBES,
                   log=lambda s: print(s, flush=True))
        return 0
    show_report(report(runs, read_probes(PROBES), tasks), REPORT, a.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
