"""The ladder's evidence shows its losses with enough digits to tell the bar from each rank's loss: a pilot walk's
ladder (base 10.305, rank 4 at 10.2936, rank 16 at 10.2900) read "a rank must reach 10.29; ... 4: 10.29 (76%)",
so rank 4 seemed to reach the bar it failed. The CLI's evidence and the Recommend tab's plot legend use one rule
(Knee.digits)."""

from __future__ import annotations

import re

import pytest

from lorplan.recommend.knee import find_knee
from lorplan.recommend.types import LadderRow


def rows(losses: dict[int, float]) -> list[LadderRow]:
    return [LadderRow(rank=r, learning_rate=1e-3, eval_loss=v, seed=42) for r, v in losses.items()]


def shown(text: str) -> tuple[float, dict[int, str]]:
    bar = re.search(r"so a rank must reach ([0-9.e+-]+);", text)
    assert bar, text
    losses = dict(re.findall(r"(\d+): ([0-9.e+-]+) \(-?\d+%\)", text))
    return bar.group(1), {int(r): v for r, v in losses.items()}


def test_the_walk_s_ladder_shows_rank_4_above_the_bar():
    k = find_knee(rows({4: 10.2936, 16: 10.2900}), 10.305)
    assert k.rank == 16
    bar, losses = shown(k.explanation)
    assert float(losses[4]) > float(bar), k.explanation  # 4 failed the bar, and reads so
    assert float(losses[16]) <= float(bar), k.explanation
    assert losses[4] != losses[16]
    assert "base eval loss 10.305," in k.explanation  # the same digits for every loss in the sentence


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_each_failing_rank_reads_above_the_bar_and_each_meeting_one_not(scale):
    losses = {1: 2.0504, 2: 2.05004, 4: 2.0500004, 8: 2.049, 16: 2.0}
    k = find_knee(rows({r: v * scale for r, v in losses.items()}), 3.0 * scale)
    assert k.rank == 8
    bar, text = shown(k.explanation)
    for s in k.ranks:
        meets = s.mean_loss <= k.threshold
        assert (float(text[s.rank]) <= float(bar)) == meets, (s.rank, k.explanation)


def test_four_digits_stay_when_they_already_tell_the_losses_apart():
    k = find_knee(rows({1: 2.5, 2: 2.2, 4: 2.06, 8: 2.04, 16: 2.01, 32: 2.0}), 3.0)
    assert k.digits == 4
    assert "so a rank must reach 2.05; eval loss by rank (share of the best improvement) 1: 2.5 (50%)" in \
        k.explanation


def test_a_rank_exactly_at_the_bar_needs_no_more_digits():
    k = find_knee(rows({2: 2.5, 4: 2.05, 8: 2.0}), 3.0)
    assert k.rank == 4 and k.digits == 4


def test_the_recommend_tab_s_legend_uses_the_same_digits():
    from lorplan.recommend.types import Recommendation
    from lorplan.tui import recommend_bridge

    ladder = tuple(rows({4: 10.2936, 16: 10.2900}))
    rec = Recommendation(rank=16, alpha=32.0, use_rslora=False, learning_rate=1e-3, target_modules=("c_attn",),
                         rank_pattern={}, tolerance=0.05, confidence=(8, 16), cost_seconds=1.0, fits=None,
                         ladder=ladder, evidence=())
    plot = recommend_bridge.ladder_plot(rec, 10.305)
    assert plot.threshold is not None
    assert plot.digits == find_knee(ladder, 10.305).digits > 4
    assert f"{plot.threshold:.{plot.digits}g}" != f"{10.2936:.{plot.digits}g}"
