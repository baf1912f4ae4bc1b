"""The setup form's own parsers and the one comma rule (lorplan.core.units.without_commas, d378ffe).

parse_int read through numbers.typed_value without the field's label, so a misplaced comma in a whole-number
field ("2,5" in Sequence length) got "is not a number" where the CLI's counts say why ("a comma only separates
thousands"). parse_positive_float (the Recommend tab's ladder minutes field) still dropped every comma itself, so
"2,5" minutes (two and a half, where a comma is the decimal mark) read as 25 and started a ladder of 25 minutes.
Both now say the CLI's sentence, led by the field's label. Real parsers, the form's own build and the Recommend
tab's field table."""

from __future__ import annotations

import pytest

from lorplan.cli._common import parse_count
from lorplan.core.errors import BadInput
from lorplan.tui.panels import recommend_panel
from lorplan.tui.panels.setup_form import FormValues, build_setup, parse_int, parse_positive_float

COMMA = "a comma only separates thousands (250,000); write a decimal point as a point (2.5)"
MISPLACED = ["2,5", "5,00", "1,0000", ",500", "500,", "1,,000", "1,000.5,5"]


def _cli_words(text: str) -> str:
    """The CLI's sentence for `text` without its flag and its example decimal, to compare with a field's."""
    with pytest.raises(BadInput) as caught:
        parse_count("--trained-tokens", text)
    return str(caught.value).removeprefix("--trained-tokens").removesuffix("(2.5M)")


@pytest.mark.parametrize("text", MISPLACED)
def test_a_whole_number_field_says_the_comma_rule(text):
    with pytest.raises(BadInput) as caught:
        parse_int(text, "Sequence length", 1, 1_000_000)
    said = str(caught.value)
    assert said == f"Sequence length: {text!r}: {COMMA}"  # was "Sequence length: '2,5' is not a number"
    assert said.removeprefix("Sequence length").removesuffix("(2.5)") == _cli_words(text)


def test_the_form_shows_it_on_the_field():
    result = build_setup(FormValues(seq_len="2,5", micro_batch="5,00"))
    assert result.setup is None
    assert result.errors["seq_len"] == f"Sequence length: '2,5': {COMMA}"
    assert result.errors["micro_batch"] == f"Micro-batch: '5,00': {COMMA}"


@pytest.mark.parametrize("text", MISPLACED)
def test_the_ladder_minutes_field_takes_no_decimal_comma(text):
    with pytest.raises(BadInput) as caught:
        parse_positive_float(text, "Ladder budget", "minutes")  # "2,5" was 25.0, "5,00" 500.0
    assert str(caught.value) == f"Ladder budget: {text!r}: {COMMA}"
    with pytest.raises(BadInput) as field:  # the Recommend tab's minutes field, as `l` and the as-you-type check read it
        recommend_panel._LADDER_FIELDS["rec-budget"](text)
    assert str(field.value) == f"Ladder budget: {text!r}: {COMMA}"


@pytest.mark.parametrize(("text", "value"), [("2.5", 2.5), ("1,000", 1000.0), ("1,000.5", 1000.5), ("1_000", 1000.0),
                                             (" 30 ", 30.0), ("2,048.25", 2048.25)])
def test_the_minutes_field_still_reads_grouped_thousands(text, value):
    assert parse_positive_float(text, "Ladder budget", "minutes") == value


@pytest.mark.parametrize(("text", "said"), [("", "Ladder budget: type a number of minutes"),
                                            ("_", "Ladder budget: type a number of minutes"),
                                            ("abc", "Ladder budget: 'abc' is not a number of minutes"),
                                            ("nan", "Ladder budget: 'nan' is not a finite number of minutes"),
                                            ("-1", "Ladder budget: '-1' must be a positive number of minutes")])
def test_the_minutes_fields_other_words_are_unchanged(text, said):
    with pytest.raises(BadInput) as caught:
        parse_positive_float(text, "Ladder budget", "minutes")
    assert str(caught.value) == said
