"""What a model allows a setup to ask for: the sequence length its positions reach, the blocks it has, the ranks
its adapted modules can use. Every front end (lorplan plan, the planner, plan files) asks these functions, so a
setup that cannot run is refused with the same one line everywhere instead of being priced.

Pure Python over a ModelSpec; raises BadInput naming the flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lorplan.core.errors import BadInput
from lorplan.core.lora import (
    LoraTargets,
    pattern_value,
    rank_of,
    resolve_embedding_targets,
    resolve_param_targets,
    resolve_targets,
)
from lorplan.core.memory.types import MAX_ROPE_SCALING, TrainingSetup
from lorplan.core.model.archs import context_default as archs_context_default
from lorplan.core.model.attention import check_attention
from lorplan.core.model.fallback import config_context_key
from lorplan.core.model.spec import ModelSpec


def learned_positions(spec: ModelSpec) -> bool:
    """True when the language model adds a learned position-embedding table (GPT-2's wpe, BERT's
    position_embeddings): its rows end at the context, so no RoPE scaling can extend it.

    A multimodal config's (one with a text_config) vision tower has a table of its own, one row per image patch
    (Gemma 3's SigLIP model.vision_tower.embeddings.position_embedding), while its language model positions text
    with RoPE: there only the table beside the token embedding counts (same parent module, as transformer.wte /
    transformer.wpe, embeddings.word_embeddings / embeddings.position_embeddings, OPT's decoder.embed_tokens /
    decoder.embed_positions). A text-only model's every table counts, beside the token embedding or not: DeBERTa-v3
    positions by its encoder's rel_embeddings, T5 by relative_attention_bias, and neither has RoPE to scale. So does
    every table of a spec with no token embedding to go by."""
    tables = [t for t in spec.tensors if t.kind == "position"]
    if not isinstance((spec.config or {}).get("text_config"), Mapping):
        return bool(tables)
    homes = {_module_parent(t.path) for t in spec.tensors if t.kind == "embedding"}
    return any(_module_parent(t.path) in homes for t in tables) if homes else bool(tables)


def _module_parent(path: str) -> str:
    """The module that holds a parameter's module: "transformer" for "transformer.wpe.weight"."""
    return path.rpartition(".")[0].rpartition(".")[0]


def native_rope_scaling(spec: ModelSpec) -> dict | None:
    """The RoPE scaling the model's own config.json sets (Llama 3.1's llama3 ×8, Gemma 3's linear ×8 on its
    full-attention layers, ...), or None. Read where transformers reads it: rope_scaling as the hub's files
    write it, or rope_parameters as transformers 5 saves a config (per layer type for Gemma 3: full_attention,
    sliding_attention), of a rope_type other than "default"; a multimodal config's text_config too (its
    language model's)."""
    cfg = spec.config or {}
    text = cfg.get("text_config")
    for part in (cfg, text if isinstance(text, Mapping) else {}):
        for key in ("rope_scaling", "rope_parameters"):
            value = part.get(key)
            if not isinstance(value, Mapping):
                continue
            # per layer type ({"full_attention": {...}, "sliding_attention": {...}}) or one for every layer
            for params in (value.values() if all(isinstance(v, Mapping) for v in value.values()) else (value,)):
                if _scales(params):
                    return dict(params)
    return None


def _scales(params: Mapping) -> bool:
    """Whether RoPE parameters scale the positions: a rope_type (or the older type) other than "default", or a
    factor with no type named."""
    kind = params.get("rope_type") or params.get("type")
    return kind != "default" if kind is not None else "factor" in params


def context_tokens(spec: ModelSpec, setup: TrainingSetup) -> int | None:
    """The longest sequence the model's positions reach in this setup: max_position_embeddings, times
    setup.rope_scaling when given (linear position interpolation, Chen et al. 2023, arXiv 2306.15595: positions
    are divided by the factor, so the trained range covers factor × the context). None when the config does
    not say."""
    return scaled_context(spec.max_position_embeddings, setup.rope_scaling)


def scaled_context(positions: int, rope_scaling: float | None = None) -> int | None:
    """`positions` (a model's context, in tokens) times the RoPE factor, as context_tokens counts it; None when
    positions is not positive (the config does not say). The data profile counts its limit with it too."""
    if positions <= 0:
        return None
    return int(positions * (rope_scaling or 1.0))


def context_key(spec: ModelSpec) -> str:
    """The config.json key the model's context comes from, for messages: GPT-2 says n_positions (as do the
    fallback's other aliases), most models max_position_embeddings; a multimodal config's text_config is read too
    (fallback.config_context_key, as the data profile reads it). When the file lacks it, the configuration
    class's default that the fast path read instead (context_default)."""
    return context_default(spec) or config_context_key(spec.config or {}) or "max_position_embeddings"


def context_default(spec: ModelSpec) -> str:
    """"" when config.json gives the model's context (or a fallback spec, which reads only what it gives), else
    where the fast path took it from: "max_position_embeddings absent from config.json: LlamaConfig's default"."""
    return "" if spec.source == "fallback" else archs_context_default(spec.config or {})


DEFAULT_SEQ_LEN = 2048


def default_seq_len(spec: ModelSpec) -> int:
    """The sequence length priced when none is given: 2048, or the model's context when that is shorter."""
    ctx = spec.max_position_embeddings
    return min(DEFAULT_SEQ_LEN, ctx) if ctx > 0 else DEFAULT_SEQ_LEN


@dataclass(frozen=True)
class ContextNames:
    """What check_context's messages call the sequence length and the RoPE factor on one surface: `lorplan plan`'s
    flags, a plan file's keys, or the planner's field (which has no RoPE field: its advice names the command)."""

    seq_len: str
    rope_scaling: str
    assign: str = "{name} {value}"  # a setting with its value: "--seq-len 4096", "training.seq_len = 4096"
    extend_rope: str = ("extend RoPE with {setting} (linear position interpolation, which the plan and its exports "
                        "carry)")  # {setting}: rope_scaling set to the factor needed, {factor}: the factor alone

    def set(self, name: str, value: str) -> str:
        return self.assign.format(name=name, value=value)


FLAG_NAMES = ContextNames("--seq-len", "--rope-scaling")
PLAN_KEYS = ContextNames("training.seq_len", "model.rope_scaling", assign="{name} = {value}")


def check_context(spec: ModelSpec, setup: TrainingSetup, names: ContextNames = FLAG_NAMES) -> None:
    """BadInput when the sequence length is beyond the model's context, or RoPE scaling cannot apply to this
    model. `names` says what the message calls the two settings (FLAG_NAMES, PLAN_KEYS, or a front end's own)."""
    ctx = spec.max_position_embeddings
    seq, rope = names.seq_len, names.rope_scaling
    if setup.rope_scaling is not None:
        if learned_positions(spec):
            raise BadInput(f"{rope}: {spec.id} has learned position embeddings ({ctx:,} rows), not RoPE; "
                           f"its sequences cannot be longer than {ctx:,} tokens")
        native = native_rope_scaling(spec)
        if native is not None:
            kind = native.get("rope_type") or native.get("type") or "?"
            raise BadInput(f"{rope}: {spec.id} already scales RoPE ({kind} ×{native.get('factor', '?')}, "
                           f"to {ctx:,} tokens); lorplan does not stack a second scaling on it")
    limit = context_tokens(spec, setup)
    if limit is None or setup.seq_len <= limit:
        return
    asked = names.set(seq, str(setup.seq_len))  # as the user typed it (no thousands comma: 4096, not 4,096)
    if setup.rope_scaling is not None:
        raise BadInput(f"{asked} is beyond {limit:,} tokens, {spec.id}'s context of {ctx:,} "
                       f"× {names.set(rope, f'{setup.rope_scaling:g}')}; raise the factor (at most "
                       f"{MAX_ROPE_SCALING:g}) or shorten the sequences")
    if learned_positions(spec):
        raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens (learned "
                       f"position embeddings, {context_key(spec)}); use sequences of at most that length")
    if native_rope_scaling(spec) is not None:  # a second scaling is refused above: do not offer one
        raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens ({context_key(spec)}, with "
                       "its own RoPE scaling); use sequences of at most that length")
    need = -(-setup.seq_len // ctx)
    raise BadInput(f"{asked} is beyond {spec.id}'s context of {ctx:,} tokens "
                   f"({context_key(spec)}); shorten the sequences, or "
                   + names.extend_rope.format(setting=names.set(rope, str(need)), factor=need))


@dataclass(frozen=True)
class TargetNames:
    """What check_targets' messages call the LoRA settings on one surface: `lorplan plan`'s flags or a plan file's
    keys (a hand-edited plan is checked before `lorplan train` or `lorplan export` acts on it)."""

    targets: str
    layers: str
    rank_pattern: str
    alpha_pattern: str


TARGET_FLAGS = TargetNames("--targets", "--layers", "--rank-pattern", "alpha_pattern")
TARGET_KEYS = TargetNames("lora.target_modules", "lora.layers_to_transform", "lora.rank_pattern", "lora.alpha_pattern")


def check_layers(spec: ModelSpec, targets: LoraTargets, names: TargetNames = TARGET_FLAGS) -> None:
    """BadInput when --layers names blocks the model does not have."""
    if targets.layers_to_transform is None:
        return
    blocks = sorted({m.layer for m in spec.linears if m.layer is not None})
    if not blocks:
        raise BadInput(f"{names.layers}: {spec.id} has no numbered blocks to choose from")
    missing = [i for i in targets.layers_to_transform if i not in set(blocks)]
    if missing:
        shown = ", ".join(map(str, missing[:6])) + (", …" if len(missing) > 6 else "")
        raise BadInput(f"{names.layers}: block{'s' if len(missing) > 1 else ''} {shown} "
                       f"{'do' if len(missing) > 1 else 'does'} not exist: {spec.id} has {len(blocks)} blocks "
                       f"({blocks[0]}-{blocks[-1]})")


def _modules(spec: ModelSpec, targets: LoraTargets) -> list[tuple[str, int, int | None]]:
    """(module path, largest rank it can use, its fixed rank_pattern rank or None) per adapted module."""
    out: list[tuple[str, int, int | None]] = []
    probe = 1 << 40  # a rank no pattern uses: modules that return it take the swept rank
    for m in resolve_targets(spec, targets):
        fixed = rank_of(m, targets, probe)
        out.append((m.path, min(m.in_features, m.out_features), None if fixed == probe else fixed))
    for t in resolve_embedding_targets(spec, targets):
        out.append((t.path, min(t.shape), None))
    for p in resolve_param_targets(spec, targets):
        # peft/tuners/lora/layer.py (ParamWrapper): (E, out, in) experts get rank multiplier × r on each expert
        out.append((p.tensor.path, min(p.tensor.shape[-2:]) // p.multiplier, None))
    return out


def rank_limit(spec: ModelSpec, targets: LoraTargets) -> int:
    """The largest swept rank any adapted module can use (min(in, out) of the widest adapted module); a larger
    rank only adds parameters that cannot raise any adapter's rank. 0 when no module takes the swept rank."""
    return max((use for _, use, fixed in _modules(spec, targets) if fixed is None), default=0)


def check_targets(spec: ModelSpec, targets: LoraTargets, names: TargetNames = TARGET_FLAGS) -> None:
    """BadInput when the targets adapt nothing, a rank_pattern rank exceeds its module's dimensions, or a
    rank_pattern / alpha_pattern key matches no adapted module (peft ignores such a key: a typo would go
    unnoticed). `names`: what the messages call the settings (TARGET_FLAGS, TARGET_KEYS)."""
    check_layers(spec, targets, names)
    modules = _modules(spec, targets)
    if not modules and not targets.modules_to_save:
        where = f" in {names.layers}" if targets.layers_to_transform is not None else ""
        raise BadInput(f"{names.targets} {','.join(targets.modules)}: no module of {spec.id} matches{where}, so "
                       "nothing would be trained")
    for path, use, fixed in modules:
        if fixed is not None and fixed > use:
            key = next(k for k in targets.rank_pattern if pattern_value({k: 1}, path))
            raise BadInput(f"{names.rank_pattern}: rank {fixed} for {path} (key {key!r}) is above its smallest "
                           f"dimension ({use})")
    paths = [path.removesuffix(".weight") for path, _, _ in modules]
    for pattern, name in ((targets.rank_pattern, names.rank_pattern), (targets.alpha_pattern, names.alpha_pattern)):
        for key in pattern:
            if not any(pattern_value({key: 1}, path) for path in paths):
                raise BadInput(f"{name}: {key!r} matches no module the targets adapt "
                               f"({', '.join(sorted({p.rsplit('.', 1)[-1] for p in paths}))})")


def check_ranks(spec: ModelSpec, targets: LoraTargets, ranks: Iterable[int], flag: str = "--ranks") -> None:
    """BadInput naming `flag` for a rank above rank_limit (no adapted module could use it)."""
    limit = rank_limit(spec, targets)
    for r in ranks:
        if limit and r > limit:
            raise BadInput(f"{flag}: rank {r:,} is above {limit:,}, the largest rank a module it adapts can use "
                           f"(min(in, out) of {spec.id}'s widest adapted module)")


def plannable_ranks(spec: ModelSpec, targets: LoraTargets, ranks: Iterable[int]) -> tuple[int, ...]:
    """The ranks of a default sweep that some adapted module can use (a small model drops 512 from 1…512)."""
    limit = rank_limit(spec, targets)
    kept = tuple(r for r in ranks if not limit or r <= limit)
    return kept or tuple(ranks)[:1]


def check_loss(spec: ModelSpec, setup: TrainingSetup) -> None:
    """BadInput when a causal-LM loss kernel (--loss fused-linear-ce / cut-ce) is asked for a model that is no
    causal LM: those kernels fuse the output head's cross-entropy over the vocabulary, and a sequence classifier's
    loss is over its labels (activations.loss_buffer_bytes prices nothing for them), so the flag would change
    nothing but the plan file's claim."""
    if spec.task != "causal-lm" and setup.loss != "standard":
        raise BadInput(f"--loss {setup.loss}: {spec.id} is a sequence classifier, whose loss is a cross-entropy "
                       "over its labels; the loss kernels replace a causal LM's cross-entropy over the vocabulary")


def check_plannable(spec: ModelSpec, setup: TrainingSetup, ranks: Iterable[int] = (), flag: str = "--ranks",
                    names: ContextNames = FLAG_NAMES) -> None:
    """Every check above for one setup and the ranks asked for explicitly (`flag` and `names`: what the messages
    call the ranks and the context settings), and that the model's class implements the setup's attention
    (core.model.attention: Gemma 2 has no SDPA) and checkpoints when asked (core.model.fallback: CTRL cannot)."""
    from lorplan.core.model.fallback import check_gradient_checkpointing

    check_loss(spec, setup)
    check_attention(spec, setup.attention)
    check_gradient_checkpointing(spec, setup.grad_checkpointing)
    check_context(spec, setup, names)
    check_targets(spec, setup.targets)
    check_ranks(spec, setup.targets, ranks, flag)
