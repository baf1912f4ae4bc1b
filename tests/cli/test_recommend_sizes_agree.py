"""`lorplan recommend --model gpt2 --examples 100000 --trained-tokens 10` (a causal LM) was accepted without a word:
fewer trained tokens than examples. lorplan train drops a row left with no trained token (lorplan.train.data: its
loss would be 0/0), so every example it trains carries at least one (a completion's or text's EOS at least):
the two sizes cannot both be right, and the line says so naming both flags."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main


def run(capsys, *argv):
    try:
        rc = main(["recommend", "--model", "gpt2", *argv])
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize(("tokens", "examples"), [("10", "100000"), ("1", "2"), ("99", "100k")])
def test_fewer_trained_tokens_than_examples_is_refused_naming_both(tokens, examples, capsys, state_home):
    rc, out, err = run(capsys, "--trained-tokens", tokens, "--examples", examples)
    assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"--trained-tokens {int(tokens):,} is fewer than --examples {int(examples.replace('k', '000')):,}" in err, err
    assert "at least one trained token" in err, err


def test_one_trained_token_per_example_is_a_size(capsys, state_home):
    rc, out, err = run(capsys, "--trained-tokens", "100", "--examples", "100", "--json")
    assert rc == 0, err
    assert json.loads(out)["rank"] >= 1
