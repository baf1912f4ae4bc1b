"""Adapted modules grouped by shape, so a rank sweep costs a handful of multiplications per rank.

Targets are resolved by lorplan.core.lora (peft's rules). A group is every adapted module with the same
(in_features, out_features, role, fixed rank); `fixed_rank` is set when rank_pattern pins that module's rank.
"""

from __future__ import annotations

from dataclasses import dataclass

from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets, rank_of, resolve_targets
from lorplan.core.spec import Linear, ModelSpec


@dataclass(frozen=True)
class AdaptedGroup:
    """`count` adapted modules of one shape. fixed_rank: rank from rank_pattern (None = the swept rank)."""

    in_features: int
    out_features: int
    count: int
    fixed_rank: int | None
    in_blocks: bool
    stream_input: bool = False  # fed by the first block's first norm (its input needs no grad without GC)

    def rank(self, r: int) -> int:
        return r if self.fixed_rank is None else self.fixed_rank


# Output projections of attention blocks: their input is the attention output, which needs grad.
_ATTN_OUTPUT = frozenset({"o_proj", "out_proj", "c_proj", "dense", "wo", "proj", "dense_proj"})
# Post-norm encoders feed the first block straight from the embeddings' LayerNorm (trainable input path differs).
_POST_NORM = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "electra"})


def _fallback_resolve(spec: ModelSpec, targets: LoraTargets) -> tuple[Linear, ...]:
    # Used only while lorplan.core.lora is a stub: peft's preset semantics for the common cases.
    mods = targets.modules
    layers = set(targets.layers_to_transform) if targets.layers_to_transform is not None else None
    out = []
    for m in spec.linears:
        if layers is not None and m.layer not in layers:
            continue
        if mods == ("all-linear",):
            ok = m.role != "head"
        elif mods == ("attention",):
            ok = m.role == "attention"
        elif mods == ("mlp",):
            ok = m.role in ("mlp", "expert")
        else:
            ok = m.name in mods
        if ok:
            out.append(m)
    if not out:
        raise BadInput(f"--targets: {', '.join(mods)} matches no module of {spec.id}")
    return tuple(out)


def _resolve(spec: ModelSpec, targets: LoraTargets) -> tuple[Linear, ...]:
    try:
        return resolve_targets(spec, targets)
    except NotImplementedError:
        return _fallback_resolve(spec, targets)


def _fixed_rank(m: Linear, targets: LoraTargets) -> int | None:
    if not targets.rank_pattern:
        return None
    try:
        a, b = rank_of(m, targets, 1), rank_of(m, targets, 2)
    except NotImplementedError:
        return None
    return None if a != b else a


def adapted_groups(spec: ModelSpec, targets: LoraTargets) -> tuple[AdaptedGroup, ...]:
    """The adapted modules of `spec` under `targets`, grouped by shape (order of first appearance)."""
    first = min((m.layer for m in spec.linears if m.layer is not None), default=None)
    counts: dict[tuple[int, int, int | None, bool, bool], int] = {}
    for m in _resolve(spec, targets):
        stream = (m.layer == first and m.role == "attention" and m.name not in _ATTN_OUTPUT
                  and spec.model_type not in _POST_NORM)
        key = (m.in_features, m.out_features, _fixed_rank(m, targets), m.layer is not None, stream)
        counts[key] = counts.get(key, 0) + 1
    return tuple(AdaptedGroup(i, o, n, fr, blk, st) for (i, o, fr, blk, st), n in counts.items())


def distinct_input_features(spec: ModelSpec, targets: LoraTargets) -> int:
    """Sum of in_features over the distinct *inputs* of the adapted in-block modules: q, k and v read the same
    tensor, so do gate and up; the attention output projection and down_proj read their own. When LoRA makes no
    copy of its input (adapters in the activation dtype, no dropout), lora_A saves that shared tensor once."""
    seen: set[tuple] = set()
    total = 0
    for m in _resolve(spec, targets):
        if m.layer is None:
            continue
        key = (m.layer, m.role, m.name in _ATTN_OUTPUT, m.in_features)
        if key not in seen:
            seen.add(key)
            total += m.in_features
    return total


def modules_to_save_params(spec: ModelSpec, targets: LoraTargets) -> int:
    """Parameters of fully trained modules (peft's modules_to_save): every linear or tensor whose path has a
    component equal to one of the names. Counted once per tensor (tied embeddings once)."""
    if not targets.modules_to_save:
        return 0
    names = set(targets.modules_to_save)
    total = 0
    for m in spec.linears:
        if names & set(m.path.split(".")):
            total += m.params
    for t in spec.tensors:
        if names & set(t.path.split(".")):
            total += t.numel
    return total
