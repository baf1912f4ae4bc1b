"""What LoRA's forward saves for backward: each adapted module's input copy, dropout mask and r-wide middle,
autocast's copies of the adapter weights, and what LoRA on fused MoE experts and on embeddings keeps.

Per element rules are named functions (one per saved tensor); lora_saved sums them over the adapted modules
(targets.MemoryTargets). Checked per adapted module against traced CPU steps (tests/core/test_memory_parts.py).
"""

from __future__ import annotations

from typing import NamedTuple

from lorplan.core.memory.precision import autocast_on, block_input_bytes, unquantized_param_bytes
from lorplan.core.memory.targets import MemoryTargets
from lorplan.core.memory.types import DTYPE_BYTES, TrainingSetup


def lora_input_copy_bytes(setup: TrainingSetup, a: int) -> int:
    """Bytes per input element of what lora_A saves (and of lora_A's output, which lora_B saves)."""
    if autocast_on(setup):
        # peft/tuners/lora/layer.py (Linear.forward): x = self._cast_input_dtype(x, lora_A.weight.dtype), then
        # autocast casts it to the autocast dtype for lora_A's matmul, which saves that tensor
        return a
    # without autocast lora_A's matmul saves x cast to the adapter dtype
    return DTYPE_BYTES[setup.adapter_dtype]


def lora_keeps_input(setup: TrainingSetup, x_bytes: int, a: int) -> bool:
    """True when lora_A saves its module's input x itself rather than a copy (x of `x_bytes` per element)."""
    pbytes = DTYPE_BYTES[setup.adapter_dtype]
    # no dropout (peft uses nn.Identity), x already in the adapter dtype (_cast_input_dtype returns x), and under
    # autocast the adapter dtype is the autocast dtype (no cast for the matmul)
    return setup.lora_dropout <= 0 and x_bytes == pbytes and (not autocast_on(setup) or pbytes == a)


def dropout_mask_bytes(setup: TrainingSetup, a: int) -> int:
    """Bytes per input element of lora_dropout's saved mask (0 without dropout: peft uses nn.Identity)."""
    if setup.lora_dropout <= 0:
        return 0
    if setup.kernels == "cuda":
        # torch/nn/functional.py (dropout) -> aten native_dropout, CUDA's fused kernel: a bool mask, 1 byte each
        return 1
    # the CPU kernel keeps a noise tensor in x's dtype (measured: tests/core/test_memory_parts.py); x was cast to
    # the adapter dtype first
    return DTYPE_BYTES[setup.adapter_dtype]


def adapter_weight_cast_bytes(setup: TrainingSetup, a: int) -> int:
    """Bytes per adapter parameter of autocast's 16-bit copies of the adapter weights, saved for backward."""
    if not (autocast_on(setup) and setup.adapter_dtype != "bf16"):
        return 0
    # aten/src/ATen/autocast_mode.cpp (cached_cast): a leaf weight that requires grad is cast once per autocast
    # region and cached; the matmul saves the copy to compute its input's gradient
    return a


def lora_input_grad_chain_bytes(setup: TrainingSetup, a: int, x_bytes: int, copy: int) -> int:
    """Bytes per input element in flight while backward goes through one adapted module's input (x_bytes per
    element), beyond what its lora_A saves (`copy` bytes per element, 0 when it saves x itself) and its dropout
    mask: the most of them alive at one moment."""
    pbytes = DTYPE_BYTES[setup.adapter_dtype]
    m = lora_input_copy_bytes(setup, a)  # lora_A's matmul runs in its saved input's dtype
    mask = dropout_mask_bytes(setup, a)
    # torch autograd frees a node's saved tensors once it has run: lora_A's input gradient (m) is made beside its
    # saved input and the mask; then, the input freed, autocast's cast of the gradient back to the adapter dtype
    # (fp32 adapters), the dropout's backward (its mask still saved) and peft's cast back to x's dtype
    # (peft/tuners/lora/layer.py: _cast_input_dtype) each hold two of them. Traced: the backward of gpt2-heads'
    # last block under checkpointing, tests/core/test_memory_trace.py
    moments = [m + copy + mask]
    if autocast_on(setup) and pbytes != a:
        moments.append(m + pbytes + mask)
    if setup.lora_dropout > 0:
        moments.append(2 * pbytes + mask)
    if x_bytes != pbytes:
        moments.append(pbytes + x_bytes)
    return max(moments) - copy - mask


def shared_input_elements(mt: MemoryTargets, setup: TrainingSetup, a: int) -> int:
    """Elements per token lora_A saves over the adapted in-block modules that keep their input itself
    (lora_keeps_input): once per distinct input."""
    shared = 0
    # modules reading the same input (q, k, v; gate, up) save one tensor: autograd keeps x, not a copy
    if lora_keeps_input(setup, block_input_bytes(setup), a):
        shared += mt.distinct_in - mt.attn_output_in
    # aten SDPA (flash / memory-efficient, and flash-attention-2) returns its output as a transposed view of a
    # (b, s, heads, head_dim) buffer, so transformers' transpose(1, 2).contiguous() copies nothing and o_proj's
    # input is the output SDPA already saved; eager's matmul output is (b, heads, s, head_dim), and the copy is
    # new. Measured on CPU: tests/core/test_memory_parts.py
    if lora_keeps_input(setup, a, a) and setup.attention == "eager":
        shared += mt.attn_output_in
    return shared


def merged_expert_weight_bytes(setup: TrainingSetup, a: int) -> int:
    """Bytes per element of the merged weight W + s·B·A that LoRA on fused MoE experts keeps for backward."""
    wbytes = unquantized_param_bytes(setup)
    # peft/tuners/lora/layer.py (ParamWrapper): torch.baddbmm materializes the merged weight in W's dtype; under
    # autocast the expert matmuls also keep a 16-bit copy when W is fp32 (as after kbit preparation)
    return wbytes + (a if autocast_on(setup) and wbytes != a else 0)


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
    per_sequence: float = 0.0  # copies and mids of adapted modules that read one vector per sequence (pooler)
    per_sequence_masks: float = 0.0  # their dropout masks
    cast_cache: int = 0  # every adapter weight cast autocast caches during the forward (saved or not), bytes
    forward_extra: float = 0.0  # while the MLP output projection's LoRA runs: its input's cast, its output
    # the part of copies + masks + mids saved by attention input projections (q, k, v), still saved while the
    # attention scores back-propagate (the block's other adapters are back-propagated by then)
    attn_input: float = 0.0
    # what the widest adapted in-block input's LoRA saves beside its r-wide middle (its input copy and dropout mask),
    # per token for one module: freed once that module back-propagates (the MLP output projection's, before the
    # MLP's own gradients peak)
    widest_saved: float = 0.0
    # full fine-tuning (full_finetune.py): one block's MLP output projection's saved 16-bit weight copy and its
    # weight gradient, bytes; the copy is freed and the gradient made once that projection back-propagates, before
    # the MLP's own gradients peak (LoRA's adapter copies and gradients there are negligible: 0)
    out_proj_cast: int = 0
    out_proj_grad: int = 0
    # LoRA's lora_A and lora_B weight gradients of the widest adapted in-block module, bytes: made as its input's
    # gradient chain starts (traced: gpt2-heads r64 under checkpointing, the first block's chain peaks)
    chain_grads: float = 0.0
    # the part of forward_extra that is the LoRA dropout's own output under autocast (lora_A saves autocast's
    # 16-bit cast of it): freed once lora_A returns, before lora_B's output and its scaled copy are made
    forward_dropped: float = 0.0
    # chain_grads when that module is the MLP output projection (made before the MLP's own gradients peak), else 0
    mlp_chain_grads: float = 0.0


def lora_saved(mt: MemoryTargets, rank: int, setup: TrainingSetup, a: int) -> LoraSaved:
    """Saved tensors of peft's LoRA forward `lora_B(lora_A(dropout(x.to(adapter_dtype)))) * scaling`.

    Under autocast with fp32 adapters, lora_A's input is autocast's bf16 copy of x (a bytes per element, each
    module its own). Without autocast, x cast to the adapter dtype is what lora_A saves. Dropout (p > 0) saves
    its mask when x needs grad: CUDA's fused kernel a bool mask (1 byte), the CPU kernel a float noise tensor
    in x's dtype. The first block's attention input projections read the first norm's output, which needs no
    grad unless checkpointing turned on enable_input_require_grads: their dropout mask and their bf16 weight
    cast of lora_A are not saved. When nothing copies x (no dropout, x already in the adapter dtype, which is
    the autocast dtype under autocast), modules reading the same input save it once (`mt.distinct_in`), and
    o_proj's input is SDPA's own saved output.

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
    pbytes = DTYPE_BYTES[setup.adapter_dtype]
    copy_b = lora_input_copy_bytes(setup, a)
    mask_b = dropout_mask_bytes(setup, a)
    cast_b = adapter_weight_cast_bytes(setup, a)
    keeps = (lora_keeps_input(setup, block_input_bytes(setup), a), lora_keeps_input(setup, a, a))
    copies = masks = mids = skip = per_seq = per_seq_masks = attn_in = 0.0
    casts = widest = cached = widest_mlp = widest_chain = chain_grads = 0
    widest_in_mlp = False
    widest_saved = 0.0
    for g in mt.groups:
        if g.in_blocks:
            # an attention projection's LoRA input is still saved while the MLP back-propagates, even one wider
            # than the hidden size (o_proj when heads x head_dim > hidden): only the MLP's widest is freed by then
            if not (g.attn_output or g.attn_input) and g.in_features > widest_mlp:
                widest_saved = (0 if keeps[g.attn_output] else copy_b * g.in_features) + mask_b * g.in_features
                widest_mlp = g.in_features
            if g.in_features > widest:
                x_b = a if g.attn_output else block_input_bytes(setup)
                widest_chain = lora_input_grad_chain_bytes(setup, a, x_b, 0 if keeps[g.attn_output] else copy_b)
                chain_grads = pbytes * g.rank(rank) * (g.in_features + g.out_features)
                widest_in_mlp = not (g.attn_output or g.attn_input)
            widest = max(widest, g.in_features)
        r = g.rank(rank)
        if cast_b:  # autocast's copies of lora_A (when its input needs grad) and of lora_B
            casts += cast_b * r * g.out_features * g.count
            cached += cast_b * r * (g.in_features + g.out_features) * g.count
            if not (g.stream_input and not setup.grad_checkpointing):
                casts += cast_b * r * g.in_features * g.count
        if g.pooled:  # one input per sequence (BERT's pooler reads the first token): not a per-token term
            per_seq += copy_b * (g.in_features + r) * g.count
            per_seq_masks += mask_b * g.in_features * g.count
            continue
        before = copies + masks + mids
        if not keeps[g.attn_output]:  # a copy per module (inputs kept as they are: shared_input_elements)
            copies += copy_b * g.in_features * g.count
        masks += mask_b * g.in_features * g.count
        # peft/tuners/lora/layer.py (Linear.forward): lora_B's matmul saves lora_A's output (r wide)
        mids += copy_b * r * g.count
        if g.attn_input:
            attn_in += copies + masks + mids - before
        if g.stream_input and not setup.grad_checkpointing:
            skip += mask_b * g.in_features * g.count
    chain = widest_chain * widest
    # peft/tuners/lora/layer.py (Linear.forward): x = self._cast_input_dtype(x, lora_A.weight.dtype) is a new
    # tensor when x's dtype differs, alive while the adapted module runs; the widest such input is the MLP
    # output projection's (wider than the hidden size)
    fwd_extra = fwd_dropped = 0
    if widest_mlp <= mt.hidden:
        widest_saved = 0.0  # no adapted MLP input wider than the hidden size (gate/up read the stream)
    if widest > mt.hidden:
        # (without autocast and without dropout that cast is what lora_A saves: a copy, priced in copies; with
        # dropout lora_A saves the dropped copy and the cast is a tensor of its own, traced: the forward peak of
        # tests/core/test_memory_trace.py's test_pure_bf16_forward_with_lora_dropout_holds_the_input_cast)
        # Under autocast with dropout, the dropout's output (the adapter dtype) is a tensor of its own too: lora_A
        # saves autocast's 16-bit cast of it (traced: llama-wide's recomputation, tests/core/test_memory_trace.py)
        x_bytes = block_input_bytes(setup)
        own_cast = autocast_on(setup) or setup.lora_dropout > 0
        dropped = autocast_on(setup) and setup.lora_dropout > 0 and pbytes != a
        fwd_dropped = pbytes * widest if dropped else 0
        fwd_extra = (pbytes * widest if x_bytes != pbytes and own_cast else 0) + fwd_dropped + a * mt.hidden
    copies += copy_b * shared_input_elements(mt, setup, a)
    if keeps[0]:  # q, k and v's shared input, saved once (shared_input_elements)
        attn_in += copy_b * mt.attn_input_in
    emb = mt.embedding
    mids += copy_b * (emb.out[0] * rank + emb.out[1])
    if cast_b:
        casts += cast_b * (emb.b[0] * rank + emb.b[1])
    moe = mt.moe
    merged = merged_layer = merged_grad = 0
    if moe.merged:
        wbytes = unquantized_param_bytes(setup)  # fused experts are parameters, never quantized
        per_el = merged_expert_weight_bytes(setup, a)
        merged, merged_layer, merged_grad = per_el * moe.merged, per_el * moe.merged_layer, wbytes * moe.grad
        copies += a * moe.tokens
        if pbytes != wbytes:
            casts += wbytes * (moe.factors[0] * rank + moe.factors[1])
    return LoraSaved(copies, masks, mids, casts, skip, chain, merged, merged_layer, merged_grad, emb.input_grad,
                     per_seq, per_seq_masks, cached, fwd_extra, attn_in, widest_saved, chain_grads=chain_grads,
                     forward_dropped=fwd_dropped,
                     mlp_chain_grads=chain_grads if widest_in_mlp and widest_mlp > mt.hidden else 0)


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
        ls0.per_sequence + rank * (ls1.per_sequence - ls0.per_sequence),
        ls0.per_sequence_masks,
        ls0.cast_cache + rank * (ls1.cast_cache - ls0.cast_cache),
        ls0.forward_extra,
        ls0.attn_input + rank * (ls1.attn_input - ls0.attn_input),
        ls0.widest_saved,
        ls0.out_proj_cast,
        ls0.out_proj_grad,
        ls0.chain_grads + rank * (ls1.chain_grads - ls0.chain_grads),
        ls0.forward_dropped,
        ls0.mlp_chain_grads + rank * (ls1.mlp_chain_grads - ls0.mlp_chain_grads),
    )
