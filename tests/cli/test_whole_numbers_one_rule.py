"""One rule for integer flags and fields (core.units.whole_number), the CLI's parse_int and the planner's.

Before, the planner's integer fields (tui.panels.setup_form.parse_int, through a float) took "1e3" and "4,096.0"
where the CLI's parse_int (int()) refused them as "not an integer"; the CLI said "'4,096.5' is not an integer" and
the field "must be a whole number". Now both read a whole number however it is written (1e3, 4,096.0, 2.048e3),
exactly (no float between: 2^53 + 1 stays itself), and refuse a fraction as not whole ("4,096.5" never becomes
4096) and any other text as no number, in the same words after the flag or the field's label.

And a number with both separators ("10_0,000") was told to "write a decimal point as a point", though the comma
there groups thousands and the underscore is what groups no three digits: the message names the underscore.
"""

from __future__ import annotations

import pytest

from lorplan.cli._common import parse_int as cli_int
from lorplan.core.errors import BadInput
from lorplan.core.limits import MAX_SEED
from lorplan.core.units import parse_size, without_commas
from lorplan.tui.bridge import MAX_SEQ_LEN
from lorplan.tui.panels.setup_form import parse_int as field_int

FLAG, LABEL = "--seq-len", "Sequence length"


@pytest.mark.parametrize(("text", "value"), [("1e3", 1000), ("4,096.0", 4096), ("4_096", 4096), ("2.048e3", 2048),
                                             ("4096", 4096), (" 512 ", 512), ("+64", 64), ("1.0e0", 1)])
def test_a_whole_number_reads_the_same_on_the_command_line_and_in_the_planner(text, value):
    assert cli_int(FLAG, text, 1, MAX_SEQ_LEN) == value  # "1e3" and "4,096.0" were "not an integer"
    assert field_int(text, LABEL, 1, MAX_SEQ_LEN) == value


@pytest.mark.parametrize(("text", "words"), [
    ("4,096.5", "'4,096.5' must be a whole number"),  # never 4096
    ("1.5", "'1.5' must be a whole number"),
    ("2.5e0", "'2.5e0' must be a whole number"),
    ("1e-3", "'1e-3' must be a whole number"),
    ("abc", "'abc' is not a number"),
    ("nan", "'nan' is not a number"),
    ("12x", "'12x' is not a number"),
    ("", "type a whole number"),
    ("_", "type a whole number"),
    ("4,09", "'4,09': a comma only separates thousands (250,000); write a decimal point as a point (2.5)"),
    ("40_96", "'40_96': an underscore only separates thousands, in groups of three digits (1_234_567)"),
])
def test_a_refusal_says_the_same_words_after_the_flag_and_the_field(text, words):
    with pytest.raises(BadInput) as flag:
        cli_int(FLAG, text, 1, MAX_SEQ_LEN)
    with pytest.raises(BadInput) as field:
        field_int(text, LABEL, 1, MAX_SEQ_LEN)
    assert str(flag.value) == f"{FLAG}: {words}"
    assert str(field.value) == f"{LABEL}: {words}"


def test_the_command_line_reads_a_whole_number_exactly_and_echoes_what_was_typed():
    assert cli_int("--sample", "9007199254740993") == 2**53 + 1  # no float between
    assert cli_int("--sample", "9,007,199,254,740,993") == 2**53 + 1
    assert cli_int("--seed", "4294967295.0", 0, MAX_SEED) == MAX_SEED
    with pytest.raises(BadInput, match=r"^--seed: -1e3 must be at least 0$"):  # was "'-1e3' is not an integer"
        cli_int("--seed", "-1e3", 0, MAX_SEED)
    with pytest.raises(BadInput, match=r"^--seed: 4\.3e9 must be at most 4,294,967,295$"):
        cli_int("--seed", "4.3e9", 0, MAX_SEED)
    with pytest.raises(BadInput, match=r"^--seq-len: inf must be at most 16,777,216$"):
        cli_int(FLAG, "inf", 1, MAX_SEQ_LEN)


@pytest.mark.parametrize("text", ["1e999999999", "inf", "1e5000"])
def test_a_number_beyond_any_count_is_refused_without_a_bound_and_at_once(text):
    """With no upper bound (--sample), 1e999999999 must not become a billion-digit int."""
    with pytest.raises(BadInput) as caught:
        cli_int("--sample", text)
    assert str(caught.value).startswith(f"--sample: {text!r} is ")


def test_a_field_and_its_range_message_keep_what_was_typed():
    with pytest.raises(BadInput, match=r"^Sequence length: 1e9 must be at most 16,777,216$"):
        field_int("1e9", LABEL, 1, MAX_SEQ_LEN)
    with pytest.raises(BadInput, match=r"^Sequence length: 1e999999999 must be at most 16,777,216$"):
        field_int("1e999999999", LABEL, 1, MAX_SEQ_LEN)
    with pytest.raises(BadInput, match=r"^Sequence length: -inf must be at least 1$"):
        field_int("-inf", LABEL, 1, MAX_SEQ_LEN)


@pytest.mark.parametrize("text", ["10_0,000", "1,000_0", "_100,000", "100,000_"])
def test_a_misplaced_underscore_beside_a_good_comma_is_named(text):
    underscore = f"X: {text!r}: an underscore only separates thousands, in groups of three digits (1_234_567)"
    with pytest.raises(BadInput) as caught:
        without_commas(text, "X")
    assert str(caught.value) == underscore  # was "a comma only separates thousands ...; write a decimal point"
    with pytest.raises(BadInput) as field:
        field_int(text, "X", 1, 10**6)
    assert str(field.value) == underscore
    with pytest.raises(BadInput, match="an underscore only separates thousands"):
        parse_size(text + "MiB", "--gpu-memory")


@pytest.mark.parametrize("text", ["1_000,5", "100_000,5", "2,5"])
def test_a_misplaced_comma_beside_a_good_underscore_keeps_the_decimal_point_advice(text):
    with pytest.raises(BadInput, match="a comma only separates thousands .250,000.; write a decimal point"):
        without_commas(text, "X")
