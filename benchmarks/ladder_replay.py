"""lorplan's probe ladder replayed on recorded runs instead of trained: the decisions the ladder's driver makes
(recommend.decide.next_pass on recommend.measured's recommendation), fed the ProbeObs a benchmark builds from
its recorded eval curves. Shared by benchmarks/rank_regret_replay.py and benchmarks/planted_rank.py, which
differ only in how a recorded run becomes a probe. Pure: nothing trains or imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace


def replay_passes(spec, state, probes: dict, lookup: Callable[[dict], object | None], *,
                  optional: Collection[str] = (), clock: Callable[[dict], float] | None = None):
    """Run the ladder's passes after those in `state` (whose probes are in `probes`, id -> ProbeObs) until it
    asks for none, each probe spec (id, rank, lr, seed) replayed by lookup(spec) -> ProbeObs. lookup returns
    None for a probe it cannot replay (left out and listed as missing) or raises KeyError, which stops the
    replay unless the pass is named in `optional` (then the pass is recorded as skipped). clock(probes) -> the
    seconds since the ladder started, as the driver's `now` (every pass asked at 0.0 when None: no time passes,
    so a spec's budget is never spent).

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
        added, lost = {}, []
        try:
            for d in nxt.specs:
                o = lookup(d)
                (lost.append(d["id"]) if o is None else added.__setitem__(d["id"], o))
        except KeyError as exc:
            if nxt.name not in optional:
                raise
            nxt, added, lost = Pass(nxt.name, skipped=f"not replayed: no recorded run {exc.args[0]}"), {}, []
        state = state.with_pass(nxt)
        probes.update(added)
        missing += lost
    state = replace(state, done=True)
    rec, _ = measured.recommendation(spec, tuple(probes.values()), state)
    return rec, state, probes, missing
