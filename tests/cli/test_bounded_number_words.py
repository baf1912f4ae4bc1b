"""A whole number out of its bounds, said once for the CLI's integer flags and the planner's integer fields.

Before, `lorplan plan --rank` with a 5,000-digit number printed all 5,000 digits in its one-line error, and the
planner said "Custom rank: inf is too large (at most 65,536)" for the same text (its float is inf). And the two
said one rule in two wordings: the flag "--seq-len: 1e9 must be at most 16,777,216", the field "Sequence length:
1e9 is too large (at most 16,777,216)". Now core.units.whole_number_in says it for both, a long text echoed as its
first characters and its length ("9999999999… (5,000 digits)"; up to 40 characters, whole).
"""

from __future__ import annotations

import pytest

from lorplan.cli._common import parse_count, parse_positive_float
from lorplan.cli._common import parse_int as cli_int
from lorplan.core.errors import BadInput
from lorplan.core.limits import MAX_COUNT, MAX_RANK, MAX_SEED
from lorplan.core.units import echoed, whole_number
from lorplan.tui.bridge import MAX_SEQ_LEN
from lorplan.tui.panels.setup_form import parse_int as field_int
from tests.cli.test_input_edges import _run

LONG = "9" * 5000


def _said(call, *args) -> str:
    with pytest.raises(BadInput) as caught:
        call(*args)
    return str(caught.value)


@pytest.mark.parametrize("text", [LONG, "-" + LONG, "1" + "0" * 40])
def test_a_long_number_out_of_bounds_is_echoed_short_by_the_flag_and_the_field(text):
    digits = len(text.lstrip("-"))
    shown = f"{text[:10]}… ({digits:,} digits)"
    bound = "must be at least 1" if text.startswith("-") else f"must be at most {MAX_RANK:,}"
    assert _said(cli_int, "--rank", text, 1, MAX_RANK) == f"--rank: {shown} {bound}"  # was all 5,000 digits
    assert _said(field_int, text, "Custom rank", 1, MAX_RANK) == f"Custom rank: {shown} {bound}"  # was "inf"


def test_a_long_number_is_echoed_short_with_no_bound_above_and_as_no_whole_number():
    assert _said(cli_int, "--rank", LONG) == "--rank: '9999999999…' (5,000 digits) is too large a number"
    head = "--rank: '9999999999…"  # and the last 10 characters, where the fault is (review 296)
    assert _said(whole_number, LONG + ".5", "--rank") == f"{head}99999999.5' (5,002 characters) must be a whole number"
    assert _said(whole_number, LONG + "x", "--rank") == f"{head}999999999x' (5,001 characters) is not a number"
    assert _said(parse_count, "--examples", LONG) == (
        f"--examples: '9999999999…' (5,000 digits) is more than any training set (at most {MAX_COUNT:,} = 1e15)")
    assert _said(parse_positive_float, "--epochs", LONG) == (
        "--epochs: '9999999999…' (5,000 digits) is too large a number")


def test_what_was_typed_is_echoed_whole_up_to_40_characters():
    assert echoed("1e9") == "1e9" and echoed(" 1_000_000 ", quoted=True) == "'1_000_000'"
    assert echoed("9" * 40) == "9" * 40  # typed digit by digit, it may be read back
    assert echoed("9" * 41) == "9999999999… (41 digits)"
    assert echoed("-" + "99," * 14 + "999") == "-99,99,99,…,99,99,999 (31 digits)"  # a sign and separators: digits
    assert echoed("1" * 41 + "e5", quoted=True) == "'1111111111…11111111e5' (43 characters)"


@pytest.mark.parametrize(("text", "low", "high"), [
    ("0", 1, 5), ("9", 1, 5), ("-3", 1, 10**9), ("1e9", 1, MAX_SEQ_LEN), ("1e999999999", 1, MAX_SEQ_LEN),
    ("-inf", 1, MAX_SEQ_LEN), ("inf", 1, MAX_SEQ_LEN), ("1e99", 1, MAX_COUNT), ("4.3e9", 0, MAX_SEED),
    ("1_000_000", 1, 1024),
])
def test_the_flag_and_the_field_say_a_bound_in_the_same_words(text, low, high):
    flag = _said(cli_int, "--x", text, low, high)
    field = _said(field_int, text, "X", low, high)
    assert flag.removeprefix("--x: ") == field.removeprefix("X: ")  # "9 must be at most 5" both, one function
    assert (" must be at most " in flag) != (" must be at least " in flag)


def test_a_bound_of_ten_to_the_fifteen_reads_short_in_both():
    assert _said(field_int, "1e99", "Examples", 1, MAX_COUNT) == "Examples: 1e99 must be at most 10^15"
    assert _said(cli_int, "--n", "1e99", 1, MAX_COUNT) == "--n: 1e99 must be at most 10^15"


def test_lorplan_plan_rank_of_5000_digits_is_one_short_line(capsys):
    rc, out, err = _run(capsys, "plan", "--model", "openai-community/gpt2", "--rank", LONG)
    assert rc == 2 and out == "" and err.count("\n") == 1, err[:300]
    assert err == "lorplan plan: error: --rank: '9999999999…' (5,000 digits) is too large a number\n", err[:300]


@pytest.mark.parametrize(("flag", "beyond"), [("--gpu-memory", "is more than any GPU has (at most 64 TiB)"),
                                              ("--cuda-context", "is more than a CUDA context takes (at most 64 GiB)")])
def test_a_long_size_is_echoed_short_too(capsys, flag, beyond):
    gpt2 = "openai-community/gpt2"
    rc, out, err = _run(capsys, "plan", "--model", gpt2, flag, LONG + "G")  # a float's inf: no finite size
    shown = "'9999999999…999999999G' (5,001 characters)"  # its G kept (review 296)
    assert rc == 2 and err == f"lorplan plan: error: {flag}: {shown} is not a finite size\n"
    rc, out, err = _run(capsys, "plan", "--model", gpt2, flag, "1" + "0" * 50 + "G")
    assert rc == 2 and err == f"lorplan plan: error: {flag}: '1000000000…000000000G' (52 characters) {beyond}\n", err
