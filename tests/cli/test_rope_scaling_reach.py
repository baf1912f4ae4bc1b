"""Beyond a RoPE model's context, the advice names a --rope-scaling factor lorplan takes (at most 64): a sequence
longer than 64 × the context used to be told "extend RoPE with --rope-scaling 123", which lorplan then refused
("must be a factor above 1 and at most 64"), and with a factor given, "raise the factor (at most 64)" where no
factor reaches. Now it says the longest sequence the largest factor reaches."""

from __future__ import annotations

import re

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import PLAN_KEYS, check_context
from lorplan.core.memory.types import MAX_ROPE_SCALING
from lorplan.core.model import load_spec
from tests.cli.test_plan_bounds import planned, refused

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # max_position_embeddings 8,192
CONTEXT = 8192
REACH = int(CONTEXT * MAX_ROPE_SCALING)  # 524,288


def _factors(line: str) -> list[float]:
    """Every factor the line names for --rope-scaling or model.rope_scaling."""
    return [float(f) for f in re.findall(r"(?:--rope-scaling|model\.rope_scaling =) ([0-9.]+)", line)]


@pytest.mark.parametrize("seq", [REACH + 1, 1_000_000, 1 << 24])
def test_no_advice_names_a_factor_above_the_largest(capsys, seq):
    line = refused(capsys, "--model", SMOL, "--seq-len", str(seq))
    assert "extend RoPE" not in line and all(f <= MAX_ROPE_SCALING for f in _factors(line)), line
    assert line == (f"lorplan plan: error: --seq-len {seq} is beyond {SMOL}'s context of 8,192 tokens "
                    "(max_position_embeddings) and beyond the 524,288 tokens that --rope-scaling 64 (the largest "
                    "factor) reaches; use sequences of at most 524,288 tokens")


def test_the_largest_factor_is_still_the_advice_where_it_reaches(capsys):
    line = refused(capsys, "--model", SMOL, "--seq-len", str(REACH))
    assert "extend RoPE with --rope-scaling 64 " in line
    out = planned(capsys, "--model", SMOL, "--seq-len", str(REACH), "--rope-scaling", "64", "--ranks", "8")
    assert out["setup"]["rope_scaling"] == 64.0


@pytest.mark.parametrize("factor", ["2", "64"])
def test_raise_the_factor_only_where_raising_it_reaches(capsys, factor):
    line = refused(capsys, "--model", SMOL, "--seq-len", str(REACH + 1), "--rope-scaling", factor)
    assert "raise the factor" not in line
    assert line.endswith("; shorten the sequences to at most 524,288 tokens, which --rope-scaling 64 (the largest "
                         "factor) reaches")
    line = refused(capsys, "--model", SMOL, "--seq-len", str(REACH), "--rope-scaling", "2")
    assert line.endswith("; raise the factor (at most 64) or shorten the sequences")


def test_plan_keys_and_the_planner_say_the_same():
    from lorplan.tui.bridge import rank_table

    spec = load_spec(SMOL)
    with pytest.raises(BadInput) as err:
        check_context(spec, TrainingSetup(seq_len=1_000_000), PLAN_KEYS)
    assert "model.rope_scaling = 64 (the largest factor)" in str(err.value)
    assert _factors(str(err.value)) == [64.0]
    with pytest.raises(BadInput) as err:
        rank_table(spec, TrainingSetup(seq_len=1_000_000), None)
    assert "524,288 tokens" in str(err.value)
    assert "--rope-scaling 123" not in str(err.value) and "extend RoPE" not in str(err.value)
