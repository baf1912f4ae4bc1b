"""The in-step peak and static terms of the memory model against real traced CPU training steps.

Each case runs one real transformers + peft step (forward, backward, AdamW step) on a tiny random-weight model
and measures every tensor the step allocates (tests/core/memtrace.py). The estimator is called with
kernels="cpu", which models what the CPU kernels save (dropout noise as a float tensor, bf16 LayerNorm under
CPU autocast, step counters on the device); everything else is the default CUDA-path model.

The grid: for each of three families (Llama GQA + SwiGLU; GPT-2 GELU + LayerNorm + fused qkv + tied
embeddings; Qwen2 with tied embeddings and q/k/v biases), an L8 orthogonal array over six two-level axes
(rank 8/64, all-linear / q,v, checkpointing on/off, micro-batch 1/4, seq 64/256, lora_dropout 0/0.05):
every value of every axis, and every pair of values of any two axes, is traced for every family.

±5% on the whole peak cannot see a small term; test_memory_parts.py compares each part of the model (norms,
attention, MLP, LoRA's inputs, masks and weight casts) with what the traced forward saves, byte for byte.
"""

from __future__ import annotations

import itertools

import peft  # noqa: E402,F401  (a hard dependency: a missing one must fail, not skip)
import pytest

from lorplan.core.lora import LoraTargets  # noqa: E402
from lorplan.core.memory import TrainingSetup, estimate, rank_table  # noqa: E402

FAMILIES = ("llama", "gpt2", "qwen2-tied")


def _l8():
    rows = []
    for a, b, c in itertools.product((0, 1), repeat=3):
        rows.append({
            "rank": (8, 64)[a],
            "targets": ("all-linear", "qv")[b],
            "gc": bool(c),
            "batch": (1, 4)[a ^ b],
            "seq": (64, 256)[a ^ c],
            "dropout": (0.0, 0.05)[b ^ c],
        })
    return rows


CASES = [(fam, row) for fam in FAMILIES for row in _l8()]


def _setup(family: str, row: dict) -> TrainingSetup:
    import memtrace

    mods = ("all-linear",) if row["targets"] == "all-linear" else tuple(memtrace.TARGETS[family]["qv"])
    return TrainingSetup(targets=LoraTargets(modules=mods), micro_batch=row["batch"], seq_len=row["seq"],
                         grad_checkpointing=row["gc"], lora_dropout=row["dropout"], kernels="cpu")


def test_grid_covers_every_axis_value_and_pair():
    rows = _l8()
    keys = list(rows[0])
    for k1, k2 in itertools.combinations(keys, 2):
        assert len({(r[k1], r[k2]) for r in rows}) == 4, (k1, k2)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "row"), CASES, ids=[f"{f}-{'-'.join(map(str, r.values()))}" for f, r in CASES])
def test_in_step_peak_within_5_percent_and_static_terms_exact(family, row):
    import memtrace

    traced = memtrace.run_step(family, row["rank"], row["targets"], row["dropout"], row["gc"], row["batch"],
                               row["seq"])
    setup = _setup(family, row)
    mem = estimate(traced.spec, setup, row["rank"])
    predicted = mem.gradients + mem.activations
    error = predicted / traced.in_step_peak - 1.0
    assert abs(error) <= 0.05, f"in-step peak {predicted} vs traced {traced.in_step_peak} ({100 * error:+.2f}%)"
    # static terms: exact, tensor by tensor sizes summed
    assert mem.weights == traced.param_bytes
    assert mem.adapter == traced.adapter_bytes
    assert mem.optimizer == traced.optimizer_bytes + traced.step_counter_bytes
    assert mem.details["optimizer_step_counters"] == traced.step_counter_bytes
    assert rank_table(traced.spec, setup, (row["rank"],)).rows[0].trainable_params == traced.trainable_params


# Other paths of the model, one or two traced cases each: a recomputed block that outweighs the loss buffers
# (wide MLP, small vocabulary), eager attention (s x s scores), pure bf16 training without autocast (peft's
# method comparison), QLoRA through transformers' bitsandbytes loading + prepare_model_for_kbit_training, and
# adapters kept in bf16 (peft's autocast_adapter_dtype=False: inputs shared by q/k/v are saved once),
# padded batches (attention_mask with padding: K/V repeated for GQA, an additive mask per layer), and fp32
# training on the CPU (sample_configs/smollm2-135m-cpu.toml's path: fp32 base and adapters, no autocast).
MORE = [
    # family, rank, targets, dropout, gc, batch, seq, attention, autocast, quant, adapter dtype[, padded]
    ("llama-wide", 8, "all-linear", 0.05, True, 2, 128, "sdpa", True, "none", "fp32"),
    ("llama-wide", 64, "all-linear", 0.0, True, 1, 128, "sdpa", True, "none", "fp32"),
    ("llama", 8, "all-linear", 0.0, False, 1, 256, "eager", True, "none", "fp32"),
    ("gpt2", 64, "qv", 0.05, False, 4, 64, "eager", True, "none", "fp32"),
    ("llama", 8, "qv", 0.0, False, 4, 128, "sdpa", False, "none", "fp32"),
    ("qwen2-tied", 64, "all-linear", 0.05, False, 1, 64, "sdpa", False, "none", "fp32"),
    ("llama", 8, "all-linear", 0.0, False, 2, 128, "sdpa", True, "nf4", "fp32"),
    ("llama", 16, "all-linear", 0.05, True, 2, 128, "sdpa", True, "nf4", "fp32"),
    ("llama", 8, "all-linear", 0.0, False, 2, 128, "sdpa", True, "none", "bf16"),
    ("gpt2", 16, "all-linear", 0.0, False, 2, 128, "sdpa", True, "none", "bf16"),
    ("llama", 64, "all-linear", 0.05, False, 4, 256, "sdpa", True, "none", "fp32", "padded"),
    ("qwen2-tied", 8, "all-linear", 0.0, True, 4, 256, "sdpa", True, "none", "fp32", "padded"),
    ("llama", 8, "all-linear", 0.0, False, 2, 128, "sdpa", False, "none", "fp32", "fp32-base"),
    ("gpt2", 8, "all-linear", 0.0, True, 2, 128, "sdpa", False, "none", "fp32", "fp32-base"),
    # the model's own dropout (GPT2Config's and BertConfig's 0.1 defaults; CPU SDPA then runs its math kernel)
    # and encoders (BERT sequence classification: the end of the forward or of a recomputed block peaks)
    ("gpt2-dropout", 8, "all-linear", 0.0, False, 2, 256, "sdpa", True, "none", "fp32"),
    ("gpt2-dropout", 16, "qv", 0.05, True, 2, 128, "sdpa", True, "none", "fp32"),
    ("gpt2-dropout", 8, "all-linear", 0.0, False, 2, 128, "eager", True, "none", "fp32"),
    ("bert-dropout", 8, "all-linear", 0.0, False, 8, 128, "sdpa", True, "none", "fp32"),
    ("bert-dropout", 8, "all-linear", 0.05, True, 4, 128, "sdpa", True, "none", "fp32"),
    ("bert", 8, "all-linear", 0.0, False, 8, 128, "sdpa", True, "none", "fp32"),
    ("bert", 16, "qv", 0.0, False, 16, 64, "sdpa", True, "none", "fp32"),
    ("bert", 8, "qv", 0.0, True, 8, 128, "sdpa", True, "none", "fp32"),
    # decoders as sequence classifiers (a reward model's LlamaForSequenceClassification): the causal LM's blocks,
    # final norm and RoPE, the score head over every position, no vocabulary-wide logits, so the backward of the
    # last (or the recomputed) block peaks. Priced as BERT-style encoders they were 7% to 34% short
    ("llama-cls", 8, "all-linear", 0.0, False, 4, 128, "sdpa", True, "none", "fp32"),
    ("llama-cls", 64, "qv", 0.05, False, 2, 256, "sdpa", True, "none", "fp32"),
    ("llama-cls", 8, "all-linear", 0.0, True, 4, 256, "sdpa", True, "none", "fp32"),
    ("qwen2-cls", 8, "all-linear", 0.05, False, 2, 256, "sdpa", True, "none", "fp32", "padded"),
    ("qwen2-cls", 64, "qv", 0.05, True, 2, 256, "sdpa", True, "none", "fp32"),
    # ... trained without autocast, their peak is the final RMSNorm's backward (its fp32 temporaries), GPT-2's the
    # last block's gelu_new backward (-7.86% and -9.87% before); QLoRA with checkpointing, the last block's
    # recomputation, the final norm's and the score's saved inputs freed (+5.81% before: they were kept)
    ("llama-cls", 8, "qv", 0.0, False, 4, 128, "sdpa", False, "none", "fp32"),
    ("gpt2-cls", 16, "qv", 0.0, False, 2, 256, "sdpa", False, "none", "fp32"),
    ("llama-cls", 16, "all-linear", 0.05, True, 2, 128, "sdpa", True, "nf4", "fp32"),
    # a small vocabulary trained without autocast under checkpointing: the last block's recomputation peaks, up to
    # its MLP output projection's lora_A with the LoRA branch's gradients waiting (+7.94% before: the gradient
    # chain was priced beside lora_A's saved input, which is freed once lora_A back-propagates)
    ("gpt2-heads", 16, "all-linear", 0.0, True, 2, 256, "sdpa", False, "none", "fp32"),
    # ... at rank 64 the first block's gradient chain peaks: the embeddings' output (the leaf
    # enable_input_require_grads made) and the module's own LoRA gradients are alive (+4.85% at 398b37f with the
    # chain overcounted, -4.02% without them)
    ("gpt2-heads", 64, "all-linear", 0.0, True, 2, 256, "sdpa", False, "none", "fp32"),
    # BERT's MLP output projection's LoRA: its recomputation peaks at lora_B's output and scaled copy (-3.03% and,
    # without autocast, -5.90% when only lora_A's moment was priced), the forward at lora_A beside the dropout's
    # own output under autocast, freed before lora_B (+1.39% when both were priced together)
    ("bert-dropout", 8, "all-linear", 0.0, True, 4, 128, "sdpa", True, "none", "fp32"),
    ("bert", 8, "all-linear", 0.05, True, 4, 128, "sdpa", False, "none", "fp32"),
    ("bert-dropout", 8, "all-linear", 0.05, False, 4, 128, "sdpa", True, "none", "fp32"),
]
# Cases whose peak is a moment of a running or recomputed block (priced from traced timelines: a block's forward up
# to its MLP output projection's LoRA, the gradient chain, the MLP's backward), held to 1% so that a drift inside
# 5% fails: llama-wide with checkpointing went from -1.05% to -3.68% unseen (the dropout's own output and the LoRA
# branch's gradients were not priced), and BERT's forward moments were +1.1% to +1.8% (the block's last LayerNorm
# priced while the MLP output projection's LoRA runs)
TIGHT = {
    ("llama-wide", 8, "all-linear", 0.05, True, 2, 128, "sdpa", True, "none", "fp32"),
    ("bert-dropout", 8, "all-linear", 0.0, False, 8, 128, "sdpa", True, "none", "fp32"),
    ("bert-dropout", 8, "all-linear", 0.05, True, 4, 128, "sdpa", True, "none", "fp32"),
    ("bert", 8, "all-linear", 0.0, False, 8, 128, "sdpa", True, "none", "fp32"),
    ("llama-cls", 8, "all-linear", 0.0, True, 4, 256, "sdpa", True, "none", "fp32"),
    ("qwen2-cls", 8, "all-linear", 0.05, False, 2, 256, "sdpa", True, "none", "fp32", "padded"),
    ("llama-cls", 16, "all-linear", 0.05, True, 2, 128, "sdpa", True, "nf4", "fp32"),
    ("gpt2-heads", 16, "all-linear", 0.0, True, 2, 256, "sdpa", False, "none", "fp32"),
    ("gpt2-heads", 64, "all-linear", 0.0, True, 2, 256, "sdpa", False, "none", "fp32"),
    ("bert-dropout", 8, "all-linear", 0.0, True, 4, 128, "sdpa", True, "none", "fp32"),
    ("bert", 8, "all-linear", 0.05, True, 4, 128, "sdpa", False, "none", "fp32"),
    ("bert-dropout", 8, "all-linear", 0.05, False, 4, 128, "sdpa", True, "none", "fp32"),
    ("llama-cls", 4, 128, True),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", MORE, ids=["-".join(map(str, c)) for c in MORE])
def test_more_paths_within_5_percent(case, tmp_path):
    import memtrace

    family, rank, targets, dropout, gc, batch, seq, attention, autocast, quant, adapter = case[:11]
    padded, base = case[11:] == ("padded",), "fp32" if case[11:] == ("fp32-base",) else "bf16"
    traced = memtrace.run_step(family, rank, targets, dropout, gc, batch, seq, attention=attention,
                               autocast=autocast, quant=quant, tmp_dir=str(tmp_path), adapter_fp32=adapter == "fp32",
                               padded=padded, base_dtype=base)
    mods = ("all-linear",) if targets == "all-linear" else tuple(memtrace.TARGETS[family]["qv"])
    setup = TrainingSetup(targets=LoraTargets(modules=mods), micro_batch=batch, seq_len=seq, grad_checkpointing=gc,
                          lora_dropout=dropout, kernels="cpu", attention=attention, autocast=autocast, quant=quant,
                          double_quant=quant != "none", adapter_dtype=adapter, padding_mask=padded, base_dtype=base)
    mem = estimate(traced.spec, setup, rank)
    predicted = mem.gradients + mem.activations
    error = predicted / traced.in_step_peak - 1.0
    bound = 0.01 if case in TIGHT else 0.05
    assert abs(error) <= bound, f"in-step peak {predicted} vs traced {traced.in_step_peak} ({100 * error:+.2f}%)"
    assert mem.weights == traced.param_bytes
    assert mem.adapter == traced.adapter_bytes
    assert mem.optimizer == traced.optimizer_bytes + traced.step_counter_bytes


@pytest.mark.slow
def test_pure_bf16_forward_with_lora_dropout_holds_the_input_cast():
    # Without autocast and with LoRA dropout, peft's cast of the MLP output projection's input to the fp32 adapter
    # is a tensor of its own (lora_A saves the dropped copy), alive while that module runs: the forward of this
    # decoder classifier is its step's peak and the forward phase must not price it short (-3.90% when the cast
    # was taken for lora_A's saved copy)
    import memtrace
    import torch

    batch, seq, rank = 4, 128, 8
    model, spec = memtrace.build("llama-cls", rank, "all-linear", 0.05, False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=True)
    ids, _, labels = memtrace._batch(spec, batch, seq, False)

    def step(mode=None):
        loss = model(input_ids=ids, labels=labels).loss
        forward = mode.peak if mode else 0
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return forward

    step()
    with memtrace.LiveBytes() as mode:
        forward = step(mode)
    setup = TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=batch, seq_len=seq,
                          lora_dropout=0.05, kernels="cpu", autocast=False)
    priced = estimate(spec, setup, rank).details["phase_forward"]
    error = priced / forward - 1.0
    assert 0 <= error <= 0.05, f"forward {priced} vs traced {forward} ({100 * error:+.2f}%)"


# LoRA on embeddings and on fused MoE experts (peft lora.Embedding / ParamWrapper). Specs come from lorplan's own
# config reader (lorplan.core.model.sources.from_config), models from the same config with random weights.
MOE_CFG = dict(model_type="qwen3_moe", vocab_size=512, hidden_size=128, intermediate_size=256,
               moe_intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
               head_dim=32, num_experts=64, num_experts_per_tok=2, max_position_embeddings=512,
               tie_word_embeddings=False, decoder_sparse_step=1, norm_topk_prob=True, mlp_only_layers=[],
               hidden_act="silu", rms_norm_eps=1e-6, rope_theta=10000.0)


def _trace_targets(cfg: dict, targets: tuple[str, ...], rank: int, batch: int, seq: int):
    import memtrace
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from lorplan.core.lora import peft_target_modules
    from lorplan.core.model.sources import from_config

    torch.manual_seed(0)
    config = AutoConfig.for_model(**cfg)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    # the given keys win: transformers 5 writes qwen3_moe's num_experts as num_local_experts
    spec = from_config({**config.to_dict(), **cfg, "architectures": [type(model).__name__]}, "tiny", "folder", "tiny")
    wanted = peft_target_modules(spec, LoraTargets(modules=targets))
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=wanted, task_type="CAUSAL_LM"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=True)
    ids = torch.randint(0, spec.vocab_size, (batch, seq))
    peak = memtrace.step_peak(model, opt, ids)
    setup = TrainingSetup(targets=LoraTargets(modules=targets), micro_batch=batch, seq_len=seq, kernels="cpu")
    mem = estimate(spec, setup, rank)
    assert rank_table(spec, setup, (rank,)).rows[0].trainable_params == sum(p.numel() for p in params)
    assert mem.adapter == sum(p.untyped_storage().nbytes() for p in params)
    return peak, mem.gradients + mem.activations


@pytest.mark.slow
@pytest.mark.parametrize(("model_type", "targets", "rank", "seq"), [
    ("gpt2", ("wte", "c_attn"), 8, 256),
    ("gpt2", ("wte", "wpe", "c_attn"), 64, 128),
    ("llama", ("embed_tokens", "q_proj", "v_proj"), 16, 128),
])
def test_embedding_lora_within_5_percent(model_type, targets, rank, seq):
    if model_type == "gpt2":
        cfg = dict(model_type="gpt2", vocab_size=2048, n_embd=128, n_layer=2, n_head=4, n_positions=512,
                   resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    else:
        cfg = dict(model_type="llama", vocab_size=2048, hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                   num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512,
                   tie_word_embeddings=False)
    traced, predicted = _trace_targets(cfg, targets, rank, 2, seq)
    error = predicted / traced - 1.0
    assert abs(error) <= 0.05, f"in-step peak {predicted} vs traced {traced} ({100 * error:+.2f}%)"


@pytest.mark.slow
@pytest.mark.parametrize(("targets", "batch", "seq"), [
    (("q_proj", "v_proj"), 1, 256),  # frozen experts: the routed intermediates and the router (moe_saved)
    (("q_proj", "v_proj"), 4, 64),
    (("all-linear",), 1, 256),  # expert LoRA on top
])
def test_moe_in_step_peak_within_5_percent(targets, batch, seq):
    traced, predicted = _trace_targets(MOE_CFG, targets, 8, batch, seq)
    error = predicted / traced - 1.0
    assert abs(error) <= 0.05, f"in-step peak {predicted} vs traced {traced} ({100 * error:+.2f}%)"


@pytest.mark.slow
@pytest.mark.parametrize("seq", [4, 256])
def test_moe_expert_lora_increment_within_5_percent(seq):
    # What expert LoRA adds (merged weights kept for backward, factor casts, routed inputs, the backward bump)
    # on its own: all-linear minus attention-only, traced vs predicted.
    t_attn, p_attn = _trace_targets(MOE_CFG, ("q_proj", "v_proj"), 8, 1, seq)
    t_all, p_all = _trace_targets(MOE_CFG, ("all-linear",), 8, 1, seq)
    traced, predicted = t_all - t_attn, p_all - p_attn
    error = predicted / traced - 1.0
    assert abs(error) <= 0.05, f"expert LoRA adds {predicted} vs traced {traced} ({100 * error:+.2f}%)"


# Full fine-tuning, the reference row (lorplan.core.memory.full_finetune): fp32 master weights, every parameter
# trained, bf16 autocast, AdamW foreach; every family, with and without checkpointing.
FULL = [("llama", 2, 128, False), ("llama", 2, 128, True), ("qwen2-tied", 4, 128, False), ("gpt2", 2, 128, False),
        ("gpt2", 4, 256, True), ("bert", 8, 128, False), ("bert", 8, 128, True), ("llama-wide", 2, 128, True),
        ("llama", 4, 128, False, "pure-bf16"), ("gpt2", 2, 256, False, "pure-bf16"), ("qwen2-cls", 4, 128, False),
        ("llama-cls", 4, 128, False, "pure-bf16"),  # its final RMSNorm's backward peaks (-5.52% before it was priced)
        # with checkpointing the first block's MLP backward peaks (+16.66% before: the input embeddings' gradient
        # was priced as made, the output projection's saved input and 16-bit weight copy as alive, the recomputed
        # first norm's fp32 input beside the checkpoint it is; the fp32 stream's gradients priced as 16-bit)
        ("llama-cls", 4, 128, True)]


@pytest.mark.slow
@pytest.mark.parametrize("case", FULL, ids=["-".join(map(str, c)) for c in FULL])
def test_full_finetune_within_5_percent_and_static_terms_exact(case):
    import memtrace

    from lorplan.core.memory.full_finetune import full_finetune

    family, batch, seq, gc = case[:4]
    pure = case[4:] == ("pure-bf16",)  # bf16 weights, gradients and states without autocast (peft's comparison)
    traced = memtrace.run_full_step(family, batch, seq, gc, pure_bf16=pure)
    full = full_finetune(traced.spec, TrainingSetup(micro_batch=batch, seq_len=seq, grad_checkpointing=gc,
                                                    kernels="cpu", autocast=not pure))
    predicted = full.gradients + full.activations
    error = predicted / traced.in_step_peak - 1.0
    bound = 0.01 if case in TIGHT else 0.05
    assert abs(error) <= bound, f"in-step peak {predicted} vs traced {traced.in_step_peak} ({100 * error:+.2f}%)"
    assert full.trainable_params == traced.trainable_params
    assert full.weights == traced.param_bytes
    assert full.optimizer == traced.optimizer_bytes + traced.step_counter_bytes


# Fused q/k/v projections with RoPE, no checkpointing (the KV cache off, as lorplan trains): q and k are rotated
# into new tensors, v stays a view of the fused output, so SDPA's saved v keeps all of it alive, q's and k's
# slices too (activations.fused_qkv_view_saved). GPT-2 (no RoPE: q, k and v all views) is checked byte for byte
# in test_memory_parts.py. Configs from transformers' own classes; Phi-3 through lorplan's config reader, GPT-NeoX
# and Falcon through its meta-device fallback (a folder's config.json).
FUSED = {
    "phi3-gqa": dict(model_type="phi3", hidden_size=128, intermediate_size=256, num_attention_heads=4,
                     num_key_value_heads=2, pad_token_id=0),
    # one k/v head: with a mask, repeat_kv's expand and reshape leave views of k and v (stride 0), no copies
    "phi3-mqa": dict(model_type="phi3", hidden_size=128, intermediate_size=256, num_attention_heads=4,
                     num_key_value_heads=1, pad_token_id=0),
    "gpt_neox": dict(model_type="gpt_neox", hidden_size=128, intermediate_size=256, num_attention_heads=4,
                     attention_dropout=0.0, hidden_dropout=0.0),  # partial rotary (rotary_pct 0.25)
    "falcon": dict(model_type="falcon", hidden_size=128, num_attention_heads=4, new_decoder_architecture=True,
                   num_kv_heads=2, attention_dropout=0.0, hidden_dropout=0.0),
    # clip_qkv: the clamp of the fused output saves its input, a second fused output (activations.clip_qkv_saved)
    "dbrx": dict(model_type="dbrx", d_model=128, n_heads=4, resid_pdrop=0.0, emb_pdrop=0.0,
                 attn_config=dict(kv_n_heads=2, clip_qkv=8.0, rope_theta=10000.0),
                 ffn_config=dict(ffn_hidden_size=128, moe_num_experts=2, moe_top_k=1)),
}
# the attention module of each family's blocks (memtrace.part_of files GPT-NeoX's and Falcon's under "layer")
_FUSED_ATTENTION = {"phi3-gqa": "self_attn", "phi3-mqa": "self_attn", "gpt_neox": "attention", "falcon": "self_attention",
                    "dbrx": "norm_attn_norm.attn"}


def _fused_model(family: str, tmp_path, layers: int = 2, vocab: int = 256):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from lorplan.core.model import load_spec

    kw = dict(FUSED[family])
    config = AutoConfig.for_model(kw.pop("model_type"), vocab_size=vocab, num_hidden_layers=layers, **kw)
    config.dtype = "bfloat16"
    config.save_pretrained(tmp_path)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.bfloat16)
    return model, load_spec(str(tmp_path))


def _fused_setup(batch: int, seq: int, padded: bool = False) -> TrainingSetup:
    return TrainingSetup(targets=LoraTargets(modules=("all-linear",)), micro_batch=batch, seq_len=seq,
                         lora_dropout=0.0, kernels="cpu", padding_mask=padded)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "padded"), [(f, False) for f in FUSED] + [("phi3-gqa", True), ("phi3-mqa", True)])
def test_fused_qkv_rope_attention_saves_exactly_what_is_priced(family, padded, tmp_path):
    # padded: a mask makes SDPA take repeat_kv's copies of GQA's k and v, and the fused output goes; a multi-query
    # model's repeat_kv leaves views (its saved k and v are the fused output's, not copies per query head)
    import memtrace
    import torch

    from lorplan.core.memory.activations import activation_model

    model, spec = _fused_model(family, tmp_path)
    model, _ = memtrace.lora_all_linear(model, 8)
    batch, seq = 2, 64
    ids = torch.randint(0, spec.vocab_size, (batch, seq))
    mask = torch.ones(batch, seq, dtype=torch.long)
    if padded:
        mask[-1, seq // 2:] = 0

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(input_ids=ids, attention_mask=mask, labels=ids)

    last = f".{spec.num_layers - 1}.{_FUSED_ATTENTION[family]}"
    traced = sum(n for module, n in memtrace.saved_by_module(model, forward).items() if module.endswith(last))
    am = activation_model(spec, _fused_setup(batch, seq, padded))
    priced = am.attention * batch * seq + am.layer_bs2 * batch * seq * seq
    assert traced == priced, f"traced {traced} vs priced {priced}"


@pytest.mark.slow
@pytest.mark.parametrize(("family", "batch", "seq", "gc"),
                         [("phi3-gqa", 2, 256, False), ("phi3-gqa", 2, 256, True), ("gpt_neox", 1, 512, False)])
def test_fused_qkv_rope_in_step_peak_within_5_percent(family, batch, seq, gc, tmp_path):
    # a small vocabulary: the saved activations (gc: the recomputed block's), not the logits, make the peak.
    # GPT-NeoX's parallel blocks save their two norms' shared input once (activations.shared_norm_input: -0.04% here)
    import dataclasses

    import memtrace
    import torch

    model, spec = _fused_model(family, tmp_path)
    model, opt = memtrace.lora_all_linear(model, 8, grad_ckpt=gc)
    peak = memtrace.step_peak(model, opt, torch.randint(0, spec.vocab_size, (batch, seq)))
    mem = estimate(spec, dataclasses.replace(_fused_setup(batch, seq), grad_checkpointing=gc), 8)
    error = (mem.gradients + mem.activations) / peak - 1.0
    assert abs(error) <= 0.05, f"in-step peak {mem.gradients + mem.activations} vs traced {peak} ({100 * error:+.2f}%)"


# Parallel blocks (attention and MLP both read the block's input): GPT-NeoX (use_parallel_residual) and Falcon's new
# decoder architecture norm it twice (ln_attn, ln_mlp), and the second LayerNorm's saved input is the first's, the
# same tensor (only its mean and rstd are new); Phi, GPT-J and Falcon-7B norm it once. CPU autocast keeps
# layer_norm in the stream's dtype (CUDA's fp32 cast makes each LayerNorm a copy of its own: two).
PARALLEL = {
    "gpt_neox": FUSED["gpt_neox"],
    "falcon": FUSED["falcon"],
    "falcon-7b": dict(model_type="falcon", hidden_size=128, num_attention_heads=4, new_decoder_architecture=False,
                      multi_query=True, parallel_attn=True, attention_dropout=0.0, hidden_dropout=0.0),
    "phi": dict(model_type="phi", hidden_size=128, intermediate_size=256, num_attention_heads=4, resid_pdrop=0.0,
                embd_pdrop=0.0, attention_dropout=0.0),
    "gpt_neox-sequential": dict(FUSED["gpt_neox"], use_parallel_residual=False),  # two inputs, two norms
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(PARALLEL))
def test_parallel_block_norms_save_exactly_what_is_priced(family, tmp_path, monkeypatch):
    import memtrace
    import torch

    from lorplan.core.memory.activations import activation_model

    monkeypatch.setitem(FUSED, family, PARALLEL[family])
    model, spec = _fused_model(family, tmp_path)
    model, _ = memtrace.lora_all_linear(model, 8)
    batch, seq = 2, 64
    ids = torch.randint(0, spec.vocab_size, (batch, seq))

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(input_ids=ids, labels=ids)

    block = f".{spec.num_layers - 1}."
    norms = {module: n for module, n in memtrace.saved_by_module(model, forward).items()
             if block in module and "lora" not in module and module.rsplit(".", 1)[-1].startswith(("ln", "input_"))
             or block in module and module.endswith("post_attention_layernorm")}
    assert norms, "no norm module traced"
    priced = activation_model(spec, _fused_setup(batch, seq)).norms * batch * seq
    assert sum(norms.values()) == priced, f"traced {norms} vs priced {priced}"
