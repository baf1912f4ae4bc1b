"""The in-step peak of a LoRA step: what autograd saves, the loss buffers, adapter gradients, optimizer temps.

A step's live memory above the static state rises through the forward pass (saved tensors), peaks around the
loss (fp32 logits, log-probabilities and their gradient), falls through backward while adapter gradients grow,
and has a last bump in optimizer.step(). The model prices each of these moments as a *phase*
``const + per_token * (b*s) + per_bs2 * (b*s*s)`` and the in-step peak is the largest phase. Every phase is
affine in the micro-batch at a fixed sequence length, so the fit solver can invert it exactly.

What is saved, per decoder layer (b*s tokens; `a` = activation bytes, 2 under bf16/fp16 autocast):
- Frozen base linears save nothing (autograd only keeps the input when the weight needs a gradient).
- HF RMSNorm (`hidden.to(float32)`, pow, rsqrt, mul): the fp32 input (4h) and the rsqrt (4) per token.
- LayerNorm: CUDA autocast runs layer_norm in fp32 (fp32 input copy 4h, mean + rstd 8, fp32 output); CPU
  autocast runs it in bf16 (input a*h, mean + rstd 8).
- SDPA flash / memory-efficient (CUDA) save q (after RoPE), k, v, the output and an fp32 logsumexp per head
  and token; GQA runs without repeat_kv when there is no padding mask (transformers `use_gqa_in_sdpa`).
- Eager attention saves the fp32 softmax and its bf16 copy (6 bytes per head per s*s element) after repeat_kv.
- SwiGLU: gate output, SiLU output and up output (3*a*i). GPT-2 `gelu_new` is Python: input, 0.5*x, tanh and
  1+tanh (4*a*i); CUDA autocast runs pow in fp32 so there it is an fp32 copy + fp32 tanh/1+tanh (14*i).
- LoRA per adapted module (peft `lora/layer.py`): x is cast to the adapter dtype, dropped out (p>0: a bool
  mask), then autocast casts it back to bf16 for lora_A, which saves that copy (a*in per module, q, k, v each
  their own); lora_B saves lora_A's output (a*r). Autocast caches the bf16 copies of the fp32 adapter weights
  (`a` bytes per adapter parameter) until backward has used them.
- Loss (transformers `ForCausalLMLoss`): logits.float() then cross_entropy; log_softmax saves its fp32
  output, and the backward holds that plus the fp32 gradient and the fp32 gradient of the input: 12 bytes per
  logit at the start of backward.
Gradient checkpointing (transformers: torch.utils.checkpoint, use_reentrant=False) keeps the layer input per
layer and recomputes one layer at a time in backward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from lorplan.core.memory.static import linear_shapes
from lorplan.core.memory.targets import MemoryTargets
from lorplan.core.memory.types import DTYPE_BYTES, TrainingSetup
from lorplan.core.model.spec import ModelSpec


class Phase(NamedTuple):
    """Bytes live above the static state at one moment of the step: const + per_token*T + per_bs2*b*s*s."""

    name: str
    const: int
    per_token: float
    per_bs2: float = 0.0

    def at(self, micro_batch: int, seq_len: int) -> int:
        t = micro_batch * seq_len
        return int(self.const + self.per_token * t + self.per_bs2 * t * seq_len)


@dataclass(frozen=True)
class ActivationModel:
    """Per-spec, per-setup coefficients (rank-independent part + per-unit-of-rank part)."""

    layer_tokens: float  # saved bytes per token per layer, base model (no LoRA)
    layer_bs2: float  # saved bytes per b*s*s per layer (eager attention)
    layer_input: float  # bytes per token per layer kept by checkpointing
    model_tokens: float  # saved per token outside the layers (final norm, RoPE tables, inputs)
    loss_tokens: float  # bytes per token at the loss peak (logits buffers)
    first_norm: float  # saved by the first block's first norm, only when the embeddings' output needs grad
    dequant: int  # bitsandbytes' transient dequantized weight (largest quantized linear, compute dtype)
    head_cast: int  # autocast's bf16 copy of an fp32 output head, saved until the head's backward
    layers: int
    act_bytes: int
    hidden: int
    vocab: int


_FUSED_QKV = frozenset({"c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack"})


def _family(spec: ModelSpec) -> str:
    if spec.model_type in ("gpt2",):
        return "gpt2"
    if spec.norm == "layernorm":
        return "layernorm"
    return "llama"


def activation_model(spec: ModelSpec, setup: TrainingSetup) -> ActivationModel:
    """Saved-tensor coefficients of the base model for this setup (no LoRA terms)."""
    h, i, hd = spec.hidden_size, spec.intermediate_size, spec.head_dim
    heads, kv = spec.num_attention_heads, spec.num_key_value_heads
    hq, hkv = heads * hd, kv * hd
    autocast = setup.autocast and setup.base_dtype != "fp32"
    a = DTYPE_BYTES[setup.base_dtype] if not autocast else 2
    if setup.base_dtype == "fp32" and not setup.autocast:
        a = 4
    resid = 4 if (setup.quant != "none" and setup.prepare_kbit) or setup.base_dtype == "fp32" else a
    cuda = setup.kernels == "cuda"

    # attention core
    bs2 = 0.0
    fam = _family(spec)
    if setup.attention == "eager":
        # the two matmuls save q, k and v after repeat_kv (copies for GQA) and the probabilities; the output is
        # not saved (the frozen o_proj does not keep its input). Llama-style code softmaxes in fp32 and casts to
        # bf16 (4 + 2 bytes per score); GPT-2/BERT-style code softmaxes in the input dtype, which CUDA
        # autocast runs in fp32 (4 + 2) and CPU autocast in bf16 (2).
        attn = a * (hq + 2 * hq)
        bs2 = 6.0 * heads if (fam == "llama" or (cuda and autocast)) else float(a * heads)
    elif setup.padding_mask and setup.attention == "sdpa":
        # With a padding mask transformers repeats K/V to every head (use_gqa_in_sdpa needs mask=None), and
        # SDPA turns the boolean mask into an additive one per call, which its backward keeps (b*s*s*a per layer).
        attn = a * (hq + 2 * hq + hq) + 4 * heads
        bs2 = float(a)
    else:
        attn = a * (hq + 2 * hkv + hq) + 4 * heads  # q, k, v, out, fp32 logsumexp
    # bitsandbytes' Linear4bit / Linear8bitLt return their input's dtype; after prepare_model_for_kbit_training
    # the residual stream is fp32 (fp32 embeddings and norm weights), so the MLP intermediates are fp32 too.
    m = resid if setup.quant != "none" else a
    if fam == "llama":
        norms = 2 * (4 * h + 4)
        mlp = 3 * m * i if spec.gated_mlp else 4 * m * i
        first_norm = 4 * h + 4
        model_tokens = first_norm + 2 * a * hd + 16  # final norm, cos/sin, padded + shifted labels
    else:
        # CUDA autocast: fp32 input copy + fp32 mean/rstd; CPU autocast: bf16 input + bf16 mean/rstd
        ln = (4 * h + 8) if (cuda and autocast) else (a * h + 2 * a)
        norms = 2 * ln
        if spec.hidden_act == "gelu_new" or fam == "gpt2":
            mlp = 14 * i if (cuda and autocast) else 4 * m * i
        else:
            mlp = m * i
        first_norm = ln
        model_tokens = ln + 16
    if _FUSED_QKV.intersection(spec.layer_linear_names) and not setup.grad_checkpointing \
            and setup.attention != "eager":
        # q is a view of the fused projection's output, so all of it stays saved, and the KV cache that
        # transformers builds when use_cache is on (gradient checkpointing turns it off) holds copies of k, v.
        attn += 2 * a * hkv
    layer_tokens = norms + attn + mlp
    loss_tokens = 12 * spec.vocab_size if spec.task == "causal-lm" else 0
    # bitsandbytes MatMul4Bit / LLM.int8 dequantize the weight for each forward and backward matmul (nothing saved)
    head_cast = 0
    if setup.quant != "none" and setup.prepare_kbit and autocast and spec.task == "causal-lm":
        head_cast = 2 * spec.vocab_size * h
    dequant = 0
    if setup.quant != "none":
        dequant = 2 * max((i_ * o_ for (i_, o_, _, head), _ in linear_shapes(spec) if not head), default=0)
    return ActivationModel(
        layer_tokens=layer_tokens,
        layer_bs2=bs2,
        layer_input=resid * h,
        model_tokens=model_tokens,
        loss_tokens=loss_tokens,
        first_norm=first_norm,
        dequant=dequant,
        head_cast=head_cast,
        layers=spec.num_layers,
        act_bytes=a,
        hidden=h,
        vocab=spec.vocab_size,
    )


class LoraSaved(NamedTuple):
    """What the adapted modules save, per token (copies, masks, mids) and in total (weight casts)."""

    copies: float  # bf16 copy of each adapted module's (dropped-out) input, saved by lora_A
    masks: float  # dropout masks (bool on CUDA, a float tensor of the input's dtype on CPU)
    mids: float  # lora_A outputs, saved by lora_B
    weight_casts: int  # autocast's bf16 copies of fp32 adapter weights held for backward
    stream_skip: float  # copies+masks of modules whose input needs no grad (see below), per token
    chain: float = 0.0  # backward transients of the widest adapted input's gradient, per token
    merged: int = 0  # MoE LoRA: merged expert weights saved over all layers (bytes, rank-independent)
    merged_layer: int = 0  # the same for the largest layer
    merged_grad: int = 0  # the most a layer's backward adds for them (bytes)
    input_grad: bool = False  # embedding LoRA: the first block's input needs grad (its first norm saves)


def lora_saved(mt: MemoryTargets, rank: int, setup: TrainingSetup, a: int) -> LoraSaved:
    """Saved tensors of peft's LoRA forward `lora_B(lora_A(dropout(x.to(adapter_dtype)))) * scaling`.

    Under autocast with fp32 adapters, lora_A's input is autocast's bf16 copy of x (a bytes per element, each
    module its own). Without autocast, x cast to the adapter dtype is what lora_A saves. Dropout (p > 0) saves
    its mask when x needs grad: CUDA's fused kernel a bool mask (1 byte), the CPU kernel a float noise tensor
    in x's dtype. The first block's attention input projections read the first norm's output, which needs no
    grad unless checkpointing turned on enable_input_require_grads: their dropout mask and their bf16 weight
    cast of lora_A are not saved. When nothing copies x (adapters in the activation dtype, no dropout),
    modules reading the same input save it once (`mt.distinct_in`).

    MoE and embedding LoRA are modelled from peft's and transformers' code (assumptions below). They are traced
    only on CPU with tiny random-weight models (tests/core/test_memory_trace.py: embedding LoRA's in-step peak,
    and what expert LoRA adds over attention-only LoRA, within 5%), not on CUDA kernels or at full size:
    - Fused experts / routers (peft `ParamWrapper`, a parametrization): each forward materializes the merged
      weight W + s·B·A (torch.baddbmm in W's dtype, the factors cast to it) and the experts index it per
      expert, so autograd keeps every layer's merged weight (+ autocast's bf16 copy when W is fp32, as after
      prepare_model_for_kbit_training), and the factor casts; the expert matmuls now also save their inputs:
      `a` bytes per element for each of the top_k tokens routed to an expert (h into gate_up, the MoE
      intermediate into down), h per token for a router. Backward adds one merged weight's gradient while
      the merged weights already back-propagated are freed (targets.MoeLora.grad). Assumed to hold for every
      experts implementation (each keeps the merged weight and the routed inputs of a weight that needs grad).
    - Embeddings (peft `lora.Embedding`): F.embedding keeps the token ids (the batch's own tensor, nothing new);
      the r-wide lookup is saved by the matmul with lora_embedding_B (`a` bytes under autocast, else the
      adapter dtype), plus autocast's copy of lora_embedding_B. The embedding output then needs grad, so the
      first block's first norm and its input projections' LoRA save as with checkpointing.
    """
    autocast = setup.autocast and setup.base_dtype != "fp32"
    pbytes = DTYPE_BYTES[setup.adapter_dtype]
    copy_b = a if autocast else max(pbytes, a)
    drop = setup.lora_dropout > 0
    mask_b = (1 if setup.kernels == "cuda" else (pbytes if autocast else max(pbytes, a))) if drop else 0
    casts_on = autocast and setup.adapter_dtype != "bf16"
    copies = masks = mids = skip = 0.0
    casts = widest = 0
    for g in mt.groups:
        if g.in_blocks:
            widest = max(widest, g.in_features)
        r = g.rank(rank)
        copies += copy_b * g.in_features * g.count
        masks += mask_b * g.in_features * g.count
        mids += copy_b * r * g.count  # lora_A's output: bf16 under autocast, else the adapter dtype
        if casts_on:
            casts += a * r * g.out_features * g.count
            if not (g.stream_input and not setup.grad_checkpointing):
                casts += a * r * g.in_features * g.count
        if g.stream_input and not setup.grad_checkpointing:
            skip += mask_b * g.in_features * g.count
    # Backward through one adapted input: lora_A's input gradient (a), cast back through the adapter dtype
    # (pbytes), through the dropout (pbytes), summed with the base path's gradient.
    chain = (a + pbytes + (pbytes if drop else 0)) * widest
    no_copy = not drop and (pbytes == a if autocast else pbytes == DTYPE_BYTES[setup.base_dtype])
    if no_copy:
        copies = copy_b * mt.distinct_in
    emb = mt.embedding
    mids += copy_b * (emb.out[0] * rank + emb.out[1])
    if casts_on:
        casts += a * (emb.b[0] * rank + emb.b[1])
    moe = mt.moe
    merged = merged_layer = merged_grad = 0
    if moe.merged:
        wbytes = 4 if (setup.quant != "none" and setup.prepare_kbit) or setup.base_dtype == "fp32" else a
        per_el = wbytes + (a if autocast and wbytes != a else 0)
        merged, merged_layer, merged_grad = per_el * moe.merged, per_el * moe.merged_layer, wbytes * moe.grad
        copies += a * moe.tokens
        if pbytes != wbytes:
            casts += wbytes * (moe.factors[0] * rank + moe.factors[1])
    return LoraSaved(copies, masks, mids, casts, skip, chain, merged, merged_layer, merged_grad, emb.input_grad)


def lora_saved_at(ls0: LoraSaved, ls1: LoraSaved, rank: int) -> LoraSaved:
    """LoraSaved is affine in the swept rank: interpolate from its values at rank 0 and rank 1."""
    return LoraSaved(
        ls0.copies + rank * (ls1.copies - ls0.copies),
        ls0.masks + rank * (ls1.masks - ls0.masks),
        ls0.mids + rank * (ls1.mids - ls0.mids),
        ls0.weight_casts + rank * (ls1.weight_casts - ls0.weight_casts),
        ls0.stream_skip + rank * (ls1.stream_skip - ls0.stream_skip),
        ls0.chain,
        ls0.merged,
        ls0.merged_layer,
        ls0.merged_grad,
        ls0.input_grad,
    )


def step_phases(am: ActivationModel, ls: LoraSaved, setup: TrainingSetup, grad_bytes: int) -> list[Phase]:
    """The phases of one step for this rank (bytes above the static state).

    loss: everything saved + the logits buffers. top / bottom: the backward of the last and of the first block
    (the widest adapted input's gradient chain and the hidden-state gradient in flight; at the bottom the other
    blocks' adapter gradients exist and their saved tensors are gone). With checkpointing the block being
    back-propagated is recomputed first. optimizer: gradients + the foreach step's one intermediate.
    """
    layers = max(am.layers, 1)
    lora_tok = ls.copies + ls.masks + ls.mids
    opt_temp = grad_bytes if (setup.optimizer == "adamw" and setup.foreach) else 0
    per_layer = am.layer_tokens + lora_tok / layers
    flight = ls.chain + 2 * am.act_bytes * am.hidden
    below = grad_bytes * (layers - 1) / layers  # true divisions keep every phase affine in (rank, gradients)
    layer_casts = ls.weight_casts / layers
    merged_back = ls.merged_layer + ls.merged_grad  # MoE LoRA: one layer's merged weights and their gradient
    if not setup.grad_checkpointing:
        # Frozen embeddings: the first norm's input needs no grad, so it saves nothing (transformers turns on
        # enable_input_require_grads only together with gradient checkpointing; embedding LoRA also does).
        first_norm = 0 if ls.input_grad else am.first_norm
        saved_tok = layers * am.layer_tokens + lora_tok - ls.stream_skip + am.model_tokens - first_norm
        phases = [
            Phase("loss", ls.weight_casts + ls.merged + am.head_cast, saved_tok + am.loss_tokens,
                  layers * am.layer_bs2),
            Phase("backward_top", ls.weight_casts + ls.merged + ls.merged_grad + am.dequant,
                  saved_tok + flight, layers * am.layer_bs2),
            Phase("backward_bottom", below + layer_casts + merged_back + am.dequant,
                  per_layer + am.model_tokens + flight, am.layer_bs2),
        ]
    else:
        saved_tok = layers * am.layer_input + am.model_tokens
        phases = [
            Phase("loss", am.head_cast, saved_tok + am.loss_tokens, 0.0),
            Phase("recompute_top", layer_casts + merged_back + am.dequant, saved_tok + per_layer + flight,
                  am.layer_bs2),
            Phase("recompute_bottom", below + layer_casts + merged_back + am.dequant,
                  am.layer_input + am.model_tokens + per_layer + flight, am.layer_bs2),
        ]
    phases.append(Phase("optimizer", grad_bytes + opt_temp, 0.0))
    return phases


class PhaseCoeffs(NamedTuple):
    """One phase as an affine function of the swept rank r and the per-GPU gradient bytes g:
    const = c0 + r*dc + g*dg, per_token = t0 + r*dt, per_bs2 = q."""

    name: str
    c0: float
    dc: float
    dg: float
    t0: float
    dt: float
    q: float


def phase_coeffs(am: ActivationModel, ls0: LoraSaved, ls1: LoraSaved, setup: TrainingSetup) -> list[PhaseCoeffs]:
    """step_phases is affine in the rank (LoraSaved is) and in the gradient bytes: read its coefficients off
    three evaluations, so a sweep prices a rank with a few multiplications."""
    g = 1 << 30
    base = step_phases(am, ls0, setup, 0)
    at_r = step_phases(am, ls1, setup, 0)
    at_g = step_phases(am, ls0, setup, g)
    return [
        PhaseCoeffs(p.name, p.const, r.const - p.const, (q.const - p.const) / g, p.per_token, r.per_token - p.per_token,
                    p.per_bs2)
        for p, r, q in zip(base, at_r, at_g, strict=True)
    ]


def phase_details(am: ActivationModel, ls: LoraSaved) -> dict[str, float]:
    """Named terms for the UI: keys ending in _per_token are bytes per token, the others bytes."""
    layers = max(am.layers, 1)
    return {
        "saved_base_per_token": layers * am.layer_tokens + am.model_tokens,
        "lora_input_copies_per_token": ls.copies,
        "lora_dropout_masks_per_token": ls.masks,
        "lora_mid_per_token": ls.mids,
        "logits_per_token": am.loss_tokens,
        "adapter_weight_casts": ls.weight_casts,
        "lora_merged_expert_weights": ls.merged,
    }
