"""Learning-curve extrapolation: a probe's eval losses so far, predicted at the planned training length.

Two forms, each with a closed-form (or one-dimensional) least-squares fit:
- log:   L(t) = a + b·log t. LoRA Without Regret (Thinking Machines 2025) reports loss falling about linearly in
  log steps while the adapter's capacity does not bind; it has no floor, so a far extrapolation is clipped at 0.
- power: L(t) = a + b·t^(−c), c > 0, a saturating power law in training steps (Kaplan et al. 2020, arXiv
  2001.08361, fit loss against steps this way; Domhan et al. 2015, IJCAI, list both forms among their
  learning-curve models). For a fixed c it is linear in a and b, so c is searched on a log grid and refined
  by golden-section search.
Which form to trust is decided by held-out fit on the curve's tail: both are fitted on the first 75% of the
points and scored on the last 25% (RMSE); the winner is refitted on every point. The error of a prediction
is the larger of that held-out RMSE and the full fit's residual deviation, plus how far the prediction moved
when the tail was added (a fit that still moves is not settled). Pure Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lorplan.core.errors import BadInput
from lorplan.core.units import counted

MIN_POINTS = 4  # a 3-parameter form fitted on 3 points and checked on at least 1
C_RANGE = (0.01, 5.0)


@dataclass(frozen=True)
class CurveFit:
    """A fitted form: "log" (a + b·log t) or "power" (a + b·t^-c); rmse is over the points it was fitted on."""

    form: str
    a: float
    b: float
    c: float
    rmse: float

    def at(self, t: float) -> float:
        """The fitted loss at step t (t > 0)."""
        if self.form == "log":
            return self.a + self.b * math.log(t)
        return self.a + self.b * t ** (-self.c)

    def formula(self) -> str:
        if self.form == "log":
            return f"L(t) = {self.a:.4g} {'+' if self.b >= 0 else '-'} {abs(self.b):.4g}·log t"
        return f"L(t) = {self.a:.4g} {'+' if self.b >= 0 else '-'} {abs(self.b):.4g}·t^-{self.c:.3g}"


@dataclass(frozen=True)
class Extrapolation:
    """The predicted loss at `step` ± `error`, the chosen fit, each form's held-out RMSE, and the sentence."""

    step: float
    loss: float
    error: float
    fit: CurveFit | None
    held_out: dict[str, float]
    explanation: str


def _linear(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares y = a + b·x; returns (a, b, sum of squared residuals)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx > 0 else 0.0
    a = my - b * mx
    sse = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return a, b, sse


def fit_log(ts: Sequence[float], losses: Sequence[float]) -> CurveFit:
    """L(t) = a + b·log t by least squares."""
    a, b, sse = _linear([math.log(t) for t in ts], losses)
    return CurveFit("log", a, b, 0.0, math.sqrt(sse / len(ts)))


def fit_power(ts: Sequence[float], losses: Sequence[float]) -> CurveFit:
    """L(t) = a + b·t^-c by least squares: linear in (a, b) for each c; c on a log grid over C_RANGE, then a
    golden-section search in log c around the best grid point."""

    def sse(log_c: float) -> tuple[float, float, float]:
        c = math.exp(log_c)
        a, b, e = _linear([t ** (-c) for t in ts], losses)
        return e, a, b

    lo, hi = math.log(C_RANGE[0]), math.log(C_RANGE[1])
    grid = [lo + (hi - lo) * i / 120 for i in range(121)]
    best = min(range(len(grid)), key=lambda i: sse(grid[i])[0])
    left, right = grid[max(0, best - 1)], grid[min(len(grid) - 1, best + 1)]
    g = (math.sqrt(5) - 1) / 2
    x1, x2 = right - g * (right - left), left + g * (right - left)
    f1, f2 = sse(x1)[0], sse(x2)[0]
    for _ in range(80):
        if f1 < f2:
            right, x2, f2 = x2, x1, f1
            x1 = right - g * (right - left)
            f1 = sse(x1)[0]
        else:
            left, x1, f1 = x1, x2, f2
            x2 = left + g * (right - left)
            f2 = sse(x2)[0]
    log_c = (left + right) / 2
    candidates = [log_c, grid[best]]
    log_c = min(candidates, key=lambda v: sse(v)[0])
    e, a, b = sse(log_c)
    return CurveFit("power", a, b, math.exp(log_c), math.sqrt(e / len(ts)))


_FITS = {"log": fit_log, "power": fit_power}
_WORDS = {"log": "a + b·log t", "power": "a + b·t^-c"}


def _check(curve: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    points = sorted((float(t), float(loss)) for t, loss in curve)
    for t, loss in points:
        if not (t > 0 and math.isfinite(t) and math.isfinite(loss)):
            raise BadInput(f"learning curve: step {t!r} with loss {loss!r} (steps must be > 0, losses finite)")
    return [t for t, _ in points], [loss for _, loss in points]


def extrapolate(curve: Sequence[tuple[float, float]], at_step: float, *, holdout: float = 0.25) -> Extrapolation:
    """Predict the eval loss at `at_step` from (step, eval loss) points of one probe.

    With fewer than MIN_POINTS points no form can be checked: the last loss is returned, with the range of
    the losses seen as its error.
    """
    if not at_step > 0:
        raise BadInput(f"extrapolation: the step to predict at must be positive, not {at_step!r}")
    ts, ls = _check(curve)
    if not ts:
        raise BadInput("learning curve: no point to extrapolate from")
    if len(ts) < MIN_POINTS:
        err = max(ls) - min(ls)
        return Extrapolation(at_step, ls[-1], err, None, {},
                             f"only {counted(len(ts), 'eval point')}: no curve fitted; the last loss {ls[-1]:.4g} "
                             f"stands, ± {err:.3g} (the range seen so far)")
    n_head = max(MIN_POINTS - 1, min(len(ts) - 1, math.ceil(len(ts) * (1 - holdout))))
    held: dict[str, float] = {}
    heads: dict[str, CurveFit] = {}
    for form, fit in _FITS.items():
        head = fit(ts[:n_head], ls[:n_head])
        heads[form] = head
        tail = [(head.at(t) - y) ** 2 for t, y in zip(ts[n_head:], ls[n_head:], strict=True)]
        held[form] = math.sqrt(sum(tail) / len(tail))
    form = min(held, key=lambda k: (held[k], k != "power"))
    full = _FITS[form](ts, ls)
    dof = max(1, len(ts) - (3 if form == "power" else 2))
    residual = full.rmse * math.sqrt(len(ts) / dof)
    raw = full.at(at_step)
    moved = abs(raw - heads[form].at(at_step))
    loss = max(0.0, raw)
    error = max(held[form], residual) + moved
    other = "log" if form == "power" else "power"
    text = (f"{_WORDS[form]} fits the curve's last {len(ts) - n_head} of {len(ts)} points best (held-out RMSE "
            f"{held[form]:.3g} against {held[other]:.3g} for {_WORDS[other]}); {full.formula()} predicts "
            f"{loss:.4g} ± {error:.3g} at step {at_step:,.0f}")
    if moved > 1e-9 * max(1.0, abs(raw)):
        text += f" (the prediction moved {moved:.3g} when the last points were added)"
    if raw < 0:
        text += "; the fitted curve falls below 0 there, so it is clipped at 0"
    return Extrapolation(at_step, loss, error, full, held, text)
