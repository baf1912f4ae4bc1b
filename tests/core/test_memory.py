"""Unit tests of the memory model's maths: validation, fit solving, sharding, JSON shape, import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from memspecs import llama_spec

from lorplan.core.errors import BadInput
from lorplan.core.limits import MAX_CUDA_CONTEXT_BYTES
from lorplan.core.lora import LoraTargets
from lorplan.core.memory import (
    DEFAULT_RANKS,
    TrainingSetup,
    estimate,
    fit_note,
    plan_json,
    rank_table,
)

GIB = 1024**3
SPEC = llama_spec()  # Llama-3.1-8B shapes, built by hand


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"seq_len": 0}, "--seq-len"),
        ({"seq_len": -5}, "--seq-len"),
        ({"micro_batch": 0}, "--micro-batch"),
        ({"gpus": 0}, "--gpus"),
        ({"quant": "int4"}, "--quant"),
        ({"optimizer": "lion"}, "--optimizer"),
        ({"attention": "xformers"}, "--attention"),
        ({"lora_dropout": 1.5}, "--lora-dropout"),
        ({"double_quant": True}, "--double-quant"),
        ({"gpus": 1, "sharding": "fsdp"}, "--sharding"),
        ({"gpus": 4, "sharding": "none"}, "--gpus"),
        ({"cuda_context_bytes": -1}, "--cuda-context"),
        ({"seq_len": 2.5}, "--seq-len"),
    ],
)
def test_bad_setups_name_the_flag(kwargs, flag):
    with pytest.raises(BadInput, match=flag):
        TrainingSetup(**kwargs)


@pytest.mark.parametrize(("value", "shown"), [(65 * 1024**3, "65.00 GiB"), (1 << 40, "1.00 TiB"),
                                             (-1, "-1 B"), (1.5, "1.5")])
def test_a_cuda_context_beyond_the_bound_is_named_readably(value, shown):
    """It named a byte count (69793218560); the bound is lorplan.core.limits' one."""
    with pytest.raises(BadInput) as info:
        TrainingSetup(cuda_context_bytes=value)
    assert str(info.value) == f"--cuda-context must be a size from 0 to 64 GiB, got {shown}"
    assert TrainingSetup(cuda_context_bytes=0).cuda_context_bytes == 0
    assert TrainingSetup(cuda_context_bytes=MAX_CUDA_CONTEXT_BYTES).cuda_context_bytes == 64 * 1024**3


def test_bad_rank_and_budget_are_bad_input():
    with pytest.raises(BadInput, match="rank"):
        estimate(SPEC, TrainingSetup(), 0)
    with pytest.raises(BadInput, match="--gpu-memory"):
        rank_table(SPEC, TrainingSetup(), (8,), budget_bytes=0)


def test_components_sum_and_static_terms_for_llama_8b():
    m = estimate(SPEC, TrainingSetup(), 16)
    assert m.total == m.weights + m.adapter + m.gradients + m.optimizer + m.activations + m.overhead
    assert m.weights == SPEC.total_params * 2  # bf16
    lora = 16 * 2_621_440  # all-linear: r * sum(d_in + d_out) over Llama-3.1-8B's 7 linears x 32 layers
    assert m.adapter == lora * 4 and m.gradients == lora * 4  # fp32 adapters
    assert m.optimizer == lora * 8  # AdamW m, v in fp32; step counters on the host
    assert m.details["in_step_peak"] == m.gradients + m.activations
    # 12 bytes per logit at the start of backward dominate Llama-3's in-step peak at 2048 tokens
    assert m.details["logits"] == 12 * 128256 * 2048


def test_overhead_is_context_workspaces_and_a_based_reserve_on_cuda_and_nothing_on_cpu():
    """On CUDA the allocated peak holds two cuBLAS workspaces (32 MiB each on Hopper: the forward's and autograd's
    backward thread's), and the reserve is 512 MiB + 5% of the allocated peak (fitted on an H200 run and peft's
    MetaMathQA reserved figures); the CPU kernels have neither, nor a context."""
    from lorplan.core.memory.types import CUBLAS_WORKSPACE_BYTES, RESERVE_BASE_BYTES

    m = estimate(SPEC, TrainingSetup(cuda_context_bytes=700 * 1024**2), 16)
    d = m.details
    assert d["cublas_workspace"] == CUBLAS_WORKSPACE_BYTES == 64 * 1024**2
    assert d["allocated"] == m.weights + m.adapter + m.optimizer + d["in_step_peak"] + CUBLAS_WORKSPACE_BYTES
    assert d["allocator_reserve"] == RESERVE_BASE_BYTES + int(0.05 * d["allocated"])
    assert m.overhead == 700 * 1024**2 + CUBLAS_WORKSPACE_BYTES + d["allocator_reserve"]
    assert m.total == d["allocated"] + d["allocator_reserve"] + 700 * 1024**2
    cpu = estimate(SPEC, TrainingSetup(kernels="cpu"), 16)
    assert cpu.details["cublas_workspace"] == 0 and cpu.details["cuda_context"] == 0
    assert cpu.details["allocator_reserve"] == int(0.05 * cpu.details["allocated"])


def test_qlora_weights_match_the_worked_example():
    # memory.md §3: Llama-3-8B NF4+DQ linear 3.60 GB + embed/head fp32 4.20 GB = 7.80 GB
    m = estimate(SPEC, TrainingSetup(quant="nf4", double_quant=True), 8)
    assert m.weights == pytest.approx(7.80e9, rel=0.01)
    dq_saving = estimate(SPEC, TrainingSetup(quant="nf4"), 8).weights - m.weights
    linear = sum(x.in_features * x.out_features for x in SPEC.linears if x.role != "head")
    assert dq_saving == pytest.approx(linear * 0.373 / 8, rel=0.01)


def test_rank_checkpointing_and_quantization_move_the_right_terms():
    base = TrainingSetup(seq_len=4096)
    r8, r64 = estimate(SPEC, base, 8), estimate(SPEC, base, 64)
    assert r64.total > r8.total and r64.weights == r8.weights
    gc = estimate(SPEC, TrainingSetup(seq_len=4096, grad_checkpointing=True), 8)
    assert gc.activations < r8.activations / 3
    eager = estimate(SPEC, TrainingSetup(seq_len=4096, attention="eager"), 8)
    assert eager.activations > r8.activations  # s x s scores
    drop = estimate(SPEC, TrainingSetup(seq_len=4096, lora_dropout=0.1), 8)
    assert drop.activations > r8.activations
    qv = estimate(SPEC, TrainingSetup(seq_len=4096, targets=LoraTargets(modules=("q_proj", "v_proj"))), 8)
    assert qv.activations < r8.activations


def test_8bit_and_paged_optimizers():
    adam = estimate(SPEC, TrainingSetup(), 64)
    a8 = estimate(SPEC, TrainingSetup(optimizer="adamw-8bit"), 64)
    paged = estimate(SPEC, TrainingSetup(optimizer="paged-adamw-8bit"), 64)
    assert a8.optimizer == pytest.approx(adam.optimizer * 2.031 / 8, rel=0.01)
    assert paged.optimizer == a8.optimizer and paged.details["optimizer_paged"] > 0
    assert a8.details["optimizer_paged"] == 0


def test_sharding_divides_the_right_terms():
    one = estimate(SPEC, TrainingSetup(), 16)
    ddp = estimate(SPEC, TrainingSetup(gpus=4, sharding="ddp"), 16)
    z2 = estimate(SPEC, TrainingSetup(gpus=4, sharding="zero2"), 16)
    z3 = estimate(SPEC, TrainingSetup(gpus=4, sharding="zero3"), 16)
    assert ddp.weights == one.weights and ddp.details["ddp_buckets"] == one.gradients
    assert z2.weights == one.weights and z2.optimizer == -(-one.optimizer // 4)
    assert z3.weights == -(-one.weights // 4) and z3.details["sharding_gathered_weights"] > 0


def test_max_micro_batch_and_seq_len_are_tight():
    setup = TrainingSetup(seq_len=1024, micro_batch=2)
    budget = 40 * GIB
    table = rank_table(SPEC, setup, (8, 64), budget)
    for row in table.rows:
        b, s = row.max_micro_batch, row.max_seq_len
        assert b >= 1 and s >= 1
        fit = estimate(SPEC, TrainingSetup(seq_len=1024, micro_batch=b), row.rank).total
        over = estimate(SPEC, TrainingSetup(seq_len=1024, micro_batch=b + 1), row.rank).total
        assert fit <= budget < over
        fit = estimate(SPEC, TrainingSetup(seq_len=s, micro_batch=2), row.rank).total
        over = estimate(SPEC, TrainingSetup(seq_len=s + 1, micro_batch=2), row.rank).total
        assert fit <= budget < over
        assert row.fits == (row.memory.total <= budget)


def test_eager_seq_len_solves_the_quadratic():
    setup = TrainingSetup(attention="eager", seq_len=512)
    row = rank_table(SPEC, setup, (8,), 30 * GIB).rows[0]
    s = row.max_seq_len
    assert estimate(SPEC, TrainingSetup(attention="eager", seq_len=s), 8).total <= 30 * GIB
    assert estimate(SPEC, TrainingSetup(attention="eager", seq_len=s + 1), 8).total > 30 * GIB


def test_a_budget_below_the_weights_never_fits():
    row = rank_table(SPEC, TrainingSetup(), (8,), 8 * GIB).rows[0]
    assert row.fits is False and row.max_micro_batch == 0 and row.max_seq_len == 0
    assert "can never fit" in fit_note(row, TrainingSetup(), 8 * GIB)


def test_fit_notes_say_what_to_change():
    setup = TrainingSetup(seq_len=8192)
    row = rank_table(SPEC, setup, (8,), 24 * GIB).rows[0]
    note = fit_note(row, setup, 24 * GIB)
    assert row.max_micro_batch == 0 and "--seq-len 8192" in note and str(row.max_seq_len) in note
    setup = TrainingSetup(seq_len=512, micro_batch=64)
    row = rank_table(SPEC, setup, (8,), 40 * GIB).rows[0]
    assert f"at most {row.max_micro_batch} fits" in fit_note(row, setup, 40 * GIB)
    ok = rank_table(SPEC, TrainingSetup(seq_len=512), (8,), 40 * GIB).rows[0]
    assert ok.fits and fit_note(ok, TrainingSetup(seq_len=512), 40 * GIB) is None


def test_plan_json_has_every_contract_key_as_integers():
    table = rank_table(SPEC, TrainingSetup(quant="nf4"), DEFAULT_RANKS, 24 * GIB)
    obj = json.loads(json.dumps(plan_json(SPEC, table)))
    assert obj["model"]["id"] == SPEC.id and obj["model"]["total_params"] == SPEC.total_params
    assert obj["setup"]["quant"] == "nf4" and obj["setup"]["targets"]["modules"] == ["all-linear"]
    assert obj["budget_bytes"] == 24 * GIB
    assert [r["rank"] for r in obj["rows"]] == list(DEFAULT_RANKS)
    for row in obj["rows"]:
        mem = row["memory"]
        for key in ("weights", "adapter", "gradients", "optimizer", "activations", "overhead", "total"):
            assert isinstance(mem[key], int) and mem[key] >= 0
        assert mem["total"] == sum(mem[k] for k in ("weights", "adapter", "gradients", "optimizer",
                                                    "activations", "overhead"))
        assert all(isinstance(v, int) for v in mem["details"].values())
        assert isinstance(row["fits"], bool) and isinstance(row["max_micro_batch"], int)
        assert isinstance(row["max_seq_len"], int) and row["trainable_percent"] > 0


def test_without_budget_fit_fields_are_none():
    row = rank_table(SPEC, TrainingSetup(), (8,)).rows[0]
    assert row.fits is None and row.max_micro_batch is None and row.max_seq_len is None


def test_importing_the_memory_model_loads_no_torch():
    code = "import sys, lorplan.core.memory; print(any(m in sys.modules for m in ('torch', 'transformers', 'peft')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fit_limits_are_tight_for_random_setups():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    small = llama_spec(h=2048, i=8192, layers=16, heads=32, kv=8, vocab=128256, mid="llama-1b-like")

    @settings(max_examples=80, deadline=None)
    @given(
        rank=st.sampled_from((1, 8, 64, 256)),
        seq=st.integers(16, 8192),
        batch=st.integers(1, 16),
        budget_gib=st.integers(4, 96),
        quant=st.sampled_from(("none", "nf4", "int8")),
        gc=st.booleans(),
        attention=st.sampled_from(("sdpa", "eager")),
        optimizer=st.sampled_from(("adamw", "paged-adamw-8bit", "sgd")),
    )
    def check(rank, seq, batch, budget_gib, quant, gc, attention, optimizer):
        kw = {"quant": quant, "grad_checkpointing": gc, "attention": attention, "optimizer": optimizer}
        budget = budget_gib * GIB
        row = rank_table(small, TrainingSetup(seq_len=seq, micro_batch=batch, **kw), (rank,), budget).rows[0]
        assert row.fits == (row.memory.total <= budget)
        b = row.max_micro_batch
        if b > 0:
            assert estimate(small, TrainingSetup(seq_len=seq, micro_batch=b, **kw), rank).total <= budget
        assert estimate(small, TrainingSetup(seq_len=seq, micro_batch=b + 1, **kw), rank).total > budget
        s = row.max_seq_len
        if s > 0:
            assert estimate(small, TrainingSetup(seq_len=s, micro_batch=batch, **kw), rank).total <= budget
        if s < small.max_position_embeddings:
            assert estimate(small, TrainingSetup(seq_len=s + 1, micro_batch=batch, **kw), rank).total > budget

    check()


@pytest.mark.parametrize(
    "targets",
    [
        LoraTargets(),
        LoraTargets(modules=("q_proj", "v_proj")),
        LoraTargets(modules=("all-linear",), rank_pattern={"q_proj": 4, "down_proj": 32}),
        LoraTargets(modules=("mlp",), layers_to_transform=(0, 3, 7), use_dora=True),
        LoraTargets(modules=("attention",), modules_to_save=("lm_head",)),
    ],
)
def test_sweep_trainable_params_match_the_lora_reference(targets):
    from lorplan.core.lora import trainable_params
    from lorplan.core.model import load_spec

    spec = load_spec("Qwen/Qwen2.5-0.5B-Instruct")
    ranks = (1, 8, 64, 300)
    table = rank_table(spec, TrainingSetup(targets=targets), ranks)
    assert [r.trainable_params for r in table.rows] == [trainable_params(spec, targets, r) for r in ranks]
    for row in table.rows:
        if not targets.modules_to_save:
            assert row.memory.adapter == 4 * row.trainable_params


def test_fused_and_cut_losses_replace_the_fp32_logits_by_their_kernels_buffers():
    # Liger and Apple's kernels are Triton-only (no CPU trace): priced from their source, per token. The
    # standard loss's 12 bytes per vocabulary entry (fp32 logits, log-probabilities and their gradient) is
    # replaced by Liger's hidden-state gradient + fp32 loss + mask + a logits chunk (< 2 * h elements per token)
    # and by CCE's saved hidden state + fp32 log-sum-exp, loss and int32 label index.
    spec = llama_spec()
    h, v, t = spec.hidden_size, spec.vocab_size, 2 * 1024
    standard, fused, cut = (estimate(spec, TrainingSetup(loss=k, micro_batch=2, seq_len=1024), 16)
                            for k in ("standard", "fused-linear-ce", "cut-ce"))
    assert standard.details["logits"] == 12 * v * t
    assert fused.details["logits"] == (2 * h + 4 + 1 + 2 * 2 * h) * t  # bf16 stream, bf16 chunk
    assert cut.details["logits"] == (2 * h + 12) * t
    assert cut.total <= fused.total < standard.total
    assert fused.weights == standard.weights and fused.adapter == standard.adapter
    with pytest.raises(BadInput, match="--loss cut-ce needs --base-dtype bf16 or fp16"):
        TrainingSetup(loss="cut-ce", base_dtype="fp32")
    with pytest.raises(BadInput, match="--loss: 'liger' is not one of standard, fused-linear-ce, cut-ce"):
        TrainingSetup(loss="liger")


def test_full_finetune_reference_row_in_the_json():
    spec = llama_spec()
    setup = TrainingSetup(micro_batch=1, seq_len=2048)
    doc = plan_json(spec, rank_table(spec, setup, (16,), 80 * 1024**3))
    full = doc["full_finetune"]
    params = spec.total_params
    # fp32 master weights and gradients, two fp32 AdamW states per parameter
    assert full["weights"] == 4 * params and full["all_gradients"] == 4 * params
    # split at the peak moment, as the rows are: at the optimizer step every gradient is alive
    assert full["peak_phase"] == "optimizer" and full["gradients"] == 4 * params
    assert full["optimizer"] == 8 * params
    assert full["total"] == sum(full[k] for k in ("weights", "gradients", "optimizer", "activations", "overhead"))
    assert full["total"] > 4 * doc["rows"][0]["memory"]["total"] and full["fits"] is False
    assert "fp32 master weights" in full["assumes"]


def test_full_finetune_gradients_and_activations_split_at_its_peak_moment():
    from lorplan.core.memory.full_finetune import full_finetune

    spec = llama_spec()
    short = full_finetune(spec, TrainingSetup(micro_batch=1, seq_len=512))
    long = full_finetune(spec, TrainingSetup(micro_batch=16, seq_len=4096))  # 100 GB of fp32 logits
    assert short.peak_phase == "optimizer" and short.gradients == short.all_gradients == 4 * spec.total_params
    # at the loss no gradient exists yet: everything alive is activations, as on the LoRA rows
    assert long.peak_phase == "loss" and long.gradients == 0 and long.all_gradients == 4 * spec.total_params
    doc = plan_json(spec, rank_table(spec, TrainingSetup(micro_batch=16, seq_len=4096), (16,), None))
    full, row = doc["full_finetune"], doc["rows"][0]["memory"]
    assert (full["gradients"], full["activations"]) == (long.gradients, long.activations)
    assert row["gradients"] == 0 and row["details"]["all_gradients"] > 0


def test_saving_words_never_say_less_when_lora_is_not_smaller():
    from lorplan.core.memory.report import saving_words

    assert saving_words(4700, 1000) == "4.7x less"
    assert saving_words(1040, 1000) == saving_words(1000, 1040) == "about as much"
    assert saving_words(1000, 1300) == "1.3x more"
