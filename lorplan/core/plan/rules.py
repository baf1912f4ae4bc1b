"""The value rules of a plan: one-of choices (lorplan.core.vocab's spellings), ranges and cross-field rules.

They run on a plan document whose values already have the right type (validate.py checks types and keys
first); each problem goes to `p.add(dotted key, what is wrong)`, in the order of CHECKS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import MappingProxyType
from typing import Any, Protocol

from lorplan.core.limits import (
    MAX_CUDA_CONTEXT_BYTES,
    MAX_EPOCHS,
    MAX_GPUS,
    MAX_GRADIENT_ACCUMULATION,
    MAX_LEARNING_RATE,
    MAX_MICRO_BATCH,
    MAX_NUM_LABELS,
    MAX_RANK,
    MAX_SEED,
    MAX_SEQ_LEN,
    MAX_STEPS,
)
from lorplan.core.plan import schema as ps
from lorplan.core.units import LONGEST_ECHO, echoed
from lorplan.core.vocab import (
    FOUR_BIT_QUANTS,
    TORCH_DTYPE,
    Attention,
    DataSchema,
    DType,
    Kernels,
    LoraBias,
    LoraInit,
    LossKernel,
    Optimizer,
    Scheduler,
    Sharding,
    Task,
    TrainOn,
    spellings,
)

# one-of choices: (section, key) -> allowed values, the spellings of lorplan.core.vocab
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("model", "task"): Task.values(),
    ("quantization", "bnb_4bit_quant_type"): spellings(FOUR_BIT_QUANTS),
    ("quantization", "bnb_4bit_compute_dtype"): tuple(TORCH_DTYPE.values()),
    ("lora", "bias"): LoraBias.values(),
    ("training", "lr_scheduler"): Scheduler.values(),
    ("training", "optimizer"): Optimizer.values(),
    ("training", "precision"): DType.values(),
    ("training", "attention"): Attention.values(),
    ("data", "schema"): DataSchema.values(),
    ("data", "train_on"): TrainOn.values(),
    ("hardware", "sharding"): Sharding.values(),
    ("estimate", "adapter_dtype"): DType.values(),
    ("estimate", "kernels"): Kernels.values(),
    ("estimate", "loss"): LossKernel.values(),
}


class Problems(Protocol):
    def add(self, key: str, what: str) -> None: ...

    def refused(self, *keys: str) -> bool: ...


Sections = dict[str, dict[str, Any]]
Check = Callable[[Problems, Sections], None]


def is_int(v: Any) -> bool:
    """An integer that is not a bool (TOML's true is not 1)."""
    return isinstance(v, int) and not isinstance(v, bool)


def shown(v: Any) -> str:
    """A plan's number (or name) in a problem's line, echoed as units.echoed echoes what was typed: whole up to
    LONGEST_ECHO characters, a longer one short ("9999999999… (4,000 digits)"), never the 4,000 digits TOML reads
    whole; a string quoted ('xxxxxxxxxx…xxxxxxxxxx' (5,000 characters))."""
    return echoed(v, quoted=True) if isinstance(v, str) else echoed(str(v))


def _rule(section: str, key: str, bad: Callable[[Any], bool], what: str) -> Check:
    """A check of one value: when `bad(value)`, the problem `what` ("{v}" in it is replaced by the value, a long
    one short: shown)."""

    def check(p: Problems, sec: Sections) -> None:
        values = sec.get(section, {})
        if key in values and bad(values[key]):
            p.add(f"{section}.{key}", what.replace("{v}", shown(values[key])))

    return check


def _blank(v: str) -> bool:
    return not v.strip()


def _negative(v) -> bool:
    return v < 0


def _below_one(v) -> bool:
    return v < 1


def _not_positive(v) -> bool:
    return v <= 0


def _not_a_fraction(v) -> bool:
    return not 0.0 <= v < 1.0


def _given(p: Problems, sec: Sections, section: str, key: str) -> bool:
    """Whether the plan gives section.key: a value that passed its type check, or one refused there (which is
    left out of `sec`, but was written all the same)."""
    return key in sec.get(section, {}) or p.refused(f"{section}.{key}")


def _not_exactly_one(p: Problems, sec: Sections, section: str, a: str, b: str) -> bool:
    """Whether `section` gives both of a and b, or neither. A refused value counts as given: "epochs = nan"
    alone is no missing length (its own line says what is wrong), and "epochs = 0" beside max_steps is still two."""
    return section in sec and _given(p, sec, section, a) == _given(p, sec, section, b)


def _one_source(p: Problems, sec: Sections) -> None:
    if _not_exactly_one(p, sec, "model", "id", "path"):
        p.add("model", "give exactly one of id (hub or catalog id) or path (local folder)")


def _num_labels_need_classification(p: Problems, sec: Sections) -> None:
    m = sec.get("model", {})
    if ("num_labels" in m and m.get("task", Task.CAUSAL_LM) != Task.SEQUENCE_CLASSIFICATION
            and not p.refused("model.task")):
        p.add("model.num_labels", "only applies to task = \"sequence-classification\"")


def _causal_lm_only(p: Problems, sec: Sections) -> None:
    """A sequence classifier's plan refuses the settings that only a causal LM trains by, each named: lorplan
    train would ignore them, so a plan that sets them promises what it does not do. The values lorplan wrote into
    every classifier plan before (train_on "completion", packing false, loss "standard") stay accepted."""
    if sec.get("model", {}).get("task") != Task.SEQUENCE_CLASSIFICATION:
        return
    why = "a sequence classifier trains one label per example"
    if sec.get("data", {}).get("train_on") == TrainOn.ALL:
        p.add("data.train_on", f"\"all\" only applies to task = \"causal-lm\": {why}, there are no prompt tokens "
              "to train (remove the key)")
    if sec.get("training", {}).get("packing") is True:
        p.add("training.packing", f"only applies to task = \"causal-lm\": {why}, not blocks of packed tokens "
              "(set it to false)")
    loss = sec.get("estimate", {}).get("loss")
    if loss is not None and loss != LossKernel.STANDARD:
        p.add("estimate.loss", f"{loss} only applies to task = \"causal-lm\": it fuses the output head's loss over "
              f"the vocabulary, and a sequence classifier's loss is over its num_labels classes (write \"standard\")")


def _one_bit_width(p: Problems, sec: Sections) -> None:
    q = sec.get("quantization", {})
    if q.get("load_in_4bit") is True and q.get("load_in_8bit") is True:
        p.add("quantization", "load_in_4bit and load_in_8bit cannot both be true")


def _target_names(p: Problems, sec: Sections) -> None:
    tm = sec.get("lora", {}).get("target_modules")
    if not isinstance(tm, tuple):
        return
    if not tm or any(not t.strip() for t in tm):
        p.add("lora.target_modules", "give at least one module name (or \"all-linear\"); no empty names")
    elif "all-linear" in tm and len(tm) > 1:
        p.add("lora.target_modules", "\"all-linear\" cannot be combined with other names")
    for preset in ("attention", "mlp"):
        if preset in tm:
            p.add(
                "lora.target_modules",
                f"\"{preset}\" is a lorplan preset, not a module name; write the module names "
                "(`lorplan plan --write` does this for you)",
            )


def _layers_need_explicit_targets(p: Problems, sec: Sections) -> None:
    lo = sec.get("lora", {})
    tm = lo.get("target_modules")
    if lo.get("layers_to_transform") and isinstance(tm, tuple) and "all-linear" in tm:
        p.add("lora.layers_to_transform", "needs explicit target_modules (peft refuses it with \"all-linear\")")


def _quoted(name: str) -> str:
    """A key or pattern of the plan, quoted as Python writes it (repr: ' x' keeps its space), a long one short
    (shown)."""
    return repr(name) if len(name) <= LONGEST_ECHO else shown(name)


def _pattern_regexes(p: Problems, sec: Sections) -> None:
    lo = sec.get("lora", {})
    for key in ("rank_pattern", "alpha_pattern"):
        for pattern in lo.get(key, {}) if isinstance(lo.get(key), MappingProxyType) else ():
            try:
                re.compile(pattern)
            except re.error as exc:
                p.add(f"lora.{key}", f"{_quoted(pattern)} is not a valid regular expression ({exc})")


def _pattern_values(p: Problems, sec: Sections) -> None:
    """Each rank_pattern rank at least 1 and at most MAX_RANK (as lora.r), and each alpha_pattern alpha positive,
    the key named."""
    lo = sec.get("lora", {})
    for key, bad, what in (("rank_pattern", lambda v: v < 1, "a rank must be at least 1"),
                           ("rank_pattern", lambda v: v > MAX_RANK, f"a rank must be at most {MAX_RANK:,}"),
                           ("alpha_pattern", lambda v: v <= 0, "an alpha must be positive")):
        pattern = lo.get(key)
        for name, value in pattern.items() if isinstance(pattern, MappingProxyType) else ():
            if bad(value):
                p.add(f"lora.{key}", f"{_quoted(name)} = {shown(value)}: {what}")


def _init_method(p: Problems, sec: Sections) -> None:
    init = sec.get("lora", {}).get("init_lora_weights")
    if isinstance(init, str) and init not in LoraInit.values() and not re.fullmatch(r"pissa_niter_\d+", init):
        p.add("lora.init_lora_weights", f"must be true, false or one of {', '.join(LoraInit.values())}")


def _epochs_or_steps(p: Problems, sec: Sections) -> None:
    if _not_exactly_one(p, sec, "training", "epochs", "max_steps"):
        p.add("training", "give exactly one of epochs or max_steps")


def _prepare_kbit_once(p: Problems, sec: Sections) -> None:
    """quantization.prepare_kbit and an older plan's estimate.prepare_kbit (its place before) may both be given,
    but not disagree: the plan would say two things about how lorplan train treats the quantized base."""
    q, e = sec.get("quantization", {}).get("prepare_kbit"), sec.get("estimate", {}).get("prepare_kbit")
    if q is not None and e is not None and q != e:
        p.add("quantization.prepare_kbit", f"is {str(q).lower()} but estimate.prepare_kbit (where older plans "
              f"kept it) is {str(e).lower()}: keep one, quantization.prepare_kbit")


def _sharding_needs_gpus(p: Problems, sec: Sections) -> None:
    h = sec.get("hardware", {})
    if h.get("gpus") == 0 and "sharding" in h and h["sharding"] != Sharding.NONE and not p.refused("hardware.sharding"):
        p.add("hardware.sharding", f"{h['sharding']} needs GPUs, but hardware.gpus is 0")


def _estimate_adds_up(p: Problems, sec: Sections) -> None:
    """The estimate's total is its components' sum, and it was planned for lora.r; neither is said where one of
    the figures was refused already (a negative one, a rank out of range)."""
    e, lo = sec.get("estimate", {}), sec.get("lora", {})
    parts = [e.get(f"{c}_bytes") for c in ps.COMPONENTS]
    if (all(is_int(x) for x in parts) and is_int(e.get("total_bytes")) and sum(parts) != e["total_bytes"]
            and not p.refused("estimate.total_bytes", *(f"estimate.{c}_bytes" for c in ps.COMPONENTS))):
        p.add("estimate.total_bytes", f"is {shown(e['total_bytes'])} but the components add up to "
              f"{shown(sum(parts))}")
    if (is_int(e.get("rank")) and is_int(lo.get("r")) and e["rank"] != lo["r"]
            and not p.refused("estimate.rank", "lora.r")):
        p.add("estimate.rank", f"is {e['rank']} but lora.r is {lo['r']}: the estimate was planned for another rank")


def _cuda_context_bound(p: Problems, s: Sections) -> None:
    from lorplan.core.units import format_bytes

    v = s.get("estimate", {}).get("cuda_context_bytes")
    if isinstance(v, int) and not isinstance(v, bool) and v > MAX_CUDA_CONTEXT_BYTES:
        # format_bytes divides as a float: a count of 4,000 digits is echoed as typed (it was an OverflowError)
        got = format_bytes(v) if v < 2**64 else f"{shown(v)} bytes"
        p.add("estimate.cuda_context_bytes", f"must be at most {MAX_CUDA_CONTEXT_BYTES:,} "
              f"({format_bytes(MAX_CUDA_CONTEXT_BYTES, 0)}; got {got})")


_ESTIMATE_COUNTS = ("rank", "trainable_params", *(f"{c}_bytes" for c in ps.COMPONENTS), "total_bytes", "budget_bytes")

# Impossible values and cross-field rules, run in this order on values that already have the right type (the
# problems are listed in this order).
CHECKS: tuple[Check, ...] = (
    *(_rule(section, key, lambda v, a=allowed: v not in a, f"must be one of {', '.join(allowed)}")
      for (section, key), allowed in CHOICES.items()),
    _one_source,
    _rule("model", "id", _blank, "must not be empty"),
    _rule("model", "path", _blank, "must not be empty"),
    _rule("model", "num_labels", lambda v: v < 2, "must be at least 2 (got {v})"),
    # lorplan recommend --num-labels's bound: beyond it the head is a typo (lorplan.core.limits)
    _rule("model", "num_labels", lambda v: v > MAX_NUM_LABELS, f"must be at most {MAX_NUM_LABELS:,} (got {{v}})"),
    # the bounds of lorplan plan --rope-scaling (core.memory.types.MAX_ROPE_SCALING)
    _rule("model", "rope_scaling", lambda v: not 1.0 < v <= 64.0, "must be a factor above 1 and at most 64 (got {v})"),
    _num_labels_need_classification,
    _causal_lm_only,
    _one_bit_width,
    _prepare_kbit_once,
    _rule("lora", "r", _below_one, "rank must be at least 1 (got {v})"),
    # lorplan.core.limits: no model lorplan plans has a module that wide (the model's own bound is the planner's)
    _rule("lora", "r", lambda v: v > MAX_RANK, f"rank must be at most {MAX_RANK:,} (got {{v}})"),
    _rule("lora", "alpha", _not_positive, "must be positive (got {v})"),
    _rule("lora", "dropout", _not_a_fraction, "must be in [0, 1) (got {v})"),
    _target_names,
    _rule("lora", "layers_to_transform", lambda v: any(x < 0 for x in v), "layer indices must be ≥ 0"),
    _layers_need_explicit_targets,
    _pattern_values,
    _pattern_regexes,
    _init_method,
    _rule("training", "learning_rate", _not_positive, "must be positive (got {v})"),
    _rule("training", "learning_rate", lambda v: v > MAX_LEARNING_RATE,
          f"must be at most {MAX_LEARNING_RATE:,} (got {{v}})"),
    _rule("training", "warmup_ratio", _not_a_fraction, "must be in [0, 1)"),
    *(_rule("training", key, _below_one, "must be at least 1 (got {v})")
      for key in ("micro_batch", "gradient_accumulation", "seq_len", "max_steps", "save_steps", "logging_steps")),
    # lorplan plan's bounds (lorplan.core.limits): beyond them the value is a typo, and TrainingSetup would refuse
    # it naming the flag (--micro-batch), not the plan's key
    *(_rule(section, key, lambda v, top=top: v > top, f"must be at most {top:,} (got {{v}})")
      for section, key, top in (("training", "micro_batch", MAX_MICRO_BATCH), ("training", "seq_len", MAX_SEQ_LEN),
                                ("hardware", "gpus", MAX_GPUS),
                                ("training", "gradient_accumulation", MAX_GRADIENT_ACCUMULATION),
                                *(("training", key, MAX_STEPS) for key in ("max_steps", "save_steps", "logging_steps")))),
    _rule("training", "epochs", _not_positive, "must be positive (got {v})"),
    _rule("training", "epochs", lambda v: v > MAX_EPOCHS, f"must be at most {MAX_EPOCHS:,} (got {{v}})"),
    _rule("training", "seed", _negative, "must be ≥ 0"),
    _rule("training", "seed", lambda v: v > MAX_SEED, f"must be at most {MAX_SEED:,} (got {{v}})"),
    _rule("training", "weight_decay", _negative, "must be ≥ 0"),
    _rule("training", "output_dir", _blank, "must not be empty"),
    _epochs_or_steps,
    _rule("data", "path", _blank, "must not be empty"),
    _rule("data", "eval_split", _not_a_fraction, "must be in [0, 1) (got {v})"),
    _rule("hardware", "gpus", _negative, "must be ≥ 0 (0 = CPU; got {v})"),
    _sharding_needs_gpus,
    *(_rule("estimate", key, _negative, "must be ≥ 0") for key in _ESTIMATE_COUNTS),
    _rule("estimate", "rank", lambda v: v > MAX_RANK, f"must be at most {MAX_RANK:,} (got {{v}})"),
    _rule("estimate", "details", lambda v: any(x < 0 for x in v.values()), "every figure must be ≥ 0"),
    _rule("estimate", "reserve_fraction", _negative, "must be ≥ 0"),
    _rule("estimate", "cuda_context_bytes", _negative, "must be ≥ 0"),
    # lorplan plan --cuda-context's bound, named here by the plan's key (TrainingSetup names the flag)
    _cuda_context_bound,
    _estimate_adds_up,
)
