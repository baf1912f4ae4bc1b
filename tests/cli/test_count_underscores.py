"""An underscore in a typed number was dropped wherever it stood: `--examples 10_0` read as 100 (Python's own
reading, but a typo for 100 or 1,000), `--seq-len 2_04_8` as 2048, `--gpu-memory 1_0` as 10 GiB, and the
planner's fields the same. A comma already separated only groups of three digits (core.units.without_commas);
an underscore now follows that rule (1_000_000 reads, 10_0 is refused naming the flag or field and the text).
Commas in a grouping of other than three digits (Indian lakh grouping, 12,34,567) were refused with advice to
write a decimal point, which they are not: they are now refused as a grouping the tool does not read."""

from __future__ import annotations

import pytest

from lorplan.cli._common import parse_count, parse_int, parse_positive_float, parse_rope_scaling
from lorplan.core.errors import BadInput
from lorplan.core.units import parse_budget, parse_size, without_commas
from lorplan.tui.panels.setup_form import parse_int as field_int
from lorplan.tui.panels.setup_form import parse_positive_float as field_float
from tests.cli.test_input_edges import _run

UNDERSCORE = "an underscore only separates thousands, in groups of three digits (1_234_567)"
MISPLACED = ["10_0", "1_00_000", "1_0000", "_100", "100_", "1__000", "12_34_567", "1_000.000_5", "1e1_0",
             "2_5k", "-10_0"]


@pytest.mark.parametrize("text", MISPLACED)
def test_a_count_with_an_underscore_out_of_place_is_refused(text):
    with pytest.raises(BadInput) as caught:
        parse_count("--examples", text)  # "10_0" was 100, "2_5k" 25,000
    assert str(caught.value) == f"--examples: {text!r}: {UNDERSCORE}"


@pytest.mark.parametrize("text", MISPLACED)
def test_every_entry_point_refuses_it_in_the_same_words(text):
    for parse, label in ((lambda t: parse_int("--seq-len", t), "--seq-len"),
                         (lambda t: parse_positive_float("--alpha", t), "--alpha"),
                         (parse_rope_scaling, "--rope-scaling"),
                         (lambda t: parse_size(t, "--cuda-context", zero=True), "--cuda-context"),
                         (lambda t: parse_budget(t, "GPU memory"), "GPU memory"),
                         (lambda t: field_int(t, "Sequence length", 1, 10**6), "Sequence length"),
                         (lambda t: field_float(t, "Ladder budget", "minutes"), "Ladder budget")):
        with pytest.raises(BadInput) as caught:
            parse(text)
        assert str(caught.value) == f"{label}: {text!r}: {UNDERSCORE}", (label, str(caught.value))


def test_the_cli_says_it_in_one_line(capsys):
    rc, out, err = _run(capsys, "recommend", "--model", "meta-llama/Llama-3.1-8B", "--examples", "10_0")
    assert rc == 2 and out == "" and "Traceback" not in err and err.count("\n") == 1, err
    assert err.strip().endswith(f"--examples: '10_0': {UNDERSCORE}"), err


@pytest.mark.parametrize(("text", "value"), [("1_000_000", 1_000_000), ("250_000", 250_000), ("1,000_000", 1_000_000),
                                             ("+1_000", 1000), ("1_000.0", 1000)])
def test_underscores_between_groups_of_three_digits_still_read(text, value):
    assert parse_count("--examples", text) == value
    assert field_int(text, "Labelled examples", 1, 10**15) == value


@pytest.mark.parametrize(("text", "value"), [("2_500k", 2_500_000), ("1_000.5k", 1_000_500)])
def test_a_count_reads_its_scale_after_the_groups(text, value):
    assert parse_count("--examples", text) == value


def test_the_other_entry_points_read_grouped_underscores():
    assert parse_int("--seq-len", "4_096") == 4096
    assert parse_positive_float("--alpha", "1_024.5") == 1024.5
    assert parse_size("1_024", "--gpu-memory") == 1024 * 2**30
    assert parse_size("24_000MiB", "--gpu-memory") == 24_000 * 2**20  # was "not a memory size"


def test_a_text_without_digits_is_still_no_number_not_a_grouping():
    assert without_commas("_", "x") == ""  # the fields' "type a number", as before
    with pytest.raises(BadInput, match=r"^--examples: 'abc_def' is not a count"):
        parse_count("--examples", "abc_def")


GROUPING = "a comma only separates thousands, in groups of three digits (1,234,567)"


@pytest.mark.parametrize("text", ["12,34,567", "1,00,000", "1,000,00", "1,2,3", "12,34,567.5", "12,34,567k"])
def test_a_grouping_of_other_than_three_digits_is_not_called_a_decimal_comma(text):
    with pytest.raises(BadInput) as flag:
        parse_count("--trained-tokens", text)
    assert str(flag.value) == f"--trained-tokens: {text!r}: {GROUPING}"  # was "write a decimal point as a point"
    with pytest.raises(BadInput) as field:
        field_int(text, "Sequence length", 1, 10**6)
    assert str(field.value) == f"Sequence length: {text!r}: {GROUPING}"


@pytest.mark.parametrize("text", ["2,5", "5,00", "1,0000", "2,5M", "1,,000", "1,000.5,5", ",500"])
def test_a_comma_that_may_be_a_decimal_mark_keeps_its_advice(text):
    with pytest.raises(BadInput, match=r"write a decimal point as a point \(2\.5M\)$"):
        parse_count("--trained-tokens", text)


def test_a_size_takes_the_same_separators():
    assert parse_size("16,000MiB", "--gpu-memory") == 16_000 * 2**20  # was "not a memory size"
    with pytest.raises(BadInput, match=r"^--gpu-memory: '2,5G': a comma only separates thousands \(250,000\); write a "
                                       r"decimal point as a point \(24\.5G\)$"):
        parse_size("2,5G", "--gpu-memory")
