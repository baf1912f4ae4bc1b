"""The ladder that chooses its learning rate first (LadderSpec.rate_first): the reference rank at three rates,
then every first-pass rank at the best of them, then the refinement at that rate; the knee compares the losses
the probes measured. Pure: ProbeObs values built from known curves, as recommend.observe reads them."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from test_ladder_decide import LR, curve
from test_ladder_decide import spec as decide_spec

from lorplan.recommend import measured
from lorplan.recommend.decide import chosen_rate, first_pass, halving, next_pass, rate_grid
from lorplan.recommend.ladder import plan_ladder, reference_rank
from lorplan.recommend.ladder_spec import LadderSpec, LadderState
from lorplan.recommend.observe import ProbeObs
from lorplan.recommend.types import LadderRow


def spec(**kw) -> LadderSpec:
    """test_ladder_decide's ladder (ranks 1, 4, 16, 64 at LR, probes of 80 steps), with the rate first."""
    return decide_spec(**{"rate_first": True, **kw})


LO, MID, HI = round(LR / 3, 12), LR, round(LR * 3, 12)  # recommend.decide.rate_grid of spec()


def probe(d: dict, final: float | None, *, state: str = "finished", upto: int = 80) -> ProbeObs:
    """A ProbeObs for a probe spec `d` (id, rank, lr, seed) whose curve falls toward `final`."""
    pts = tuple(p for p in curve(final) if p[0] <= upto) if final is not None else ((0, 3.0),)
    return ProbeObs(id=d["id"], rank=d["rank"], lr=d["lr"], seed=d["seed"] or 0, state=state,
                    step=pts[-1][0], curve=pts, train_seconds=5.0, wall_seconds=10.0,
                    trainable_params=1000 * d["rank"])


def test_reference_rank_is_the_first_pass_rank_in_the_middle():
    assert reference_rank((1, 4, 16, 64)) == 4  # 4 and 16 are as far from 8: the smaller
    assert reference_rank((2, 8, 32)) == 8
    assert reference_rank((1, 4)) == 1
    assert reference_rank((4, 16, 64, 256)) == 16
    # a ladder's reference is derived from its first-pass ranks, and only with rate_first
    assert spec().reference_rank == 4 and spec(rate_first=False).reference_rank is None


def test_plan_ladder_spends_the_two_extra_rates_before_the_refinement():
    full = plan_ladder(10_000, 100, prior_rank=1, high=64)
    assert (full.extra_learning_rates, full.refine, full.reference) == (2, 2, 4)
    assert "rank 4 at three learning rates first, then ranks 1, 16, 64 at the best of them" in full.explanation
    # a budget for the ranks and two more probes: the rates, not the refinement
    tight = plan_ladder(600, 100, prior_rank=1, high=64)
    assert (len(tight.ranks), tight.extra_learning_rates, tight.refine) == (4, 2, 0)
    # one probe fewer: the rates still, and three ranks around the prior instead of four
    short = plan_ladder(500, 100, prior_rank=1, high=64)
    assert (short.ranks, short.extra_learning_rates, short.refine, short.reference) == ((1, 4, 16), 2, 0, 4)
    # four probes: the ranks, each at the policy's rate, no reference
    least = plan_ladder(400, 100, prior_rank=1, high=64)
    assert (least.ranks, least.extra_learning_rates, least.reference) == ((1, 4, 16, 64), 0, None)
    assert "at the policy's learning rate" in least.explanation


def test_first_pass_is_the_base_and_the_reference_rank_at_three_rates():
    s = spec()
    p = first_pass(s)
    assert p.name == "learning rate" and p.ranks == (4,)
    assert [(d["rank"], d["lr"]) for d in p.specs] == [(0, LR), (4, LO), (4, MID), (4, HI)]
    assert rate_grid(s) == (LO, MID, HI) and math.isclose(LO * 3, LR)
    assert len({d["id"] for d in p.specs}) == 4
    # a ladder without rate_first starts with every rank at the policy's rate, largest first
    old = first_pass(spec(rate_first=False))
    assert old.name == "first" and [d["rank"] for d in old.specs] == [0, 64, 16, 4, 1]


def _run_lr_pass(s, losses: dict[float, float]):
    p = first_pass(s)
    obs = [probe(d, losses.get(d["lr"]) if d["rank"] else None) for d in p.specs]
    return LadderState(passes=(p,)), obs


def test_the_best_rate_at_the_reference_rank_is_the_rate_every_rank_runs_at():
    s = spec()
    state, obs = _run_lr_pass(s, {LO: 2.5, LR: 2.2, HI: 2.1})
    rate, why = chosen_rate(s, obs)
    assert math.isclose(rate, HI) and "rank 4" in why
    assert state.ladder_rate(s) == LR  # not chosen until the ranks pass starts
    nxt = next_pass(s, state, obs, knee_rank=None, now=0.0)
    assert nxt.name == "first" and math.isclose(nxt.learning_rate, HI)
    assert [d["rank"] for d in nxt.specs] == [64, 16, 1]  # the reference is measured at that rate already
    assert all(math.isclose(d["lr"], HI) for d in nxt.specs)
    assert [d["id"] for d in nxt.specs] == ["r64", "r16", "r1"]
    state = state.with_pass(nxt)
    assert math.isclose(state.ladder_rate(s), HI)
    # the state's JSON keeps the chosen rate (a restarted driver goes on at it)
    assert math.isclose(LadderState.from_json(state.to_json()).ladder_rate(s), HI)


def test_a_lower_rate_wins_ties_and_a_pass_with_nothing_finished_keeps_the_policy_rate():
    s = spec()
    _, obs = _run_lr_pass(s, {LO: 2.2, LR: 2.2, HI: 2.2})
    assert math.isclose(chosen_rate(s, obs)[0], LO)
    failed = [ProbeObs(id=o.id, rank=o.rank, lr=o.lr, seed=0, state="failed" if o.rank else o.state, step=0,
                       curve=o.curve if not o.rank else ()) for o in obs]
    rate, why = chosen_rate(s, failed)
    assert rate == LR and "no probe of the learning-rate pass" in why


def test_the_whole_ladder_recommends_the_knee_at_the_chosen_rate_and_refines_there():
    s = spec()
    state, obs = _run_lr_pass(s, {LO: 2.6, LR: 2.3, HI: 2.03})
    nxt = next_pass(s, state, obs, None, now=0.0)
    state = state.with_pass(nxt)
    finals = {64: 2.0, 16: 2.0, 1: 2.6}
    obs += [probe(d, finals[d["rank"]]) for d in nxt.specs]
    rec, base = measured.recommendation(s, obs, state)
    assert rec.rank == 4 and math.isclose(rec.learning_rate, HI)
    lr_words = next(e.explanation for e in rec.evidence if e.source == "learning rate")
    assert "tried before the ranks were compared" in lr_words
    assert lr_words.endswith("it is the highest rate tried, so the best rate may lie beyond it")
    # the knee compared ranks at the chosen rate only: rank 4's other rates are in the ladder, not the knee
    assert {r.learning_rate for r in rec.ladder if r.rank == 4} == {LO, LR, HI}
    knee = measured.ladder_knee([r for r in rec.ladder if math.isclose(r.learning_rate, HI)], base)
    refine = next_pass(s, state, obs, knee.rank, now=0.0)
    assert refine.name == "refine" and refine.ranks == (2, 8)
    assert all(math.isclose(d["lr"], HI) for d in refine.specs)
    state = state.with_pass(refine)
    obs += [probe(d, {2: 2.3, 8: 2.05}[d["rank"]]) for d in refine.specs]
    assert next_pass(s, state, obs, 4, now=0.0) is None  # no learning-rate pass after the refinement
    out = measured.recommendation_json(s, obs, state)
    assert math.isclose(out["ladder_learning_rate"], HI)


def test_halving_compares_ranks_at_the_chosen_rate_at_the_probes_length():
    s = spec()
    state, obs = _run_lr_pass(s, {LO: 2.6, LR: 2.3, HI: 2.0})
    nxt = next_pass(s, state, obs, None, now=0.0)
    state = state.with_pass(nxt)
    live = [probe(d, {64: 1.99, 16: 2.0, 1: 2.9}[d["rank"]], state="running", upto=40) for d in nxt.specs]
    stops, _ = halving(s, state, obs + live, 3.0, eval_every=10)
    assert [x.rank for x in stops] == [1]
    assert "at step 80" in stops[0].reason  # extrapolated to the probes' length, not the planned 400


def test_the_knee_compares_measured_losses_not_extrapolations():
    row = LadderRow(rank=4, learning_rate=LR, eval_loss=2.0, predicted_loss=1.5, predicted_error=0.1)
    assert row.knee_loss == 2.0


@pytest.mark.parametrize("losses", [{LO: 2.1, LR: 2.2, HI: 2.3}])
def test_the_pattern_probes_second_seed_runs_with_the_ranks_at_the_chosen_rate(losses):
    s = spec(pattern_probes=("r64", "r64-s1"), pattern_seed=7)
    state, obs = _run_lr_pass(s, losses)
    nxt = next_pass(s, state, obs, None, now=0.0)
    second = [d for d in nxt.specs if d["id"] == "r64-s1"]
    assert second == [{"id": "r64-s1", "rank": 64, "lr": LO, "seed": 7}]
    assert "r64" in {d["id"] for d in nxt.specs}


def test_the_refinement_looks_above_a_best_rank_at_the_top_of_the_ladder():
    """A first pass whose largest rank is still the best: the refinement adds best × 2 after knee / 2 and
    knee × 2 (the knee is measured against the best rank), and the budget cuts it first."""
    s = spec(ranks=(2, 8, 32), max_rank=64)
    state, obs = _run_lr_pass(s, {LO: 2.6, LR: 2.03, HI: 2.3})
    nxt = next_pass(s, state, obs, None, now=0.0)
    state = state.with_pass(nxt)
    obs += [probe(d, {2: 2.6, 32: 2.0}[d["rank"]]) for d in nxt.specs]
    rec, base = measured.recommendation(s, obs, state)
    knee = measured.ladder_knee([r for r in rec.ladder if math.isclose(r.learning_rate, LR)], base)
    assert (knee.rank, knee.best_rank) == (8, 32)
    refine = next_pass(s, state, obs, knee.rank, now=0.0, best_rank=knee.best_rank)
    assert refine.name == "refine" and refine.ranks == (4, 16, 64)
    assert [d["rank"] for d in refine.specs] == [4, 16, 64]
    without = next_pass(s, state, obs, knee.rank, now=0.0)
    assert without.ranks == (4, 16)


def _through_refine(s: LadderSpec, finals: dict[int, float]):
    """The ladder on `s` through its refinement, every rank falling toward finals[rank] at the middle rate
    (the rate pass's winner), the base at 3.0. Returns (state, obs, the knee after the refinement)."""
    state, obs = _run_lr_pass(s, {LO: finals[4] + 0.3, LR: finals[4], HI: finals[4] + 0.2})
    first = next_pass(s, state, obs, None, now=0.0)
    state = state.with_pass(first)
    obs += [probe(d, finals[d["rank"]]) for d in first.specs]
    rec, base = measured.recommendation(s, obs, state)
    knee = measured.ladder_knee(rec.ladder, base)
    refine = next_pass(s, state, obs, knee.rank, now=0.0, best_rank=knee.best_rank)
    state = state.with_pass(refine)
    obs += [probe(d, finals[d["rank"]]) for d in refine.specs]
    rec, base = measured.recommendation(s, obs, state)
    return state, obs, rec, measured.ladder_knee(rec.ladder, base)


# the first pass (1, 4, 16, 64) puts the knee at 16, the refinement (8, 32) at 8: rank 8 reaches 97% of the best
# improvement at the probes' length, rank 4 70%; the losses never rise with rank, so the band is the knee alone
FINALS = {1: 2.9, 2: 2.6, 4: 2.3, 8: 2.03, 16: 2.01, 32: 2.0, 64: 2.0}


def test_a_one_seed_ladder_ends_with_a_second_seed_at_the_ranks_that_can_still_be_the_knee():
    s = spec(second_seed=43)
    state, obs, rec, knee = _through_refine(s, FINALS)
    assert knee.rank == 8 and rec.confidence[0] == 8
    last = next_pass(s, state, obs, knee.rank, now=0.0, best_rank=knee.best_rank, band_low=rec.confidence[0])
    assert last.name == "second seed" and not last.skipped
    # every rank measured at the ladder's rate from the band's low end (8) up, nearest the knee first (the budget
    # cuts from the end), each with the second seed at that rate; ranks 1-4 lie below the band
    assert [d["rank"] for d in last.specs] == [8, 16, 32, 64] and last.ranks == (8, 16, 32, 64)
    assert {(d["lr"], d["seed"]) for d in last.specs} == {(LR, 43)}
    assert [d["id"] for d in last.specs] == ["r8-s1", "r16-s1", "r32-s1", "r64-s1"]
    # the band's low end comes from the caller: from 2 up, rank 4 is checked too (2 was never measured)
    wider = next_pass(s, state, obs, knee.rank, now=0.0, best_rank=knee.best_rank, band_low=2)
    assert [d["rank"] for d in wider.specs] == [8, 4, 16, 32, 64]
    # once those probes ran, the ladder is done, and the knee compares means of two seeds there
    state = state.with_pass(last)
    obs += [probe(d, FINALS[d["rank"]] + 0.01) for d in last.specs]
    assert next_pass(s, state, obs, 8, now=0.0, band_low=8) is None
    rec, base = measured.recommendation(s, obs, state)
    two = [r for r in rec.ladder if r.rank == 16 and math.isclose(r.learning_rate, LR)]
    assert sorted(r.seed for r in two) == [0, 43]
    knee_words = next(e.explanation for e in rec.evidence if e.explanation.startswith("knee at rank"))
    assert "Ranks 1, 4 ran with one seed" in knee_words


def test_no_second_seed_pass_without_a_second_seed_a_knee_a_rank_to_check_or_the_budget():
    finals = FINALS
    # ladders with several seeds per probe, and those written before the pass existed, have no second_seed
    s = spec()
    state, obs, rec, knee = _through_refine(s, finals)
    assert next_pass(s, state, obs, knee.rank, now=0.0, band_low=rec.confidence[0]) is None
    s = spec(second_seed=43)
    state, obs, rec, knee = _through_refine(s, finals)
    none = next_pass(s, state, obs, None, now=0.0)
    assert none.name == "second seed" and not none.specs and "no knee" in none.skipped
    # a rank the second seed already trained (the top rank's second pattern probe) is not trained again
    obs2 = obs + [probe({"id": "r64-s1", "rank": 64, "lr": LR, "seed": 43}, 2.0)]
    again = next_pass(s, state, obs2, knee.rank, now=0.0, band_low=8)
    assert [d["rank"] for d in again.specs] == [8, 16, 32]
    # a stopped rank is not checked
    from lorplan.recommend.ladder_spec import Stop

    stopped = LadderState(passes=state.passes, stops=(Stop(16, 40, "test"),))
    assert [d["rank"] for d in next_pass(s, stopped, obs, knee.rank, now=0.0, band_low=8).specs] == [8, 32, 64]
    # the budget: 10 s per probe, 25 s left buys the two ranks nearest the knee; 5 s left buys none, and says so
    s = spec(second_seed=43, budget_seconds=100.0)
    cut = next_pass(s, state, obs, knee.rank, now=75.0, band_low=8)
    assert [d["rank"] for d in cut.specs] == [8, 16]
    spent = next_pass(s, state, obs, knee.rank, now=95.0, band_low=8)
    assert not spent.specs and "does not buy" in spent.skipped and "does not buy the second seed at ranks 8, 16, 32, 64 (" in spent.skipped
    words = [e.explanation for e in measured.recommendation(s, obs, state.with_pass(spent))[0].evidence]
    assert any(w.startswith("no second seed pass: the budget left") for w in words)


def test_the_ranks_pass_buys_what_the_timed_rate_probes_say_the_budget_left_affords():
    """On the H200 a 2-minute ladder's rate probes took 25 s each where the first estimate said 16: the ranks
    queued after them were all cancelled half-way. The ranks pass now keeps what the measured probe time
    affords, the ranks nearest the reference first (the larger of two as near), and says so when none fits."""
    s = spec(budget_seconds=100.0)
    state, obs = _run_lr_pass(s, {LO: 2.5, LR: 2.2, HI: 2.1})  # every probe took 10 s of wall time

    def ranks_at(now):
        return next_pass(s, state, obs, knee_rank=None, now=now)

    assert [d["rank"] for d in ranks_at(0.0).specs] == [64, 16, 1]  # the budget is whole: every rank
    assert [d["rank"] for d in ranks_at(75.0).specs] == [16, 1]  # 25 s left: two probes of 10 s
    one = ranks_at(85.0)  # 15 s: one, the larger of the two ranks ×4 from the reference
    assert [d["rank"] for d in one.specs] == [16] and one.ranks == (16,) and math.isclose(one.learning_rate, HI)
    none = ranks_at(95.0)
    assert none.name == "first" and not none.specs and math.isclose(none.learning_rate, HI)
    assert "the budget left (5 s) does not buy the ranks 1, 16, 64 at learning rate" in none.skipped
    assert "(3 probes, about 10 s each)" in none.skipped
    # the recommendation then rests on the reference rank and says why no other rank was measured
    state = state.with_pass(none)
    assert math.isclose(state.ladder_rate(s), HI)
    rec, _ = measured.recommendation(s, obs, state)
    assert rec.rank == 4 and any("no first pass: only rank 4 was measured" in e.explanation for e in rec.evidence)
    # without a budget nothing is cut
    free = spec(budget_seconds=None)
    state, obs = _run_lr_pass(free, {LO: 2.5, LR: 2.2, HI: 2.1})
    assert [d["rank"] for d in next_pass(free, state, obs, None, now=1e6).specs] == [64, 16, 1]


def test_a_ladder_cancelled_during_the_rate_pass_compares_what_finished_at_its_best_rate():
    """A user cancelled a ladder while the rate pass ran: the probe at the policy's rate was cancelled, the
    other two had finished. The recommendation fell back to the capacity prior and said "the base's eval loss
    is not measured yet" beside a table showing the base measured; and its pattern line still said it was
    comparing adapters, of pattern probes the ladder would never run."""
    s = spec(pattern_probes=("r64", "r64-s1"))
    state, obs = _run_lr_pass(s, {LO: 2.5, HI: 2.1})
    obs = [replace(o, state="cancelled", step=0, curve=()) if o.rank and o.lr == MID else o for o in obs]
    rec, base = measured.recommendation(s, obs, state)  # still running: the prior, saying what it waits for
    assert base is not None and rec.rank == 64  # the prior: 50,000 tokens / 1,000 parameters per rank
    ladder_words = next(e.explanation for e in rec.evidence if e.source == "ladder")
    assert ladder_words.startswith(f"no probe at learning rate {MID:g}, the rate the ladder compares ranks at")
    assert next(e.explanation for e in rec.evidence if e.source == "pattern") == (
        "per-module pattern: waiting for the ladder to run its pattern probes")
    done = replace(state, done=True, cancelled=7.0)
    rec, base = measured.recommendation(s, obs, done)
    assert rec.rank == 4 and math.isclose(rec.learning_rate, HI)
    words = [e.explanation for e in rec.evidence]
    assert any(w.startswith(f"the ladder ended before a probe at learning rate {MID:g} finished, so the ranks that "
                            f"finished are compared at {HI:g}") for w in words)
    assert not any("not measured yet" in w for w in words)
    assert next(e.explanation for e in rec.evidence if e.source == "pattern") == (
        "no per-module pattern: the ladder ended before probes r64, r64-s1 ran, so fewer than two adapters can "
        "be compared; every module keeps rank 4")
    # the JSON keeps when the user cancelled, and the text says so where it said only "done"
    from lorplan.recommend.table import render_ladder

    out = measured.recommendation_json(s, obs, done, run_id="R")
    # the state `lorplan probe status` gives the ladder's run (its "ladder": {"state": "cancelled"})
    assert out["state"] == "cancelled" and out["cancelled_after"] == 7.0
    assert render_ladder(out).splitlines()[0].endswith(
        "run R: cancelled by the user after 7 s (the recommendation rests on what finished)")
    ended = measured.recommendation_json(s, obs, replace(done, cancelled=None))
    assert ended["cancelled_after"] is None and ended["state"] == "done"
    assert render_ladder(measured.recommendation_json(s, obs, replace(done, cancelled=None), run_id="R")
                         ).splitlines()[0].endswith("run R: done")


def test_a_ladder_whose_budget_bought_one_rank_says_so_and_what_budget_buys_the_ranks():
    """A 4-minute ladder on a busy 2-core machine (sentiment.jsonl) bought the learning-rate pass alone: rank 16 at
    three rates. The table marked rank 16 "<- knee" though nothing was compared with it, and nothing said what
    budget would have bought the ranks. Now the ranks pass says only the reference rank was measured and the
    --budget-minutes that buys it from the measured probe time, the headline says it, and the table marks the
    rank recommended as the only one measured."""
    from lorplan.recommend.table import render_ladder

    s = spec(budget_seconds=100.0)
    state, obs = _run_lr_pass(s, {LO: 2.5, LR: 2.2, HI: 2.1})  # every probe took 10 s of wall time
    none = next_pass(s, state, obs, knee_rank=None, now=95.0)  # 5 s left; 3 probes of 10 s: 95 + 30 s = 3 minutes
    assert none.budget_minutes == 3 and not none.specs
    assert none.skipped.startswith("only rank 4 was measured, so no other rank was compared with it: the budget "
                                   "left (5 s) does not buy the ranks 1, 16, 64"), none.skipped
    assert none.skipped.endswith("; --budget-minutes 3 would buy them (95 s to here and 30 s for these probes at "
                                 "their measured time)"), none.skipped
    done = replace(state.with_pass(none), done=True)
    obj = measured.recommendation_json(s, obs, done)
    assert obj["passes"][-1]["budget_minutes"] == 3
    text = render_ladder(obj)
    lines = text.splitlines()
    assert lines[5] == ("  budget          the 1.67-minute budget bought rank 4 alone (the learning-rate pass); "
                        "--budget-minutes 3 buys the ranks pass, at the probes' measured time"), text
    assert "--budget-minutes 3 buys the ranks pass" in " ".join(text.split())
    row = next(ln for ln in lines if ln.split()[:2] == ["4", f"{HI:.3g}"])
    assert row.endswith("<- recommended (the only rank measured)"), row
    assert "<- knee" not in text
    # a ladder that measured several ranks has no such line
    full = next_pass(s, state, obs, knee_rank=None, now=0.0)
    assert full.budget_minutes is None and "budget_minutes" not in full.to_json()
