"""Review of 297b842 (one reading rule for integer flags, core.units.whole_number).

- `lorplan plan --rank 8.0 --write P` priced rank 8 (ranks_from_args reads --rank by parse_int) and then refused it
  in write_plan_from_cli's own reader (int(), then float): "--rank: '8.0' must be a positive integer".
- An integer flag with no upper bound took "1e400" since 297b842 (it was "not an integer") and handed a 401-digit
  number on, which the setup's and the ranks' checks printed in full ("--micro-batch must be at most 1,048,576,
  got 10,000,000,…" over 500 characters, --layers 1e4000 four thousand digits): a number of more than 20 digits is
  more than any count and is refused as typed.
- "0e999999999" (zero) was "too large a number" where the exponent was counted, not the value.
- A superscript digit ("²") passes str.isdigit() but int() refuses it: `--gpu ²` ended in a ValueError traceback.
"""

from __future__ import annotations

import re

import pytest

from lorplan.cli import main
from lorplan.cli._common import parse_int
from lorplan.core.errors import BadInput
from lorplan.core.limits import MAX_SEED
from lorplan.core.plan import read_plan

GPT2 = "openai-community/gpt2"


def _refused(capsys, argv) -> str:
    rc = main(argv)
    cap = capsys.readouterr()
    assert rc == 2, (argv, cap.out)
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cap.err, cap.err
    return lines[0]


@pytest.mark.parametrize(("typed", "rank"), [("8.0", 8), ("1e1", 10), ("1_6", None), ("16", 16)])
def test_plan_write_reads_rank_as_the_table_does(tmp_path, capsys, monkeypatch, typed, rank):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "p.toml"
    rc = main(["plan", "--model", GPT2, "--rank", typed, "--write", str(path)])
    err = capsys.readouterr().err
    if rank is None:  # refused once, by the one rule, never priced
        assert rc == 2 and "--rank: '1_6': an underscore only separates thousands" in err
        assert not path.exists()
        return
    assert rc == 0, err  # 8.0 was "--rank: '8.0' must be a positive integer" after the table took it
    assert read_plan(path).lora.r == rank


@pytest.mark.parametrize(("argv", "flag", "typed"), [
    (["plan", "--model", GPT2, "--micro-batch"], "--micro-batch", "1e400"),
    (["plan", "--model", GPT2, "--layers"], "--layers", "1e4000"),
    (["plan", "--model", GPT2, "--ranks"], "--ranks", "8,1e400"),
    (["plan", "--model", GPT2, "--gpus"], "--gpus", "1e21"),
])
def test_an_exponent_beyond_any_count_is_refused_as_typed_not_expanded(capsys, argv, flag, typed):
    line = _refused(capsys, [*argv, typed])
    shown = typed.split(",")[-1]
    assert line.endswith(f"error: {flag}: {shown!r} is too large a number"), line


def test_twenty_digits_still_reach_the_setups_own_bound(capsys):
    # the limit is above any 64-bit count: a typed 20-digit number is still named by the setup's check
    line = _refused(capsys, ["plan", "--model", GPT2, "--micro-batch", "99999999999999999999"])
    assert "--micro-batch must be at most 1,048,576" in line
    assert parse_int("--sample", "99999999999999999999") == 10**20 - 1
    with pytest.raises(BadInput, match=r"^--sample: '100000000000000000000' is too large a number$"):
        parse_int("--sample", "100000000000000000000")


@pytest.mark.parametrize("text", ["0e999999999", "-0e999999999", "0.000e400", "0E+99999"])
def test_zero_with_a_large_exponent_is_zero(text):
    assert parse_int("--seed", text, 0, MAX_SEED) == 0  # was "'0e999999999' is too large a number"
    assert parse_int("--layers", text, 0) == 0
    with pytest.raises(BadInput, match=rf"^--seq-len: {re.escape(text)} must be at least 1$"):
        parse_int("--seq-len", text)


@pytest.mark.parametrize("gpu", ["²", "¹²"])
def test_a_superscript_gpu_index_is_refused_in_one_line(capsys, gpu):
    line = _refused(capsys, ["plan", "--model", GPT2, "--gpu", gpu])
    assert f"--gpu: unknown GPU {gpu!r}" in line
