"""LoRA targets and exact trainable-parameter counts, as peft computes them.

Matching follows peft 0.21 (peft/tuners/tuners_utils.py `check_target_module_exists`,
`_maybe_include_all_linear_layers`; peft/utils/other.py `get_pattern_key`):
- an explicit name matches a module whose full name equals it or ends with "." + name;
- "all-linear" is every nn.Linear / Conv1D except the output embedding (lm_head) and, for sequence
  classification, the classifier head;
- layers_to_transform keeps modules whose first numbered path segment ("layers.3.", "h.3.", "layer.3.") is in
  the set; modules outside numbered blocks are dropped;
- rank_pattern: the first key k (in order) with re.match(rf"(.*\\.)?({k})$", path) gives the rank;
- modules_to_save (and the classifier / score head that peft adds for sequence classification) are trained in
  full and are never LoRA targets.
- MoE models whose experts transformers 5 fuses into 3D parameters (mixtral, qwen2_moe, qwen3_moe): peft maps the
  v4 names (w1/w3/w2 or gate_proj/up_proj/down_proj, and the router "gate") to `target_parameters`
  (peft/utils/transformers_weight_conversion.py `_convert_peft_config_moe`). "all-linear" includes them. A 3D
  expert parameter (E, out, in) trains r·E·(in+out); gate_up_proj gets rank 2r (both halves fused); the router
  (E, hidden) trains r·(hidden+E). peft applies no layers_to_transform to them, and refuses DoRA on them.
- Mamba-based models (PEFT_MAMBA_TYPES): peft refuses LoRA on out_proj and conv1d, which mamba_ssm's fused
  kernels read as raw weights (an adapter there would never run; peft/tuners/tuners_utils.py
  `_check_lora_target_modules_mamba`, peft#2556), yet its "all-linear" selects out_proj there. "all-linear" leaves
  them out (and is passed to peft as the names it selects); naming one is refused.
- Modules a state-space mixer reads as a raw weight though peft accepts an adapter on them (KERNEL_BYPASSED:
  Bamba's out_proj, Mamba's x_proj and dt_proj, ...): the adapter is never run where the mixer does so, and its B
  stays zero. The presets leave them out; naming one is planned with a note (bypass_notes), not refused: most
  train on some path (out_proj and Mamba's x_proj on the PyTorch one, dt_proj of a quantized FalconMamba or
  Jamba), and Mamba's dt_proj, which trains on none, is in the Mamba plan files written before this table.
- Modules read as a raw weight outside a state-space mixer (WEIGHT_BYPASSED: Gemma 3n's correction_coefs, LongCat
  Flash's router, LayoutLM v2/v3's relative-position bias tables, Bloom's dense layers under slow_but_exact): their
  adapter never trains on any path; presets leave them out and naming one is planned with a note, as above.
- Layers that are modules of transformers' own, not nn.Linear (PEFT_UNSUPPORTED_LAYERS: I-BERT's QuantLinear,
  ConvBERT's GroupedLinearLayer when num_groups > 1): they are no linears of the spec, so "all-linear" leaves them out
  as peft's does; a name that selects one is refused, as peft refuses it, and so is a target that selects nothing
  else (every target of I-BERT).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lorplan.core.errors import BadInput
from lorplan.core.model.spec import Linear, ModelSpec, Tensor

PRESETS = ("all-linear", "attention", "mlp")
SEQ_CLS_HEADS = ("classifier", "score")  # peft adds these to modules_to_save for SEQ_CLS


def quantization_skip_modules(task: str) -> list[str] | None:
    """BitsAndBytesConfig(llm_int8_skip_modules=...) for a quantized load of a `task` model, as `lorplan train`
    loads it (lorplan.train.model) and the peft export writes it: a sequence classifier's head (SEQ_CLS_HEADS, which
    the run trains in full as modules_to_save) left in 16 bits. transformers 5 keeps out of bitsandbytes only the
    output embeddings and the module of the model's last parameter with ".weight" stripped (quantizers/base.py
    get_keys_to_not_convert), so a head with a bias ("classifier.bias": BERT's classifier, RoBERTa's
    classifier.out_proj) was loaded as Linear4bit, and peft's modules_to_save copy of it asked for gradients on its
    uint8 weight ("only Tensors of floating point dtype can require gradients"). None: transformers' own choice (a
    causal LM's lm_head). The memory model prices the same (core.memory.weights.kept_unquantized)."""
    return list(SEQ_CLS_HEADS) if task == "sequence-classification" else None
# model_type -> (v4 target name -> v5 parameter leaf); the router's v5 target is "gate.weight"
MOE_NAMES: dict[str, dict[str, str]] = {
    "mixtral": {"gate": "gate.weight", "w1": "gate_up_proj", "w3": "gate_up_proj", "w2": "down_proj"},
    "qwen2_moe": {"gate": "gate.weight", "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj", "down_proj": "down_proj"},
}
MOE_NAMES["qwen3_moe"] = MOE_NAMES["qwen2_moe"]
# the model types whose modules PEFT_MAMBA_REFUSED peft's LoRA refuses (`_check_lora_target_modules_mamba`)
PEFT_MAMBA_TYPES = ("falcon_h1", "falcon_mamba", "mamba", "mamba2", "nemotron_h")
PEFT_MAMBA_REFUSED = ("out_proj", "conv1d")
# Where a mixer of transformers 5.25 reads a module's weight instead of calling the module (an adapter there never
# runs: peft's wrapper answers `.weight` with the base layer's), for modules peft does NOT refuse on that model type
# (tests/core/test_ssm_kernel_targets.py scans the installed transformers for them). conv1d is read so too, but
# lorplan never adapts a convolution.
_FUSED = ("hand {name}'s weight to mamba_ssm's fused training kernel, so its adapter trains only on the PyTorch "
          "path (CPU, or a GPU without mamba_ssm)")
_MATMUL = "multiply by {name}'s weight directly, so its adapter never trains"
_MATMUL_UNQUANTIZED = ("multiply by {name}'s weight directly unless the base is quantized, so its adapter trains only "
                       "on a quantized base")
KERNEL_BYPASSED: dict[str, dict[str, str]] = {
    # mamba2_split_conv1d_scan_combined(..., outproj_weight=self.out_proj.weight) in training, as Mamba2's mixer
    "bamba": {"out_proj": _FUSED},
    "granitemoehybrid": {"out_proj": _FUSED},
    "zamba2": {"out_proj": _FUSED},
    # mamba_inner_fn(..., self.x_proj.weight, self.dt_proj.weight, self.out_proj.weight) in training; the PyTorch
    # path computes `self.dt_proj.weight @ time_step` (FalconMamba and Jamba too, calling the module when quantized)
    "mamba": {"x_proj": _FUSED, "dt_proj": _MATMUL},
    "falcon_mamba": {"dt_proj": _MATMUL_UNQUANTIZED},
    "jamba": {"dt_proj": _MATMUL_UNQUANTIZED},
}
# Modules a model reads as a raw weight outside a state-space mixer (peft accepts an adapter on them; it never runs),
# model_type -> {name: what that model does with the weight, after "<model_type>'s "}: what the modeling files of the
# installed transformers' causal LMs and sequence classifiers do (tests/core/test_weight_bypassed_families.py scans
# them and trains each family). WavLM's attention hands q/k/v/out_proj's weights to F.multi_head_attention_forward
# too, but lorplan does not plan audio models.
_REL_POS_TABLE = ("encoders look up {name}'s weight as a relative-position bias table under torch.no_grad(), so its "
                  "adapter never trains")
WEIGHT_BYPASSED: dict[str, dict[str, str]] = {
    # Gemma3nTextAltUp.correct: F.linear(modalities, self.correction_coefs.weight.clamp(...)) when training
    "gemma3n": {"correction_coefs": "AltUp layers multiply by a clipped copy of {name}'s weight in training, so its "
                                    "adapter never trains"},
    # LongcatFlashTopkRouter: F.linear(hidden_states.float(), self.classifier.weight.float())
    "longcat_flash": {"classifier": "MoE routers multiply by {name}'s weight directly, so its adapter never trains"},
    # LayoutLMv2Encoder / LayoutLMv3Encoder index `weight.t()[buckets]` / `bias.weight[:, buckets]`
    "layoutlmv2": dict.fromkeys(("rel_pos_bias", "rel_pos_x_bias", "rel_pos_y_bias"), _REL_POS_TABLE),
    # BloomAttention / BloomMLP: F.linear over slices of self.dense.weight / self.dense_4h_to_h.weight
    "bloom": dict.fromkeys(("dense", "dense_4h_to_h"), "blocks multiply by slices of {name}'s weight directly "
                                                       "(pretraining_tp > 1 with slow_but_exact), so its adapter "
                                                       "never trains"),
}
# model_type -> (the class, the path suffixes of the layers that may be one): layers transformers builds as a module
# of its own that holds its weight and is not an nn.Linear. peft's LoRA wraps nn.Linear, Conv1D, Conv1d/2d/3d,
# Embedding and MultiheadAttention only, so its "all-linear" passes them over and it refuses one named ("Target
# module QuantLinear() is not supported"; on I-BERT, whose every layer is one, all-linear: "No modules were
# targeted"). The fallback reports them as tensors, not linears (their "<path>.weight"), which tells a model that
# builds one from one that does not: I-BERT's QuantLinear (models/ibert/quant_modules.py, integer-only
# quantization) in attention and MLP; ConvBERT's GroupedLinearLayer, its MLP's two layers when num_groups > 1 (its
# attention's are nn.Linear).
PEFT_UNSUPPORTED_LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ibert": ("QuantLinear", ("query", "key", "value", "dense")),
    "convbert": ("GroupedLinearLayer", ("intermediate.dense", "output.dense")),
}
WEIGHT_BYPASSED["gemma3n_text"] = WEIGHT_BYPASSED["gemma3n"]
WEIGHT_BYPASSED["layoutlmv3"] = WEIGHT_BYPASSED["layoutlmv2"]


def _text_part(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    part = cfg.get("text_config")
    return part if isinstance(part, Mapping) else cfg


def _bloom_slices(cfg: Mapping[str, Any]) -> bool:
    tp = cfg.get("pretraining_tp", 1)
    return isinstance(tp, int) and tp > 1 and cfg.get("slow_but_exact") is True


# the config under which a WEIGHT_BYPASSED model reads the weight (a model type absent here always does); the
# defaults are the transformers configuration classes' (Gemma3nTextConfig.altup_coef_clip = 120.0)
_READ_WHEN: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "gemma3n": lambda cfg: _text_part(cfg).get("altup_coef_clip", 120.0) is not None,
    "bloom": _bloom_slices,
}
_READ_WHEN["gemma3n_text"] = _READ_WHEN["gemma3n"]
_LAYER_RE = re.compile(r".*?\.[^.]*\.(?P<idx>\d+)\.")


@dataclass(frozen=True)
class LoraTargets:
    """Which modules get adapters, in peft's terms.

    modules: a preset ("all-linear" as peft resolves it, "attention", "mlp") or explicit leaf names
             ("q_proj", "v_proj").
    layers_to_transform: only these block indices (None = all).
    rank_pattern / alpha_pattern: peft semantics (key matched against the module path suffix / regex).
    use_dora: adds DoRA's magnitude vector (out_features per adapted module).
    modules_to_save: fully trained extra modules ("embed_tokens", "lm_head", "score", "classifier").
    """

    modules: tuple[str, ...] = ("all-linear",)
    layers_to_transform: tuple[int, ...] | None = None
    rank_pattern: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    alpha_pattern: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    use_dora: bool = False
    modules_to_save: tuple[str, ...] = ()


def peft_layer_index(path: str) -> int | None:
    """The block index peft's layers_to_transform sees for a module name (first numbered segment)."""
    m = _LAYER_RE.match(path + ".")
    return int(m.group("idx")) if m else None


def _suffix_match(path: str, name: str) -> bool:
    return path == name or path.endswith("." + name)


def _saved_match(path: str, names: tuple[str, ...]) -> bool:
    """Whether peft trains the module at `path` in full for the modules_to_save `names`: peft wraps every module
    whose name ends with one of them, at no boundary (peft.utils.other._set_trainable: key.endswith(name)), so
    "classifier" is DistilBERT's pre_classifier too; and everything in a wrapped module (RoBERTa's
    classifier.dense)."""
    return any(re.match(rf".*{re.escape(n)}($|\..*)", path) for n in names)


def saved_names(spec: ModelSpec, targets: LoraTargets) -> tuple[str, ...]:
    """modules_to_save as peft will use them (plus the classification head for sequence classification)."""
    names = tuple(targets.modules_to_save)
    if spec.task == "sequence-classification":
        names += tuple(n for n in SEQ_CLS_HEADS if n not in names)
    return names


def _embedding_modules(spec: ModelSpec) -> dict[str, Tensor]:
    return {t.path.removesuffix(".weight"): t for t in spec.tensors if t.kind in ("embedding", "position")}


def valid_target_names(spec: ModelSpec) -> tuple[str, ...]:
    """Names a user can target: presets, linear leaf names, embedding module names (model order)."""
    seen: dict[str, None] = dict.fromkeys(PRESETS)
    refused = peft_refused(spec)
    for m in (*spec.linears, *spec.tied_linears):
        if m.name not in refused:
            seen.setdefault(m.name, None)
    for path in _embedding_modules(spec):
        seen.setdefault(path.rsplit(".", 1)[-1], None)
    return tuple(seen)


def peft_refused(spec: ModelSpec) -> tuple[str, ...]:
    """The module names peft's LoRA refuses on this model (out_proj and conv1d of a Mamba-based model type)."""
    return PEFT_MAMBA_REFUSED if spec.model_type in PEFT_MAMBA_TYPES else ()


def _bypassed(spec: ModelSpec) -> dict[str, str]:
    """name -> what this model does with its weight (a phrase after "<model_type>'s "), for the modules it reads as a
    raw weight though peft adapts them: KERNEL_BYPASSED, and WEIGHT_BYPASSED where its config makes the model read
    the weight (_READ_WHEN)."""
    out = {name: f"state-space mixers {how}" for name, how in KERNEL_BYPASSED.get(spec.model_type, {}).items()}
    when = _READ_WHEN.get(spec.model_type)
    if when is None or when(spec.config):
        out.update(WEIGHT_BYPASSED.get(spec.model_type, {}))
    return out


def kernel_bypassed(spec: ModelSpec) -> tuple[str, ...]:
    """The module names this model reads as raw weights though peft adapts them (KERNEL_BYPASSED's state-space
    mixers, WEIGHT_BYPASSED): the presets leave them out."""
    return tuple(_bypassed(spec))


def preset_excluded(spec: ModelSpec) -> tuple[str, ...]:
    """The module names no preset adapts on this model: peft_refused and kernel_bypassed."""
    return peft_refused(spec) + kernel_bypassed(spec)


def bypass_notes(spec: ModelSpec, targets: LoraTargets, key: str = "--targets") -> list[str]:
    """One sentence per explicitly named module that this model reads as a raw weight (kernel_bypassed: a
    state-space mixer's KERNEL_BYPASSED, WEIGHT_BYPASSED), where its adapter does not train: named by its leaf (out_proj) or a longer suffix of its path (mamba.out_proj),
    which --targets matches alike; one note per module, under the first name that selects it, after `key` (the
    flag, or a plan's "PLAN: lora.target_modules")."""
    where = _bypassed(spec)
    if not where:
        return []
    selected = _selected(spec, targets)[0]
    notes = []
    done: set[str] = set()
    for name in dict.fromkeys(n.strip() for n in targets.modules):
        leaf = name.rsplit(".", 1)[-1]
        if leaf in where and leaf not in done and any(_suffix_match(m.path, name) for m in selected):
            done.add(leaf)
            notes.append(f"{key} {name}: {spec.model_type}'s {where[leaf].format(name=leaf)}")
    return notes


def preset_bypass_notes(spec: ModelSpec, targets: LoraTargets, rank: int, key: str = "--targets") -> list[str]:
    """One sentence per preset in the targets that leaves out modules this model reads as a raw weight outside a
    state-space mixer (WEIGHT_BYPASSED, where its config makes it: Gemma 3n's correction_coefs, LayoutLM v2/v3's
    rel_pos_bias tables): which, why, and for all-linear the LoRA parameters at `rank` peft's own "all-linear"
    adds there (its adapters never train), so a count from peft is not a surprise."""
    where = {n: how for n, how in _bypassed(spec).items() if n in WEIGHT_BYPASSED.get(spec.model_type, {})}
    if not where:
        return []
    layers = set(targets.layers_to_transform) if targets.layers_to_transform is not None else None
    saved = saved_names(spec, targets)
    notes = []
    for preset in dict.fromkeys(n.strip() for n in targets.modules if n.strip() in PRESETS):
        roles = {"all-linear": None, "attention": ("attention",), "mlp": ("mlp", "expert")}[preset]
        left = [m for m in spec.linears if m.name in where and m.role != "head" and (roles is None or m.role in roles)
                and not _saved_match(m.path, saved) and (layers is None or peft_layer_index(m.path) in layers)]
        if not left:
            continue
        names = list(dict.fromkeys(m.name for m in left))
        shown = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        text = f"{key} {preset} leaves out {shown}"
        if preset == "all-linear":
            extra = sum(rank_of(m, targets, rank) * (m.in_features + m.out_features)
                        + (m.out_features if targets.use_dora else 0) for m in left)
            text += f", which peft's own all-linear adapts ({extra:,} more LoRA parameters at rank {rank})"
        alike: dict[str, list[str]] = {}
        for n in names:
            alike.setdefault(where[n], []).append(n)
        why = "; ".join(how.format(name=ns[0] if len(ns) == 1 else "each of " + ", ".join(ns[:-1]) + " and " + ns[-1])
                        for how, ns in alike.items())
        notes.append(f"{text}: {spec.model_type}'s {why}")
    return notes


def never_trained(spec: ModelSpec, quantized: bool) -> tuple[str, ...]:
    """The bypassed module names (kernel_bypassed) whose adapter trains on no path of this model: all but those
    a state-space mixer calls as a module somewhere (KERNEL_BYPASSED: on the PyTorch path, or on a quantized base
    when `quantized`); Mamba's dt_proj, and FalconMamba's and Jamba's on an unquantized base."""
    where = KERNEL_BYPASSED.get(spec.model_type, {})
    somewhere = {name for name, how in where.items() if how == _FUSED or (how == _MATMUL_UNQUANTIZED and quantized)}
    return tuple(name for name in kernel_bypassed(spec) if name not in somewhere)


def block_target_names(spec: ModelSpec) -> tuple[str, ...]:
    """The block linears' leaf names the planner's target boxes offer (model order): spec.layer_linear_names less
    those peft refuses on this model and those it reads as raw weights (preset_excluded)."""
    refused = preset_excluded(spec)
    return tuple(name for name in spec.layer_linear_names if name not in refused)


def _check_rank(rank: int, what: str = "rank") -> None:
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise BadInput(f"{what} must be an integer of at least 1, not {rank!r}")


@dataclass(frozen=True)
class ParamTarget:
    """A fused MoE parameter adapted through peft's target_parameters (rank = multiplier × r by default)."""

    tensor: Tensor
    multiplier: int


def _moe_names(spec: ModelSpec) -> dict[str, str]:
    if spec.num_experts and any(t.kind == "experts" for t in spec.tensors):
        return MOE_NAMES.get(spec.moe_style or spec.model_type, {})
    return {}


def peft_unwrappable(spec: ModelSpec) -> tuple[str, ...]:
    """The module paths of this model's layers peft's LoRA cannot wrap (PEFT_UNSUPPORTED_LAYERS: I-BERT's
    QuantLinear modules, ConvBERT's GroupedLinearLayer ones when num_groups > 1), in model order."""
    suffixes = PEFT_UNSUPPORTED_LAYERS.get(spec.model_type, ("", ()))[1]
    owners = (t.path.removesuffix(".weight") for t in spec.tensors if t.path.endswith(".weight") and len(t.shape) >= 2)
    return tuple(p for p in owners if any(_suffix_match(p, s) for s in suffixes))


def _unwrappable_refusal(spec: ModelSpec, targets: LoraTargets, selected: bool) -> None:
    """BadInput when a named target selects a layer peft cannot wrap (peft_unwrappable), as peft refuses it, or when
    the targets select nothing else: one line naming the layers and their class."""
    layers = peft_unwrappable(spec)
    if not layers:
        return
    named = [n.strip() for n in targets.modules if n.strip() not in PRESETS
             and any(_suffix_match(p, n.strip()) for p in layers)]
    if not named and selected:
        return
    kind, suffixes = PEFT_UNSUPPORTED_LAYERS[spec.model_type]
    leaves = ", ".join(s for s in suffixes if any(_suffix_match(p, s) for p in layers))
    what = f"--targets {', '.join(named)}: " if named else ""
    rest = "target its other layers" if spec.layer_linear_names else "so lorplan plans no LoRA on it"
    raise BadInput(f"{what}{spec.id}: peft cannot adapt {spec.architecture or spec.model_type}'s {leaves} layers: "
                   f"they are transformers' {kind} modules, not the torch.nn.Linear peft's LoRA wraps (its all-linear "
                   f"leaves them out and it refuses one named); {rest}")


def _selected(spec: ModelSpec, targets: LoraTargets) -> tuple[list[Linear], list[Tensor], list[ParamTarget]]:
    if not targets.modules:
        raise BadInput("targets: give at least one module name or a preset (all-linear, attention, mlp)")
    _unwrappable_refusal(spec, targets, selected=True)
    emb = _embedding_modules(spec)
    moe = _moe_names(spec)
    refused = peft_refused(spec)
    # peft refuses by the wrapped module's leaf name, so a longer suffix of its path (mixer.out_proj) is refused too
    asked = [n.strip() for n in targets.modules if n.strip().rsplit(".", 1)[-1] in refused]
    if asked:
        raise BadInput(f"--targets: peft does not adapt {', '.join(asked)} of a {spec.model_type} model (it refuses "
                       f"{' and '.join(refused)} of Mamba-based models, whose fused kernels read their weights "
                       "directly); target the others")
    excluded = preset_excluded(spec)  # what the presets leave out; a bypassed name may be named
    linears: dict[str, Linear] = {}
    embeddings: dict[str, Tensor] = {}
    moe_old: set[str] = set()
    unknown = []
    for name in targets.modules:
        name = name.strip()
        hit = False
        if name == "all-linear" and moe:
            moe_old.update(moe)
            hit = True
        elif name == "mlp" and moe:
            moe_old.update(k for k, v in moe.items() if v != "gate.weight")
            hit = True
        elif name in moe:
            moe_old.add(name)
            hit = True
        for m in (*spec.linears, *spec.tied_linears):
            if name == "all-linear":
                ok = m.role != "head" and m.name not in moe and m.name not in excluded
            elif name == "attention":
                ok = m.role == "attention" and m.name not in excluded
            elif name == "mlp":
                ok = m.role in ("mlp", "expert") and m.name not in moe and m.name not in excluded
            else:
                ok = _suffix_match(m.path, name) and name not in moe
            if ok:
                linears.setdefault(m.path, m)
                hit = True
        if name not in PRESETS:
            for path, t in emb.items():
                if _suffix_match(path, name):
                    embeddings.setdefault(path, t)
                    hit = True
        if not hit:
            unknown.append(name)
    if unknown and all(n in PRESETS for n in unknown):  # a preset of I-BERT, or ConvBERT's mlp: why it is empty
        _unwrappable_refusal(spec, targets, selected=False)
    if unknown:
        valid = ", ".join(valid_target_names(spec))
        raise BadInput(f"--targets: {', '.join(map(repr, unknown))} matches no module of {spec.id} (valid: {valid})")
    params = _moe_params(spec, moe, moe_old, targets)
    saved = saved_names(spec, targets)
    keep_l = [m for m in linears.values() if not _saved_match(m.path, saved)]
    keep_e = {p: t for p, t in embeddings.items() if not _saved_match(p, saved)}
    if targets.layers_to_transform is not None:
        layers = set(targets.layers_to_transform)
        keep_l = [m for m in keep_l if peft_layer_index(m.path) in layers]
        keep_e = {p: t for p, t in keep_e.items() if peft_layer_index(p) in layers}
    if not (keep_l or keep_e or params):
        _unwrappable_refusal(spec, targets, selected=False)
    return keep_l, list(keep_e.values()), params


def _moe_params(spec: ModelSpec, moe: dict[str, str], old: set[str], targets: LoraTargets) -> list[ParamTarget]:
    if not old:
        return []
    if targets.use_dora:
        raise BadInput(f"DoRA cannot adapt the fused MoE experts of {spec.id} (peft refuses it); target attention")
    fused: dict[str, list[str]] = {}
    for k, v in moe.items():
        fused.setdefault(v, []).append(k)
    wanted: dict[str, int] = {}
    for new, olds in fused.items():
        present = [o for o in olds if o in old]
        if present and len(present) < len(olds):
            missing = ", ".join(o for o in olds if o not in old)
            raise BadInput(f"--targets: {', '.join(present)} needs {missing} too ({spec.id} fuses them into {new})")
        if present:
            wanted[new.removesuffix(".weight")] = len(olds)
    out = []
    for t in spec.tensors:
        leaf = t.path.removesuffix(".weight").rsplit(".", 1)[-1]
        if t.kind in ("experts", "router") and leaf in wanted:
            out.append(ParamTarget(t, wanted[leaf]))
    return out


def resolve_targets(spec: ModelSpec, targets: LoraTargets) -> tuple[Linear, ...]:
    """The linear modules peft would wrap. Raises BadInput naming any target that matches nothing."""
    return tuple(_selected(spec, targets)[0])


def preset_members(spec: ModelSpec) -> dict[str, tuple[str, ...]]:
    """For each preset (all-linear, attention, mlp), the block module names it adapts on this model, decided by
    resolve_targets: the rule the memory model prices, `lorplan train` and probes adapt, and the planner's
    target boxes tick. A preset that matches nothing on this model (an encoder without "mlp" roles) is empty."""
    out: dict[str, tuple[str, ...]] = {}
    for preset in PRESETS:
        try:
            chosen = {m.name for m in resolve_targets(spec, LoraTargets(modules=(preset,)))}
        except BadInput:
            chosen = set()
        out[preset] = tuple(name for name in spec.layer_linear_names if name in chosen)
    return out


def resolve_embedding_targets(spec: ModelSpec, targets: LoraTargets) -> tuple[Tensor, ...]:
    """Embedding parameters (nn.Embedding weights) that get LoRA adapters (explicit names only)."""
    return tuple(_selected(spec, targets)[1])


def resolve_param_targets(spec: ModelSpec, targets: LoraTargets) -> tuple[ParamTarget, ...]:
    """Fused MoE parameters (experts, router) that get LoRA through peft's target_parameters."""
    return tuple(_selected(spec, targets)[2])


def param_rank(target: ParamTarget, targets: LoraTargets, rank: int) -> int:
    """Rank of a fused MoE parameter: a user rank_pattern key matching its name, else multiplier × rank."""
    r = pattern_value(targets.rank_pattern, target.tensor.path)
    return int(r) if r is not None else target.multiplier * rank


def param_lora_params(target: ParamTarget, r: int) -> int:
    """LoRA parameters on a target parameter: (E, out, in) -> r·E·(in+out); (out, in) -> r·(in+out)."""
    shape = target.tensor.shape
    if len(shape) == 3:
        e, out, inp = shape
        return r * e * (inp + out)
    out, inp = shape
    return r * (inp + out)


PEFT_PREFIX = "base_model.model."  # peft's PeftModel → LoraModel → model wrapping, in module and state-dict names


def model_path(peft_name: str) -> str:
    """A module's path in the base model from its name inside a peft model (or a saved adapter's keys)."""
    return peft_name[len(PEFT_PREFIX):] if peft_name.startswith(PEFT_PREFIX) else peft_name


def pattern_value(pattern: Mapping[str, object], path: str):
    """The value of the first rank_pattern / alpha_pattern key that peft matches against module `path`
    (peft/utils/other.py `get_pattern_key`), or None."""
    for key in pattern:
        if re.match(rf"(.*\.)?({key})$", path):
            return pattern[key]
    return None


def rank_of(module: Linear, targets: LoraTargets, rank: int) -> int:
    """The rank peft gives this module (rank_pattern override or the global rank)."""
    r = pattern_value(targets.rank_pattern, module.path)
    return int(r) if r is not None else rank


def saved_params(spec: ModelSpec, targets: LoraTargets) -> int:
    """Parameters of the modules trained in full (modules_to_save, and the seq-cls head): one trainable copy."""
    names = saved_names(spec, targets)
    if not names:
        return 0
    total = 0
    matched: set[str] = set()
    for m in (*spec.linears, *spec.tied_linears):
        if _saved_match(m.path, names):
            total += m.in_features * m.out_features + (m.out_features if m.bias else 0)
            matched.update(n for n in names if _saved_match(m.path, (n,)))
    for t in spec.tensors:
        module = t.path.rsplit(".", 1)[0]
        if _saved_match(module, names):
            total += t.numel
            matched.update(n for n in names if _saved_match(module, (n,)))
    missing = [n for n in targets.modules_to_save if n not in matched]
    if missing:
        raise BadInput(f"--modules-to-save: {', '.join(map(repr, missing))} matches no module of {spec.id}")
    return total


def adapted(spec: ModelSpec, targets: LoraTargets, rank: int) -> tuple[tuple[Linear, int], ...]:
    """Each adapted linear module with the rank it gets."""
    _check_rank(rank)
    out = []
    for m in resolve_targets(spec, targets):
        r = rank_of(m, targets, rank)
        _check_rank(r, f"rank_pattern for {m.path}")
        out.append((m, r))
    return tuple(out)


def trainable_params(spec: ModelSpec, targets: LoraTargets, rank: int) -> int:
    """Exactly what peft's get_nb_trainable_parameters reports as trainable for this rank and targets.

    r·(in+out) per adapted module (with rank_pattern overrides), + out_features per module for DoRA,
    + the parameters of modules_to_save (and a task head for sequence classification). Raises BadInput for
    rank < 1. Embedding targets: r·(num_embeddings + embedding_dim) (lora_embedding_A/B), + embedding_dim
    for DoRA.
    """
    _check_rank(rank)
    linears, embeddings, params = _selected(spec, targets)
    total = 0
    for pt in params:
        total += param_lora_params(pt, param_rank(pt, targets, rank))
    for m in linears:
        r = rank_of(m, targets, rank)
        _check_rank(r, f"rank_pattern for {m.path}")
        total += r * (m.in_features + m.out_features)
        if targets.use_dora:
            total += m.out_features
    for t in embeddings:
        r = pattern_value(targets.rank_pattern, t.path.removesuffix(".weight"))
        r = int(r) if r is not None else rank
        num, dim = t.shape
        total += r * (num + dim)
        if targets.use_dora:
            total += dim
    return total + saved_params(spec, targets)


def peft_all_linear_fits(spec: ModelSpec, targets: LoraTargets) -> bool:
    """Whether peft's "all-linear" selects what lorplan adapts under the all-linear preset on this model, so that a
    plan and an adapter config may say "all-linear": not on a model where it selects a module the presets leave out
    (preset_excluded: a Mamba-based model's out_proj), nor where it adapts a linear that peft then trains in full.
    peft's "all-linear" leaves out only the output head itself (the module named classifier or score), while
    modules_to_save wraps every module whose name ends with a saved name (peft.utils.other._set_trainable:
    key.endswith), and refuses a linear it already adapted: DistilBERT's pre_classifier, under a sequence
    classifier's "classifier" (TypeError at get_peft_model)."""
    excluded = preset_excluded(spec)
    saved = saved_names(spec, targets)
    wrapped = any(m.path not in saved and any(m.path.endswith(n) for n in saved) for m in spec.linears)
    return not wrapped and not any(m.name in excluded for m in spec.linears)


def peft_target_modules(spec: ModelSpec, targets: LoraTargets) -> str | list[str]:
    """target_modules for a peft LoraConfig that selects exactly `resolve_targets` (+ embedding targets).

    "all-linear" when that is what was asked (without layers_to_transform, which peft rejects with a string) and
    peft's "all-linear" selects the same modules (peft_all_linear_fits);
    else leaf names when suffix matching them selects exactly the same modules; else full module names.
    """
    linears, embeddings, params = _selected(spec, targets)
    if tuple(targets.modules) == ("all-linear",) and targets.layers_to_transform is None and \
            peft_all_linear_fits(spec, targets):
        return "all-linear"
    saved = saved_names(spec, targets)
    chosen = {m.path for m in linears} | {t.path.removesuffix(".weight") for t in embeddings}
    leaves = sorted({p.rsplit(".", 1)[-1] for p in chosen})
    everything = [m.path for m in (*spec.linears, *spec.tied_linears)] + list(_embedding_modules(spec))
    # peft matches a name against every module, blocks and lists too, and refuses one it cannot adapt: Gemma 3n's
    # altup_projections.0 is named "0", as is model.layers.0, so a container a leaf name matches rules leaves out
    paths = [*everything, *(t.path for t in spec.tensors)]
    everything += sorted({p.rsplit(".", k)[0] for p in paths for k in range(1, p.count(".") + 1)} - set(everything))
    layers = set(targets.layers_to_transform) if targets.layers_to_transform is not None else None
    by_leaf = {
        p
        for p in everything
        if any(_suffix_match(p, n) for n in leaves)
        and not _saved_match(p, saved)
        and (layers is None or peft_layer_index(p) in layers)
    }
    moe = _moe_names(spec)
    moe_leaves = sorted({k for k, v in moe.items() if any(p.tensor.path.endswith(v) for p in params)})
    if by_leaf == chosen:
        return leaves + moe_leaves
    return sorted(chosen) + moe_leaves


def trainable_tensors(spec: ModelSpec, targets: LoraTargets, rank: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Every trainable tensor peft creates, as (parameter name in the base model's terms, shape).

    Linear / Conv1D: lora_A (r, in), lora_B (out, r), DoRA lora_magnitude_vector (out,). Embedding:
    lora_embedding_A (r, num), lora_embedding_B (dim, r). Fused experts (E, out, in): lora_A (r·E, in),
    lora_B (out, r·E); router (E, hidden): lora_A (r, hidden), lora_B (E, r). modules_to_save: a full copy of
    each parameter. The sum of their sizes is trainable_params(); per-tensor shapes matter to optimizers whose
    state depends on tensor size (8-bit AdamW keeps small tensors in 32 bits).
    """
    _check_rank(rank)
    linears, embeddings, params = _selected(spec, targets)
    out: list[tuple[str, tuple[int, ...]]] = []
    for m in linears:
        r = rank_of(m, targets, rank)
        _check_rank(r, f"rank_pattern for {m.path}")
        out += [(f"{m.path}.lora_A", (r, m.in_features)), (f"{m.path}.lora_B", (m.out_features, r))]
        if targets.use_dora:
            out.append((f"{m.path}.lora_magnitude_vector", (m.out_features,)))
    for t in embeddings:
        module = t.path.removesuffix(".weight")
        rp = pattern_value(targets.rank_pattern, module)
        r = int(rp) if rp is not None else rank
        num, dim = t.shape
        out += [(f"{module}.lora_embedding_A", (r, num)), (f"{module}.lora_embedding_B", (dim, r))]
        if targets.use_dora:
            out.append((f"{module}.lora_magnitude_vector", (dim,)))
    for pt in params:
        r = param_rank(pt, targets, rank)
        shape = pt.tensor.shape
        e, (o, i) = (shape[0], shape[1:]) if len(shape) == 3 else (1, shape)
        out += [(f"{pt.tensor.path}.lora_A", (r * e, i)), (f"{pt.tensor.path}.lora_B", (o, r * e))]
    names = saved_names(spec, targets)
    if names:
        for m in (*spec.linears, *spec.tied_linears):
            if _saved_match(m.path, names):
                out.append((f"{m.path}.weight", (m.out_features, m.in_features)))
                if m.bias:
                    out.append((f"{m.path}.bias", (m.out_features,)))
        for t in spec.tensors:
            if _saved_match(t.path.rsplit(".", 1)[0], names):
                out.append((t.path, t.shape))
    return tuple(out)
