"""The planner's number fields dropped every comma (tui.numbers.typed_value), so "2,5" (two and a half, where a
comma is the decimal mark) read as 25 and "5,00" as 500, where the CLI's counts (cli._common.parse_count) take a
comma only between groups of three digits and refuse any other. Both now read through one rule
(lorplan.core.units.without_commas)."""

from __future__ import annotations

import pytest

from lorplan.cli._common import parse_count
from lorplan.core.errors import BadInput
from lorplan.tui.bridge import MAX_SEQ_LEN
from lorplan.tui.panels.setup_form import parse_int

MISPLACED = ["2,5", "5,00", "1,0000", "12,34,567", ",500", "500,", "1,,000", "1,000.5,5"]


@pytest.mark.parametrize("text", MISPLACED)
def test_a_comma_that_groups_no_thousands_is_no_number_in_a_field(text):
    with pytest.raises(BadInput) as caught:
        parse_int(text, "Sequence length", 1, MAX_SEQ_LEN)  # was 25 for "2,5", 500 for "5,00"
    assert str(caught.value).startswith("Sequence length: ")


@pytest.mark.parametrize("text", MISPLACED)
def test_a_field_named_says_the_rule_the_cli_says(text):
    with pytest.raises(BadInput) as field:
        parse_int(text, "Sequence length", 1, MAX_SEQ_LEN)
    with pytest.raises(BadInput) as flag:
        parse_count("--trained-tokens", text)
    assert str(field.value).startswith(f"Sequence length: {text!r}: a comma only separates thousands")
    # one rule, one sentence: only the name and the example decimal differ
    assert str(field.value).removeprefix("Sequence length").removesuffix("(2.5)") == \
        str(flag.value).removeprefix("--trained-tokens").removesuffix("(2.5M)")


@pytest.mark.parametrize(("text", "value"), [("2,048", 2048), ("16,384", 16384), ("1,000_000", 1_000_000),
                                             ("2_048", 2048), ("4096", 4096), ("1,024.0", 1024)])
def test_commas_between_groups_of_three_digits_still_read(text, value):
    assert parse_int(text, "Sequence length", 1, MAX_SEQ_LEN) == value
