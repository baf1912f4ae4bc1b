"""A README walk's 3-minute ladder said "the budget buys about 7 probe(s) ...: a second seed at rank 64, which the
per-module pattern compares with the first, does not fit", and then trained rank 64 with a second seed anyway,
in its second-seed pass (probes ran faster than the first estimate). The pattern could have used that probe: a
one-seed ladder with a second-seed pass now names that pass's probe at the top rank as the pattern's second, and
when the pass does not train it, the pattern evidence tells the pass's story."""

from __future__ import annotations

from test_ladder_decide import LR, base_obs, obs
from test_ladder_decide import spec as decide_spec

from lorplan.recommend import measured
from lorplan.recommend.decide import SECOND_SEED, _second_seed, budget
from lorplan.recommend.ladder import plan_ladder
from lorplan.recommend.ladder_spec import LadderState, Pass
from lorplan.recommend.launch import pattern_plan


def test_a_second_seed_pass_probe_is_the_pattern_second_when_the_first_estimate_buys_no_extra_probe():
    # the walk's shape: 8 probes of about 21 s in 180 s, the rates first, no probe left for second seeds
    lp = plan_ladder(180, 21, prior_rank=1, high=64, base_probe=True)
    assert (lp.probes, lp.extra_learning_rates, lp.second_seed, max(lp.ranks)) == (8, 2, 0, 64)
    probes, seed, why = pattern_plan(lp, (42,), affordable=lp.probes)
    assert probes == ("r64", "r64-s1") and seed is None and why == ""  # nothing added up front: the pass trains it
    # the second-seed pass's probe at rank 64 is that probe: same id, and the seed after the plan's
    s = decide_spec(rate_first=True, seeds=(42,), second_seed=43, pattern_probes=probes)
    seen = [base_obs()] + [obs(r, 2.0 + 0.1 / r) for r in (1, 4, 16, 64)]
    p = _second_seed(s, LadderState(), seen, knee_rank=16, band_low=4, b=budget(s, seen, 0.0))
    assert {"id": "r64-s1", "rank": 64, "lr": LR, "seed": 43} in p.specs
    # a budget that buys one probe more adds it to the first pass, as before
    assert pattern_plan(lp, (42,), affordable=lp.probes + 1) == (("r64", "r64-s1"), 43, "")
    # several seeds: the top rank's first two
    assert pattern_plan(lp, (42, 43), affordable=0) == (("r64-s42", "r64-s43"), None, "")


def test_without_a_second_seed_pass_the_short_budget_is_the_reason_in_counted_words():
    least = plan_ladder(400, 100, prior_rank=1, high=64)  # four ranks at the policy's rate: no rate pass
    assert least.extra_learning_rates == 0
    probes, seed, why = pattern_plan(least, (42,), affordable=1)
    assert probes == () and seed is None
    assert why == ("a one-seed ladder that tries no other learning rate has no second-seed pass, and the budget buys "
                   "about 1 probe by the first estimate of a probe's time where the ladder plans 4: a second seed at "
                   "rank 64, which the per-module pattern compares with the first, does not fit (give more "
                   "--budget-minutes for a pattern)")
    assert "(s)" not in why


def _pattern_words(state: LadderState) -> str:
    s = decide_spec(rate_first=True, seeds=(42,), second_seed=43, pattern_probes=("r64", "r64-s1"))
    seen = [base_obs()] + [obs(r, 2.0 + 0.1 / r) for r in (1, 4, 16, 64)]
    rec, _ = measured.recommendation(s, seen, state)
    return next(e.explanation for e in rec.evidence if e.source == "pattern")


def test_the_pattern_evidence_says_what_the_second_seed_pass_did():
    done = LadderState(done=True)
    skipped = done.with_pass(Pass(SECOND_SEED, skipped="the budget left (5 s) does not buy the second seed at "
                                                       "ranks 16, 64 (2 probes, about 10 s each)"))
    assert _pattern_words(skipped).startswith(
        "no per-module pattern: the second-seed pass, which would train r64-s1 (rank 64 with a second seed, the "
        "pattern's second adapter), did not run: the budget left (5 s) does not buy the second seed at ranks 16, 64 "
        "(2 probes, about 10 s each), so fewer than two adapters can be compared; every module keeps rank ")
    cut = done.with_pass(Pass(SECOND_SEED, specs=({"id": "r16-s1", "rank": 16, "lr": LR, "seed": 43},), ranks=(16,)))
    assert _pattern_words(cut).startswith(
        "no per-module pattern: the second-seed pass trained rank 16 again, not r64-s1 (rank 64 with a second seed, "
        "the pattern's second adapter), so fewer than two adapters")
    assert _pattern_words(done).startswith(
        "no per-module pattern: the ladder ended before its second-seed pass, which would train r64-s1 (rank 64 "
        "with a second seed, the pattern's second adapter), so fewer")
