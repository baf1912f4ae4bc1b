"""Each part of the in-step model against what a real traced CPU forward saves for backward, byte for byte.

test_memory_trace.py checks the whole in-step peak within ±5%, and a small term hides inside that margin
(RMSNorm's fp32 rsqrt is 4 bytes per token per norm, under 1% of a norm and far less of the peak). Here every
tensor autograd saves is attributed to the module that saved it first (memtrace.saved_by_module: real
transformers + peft models with random weights, torch's saved_tensors_hooks), and each part is compared exactly
with the coefficients the memory model prices (activations.activation_model, lora_saved.lora_saved):
- the last block's norms, attention core and MLP (ActivationModel.norms / attention + layer_bs2 / mlp), and
  nothing else in the block;
- the first block's norms (its first norm saves nothing while the embeddings are frozen) and the final norm;
- LoRA over all blocks: the dropout masks, and what lora_A and lora_B save (inputs, r-wide middles, autocast's
  copies of the adapter weights).
The loss buffers are live tensors rather than saved ones; test_memory_trace.py checks them through the peak.
"""

from __future__ import annotations

import peft  # noqa: E402,F401  (a hard dependency: a missing one must fail, not skip)
import pytest

from lorplan.core.lora import LoraTargets  # noqa: E402
from lorplan.core.memory import TrainingSetup  # noqa: E402
from lorplan.core.memory.activations import activation_model  # noqa: E402
from lorplan.core.memory.lora_saved import lora_saved  # noqa: E402
from lorplan.core.memory.targets import memory_targets  # noqa: E402

BASE = dict(rank=8, targets="all-linear", dropout=0.05, batch=2, seq=64, attention="sdpa", autocast=True,
            quant="none", adapter_fp32=True, padded=False, base_dtype="bf16")
# One change from BASE per case: every family, both attention kernels, padding, both adapter dtypes with and
# without dropout (shared inputs vs per-module copies), pure-dtype training, QLoRA's fp32 stream, an fp32 base.
CASES = [
    ("llama", {}),
    ("llama", {"targets": "qv", "dropout": 0.0, "rank": 64, "batch": 1, "seq": 128}),
    ("llama", {"adapter_fp32": False, "dropout": 0.0}),
    ("llama", {"autocast": False}),
    ("llama", {"attention": "eager"}),
    ("llama", {"padded": True, "adapter_fp32": False, "dropout": 0.0}),
    ("llama", {"quant": "nf4"}),
    ("llama", {"quant": "nf4", "adapter_fp32": False, "dropout": 0.0}),
    ("llama", {"base_dtype": "fp32", "autocast": False, "dropout": 0.0}),
    ("llama", {"base_dtype": "fp32", "autocast": False, "adapter_fp32": False}),
    ("gpt2", {}),
    ("gpt2", {"adapter_fp32": False, "dropout": 0.0}),
    ("gpt2", {"attention": "eager", "adapter_fp32": False, "dropout": 0.0}),
    ("gpt2", {"quant": "nf4"}),
    ("qwen2-tied", {}),
    ("qwen2-tied", {"padded": True}),
    ("qwen2-tied", {"targets": "qv", "adapter_fp32": False, "dropout": 0.0}),
    # the model's own dropout (GPT2Config's and BertConfig's 0.1 defaults): CPU SDPA falls back to its math
    # kernel, residual-branch masks; encoders (post-LayerNorm BERT, sequence classification), with and without
    ("gpt2-dropout", {}),
    ("gpt2-dropout", {"attention": "eager", "adapter_fp32": False, "dropout": 0.0}),
    ("bert", {}),
    ("bert", {"targets": "qv", "adapter_fp32": False, "dropout": 0.0, "rank": 16}),
    ("bert", {"padded": True}),
    ("bert-dropout", {}),
    ("bert-dropout", {"attention": "eager"}),
    # decoders as sequence classifiers (a reward model's class): the causal LM's blocks and final norm, and the
    # trained score head's input over every position
    ("llama-cls", {}),
    ("qwen2-cls", {"padded": True, "adapter_fp32": False, "dropout": 0.0}),
    ("gpt2-cls", {}),
]


def _setup(family: str, c: dict) -> TrainingSetup:
    import memtrace

    mods = ("all-linear",) if c["targets"] == "all-linear" else tuple(memtrace.TARGETS[family]["qv"])
    adapter = "fp32" if c["adapter_fp32"] else "bf16"  # memtrace.build's adapters, whatever the base dtype
    return TrainingSetup(targets=LoraTargets(modules=mods), micro_batch=c["batch"], seq_len=c["seq"],
                         lora_dropout=c["dropout"], kernels="cpu", attention=c["attention"], autocast=c["autocast"],
                         quant=c["quant"], double_quant=c["quant"] != "none", adapter_dtype=adapter,
                         padding_mask=c["padded"], base_dtype=c["base_dtype"])


def priced_parts(spec, setup: TrainingSetup, rank: int) -> dict[str, float]:
    """The memory model's bytes for each traced part (tokens = micro-batch x sequence length)."""
    am = activation_model(spec, setup)
    ls = lora_saved(memory_targets(spec, setup.targets), rank, setup, am.act_bytes)
    t, s = setup.micro_batch * setup.seq_len, setup.seq_len
    return {
        "last block: norms": am.norms * t,
        "last block: attention": am.attention * t + am.layer_bs2 * t * s,
        "last block: mlp": am.mlp * t,
        "last block: dropout masks": am.dropout * t,
        "last block: anything else": 0,
        "first block: norms": (am.norms - am.first_norm) * t,
        "final norm": am.first_norm * t,
        # LoRA on a sequence classifier's pooler saves per sequence (ls.per_sequence*), not per token
        "lora: dropout masks": (ls.masks - ls.stream_skip) * t + ls.per_sequence_masks * setup.micro_batch,
        "lora: lora_A and lora_B": (ls.copies + ls.mids) * t + ls.weight_casts + ls.per_sequence * setup.micro_batch,
        # a sequence classifier's pooler, classifier and loss (+ aten nll_loss's fp32 total_weight scalar); a
        # decoder's score head also saves its input, per token
        "pooled head": am.per_sequence * setup.micro_batch + (4 if am.per_sequence else 0) + am.head_input * t,
    }


def traced_parts(parts: dict, layers: int, encoder: bool = False) -> dict[str, int]:
    last = layers - 1
    return {
        "last block: norms": parts.get((last, "norm"), 0),
        "last block: attention": parts.get((last, "attention"), 0),
        "last block: mlp": parts.get((last, "mlp"), 0),
        "last block: dropout masks": parts.get((last, "dropout"), 0),
        "last block: anything else": parts.get((last, "layer"), 0),
        "first block: norms": parts.get((0, "norm"), 0),
        "final norm": parts.get((None, "final_norm"), 0),
        "lora: dropout masks": sum(v for (_, p), v in parts.items() if p == "lora_dropout"),
        "lora: lora_A and lora_B": sum(v for (_, p), v in parts.items() if p in ("lora_A", "lora_B")),
        "pooled head": parts.get((None, "model"), 0) if encoder else 0,
    }


@pytest.mark.slow
@pytest.mark.parametrize(("family", "change"), CASES,
                         ids=[f"{f}-" + ("-".join(f"{k}={v}" for k, v in c.items()) or "base") for f, c in CASES])
def test_every_part_saves_exactly_what_the_model_prices(family, change, tmp_path):
    import memtrace

    c = {**BASE, **change}
    spec, parts = memtrace.saved_parts(family, c["rank"], c["targets"], c["dropout"], c["batch"], c["seq"],
                                       attention=c["attention"], autocast=c["autocast"], quant=c["quant"],
                                       tmp_dir=str(tmp_path), adapter_fp32=c["adapter_fp32"], padded=c["padded"],
                                       base_dtype=c["base_dtype"])
    traced = traced_parts(parts, spec.num_layers, encoder=spec.task != "causal-lm")
    priced = priced_parts(spec, _setup(family, c), c["rank"])
    assert traced["last block: attention"] > 0 and traced["lora: lora_A and lora_B"] > 0  # the tracer sees them
    wrong = {k: (traced[k], priced[k], f"{100 * (priced[k] / traced[k] - 1):+.2f}%" if traced[k] else "n/a")
             for k in traced if abs(traced[k] - priced[k]) >= 0.5}
    assert not wrong, f"part: (traced bytes, priced bytes, error) {wrong}"


@pytest.mark.parametrize(("dtype", "h"), [("bfloat16", 128), ("float32", 96)])
def test_final_rmsnorm_backward_holds_what_is_priced(dtype, h):
    # The final RMSNorm's backward (a decoder classifier's peak without autocast): its saved fp32 input (the
    # rsqrt is freed by then) and five fp32 temporaries of the hidden size (activations.rmsnorm_backward_live),
    # in a 16-bit stream as in QLoRA's fp32 one. Traced on the norm alone: the input and the output's gradient
    # exist before the mode, so the peak counts the forward's saved tensors and output and the backward's (an
    # fp32 input is its own fp32 copy: it existed before)
    import memtrace
    import torch
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    from lorplan.core.memory.activations import rmsnorm_backward_live, rmsnorm_saved

    b, s = 2, 64
    norm = LlamaRMSNorm(h).to(getattr(torch, dtype)).requires_grad_(False)
    x = torch.randn(b, s, h, dtype=getattr(torch, dtype), requires_grad=True)
    grad = torch.randn(b, s, h, dtype=getattr(torch, dtype))
    with memtrace.LiveBytes() as mode:
        out = norm(x)
        before = mode.current  # the saved fp32 input and rsqrt, and the output
        out.backward(grad)
    t = b * s
    pre = 4 * h if x.dtype == torch.float32 else 0
    assert before == (rmsnorm_saved(h) - pre + x.element_size() * h) * t
    assert mode.peak - before == (rmsnorm_backward_live(h) - rmsnorm_saved(h)) * t, (mode.peak - before) / t


def test_only_the_mlp_output_projections_lora_input_is_freed_before_the_mlp_back_propagates():
    # phases' mlp_top / mlp_bottom take LoraSaved.widest_saved off the block's saved tensors: the widest adapted
    # MLP input's LoRA copy and mask, freed once that projection back-propagates. An o_proj wider than the hidden
    # size (heads x head_dim = 256 > 128 here, as in Gemma 7B) is still saved then: the attention back-propagates
    # after the MLP (it was taken off when only attention was adapted)
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.memory.lora_saved import lora_saved
    from lorplan.core.memory.sweep import _targets
    from lorplan.core.model.sources import from_config

    cfg = dict(model_type="llama", vocab_size=512, hidden_size=128, intermediate_size=352, num_hidden_layers=2,
               num_attention_heads=8, num_key_value_heads=2, head_dim=32, max_position_embeddings=512,
               architectures=["LlamaForCausalLM"], hidden_act="silu", rms_norm_eps=1e-6, tie_word_embeddings=False)
    spec = from_config(cfg, "wide-o", "folder", "wide-o")
    saved = {}
    for mods in (("q_proj", "k_proj", "v_proj", "o_proj"), ("all-linear",)):
        setup = TrainingSetup(targets=LoraTargets(modules=mods), micro_batch=1, seq_len=8, lora_dropout=0.05,
                              kernels="cpu")
        saved[mods[0]] = lora_saved(_targets(spec, setup), 8, setup, 2).widest_saved
    assert saved["q_proj"] == 0
    # down_proj's input (352 wide): autocast's bf16 copy that lora_A saves and the CPU dropout's noise (fp32)
    assert saved["all-linear"] == (2 + 4) * 352
