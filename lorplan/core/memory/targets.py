"""What LoRA adds to a model, prepared once per (spec, targets) so a rank sweep costs a few multiplications.

Everything comes from lorplan.core.lora (peft 0.21's rules, exact against real peft):
- `TensorGroup`: every trainable tensor peft creates (`lora.trainable_tensors`: LoRA A/B of linears, embeddings
  and fused MoE parameters, DoRA magnitude vectors, modules_to_save copies), grouped by numel as a function of
  the swept rank (per_rank·r + const). Adapter, gradient and optimizer bytes, and bitsandbytes' per-tensor
  8-bit threshold, are priced from these groups.
- `AdaptedGroup`: the adapted linear modules grouped by shape, for what their LoRA forward saves.
- `MoeLora` / `EmbeddingLora`: what LoRA on fused experts / routers and on embeddings saves (lora_saved.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from lorplan.core.lora import LoraTargets, rank_of, resolve_targets, saved_params, trainable_tensors
from lorplan.core.memory.activations import decoder_classifier
from lorplan.core.model.spec import Linear, ModelSpec


@dataclass(frozen=True)
class AdaptedGroup:
    """`count` adapted modules of one shape. fixed_rank: rank from rank_pattern (None = the swept rank)."""

    in_features: int
    out_features: int
    count: int
    fixed_rank: int | None
    in_blocks: bool
    stream_input: bool = False  # fed by the first block's first norm (its input needs no grad without GC)
    attn_output: bool = False  # an attention output projection (o_proj): its input is the attention's output
    pooled: bool = False  # outside the blocks of a sequence classifier (BERT's pooler): one input per sequence
    attn_input: bool = False  # an attention input projection (q, k, v, a fused qkv): saved until the scores' backward

    def rank(self, r: int) -> int:
        return r if self.fixed_rank is None else self.fixed_rank


@dataclass(frozen=True)
class TensorGroup:
    """`count` trainable tensors of per_rank·r + const elements each (r = the swept rank).

    full_copy: a modules_to_save copy (peft keeps it in its module's dtype); else a LoRA tensor (adapter dtype).
    """

    per_rank: int
    const: int
    count: int
    full_copy: bool

    def numel(self, r: int) -> int:
        return self.per_rank * r + self.const


@dataclass(frozen=True)
class MoeLora:
    """LoRA on fused MoE parameters (peft `ParamWrapper`), in elements; the dtypes are applied by lora_saved.py.

    tokens: elements saved per token over all layers: each adapted expert parameter (E, out, in) saves the
        `in`-wide input of every token routed to an expert (top_k per token); an adapted router saves its input.
    merged / merged_layer: elements of the merged weights W + s·B·A that the parametrization materializes, over
        all layers / in the largest layer.
    grad: elements a layer's backward adds at most: the gradient of one merged weight while the merged weights
        already back-propagated (down_proj before gate_up_proj before the router) are freed.
    factors: (per_rank, const) elements of the LoRA factors over all layers (baddbmm's lhs and rhs).
    """

    tokens: int = 0
    merged: int = 0
    merged_layer: int = 0
    grad: int = 0
    factors: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class EmbeddingLora:
    """LoRA on embeddings (peft `lora.Embedding`), in elements.

    out: (per_rank, const) elements per token of lora_embedding_A's lookup (r per token and adapted embedding),
        which the matmul with lora_embedding_B saves. b: (per_rank, const) elements of the lora_embedding_B
        weights (autocast copies). input_grad: the hidden states need grad from the first block on.
    """

    out: tuple[int, int] = (0, 0)
    b: tuple[int, int] = (0, 0)
    input_grad: bool = False


@dataclass(frozen=True)
class MemoryTargets:
    """groups: adapted linears by shape; tensors: trainable tensors by size; distinct_in: in_features summed over
    the distinct in-block inputs of adapted linears; attn_output_in: the part of distinct_in that feeds attention
    output projections (o_proj's input)."""

    groups: tuple[AdaptedGroup, ...]
    tensors: tuple[TensorGroup, ...]
    distinct_in: int
    moe: MoeLora
    embedding: EmbeddingLora
    attn_output_in: int = 0
    hidden: int = 0  # the model's hidden size
    attn_input_in: int = 0  # the part of distinct_in read by attention input projections (q, k, v)


# Output projections of attention blocks: their input is the attention output, which needs grad.
_ATTN_OUTPUT = frozenset({"o_proj", "out_proj", "c_proj", "dense", "wo", "proj", "dense_proj"})
# Every trainable tensor's numel is affine in the rank (one dimension is rank × a constant, or the rank is pinned),
# with coefficients far below this prime: one call at rank P gives numel = per_rank·P + const, split by divmod.
_P = (1 << 61) - 1


def _fixed_rank(m: Linear, targets: LoraTargets) -> int | None:
    if not targets.rank_pattern:
        return None
    a, b = rank_of(m, targets, 1), rank_of(m, targets, 2)
    return None if a != b else a


def memory_targets(spec: ModelSpec, targets: LoraTargets) -> MemoryTargets:
    """Everything the memory model needs to know about the targets, from one lora.trainable_tensors call and one
    lora.resolve_targets call (raises BadInput naming a target, rank_pattern or modules_to_save that is wrong)."""
    if targets.modules_to_save:
        saved_params(spec, targets)  # names matching no module are a BadInput (trainable_tensors skips them)
    listed = trainable_tensors(spec, targets, _P)
    by_shape: dict[tuple[tuple[int, ...], bool], int] = {}
    for name, shape in listed:  # a 70B model has ~1100 tensors but ~10 shapes: count them, then price shapes
        key = (shape, ".lora_" not in name)
        by_shape[key] = by_shape.get(key, 0) + 1
    counts: dict[tuple[int, int, bool], int] = {}
    for (shape, full), n in by_shape.items():
        size = 1
        for d in shape:
            size *= d
        per_rank, const = divmod(size, _P)
        counts[per_rank, const, full] = counts.get((per_rank, const, full), 0) + n
    ok = oc = bk = bc = 0
    embedded = False
    for name, shape in listed:
        if name.endswith(".lora_embedding_B"):  # (embedding_dim, r)
            embedded = True
            dim, r = shape
            if r == _P:
                ok, bk = ok + 1, bk + dim
            else:
                oc, bc = oc + r, bc + r * dim
    moe = _moe(spec, listed) if spec.num_experts else MoeLora()
    tensors = tuple(TensorGroup(k, c, n, full) for (k, c, full), n in counts.items())
    groups, distinct, attn_out, attn_in = _linear_groups(spec, targets, embedded)
    return MemoryTargets(groups, tensors, distinct, moe, EmbeddingLora((ok, oc), (bk, bc), embedded), attn_out,
                         spec.hidden_size, attn_in)


def _moe(spec: ModelSpec, listed: tuple[tuple[str, tuple[int, ...]], ...]) -> MoeLora:
    moe_tensors = {t.path: t for t in spec.tensors if t.kind in ("experts", "router")}
    top_k = max(spec.num_experts_per_tok, 1)
    tokens = merged = fk = fc = 0
    per_layer: dict[int | None, list[tuple[bool, int, int]]] = {}
    for name, shape in listed:
        owner, leaf = name.rsplit(".", 1)
        t = moe_tensors.get(owner)
        if t is None or leaf not in ("lora_A", "lora_B"):
            continue
        size = shape[0] * shape[1]
        fk, fc = fk + size // _P, fc + size % _P
        if leaf == "lora_A":  # (r·E, in) for experts (E, out, in), (r, hidden) for a router
            tokens += (top_k if len(t.shape) == 3 else 1) * shape[1]
            merged += t.numel
            params = per_layer.setdefault(t.layer, [])
            params.append((t.kind == "router", -len(params), t.numel))
    grad = 0
    for params in per_layer.values():  # backward order: experts in reverse model order, then the router
        freed = 0
        for _, _, n in sorted(params):
            grad = max(grad, n - freed)
            freed += n
    layer_max = max((sum(n for _, _, n in p) for p in per_layer.values()), default=0)
    return MoeLora(tokens, merged, layer_max, grad, (fk, fc))


def _linear_groups(spec: ModelSpec, targets: LoraTargets,
                   input_grad: bool) -> tuple[tuple[AdaptedGroup, ...], int, int, int]:
    """Adapted linears grouped by shape, the sum of in_features over their distinct in-block inputs (q, k and v
    read the same tensor, so do gate and up; when LoRA makes no copy of its input, adapters in the activation
    dtype and no dropout, lora_A saves that shared tensor once), and the parts of that sum read by attention
    output projections and by attention input projections."""
    first = min((m.layer for m in spec.linears if m.layer is not None), default=None)
    counts: dict[tuple[int, int, int | None, bool, bool, bool, bool, bool], int] = {}
    seen: set[tuple] = set()
    distinct = attn_out = attn_in = 0
    for m in resolve_targets(spec, targets):
        # the first block's attention input projections read the (pre-)norm of the frozen embeddings' output, or
        # in a post-norm encoder (BERT) the embeddings' own LayerNorm: either way an input that needs no grad
        stream = (m.layer == first and m.role == "attention" and m.name not in _ATTN_OUTPUT and not input_grad)
        reads_attn = m.role == "attention" and m.name in _ATTN_OUTPUT and m.layer is not None
        # a decoder classifier's head reads every position (ModernBertDecoder's head.dense, before the pooling)
        pooled = m.layer is None and spec.task != "causal-lm" and not decoder_classifier(spec)
        feeds_attn = m.role == "attention" and m.name not in _ATTN_OUTPUT and m.layer is not None
        key = (m.in_features, m.out_features, _fixed_rank(m, targets), m.layer is not None, stream, reads_attn,
               pooled, feeds_attn)
        counts[key] = counts.get(key, 0) + 1
        if m.layer is not None:
            ikey = (m.layer, m.role, m.name in _ATTN_OUTPUT, m.in_features)
            if ikey not in seen:
                seen.add(ikey)
                distinct += m.in_features
                if reads_attn:
                    attn_out += m.in_features
                if feeds_attn:
                    attn_in += m.in_features
    groups = tuple(AdaptedGroup(i, o, n, fr, blk, st, at, pl, fa)
                   for (i, o, fr, blk, st, at, pl, fa), n in counts.items())
    return groups, distinct, attn_out, attn_in
