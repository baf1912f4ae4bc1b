"""Byte sizes: parse what users type ("24GiB", "80 GB", "16000MiB") and format integers for people.

The core counts bytes as integers; only these helpers speak GiB.
"""

from __future__ import annotations

import re
from decimal import Decimal

from lorplan.core.errors import BadInput

# A single letter is binary, as lorplan writes it (the rank table's "23.50G" is GiB) and as free -h, df -h and
# PyTorch's memory summaries mean it: a "24G" card is 24 GiB. Only the SI spellings with B (KB, MB, GB, TB) are
# decimal, as GPU vendors' "80GB" is; IEC spellings (KiB, Gi, ...) are binary.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    **{f"{p}{suffix}": 1024**power for power, p in enumerate("kmgt", start=1) for suffix in ("", "i", "ib")},
}
UNIT_CHOICES = "K/M/G/T or KiB/MiB/GiB/TiB, binary: 24G = 24GiB; KB/MB/GB/TB, decimal: 80GB = 80e9 bytes"
# the sign is read so that "-5G" is refused as negative (it was "not a memory size", as "abc" is)
_SIZE_RE = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str, what: str = "size", zero: bool = False) -> int:
    """Parse a memory size such as "24GiB", "24G", "80GB", "16000 MiB" or "3e10" into bytes.

    Units, any case: K, M, G, T and Ki, Mi, Gi, Ti and KiB, MiB, GiB, TiB are binary ("24G" == 24 GiB, as lorplan's
    own tables and free -h write it); KB, MB, GB, TB are decimal ("80GB" == 80 * 10**9, as GPU vendors write it).

    A comma or an underscore separates groups of three digits and nothing else (without_commas: "16,000MiB"
    reads, "2,5G" and "1_0" are refused). A bare number is taken as GiB when it is below 4096 (people type "24"
    meaning 24 GiB) and as bytes from 1 GiB's worth of bytes up; one in between ("16000": MiB? bytes?) is refused
    as ambiguous, so a typed budget never silently becomes kibibytes. Raises BadInput naming `what` when the text is not a positive size
    (with `zero`, a size of 0 or more: "0", "0GiB").
    """
    shown = echoed(text, quoted=True)  # '24GiB', a pasted 5,000 digits short
    raw = without_commas(text, what, "24.5G")  # 16,000MiB and 24_000MiB read; 1_0 (was 10 GiB) is refused
    m = _SIZE_RE.match(raw)
    if m is None:
        try:
            value = float(raw)
        except ValueError:
            raise BadInput(f"{what}: {shown} is not a memory size (try 24G, 24GiB or 80GB)") from None
        unit = ""
    else:
        value = float(m.group(1))
        unit = m.group(2).lower()
    if value != value or value in (float("inf"), float("-inf")):
        raise BadInput(f"{what}: {shown} is not a finite size")
    if unit not in _UNITS:
        raise BadInput(f"{what}: unknown unit {echoed(m.group(2), quoted=True)} in {shown} (use {UNIT_CHOICES})")
    if unit == "" and value < 4096:
        unit = "gib"
    elif unit == "" and value < _UNITS["gib"]:
        example = raw if len(raw) <= LONGEST_ECHO else "16000"  # not a pasted 5,000 characters again
        raise BadInput(f"{what}: {shown} has no unit and is too large for GiB and too small for bytes: write "
                       f"it with one (e.g. {example}MiB or 24GiB)")
    size = int(value * _UNITS[unit])
    if zero and value < 0:
        raise BadInput(f"{what}: {shown} is negative (give a size of 0 or more, e.g. 750MiB)")
    if size <= 0 and not zero:
        raise BadInput(f"{what}: {shown} must be a positive size")
    return size


def parse_budget(text: str, what: str) -> int:
    """A GPU memory budget (parse_size) in bytes, within core.limits' bounds: the one rule for `--gpu-memory`
    (`lorplan plan`, `lorplan recommend`) and the planner's budget field. BadInput naming `what` for a size beyond
    MAX_GPU_MEMORY_BYTES (65TiB is a typo) or below MIN_GPU_MEMORY_BYTES (1KB, 24M: a typo for a larger unit,
    which priced every rank as "does not fit"), saying what the text was read as."""
    from lorplan.core.limits import MAX_GPU_MEMORY_BYTES, MIN_GPU_MEMORY_BYTES

    typed = echoed(text, quoted=True)
    try:
        size = parse_size(text, what)
    except OverflowError:  # a finite number times its unit beyond a float ("1e300T")
        size = MAX_GPU_MEMORY_BYTES + 1
    if size > MAX_GPU_MEMORY_BYTES:
        raise BadInput(f"{what}: {typed} is more than any GPU has (at most {format_bytes(MAX_GPU_MEMORY_BYTES, 0)})")
    if size < MIN_GPU_MEMORY_BYTES:
        raise BadInput(f"{what}: {typed} is {format_bytes(size)}, less than any GPU has (at least "
                       f"{format_bytes(MIN_GPU_MEMORY_BYTES, 0)}); give the budget in GiB or GB, e.g. 24G, 24GiB or "
                       "80GB (a bare 24 is 24 GiB)")
    return size


def format_bytes(n: int, digits: int = 2) -> str:
    """Format a byte count with binary units: 25769803776 -> "24.00 GiB"."""
    sign = "-" if n < 0 else ""
    n = abs(int(n))
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{sign}{n / size:.{digits}f} {unit}"
    return f"{sign}{n} B"


def memory_text(n_bytes: int) -> str:
    """Bytes in a table cell, to 3 significant digits in binary units: 419430400 -> "400 MiB", 1677721600 ->
    "1.56 GiB", 97517568 -> "93.0 MiB", 1048576000 -> "0.98 GiB" (not "1000 MiB"). Every table of probes writes
    peak memory so (the Probes tab's, `lorplan probe status`, the Recommend tab's ladder and `lorplan
    recommend`'s), so one probe's memory reads the same everywhere: a measured peak read to 0.5 %, in 8
    characters, not "1600.00 MiB" (11 of an 80-column row). format_bytes keeps 2 decimals for estimates."""
    n = max(int(n_bytes), 0)
    if n < 1024:
        return f"{n} B"
    for unit, size in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
        value = n / size
        if value < 999.5 or unit == "TiB":  # from 999.5 the next unit: "0.98 GiB", 3 digits still
            break
    digits = 2 if value < 9.995 else 1 if value < 99.95 else 0  # the limits where rounding adds a digit
    return f"{value:.{digits}f} {unit}"


def and_list(items) -> str:
    """Items named in a sentence: "a", "a and b", "a, b and c" (str() of each)."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def counted(n: float, noun: str, spec: str = ",") -> str:
    """A number and its noun, singular when the number reads as 1: counted(1, "sequence") -> "1 sequence",
    counted(2048, "token") -> "2,048 tokens", counted(1.0, "bit", ".3g") -> "1 bit"."""
    text = format(n, spec)
    return f"{text} {noun if text == '1' else noun + 's'}"


# A comma or an underscore groups thousands (5,000,000, 5_000_000) and nothing else: '2,5M' (a decimal comma) is not
# 25M, nor '5,00' 500, nor '10_0' (Python's reading, a typo here) 100; none after the groups either (1,000.5,5k is no
# 1,000,550, 1.000_5 no 1.0005). After the groups: a tail led by no digit (a fraction, an exponent, a scale, a unit).
_GROUPED = re.compile(r"[+-]?\d{1,3}([,_]\d{3})+([^\d,_][^,_]*)?")
# commas between digits, two or more, grouping other than in threes (Indian lakh grouping, 12,34,567): no decimal
# comma (a number has one decimal mark), a grouping the tool does not read
_OTHER_GROUPING = re.compile(r"[+-]?\d+(,\d+){2,}([^\d,_][^,_]*)?")


def _misplaced(raw: str) -> str:
    """The first separator (',' or '_') in `raw` that groups no three digits, `raw` being no _GROUPED number: the
    one before the first group of other than three digits, or before the leading group when that one is empty or
    longer than three ('_100', '1000,000'), or else the first one after the groups ('1.000_5')."""
    head = re.match(r"[+-]?([\d,_]*)", raw)
    groups, marks = re.split(r"[,_]", head.group(1)), re.findall(r"[,_]", head.group(1))
    if marks and not 1 <= len(groups[0]) <= 3:
        return marks[0]
    for mark, group in zip(marks, groups[1:], strict=True):
        if len(group) != 3:
            return mark
    after = re.search(r"[,_]", raw[head.end():])
    return after.group() if after else ","


def without_commas(text: str, label: str, example: str = "2.5M") -> str:
    """`text` stripped, its thousands separators taken out ("5,000,000" -> "5000000", "5_000_000" too), for a
    parser of numbers as people type them: the one rule of the CLI's numbers (cli._common.parse_count, parse_int,
    parse_positive_float), sizes (parse_size) and the planner's number fields (whole_number, tui.panels.setup_form).
    A comma or an underscore separates groups of three digits and nothing else; any other is BadInput in one line
    led by `label` (the flag, or the field): a comma that may be a decimal mark "'2,5': a comma only separates
    thousands (250,000); write a decimal point as a point (2.5M)", `example` the decimal shown; commas grouping
    other than in threes "'12,34,567': a comma only separates thousands, in groups of three digits (1,234,567)"; an
    underscore "'10_0': an underscore only separates thousands, in groups of three digits (1_234_567)", the fault
    named where both are typed (_misplaced: '10_0,000' is the underscore's, '1_000,5' a decimal comma's); a long
    text echoed short (echoed). An underscore in a text of no digit ("_", "abc_d") is no separator: it is taken
    out, and the caller finds no number there."""
    raw = str(text).strip()
    separated = "," in raw or ("_" in raw and any(c.isdigit() for c in raw))
    if separated and not _GROUPED.fullmatch(raw):
        shown = echoed(raw, quoted=True)  # a pasted 5,000 digits short, its last characters kept
        if _misplaced(raw) == "_":  # '10_0,000': the comma groups thousands, the underscore is the fault
            raise BadInput(f"{label}: {shown}: an underscore only separates thousands, in groups of three digits "
                           "(1_234_567)")
        if _OTHER_GROUPING.fullmatch(raw):
            raise BadInput(f"{label}: {shown}: a comma only separates thousands, in groups of three digits "
                           "(1,234,567)")
        raise BadInput(f"{label}: {shown}: a comma only separates thousands (250,000); write a decimal point as "
                       f"a point ({example})")
    return raw.replace(",", "").replace("_", "")


LONGEST_ECHO = 40  # what was typed is echoed whole up to this many characters (more is pasted, not typed)
ECHO_HEAD = 10  # a longer text: its first characters, then how long it is


def echoed(text: str, quoted: bool = False) -> str:
    """What was typed, for a message that quotes it: whole up to LONGEST_ECHO characters ("1e9", or "'1e9'"
    quoted), a longer text as its first ECHO_HEAD characters, "…" and its length, never the 5,000 digits of a
    pasted number: "9999999999… (5,000 digits)" (quoted "'9999999999…' (5,000 digits)"); digits when the text is
    digits alone (a sign and separators aside), characters otherwise. A text of other than digits (a sign
    aside) shows its last ECHO_HEAD characters after the "…" too, where a unit, an exponent, a fraction or a
    separator typed last is ("1.00000000…00000000e9 (41 characters)", which the head alone showed as 1.0)."""
    typed = str(text).strip()
    if len(typed) <= LONGEST_ECHO:
        return repr(typed) if quoted else typed
    digits_alone = typed.lstrip("+-").isascii() and typed.lstrip("+-").isdigit()
    head = typed[:ECHO_HEAD] + "…" + ("" if digits_alone else typed[-ECHO_HEAD:])
    plain = typed.lstrip("+-").replace(",", "").replace("_", "")
    size = (counted(len(plain), "digit") if plain.isascii() and plain.isdigit()
            else counted(len(typed), "character"))
    return f"{head!r} ({size})" if quoted else f"{head} ({size})"


LONGEST_COUNT = len("1,000,000,000,000")  # a count longer than this with separators is written shorter


def count_text(n: float) -> str:
    """A count in a message: with thousands separators while that stays short (1,000,000,000,000), else a power
    of ten as 10^15, else 3 significant digits (2.5e+20; inf for a number beyond any float)."""
    import math

    if math.isfinite(n) and float(n).is_integer():
        whole = int(n)
        if len(f"{whole:,}") <= LONGEST_COUNT:
            return f"{whole:,}"
        digits = str(abs(whole))
        if digits.strip("0") == "1":
            return f"{'-' if whole < 0 else ''}10^{len(digits) - 1}"
    return f"{n:.3g}"


_TOO_MANY_DIGITS = 10**20  # a whole number with no bound above: 2^64 has 20 digits


def whole_number(text: str, label: str) -> Decimal:
    """The whole number typed in `text` for an integer flag or field, exactly: the reading of whole_number_in
    (the CLI's parse_int and the planner's integer fields), in the same words after `label` (the flag, or the
    field). Written as people write it: 4096, 4,096 or 4_096 (without_commas' rule), 4096.0, 1e3, 2.048e3.
    A Decimal, not a float, so 2^53 + 1 stays itself and 1e999999999 costs nothing; it may be infinite ("inf") or
    far beyond any bound, so the caller compares it with its bounds before int(). BadInput otherwise: a text of no
    digit "type a whole number", one of no number (or nan) "'abc' is not a number", a fraction "'4,096.5' must be
    a whole number" (never 4096, nor 1e-3 0); a long text echoed short (echoed)."""
    from decimal import MAX_EMAX, MIN_EMIN, InvalidOperation, localcontext

    typed = str(text).strip()
    if not typed.replace("_", "").replace(",", ""):  # before without_commas, which calls a lone ',' a decimal comma
        raise BadInput(f"{label}: type a whole number")
    try:
        value = Decimal(without_commas(typed, label, "2.5"))
    except InvalidOperation:
        raise BadInput(f"{label}: {echoed(typed, quoted=True)} is not a number") from None
    if value.is_nan():
        raise BadInput(f"{label}: {echoed(typed, quoted=True)} is not a number")
    if value.is_finite():
        with localcontext() as ctx:  # every digit typed counts: 4096.0000000000000000000000000001 is no 4096
            ctx.prec = len(value.as_tuple().digits) + 20
            ctx.Emin, ctx.Emax = MIN_EMIN, MAX_EMAX
            if value != value.to_integral_value():
                raise BadInput(f"{label}: {echoed(typed, quoted=True)} must be a whole number")
    return value


def whole_number_in(text: str, label: str, low: int, high: int | None = None) -> int:
    """The whole number typed in `text` (whole_number's reading) from `low` to `high`: the one rule, and its
    words, of the CLI's integer flags (cli._common.parse_int) and the planner's integer fields
    (tui.panels.setup_form.parse_int). Out of bounds, BadInput echoes what was typed (echoed: "1e9", not
    1,000,000,000; a pasted 5,000-digit number as "9999999999… (5,000 digits)") and the bound (count_text: 10^15)
    after `label`: "--seq-len: 1e9 must be at most 16,777,216", "Custom rank: -5 must be at least 1". With no
    bound above (high None), inf and a number of more than 20 digits (beyond any 64-bit count) are refused as
    typed, compared as a Decimal: 1e999999999 never becomes a billion-digit int."""
    typed = str(text).strip()
    value = whole_number(typed, label)  # exact (a Decimal): compared with the bounds before int()
    if value < low:
        raise BadInput(f"{label}: {echoed(typed)} must be at least {count_text(low)}")
    if high is not None and value > high:
        raise BadInput(f"{label}: {echoed(typed)} must be at most {count_text(high)}")
    if not value.is_finite():  # no bound above: inf
        raise BadInput(f"{label}: {echoed(typed, quoted=True)} is not a finite number")
    if value >= _TOO_MANY_DIGITS:  # no bound above; the value, not its exponent: 0e999999999 is 0
        raise BadInput(f"{label}: {echoed(typed, quoted=True)} is too large a number")
    return int(value)


def format_count(n: int) -> str:
    """Format a parameter count for people: 8030261248 -> "8.03B", 20971520 -> "20.97M"."""
    n = int(n)
    for suffix, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{suffix}"
    return str(n)


def text_width(default: int = 110, minimum: int = 60) -> int:
    """Where printed sentences wrap: `default` columns, or the terminal's width when standard output is a
    narrower terminal (an 80-column SSH window wrapped every 110-column line of evidence in two). Output to a
    file or a pipe keeps `default`, so what a script reads does not depend on the window it ran in."""
    limit = terminal_limit(default + 1)
    return default if limit is None else max(minimum, min(default, limit))


def terminal_limit(fallback: int = 0) -> int | None:
    """The longest line standard output's terminal shows on one row (its width less one column, the one a
    terminal may wrap at), or None when standard output is a file or a pipe, whose text must not depend on
    the window it ran in. fallback: the width to assume when a terminal does not say (0: None)."""
    import shutil
    import sys

    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):  # a closed or replaced stdout
        return None
    columns = shutil.get_terminal_size((fallback, 24)).columns
    return columns - 1 if columns > 0 else None


def stderr_limit() -> int | None:
    """The longest line standard error's terminal shows on one row (its width less one, as terminal_limit
    measures standard output's; COLUMNS wins, as there), or None when standard error is a file or a pipe, which
    gets every line whole."""
    import os
    import sys

    try:
        if not sys.stderr.isatty():
            return None
        columns = int(os.environ.get("COLUMNS") or 0) or os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, ValueError, OSError):  # a replaced stderr, a bad COLUMNS
        return None
    return columns - 1 if columns > 0 else None
