"""The rank-regret tasks planned at 160 steps instead of 40 (32 for the classifiers): lorplan's ladder against
a ground truth that holds still.

At the sweep's own length the three-seed knee moves between seed groups (benchmarks/results/knee_length.md,
independent halves: seeds 0-2 and 3-5 agree at 160 steps on every LM task, at 40 steps not), so rank_regret's
hit rate there measures seed noise as much as the recommender. This benchmark asks the same question at 160
steps: the ground-truth sweep is knee_length.jsonl's 160-step runs (ranks 1-64 × lrs 1e-3, 3e-3, 1e-2 × seeds
0-2, the classifiers' head trained alone as their base), every task of rank_regret_tasks.TASKS with
steps = 160, and lorplan's ladder (rank_regret_replay.ladder_spec: probes half the planned length, 80 steps)
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
import re
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import rank_regret_replay as replay  # noqa: E402
from knee_length import RESULTS as LENGTH_RESULTS  # noqa: E402
from knee_length import read_runs  # noqa: E402
from rank_regret_probes import MissingProbe, read_probes, run_probes, trained_ladder  # noqa: E402
from results_file import hit, show_report  # noqa: E402

STEPS = 160
PROBES = HERE / "results" / "rank_regret_long_probes.jsonl"
REPORT = HERE / "results" / "rank_regret_long.md"


def long_tasks(names: Sequence[str] | None = None) -> list:
    """rank_regret_tasks.TASKS (those named, in order) planned at STEPS steps."""
    from rank_regret_tasks import TASKS

    pick = [t for t in TASKS if names is None or t.name in names]
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


def outcomes(rows: Sequence[dict], probe_rows: Sequence[dict], task) -> dict:
    """One task's figures: the knee, the prior, the replayed and trained ladders per seed, the reference rows
    (one seed of the whole sweep; the ladder on whole runs) and r=16 α=32 (the sweep's own rank 16). Regret: the
    recommended rank's eval loss (best lr, mean over seeds) above the best rank's."""
    knee = replay.sweep_knee(rows, task.name)
    sweep = replay.sweep_steps(task)
    out = {"knee": knee, "prior": replay.prior(rows, task).rank, "rows": []}

    def add(name: str, rank: int | None, steps: float | None, note: str = "") -> None:
        got = None if rank is None else replay.config_loss(rows, task.name, "sweep", rank, replay.ALPHA)
        out["rows"].append({"recommender": name, "rank": rank, "hit": None if rank is None else hit(rank, knee.rank),
                            "regret": None if got is None else replay.regret(got[0], knee.best_loss),
                            "compute": None if steps is None else replay.compute_fraction(steps, sweep),
                            "note": note})

    add("lorplan prior", out["prior"], 0)
    for s in replay.SEEDS:
        rep = replay.ladder_for(rows, task, seed=s)
        add(f"prior + ladder (replay, seed {s})", rep.rank, rep.steps,
            f"lr {rep.learning_rate:g}; band {rep.knee_low}-{rep.knee_high}")
    for s in replay.SEEDS:
        try:
            rep = trained_ladder(rows, probe_rows, task, seed=s)
        except MissingProbe as exc:
            add(f"prior + ladder (trained probes, seed {s})", None, None, f"not run yet ({exc.args[0]})")
            continue
        add(f"prior + ladder (trained probes, seed {s})", rep.rank, rep.steps,
            f"lr {rep.learning_rate:g}; band {rep.knee_low}-{rep.knee_high}")
    for s in replay.SEEDS:
        k = replay.sweep_knee(rows, task.name, seed=s)
        add(f"reference: the whole sweep, one seed (seed {s})", k.rank, sweep / len(replay.SEEDS))
    for s in replay.SEEDS:
        rep = replay.ladder_for(rows, task, seed=s, probe_steps=task.steps)
        add(f"reference: the ladder, probes the full planned length (seed {s})", rep.rank, rep.steps,
            f"lr {rep.learning_rate:g}")
    for s in replay.SEEDS:
        rep = replay.ladder_for(rows, task, seed=s, probe_steps=task.steps * 3 // 4)
        add(f"the ladder, probes 3/4 of the planned length (--probe-steps; seed {s})", rep.rank, rep.steps,
            f"cut at step {task.steps * 3 // 4}; lr {rep.learning_rate:g}; band {rep.knee_low}-{rep.knee_high}")
    add("fixed r=16 α=32", 16, None, "the sweep's own rank 16")
    return out


def _group(name: str) -> str:
    """A row's recommender without its seed: "prior + ladder (replay, seed 1)" -> "prior + ladder (replay)"."""
    return re.sub(r" \(seed \d+\)$", "", re.sub(r"[,;] seed \d+\)$", ")", name))


def report(runs: Sequence[dict], probe_rows: Sequence[dict], tasks: Sequence | None = None) -> str:
    """The benchmark's markdown: per task its knee and every recommender's rank, hit and compute; then the hit
    rate of each recommender over the tasks whose sweep is complete."""
    tasks = long_tasks() if tasks is None else tasks
    rows = sweep_rows(runs)
    lines = ["# The rank-regret tasks planned at 160 steps", "",
             "Made by `python benchmarks/rank_regret_long.py report --write` from "
             "benchmarks/results/knee_length.jsonl (the 160-step runs: ranks 1-64 × lrs 1e-3, 3e-3, 1e-2 × seeds "
             "0-2, alpha 32; a classifier's base is its head trained alone as long) and "
             "benchmarks/results/rank_regret_long_probes.jsonl (the ladder's probes, trained 80 steps with their "
             "own schedule). Knee: the smallest rank whose improvement over the base's eval loss is at least 95% "
             "of the best rank's (best learning rate per rank, mean over seeds). Hit: the rank in [knee, 2×knee]. "
             "Compute: optimizer steps against the whole 160-step sweep's.", ""]
    totals: dict[str, list] = {}
    by_kind: dict[str, dict[str, list]] = {}
    for task in tasks:
        if not complete(rows, task):
            lines += [f"## {task.name}", "", "The 160-step sweep is not complete yet.", ""]
            continue
        res = outcomes(rows, probe_rows, task)
        k = res["knee"]
        lines += [f"## {task.name}: {task.describe}", "",
                  f"KNEE = rank {k.rank} (band {k.low}-{k.high}); capacity prior rank {res['prior']}.", "",
                  "| recommender | rank | hit | regret | compute | note |", "|---|---|---|---|---|---|"]
        for r in res["rows"]:
            rank = "-" if r["rank"] is None else str(r["rank"])
            h = "-" if r["hit"] is None else ("yes" if r["hit"] else "no")
            c = "-" if r["compute"] is None else f"{r['compute']:.1%}"
            g = "-" if r["regret"] is None else f"{r['regret']:+.4f}"
            lines.append(f"| {r['recommender']} | {rank} | {h} | {g} | {c} | {r['note']} |")
            if r["hit"] is not None:
                got = (r["hit"], r["compute"], r["regret"])
                totals.setdefault(_group(r["recommender"]), []).append(got)
                by_kind.setdefault(task.kind, {}).setdefault(_group(r["recommender"]), []).append(got)
        lines.append("")
    lines += ["## Overall", ""] + _rate_table(totals)
    if len(by_kind) > 1:
        for kind, got in by_kind.items():
            lines += ["", f"{kind} tasks only:", ""] + _rate_table(got)
    return "\n".join(lines) + "\n"


def _rate_table(totals: dict[str, list]) -> list[str]:
    """Hit rate, mean loss regret and mean compute of each recommender over its (hit, compute, regret) cases."""
    lines = ["| recommender | hit rate | mean regret | mean compute | cases |", "|---|---|---|---|---|"]
    for name, got in totals.items():
        hits = sum(1 for h, _, _ in got if h)
        comp = [c for _, c, _ in got if c is not None]
        mean = f"{sum(comp) / len(comp):.1%}" if comp else "-"
        regrets = [g for _, _, g in got if g is not None]
        reg = f"{sum(regrets) / len(regrets):+.4f}" if regrets else "-"
        lines.append(f"| {name} | {hits / len(got):.0%} ({hits}/{len(got)}) | {reg} | {mean} | {len(got)} |")
    return lines


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
