"""Numbers in the planner's messages and tables, short enough to read: a learning rate to 3 significant digits
(as `lorplan recommend`'s tables print it), a limit such as 10^15, and a number typed far beyond a limit echoed
as typed, not as the hundred digits of its float ("1e99 is too large (at most 10^15)").

Plain Python (no Textual).
"""

from __future__ import annotations

import math

from lorplan.core.errors import BadInput
from lorplan.core.units import without_commas

LONGEST_COUNT = len("1,000,000,000,000")  # a count longer than this with separators is written shorter
LONGEST_ECHO = 20  # what was typed is echoed as typed up to this many characters


def lr_text(lr: float) -> str:
    """A learning rate in a table cell: 3 significant digits, as lorplan recommend's tables (0.000333)."""
    return f"{lr:.3g}"


def count_text(n: float) -> str:
    """A count in a message: with thousands separators while that stays short (1,000,000,000,000), else a power
    of ten as 10^15, else 3 significant digits (2.5e+20; inf for a number beyond any float)."""
    if math.isfinite(n) and float(n).is_integer():
        whole = int(n)
        if len(f"{whole:,}") <= LONGEST_COUNT:
            return f"{whole:,}"
        digits = str(abs(whole))
        if digits.strip("0") == "1":
            return f"{'-' if whole < 0 else ''}10^{len(digits) - 1}"
    return f"{n:.3g}"


def typed_value(text: str, label: str | None = None) -> float | None:
    """The number in `text` as the setup form reads it, or None when none. A comma or an underscore only between
    groups of three digits (2,048, 2_048), the CLI's rule for numbers (core.units.without_commas), so "2,5" (a
    decimal comma) is no 25 and "10_0" no 100: None, or with `label` (the field's) BadInput in the CLI's words
    ("Sequence length: '2,5': a comma only separates thousands (250,000); write a decimal point as a point
    (2.5)"). An underscore in a text of no digit ("_") is taken out: no number, None."""
    try:
        raw = without_commas(text, label or "", "2.5")
    except BadInput:
        if label is not None:
            raise
        return None
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def out_of_range(label: str, text: str, low: int, high: int, value: float | None = None) -> str | None:
    """The message for a whole number typed outside [low, high] ("Labelled examples: 1e99 is too large (at most
    10^15)"): what was typed, as typed when short, else written short (count_text), never the hundred digits of
    its float; None when `text` holds no such number (not a number, a fraction in range, nan). value: `text`'s
    typed_value when the caller has read it already (None: read here)."""
    if value is None:
        value = typed_value(text)
    if value is None or math.isnan(value):
        return None
    typed = str(text).strip()
    shown = typed if len(typed) <= LONGEST_ECHO else count_text(value)
    if value > high:
        return f"{label}: {shown} is too large (at most {count_text(high)})"
    if value < low and (math.isinf(value) or value.is_integer()):
        return f"{label}: {shown} is too small (at least {count_text(low)})"
    return None
