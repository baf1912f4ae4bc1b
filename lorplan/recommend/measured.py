"""From a ladder's probes to a Recommendation: ladder rows, the base's loss, extrapolated curves. Pure Python.

The base is what every rank is compared with: for a causal LM the base model's eval loss before training, for
classification the head trained alone with the same protocol (rank-0 probes). The knee compares the losses
the probes measured at their common length (LadderRow.knee_loss says why); when the planned training is
longer, each curve is also extrapolated there (recommend.curves) and shown beside the measured loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from lorplan.core.units import counted
from lorplan.recommend.capacity import AdapterSize, capacity_prior
from lorplan.recommend.combine import END_WORDS, UNFINISHED, combine, unfinished_words
from lorplan.recommend.curves import MIN_POINTS, extrapolate
from lorplan.recommend.datasize import DataSize
from lorplan.recommend.knee import Knee, find_knee
from lorplan.recommend.ladder_spec import LadderSpec, LadderState, Pass, trained_seeds
from lorplan.recommend.observe import ProbeObs, rank_probes
from lorplan.recommend.types import Evidence, Fit, LadderRow, Recommendation


@dataclass(frozen=True)
class Base:
    """The base's loss (mean over its probes) and standard error (None with one probe), and in words."""

    loss: float
    stderr: float | None
    probes: int
    accuracy: float | None
    explanation: str

    def to_json(self) -> dict:
        return {"loss": self.loss, "stderr": self.stderr, "probes": self.probes, "accuracy": self.accuracy,
                "explanation": self.explanation}


def _trained_points(curve) -> list[tuple[float, float]]:
    return [(float(t), float(v)) for t, v in curve if t > 0]


TAIL_POINTS = 3


def _tail_bound(points: list[tuple[float, float]], at: float) -> float:
    """The lowest loss the curve's own end allows at step `at`: its last loss continued at the slope of its last
    TAIL_POINTS evals in log t (least squares), when that slope falls. Loss curves decelerate in log t (both
    fitted forms do, and a probe's learning rate decays to 0 at its end), so a fit that predicts a steeper fall
    than the curve shows at its end is over-reaching, not measuring."""
    tail = points[-TAIL_POINTS:]
    xs = [math.log(t) for t, _ in tail]
    ys = [v for _, v in tail]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx > 0 else 0.0
    return ys[-1] + min(0.0, slope) * math.log(at / tail[-1][0])


def predicted(o: ProbeObs, planned_steps: int):
    """The extrapolation of a probe's curve to planned_steps (recommend.curves.extrapolate, held to the curve's
    end slope: _tail_bound), or None when it reached that length (nothing to predict) or has fewer than
    curves.MIN_POINTS evals after training began (nothing to fit)."""
    points = _trained_points(o.curve)
    if len(points) < MIN_POINTS or points[-1][0] >= planned_steps:
        return None
    ex = extrapolate(points, planned_steps)
    floor = _tail_bound(points, planned_steps)
    if ex.loss >= floor:
        return ex
    return replace(ex, loss=floor, error=max(ex.error, floor - ex.loss),
                   explanation=ex.explanation + f"; held to {floor:.4g}, the curve's end slope continued")


def _mean_se(values: list[float]) -> tuple[float, float | None]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def base_measure(obs: Sequence[ProbeObs], spec: LadderSpec) -> Base | None:
    """The base from the rank-0 probes that measured a loss (all must have ended: a running head-only probe
    is not the base yet), or None."""
    base = [o for o in obs if o.rank == 0]
    if not base or any(not o.ended for o in base):
        return None
    losses, accs = [], []
    for o in base:
        if o.eval_loss is None:
            continue
        losses.append(o.eval_loss)  # measured, like the ranks it is compared with (LadderRow.knee_loss)
        if o.eval_accuracy is not None:
            accs.append(o.eval_accuracy)
    if not losses:
        return None
    mean, se = _mean_se(losses)
    acc = sum(accs) / len(accs) if accs else None
    rates = sorted({o.lr for o in base if o.eval_loss is not None})
    what = ("the classifier head trained alone (adapters frozen) for the probes' steps at learning rate "
            + ", ".join(f"{lr:g}" for lr in rates)
            if spec.task == "sequence-classification" else "the base model before any training step")
    text = f"base eval loss {mean:.4g}" + (f" ± {se:.2g} (standard error over {len(losses)} seeds)" if se else "")
    text += f": {what}"
    if acc is not None:
        text += f"; accuracy {acc:.3f}"
    return Base(mean, se, len(losses), acc, text)


def ladder_rows(obs: Sequence[ProbeObs], spec: LadderSpec, state: LadderState) -> tuple[LadderRow, ...]:
    """One LadderRow per rank probe (rank ≥ 1), in rank, learning-rate, seed order."""
    stopped = state.stopped_ranks
    rows = []
    for o in sorted((o for o in obs if o.rank >= 1), key=lambda o: (o.rank, o.lr, o.seed)):
        ex = predicted(o, spec.planned_steps) if o.eval_loss is not None else None
        rows.append(LadderRow(
            rank=o.rank, learning_rate=o.lr, eval_loss=o.eval_loss, eval_accuracy=o.eval_accuracy,
            train_seconds=o.train_seconds, trainable_params=o.trainable_params,
            peak_memory_bytes=o.peak_memory_bytes, steps=o.step,
            stopped_early=o.rank in stopped and o.state == "cancelled", seed=o.seed, state=o.state,
            predicted_loss=round(ex.loss, 6) if ex is not None else None,
            predicted_error=round(ex.error, 6) if ex is not None else None))
    return tuple(rows)


def ladder_knee(rows: Sequence[LadderRow], base: Base | None) -> Knee | None:
    """The knee of the rows measured so far (None without a base or a measured rank)."""
    usable = [r for r in rows if r.usable]
    if base is None or not usable:
        return None
    return find_knee(usable, base.loss, base_stderr=base.stderr or 0.0)


def _extrapolation_evidence(rows: Sequence[LadderRow], spec: LadderSpec) -> Evidence | None:
    done = [r for r in rows if r.predicted_loss is not None]
    if not done:
        return None
    rates = len({r.learning_rate for r in done}) > 1  # the rate pass: one rank at several rates
    seeds = len({r.seed for r in done}) > 1
    parts = [f"rank {r.rank}{f' at lr {r.learning_rate:g}' if rates else ''}{f' (seed {r.seed})' if seeds else ''}: "
             f"{r.eval_loss:.4g} at step {r.steps} -> {r.predicted_loss:.4g} ± {r.predicted_error:.2g}"
             for r in done[:8]]
    more = f" and {len(done) - 8} more" if len(done) > 8 else ""
    return Evidence("extrapolation", None,
                    f"the planned training is {spec.planned_steps:,} steps and the probes ran {spec.probe_steps:,}, "
                    f"so each eval curve was fitted (a + b·log t or a + b·t^-c, whichever predicts its own last "
                    f"points better) and extrapolated there: {'; '.join(parts)}{more}. The knee compares the "
                    f"losses measured at {spec.probe_steps:,} steps, not these predictions (on the benchmarks' "
                    "sweeps they were the less reliable guide); a training much longer than the probes may use "
                    "more rank than the knee")


def _progress(obs: Sequence[ProbeObs], spec: LadderSpec, state: LadderState) -> list[Evidence]:
    out = []
    ended = sum(o.ended for o in obs)
    if not state.done:
        out.append(Evidence("ladder", None, f"the ladder is still running: {ended} of {len(obs)} probes have "
                                            "ended; this recommendation is provisional"))
    for s in state.stops:
        out.append(Evidence("halving", s.rank, f"rank {s.rank} stopped at step {s.step}: {s.reason}"))
    if state.budget_spent is not None:
        cut = [o for o in obs if o.state == "cancelled" and o.rank not in state.stopped_ranks]
        never = all(o.step == 0 and o.wall_seconds is None and not o.curve for o in obs)
        # with no rank probe finished there is nothing to rest on but the prior, whose band is its own
        rests = ("the recommendation rests on what finished and its band is wider"
                 if any(o.rank > 0 and o.curve and (o.state == "finished" or o.rank in state.stopped_ranks)
                        for o in obs) else
                 "no rank probe finished and the recommendation is the capacity prior's, with its band")
        out.append(Evidence("budget", None, f"the probe budget ({spec.budget_seconds:,.0f} s) was spent after "
                                            f"{state.budget_spent:,.0f} s: {counted(len(cut), 'probe')} "
                                            f"{'was' if len(cut) == 1 else 'were'} cancelled, so "
                                            + rests
                            + ("; no probe ever started: the device slots were busy all that time, most likely "
                               "with another probe run (`lorplan probe list` shows the runs; the budget counts "
                               "from the ladder's start)" if never and obs else "")))
    if state.cancelled is not None:
        out.append(Evidence("ladder", None, f"the run was cancelled by the user after {state.cancelled:,.0f} s: "
                                            "no further pass was started, so the recommendation rests on what "
                                            "finished"))
    for p in state.passes:
        if p.skipped and p.name != PATTERN_CHECK:  # the pattern evidence tells the check's story
            out.append(Evidence("ladder", None, f"no {p.name} pass: {p.skipped}"))
    return out


# Measured with lorplan's allocation trained at the same parameter budget as one rank everywhere (mean eval loss of
# two or three seeds): benchmarks/results/planted_rank.md (14 of 16 planted low-rank teachers better, -17% mean)
# and benchmarks/results/rank_regret.md's pattern rows (five real-text tasks: within seed noise on the three
# causal-LM tasks, 15-17% WORSE on the two classification tasks). So an unchecked pattern is only offered; one the
# pattern check kept (better than one rank on the user's data beyond the seed noise: it kept 19 of 30 planted
# seeds, each of which then helped at full length, and none of the 15 real-text task-seeds) is applied.
PATTERN_OFFERED = (
    "Offered, not applied: `--write` keeps one rank for every module unless you add --apply-pattern (p in the "
    "Recommend tab), because at the same parameter budget such patterns beat one rank on 14 of 16 planted "
    "teachers whose change sits in a few modules, but not on lorplan's five real-text benchmark tasks (within "
    "seed noise on three, 15-17% worse eval loss on the two classification tasks)")
PATTERN_APPLIED = (
    "Applied: `--write` writes this rank_pattern and the Recommend tab's a applies it, because it beat one rank on "
    "your data by more than the noise (add --no-pattern, or press u, for one rank in every module); on lorplan's "
    "benchmarks every pattern this check kept helped at full length (19 of 19 planted-teacher seeds)")
PATTERN_CHECK = "pattern check"  # the ladder's last pass: one probe trains the pattern (pattern_check_pass)
# the pattern is kept only if its probe's loss is below the one-rank probe's by more than CHECK_Z × the standard
# deviation of a difference of two one-seed losses (√2 × one_seed_spread); set once, not tuned, and replayed on
# the benchmarks' recorded runs (benchmarks/results/planted_rank.md, rank_regret.md) with half-length probes
CHECK_Z = 1.0


def _check_twin(rec: Recommendation, obs: Sequence[ProbeObs], spec: LadderSpec) -> ProbeObs | None:
    """The one-rank probe a pattern check is compared with: finished at the recommended rank and learning rate,
    with a loss (the ladder's first training seed when several)."""
    twins = [o for o in rank_probes(obs) if o.rank == rec.rank and o.state == "finished" and o.eval_loss is not None
             and math.isclose(o.lr, rec.learning_rate, rel_tol=1e-6)]
    return min(twins, key=lambda o: (o.seed not in spec.seeds[:1], o.seed), default=None)


def pattern_check_pass(spec: LadderSpec, state: LadderState, obs: Sequence[ProbeObs], rec: Recommendation,
                       now: float) -> Pass | None:
    """The ladder's last pass once the pattern is measured: one probe that trains the recommended rank with the
    pattern, at the learning rate and training seed of a one-rank probe there, so that the pattern is compared
    with one rank on the user's data before it is offered (measured.pattern_check). None when there is no
    pattern to check or the pass was decided already; `skipped` when no one-rank probe matches or the budget
    left does not buy one probe."""
    from lorplan.recommend.decide import budget

    if not rec.rank_pattern or any(p.name == PATTERN_CHECK for p in state.passes):
        return None
    twin = _check_twin(rec, obs, spec)
    if twin is None:
        return Pass(PATTERN_CHECK, skipped=f"no finished probe trained rank {rec.rank} at learning rate "
                                           f"{rec.learning_rate:g} to compare a probe with the pattern with")
    b = budget(spec, rank_probes(obs), now)
    if b.left is not None and (twin.wall_seconds or b.per_probe or 0.0) > b.left:
        return Pass(PATTERN_CHECK, skipped=f"the budget left ({b.left:,.0f} s) is shorter than the probe at rank "
                                           f"{rec.rank} took ({twin.wall_seconds or b.per_probe or 0:,.0f} s)")
    pid = f"r{rec.rank}-pattern" + (f"-s{twin.seed}" if len(spec.seeds) > 1 else "")  # ids name seeds as probes do
    specs = ({"id": pid, "rank": rec.rank, "lr": twin.lr, "seed": twin.seed,
              "rank_pattern": dict(rec.rank_pattern)},)
    return Pass(PATTERN_CHECK, specs=specs, ranks=(rec.rank,), learning_rate=twin.lr)


@dataclass(frozen=True)
class PatternCheck:
    """A pattern probe against the one-rank probe with its rank, rate and seed: keep the pattern or not."""

    keep: bool
    pattern_loss: float
    uniform_loss: float
    error: float  # the standard deviation of their difference (0: no noise estimate)
    text: str


def pattern_check(pattern_loss: float, uniform_loss: float, seed_spread: float | None, rank: int,
                  z: float = CHECK_Z) -> PatternCheck:
    """Whether a probe trained with the pattern beat the one-rank probe at the same rank, learning rate and
    seed by more than z standard deviations of a difference of two one-seed losses (√2 × seed_spread, from
    one_seed_spread; 0 when unknown: any gain counts). Pure."""
    err = math.sqrt(2.0) * (seed_spread or 0.0)
    gain = uniform_loss - pattern_loss
    keep = gain > z * err and gain > 0
    rel = pattern_loss / uniform_loss - 1 if uniform_loss else 0.0
    noise = f"± {err:.2g}, the noise of two one-seed losses" if err > 0 else "no noise estimate"
    head = (f"checked on your data: a probe with the pattern reached eval loss {pattern_loss:.4g}, against "
            f"{uniform_loss:.4g} with rank {rank} in every module (same rate, seed and length; {rel:+.1%}, {noise})")
    if keep:
        text = head + (": the pattern is better beyond the noise" if err > 0 else
                       ": the pattern is better (with no noise estimate to judge the difference by)")
    else:
        text = head + (": not better beyond the noise, so the pattern is not offered and every module keeps rank "
                       f"{rank}")
    return PatternCheck(keep, pattern_loss, uniform_loss, err, text)


def one_seed_spread(rows: Sequence[LadderRow], rate: float) -> float | None:
    """How far one seed's eval loss strays, from the ladder's rows at learning rate `rate`: the seeds' spread at
    the ranks that ran several (pooled standard deviation; the ladder's pattern probes give its top rank a
    second seed) and the departures of one-seed losses from a curve that never rises with rank
    (knee.one_seed_noise), whichever is larger; None when neither can be measured. A pattern check compares
    two one-seed losses, so this is a standard deviation, not the standard error of a rank's mean."""
    from lorplan.recommend.knee import one_seed_noise, seed_spread, summarize

    ranks = summarize(r for r in rows if r.usable
                      and math.isclose(r.learning_rate, rate, rel_tol=1e-6))
    found = [v for v in (seed_spread(ranks)[0], one_seed_noise(ranks)) if v is not None]
    return max(found) if found else None


def _check_verdict(rec: Recommendation, spec: LadderSpec, obs: Sequence[ProbeObs],
                   state: LadderState | None) -> PatternCheck | None:
    """The pattern check's verdict once its probe has a loss; else a PatternCheck that keeps the pattern and
    says where the check stands (running, not run and why), or None when the ladder has no check pass."""
    passed = next((p for p in (state.passes if state is not None else ()) if p.name == PATTERN_CHECK), None)
    if passed is None:
        return None
    if passed.skipped:
        return PatternCheck(True, math.nan, math.nan, 0.0, f"not checked by a probe: {passed.skipped}")
    probe = next((o for o in obs if o.id in passed.probes), None)
    twin = _check_twin(rec, obs, spec)
    if probe is None or not probe.ended:
        return PatternCheck(True, math.nan, math.nan, 0.0, f"being checked: probe {passed.probes[0]} trains the "
                                                           "pattern")
    if probe.state != "finished" or probe.eval_loss is None or twin is None:
        why = END_WORDS.get(probe.state, probe.state) if probe.state != "finished" else "measured no eval loss"
        return PatternCheck(True, math.nan, math.nan, 0.0, f"not checked: the pattern probe {probe.id} {why}")
    return pattern_check(probe.eval_loss, twin.eval_loss, one_seed_spread(rec.ladder, rec.learning_rate), rec.rank)


def pattern_evidence(rec: Recommendation, spec: LadderSpec, obs: Sequence[ProbeObs],
                     signals: dict | None, state: LadderState | None = None) -> Recommendation:
    """The recommendation with the per-module pattern (recommend.pattern) at its rank's parameter budget, from
    what the pattern probes' adapters share (pattern-signals.json), and an Evidence row with source "pattern"
    either way: the pattern's figures, or why there is none."""
    from lorplan.recommend.allocate import pattern_from_signals, signals_from_json

    if signals and "signals" in signals:
        pattern = pattern_from_signals(signals_from_json(signals), int(signals["rank"]), budget_rank=rec.rank,
                                       runs=int(signals.get("runs", 2)))
        if not pattern.pattern:
            return replace(rec, rank_pattern={}, evidence=rec.evidence + (Evidence("pattern", None,
                                                                                    pattern.explanation),))
        rec = replace(rec, rank_pattern=dict(pattern.pattern))
        checked = _check_verdict(rec, spec, obs, state)
        if checked is not None and not checked.keep:
            return replace(rec, rank_pattern={}, evidence=rec.evidence + (Evidence(
                "pattern", rec.rank, f"{checked.text}. The pattern measured was: {pattern.explanation}"),))
        text = pattern.explanation + (f". {checked.text}" if checked is not None else "")
        applied = checked is not None and checked.keep and checked.error > 0  # beyond a measured noise
        return replace(rec, pattern_checked=applied, evidence=rec.evidence + (Evidence(
            "pattern", None, f"{text}. {PATTERN_APPLIED if applied else PATTERN_OFFERED}"),))
    if signals and "error" in signals:
        why = f"no per-module pattern: {signals['error']}; every module keeps rank {rec.rank}"
    elif not spec.pattern_probes:
        why = (f"no per-module pattern: {spec.pattern_why or 'this ladder saves no adapters'}; every module keeps "
               f"rank {rec.rank}")
    else:
        by_id = {o.id: o for o in obs}
        ended = state is not None and state.done
        waiting = [p for p in spec.pattern_probes if p in by_id and not by_id[p].ended]
        lost = [p for p in spec.pattern_probes if p in by_id and by_id[p].ended and by_id[p].state != "finished"]
        # a later pass's pattern probes are not in the run until the driver adds them: a ladder that ended first
        # (cancelled, budget spent) never will
        never = [p for p in spec.pattern_probes if p not in by_id and ended]
        if waiting:
            why = f"per-module pattern: waiting for probes {', '.join(waiting)} to save their adapters"
        elif len(spec.pattern_probes) - len(lost) - len(never) < 2:
            what = [f"{_probes_word(lost)} {', '.join(lost)} did not finish"] if lost else []
            what += [_never_ran(spec, state, never)] if never else []
            why = (f"no per-module pattern: {' and '.join(what)}, so fewer than two adapters can be compared; every "
                   f"module keeps rank {rec.rank}")
        elif any(p not in by_id for p in spec.pattern_probes):
            why = "per-module pattern: waiting for the ladder to run its pattern probes"
        else:
            why = "per-module pattern: comparing the pattern probes' adapters"
    return replace(rec, evidence=rec.evidence + (Evidence("pattern", None, why),))


def _probes_word(ids: Sequence[str]) -> str:
    return "probe" if len(ids) == 1 else "probes"


def _never_ran(spec: LadderSpec, state: LadderState | None, never: Sequence[str]) -> str:
    """Why pattern probes that the ended ladder never ran did not run: a one-seed ladder's second pattern probe is
    its second-seed pass's probe at the top rank (launch.pattern_plan), so the pass's own story is told (it was
    skipped, or trained other ranks only); else the ladder ended before them."""
    from lorplan.recommend.decide import SECOND_SEED

    plain = f"the ladder ended before {_probes_word(never)} {', '.join(never)} ran"
    passed = next((p for p in (state.passes if state is not None else ()) if p.name == SECOND_SEED), None)
    if spec.pattern_seed is not None or spec.second_seed is None or list(never) != list(spec.pattern_probes[1:]):
        return plain
    top = max(spec.ranks)
    second = f"{never[0]} (rank {top} with a second seed, the pattern's second adapter)"
    if passed is None:
        return f"the ladder ended before its second-seed pass, which would train {second}"
    if passed.skipped:
        return f"the second-seed pass, which would train {second}, did not run: {passed.skipped}"
    ranks = ", ".join(map(str, passed.ranks))
    return (f"the second-seed pass trained rank{'s' if len(passed.ranks) > 1 else ''} {ranks} again, not "
            f"{second}")


def eval_majority(obs: Sequence[ProbeObs]) -> tuple[int, int] | None:
    """The held-out split's largest class as (its examples, the split's examples), as the probes' workers counted
    it (every probe of a run holds out the same examples); None for a causal LM, before a probe has started, or
    when probes disagree (a split it cannot vouch for)."""
    seen = {(o.eval_majority, o.eval_examples) for o in obs
            if o.eval_majority is not None and o.eval_examples is not None}
    return next(iter(seen)) if len(seen) == 1 else None


def recommendation(
    spec: LadderSpec,
    obs: Sequence[ProbeObs],
    state: LadderState,
    price: Callable[[int], Fit] | None = None,
    signals: dict | None = None,
) -> tuple[Recommendation, Base | None]:
    """The recommendation from what the ladder knows now, and the base it compared with. signals: the ladder's
    pattern-signals.json (None: not measured yet), for the per-module pattern."""
    prior = capacity_prior(DataSize(**spec.data), AdapterSize(**spec.adapter))
    every = tuple(obs)
    obs = rank_probes(every)  # a pattern check probe is compared only with its one-rank twin (pattern_evidence)
    rows = ladder_rows(obs, spec, state)
    base = base_measure(obs, spec)
    notes = [Evidence(**n) for n in spec.notes] + _progress(every, spec, state)
    extra = _extrapolation_evidence(rows, spec)
    if extra is not None:
        notes.append(extra)
    cost = sum(o.wall_seconds or 0.0 for o in every)
    default_lr = (spec.learning_rate, spec.learning_rate_why)
    usable = [r for r in rows if r.usable]
    rate = state.ladder_rate(spec)
    common = [r for r in rows if math.isclose(r.learning_rate, rate, rel_tol=1e-9)]
    if base is not None and state.done and usable and not any(r.usable for r in common):
        # the ladder ended (cancelled, its budget spent) before a probe at the rate it compares ranks at
        # finished, e.g. during the rate pass: compare what finished at the rate with the lowest loss among them
        rate = min(usable, key=lambda r: r.knee_loss).learning_rate
        common = [r for r in rows if math.isclose(r.learning_rate, rate, rel_tol=1e-9)]
        notes.append(Evidence("ladder", None, f"the ladder ended before a probe at learning rate "
                                              f"{state.ladder_rate(spec):g} finished, so the ranks that finished are "
                                              f"compared at {rate:g}, the rate of the lowest eval loss among them"))
    if base is not None and any(r.usable for r in common):
        notes.insert(0, Evidence("base", None, base.explanation))
        # the knee compares ranks at the rate every rank was tried at; the other rates (tried at one rank only)
        # would favour that rank otherwise
        rec = combine(prior, default_lr=default_lr, target_modules=spec.target_modules, ladder=common,
                      base_loss=base.loss, base_stderr=base.stderr or 0.0, price=price, cost_seconds=cost,
                      notes=notes, majority=eval_majority(obs),
                      other_accuracies=[r.eval_accuracy for r in usable if r.eval_accuracy is not None
                                        and not math.isclose(r.learning_rate, rate, rel_tol=1e-9)])
        return _on_whose_data(pattern_evidence(_checked_rate(replace(rec, ladder=rows), spec, rate), spec, every,
                                               signals, state), spec), base
    why = _no_knee(obs, usable, rate)
    rec = combine(prior, default_lr=default_lr, target_modules=spec.target_modules, price=price,
                  cost_seconds=cost, notes=[Evidence("ladder", None, why), *notes])
    return _on_whose_data(pattern_evidence(replace(rec, ladder=rows), spec, every, signals, state), spec), base


def _on_whose_data(rec: Recommendation, spec: LadderSpec) -> Recommendation:
    """The demo ladder trains on data it generated, not the user's: its evidence says "the demo's data" where
    every other ladder's says "your data" ("checked on your data", "the ladder measured your data")."""
    if spec.kind != "demo":
        return rec
    return replace(rec, evidence=tuple(replace(e, explanation=e.explanation.replace("your data", "the demo's data"))
                                       for e in rec.evidence))


def ladder_state(state: LadderState) -> str:
    """A ladder's state word: "running" until it is done, then "cancelled" when the user cancelled its run
    (`lorplan probe cancel RUN`, the TUI's C; LadderState.cancelled) and "done" otherwise: the words `lorplan
    probe status`, `list` and `wait` give the ladder (their "ladder": {"state"}), so both commands say one."""
    if not state.done:
        return "running"
    return "cancelled" if state.cancelled is not None else "done"


def recommendation_json(spec: LadderSpec, obs: Sequence[ProbeObs], state: LadderState,
                        price: Callable[[int], Fit] | None = None, *, run_id: str = "",
                        signals: dict | None = None, run_seed: int | None = None) -> dict:
    """recommendation.json: the Recommendation's JSON (the `lorplan recommend --json` contract) and the ladder's
    own keys: run, state (ladder_state: running, done, or cancelled, the word `lorplan probe status` gives the
    ladder), cancelled_after (seconds from the start to the user's cancel, None when not cancelled), kind,
    ladder_learning_rate (the rate every rank was compared at), base_loss and base, planned and probe steps, seeds (those the probes trained with: run_seed, the run's
    seed, for a one-seed ladder), second_seed (the seed of a one-seed ladder's last pass, else None), budget,
    passes, halving stops, and every probe as observed (its curve included)."""

    rec, base = recommendation(spec, obs, state, price, signals)
    out = rec.to_json()
    out.update({
        "run": run_id, "state": ladder_state(state), "cancelled_after": state.cancelled,
        "kind": spec.kind,
        "ladder_learning_rate": state.ladder_rate(spec),
        "base_loss": base.loss if base is not None else None, "base": base.to_json() if base is not None else None,
        "planned_steps": spec.planned_steps, "probe_steps": spec.probe_steps, "seeds": trained_seeds(spec.seeds, run_seed),
        "second_seed": spec.second_seed, "budget_seconds": spec.budget_seconds, "passes": [p.to_json() for p in state.passes],
        "stops": [s.to_json() for s in state.stops], "probes": [o.to_json() for o in obs],
    })
    return out


def _checked_rate(rec: Recommendation, spec: LadderSpec, rate: float) -> Recommendation:
    """With other learning rates tried at the recommended rank, the one with the lowest mean loss (knee_loss),
    and the learning-rate evidence saying so; with rate_first and one rate at the recommended rank, the rate
    every rank was compared at (`rate`, the best at the reference rank)."""
    at = [r for r in rec.ladder if r.rank == rec.rank and r.knee_loss is not None]
    if spec.rate_first and len({r.learning_rate for r in at}) < 2:
        ref = [r for r in rec.ladder if r.rank == spec.reference_rank and r.knee_loss is not None]
        tried = sorted({r.learning_rate for r in ref})
        if len(tried) < 2:  # the rates whose probes ended without a result are still named
            lost = _lost_rates(rec.ladder, spec.reference_rank, tried)
            return replace(rec, evidence=tuple(replace(e, explanation=e.explanation + lost)
                                               if e.source == "learning rate" else e for e in rec.evidence))
        text = (f"learning rate {rate:g}: the lowest eval loss at rank {spec.reference_rank} of "
                f"{', '.join(f'{lr:g}' for lr in tried)}, tried before the ranks were compared; every rank ran at "
                f"it (alpha/r scaling keeps the best rate close across ranks)" + _edge(rate, tried)
                + _lost_rates(rec.ladder, spec.reference_rank, tried))
        evidence = tuple(Evidence("learning rate", spec.reference_rank, text) if e.source == "learning rate" else e
                         for e in rec.evidence)
        return replace(rec, learning_rate=rate, evidence=evidence)
    rates: dict[float, list[float]] = {}
    for r in at:
        rates.setdefault(r.learning_rate, []).append(r.knee_loss)
    if len(rates) < 2:
        return rec
    means = {lr: sum(v) / len(v) for lr, v in rates.items()}
    best = min(means, key=lambda lr: (means[lr], lr))
    tried = ", ".join(f"{lr:g}: {means[lr]:.4g}" for lr in sorted(means))
    text = f"learning rate {best:g}: the lowest mean eval loss at rank {rec.rank} ({tried})"
    if not math.isclose(best, rate, rel_tol=1e-9):
        text += (f"; the ranks were compared at {rate:g}, the rate all of them were tried at"
                 + ("" if spec.rate_first else f" ({spec.learning_rate_why.split(':')[0]})"))
    elif spec.rate_first:
        text += "; tried before the ranks were compared, and every rank ran at it"
    else:
        text += "; the policy's rate stands"
    text += _edge(best, sorted(means)) + _lost_rates(rec.ladder, rec.rank, means)
    evidence = tuple(Evidence("learning rate", rec.rank, text) if e.source == "learning rate" else e
                     for e in rec.evidence)
    return replace(rec, learning_rate=best, evidence=evidence)


def _lost_rates(rows: Sequence[LadderRow], rank: int, measured) -> str:
    """"; 0.001 (failed) ended without a result there, so it is not compared" for the rates at `rank` whose
    probes all ended without a result (failed, out of memory, cancelled, died), else "": the rates compared are
    only the ones measured, and a rate that failed must not vanish from the words."""
    lost: dict[float, str] = {}
    for r in rows:
        if r.rank == rank and r.knee_loss is None and r.state in UNFINISHED and not any(
                math.isclose(r.learning_rate, m, rel_tol=1e-9) for m in measured):
            lost.setdefault(r.learning_rate, END_WORDS.get(r.state, r.state))
    if not lost:
        return ""
    parts = [f"{lr:g} ({how})" for lr, how in sorted(lost.items())]
    return (f"; {' and '.join(parts)} ended without a result there, so "
            f"{'it is' if len(parts) == 1 else 'they are'} not compared")


def _edge(best: float, tried: Sequence[float]) -> str:
    """"; the highest rate tried ..." when the best rate lies at an end of the rates tried (the optimum may lie
    beyond it), else ""."""
    if len(tried) < 2 or not (math.isclose(best, max(tried)) or math.isclose(best, min(tried))):
        return ""
    end = "highest" if math.isclose(best, max(tried)) else "lowest"
    return f"; it is the {end} rate tried, so the best rate may lie beyond it"


def error_line(message, width: int) -> str:
    """A probe's error message as one line: its first non-blank line, cut to `width` characters ("..." at the
    end of a cut one); "" for none."""
    first = next((ln.strip() for ln in str(message or "").splitlines() if ln.strip()), "")
    return first[:width - 3] + "..." if len(first) > width else first


def _how_lost(obs: Sequence[ProbeObs]) -> str:
    """How the rank probes that did not finish ended, and the first error among them: " (ranks 1, 4 and 16
    failed; the first error: RuntimeError: ...)"; "" when none is unfinished."""
    lost = [o for o in obs if o.rank > 0 and o.ended and o.state != "finished"]
    if not lost:
        return ""
    errors = (error_line(o.message, 200) for o in lost if o.state in ("failed", "oom", "died") and o.message)
    first = next((e for e in errors if e), "")
    return f" ({unfinished_words(lost)}{f'; the first error: {first}' if first else ''})"


def _no_knee(obs: Sequence[ProbeObs], usable: Sequence[LadderRow], rate: float) -> str:
    base = [o for o in obs if o.rank == 0]
    lost = [o for o in base if o.ended and o.eval_loss is None]
    if base and len(lost) == len(base):
        states = ", ".join(sorted({END_WORDS.get(o.state, o.state) for o in lost}))
        return (f"the base probe {states}, so no rank's improvement over the base can be measured: the rank is "
                "the capacity prior's")
    if not usable:
        if obs and all(o.ended for o in obs):
            return ("no rank probe measured an eval loss" + _how_lost(obs)
                    + ", so there is no knee: the rank is the capacity prior's")
        return "no rank probe has measured an eval loss yet: the rank is the capacity prior's for now"
    if base and all(o.eval_loss is not None for o in base if o.ended) and any(o.ended for o in base):
        return (f"no probe at learning rate {rate:g}, the rate the ladder compares ranks at, has measured an eval "
                "loss yet: the rank is the capacity prior's for now")
    return "the base's eval loss is not measured yet: the rank is the capacity prior's for now"
