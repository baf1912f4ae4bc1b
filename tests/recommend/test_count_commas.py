"""--trained-tokens and --examples take commas as thousands separators (5,000,000). A comma elsewhere was dropped
silently: '2,5M' (2.5 million where a comma is the decimal mark) read as 25,000,000, ten times the data, and
'5,00' as 500; the rank then rests on a size the user never meant. Such a count is now refused, naming the flag."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main

LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.mark.parametrize("text", ["2,5M", "5,00", "1,5k", "1,0000", "12,34,567", ",500", "500,", "1,,000",
                                  # a comma after the groups (a fraction, an exponent) was still dropped
                                  "1,000.5,5k", "1,000e0,3", "1,000_5,5"])
def test_a_comma_that_groups_no_thousands_is_refused(text, capsys):
    try:
        rc = main(["recommend", "--model", LLAMA, "--trained-tokens", text])
    except SystemExit as exc:  # argparse's type error, in its one line
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"lorplan recommend: error: --trained-tokens: {text!r}") and "thousands" in line, err


@pytest.mark.parametrize(("text", "value"), [("5,000,000", 5_000_000), ("250,000", 250_000), ("2,500k", 2_500_000),
                                             ("1,000.5k", 1_000_500), ("-1,000", None)])
def test_commas_between_groups_of_three_digits_still_read(text, value, capsys):
    try:
        rc = main(["recommend", "--model", LLAMA, "--trained-tokens", text, "--json"])
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    if value is None:  # read as -1,000, then refused as a count below 1 (not for its comma)
        assert rc == 2 and "-1,000 must be at least 1" in out.err, out.err
        return
    assert rc == 0, out.err
    assert json.loads(out.out)["capacity"]["trained_tokens"] == value
