"""The ladder's pattern check: one probe trains the recommended pattern beside the one-rank probe it would replace,
and the pattern is offered only if it is better beyond the noise (recommend.measured)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from test_allocate import planted
from test_ladder_decide import LR, base_obs, obs, spec

from lorplan.core.errors import BadInput
from lorplan.probe.runs import ProbeSpec, RunPlan
from lorplan.recommend import measured
from lorplan.recommend.allocate import signals_to_json
from lorplan.recommend.ladder_spec import LadderState, Pass
from lorplan.recommend.observe import rank_probes

SIGNALS = signals_to_json(planted(2), 2, ("r2", "r2-s1"))


def test_the_verdict_keeps_a_pattern_only_beyond_the_noise():
    kept = measured.pattern_check(2.0, 2.5, 0.1, 8)  # 0.5 better; noise √2 × 0.1
    assert kept.keep and kept.error == pytest.approx(0.1414, abs=1e-4)
    assert "better beyond the noise" in kept.text and "eval loss 2, against 2.5 with rank 8" in kept.text
    close = measured.pattern_check(2.45, 2.5, 0.1, 8)  # better, but within the noise of two one-seed losses
    assert not close.keep and "not offered" in close.text and "keeps rank 8" in close.text
    worse = measured.pattern_check(2.6, 2.5, 0.0, 8)  # no noise estimate: worse is still worse
    assert not worse.keep and "no noise estimate" in worse.text
    assert measured.pattern_check(2.49, 2.5, None, 8).keep  # no noise estimate: any gain counts


def ladder(pattern_loss=None, pattern_state="finished", top_loss=1.47, **kw):
    """A finished ladder at LR: base 3.0, ranks 1/4/16/64 with the knee at 4, and the state with a pattern check
    pass when pattern_loss is given (its probe at rank 4). top_loss above rank 16's 1.48 gives the ladder a
    one-seed noise estimate (a loss that rises with rank)."""
    s = spec(**kw)
    o = [base_obs(), obs(1, 2.0), obs(4, 1.50), obs(16, 1.48), obs(64, top_loss)]
    passes = (Pass("first", specs=tuple({"id": x.id, "rank": x.rank, "lr": x.lr, "seed": 0} for x in o)),)
    if pattern_loss is not None:
        check = replace(obs(4, pattern_loss, state=pattern_state, pid="r4-pattern"), pattern=True)
        o.append(check)
        passes += (Pass(measured.PATTERN_CHECK, specs=({"id": "r4-pattern", "rank": 4, "lr": LR, "seed": 0,
                                                        "rank_pattern": {"v_proj": 8}},), ranks=(4,)),)
    return s, tuple(o), LadderState(passes=passes, done=True)


def test_the_check_pass_trains_the_recommended_pattern_beside_its_one_rank_twin():
    s, o, state = ladder()
    rec, _ = measured.recommendation(s, o, state, signals=SIGNALS)
    assert rec.rank_pattern  # measured, not checked yet: offered as before
    check = measured.pattern_check_pass(s, state, o, rec, now=100.0)
    assert check.name == measured.PATTERN_CHECK and not check.skipped
    (d,) = check.specs
    assert d == {"id": f"r{rec.rank}-pattern", "rank": rec.rank, "lr": LR, "seed": 0, "rank_pattern": rec.rank_pattern}
    json.dumps(check.to_json())  # it goes into ladder-state.json
    # decided once: with the pass in the state there is nothing more to add
    assert measured.pattern_check_pass(s, state.with_pass(check), o, rec, now=100.0) is None
    # no pattern, nothing to check
    assert measured.pattern_check_pass(s, state, o, replace(rec, rank_pattern={}), now=100.0) is None


def test_the_check_is_skipped_without_a_twin_or_time_for_one_probe():
    s, o, state = ladder()
    rec, _ = measured.recommendation(s, o, state, signals=SIGNALS)
    other = replace(rec, learning_rate=LR * 3)  # no one-rank probe at that rate
    assert "no finished probe trained rank" in measured.pattern_check_pass(s, state, o, other, now=100.0).skipped
    short = replace(s, budget_seconds=105.0)  # 5 s left at now=100; the twin took 10 s
    got = measured.pattern_check_pass(short, state, o, rec, now=100.0)
    assert not got.specs and "budget left (5 s) is shorter than the probe" in got.skipped
    # and the recommendation says so in its pattern evidence, keeping the measured pattern offered
    rec2, _ = measured.recommendation(s, o, state.with_pass(got), signals=SIGNALS)
    text = next(e.explanation for e in rec2.evidence if e.source == "pattern")
    assert rec2.rank_pattern and "not checked by a probe" in text and measured.PATTERN_OFFERED in text


def test_a_pattern_that_does_not_beat_one_rank_is_not_offered():
    s, o, state = ladder(pattern_loss=1.60)  # worse than rank 4's 1.50
    rec, _ = measured.recommendation(s, o, state, signals=SIGNALS)
    assert rec.rank == 4 and rec.rank_pattern == {}
    ev = next(e for e in rec.evidence if e.source == "pattern")
    assert ev.rank == 4 and "not offered" in ev.explanation and "1.6" in ev.explanation
    assert "The pattern measured was: per-module ranks" in ev.explanation
    # the check probe is no rank probe: the ladder rows and the knee do not see it
    assert [r.rank for r in rec.ladder].count(4) == 1
    assert measured.recommendation_json(s, o, state, signals=SIGNALS)["probes"][-1]["pattern"] is True


def test_a_pattern_that_beats_one_rank_beyond_the_noise_is_offered_as_checked():
    s, o, state = ladder(pattern_loss=1.10)  # far below rank 4's 1.50
    rec, _ = measured.recommendation(s, o, state, signals=SIGNALS)
    assert rec.rank_pattern
    text = next(e.explanation for e in rec.evidence if e.source == "pattern")
    # these losses never rise with rank, so the ladder has no one-seed noise estimate: any gain counts, and
    # the evidence says it was judged without one
    assert "checked on your data" in text and "no noise estimate to judge" in text and measured.PATTERN_OFFERED in text
    assert not rec.pattern_checked  # offered, not applied: nothing to judge the gain by


def test_a_pattern_checked_beyond_a_measured_noise_is_applied():
    s, o, state = ladder(pattern_loss=1.10, top_loss=1.53)  # rank 64 above rank 16: a one-seed noise estimate
    rec, _ = measured.recommendation(s, o, state, signals=SIGNALS)
    text = next(e.explanation for e in rec.evidence if e.source == "pattern")
    assert rec.rank == 4 and rec.rank_pattern and rec.pattern_checked
    assert "better beyond the noise" in text and measured.PATTERN_APPLIED in text
    assert measured.PATTERN_OFFERED not in text
    back = type(rec).from_json(json.loads(json.dumps(rec.to_json())))
    assert back.pattern_checked and back == rec
    # within that noise it is dropped, and with no noise estimate a gain is offered, not applied
    close, _ = measured.recommendation(s, ladder(pattern_loss=1.49, top_loss=1.53)[1], state, signals=SIGNALS)
    assert not close.rank_pattern and not close.pattern_checked
    unjudged, _ = measured.recommendation(*ladder(pattern_loss=1.10), signals=SIGNALS)
    assert unjudged.rank_pattern and not unjudged.pattern_checked
    with pytest.raises(BadInput, match="pattern_checked"):
        replace(rec, rank_pattern={})


@pytest.mark.parametrize("state_name, words", [("running", "being checked"), ("failed", "not checked: the pattern "
                                                                                         "probe r4-pattern failed")])
def test_a_check_that_has_not_finished_keeps_the_pattern_offered(state_name, words):
    s, o, state = ladder(pattern_loss=1.10, pattern_state=state_name)
    rec, _ = measured.recommendation(s, o, state, signals=SIGNALS)
    text = next(e.explanation for e in rec.evidence if e.source == "pattern")
    assert rec.rank_pattern and words in text and not rec.pattern_checked


def test_rank_probes_leave_out_the_pattern_check():
    o = (base_obs(), obs(4, 1.5), replace(obs(4, 1.1, pid="r4-pattern"), pattern=True))
    assert [x.id for x in rank_probes(o)] == ["base", "r4"]


def test_a_probe_spec_carries_its_pattern_through_the_run_plan(tmp_path):
    p = ProbeSpec("r4-pattern", 4, LR, 0, {"v_proj": 8, "q_proj": 1})
    plan = RunPlan(run="x", created=0.0, probes=(ProbeSpec("r4", 4), p))
    back = RunPlan.from_json(json.loads(json.dumps(plan.to_json())))
    assert back.probe("r4-pattern").rank_pattern == {"v_proj": 8, "q_proj": 1} and back.probe("r4").rank_pattern is None
    hash(back)  # a RunPlan stays hashable with a pattern in it
    with pytest.raises(BadInput, match="rank_pattern"):
        ProbeSpec("bad", 4, rank_pattern={"v_proj": 0})


def test_the_probe_trains_exactly_its_pattern():
    from pathlib import Path
    from types import MappingProxyType

    from lorplan.core.plan import read_plan
    from lorplan.probe import runner
    from lorplan.probe.plans import base_plan, plan_settings, probe_plan

    plan = read_plan(Path(__file__).resolve().parents[2] / "sample_configs" / "smollm2-135m-cpu.toml")
    plan = replace(plan, lora=replace(plan.lora, r=16, alpha=32, rank_pattern=MappingProxyType({"q_proj": 32})),
                   estimate=None)
    run = runner.make_plan((4,), (1e-3,), steps=7, **plan_settings(plan))
    plain = probe_plan(base_plan(run), run, ProbeSpec("r4", 4), "cpu")
    assert plain.lora.r == 4 and dict(plain.lora.rank_pattern) == {"q_proj": 8}  # the base's, scaled to r4
    own = probe_plan(base_plan(run), run, ProbeSpec("r4-pattern", 4, rank_pattern={"v_proj": 8}), "cpu")
    assert own.lora.r == 4 and dict(own.lora.rank_pattern) == {"v_proj": 8} and own.lora.alpha == plain.lora.alpha


def test_one_seed_spread_takes_the_larger_of_the_seeds_and_the_curve():
    """The noise of one seed's loss: pooled over ranks that ran several seeds (a standard deviation, not a mean's
    standard error), or from one-seed losses that rise with rank; the larger when both exist."""
    from lorplan.recommend.types import LadderRow

    def row(rank, loss, seed=0, lr=LR):
        return LadderRow(rank=rank, learning_rate=lr, eval_loss=loss, seed=seed)

    falling = [row(1, 2.0), row(4, 1.5), row(16, 1.4)]
    assert measured.one_seed_spread(falling, LR) == 0.0  # never rises, no seed pair: the curve says no noise
    paired = falling + [row(16, 1.6, seed=1)]  # rank 16 with two seeds: their spread, sd = 0.1 × √2
    assert measured.one_seed_spread(paired, LR) == pytest.approx(0.1414, abs=1e-4)
    rising = [row(1, 2.0), row(4, 1.5), row(16, 1.9)]  # rank 16 above rank 4: the curve's estimate
    assert measured.one_seed_spread(rising, LR) > 0.1
    assert measured.one_seed_spread(paired, LR * 3) is None  # nothing measured at that rate
