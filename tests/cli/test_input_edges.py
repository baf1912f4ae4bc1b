"""Input edges a new-user walkthrough hit: each is refused in one line naming the flag (exit 2), never a
traceback, and before anything is priced, trained or written."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.cli._common import parse_count
from lorplan.core.limits import MAX_COUNT


def _run(capsys, *argv):
    """(exit code, stdout, stderr) of `lorplan ARGV`, whether argparse or the command refused it."""
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse's checks exit from parse_args
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def _refused(capsys, argv, expected):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert expected in err, (argv, err)
    assert out == "", out  # nothing was priced or printed
    return err


# 1. counts: --trained-tokens 1e400 was an OverflowError traceback (exit 1), 1e30 a 31-digit token count


@pytest.mark.parametrize(("argv", "flag", "text"), [
    (["--model", "gpt2", "--trained-tokens", "1e400"], "--trained-tokens", "1e400"),
    (["--model", "gpt2", "--trained-tokens", "1e30"], "--trained-tokens", "1e30"),
    (["--model", "gpt2", "--trained-tokens", "1000000000000001"], "--trained-tokens", "1000000000000001"),
    (["--model", "gpt2", "--trained-tokens", "1e999999999k"], "--trained-tokens", "1e999999999k"),
    (["--model", "all-MiniLM-L6-v2", "--examples", "1e400"], "--examples", "1e400"),
])
def test_a_count_beyond_any_training_set_is_refused_naming_the_bound(argv, flag, text, capsys, state_home):
    _refused(capsys, ["recommend", *argv],
             f"{flag}: {text!r} is more than any training set (at most 1,000,000,000,000,000 = 1e15)")


def test_the_count_bound_itself_is_accepted_and_recommends_without_overflow(capsys, state_home):
    assert parse_count("--trained-tokens", "1e15") == MAX_COUNT == 10**15
    rc, out, err = _run(capsys, "recommend", "--model", "gpt2", "--trained-tokens", "1e15", "--json")
    assert rc == 0 and "Traceback" not in err, err
    assert json.loads(out)["rank"] >= 1


@pytest.mark.parametrize(("text", "message"), [
    # more digits than Decimal's default 28: the product used to round them away and call it whole
    ("2.5000000000000000000000000001k", "'2.5000000000000000000000000001k' is not a whole number"),
    ("999999999999999.99999999999999999999", "is not a whole number"),
    ("-1e999999999", "-1e999999999 must be at least 1"),  # compared as a Decimal, never a billion-digit int
    ("1e-999999999", "'1e-999999999' is not a whole number"),
    ("nan", "'nan' is not a whole number"),
])
def test_counts_with_extreme_exponents_or_digits_are_refused_quickly(text, message):
    from lorplan.core.errors import BadInput

    with pytest.raises(BadInput) as err:
        parse_count("--examples", text)
    assert str(err.value) == f"--examples: {message}" or message in str(err.value), str(err.value)
