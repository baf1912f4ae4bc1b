"""The probe ladder's decisions on known curves: successive halving, the next pass, the budget, and the
recommendation from what finished (a failed or cancelled probe widens the band; a failed base leaves the
prior). Pure: ProbeObs values built from known curves, as recommend.observe reads them from a run."""

from __future__ import annotations

import math

from lorplan.recommend import measured
from lorplan.recommend.decide import Budget, halving, next_pass, probe_specs, rank_curves
from lorplan.recommend.ladder_spec import LadderSpec, LadderState, Pass, Stop
from lorplan.recommend.observe import ProbeObs
from lorplan.recommend.types import LadderRow

LR = 1e-3


def spec(**kw) -> LadderSpec:
    base = dict(kind="data", model="tiny", spec_source="/nowhere", task="causal-lm", target_modules=("q_proj",),
                data={"task": "causal-lm", "trained_tokens": 50_000, "examples": 500},
                adapter={"model": "tiny", "targets": "q_proj", "per_rank": 1000, "fixed": 0, "min_dim": 64},
                learning_rate=LR, learning_rate_why="test rate", planned_steps=400, probe_steps=80,
                seeds=(0,), ranks=(1, 4, 16, 64), max_rank=64, budget_seconds=None, started=0.0)
    base.update(kw)
    return LadderSpec(**base)


def curve(final: float, start: float = 3.0, steps: int = 80, every: int = 10, k: float = 0.05):
    """A smooth curve falling from `start` toward `final` (exponential approach), eval every `every` steps."""
    return tuple((s, final + (start - final) * math.exp(-k * s)) for s in range(every, steps + 1, every))


def obs(rank, final=None, *, state="finished", upto=80, lr=LR, seed=0, wall=10.0, c=None, pid=None):
    pts = c if c is not None else (curve(final) if final is not None else ())
    pts = tuple(p for p in pts if p[0] <= upto)
    name = pid or (("base" if rank == 0 else f"r{rank}") + (f"-lr{lr:g}" if lr != LR else ""))
    return ProbeObs(id=name, rank=rank, lr=lr, seed=seed, state=state, step=pts[-1][0] if pts else 0,
                    curve=pts, train_seconds=5.0 if pts else None, wall_seconds=wall if state != "queued" else None,
                    trainable_params=1000 * rank)


def base_obs(loss=3.0):
    return ProbeObs(id="base", rank=0, lr=LR, seed=0, state="finished", step=0, curve=((0, loss),), wall_seconds=3)


def test_halving_stops_a_rank_whose_curve_cannot_reach_the_knee_and_keeps_one_that_may_be_best():
    s = spec()
    seen = [base_obs(), obs(16, 2.0), obs(1, 2.9, state="running", upto=40), obs(64, 1.99, state="running", upto=40)]
    stops, judged = halving(s, LadderState(), seen, 3.0, eval_every=10)
    assert [x.rank for x in stops] == [1]
    assert stops[0].step == 40 and "cannot reach the knee" in stops[0].reason
    assert "1@40" in judged and "64@40" in judged
    # judged once per rung: nothing new at the same steps
    again, more = halving(s, LadderState(stops=tuple(stops), judged=tuple(judged)), seen, 3.0, eval_every=10)
    assert again == [] and more == []


def test_halving_waits_for_enough_points_and_a_second_rank():
    s = spec()
    # three evals are too few to fit a curve (curves.MIN_POINTS = 4): no judgement yet
    assert halving(s, LadderState(), [base_obs(), obs(16, 2.0), obs(1, 2.9, state="running", upto=30)],
                   3.0, eval_every=10) == ([], [])
    # a lone rank has nothing to be compared with
    assert halving(s, LadderState(), [base_obs(), obs(1, 2.9, state="running", upto=40)], 3.0, 10) == ([], [])


def test_rank_curves_average_seeds_at_each_step():
    a = obs(4, 2.0, seed=0, pid="r4-s0")
    b = obs(4, 2.2, seed=1, pid="r4-s1")
    got = rank_curves([a, b], LR)[4]
    assert got[0][0] == 10.0 and math.isclose(got[0][1], (a.curve[0][1] + b.curve[0][1]) / 2)
    assert rank_curves([obs(4, 2.0, lr=3e-3)], LR) == {}


def test_next_pass_refines_around_the_knee_then_tries_two_learning_rates():
    s = spec()
    first = [base_obs(), obs(1, 2.6), obs(4, 2.02), obs(16, 2.0), obs(64, 2.0)]
    state = LadderState(passes=(Pass("first", probe_specs((0, 1, 4, 16, 64), s), (1, 4, 16, 64)),))
    knee = measured.ladder_knee(measured.ladder_rows(first, s, state), measured.base_measure(first, s)).rank
    assert knee == 4
    refine = next_pass(s, state, first, knee, now=100.0)
    assert refine.name == "refine" and refine.ranks == (2, 8) and refine.probes == ("r2", "r8")
    state = state.with_pass(refine)
    lrs = next_pass(s, state, first + [obs(2, 2.3), obs(8, 2.01)], knee, now=200.0)
    assert lrs.name == "learning rate" and lrs.ranks == (4,)
    assert [d["lr"] for d in lrs.specs] == [round(LR / 3, 12), round(LR * 3, 12)]
    assert lrs.probes == ("r4-lr0.00033", "r4-lr0.003")
    assert next_pass(s, state.with_pass(lrs), first, knee, now=300.0) is None


def test_next_pass_waits_while_probes_run_and_the_budget_decides_what_is_added():
    s = spec(budget_seconds=100.0, started=0.0)
    first = [base_obs(), obs(1, 2.6, wall=30.0), obs(4, 2.02, wall=30.0), obs(16, 2.0, wall=30.0)]
    state = LadderState(passes=(Pass("first"),))
    assert next_pass(s, state, first + [obs(64, 2.0, state="running", upto=20)], 4, now=10.0) is None
    # 40 s left buys one 30 s probe: the smaller neighbour (knee / 2) comes first
    one = next_pass(s, state, first, 4, now=60.0)
    assert one.ranks == (2,) and not one.skipped
    # 10 s left buys nothing: the pass is recorded as skipped, with the reason
    none = next_pass(s, state, first, 4, now=90.0)
    assert none.specs == () and "budget left (10 s)" in none.skipped
    assert Budget(None, None).affordable(5, 1) == 5 and Budget(0.0, 1.0).affordable(5, 1) == 0


def test_a_failed_probe_above_the_best_rank_widens_the_band_and_says_so():
    s = spec()
    state = LadderState(done=True)
    ok = [base_obs(), obs(1, 2.6), obs(4, 2.02), obs(16, 2.0)]
    rec, base = measured.recommendation(s, ok, state)
    assert base.loss == 3.0 and rec.rank == 4
    failed = ok + [ProbeObs(id="r64", rank=64, lr=LR, seed=0, state="failed", step=3, message="boom")]
    wide, _ = measured.recommendation(s, failed, state)
    assert wide.rank == 4 and wide.confidence[1] == 64 > rec.confidence[1]
    assert any("rank 64 failed" in e.explanation and "band reaches up to it" in e.explanation for e in wide.evidence)
    assert [r.state for r in wide.ladder] == ["finished", "finished", "finished", "failed"]


def test_a_spent_budget_and_halving_stops_are_in_the_evidence():
    s = spec(budget_seconds=60.0)
    seen = [base_obs(), obs(1, 2.6), obs(4, 2.02), obs(16, 2.0, state="cancelled", upto=50)]
    state = LadderState(stops=(Stop(1, 40, "cannot reach the knee: predicted 2.6"),), budget_spent=61.0, done=True)
    rec, _ = measured.recommendation(s, seen, state)
    words = " | ".join(e.explanation for e in rec.evidence)
    assert "budget (60 s) was spent after 61 s" in words and "rank 1 stopped at step 40" in words
    # rank 16 was cut at step 50 of 80: its curve is extrapolated to the planned 400 steps, and so are the rest
    r16 = next(r for r in rec.ladder if r.rank == 16)
    assert r16.steps == 50 and r16.predicted_loss is not None and r16.predicted_loss < r16.eval_loss
    assert "extrapolated" in words


def test_a_probe_cut_short_by_the_budget_is_not_compared_at_its_shorter_length():
    """Rank 16 was cancelled by the budget at step 40 of 80: its loss there (2.23) is from half the steps the
    others trained, and compared with them it made rank 16 look worse than rank 4 (2.02 at step 80). The knee
    rests on what finished; rank 16 counts among what did not, and since it might have done better the band
    reaches it. A rank stopped by halving keeps its loss (it lost where it stopped)."""
    s = spec(budget_seconds=60.0)
    cut = obs(16, state="cancelled", upto=40, c=curve(1.9, k=0.03))  # it would have reached 1.99 at step 80
    assert cut.eval_loss > 2.2  # what the cut curve reached, above rank 4's finished 2.02
    seen = [base_obs(), obs(1, 2.6, state="cancelled", upto=40), obs(4, 2.02), cut]
    state = LadderState(stops=(Stop(1, 40, "cannot reach the knee"),), budget_spent=61.0, done=True)
    rec, _ = measured.recommendation(s, seen, state)
    r16 = next(r for r in rec.ladder if r.rank == 16)
    assert r16.eval_loss == cut.eval_loss and r16.knee_loss is None and not r16.usable
    r1 = next(r for r in rec.ladder if r.rank == 1)
    assert r1.stopped_early and r1.knee_loss == r1.eval_loss  # halving's stop is a verdict: its loss counts
    assert rec.rank == 4 and rec.confidence[1] == 16
    words = " | ".join(e.explanation for e in rec.evidence)
    assert "1 probe did not finish (rank 16 was cancelled): the knee comes from what finished, and rank 16 " \
           "might have done better, so the band reaches up to it" in words
    knee_words = next(e.explanation for e in rec.evidence if e.source == "ladder" and e.rank == 4)
    assert "16:" not in knee_words.split("eval loss by rank")[1]  # the knee's own list leaves rank 16 out
    # a probe still running is not compared either: the provisional recommendation uses what finished
    running, _ = measured.recommendation(s, [base_obs(), obs(1, 2.6), obs(4, 2.02), obs(16, 1.9, state="running",
                                                                                        upto=40)], LadderState())
    assert running.rank == 4 and not next(r for r in running.ladder if r.rank == 16).usable


def test_without_a_base_the_prior_decides_and_says_why():
    s = spec()
    failed_base = ProbeObs(id="base", rank=0, lr=LR, seed=0, state="oom", step=0, message="does not fit")
    rec, base = measured.recommendation(s, [failed_base, obs(4, 2.0)], LadderState(done=True))
    assert base is None and len(rec.ladder) == 1
    assert any("base probe ran out of memory" in e.explanation for e in rec.evidence)
    assert rec.confidence == (rec.capacity["low"], rec.capacity["high"])


def test_the_knee_compares_ranks_at_the_common_rate_and_the_check_picks_the_rate():
    s = spec(planned_steps=80)  # the probes are the planned training: measured losses, nothing extrapolated
    seen = [base_obs(), obs(1, 2.6), obs(4, 2.03), obs(16, 2.0),
            obs(4, 1.9, lr=LR * 3), obs(4, 2.3, lr=LR / 3)]
    rec, _ = measured.recommendation(s, seen, LadderState(done=True))
    # at 1e-3 rank 4 reaches 97% of rank 16's improvement: the knee; the better rate tried at rank 4 alone does
    # not make rank 4 the best rank (which would raise the bar for the others)
    assert rec.rank == 4 and rec.learning_rate == LR * 3
    lr_words = next(e.explanation for e in rec.evidence if e.source == "learning rate")
    assert lr_words.startswith("learning rate 0.003: the lowest mean eval loss at rank 4")
    assert "compared at 0.001" in lr_words and "the highest rate tried, so the best rate may lie beyond it" in lr_words
    assert len(rec.ladder) == 5 and {r.learning_rate for r in rec.ladder} == {LR, LR * 3, LR / 3}


def test_extrapolation_follows_a_power_law_and_is_held_to_a_curve_that_has_flattened():
    power = tuple((t, 2.0 + 3.0 * t ** -0.5) for t in range(10, 81, 10))
    ex = measured.predicted(obs(4, c=power), 640)
    assert abs(ex.loss - (2.0 + 3.0 * 640 ** -0.5)) < 0.02  # the known curve's value at step 640
    flat = curve(2.6, k=0.05)  # converged by step 80: 2.620, 2.612, 2.607 at steps 60-80
    ex = measured.predicted(obs(1, c=flat), 640)
    # no more fall than its end slope in log t continued (-0.044 per unit of log t: 0.09 over log 8)
    assert flat[-1][1] - 0.1 < ex.loss < flat[-1][1] and "end slope" in ex.explanation
    assert measured.predicted(obs(1, c=flat), 80) is None  # it reached the planned length: nothing to predict


def test_a_classifier_base_says_the_rate_its_head_trained_at():
    """The head-alone base of a rate-first ladder trains with the learning-rate pass, before a rate is chosen:
    its sentence names the rate it trained at (it used to say "same learning rate" as the ranks)."""
    head = ProbeObs(id="base", rank=0, lr=3e-3, seed=0, state="finished", step=80, curve=curve(1.5), wall_seconds=3)
    base = measured.base_measure([head], spec(task="sequence-classification"))
    assert base is not None and base.loss == curve(1.5)[-1][1]
    assert "head trained alone (adapters frozen) for the probes' steps at learning rate 0.003" in base.explanation
    lm = measured.base_measure([base_obs()], spec())
    assert lm is not None and lm.explanation.endswith("the base model before any training step")


def test_a_budget_spent_before_any_probe_started_says_the_device_was_busy():
    s = spec(budget_seconds=120.0)
    waited = [ProbeObs(id=f"r{r}", rank=r, lr=LR, seed=0, state="cancelled", step=0) for r in (0, 1, 4, 16)]
    state = LadderState(budget_spent=121.0, done=True)
    rec, _ = measured.recommendation(s, waited, state)
    words = " | ".join(e.explanation for e in rec.evidence)
    assert "spent after 121 s: 4 probes were cancelled" in words and "no probe ever started" in words
    # once one probe has run, the ladder's own probes were the queue: nothing is said about another run
    ran = [ProbeObs(id="r0", rank=0, lr=LR, seed=0, state="finished", step=80, wall_seconds=30.0,
                    curve=((0, 3.0), (80, 2.9))), *waited[1:]]
    rec, _ = measured.recommendation(s, ran, state)
    assert "no probe ever started" not in " | ".join(e.explanation for e in rec.evidence)


def test_extrapolation_names_the_rate_and_seed_where_a_rank_has_several():
    """The rate pass trains one rank at three rates, and the second-seed pass a rank again: the extrapolation's
    words tell those probes apart (the H200 run printed "rank 4: …; rank 4: …; rank 4: …")."""
    from lorplan.recommend.measured import _extrapolation_evidence

    def row(lr, seed=0):
        return LadderRow(4, lr, 2.0, steps=80, seed=seed, predicted_loss=1.9, predicted_error=0.01)

    words = _extrapolation_evidence([row(3e-4), row(1e-3), row(3e-3)], spec()).explanation
    assert "rank 4 at lr 0.0003: 2 at step 80" in words and "rank 4 at lr 0.003:" in words
    words = _extrapolation_evidence([row(1e-3), row(1e-3, seed=1)], spec()).explanation
    assert "rank 4 (seed 0):" in words and "rank 4 (seed 1):" in words and "at lr" not in words
    words = _extrapolation_evidence([row(1e-3), LadderRow(16, 1e-3, 1.9, steps=80, predicted_loss=1.8,
                                                          predicted_error=0.01)], spec()).explanation
    assert "rank 4: 2 at step 80" in words and "seed" not in words
