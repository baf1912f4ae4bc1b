"""Numbers in the planner's tables: a learning rate to 3 significant digits (as `lorplan recommend`'s tables print
it). A number field's text is read by core.units (whole_number_in, without_commas: the CLI's rules and words; a
whole number beyond its field's bounds "1e99 must be at most 10^15").

Plain Python (no Textual).
"""

from __future__ import annotations


def lr_text(lr: float) -> str:
    """A learning rate in a table cell: 3 significant digits, as lorplan recommend's tables (0.000333)."""
    return f"{lr:.3g}"
