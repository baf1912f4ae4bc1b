"""The knee on known sweeps: the 95%-of-improvement definition, best learning rate per rank, seed means,
ties, noise bands, non-monotone curves, a single rank, unmeasured ranks and failed probes."""

from __future__ import annotations

import math

import pytest

from lorplan.core.errors import BadInput
from lorplan.recommend.knee import find_knee, one_seed_noise, seeds_per_rank, single_seed_error, summarize
from lorplan.recommend.types import LadderRow


def sweep(losses: dict[int, float | list[float]], lr: float = 1e-3) -> list[LadderRow]:
    rows = []
    for rank, value in losses.items():
        for seed, loss in enumerate(value if isinstance(value, list) else [value]):
            rows.append(LadderRow(rank=rank, learning_rate=lr, eval_loss=loss, seed=seed))
    return rows


def test_knee_is_smallest_rank_with_95_percent_of_the_best_improvement():
    # base 3.0, best 2.0 (improvement 1.0): the threshold is 2.05
    k = find_knee(sweep({1: 2.5, 2: 2.2, 4: 2.06, 8: 2.04, 16: 2.01, 32: 2.0}), 3.0, untested_floor=None)
    assert k.rank == 8 and k.best_rank == 32
    assert k.threshold == pytest.approx(2.05)
    assert k.share(4) == pytest.approx(0.94) and k.share(8) == pytest.approx(0.96)
    assert (k.low, k.high) == (8, 8)  # one seed: no noise band; every rank below was measured
    assert "smallest rank whose improvement over the base model's eval loss is at least 95%" in k.explanation


def test_exactly_95_percent_counts():
    k = find_knee(sweep({2: 2.5, 4: 2.05, 8: 2.0}), 3.0)
    assert k.rank == 4


def test_best_learning_rate_per_rank_and_mean_over_seeds():
    rows = sweep({4: [2.4, 2.6], 16: [2.0, 2.2]}, lr=1e-3) + sweep({4: [2.0, 2.1], 16: [2.5, 2.5]}, lr=1e-4)
    ranks = {s.rank: s for s in summarize(rows)}
    assert ranks[4].learning_rate == 1e-4 and ranks[4].mean_loss == pytest.approx(2.05)
    assert ranks[16].learning_rate == 1e-3 and ranks[16].mean_loss == pytest.approx(2.1)
    assert ranks[4].stderr == pytest.approx(0.05) and ranks[4].seeds == 2
    assert ranks[4].learning_rates == (1e-4, 1e-3)
    k = find_knee(rows, 3.0)
    assert k.best_rank == 4 and k.rank == 4  # rank 4 at its best rate beats rank 16 at its best


def test_ties_take_the_smallest_rank():
    k = find_knee(sweep({4: 2.0, 8: 2.0, 16: 2.0}), 3.0)
    assert k.best_rank == 4 and k.rank == 4


def test_noise_band_from_seed_standard_errors():
    # rank 8's mean (2.06) misses the threshold 2.05 by less than its noise; rank 16 meets it for certain
    rows = sweep({4: [2.5, 2.52, 2.48], 8: [2.0, 2.12, 2.06], 16: [2.01, 2.02, 2.0], 32: [2.0, 2.0, 2.0]})
    k = find_knee(rows, 3.0, untested_floor=None)
    assert k.rank == 16
    se8 = math.sqrt(sum((x - 2.06) ** 2 for x in (2.0, 2.12, 2.06)) / 2 / 3)
    assert 2.06 - 2 * se8 <= k.threshold  # so rank 8 cannot be told apart
    assert (k.low, k.high) == (8, 16)
    assert "ranks 8-16 cannot be told apart" in k.explanation


def test_quiet_seeds_give_a_tight_band():
    rows = sweep({4: [2.5, 2.5001], 8: [2.02, 2.0201], 16: [2.0, 2.0001]})
    k = find_knee(rows, 3.0, untested_floor=None)
    assert (k.rank, k.low, k.high) == (8, 8, 8)


def test_one_seed_noise_is_how_far_the_losses_rise_with_rank():
    # 2.0, 1.5, 1.6, 1.4: the nearest curve that never rises pools 1.5 and 1.6 into 1.55 (3 blocks of 4 ranks,
    # one degree of freedom); departures 0, -0.05, +0.05, 0
    assert one_seed_noise(summarize(sweep({1: 2.0, 2: 1.5, 4: 1.6, 8: 1.4}))) == pytest.approx(math.sqrt(0.005))
    assert one_seed_noise(summarize(sweep({1: 2.0, 2: 1.5, 4: 1.4}))) == 0.0  # never rises: no noise shows
    assert one_seed_noise(summarize(sweep({1: 2.0, 2: 2.5}))) is None  # two ranks say nothing about noise


def test_one_seed_band_from_the_losses_own_noise():
    # one seed: rank 16 (2.3) does worse than 8 (2.15), so the losses carry noise of about 0.1; the knee at 32
    # (2.04 against the threshold 2.05) cannot be told apart from 8 within two such errors
    rows = sweep({1: 2.9, 4: 2.5, 8: 2.15, 16: 2.3, 32: 2.04, 64: 2.0})
    k = find_knee(rows, 3.0, untested_floor=None)
    noise = one_seed_noise(summarize(rows))
    assert k.rank == 32 and noise == pytest.approx(math.sqrt(((2.3 - 2.225) ** 2 * 2) / 1))
    assert (k.low, k.high) == (8, 64)
    assert "noise is estimated from how far the losses rise with rank" in k.explanation
    assert "ranks 8-64 cannot be told apart" in k.explanation
    quiet = find_knee(sweep({1: 2.9, 4: 2.5, 8: 2.15, 16: 2.1, 32: 2.04, 64: 2.0}), 3.0, untested_floor=None)
    assert (quiet.low, quiet.high) == (32, 32) and "the losses never rise with rank" in quiet.explanation


def test_a_one_seed_ladder_with_a_second_seed_at_its_top_rank_still_gets_a_band():
    # the pattern probe adds a second seed at the top rank: one degree of freedom says little, so the ranks
    # with one seed keep the curve's estimate
    rows = sweep({1: 2.9, 4: 2.5, 8: 2.15, 16: 2.3, 32: 2.04, 64: [2.0, 2.02]})
    err, source = single_seed_error(summarize(rows))
    assert source == "curve" and err == pytest.approx(one_seed_noise(summarize(rows)))
    k = find_knee(rows, 3.0, untested_floor=None)
    assert k.low == 8 and "Ranks 1, 4, 8, 16, 32 ran with one seed; its noise is estimated from how far" in \
        k.explanation
    # with three seeds at two ranks (4 degrees of freedom) the seeds' own spread is given to the lone rank
    three = sweep({4: [2.5, 2.6, 2.4], 16: [2.1, 2.0, 2.2], 64: 2.0})
    err, source = single_seed_error(summarize(three))
    assert source == "seeds" and err == pytest.approx(0.1)  # each rank's seeds spread by a standard deviation 0.1
    assert "the spread of one seed over the ranks that ran several" in find_knee(three, 3.0).explanation


def test_non_monotone_curve():
    # rank 8 dips, 16 is worse, 64 is best: the knee is the first rank reaching 95%, whatever comes after
    k = find_knee(sweep({2: 2.6, 4: 2.3, 8: 2.03, 16: 2.2, 32: 2.1, 64: 2.0}), 3.0, untested_floor=None)
    assert k.best_rank == 64 and k.rank == 8


def test_single_rank():
    k = find_knee(sweep({16: 2.2}), 3.0, untested_floor=None)
    assert (k.rank, k.best_rank, k.low, k.high) == (16, 16, 16, 16) and k.improved


def test_unmeasured_ranks_widen_the_band_downwards():
    # a ×4 ladder: ranks 8 (between 4 and 16) and 1-2 (below 4) were never measured
    k = find_knee(sweep({4: 2.5, 16: 2.02, 64: 2.0}), 3.0)
    assert (k.rank, k.low, k.high) == (16, 8, 16)
    assert "Rank 8 was not measured" in k.explanation
    k = find_knee(sweep({4: 2.01, 16: 2.0}), 3.0)
    assert (k.rank, k.low) == (4, 1)
    assert "Ranks 1-2 were not measured" in k.explanation


def test_no_improvement_over_the_base():
    k = find_knee(sweep({4: 3.1, 16: 3.05}), 3.0)
    assert not k.improved and k.rank == 4 and k.high == 16
    assert "no rank improved" in k.explanation


def test_failed_probes_are_left_out_and_nothing_usable_is_an_error():
    rows = sweep({4: 2.5, 16: 2.0}) + [LadderRow(64, 1e-3, None, state="oom")]
    k = find_knee(rows, 3.0)
    assert [s.rank for s in k.ranks] == [4, 16]
    with pytest.raises(BadInput, match="no probe finished"):
        find_knee([LadderRow(8, 1e-3, None, state="failed")], 3.0)


def test_bad_rows_and_arguments():
    with pytest.raises(BadInput, match="rank"):
        LadderRow(0, 1e-3, 2.0)
    with pytest.raises(BadInput, match="state"):
        LadderRow(4, 1e-3, 2.0, state="exploded")
    with pytest.raises(BadInput, match="finite"):
        LadderRow(4, 1e-3, float("nan"))
    with pytest.raises(BadInput, match="fraction"):
        find_knee(sweep({4: 2.0}), 3.0, fraction=1.5)


def test_seeds_per_rank_counts_the_seeds_at_each_ranks_best_rate():
    one = [LadderRow(rank=r, learning_rate=1e-3, eval_loss=v) for r, v in ((4, 1.0), (8, 0.9))]
    assert seeds_per_rank(one) == 1 and seeds_per_rank([]) == 0
    # rank 8 twice at its best rate (1e-3) and once at a worse one: two seeds
    two = one + [LadderRow(rank=8, learning_rate=1e-3, eval_loss=0.95, seed=1),
                 LadderRow(rank=8, learning_rate=3e-3, eval_loss=1.5, seed=0)]
    assert seeds_per_rank(two) == 2
    assert seeds_per_rank([LadderRow(rank=4, learning_rate=1e-3, eval_loss=None, state="failed")]) == 0


def _seeds(mean: float, spread: float) -> list[float]:
    """Three seeds with this mean whose sample standard deviation is `spread`."""
    return [mean - spread, mean, mean + spread]


def test_likely_rank_keeps_a_knee_the_noise_cannot_move():
    from lorplan.recommend.knee import likely_rank

    # base 3.0, best 2.0: threshold 2.05; rank 4 at 2.045 is the knee, and the seeds agree to 0.001
    k = find_knee(sweep({4: _seeds(2.045, 0.001), 8: _seeds(2.02, 0.001), 16: _seeds(2.0, 0.001)}), 3.0)
    assert k.rank == 4
    lr = likely_rank(k)
    assert lr.rank == 4 and lr.knee_hit == pytest.approx(1.0)
    one = find_knee(sweep({1: 2.6, 4: 2.045, 8: 2.02, 16: 2.0}), 3.0)  # one seed, losses never rise: no noise
    assert likely_rank(one).rank == one.rank == 4


def test_likely_rank_moves_up_when_the_knee_could_as_well_be_the_next_rank():
    from lorplan.recommend.knee import likely_rank

    # the same means with seeds 0.05 apart: the knee is 4 or 8 (or 16) from draw to draw, and rank 8 lies in
    # [K, 2K] for K = 4 and K = 8, rank 4 only for K = 4 (rank 2 was not measured)
    k = find_knee(sweep({4: _seeds(2.045, 0.05), 8: _seeds(2.02, 0.05), 16: _seeds(2.0, 0.05)}), 3.0)
    assert k.rank == 4
    lr = likely_rank(k)
    assert lr.rank == 8 and lr.hit > lr.knee_hit
    assert "rank 8 lies between the knee and twice it in" in lr.explanation
    assert likely_rank(k) == lr  # seeded draws: the same evidence gives the same rank


def test_a_recommendation_takes_the_likely_rank_and_says_why():
    from lorplan.core.lora import LoraTargets
    from lorplan.core.model import load_spec
    from lorplan.recommend import DataSize, adapter_size, capacity_prior, combine

    size = adapter_size(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), LoraTargets())
    prior = capacity_prior(DataSize("causal-lm", trained_tokens=2_000_000), size)
    rows = sweep({4: _seeds(2.045, 0.05), 8: _seeds(2.02, 0.05), 16: _seeds(2.0, 0.05)})
    rec = combine(prior, default_lr=(1e-3, "default"), ladder=rows, base_loss=3.0)
    assert rec.rank == 8 and rec.confidence[0] <= 8 <= rec.confidence[1]
    sources = [e.source for e in rec.evidence]
    assert sources.index("ladder") < sources.index("knee noise")  # the knee first, then why the rank moved
    assert next(e for e in rec.evidence if e.source == "ladder").rank == 4


def test_a_knee_at_the_largest_rank_measured_says_a_larger_one_was_not_ruled_out():
    """The knee is measured against the best rank: when the best is the largest rank the ladder measured (a short
    budget cut the rank above it), the knee sits at the ladder's edge, and the evidence said nothing of it."""
    k = find_knee(sweep({1: 0.60, 4: 0.63, 16: 0.40, 64: 0.33}), 1.11)
    assert k.rank == k.best_rank == 64
    assert ("Rank 64 is the largest rank measured and still the best, so a larger rank was not ruled out: it "
            "could do better and put the knee above 64.") in k.explanation
    inside = find_knee(sweep({4: 2.5, 16: 2.02, 64: 2.0}), 3.0)  # knee 16 below the largest: nothing to say
    assert inside.rank == 16 and "largest rank measured" not in inside.explanation
