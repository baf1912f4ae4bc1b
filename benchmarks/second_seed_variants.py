"""Which ranks a one-seed ladder's second-seed pass should train: lorplan's rule against the alternatives, replayed
on benchmarks/rank_regret.py's recorded sweep (no training).

    python benchmarks/second_seed_variants.py            # print the table
    python benchmarks/second_seed_variants.py --write    # and write benchmarks/results/second_seed_variants.md

Each ladder is lorplan's (rank_regret_replay.ladder_for) without its second-seed pass, once per training seed;
each variant then adds the recorded run of the next seed (rank_regret_replay.second_seed_of) at the ranks it
picks, at the ladder's rate and cut at the probes' length, and lorplan's recommendation (recommend.measured) is
read again. The variants:
- lorplan: every rank measured at the ladder's rate from the low end of the band up (recommend.decide.
  _second_seed; the replay above reproduces the ladder's own pass);
- every measured rank; the band only (its measured ranks and the recommended one); at most 2, 3 or 4 ranks,
  nearest the knee first (lorplan's order); lorplan's ranks but none above the best rank.
Scored as rank_regret: hit = the rank in [knee, 2 × knee] of the sweep's three-seed knee, and, since the second
seed is one of those three, also against the knee of the one seed neither the ladder nor its second seed
trained (independent of both). Compute: optimizer steps / the sweep's.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import rank_regret_replay as rr  # noqa: E402
from results_file import hit, show_report  # noqa: E402

REPORT = HERE / "results" / "second_seed_variants.md"


def _nearest(ranks: Sequence[int], knee: int) -> list[int]:
    return sorted(ranks, key=lambda r: (abs(math.log2(r / knee)), r))


def lorplan(measured: Sequence[int], rec, knee) -> list[int]:
    return _nearest([r for r in measured if r >= rec.confidence[0]], knee.rank)


def at_most(n: int) -> Callable:
    def pick(measured, rec, knee):
        return lorplan(measured, rec, knee)[:n]

    return pick


VARIANTS: dict[str, Callable] = {
    "lorplan: the band's low end and up": lorplan,
    "every measured rank": lambda measured, rec, knee: _nearest(measured, knee.rank),
    "the band only": lambda measured, rec, knee: _nearest(
        sorted({r for r in measured if rec.confidence[0] <= r <= rec.confidence[1]} | {rec.rank}), knee.rank),
    "at most 2 ranks": at_most(2),
    "at most 3 ranks": at_most(3),
    "at most 4 ranks": at_most(4),
    "lorplan's, none above the best rank": lambda measured, rec, knee: [
        r for r in lorplan(measured, rec, knee) if r <= knee.best_rank],
}


def with_second_seed(rows: Sequence[dict], task, seed: int, pick: Callable) -> tuple[int, int]:
    """(recommended rank, optimizer steps) of the ladder with `seed` plus the second seed at pick's ranks."""
    from lorplan.recommend import measured

    rep = rr.ladder_for(rows, task, seed=seed, allow_missing_lr=True, second=False)
    spec, state, probes = rep.final
    obs = tuple(probes.values())
    rec, base = measured.recommendation(spec, obs, state)
    knee = measured.ladder_knee(rec.ladder, base)
    if knee is None:
        return rep.rank, rep.steps
    rate = state.ladder_rate(spec)
    ranks = sorted({o.rank for o in obs if o.rank >= 1 and o.state == "finished" and math.isclose(o.lr, rate)})
    second = rr.second_seed_of((seed,))
    probe = rr.recorded_probe(rows, task, seed, spec.probe_steps)
    extra = tuple(probe({"id": f"r{r}-s1", "rank": r, "lr": rate, "seed": second})
                  for r in pick(ranks, rec, knee))
    rec, _ = measured.recommendation(spec, obs + extra, state)
    return rec.rank, rep.steps + len(extra) * spec.probe_steps


def table(rows: Sequence[dict], tasks: Sequence) -> list[dict]:
    """Per variant: hits against the three-seed knee and against the held-out seed's, compute mean and max."""
    out = []
    for name, pick in VARIANTS.items():
        hits = held = n = 0
        shares = []
        for task in tasks:
            knee = rr.sweep_knee(rows, task.name).rank
            for seed in rr.SEEDS:
                other = [s for s in rr.SEEDS if s not in (seed, rr.second_seed_of((seed,)))][0]
                held_knee = rr.sweep_knee(rows, task.name, seed=other).rank
                rank, steps = with_second_seed(rows, task, seed, pick)
                hits += hit(rank, knee)
                held += hit(rank, held_knee)
                shares.append(steps / rr.sweep_steps(task))
                n += 1
        out.append({"variant": name, "hits": hits, "held": held, "n": n, "mean": sum(shares) / n,
                    "max": max(shares)})
    return out


def render(results: Sequence[dict]) -> str:
    lines = ["# Which ranks the second-seed pass trains (benchmarks/second_seed_variants.py)", "",
             __doc__.split("\n\n", 2)[2].strip(), "",
             "| variant | hit (three-seed knee) | hit (the held-out seed's knee) | compute, mean | compute, max |",
             "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['variant']} | {r['hits']}/{r['n']} | {r['held']}/{r['n']} | {r['mean']:.1%} | "
                     f"{r['max']:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {REPORT.relative_to(HERE.parent)}")
    a = ap.parse_args(argv)
    from rank_regret import RESULTS, read_rows
    from rank_regret_tasks import TASKS

    show_report(render(table(read_rows(RESULTS), TASKS)), REPORT, a.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
