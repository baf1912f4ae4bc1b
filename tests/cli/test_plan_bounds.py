"""`lorplan plan` refuses setups that cannot run (exit 2, one line naming the flag) instead of pricing them."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.bounds import check_plannable, context_tokens, rank_limit
from lorplan.core.model import load_spec

GPT2 = "openai-community/gpt2"
QWEN_INSTRUCT = "Qwen/Qwen2.5-7B-Instruct"  # config: max_position_embeddings 32768, no rope_scaling
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
LLAMA31 = "meta-llama/Llama-3.1-8B-Instruct"  # config: rope_scaling llama3 ×8 to 131072


def refused(capsys, *argv) -> str:
    rc = main(["plan", *argv])
    cap = capsys.readouterr()
    assert rc == 2, (argv, cap.out)
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and cap.out == "", cap.err
    return lines[0]


def planned(capsys, *argv) -> dict:
    rc = main(["plan", *argv, "--json"])
    cap = capsys.readouterr()
    assert rc in (0, 1), cap.err
    return json.loads(cap.out)


@pytest.mark.parametrize(("model", "seq", "context"), [(GPT2, 4096, 1024), (MINILM, 2048, 512)])
def test_learned_positions_end_at_the_context(capsys, model, seq, context):
    line = refused(capsys, "--model", model, "--seq-len", str(seq), "--gpu", "T4")
    assert line.startswith("lorplan plan: error: --seq-len") and f"{context:,} tokens" in line
    line = refused(capsys, "--model", model, "--seq-len", str(seq), "--rope-scaling", "4")
    assert "--rope-scaling" in line and "learned position embeddings" in line
    out = planned(capsys, "--model", model, "--seq-len", str(context), "--ranks", "8", "--gpu", "T4")
    assert out["setup"]["seq_len"] == context and out["rows"][0]["max_seq_len"] <= context


def test_rope_model_beyond_its_context_needs_rope_scaling(capsys):
    line = refused(capsys, "--model", QWEN_INSTRUCT, "--seq-len", "40000")
    assert "32,768 tokens" in line and "--rope-scaling 2" in line
    line = refused(capsys, "--model", QWEN_INSTRUCT, "--seq-len", "80000", "--rope-scaling", "2")
    assert "65,536 tokens" in line
    out = planned(capsys, "--model", QWEN_INSTRUCT, "--seq-len", "40000", "--rope-scaling", "2", "--ranks", "8",
                  "--gpu-memory", "1000GiB")
    assert out["setup"]["rope_scaling"] == 2.0
    assert any("--rope-scaling 2" in n and "40000" in n for n in out["notes"])
    assert out["rows"][0]["max_seq_len"] == 65536  # the fit solver stops at the scaled context
    rc = main(["plan", "--model", QWEN_INSTRUCT, "--seq-len", "40000", "--rope-scaling", "2", "--ranks", "8"])
    assert rc == 0 and "rope scaling ×2" in capsys.readouterr().out


def test_rope_scaling_is_not_stacked_on_a_config_that_scales(capsys):
    line = refused(capsys, "--model", LLAMA31, "--seq-len", "4096", "--rope-scaling", "2")
    assert "already scales RoPE (llama3" in line


@pytest.mark.parametrize("factor", ["1", "0.5", "65", "nan", "inf", "two"])
def test_rope_scaling_factor_bounds(capsys, factor):
    assert "--rope-scaling" in refused(capsys, "--model", QWEN_INSTRUCT, "--rope-scaling", factor)


def test_default_sequence_is_the_context_when_shorter(capsys):
    out = planned(capsys, "--model", GPT2, "--ranks", "8")
    assert out["setup"]["seq_len"] == 1024
    assert any("--seq-len 1024" in n and "context" in n for n in out["notes"])
    assert planned(capsys, "--model", QWEN_INSTRUCT, "--ranks", "8")["setup"]["seq_len"] == 2048


def test_layers_the_model_lacks(capsys):
    line = refused(capsys, "--model", GPT2, "--layers", "50-60")
    assert line.startswith("lorplan plan: error: --layers") and "12 blocks (0-11)" in line
    assert "12, 13" in refused(capsys, "--model", GPT2, "--layers", "10-13")
    assert "nothing would be trained" in refused(capsys, "--model", GPT2, "--targets", "wte", "--layers", "3")


@pytest.mark.parametrize(("argv", "needle"), [
    (["--ranks", "100000000"], "--ranks: rank 100,000,000 is above 768"),
    (["--rank", "769"], "--rank: rank 769 is above 768"),
    (["--ranks", "8,1000"], "--ranks: rank 1,000"),
    (["--rank-pattern", "c_attn=1000", "--ranks", "8"], "--rank-pattern: rank 1000"),
    (["--micro-batch", "99999999999999999999"], "--micro-batch must be at most 1,048,576"),
    (["--seq-len", "99999999999"], "--seq-len must be at most"),
    (["--gpus", "1000000", "--sharding", "ddp"], "--gpus must be at most"),
    (["--reserve-fraction", "5"], "--reserve-fraction must be from 0 to 1"),
    (["--reserve-fraction", "nan"], "--reserve-fraction"),
    (["--cuda-context", "1TiB"], "--cuda-context: '1TiB' is more than a CUDA context takes (at most 64 GiB)"),
    (["--alpha", "inf"], "--alpha"),
])
def test_absurd_values(capsys, argv, needle):
    assert needle in refused(capsys, "--model", GPT2, *argv)


def test_micro_batch_limit_is_the_planner_form_one(capsys):
    """One limit for both front ends (core.limits; the form's side is in tests/tui/test_bad_input.py)."""
    from lorplan.core.limits import MAX_MICRO_BATCH
    from lorplan.tui.panels.setup_form import FormValues, build_setup

    assert planned(capsys, "--model", GPT2, "--micro-batch", "5000", "--ranks", "8")["setup"]["micro_batch"] == 5000
    assert build_setup(FormValues(micro_batch="5000")).setup.micro_batch == 5000
    over = str(MAX_MICRO_BATCH + 1)
    assert f"--micro-batch must be at most {MAX_MICRO_BATCH:,}" in refused(capsys, "--model", GPT2, "--micro-batch", over)
    assert f"at most {MAX_MICRO_BATCH:,}" in build_setup(FormValues(micro_batch=over)).errors["micro_batch"]


def test_rank_joins_ranks_instead_of_being_dropped(capsys):
    out = planned(capsys, "--model", GPT2, "--rank", "8", "--ranks", "4,16")
    assert [r["rank"] for r in out["rows"]] == [4, 8, 16]
    assert [r["rank"] for r in planned(capsys, "--model", GPT2, "--rank", "8", "--ranks", "8,4")["rows"]] == [8, 4]


def test_default_sweep_stops_at_the_largest_usable_rank():
    spec = load_spec(GPT2)
    assert rank_limit(spec, LoraTargets()) == 768  # min(in, out) of c_attn (768 -> 2304)
    qwen = load_spec("Qwen/Qwen3-30B-A3B")
    # experts (E, out, in): gate_up_proj (128, 1536, 2048) takes rank 2r (r up to 768), down_proj (128, 2048, 768)
    assert rank_limit(qwen, LoraTargets(modules=("mlp",))) == 768
    assert rank_limit(qwen, LoraTargets(modules=("attention",))) == 2048  # q_proj 2048 -> 4096


def test_core_checks_do_not_depend_on_the_front_end():
    spec = load_spec(QWEN_INSTRUCT)
    assert context_tokens(spec, TrainingSetup()) == 32768
    assert context_tokens(spec, TrainingSetup(rope_scaling=4.0)) == 131072
    check_plannable(spec, TrainingSetup(seq_len=32768))
    with pytest.raises(BadInput, match="--seq-len 32769"):
        check_plannable(spec, TrainingSetup(seq_len=32769))
    with pytest.raises(BadInput, match="Custom rank: rank 4,000"):
        check_plannable(spec, TrainingSetup(), (4000,), "Custom rank")
