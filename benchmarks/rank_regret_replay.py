"""The pure arithmetic of benchmarks/rank_regret.py: the sweep's knee (lorplan.recommend.knee.find_knee), hit,
regret, compute, lorplan's capacity prior on a task, and lorplan's probe ladder replayed on recorded runs.

Nothing here trains or imports torch; it reads rows of benchmarks/results/rank_regret_sweep.jsonl (dicts with
task, kind, variant, rank, alpha, lr, seed, steps and the eval curve [[step, loss], ...]).
"""

from __future__ import annotations

import functools
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from ladder_replay import BUDGET_SHARE, replay_passes  # noqa: E402  (spent on walk_ladder's clock of a second a step)
from results_file import hit  # noqa: E402, F401  (the target's test, used by the report and the tests)

RANKS = (1, 2, 4, 8, 16, 32, 64)
SEEDS = (0, 1, 2)
ALPHA = 32


# ---------------------------------------------------------------- analysis (pure)

def final_loss(row: dict) -> float:
    return float(row["curve"][-1][1])


def loss_at(row: dict, steps: int | None = None) -> float:
    """The run's last eval loss at or before `steps` (its final one when None): the run cut at a probe's
    length."""
    if steps is None:
        return final_loss(row)
    return float([v for s, v in row["curve"] if s <= steps][-1])


def trained(rows: Iterable[dict]) -> list[dict]:
    """The rows of runs that trained (a pattern that could not be made leaves a row with an "error" instead)."""
    return [r for r in rows if "error" not in r]


def base_loss(rows: Sequence[dict], task: str, steps: int | None = None) -> tuple[float, float]:
    """The base eval loss and its standard error over seeds: classification, the head trained alone (best
    learning rate, mean over seeds; cut at `steps` when given); causal LM, the model before any step (every
    run's step-0 eval)."""
    head = [r for r in rows if r["task"] == task and r["kind"] == "base"]
    if head:
        return best_rate_mean(head, steps)
    try:
        return step_zero_mean([r for r in rows if r["task"] == task and r["kind"] == "sweep"]), 0.0
    except ValueError:
        raise ValueError(f"task {task}: no base loss in the results") from None


def step_zero_mean(rows: Iterable[dict]) -> float:
    """The base model's eval loss: the step-0 eval (LoRA's B starts at 0), mean over the runs that have one."""
    zero = [float(r["curve"][0][1]) for r in rows if r["curve"] and r["curve"][0][0] == 0]
    if not zero:
        raise ValueError("no step-0 eval in the rows")
    return sum(zero) / len(zero)


def best_rate_mean(rows: Sequence[dict], steps: int | None = None) -> tuple[float, float]:
    """Runs of one configuration at several learning rates (a classifier's head trained alone): the mean eval
    loss over seeds at the rate where it is lowest, and its standard error (each run cut at `steps` when
    given)."""
    by = defaultdict(list)
    for r in rows:
        by[r["lr"]].append(loss_at(r, steps))
    lr = min(by, key=lambda k: sum(by[k]) / len(by[k]))
    return _mean_se(by[lr])


def _mean_se(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1) / n)


def ladder_rows(rows: Iterable[dict], steps: int | None = None):
    """LadderRows (lorplan.recommend.types) of sweep rows, at their final eval loss (at `steps` when given)."""
    from lorplan.recommend.types import LadderRow

    return [LadderRow(rank=r["rank"], learning_rate=r["lr"], eval_loss=loss_at(r, steps), seed=r["seed"],
                      steps=min(steps or r["curve"][-1][0], r["curve"][-1][0])) for r in rows]


def sweep_knee(rows: Sequence[dict], task: str, seed: int | None = None, steps: int | None = None):
    """lorplan.recommend.knee.find_knee on the task's sweep (best lr per rank, mean over seeds; only `seed`'s
    runs when given; every run and the classifier's head-alone base cut at `steps` when given)."""
    from lorplan.recommend.knee import find_knee

    sweep = [r for r in rows if r["task"] == task and r["kind"] == "sweep" and seed in (None, r["seed"])]
    base, se = base_loss(rows, task, steps)
    return find_knee(ladder_rows(sweep, steps), base, base_stderr=se)


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
    # the ladder as it ended: (LadderSpec, LadderState, ProbeObs by id), for variants built on it
    # (benchmarks/second_seed_variants.py); not part of the outcome
    final: tuple = field(default=(), compare=False, repr=False)


def _truncate(curve, steps: int) -> tuple[tuple[int, float], ...]:
    return tuple((int(s), float(v)) for s, v in curve if s <= steps)


def second_seed_of(seeds: Sequence[int], all_seeds: Sequence[int] = SEEDS) -> int:
    """The recorded seed a one-seed ladder's "second seed" pass replays: the one after the ladder's own
    (cyclically over the recorded seeds; lorplan trains the seed after the plan's)."""
    return all_seeds[(list(all_seeds).index(seeds[0]) + 1) % len(all_seeds)]


def ladder_spec(task, prior_rank: int, data: dict, adapter: dict, seeds: Sequence[int] = (0,),
                rate_first: bool = True, probe_steps: int | None = None, second: bool = True,
                budget_steps: float | None = None):
    """The LadderSpec lorplan builds for the task: first-pass ranks ×4 around the prior (recommend.ladder.
    coarse_ladder, 1 to 64), the middle learning rate, probes half the planned steps (`probe_steps` when
    given: the reference rows' probes at the full planned length); with one seed and `second` (lorplan's
    ladder), the "second seed" pass last (second_seed_of). budget_steps: the ladder's budget in optimizer
    steps (its budget_seconds on walk_ladder's clock, one second a step; None: no budget)."""
    from lorplan.recommend.ladder import coarse_ladder
    from lorplan.recommend.ladder_spec import LadderSpec

    return LadderSpec(kind="data", model=task.model, spec_source=task.model, task=task.kind,
                      target_modules=tuple(task.targets), data=data, adapter=adapter, learning_rate=task.lrs[1],
                      learning_rate_why="the benchmark's middle learning rate", planned_steps=task.steps,
                      probe_steps=probe_steps or task.steps // 2, seeds=tuple(seeds),
                      ranks=coarse_ladder(prior_rank, low=1, high=max(RANKS)), max_rank=max(RANKS), started=0.0,
                      rate_first=rate_first, extra_learning_rates=True,
                      second_seed=second_seed_of(seeds) if second and rate_first and len(seeds) == 1 else None,
                      budget_seconds=budget_steps)


def budget_steps(task, share: float | None = BUDGET_SHARE) -> float | None:
    """The ladder's budget: `share` of the task's sweep, in optimizer steps (None when share is None)."""
    return None if share is None else share * sweep_steps(task)


def trained_steps(o, cls: bool) -> int:
    """Optimizer steps probe `o` trained: a rank probe's, and a classifier's base (the head alone, trained as
    long); a causal LM's base only evaluates (0)."""
    return o.step if cls or o.rank > 0 else 0


def steps_used(probes, cls: bool) -> int:
    """Optimizer steps the ladder's probes trained (trained_steps of each)."""
    return sum(trained_steps(o, cls) for o in probes)


def walk_ladder(spec, task, probe_of, optional: Sequence[str] = ()) -> Replay:
    """lorplan's ladder decisions on `spec`, each probe spec (id, rank, lr, seed) turned into a finished ProbeObs
    by probe_of(spec) (a recorded run replayed, or a probe trained): the first pass, successive halving at each
    rung the probes pass, then ladder_replay.replay_passes until the ladder asks for nothing more.
    Time, for spec.budget_seconds, is a clock on which one optimizer step takes one second: a probe's wall time is
    its steps, and the driver's `now` the steps trained so far (one probe at a time), so the budget's cuts
    (recommend.decide._cut) act as they would on a machine where every step costs the same."""
    from lorplan.recommend.decide import first_pass, halving, rungs
    from lorplan.recommend.ladder_spec import LadderState, Stop
    from lorplan.recommend.measured import recommendation
    from lorplan.recommend.observe import ProbeObs

    cls = task.kind == "sequence-classification"

    def timed(d: dict) -> ProbeObs | None:
        o = probe_of(d)
        return None if o is None else replace(o, wall_seconds=float(trained_steps(o, cls)))

    first = first_pass(spec)
    state = LadderState().with_pass(first)
    probes: dict[str, ProbeObs] = {d["id"]: timed(d) for d in first.specs}
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
    rec, state, probes, _ = replay_passes(spec, state, probes, timed, optional=optional,
                                          clock=lambda ps: float(steps_used(ps.values(), cls)))
    used = tuple((o.rank, o.lr, o.seed, trained_steps(o, cls)) for o in probes.values())
    text = "; ".join(e.explanation for e in rec.evidence if e.source in ("ladder", "knee", "learning rate"))
    return Replay(rec.rank, rec.learning_rate, used, sum(u[3] for u in used), rec.confidence[0],
                  rec.confidence[1], text, tuple(spec.ranks), spec.probe_steps, (spec, state, dict(probes)))


def recorded_probe(rows: Sequence[dict], task, seed: int, probe_steps: int):
    """probe spec (id, rank, lr, seed) -> finished ProbeObs: the recorded sweep run of that rank, rate and seed
    (`seed` when the spec names none: a one-seed ladder's) cut at `probe_steps`; a rate off the sweep's grid
    is replayed by the nearest recorded one. KeyError for a run not recorded."""
    from lorplan.recommend.observe import ProbeObs

    cls = task.kind == "sequence-classification"
    index = {}
    for r in rows:
        if r["task"] == task.name and r["kind"] in ("sweep", "base"):
            index[(r["rank"], round(r["lr"], 12), r["seed"])] = r

    def on_grid(lr: float) -> float:
        # the learning-rate pass tries lr / 3 and lr × 3 (recommend.ladder.LR_FACTOR); the sweep's grid is
        # 1e-3, 3e-3, 1e-2, so 9e-3 is replayed by the recorded 1e-2 (the nearest rate, 11% apart)
        return min(task.lrs, key=lambda g: abs(math.log(g / lr)))

    def obs_of(d: dict) -> ProbeObs:
        rank, run_seed = d["rank"], d["seed"] if d["seed"] is not None else seed
        lr = on_grid(d["lr"])  # the recorded run; the probe keeps the rate the ladder asked for
        if not cls and rank == 0:  # a causal LM's base probe only evaluates the model before training
            rec = index[(1, round(lr, 12), run_seed)]
            curve = _truncate(rec["curve"], 0)
        else:
            rec = index[(rank, round(lr, 12), run_seed)]
            curve = _truncate(rec["curve"], probe_steps)
        return ProbeObs(id=d["id"], rank=rank, lr=d["lr"], seed=run_seed, state="finished", step=curve[-1][0],
                        curve=curve, trainable_params=rec.get("trainable"))

    return obs_of


def replay_ladder(rows: Sequence[dict], task, prior_rank: int, data: dict, adapter: dict,
                  seeds: Sequence[int] = (0,), allow_missing_lr: bool = False, rate_first: bool = True,
                  probe_steps: int | None = None, second: bool = True, budget: float | None = None) -> Replay:
    """The probe ladder lorplan runs (recommend.decide: first pass ×4 around the prior, successive halving,
    refine ×2 around the knee; with rate_first (lorplan's ladder) three learning rates at the reference rank
    first, else two more at the leading rank last; recommend.measured: the knee on the measured losses, the
    learning-rate evidence), REPLAYED on recorded sweep runs
    instead of trained: a probe of rank r, lr, seed is the recorded run's eval curve cut at the probe's length
    (half the planned steps). A recorded run's learning rate decays over the full length, so its first half
    is the start of the planned run, which the ladder's extrapolation predicts (a real probe's schedule would
    decay over its own length instead: benchmarks/rank_regret_probes.py trains them). Missing recorded runs
    raise KeyError, except the learning-rate pass's with allow_missing_lr (it changes the learning rate, never
    the rank). budget: the ladder's budget as a share of the sweep (budget_steps; None: none)."""
    spec = ladder_spec(task, prior_rank, data, adapter, seeds, rate_first, probe_steps, second,
                       budget_steps(task, budget))
    obs_of = recorded_probe(rows, task, seeds[0], spec.probe_steps)
    return walk_ladder(spec, task, obs_of, optional=("learning rate",) if allow_missing_lr else ())


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


def ladder_for(rows: Sequence[dict], task, allow_missing_lr: bool = False, seed: int = 0,
               rate_first: bool = True, probe_steps: int | None = None, seeds: Sequence[int] = (),
               second: bool = True, budget: float | None = None) -> Replay:
    """lorplan's ladder replayed on the task with one training seed per probe (`seed`; every probe with each of
    `seeds` when given; probes `probe_steps` long when given, else half the planned steps; without its "second
    seed" pass when not `second`; with a budget of `budget` × the sweep's steps when given)."""
    p = prior(rows, task)
    return replay_ladder(rows, task, p.rank, data_size(rows, task), adapter_of(task), seeds=tuple(seeds) or (seed,),
                         allow_missing_lr=allow_missing_lr, rate_first=rate_first, probe_steps=probe_steps,
                         second=second, budget=budget)
