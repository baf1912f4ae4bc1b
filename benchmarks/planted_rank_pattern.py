"""Planted-rank benchmark, the pattern trained: at the same parameter budget, does lorplan's per-module rank
pattern reach a lower eval loss than uniform rank where the right modules are known by construction?

Per case (benchmarks/planted_rank.py): the rank is the ladder's (the seed-0 replay); the pattern is made from
the sweep's seed-0 and seed-1 adapters at that rank and the middle learning rate (pattern.module_signals, then
allocate.pattern_from_signals with each variant's settings below); the student is trained with it at that
rank, the middle learning rate, seeds 0 and 1, the sweep's steps (planted_rank_tasks.train with rank_pattern:
every module keeps lora_alpha, so its scale is alpha / its own rank, as lorplan writes a pattern into a plan).
Uniform is the sweep's own runs at that rank, rate and seeds. Each run is appended to the results file as it
ends (kind "pattern", its variant), so an interrupted run resumes where it stopped.

    python benchmarks/planted_rank.py pattern [--cases NAME,...] [--variants cap4,...] [--until HH:MM]
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

# name: (allocate's settings, what it is, in words); every variant at the parameter budget of uniform rank.
# "from_top": the pattern from the adapters at the ladder's first-pass largest rank, as lorplan's ladder makes it
# (recommend.launch runs its pattern probes there; benchmarks/rank_regret.py measures it so), not the ladder's rank
_OLD = {"by_directions": True, "signal_floor": 0.25}  # doublings by measured directions first
VARIANTS: dict[str, tuple[dict, str]] = {
    "cap4": ({**_OLD, "max_rank_factor": 4, "extend_factor": None},
             "lorplan's allocation before this benchmark (with no group above its smaller dimension): doublings "
             "by measured directions first, then by shared energy; no group above 4 × the probe rank; groups "
             "with signal start at a quarter of the uniform rank"),
    # with no cap but the module's own (None) every case's pattern equals cap8's (checked on the 16 cases)
    "cap8": ({**_OLD, "max_rank_factor": 8, "extend_factor": None}, "as cap4 but up to 8 × the probe rank"),
    "cap8x2": ({**_OLD, "max_rank_factor": 8, "extend_factor": 2},
               "as cap8 but a module that used every direction of the probe is assumed to have only as many "
               "again (2 × the probe rank), not up to its cap"),
    "shared": ({"by_directions": False, "signal_floor": 0.25, "max_rank_factor": 8, "extend_factor": 2},
               "as cap8x2 but without the doublings by measured directions: rank follows shared energy alone"),
    "top": ({**_OLD, "max_rank_factor": 8, "extend_factor": 2, "from_top": True},
            "as cap8x2 but from the adapters at the ladder's first-pass largest rank (where lorplan's ladder "
            "runs its pattern probes), at the budget of the ladder's rank"),
    "top-shared": ({"by_directions": False, "signal_floor": 0.25, "max_rank_factor": 8, "extend_factor": 2,
                    "from_top": True},
                   "as top but without the doublings by measured directions: lorplan's default now "
                   "(allocate.BY_DIRECTIONS, MAX_RANK_FACTOR) as its ladder makes it"),
    "top-nofill": ({"by_directions": False, "signal_floor": 0.25, "max_rank_factor": 8, "extend_factor": 2,
                    "from_top": True, "fill": False},
                   "as top-shared but what the shared signal leaves of the budget is not spent toward uniform "
                   "rank (the budget a ceiling: fewer parameters)"),
    "top-low": ({"by_directions": False, "signal_floor": 0.0, "max_rank_factor": 8, "extend_factor": 2,
                 "from_top": True},
                "as top-shared but groups with signal start at rank 1, not a quarter of the uniform rank (rank "
                "follows shared energy per parameter from the bottom)"),
    "keep": ({**_OLD, "signal_floor": 1.0, "max_rank_factor": 4, "extend_factor": None},
             "as cap4 but groups with signal keep the uniform rank: only modules without signal beyond chance "
             "give up rank (down to 1), and it goes to the modules with the most signal per parameter"),
    # not lorplan's: the allocation the target describes, made knowing the planted modules
    "oracle": ({"oracle": True},
               "not from the adapters: the planted modules (known by construction) at the largest power of two "
               "that uniform rank's budget and their smaller dimension allow, every other module at rank 1, as "
               "the largest-share column; what giving most of the rank to the planted modules does to the loss"),
    "oracle-most": ({"oracle": "most"},
                    "as oracle, but every other module at the largest rank that keeps the planted modules' share of "
                    "the parameters above half, within the budget: the target's constraint with the rest of the "
                    "budget spent evenly"),
}


def signals_for(case: str, rank: int, adapters: list[str]) -> list | None:
    """pattern.module_signals on the case's seed-0 and seed-1 adapters at `rank`, cached beside them (JSON);
    None when the adapters are not on this machine."""
    from lorplan.recommend.allocate import signals_from_json, signals_to_json

    if len(adapters) < 2 or not all(Path(p).is_dir() for p in adapters):
        return None
    cache = Path(adapters[0]).parent / f"signals-r{rank}.json"
    if cache.is_file():
        return signals_from_json(json.loads(cache.read_text()))
    import torch

    from lorplan.recommend.pattern import load_adapter, module_signals

    torch.set_num_threads(1)  # on a shared CPU, more threads made the SVDs 100× slower here
    signals = module_signals([load_adapter(p) for p in adapters])
    cache.write_text(json.dumps(signals_to_json(signals, rank, adapters)))
    return signals


def pattern_for(signals: list, rank: int, variant: str, probe_rank: int | None = None) -> dict[str, int]:
    """The variant's pattern at uniform `rank`'s budget from signals measured at `probe_rank` (default `rank`)."""
    from lorplan.recommend.allocate import pattern_from_signals

    settings = {k: v for k, v in VARIANTS[variant][0].items() if k != "from_top"}
    return dict(pattern_from_signals(signals, probe_rank or rank, budget_rank=rank, runs=2, **settings).pattern)


def first_pass_top(base: dict, runs: list[dict]) -> int:
    """The largest rank of the replayed ladder's first pass (coarse_ladder around the prior, as replay does)."""
    import planted_rank as pr

    from lorplan.recommend.capacity import capacity_prior
    from lorplan.recommend.ladder import coarse_ladder

    data, adapter = pr.sizes(base, runs)
    return max(coarse_ladder(capacity_prior(data, adapter).rank, low=1, high=max(r["rank"] for r in runs)))


def ladder_rank(base: dict, runs: list[dict]) -> int:
    """The rank of lorplan's ladder replayed with seed 0 (the report's "prior+ladder" first figure)."""
    import planted_rank as pr

    from lorplan.recommend.capacity import capacity_prior

    data, adapter = pr.sizes(base, runs)
    return pr.replay(base, runs, capacity_prior(data, adapter).rank, data, adapter, seeds=(0,))["rank"]


def run_patterns(cases: list, variants: list[str], until: float | None, path: Path) -> int:
    """Train what is missing (case × variant × seed 0, 1); returns the number of runs done."""
    import planted_rank as pr
    import planted_rank_tasks as tasks
    import torch

    torch.set_num_threads(1)
    n = 0
    for case in cases:
        rows = pr.read_rows(path)
        if (swept := pr.complete_sweep(rows, case)) is None:
            print(f"{case.name}: no complete sweep, skipped", flush=True)
            continue
        base, runs = swept
        done = {pr.run_key(r) for r in rows}
        rank, mid = ladder_rank(base, runs), pr.LRS[case.model][1]
        left = [(v, s) for v in variants for s in pr.SEEDS
                if (case.name, f"pattern:{v}", rank, mid, s) not in done]
        if not left:
            continue
        measured = {}
        for probe in {first_pass_top(base, runs) if VARIANTS[v][0].get("from_top") else rank for v, _ in left
                      if not VARIANTS[v][0].get("oracle")}:
            adapters = [r["adapter"] for r in runs if r["rank"] == probe and r.get("adapter")]
            measured[probe] = signals_for(case.name, probe, adapters)
        if any(v is None for v in measured.values()):
            print(f"{case.name}: adapters at r{sorted(measured)} missing, skipped", flush=True)
            continue
        data = tasks.build(case)
        for variant, seed in left:
            if until is not None and time.time() >= until:
                return n
            probe = first_pass_top(base, runs) if VARIANTS[variant][0].get("from_top") else rank
            if VARIANTS[variant][0].get("oracle"):
                pat = oracle_pattern(base["modules"], base["planted"], rank,
                                     most=VARIANTS[variant][0]["oracle"] == "most")
            else:
                pat = pattern_for(measured[probe], rank, variant, probe)
            t0 = time.perf_counter()
            out = tasks.train(case, data, rank, mid, seed, rank_pattern=pat)
            share = pr.share_planted(base["modules"], base["planted"], pat, rank)
            pr.append_row(path, {"case": case.name, "kind": "pattern", "variant": variant, "rank": rank, "lr": mid,
                                 "seed": seed, "pattern": pat, "share": share, "probe_rank": probe,
                                 "wall_seconds": round(time.perf_counter() - t0, 3), **out})
            n += 1
            print(f"{case.name} {variant} r{rank} s{seed}: {out['eval_loss']:.5g} share {share:.0%} "
                  f"({out['trainable_params']:,} params, {out['train_seconds']:.1f} s)", flush=True)
    return n


def _oracle_rank(modules: dict, planted: list[str], rank: int) -> tuple[int, int, int]:
    """(r, the planted modules' cost per rank, the others'): r is the largest power of two that uniform `rank`'s
    budget allows the planted modules with every other module at rank 1, within their smaller dimension."""
    cost = {n: sum(d) for n, d in modules.items()}
    mine = sum(c for n, c in cost.items() if n in set(planted))
    rest = sum(cost.values()) - mine
    budget, limit = rank * sum(cost.values()), min(min(modules[n]) for n in planted)
    r = 1
    while r * 2 <= limit and r * 2 * mine + rest <= budget:
        r *= 2
    return r, mine, rest


def max_share(modules: dict, planted: list[str], rank: int) -> float:
    """The largest share of the LoRA parameters a pattern at uniform `rank`'s budget can give the planted
    modules: every other module at rank 1, the planted ones at the largest power of two that the budget and
    their smaller dimension allow."""
    r, mine, rest = _oracle_rank(modules, planted, rank)
    return r * mine / (r * mine + rest)


def oracle_pattern(modules: dict, planted: list[str], rank: int, most: bool = False) -> dict[str, int]:
    """The pattern behind max_share: the planted modules at its rank, every other module at rank 1 (full module
    names as peft's rank_pattern keys, which match a key at the end of a module's name). most: every other
    module at the largest rank that keeps the planted modules' share above half and the total within uniform
    `rank`'s budget."""
    import re

    r, mine, rest = _oracle_rank(modules, planted, rank)
    other = 1
    if most:
        budget = rank * (mine + rest)
        while (other + 1) * rest < r * mine and r * mine + (other + 1) * rest <= budget:
            other += 1
    return {re.escape(n): r if n in set(planted) else other for n in modules}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def compare(rows: list[dict], summaries: list[dict]) -> list[dict]:
    """Per case with pattern rows: the ladder's rank, uniform's mean eval loss and parameters there (the sweep's
    seeds 0 and 1, middle rate), and per variant its mean eval loss, share to the planted modules, parameters."""
    import planted_rank as pr

    out = []
    for s in summaries:
        case = s["case"]
        base = next(r for r in rows if r["case"] == case and r.get("kind") == "base")
        # at the rank the ladder recommends now (seed 0's replay): rows trained at a rank an earlier ladder
        # recommended stay in the file but are not this case's comparison
        rank = s["ladder"][0]
        pats = [r for r in rows if r["case"] == case and r.get("kind") == "pattern" and r["rank"] == rank]
        if not pats:
            continue
        mid = pats[0]["lr"]
        uni = [r for r in rows if r["case"] == case and r.get("kind", "run") == "run" and r["rank"] == rank
               and math.isclose(r["lr"], mid) and r["seed"] in pr.SEEDS]
        item = {"case": case, "rank": rank, "base_loss": s["base_loss"],
                "uniform": _mean([r["eval_loss"] for r in uni]), "uniform_params": uni[0]["trainable_params"],
                "uniform_share": s["uniform_share"], "variants": {},
                "max_share": max_share(base["modules"], base["planted"], rank)}
        item["checked"] = checked(rows, case, s, rank, mid)
        for v in VARIANTS:
            mine = [r for r in pats if r["variant"] == v]
            if len(mine) == len(pr.SEEDS):
                item["variants"][v] = {"loss": _mean([r["eval_loss"] for r in mine]), "share": mine[0]["share"],
                                       "params": mine[0]["trainable_params"], "empty": not mine[0]["pattern"],
                                       "order": pr.planted_order(base["modules"], base["planted"],
                                                                 mine[0]["pattern"], rank)[0]}
        out.append(item)
    return out


CHECKED_VARIANT = "top-shared"  # lorplan's default pattern, the one its ladder checks


def _cut(row: dict, steps: int) -> float:
    return float([v for t, v in row["curve"] if t <= steps][-1])


def checked(rows: list[dict], case: str, summary: dict, rank: int, mid: float) -> dict | None:
    """lorplan's pattern check (recommend.measured.pattern_check) replayed for the default variant per seed:
    its pattern run and the sweep's one-rank run at the ladder's rank and the middle rate, both cut at half the
    steps (the probes' length), the one-seed spread of the seed-0 ladder's probed ranks at its rate and its
    second pattern probe (measured.one_seed_spread). The outcome per seed is the full-length loss of what the check keeps. None without the
    runs."""
    import planted_rank as pr

    from lorplan.recommend.measured import one_seed_spread, pattern_check
    from lorplan.recommend.types import LadderRow

    runs = {(r["rank"], r["seed"]): r for r in rows if r["case"] == case and r.get("kind", "run") == "run"
            and math.isclose(r["lr"], summary["ladder_lr"][0], rel_tol=1e-6)}
    uni = {r["seed"]: r for r in rows if r["case"] == case and r.get("kind", "run") == "run" and r["rank"] == rank
           and math.isclose(r["lr"], mid, rel_tol=1e-6)}
    pats = {r["seed"]: r for r in rows if r["case"] == case and r.get("kind") == "pattern" and r["rank"] == rank
            and r["variant"] == CHECKED_VARIANT}
    if not all(s in uni and s in pats for s in pr.SEEDS):
        return None
    half = uni[pr.SEEDS[0]]["curve"][-1][0] // 2
    ladder = [LadderRow(rank=rk, learning_rate=summary["ladder_lr"][0], eval_loss=_cut(runs[(rk, 0)], half), seed=0)
              for rk in summary["ladder_probed"] if (rk, 0) in runs]
    # the ladder's second pattern probe (the first pass's top rank with seed 1 at the ladder's rate,
    # decide._pattern_second) and its second-seed pass (seed 1 at the ranks from its band's low end up,
    # decide._second_seed), which give the rank errors a measured seed spread
    base = next(r for r in rows if r["case"] == case and r.get("kind") == "base")
    top = first_pass_top(base, [r for r in rows if r["case"] == case and r.get("kind", "run") == "run"])
    for rk in sorted({top, *summary.get("ladder_second", ())}):
        if (rk, 1) in runs:
            ladder.append(LadderRow(rank=rk, learning_rate=summary["ladder_lr"][0],
                                    eval_loss=_cut(runs[(rk, 1)], half), seed=1))
    error = one_seed_spread(ladder, summary["ladder_lr"][0])
    kept, losses, helped, missed = 0, [], 0, 0
    for seed in pr.SEEDS:
        if not pats[seed]["pattern"]:  # an empty pattern is one rank: nothing to check
            losses.append(uni[seed]["eval_loss"])
            continue
        v = pattern_check(_cut(pats[seed], half), _cut(uni[seed], half), error, rank)
        kept += v.keep
        better = pats[seed]["eval_loss"] < uni[seed]["eval_loss"]  # at full length
        helped += v.keep and better
        missed += (not v.keep) and better
        losses.append(pats[seed]["eval_loss"] if v.keep else uni[seed]["eval_loss"])
    return {"kept": kept, "loss": _mean(losses), "empty": not pats[pr.SEEDS[0]]["pattern"], "helped": helped,
            "missed": missed}


def _differing(items: list[dict], variant: str) -> list[dict]:
    """The cases where `variant` and lorplan's default pattern were both trained and differ: equal losses (to
    1e-4) and cases where both patterns are the one rank are ties, left out."""
    def differ(it: dict) -> bool:
        mine, default = it["variants"][variant], it["variants"][CHECKED_VARIANT]
        return not (mine.get("empty") and default.get("empty")) and not math.isclose(mine["loss"], default["loss"],
                                                                                     rel_tol=1e-4)

    return [it for it in items if variant in it["variants"] and CHECKED_VARIANT in it["variants"] and differ(it)]


def _against_default(items: list[dict], variant: str) -> str:
    """"; against lorplan's pattern: lower loss in a/b cases, ..." for a variant other than the default, over
    the cases where the two differ (_differing)."""
    if variant == CHECKED_VARIANT:
        return ""
    both = _differing(items, variant)
    if not both:
        return ""
    lower = sum(it["variants"][variant]["loss"] < it["variants"][CHECKED_VARIANT]["loss"] for it in both)
    change = [it["variants"][variant]["loss"] / it["variants"][CHECKED_VARIANT]["loss"] - 1 for it in both]
    return (f"; against lorplan's pattern ({CHECKED_VARIANT}) where they differ: lower loss in {lower}/{len(both)} "
            f"cases, loss change {statistics.mean(change):+.1%} on average (median {statistics.median(change):+.1%})")


def oracle_words(items: list[dict]) -> str:
    """What the allocations that meet the share target did when trained (the oracle variants against lorplan's
    default pattern, where the two differ), as a clause for the target line; "" before they are trained."""
    parts = []
    for v in ("oracle", "oracle-most"):
        both = _differing(items, v)
        if both:
            worse = sum(it["variants"][v]["loss"] > it["variants"][CHECKED_VARIANT]["loss"] for it in both)
            parts.append(f"{v} {worse}/{len(both)}")
    if not parts:
        return ""
    return ("; the allocations that meet it, made knowing the planted modules and trained at the same budget (the "
            "oracle rows below), reach a higher eval loss than lorplan's pattern in " + " and ".join(parts)
            + " of the cases where the two differ: part of the signal the two seeds' adapters share lies outside "
            "the planted modules (the lines above), and taking rank from those modules costs loss")


def render(items: list[dict]) -> list[str]:
    """The trained-pattern table and one summary line per variant."""
    if not items:
        return ["", "pattern trained: not run"]
    names = [v for v in VARIANTS if any(v in it["variants"] for it in items)]
    lines = ["", "Trained with the pattern (ladder's rank, middle rate, mean of seeds 0 and 1; loss change vs uniform "
             "at the same rank; share: of the LoRA parameters in the planted modules; largest share: what a "
             "pattern at this budget can give them at most, every other module at rank 1):", "",
             "| case | rank | uniform loss (share) | largest share | "
             + " | ".join(f"{v}: loss, vs uniform, share" for v in names) + " |", "|" + "---|" * (4 + len(names))]
    for it in items:
        cells = []
        for v in names:
            x = it["variants"].get(v)
            cells.append("-" if x is None else f"{x['loss']:.4g}, {x['loss'] / it['uniform'] - 1:+.1%}, "
                         f"{x['share']:.0%}{' (empty)' if x['empty'] else ''}")
        lines.append(f"| {it['case']} | {it['rank']} | {it['uniform']:.4g} ({it['uniform_share']:.0%}) | "
                     f"{it['max_share']:.0%} | "
                     + " | ".join(cells) + " |")
    lines.append("")
    for v in names:
        got = [it for it in items if v in it["variants"]]
        diffs = [it["variants"][v]["loss"] / it["uniform"] - 1 for it in got]
        wins = sum(d < 0 for d in diffs)
        most = sum(it["variants"][v]["share"] > 0.5 for it in got)
        over = sum(it["variants"][v]["params"] > it["uniform_params"] for it in got)
        above = sum(it["variants"][v]["order"] == "above" for it in got)
        tied = sum(it["variants"][v]["order"] == "tied" for it in got)
        ratio = statistics.mean(it["variants"][v]["params"] / it["uniform_params"] for it in got)
        lines.append(f"{v} ({VARIANTS[v][1]}): beats uniform in {wins}/{len(got)} cases, mean loss change "
                     f"{sum(diffs) / len(diffs):+.1%} (median {statistics.median(diffs):+.1%}); "
                     f"share to the planted modules > 50% in {most}/{len(got)}; the planted modules' ranks above "
                     f"every other module's in {above}/{len(got)} (equal to the largest other in {tied}); more "
                     f"parameters than uniform in {over}/{len(got)}; parameters {ratio:.0%} of uniform's on average"
                     + _against_default(got, v))
    got = [it for it in items if it.get("checked") is not None and CHECKED_VARIANT in it["variants"]]
    if got:
        diffs = [it["checked"]["loss"] / it["uniform"] - 1 for it in got]
        raw = [it["variants"][CHECKED_VARIANT]["loss"] / it["uniform"] - 1 for it in got]
        checks = [it for it in got if not it["checked"]["empty"]]
        kept = sum(it["checked"]["kept"] for it in checks)
        helped = sum(it["checked"].get("helped", 0) for it in checks)
        missed = sum(it["checked"].get("missed", 0) for it in checks)
        lines.append(f"checked ({CHECKED_VARIANT} as lorplan's ladder checks it: recommend.measured.pattern_check "
                     "replayed per seed on the pattern run and the one-rank run cut at half the steps, the one-seed "
                     "spread from the seed-0 ladder's probes, its second pattern probe and its second-seed pass; the "
                     "outcome is what the check keeps): kept the "
                     f"pattern in {kept}/{2 * len(checks)} case-seeds ({len(got) - len(checks)} empty patterns need "
                     f"no check), of which {helped} helped at full length; of the {2 * len(checks) - kept} it dropped, "
                     f"{missed} would have helped; beats uniform in {sum(d < 0 for d in diffs)}/{len(got)} cases, mean loss change "
                     f"{sum(diffs) / len(diffs):+.1%} (median {statistics.median(diffs):+.1%}; the pattern unchecked "
                     f"{sum(raw) / len(raw):+.1%})")
    return lines
