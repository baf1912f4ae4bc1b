"""lorplan's probe ladder replayed on recorded runs instead of trained: the decisions the ladder's driver makes
(recommend.decide.next_pass on recommend.measured's recommendation), fed the ProbeObs a benchmark builds from
its recorded eval curves. Shared by benchmarks/rank_regret_replay.py and benchmarks/planted_rank.py, which
differ only in how a recorded run becomes a probe. Pure: nothing trains or imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace

# The budget the benchmarks' budgeted ladder rows are given, as a share of their sweep (issue 11's compute
# target), as `lorplan recommend --budget-minutes` gives one
BUDGET_SHARE = 0.10


def replay_passes(spec, state, probes: dict, lookup: Callable[[dict], object | None], *,
                  optional: Collection[str] = (), clock: Callable[[dict], float] | None = None):
    """Run the ladder's passes after those in `state` (whose probes are in `probes`, id -> ProbeObs) until it
    asks for none, each probe spec (id, rank, lr, seed) replayed by lookup(spec) -> ProbeObs. lookup returns
    None for a probe it cannot replay (left out and listed as missing) or raises KeyError, which stops the
    replay unless the pass is named in `optional` (then the pass is recorded as skipped). clock(probes) -> the
    seconds since the ladder started, as the driver's `now` (every pass asked at 0.0 when None: no time passes,
    so a spec's budget is never spent). With a clock and spec.budget_seconds, a pass's probes run one after
    another, and the one that would end after the budget is cut where the budget runs out, as the driver cancels
    what still runs then (cut_short: its curve up to that share of its steps, state "cancelled"); the probes
    after it never start and the ladder ends with its budget spent.

    Returns (the final recommendation, the final LadderState, probes, missing probe ids)."""
    from lorplan.recommend import measured
    from lorplan.recommend.decide import next_pass
    from lorplan.recommend.ladder_spec import Pass

    missing: list[str] = []
    while True:
        rec, base = measured.recommendation(spec, tuple(probes.values()), state)
        knee = measured.ladder_knee(rec.ladder, base)
        nxt = next_pass(spec, state, tuple(probes.values()), knee.rank if knee is not None else None,
                        now=clock(probes) if clock is not None else 0.0,
                        best_rank=knee.best_rank if knee is not None else None, band_low=rec.confidence[0])
        if nxt is None:
            break
        added, lost, spent = {}, [], None
        limit = spec.budget_seconds if clock is not None else None
        try:
            for d in nxt.specs:
                o = lookup(d)
                if o is None:
                    lost.append(d["id"])
                    continue
                now = clock({**probes, **added}) if limit is not None else 0.0
                if limit is not None and o.wall_seconds and now + o.wall_seconds > limit:
                    added[d["id"]], spent = cut_short(o, (limit - now) / o.wall_seconds), limit
                    break
                added[d["id"]] = o
        except KeyError as exc:
            if nxt.name not in optional:
                raise
            nxt, added, lost = Pass(nxt.name, skipped=f"not replayed: no recorded run {exc.args[0]}"), {}, []
        state = state.with_pass(nxt)
        if spent is not None:
            state = replace(state, budget_spent=round(spent, 1))
        probes.update(added)
        missing += lost
    state = replace(state, done=True)
    rec, _ = measured.recommendation(spec, tuple(probes.values()), state)
    return rec, state, probes, missing


def cut_short(o, share: float):
    """ProbeObs `o` cancelled after `share` (0-1) of its steps: its eval curve up to there, its steps and seconds
    scaled by the share."""
    scale = max(0.0, share)
    step = int(o.step * scale)
    return replace(o, state="cancelled", step=step, curve=tuple(p for p in o.curve if p[0] <= step),
                   train_seconds=None if o.train_seconds is None else o.train_seconds * scale,
                   wall_seconds=None if o.wall_seconds is None else o.wall_seconds * scale)
