"""Round tick positions and labels for plotext plots (plotext labels data points: 380.2666666666667)."""

from __future__ import annotations

import math


def nice_ticks(high: float, count: int = 5, *, whole: bool = True) -> list[float]:
    """Round tick positions from 0 to `high` (steps of 1, 2 or 5 times a power of ten, about `count` of them;
    `whole`: steps of at least 1, for counts, token lengths and steps)."""
    if high <= 0:
        return [0.0]
    raw = high / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda s: abs(high / s - count))
    if whole:
        step = max(1.0, round(step))
    return [i * step for i in range(int(high / step + 1e-9) + 1)]


def tick_label(value: float) -> str:
    """A tick's label: whole numbers with thousands separators (1,024), others to 3 significant digits."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"
