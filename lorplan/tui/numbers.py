"""Numbers in the planner's tables and fields: a learning rate to 3 significant digits (as `lorplan recommend`'s
tables print it), and a number field's text read by the CLI's separator rule. A whole number beyond its field's
bounds is said by core.units.whole_number_in, the CLI's words ("1e99 must be at most 10^15").

Plain Python (no Textual).
"""

from __future__ import annotations

from lorplan.core.errors import BadInput
from lorplan.core.units import without_commas


def lr_text(lr: float) -> str:
    """A learning rate in a table cell: 3 significant digits, as lorplan recommend's tables (0.000333)."""
    return f"{lr:.3g}"


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
