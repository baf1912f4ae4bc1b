"""Learning-curve extrapolation on synthetic curves with known parameters."""

from __future__ import annotations

import math
import random

import pytest

from lorplan.core.errors import BadInput
from lorplan.recommend.curves import extrapolate, fit_log, fit_power


def power(a: float, b: float, c: float, steps) -> list[tuple[float, float]]:
    return [(t, a + b * t ** (-c)) for t in steps]


@pytest.mark.parametrize(("a", "b", "c"), [(1.5, 3.0, 0.5), (0.8, 1.2, 1.3), (2.2, 0.6, 0.15)])
def test_power_law_parameters_are_recovered(a, b, c):
    ts, ls = zip(*power(a, b, c, range(10, 501, 10)), strict=True)
    fit = fit_power(ts, ls)
    assert fit.a == pytest.approx(a, rel=1e-4) and fit.b == pytest.approx(b, rel=1e-4)
    assert fit.c == pytest.approx(c, rel=1e-4)


def test_log_parameters_are_recovered():
    ts = list(range(5, 300, 5))
    fit = fit_log(ts, [4.0 - 0.3 * math.log(t) for t in ts])
    assert (fit.a, fit.b) == (pytest.approx(4.0), pytest.approx(-0.3))


def test_held_out_tail_chooses_the_true_form():
    e = extrapolate(power(1.5, 3.0, 0.5, range(10, 401, 10)), 4000)
    assert e.fit.form == "power" and e.held_out["power"] < e.held_out["log"]
    assert e.loss == pytest.approx(1.5 + 3.0 * 4000 ** -0.5, rel=1e-6)
    ts = range(10, 401, 10)
    e = extrapolate([(t, 4.0 - 0.3 * math.log(t)) for t in ts], 4000)
    assert e.fit.form == "log" and e.loss == pytest.approx(4.0 - 0.3 * math.log(4000), rel=1e-6)
    assert "fits the curve's last 10 of 40 points best" in e.explanation


def test_noisy_curve_prediction_lies_within_its_error():
    rng = random.Random(0)
    truth = 1.5 + 3.0 * 2000 ** -0.5
    inside = 0
    for _ in range(20):
        pts = [(t, 1.5 + 3.0 * t ** -0.5 + rng.gauss(0, 0.01)) for t in range(10, 401, 10)]
        e = extrapolate(pts, 2000)
        assert 0.005 < e.error < 0.05  # the noise shows up in the error, and the error stays informative
        inside += abs(e.loss - truth) <= 2 * e.error
    assert inside >= 18


def test_log_extrapolation_is_clipped_at_zero():
    e = extrapolate([(t, 1.0 - 0.2 * math.log(t)) for t in range(1, 41)], 1e6)
    assert e.loss == 0.0 and "clipped at 0" in e.explanation


def test_too_few_points_keep_the_last_loss():
    e = extrapolate([(10, 2.5), (20, 2.3), (30, 2.2)], 1000)
    assert e.fit is None and e.loss == 2.2 and e.error == pytest.approx(0.3)


def test_bad_curves():
    with pytest.raises(BadInput, match="step"):
        extrapolate([(0, 2.0), (1, 1.0), (2, 0.5), (3, 0.4)], 10)
    with pytest.raises(BadInput, match="positive"):
        extrapolate([(1, 2.0)], 0)
    with pytest.raises(BadInput, match="no point"):
        extrapolate([], 10)
