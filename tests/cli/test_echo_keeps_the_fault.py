"""A long text echoed short still shows the part that is wrong with it (review of d54ba71).

core.units.echoed cut a text of more than 40 characters to its first 10 and its length, so a fault typed last was
cut away: "1.0000000000000000000000000000000000000e9" (41 characters, 10^9) was "--seq-len: 1.00000000… (41
characters) must be at most 16,777,216", which reads as 1.0 refused; "222…2kk" was "'2222222222…' (41
characters) is not a count", its bad suffix unseen. And the separator rule (core.units.without_commas) and
parse_size's "write it with one (e.g. …MiB)" still printed a pasted 5,000-digit text whole in their one line.
Now a long text that is not digits alone is echoed as its first 10 characters, "…" and its last 10.
"""

from __future__ import annotations

import pytest

from lorplan.cli._common import parse_count, parse_positive_float
from lorplan.cli._common import parse_int as cli_int
from lorplan.core.errors import BadInput
from lorplan.core.limits import MAX_SEQ_LEN
from lorplan.core.units import echoed, parse_budget, whole_number_in
from lorplan.tui.panels.setup_form import parse_int as field_int


def _said(call, *args) -> str:
    with pytest.raises(BadInput) as caught:
        call(*args)
    return str(caught.value)


def test_the_exponent_that_makes_a_long_number_too_large_is_shown():
    text = "1." + "0" * 37 + "e9"  # 10^9, 41 characters
    assert len(text) == 41
    said = "1.00000000…00000000e9 (41 characters) must be at most 16,777,216"
    assert _said(cli_int, "--seq-len", text, 1, MAX_SEQ_LEN) == f"--seq-len: {said}"
    assert _said(field_int, text, "Sequence length", 1, MAX_SEQ_LEN) == f"Sequence length: {said}"


@pytest.mark.parametrize(("call", "text", "tail"), [
    (lambda t: parse_count("--examples", t), "2" * 39 + "kk", "kk"),  # a bad scale typed last
    (lambda t: cli_int("--rank", t), "1" * 40 + "x", "x"),
    (lambda t: whole_number_in(t, "Custom rank", 1, 65536), "4096." + "0" * 35 + "1", "01"),  # no whole number
    (lambda t: parse_positive_float("--epochs", t), "24." + "0" * 34 + "GiB.", "GiB."),
    (lambda t: parse_budget(t, "--gpu-memory"), "24." + "0" * 34 + "GiB.", "GiB."),
])
def test_a_fault_typed_last_in_a_long_text_is_in_the_message(call, text, tail):
    assert len(text) > 40
    said = _said(call, text)
    assert f"{tail}' ({len(text)} characters)" in said, said


@pytest.mark.parametrize("call", [
    lambda t: cli_int("--rank", t), lambda t: field_int(t, "Custom rank", 1, 65536),
    lambda t: parse_count("--examples", t), lambda t: parse_positive_float("--epochs", t),
    lambda t: parse_budget(t, "--gpu-memory"),
])
@pytest.mark.parametrize("text", ["9," + "9" * 5000, "9" * 5000 + "_0"])
def test_a_misplaced_separator_in_a_pasted_number_is_one_short_line(call, text):
    said = _said(call, text)  # all 5,000 digits before
    assert len(said) < 200 and "only separates thousands" in said, said[:300]
    assert f"{text[-10:]}' (5,001 digits)" in said, said


def test_a_long_size_of_no_unit_is_not_repeated_in_full_as_the_example():
    text = "5000." + "0" * 5000  # 5,000 (GiB? bytes?): "write it with one"
    said = _said(parse_budget, text, "--gpu-memory")
    assert len(said) < 200 and "has no unit" in said and "MiB" in said, said[:300]


def test_digits_alone_keep_their_head_and_length_only():
    assert echoed("9" * 41) == "9999999999… (41 digits)"  # the count says the size; the tail adds nothing
    assert echoed("1" * 41 + "e5", quoted=True) == "'1111111111…11111111e5' (43 characters)"
