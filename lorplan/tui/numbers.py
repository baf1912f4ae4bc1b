"""Numbers in the planner's messages and tables, short enough to read: a learning rate to 3 significant digits
(as `lorplan recommend`'s tables print it), a limit such as 10^15, and a number typed far beyond a limit echoed
as typed, not as the hundred digits of its float ("1e99 is too large (at most 10^15)").

Plain Python (no Textual).
"""

from __future__ import annotations

import math

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


def typed_value(text: str) -> float | None:
    """The number in `text` as the setup form reads it (separators "," and "_" ignored), or None when none."""
    raw = str(text).strip().replace("_", "").replace(",", "")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def out_of_range(label: str, text: str, low: int, high: int) -> str | None:
    """The message for a whole number typed outside [low, high] ("Labelled examples: 1e99 is too large (at most
    10^15)"): what was typed, as typed when short, else written short (count_text), never the hundred digits of
    its float; None when `text` holds no such number (not a number, a fraction in range, nan)."""
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


def memory_text(n_bytes: int) -> str:
    """Bytes in a table cell, to 3 significant digits in binary units: 419430400 -> "400 MiB", 1677721600 ->
    "1.56 GiB", 97517568 -> "93.0 MiB", 1048576000 -> "0.98 GiB" (not "1000 MiB"). The Probes tab's probe
    table and its comparison both write peak memory so: a measured peak read to 0.5 %, in 8 characters, not
    "1600.00 MiB" (11 of an 80-column row)."""
    n = max(int(n_bytes), 0)
    if n < 1024:
        return f"{n} B"
    for unit, size in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
        value = n / size
        if value < 999.5 or unit == "TiB":  # from 999.5 the next unit: "0.98 GiB", 3 digits still
            break
    digits = 2 if value < 9.995 else 1 if value < 99.95 else 0  # the limits where rounding adds a digit
    return f"{value:.{digits}f} {unit}"
