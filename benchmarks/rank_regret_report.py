"""The printed report of benchmarks/rank_regret.py: per task the knee and every recommender's rank, hit,
regret and compute against the sweep, then the hit rates against issue 11's targets, then a sensitivity check of
the knee's 95% fraction. Pure (no torch)."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rank_regret_probes import MissingProbe, probe_wall, trained_ladder
from rank_regret_replay import (
    ALPHA,
    BUDGET_SHARE,
    RANKS,
    SEEDS,
    base_loss,
    compute_fraction,
    config_loss,
    hit,
    ladder_for,
    ladder_rows,
    loss_at,
    prior,
    regret,
    second_seed_of,
    sweep_knee,
    sweep_steps,
    trained,
)

LADDER = "lorplan prior + ladder (replay)"
NO_RATE_PASS = "ablation: ladder without the rate pass"
NO_SECOND = "ablation: ladder without its second-seed pass"
NO_SECOND_TRAINED = "ablation: the ladder on trained probes without its second-seed pass"
ONE_SEED = "reference: the whole sweep, one seed"
LONG = "reference: the ladder, probes the full planned length"
THREE_QUARTERS = "the ladder, probes 3/4 of the planned length (--probe-steps)"
CUT = "reference: the whole sweep cut at the probe length, three seeds"
SEEDED = "reference: the ladder, three seeds per probe"
PAIRED = "reference: the ladder, two seeds per probe"
TRAINED = "lorplan prior + ladder (trained probes)"
BUDGETED = f"the ladder given a budget of {BUDGET_SHARE:.0%} of the sweep"
CHECKED = "lorplan + pattern, checked by a probe"


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
    band: tuple[int, int] | None = None  # the ladder's band: the ranks its evidence cannot tell apart


def outcomes(rows: Sequence[dict], task, knee, probes: Sequence[dict] = ()) -> list[Outcome]:
    """Every recommender's outcome on `task` against the sweep's knee (`probes`: the trained probes' rows)."""
    out: list[Outcome] = []
    best = knee.best_loss
    total = sweep_steps(task)

    def scored(name, rank, got, compute, note="", band=None):
        if got is None:
            out.append(Outcome(name, rank, hit(rank, knee.rank) if rank else None, None, None, compute,
                               note or "not run", band))
            return
        loss, lr, n = got
        out.append(Outcome(name, rank, hit(rank, knee.rank), loss, regret(loss, best), compute,
                           note or f"lr {lr:g}, {n} seed{'s' if n > 1 else ''}", band))

    def each_seed(name: str, note, banded: bool = False, **kw) -> None:
        """The ladder replayed with each training seed (ladder_for's keywords `kw`, the learning-rate pass
        optional), scored as `name` with "seed N" in place of {seed}; note(replay) -> its note. A seed whose
        runs are missing is left out."""
        for seed in SEEDS:
            try:
                r = ladder_for(rows, task, seed=seed, allow_missing_lr=True, **kw)
            except KeyError:
                continue
            got = config_loss(rows, task.name, "sweep", r.rank, ALPHA)
            scored(name.format(seed=f"seed {seed}"), r.rank, got, compute_fraction(r.steps, total),
                   note(r) if got else "", band=(r.knee_low, r.knee_high) if banded else None)

    p = prior(rows, task)
    scored("lorplan prior", p.rank, config_loss(rows, task.name, "sweep", p.rank, ALPHA), 0.0)
    rep = None
    for seed in SEEDS:
        name = f"lorplan prior + ladder (replay, seed {seed})"
        try:
            r = ladder_for(rows, task, seed=seed)
            replay_note = ""
        except KeyError:
            try:
                r = ladder_for(rows, task, allow_missing_lr=True, seed=seed)
                replay_note = "lr pass not replayed (runs missing); "
            except KeyError as exc:
                r, replay_note = None, f"not replayed: run {exc.args[0]} missing"
        if r is None:
            out.append(Outcome(name, None, None, None, None, None, replay_note))
            continue
        rep = rep or r
        got = config_loss(rows, task.name, "sweep", r.rank, ALPHA)
        scored(name, r.rank, got, compute_fraction(r.steps, total),
               replay_note + (f"lr {got[1]:g}, {got[2]} seeds; ladder's lr {r.learning_rate:g}; band "
                              f"{r.knee_low}-{r.knee_high}" if got else ""), band=(r.knee_low, r.knee_high))
    for seed in SEEDS:
        out.append(trained_outcome(rows, probes, task, knee, seed))
    # the same ladders given a budget of BUDGET_SHARE of the sweep, as `--budget-minutes` gives one: the
    # driver's cuts (recommend.decide._cut) on a clock where a step takes a second (rank_regret_replay.walk_ladder)
    each_seed(f"{BUDGETED} (replay, {{seed}})", lambda r: f"{len(r.probes)} probes; band {r.knee_low}-{r.knee_high}",
              banded=True, budget=BUDGET_SHARE)
    for seed in SEEDS:
        out.append(trained_outcome(rows, probes, task, knee, seed, budget=BUDGET_SHARE))
    for seed in SEEDS:
        out.append(trained_outcome(rows, probes, task, knee, seed, second=False))
    # the ladder as it was before its last pass, which trains the ranks that can still be the knee with a
    # second seed (recommend.decide._second_seed)
    each_seed(f"{NO_SECOND} ({{seed}})", lambda r: f"the first pass and the refinement alone, one seed; band "
              f"{r.knee_low}-{r.knee_high}", banded=True, second=False)
    each_seed(f"{NO_RATE_PASS} ({{seed}})", lambda r: f"ranks compared at {task.lrs[1]:g}, rates tried at the knee "
              "last", rate_first=False)
    complete = complete_seeds(rows, task)
    for seed, n in complete.items():
        k = sweep_knee(rows, task.name, seed=seed).rank
        scored(f"{ONE_SEED} (seed {seed})", k, config_loss(rows, task.name, "sweep", k, ALPHA),
               compute_fraction(n * task.steps, total), "every rank and rate, full length, this seed alone")
    # what limits the ladder: its probes' length (the same decisions on the whole recorded runs), or its one
    # seed (every rank, rate and seed of the sweep, cut where the ladder's probes stop)
    each_seed(f"{LONG} ({{seed}})", lambda r: f"the ladder's decisions on the whole recorded runs ({task.steps} "
              "steps, not half)", probe_steps=task.steps)
    # the longest probes whose ladder stays within the compute target (10% of the sweep): 3/4 of the planned run,
    # what `lorplan recommend --probe-steps` buys (replayed: recorded runs cut there, mid-schedule)
    each_seed(f"{THREE_QUARTERS} ({{seed}})", lambda r: f"recorded runs cut at step {task.steps * 3 // 4}; band "
              f"{r.knee_low}-{r.knee_high}", probe_steps=task.steps * 3 // 4)
    for pair in itertools.combinations(SEEDS, 2):
        try:
            r = ladder_for(rows, task, allow_missing_lr=True, seeds=pair)
        except KeyError:
            continue
        scored(f"{PAIRED} (seeds {pair[0]}, {pair[1]})", r.rank, config_loss(rows, task.name, "sweep", r.rank, ALPHA),
               compute_fraction(r.steps, total), f"every probe with seeds {pair[0]} and {pair[1]} (mean), band "
               f"{r.knee_low}-{r.knee_high}")
    try:
        r = ladder_for(rows, task, allow_missing_lr=True, seeds=SEEDS)
        scored(SEEDED, r.rank, config_loss(rows, task.name, "sweep", r.rank, ALPHA),
               compute_fraction(r.steps, total), f"every probe with seeds {', '.join(map(str, SEEDS))} (mean), "
               f"band {r.knee_low}-{r.knee_high}")
    except KeyError:
        pass
    if len(complete) == len(SEEDS):
        k = sweep_knee(rows, task.name, steps=task.steps // 2).rank
        scored(CUT, k, config_loss(rows, task.name, "sweep", k, ALPHA), 0.5,
               f"every rank, rate and seed, each run cut at step {task.steps // 2} (the ladder's probe length)")
    if rep is not None:
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
        checked = pattern_checked(rows, task, rep)
        if checked is not None:
            loss, kept, words = checked
            scored(CHECKED, rep.rank, (loss, task.lrs[1], len(SEEDS)),
                   compute_fraction(rep.steps + 2 * rep.probe_steps, total), words)
    scored("fixed r=8 α=16", 8, config_loss(rows, task.name, "fixed", 8, 16), None)
    scored("fixed r=16 α=32", 16, config_loss(rows, task.name, "sweep", 16, ALPHA), None,
           "the sweep's own rank 16")
    scored("QLoRA r=64 α=16", 64, config_loss(rows, task.name, "fixed", 64, 16), None)
    return out


def complete_seeds(rows: Sequence[dict], task) -> dict[int, int]:
    """The seeds that completed every rank and rate of the task's sweep, each with its number of sweep runs."""
    return {seed: n for seed in SEEDS
            if (n := sum(r["task"] == task.name and r["kind"] == "sweep" and r["seed"] == seed for r in rows))
            >= len(RANKS) * len(task.lrs)}


def pattern_checked(rows: Sequence[dict], task, rep) -> tuple[float, int, str] | None:
    """lorplan's pattern check (recommend.measured.pattern_check) replayed per training seed: the seed's pattern
    run and its one-rank run at the ladder's rank and the middle rate, both cut at the probe length, with the
    one-seed spread of the seed-0 ladder's probes and its second pattern probe (measured.one_seed_spread, as the
    ladder computes it). The
    outcome per seed is the full-length loss of what the check keeps (the pattern, or one rank). Returns (mean
    loss over seeds, seeds that kept the pattern, words), or None without the runs."""
    from lorplan.recommend.measured import one_seed_spread, pattern_check
    from lorplan.recommend.types import LadderRow

    mid = task.lrs[1]

    def run(kind: str, rank: int, lr: float, seed: int, variant: str = "") -> dict | None:
        return next((r for r in trained(rows) if r["task"] == task.name and r["kind"] == kind and r["rank"] == rank
                     and r["alpha"] == ALPHA and r.get("variant", "") == variant and r["seed"] == seed
                     and math.isclose(r["lr"], lr, rel_tol=0.15)), None)  # 9e-3 is replayed by the recorded 1e-2

    ladder = [LadderRow(rank=rk, learning_rate=lr, eval_loss=loss_at(got, rep.probe_steps), seed=sd)
              for rk, lr, sd, _ in rep.probes if rk >= 1 and math.isclose(lr, rep.learning_rate, rel_tol=1e-6)
              and (got := run("sweep", rk, lr, sd)) is not None]
    # the ladder's second pattern probe: its top rank with the next seed at its rate (decide._pattern_second),
    # which gives the rank errors a measured seed spread
    top = max(rep.first_ranks)
    seeds = {row.seed for row in ladder if row.rank == top}
    second = next((sd for sd in SEEDS if sd not in seeds), None)
    if second is not None and (got := run("sweep", top, rep.learning_rate, second)) is not None:
        ladder.append(LadderRow(rank=top, learning_rate=rep.learning_rate, eval_loss=loss_at(got, rep.probe_steps),
                                seed=second))
    error = one_seed_spread(ladder, rep.learning_rate)
    losses, kept, rel = [], 0, []
    for seed in SEEDS:
        pat, uni = run("pattern", rep.rank, mid, seed, "lorplan"), run("sweep", rep.rank, mid, seed)
        if pat is None or uni is None:
            return None
        verdict = pattern_check(loss_at(pat, rep.probe_steps), loss_at(uni, rep.probe_steps), error, rep.rank)
        kept += verdict.keep
        rel.append(verdict.pattern_loss / verdict.uniform_loss - 1)
        losses.append(loss_at(pat) if verdict.keep else loss_at(uni))
    return (sum(losses) / len(losses), kept,
            f"kept the pattern in {kept}/{len(SEEDS)} seeds (pattern vs one rank at step {rep.probe_steps}: "
            + ", ".join(f"{x:+.1%}" for x in rel) + f"; one-seed spread {error or 0:.2g}); lr {mid:g}")


def trained_outcome(rows: Sequence[dict], probes: Sequence[dict], task, knee, seed: int,
                    second: bool = True, budget: float | None = None) -> Outcome:
    """The ladder with trained probes (rank_regret_probes.trained_ladder) on `task` with one training seed: its
    rank scored at the sweep's best lr like the replay's; "not run" while a probe it asks for is not trained.
    Without its second-seed pass (the ablation row) when not `second`; with a budget of `budget` × the sweep
    when given (the budgeted row)."""
    name = (f"{BUDGETED} (trained probes, seed {seed})" if budget is not None
            else f"{TRAINED.removesuffix(')')}, seed {seed})" if second else f"{NO_SECOND_TRAINED} (seed {seed})")
    try:
        r = trained_ladder(rows, probes, task, seed, second=second, budget=budget)
    except MissingProbe as exc:
        return Outcome(name, None, None, None, None, None, f"not run: probe {exc.args[0]} not trained yet")
    got = config_loss(rows, task.name, "sweep", r.rank, ALPHA)
    note = (f"lr {got[1]:g}, {got[2]} seeds; " if got else "not run at the sweep; ") + (
        f"ladder's lr {r.learning_rate:g}; {len(r.probes)} probes trained, {probe_wall(probes, task, r):.0f} s")
    return Outcome(name, r.rank, hit(r.rank, knee.rank), got[0] if got else None,
                   regret(got[0], knee.best_loss) if got else None, compute_fraction(r.steps, sweep_steps(task)),
                   note)


def second_seed_tally(rows: Sequence[dict], cases: Sequence[tuple]) -> tuple[int, int, int]:
    """(hits with the second-seed pass, hits without it, ladders) of the ladders replayed on `rows`, one per
    (task, training seed, the knee it is scored against) in `cases`."""
    with_ = without = 0
    for task, seed, knee in cases:
        with_ += hit(ladder_for(rows, task, seed=seed, allow_missing_lr=True).rank, knee)
        without += hit(ladder_for(rows, task, seed=seed, allow_missing_lr=True, second=False).rank, knee)
    return with_, without, len(cases)


def held_out_second_seed(rows: Sequence[dict], tasks: Sequence) -> str | None:
    """The second-seed pass scored against a knee that shares no seed with it: each one-seed ladder (replayed)
    with and without the pass, against the knee of the one recorded seed that neither the ladder nor its second
    seed trained (a noisier truth than three seeds, but independent of both, where the three-seed knee shares
    the second seed's noise). None when no task has the runs."""
    cases = []
    for task in tasks:
        for seed in SEEDS:
            held = [s for s in SEEDS if s not in (seed, second_seed_of((seed,)))]
            try:
                cases.append((task, seed, sweep_knee(rows, task.name, seed=held[0]).rank))
            except (ValueError, StopIteration, IndexError):
                continue
    try:
        with_, without, n = second_seed_tally(rows, cases)
    except KeyError:  # a run the ladder needs is not recorded
        return None
    if not n:
        return None
    return (f"- the second-seed pass against a knee independent of it (the one seed neither the ladder nor its second "
            f"seed trained, every rank and rate at full length): {with_}/{n} hits with it, {without}/{n} "
            f"without (replayed)")


def _group(name: str) -> str:
    """The overall table's row for a recommender: the seeded ladder replays count together."""
    for head in (LADDER, TRAINED, f"{BUDGETED} (replay)", f"{BUDGETED} (trained probes)", NO_SECOND_TRAINED,
                 NO_SECOND, NO_RATE_PASS, ONE_SEED, LONG, THREE_QUARTERS, PAIRED):
        if name.startswith(head.removesuffix(")")):
            return head + " [every seed]"
    return name


def _fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def coverage(rows: Sequence[dict], task) -> str:
    sweep = [r for r in rows if r["task"] == task.name and r["kind"] == "sweep"]
    per = defaultdict(set)
    for r in sweep:
        per[r["lr"]].add((r["rank"], r["seed"]))
    parts = [f"lr {lr:g}: {len(v)}/{len(RANKS) * len(SEEDS)}" for lr, v in sorted(per.items())]
    return f"{len(sweep)} sweep runs ({'; '.join(parts)} rank×seed cells)"


def outcome_table(res: Sequence[Outcome]) -> list[str]:
    """One task's outcomes as a markdown table: rank, hit, eval loss, regret, compute and note per recommender."""
    lines = ["| recommender | rank | hit | eval loss | regret | compute | note |", "|---|---|---|---|---|---|---|"]
    for o in res:
        lines.append(f"| {o.name} | {_fmt(o.rank, 'd')} | {'-' if o.hit is None else ('yes' if o.hit else 'no')} "
                     f"| {_fmt(o.loss, '.4f')} | {_fmt(o.regret, '+.4f')} | {_fmt(o.compute, '.1%')} | {o.note} |")
    return lines


def overall_table(per_task: dict[str, Sequence[Outcome]]) -> tuple[list[str], dict[str, tuple]]:
    """The overall markdown table over tasks (each recommender's hit rate, mean regret and mean compute, the
    seeded replays counted together), and per row (hit rate, the compute shares of the runs that trained)."""
    lines = ["| recommender | hit rate | mean regret | mean compute | tasks |", "|---|---|---|---|---|"]
    names = []
    for o in next(iter(per_task.values())):
        group = _group(o.name)
        if group not in names:
            names.append(group)
    summary = {}
    for name in names:
        got = [o for res in per_task.values() for o in res if _group(o.name) == name]
        hits = [o.hit for o in got if o.hit is not None]  # a property of the rank, trained or not
        regs = [o.regret for o in got if o.regret is not None]
        comp = [o.compute for o in got if o.compute is not None and o.loss is not None]
        rate = sum(hits) / len(hits) if hits else None
        summary[name] = (rate, comp)
        lines.append(f"| {name} | {_fmt(rate, '.0%')} ({sum(hits)}/{len(hits)}) | "
                     f"{_fmt(sum(regs) / len(regs) if regs else None, '+.4f')} | "
                     f"{_fmt(sum(comp) / len(comp) if comp else None, '.1%')} | {len(got)} |")
    return lines, summary


FRACTIONS = (0.90, 0.93, 0.95, 0.97)  # the knee's fraction in the sensitivity check; issue 11's knee is 0.95's
SCORED = ((LADDER + " [every seed]", "ladder, replayed"), (TRAINED + " [every seed]", "ladder, trained probes"),
          ("lorplan prior", "prior"), ("fixed r=16 α=32", "r=16 α=32"))


def knee_at(rows: Sequence[dict], task: str, fraction: float, seed: int | None = None):
    """rank_regret_replay.sweep_knee with the definition's fraction set to `fraction` (0.95 gives the knee
    itself): find_knee on the task's sweep (best lr per rank, mean over seeds; only `seed`'s runs when given)."""
    from lorplan.recommend.knee import find_knee

    sweep = [r for r in rows if r["task"] == task and r["kind"] == "sweep" and seed in (None, r["seed"])]
    base, se = base_loss(rows, task)
    return find_knee(ladder_rows(sweep), base, base_stderr=se, fraction=fraction)


def _share(v: float | None) -> str:
    """A share of the best improvement in percent, rounded down to 0.1% (94.96% reads 94.9%, short of 95%)."""
    return "-" if v is None else f"{math.floor(v * 1000 + 1e-9) / 10:.1f}%"


def knee_sensitivity(rows: Sequence[dict], tasks: Sequence, per_task: dict[str, Sequence[Outcome]]) -> list[str]:
    """The report's sensitivity section: for each fraction in FRACTIONS each task's knee and the hit rates of the
    ladder (replayed and trained), the prior, r=16 α=32 and one seed of the whole sweep against it; each rank's
    share of the best improvement; and the knee each seed's sweep alone gives. The recommenders' ranks are
    `per_task`'s (report's outcomes, scored there against the 95% knee)."""
    from lorplan.recommend.knee import KNEE_FRACTION

    tasks = [t for t in tasks if t.name in per_task]
    knees = {(t.name, f): knee_at(rows, t.name, f).rank for t in tasks for f in FRACTIONS}
    seeds = {t.name: sorted(complete_seeds(rows, t)) for t in tasks}
    seed_knees = {(t.name, f): [knee_at(rows, t.name, f, seed=s).rank for s in seeds[t.name]]
                  for t in tasks for f in FRACTIONS}

    def verdicts(f: float) -> list[tuple[str, bool]]:
        """(group, hit) of every scored rank against the knee at fraction f (one seed: its own knee at f)."""
        out = [(group, hit(o.rank, knees[t.name, f])) for group, _ in SCORED for t in tasks
               for o in per_task[t.name] if _group(o.name) == group and o.rank is not None]
        return out + [(ONE_SEED, hit(k, knees[t.name, f])) for t in tasks for k in seed_knees[t.name, f]]

    def rate(got: list[tuple[str, bool]], group: str) -> str:
        hits = [h for g, h in got if g == group]
        return f"{sum(hits) / len(hits):.0%} ({sum(hits)}/{len(hits)})" if hits else "-"

    names = [t.name for t in tasks]
    lines = ["## Knee sensitivity: the fraction in the knee's definition", "",
             "The acceptance's knee is the 95% one (issue 11; every table above); the other fractions are a "
             "sensitivity check, not a change of target. The recommenders' ranks are those above (the ladder "
             "still looks for its 95% knee); only the knee they are scored against moves. One seed of the whole "
             "sweep: each seed's knee at the row's fraction against the three-seed knee at that fraction (the "
             "ground truth's own seed spread). Changed: the ranks of the ladders, the prior and r=16 whose hit or "
             "miss differs from the one at the 95% knee, won/lost.", "",
             "| fraction | " + " | ".join(f"knee {n}" for n in names) + " | "
             + " | ".join(label for _, label in SCORED) + " | one seed of the sweep | changed |",
             "|---" * (len(names) + len(SCORED) + 3) + "|"]
    at95 = verdicts(KNEE_FRACTION)
    for f in FRACTIONS:
        got = verdicts(f)
        pairs = [(h, h95) for (g, h), (_, h95) in zip(got, at95, strict=True) if g != ONE_SEED]
        won, lost = sum(h and not h95 for h, h95 in pairs), sum(h95 and not h for h, h95 in pairs)
        label = f"**{f:.2f} (the knee)**" if f == KNEE_FRACTION else f"{f:.2f}"
        lines.append(f"| {label} | " + " | ".join(str(knees[n, f]) for n in names) + " | "
                     + " | ".join(rate(got, group) for group, _ in SCORED) + f" | {rate(got, ONE_SEED)} | "
                     + ("-" if f == KNEE_FRACTION else f"+{won}/−{lost}") + " |")
    lines += ["", "Share of the best improvement each rank reaches (best lr per rank, mean over seeds; rounded down, so "
              "a rank short of a fraction never reads as reaching it; the 95% knee in bold):", "", "| task | " + " | ".join(f"r{r}" for r in RANKS) + " |", "|---" * (len(RANKS) + 1) + "|"]
    for t in tasks:
        knee = knee_at(rows, t.name, KNEE_FRACTION)
        cells = [_share(knee.share(r)) for r in RANKS]
        lines.append(f"| {t.name} | " + " | ".join(f"**{c}**" if r == knee.rank else c
                                                   for r, c in zip(RANKS, cells, strict=True)) + " |")
    lines += ["", "The knee each seed's sweep alone gives (every rank and rate at full length; seeds "
              "in order, then the three-seed knee):", "",
              "| task | " + " | ".join(f"{f:.2f}" for f in FRACTIONS) + " |", "|---" * (len(FRACTIONS) + 1) + "|"]
    for t in tasks:
        lines.append(f"| {t.name} | " + " | ".join(
            f"{', '.join(map(str, seed_knees[t.name, f])) or '-'} (all: {knees[t.name, f]})" for f in FRACTIONS)
            + " |")
    return lines


def report(rows: Sequence[dict], tasks: Sequence, probes: Sequence[dict] = ()) -> str:
    """The printed report: per task the knee and every recommender's rank, hit, regret and compute, then the
    overall hit rates against the issue's targets, then how they move with the knee's fraction (knee_sensitivity).
    `probes`: the trained probes' rows (benchmarks/results/rank_regret_probes.jsonl), for the trained-probe ladder
    rows."""
    lines = ["# Rank regret: lorplan's rank recommendations against measured sweeps", "",
             "Knee: the smallest rank whose improvement over the base model's eval loss is at least 95% of the best "
             "rank's improvement (best learning rate per rank, mean over seeds; lorplan.recommend.knee.find_knee). "
             "Hit: rank in [knee, 2×knee] (a property of the rank: the pattern and EVA rows share the ladder's "
             "rank, and a fixed default hits or misses whether or not its loss was measured). "
             "Regret: eval loss − the best rank's (each at its best learning rate, "
             "mean over seeds). Compute: optimizer steps the recommender trained / the full sweep's steps.",
             "The ladder rows are REPLAYS on the recorded sweep runs (lorplan's decide/measured/knee code fed the "
             "recorded eval curves cut at the probe length, half the planned steps), not fresh trainings, one per "
             "training seed (a probe trains one seed); the learning-rate pass tries 1e-3, 3e-3 and 9e-3 at the "
             "reference rank before the ranks (9e-3 is replayed by the recorded 1e-2). The ablation rows replay the "
             "same code with the rate pass off (ranks compared at 3e-3, the other rates tried at the knee last: "
             "the ladder before this change, but with the knee on measured losses). The reference rows are no "
             "recommender: the knee of every rank and rate trained to full length with one seed, what one seed "
             "of evidence can say at a third of the sweep's compute; the ladder's decisions on the whole recorded runs "
             "(probes as long as the planned training, not half); the knee of the whole sweep (three seeds) "
             "with every run cut at the probe length; the ladder with three seeds per probe (replayed, each "
             "rank's loss the mean over seeds), and with each pair of them. The rows with several seeds use the "
             "sweep's own seeds, the ones the knee is measured with, so they share its noise and their hit rate "
             "is optimistic (benchmarks/knee_length.py scores probes against independent seeds). Successive "
             "halving never fires here: its rungs (recommend.decide.rungs) need 4 eval points before half a probe, and a 16-20 step "
             "probe evaluated every 4-5 steps has none, so every probe runs its full (half-plan) length. "
             "The trained-probe ladder rows run the same decisions on probes TRAINED for the probe length "
             "(benchmarks/rank_regret_probes.py, `rank_regret.py probes`): each with its learning-rate schedule "
             "over its own length, at exactly the rate the ladder asked for (9e-3 stays 9e-3), as lorplan's "
             "probe worker trains one; their rank is scored against the sweep like the replay's. The budgeted "
             f"ladder rows give the same ladders a budget of {BUDGET_SHARE:.0%} of the sweep's steps, as "
             "`lorplan recommend --budget-minutes` gives one: the driver's own cuts (recommend.decide._cut: a pass "
             "keeps the ranks nearest its centre that what is left affords, timed by the probes that finished) on "
             "a clock where one optimizer step takes one second, so a probe costs its steps.",
             "Setup: every run goes through lorplan's engine (build_engine/run_steps/evaluate) on one CPU thread, "
             "alpha 32 at every rank (lorplan's policy), linear decay after 5% warmup, eval on a fixed held-out "
             "split. Learning rates 1e-3, 3e-3, 1e-2; the ladder's rate pass is centred on the middle one, 3e-3 "
             "(runs are 32-40 steps, too short for the policy's 1e-3 to converge). The pattern rows train the ladder's rank with "
             "a rank_pattern at the middle rate (lorplan's from the sweep's seed-0/1 adapters at the first pass's "
             "largest rank; EVA's from peft's get_eva_state_dict), alpha 32, standard LoRA init (not EVA's "
             "SVD init). EVA needs forward passes only, so it has no step count. The checked pattern row replays "
             "the ladder's pattern check (recommend.measured.pattern_check) per training seed: that seed's pattern "
             "run against its one-rank run, both cut at the probe length, with one seed's spread from the seed-0 "
             "ladder's probes and its second pattern probe; its loss is what the check keeps (the pattern, or one "
             "rank), its compute one probe more than the pattern row's. Fixed defaults with α≠32 are "
             "trained here; r=16 α=32 is the sweep's own rank 16.", ""]
    per_task: dict[str, list[Outcome]] = {}
    knees: dict[str, int] = {}
    stable: dict[str, bool] = {}
    stable_from: dict[str, int] = {}
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
            # the smallest rank from which every larger rank has the same best rate
            ranks_up = sorted(best_lrs)
            stable_from[task.name] = next(r for r in ranks_up
                                          if len({best_lrs[x] for x in ranks_up if x >= r}) == 1)
            lines += [f"Best learning rate by rank at α=32 (policy: it should not move with rank): "
                      f"{', '.join(f'r{r} {lr:g}' for r, lr in best_lrs.items())} -> "
                      f"{'the same at every rank' if same else 'it moves'}.", ""]
        wall = sum(r.get("wall_s", 0.0) for r in rows if r["task"] == task.name)
        lines += [f"Wall time of this task's runs: {wall / 60:.1f} min (one CPU thread on a shared machine).", ""]
        res = outcomes(rows, task, knee, probes)
        per_task[task.name] = res
        knees[task.name] = knee.rank
        lines += outcome_table(res) + [""]
    if per_task:
        table, summary = overall_table(per_task)
        lines += ["## Overall", ""] + table + ["", "Targets (issue 11):"]
        lad = summary.get(LADDER + " [every seed]", (None, []))
        fixed = [summary[n][0] for n in ("fixed r=8 α=16", "fixed r=16 α=32", "QLoRA r=64 α=16")
                 if n in summary and summary[n][0] is not None]
        pr = summary.get("lorplan prior", (None, []))[0]
        r16 = summary.get("fixed r=16 α=32", (None, []))[0]

        def met(ok) -> str:
            return "not measured" if ok is None else ("MET" if ok else "NOT MET")

        lines.append(f"- ladder hit rate ≥ 80% and above every fixed default (each task's replay with each training "
                     f"seed counts once): "
                     f"{met(None if lad[0] is None else lad[0] >= 0.8 and all(lad[0] > f for f in fixed))} "
                     f"({_fmt(lad[0], '.0%')} vs fixed {', '.join(_fmt(f, '.0%') for f in fixed)})")
        banded = [(o.band, knees[t]) for t, res_ in per_task.items() for o in res_
                  if _group(o.name) == LADDER + " [every seed]" and o.band is not None]
        held = sum(lo <= k <= hi for (lo, hi), k in banded)
        lines.append(f"- the ladder's band (the ranks its evidence cannot tell apart; noise from the second-seed "
                     f"pass's spread, or with no second seed estimated from how far its losses rise with rank) "
                     f"holds the sweep's knee in {held}/{len(banded)}")
        lines.append(f"- ladder compute ≤ 10% of the sweep: "
                     f"{met(None if not lad[1] else max(lad[1]) <= 0.10)} "
                     f"(largest {_fmt(max(lad[1]) if lad[1] else None, '.1%')}, mean "
                     f"{_fmt(sum(lad[1]) / len(lad[1]) if lad[1] else None, '.1%')})")
        independent = held_out_second_seed(rows, tasks)
        if independent:
            lines.append(independent)
        trained = summary.get(TRAINED + " [every seed]")
        if trained is not None:
            runs = [o for res in per_task.values() for o in res if _group(o.name) == TRAINED + " [every seed]"]
            hits = [o.hit for o in runs if o.hit is not None]
            replayed = [o.hit for res in per_task.values() for o in res
                        if _group(o.name) == LADDER + " [every seed]" and o.hit is not None]
            above = bool(hits) and all(sum(hits) / len(hits) > f for f in fixed)
            lines.append(f"- prior + ladder, trained probes: {sum(hits)}/{len(hits)} hits "
                         f"({len(runs) - len(hits)} of {len(runs)} ladders not run yet); the replay: "
                         f"{sum(replayed)}/{len(replayed)}; the trained ladder's hit rate ≥ 80% and above every "
                         f"fixed default: {met(None if not hits else sum(hits) / len(hits) >= 0.8 and above)}")
        for kind in ("replay", "trained probes"):
            runs = [o for res in per_task.values() for o in res
                    if o.name.startswith(f"{BUDGETED} ({kind},") and o.hit is not None]
            if not runs:
                continue
            rate, cost = sum(o.hit for o in runs) / len(runs), max(o.compute for o in runs)
            lines.append(f"- {BUDGETED} ({kind}; `--budget-minutes`, the driver cutting passes to what is left): "
                         f"{sum(o.hit for o in runs)}/{len(runs)} hits at {cost:.1%} of the sweep at most; hit rate "
                         f"≥ 80% and above every fixed default with compute ≤ 10%: "
                         f"{met(rate >= 0.8 and all(rate > f for f in fixed) and cost <= 0.10)}")
        lines.append(f"- prior alone above r=16's hit rate: {met(None if pr is None or r16 is None else pr > r16)} "
                     f"({_fmt(pr, '.0%')} vs {_fmt(r16, '.0%')})")
        refs = {name: summary.get(name, (None, []))[0] for name in (ONE_SEED + " [every seed]", LONG + " [every seed]",
                                                                    CUT, SEEDED)}
        if all(v is not None for v in refs.values()):
            long_cost = max(summary[LONG + " [every seed]"][1], default=None)
            lines.append(f"- what limits the ladder on these tasks (the hit rate of each reference): one "
                         f"seed of every rank and rate at full length {refs[ONE_SEED + ' [every seed]']:.0%} (at "
                         f"{_fmt(max(summary[ONE_SEED + ' [every seed]'][1], default=None), '.0%')} of the sweep), "
                         f"the ladder's own decisions on full-length runs {refs[LONG + ' [every seed]']:.0%} (at "
                         f"{_fmt(long_cost, '.0%')}), three seeds of every rank and rate cut at the probe length "
                         f"{refs[CUT]:.0%} (at 50%), the ladder with three seeds per probe {refs[SEEDED]:.0%} (at "
                         f"{_fmt(max(summary[SEEDED][1], default=None), '.0%')}; both with the knee's own seeds)")
        if stable:
            lines.append(f"- the best learning rate stays put across ranks at α=32: {sum(stable.values())} of "
                         f"{len(stable)} tasks ({', '.join(k for k, v in stable.items() if not v) or 'none'} moved)")
            lines.append(f"  from rank 4 up it stays put on {sum(v <= 4 for v in stable_from.values())} of "
                         f"{len(stable_from)} tasks (the same rate from rank "
                         f"{', '.join(f'{k} {v}' for k, v in stable_from.items())} up)")
        wall = sum(r.get("wall_s", 0.0) for r in rows)
        lines.append(f"\nAll runs in the results file: {len(rows)}, {wall / 60:.0f} min of one CPU thread.")
        if probes:
            pw = sum(r.get("wall_s", 0.0) for r in probes)
            lines.append(f"Trained probes (benchmarks/results/rank_regret_probes.jsonl): {len(probes)}, "
                         f"{pw / 60:.0f} min of one CPU thread (model loads included).")
        lines += [""] + knee_sensitivity(rows, tasks, per_task)
    return "\n".join(lines)
