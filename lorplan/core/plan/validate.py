"""Validation of a plan document (the dict tomllib returns) into a `Plan`, collecting every problem at once.

Each problem is one line "FILE: dotted.key: what is wrong"; all of them are raised together in one BadInput
(whose `.problems` holds the lines), so a user fixes a hand-edited plan in one pass.
Rules: unknown tables and keys, wrong types, missing required keys, and impossible values (r < 1, dropout
outside [0, 1), learning rate ≤ 0, sharding over 0 GPUs, 4-bit and 8-bit together, epochs and max_steps
both or neither, an estimate whose components do not add up or that was planned for another rank, ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import fields
from types import MappingProxyType
from typing import Any

from lorplan.core.errors import BadInput
from lorplan.core.plan import schema as ps

_KIND_NAMES = {
    "str": "a string",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "number": "a number",
    "str_list": "a list of strings",
    "int_list": "a list of integers",
    "str_int_map": "a table of integers",
    "str_num_map": "a table of numbers",
    "int_map": "a table of integers",
    "bool_or_str": "true, false or a method name",
}

# section -> {key: (kind, required)}
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "model": {
        "id": ("str", False),
        "path": ("str", False),
        "revision": ("str", False),
        "trust_remote_code": ("bool", False),
        "task": ("str", False),
        "num_labels": ("int", False),
    },
    "quantization": {
        "load_in_4bit": ("bool", False),
        "load_in_8bit": ("bool", False),
        "bnb_4bit_quant_type": ("str", False),
        "bnb_4bit_use_double_quant": ("bool", False),
        "bnb_4bit_compute_dtype": ("str", False),
    },
    "lora": {
        "r": ("int", True),
        "alpha": ("number", True),
        "dropout": ("float", False),
        "target_modules": ("str_list", True),
        "layers_to_transform": ("int_list", False),
        "rank_pattern": ("str_int_map", False),
        "alpha_pattern": ("str_num_map", False),
        "use_rslora": ("bool", False),
        "use_dora": ("bool", False),
        "init_lora_weights": ("bool_or_str", False),
        "modules_to_save": ("str_list", False),
        "bias": ("str", False),
    },
    "training": {
        "learning_rate": ("float", True),
        "lr_scheduler": ("str", False),
        "warmup_ratio": ("float", False),
        "micro_batch": ("int", True),
        "gradient_accumulation": ("int", False),
        "epochs": ("float", False),
        "max_steps": ("int", False),
        "seq_len": ("int", True),
        "packing": ("bool", False),
        "gradient_checkpointing": ("bool", False),
        "optimizer": ("str", False),
        "precision": ("str", False),
        "attention": ("str", False),
        "seed": ("int", False),
        "weight_decay": ("float", False),
        "output_dir": ("str", False),
        "save_steps": ("int", False),
        "logging_steps": ("int", False),
    },
    "data": {
        "path": ("str", True),
        "schema": ("str", False),
        "eval_split": ("float", False),
        "train_on": ("str", False),
    },
    "hardware": {
        "gpus": ("int", False),
        "sharding": ("str", False),
    },
    "estimate": {
        "rank": ("int", True),
        "trainable_params": ("int", True),
        **{f"{c}_bytes": ("int", True) for c in ps.COMPONENTS},
        "total_bytes": ("int", True),
        "budget_bytes": ("int", False),
        "fits": ("bool", False),
        "lorplan_version": ("str", False),
        "details": ("int_map", False),
        "adapter_dtype": ("str", False),
        "autocast": ("bool", False),
        "prepare_kbit": ("bool", False),
        "kernels": ("str", False),
        "foreach": ("bool", False),
        "reserve_fraction": ("float", False),
        "cuda_context_bytes": ("int", False),
        "padding_mask": ("bool", False),
    },
}
# one-of choices: (section, key) -> allowed values
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("model", "task"): ps.TASKS,
    ("quantization", "bnb_4bit_quant_type"): ps.QUANT_TYPES,
    ("quantization", "bnb_4bit_compute_dtype"): ps.COMPUTE_DTYPES,
    ("lora", "bias"): ps.BIASES,
    ("training", "lr_scheduler"): ps.SCHEDULERS,
    ("training", "optimizer"): ps.OPTIMIZERS,
    ("training", "precision"): ps.PRECISIONS,
    ("training", "attention"): ps.ATTENTIONS,
    ("data", "schema"): ps.DATA_SCHEMAS,
    ("data", "train_on"): ps.TRAIN_ON,
    ("hardware", "sharding"): ps.SHARDINGS,
    ("estimate", "adapter_dtype"): ps.PRECISIONS,
    ("estimate", "kernels"): ps.KERNELS,
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and not (isinstance(v, float) and not math.isfinite(v))


def _convert(kind: str, v: Any) -> tuple[bool, Any]:
    """(ok, converted value) for one TOML value of the given kind."""
    if kind == "str":
        return isinstance(v, str), v
    if kind == "bool":
        return isinstance(v, bool), v
    if kind == "int":
        return _is_int(v), v
    if kind == "float":
        return _is_num(v), float(v) if _is_num(v) else v
    if kind == "number":
        return _is_num(v), v
    if kind == "str_list":
        ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
        return ok, tuple(v) if ok else v
    if kind == "int_list":
        ok = isinstance(v, list) and all(_is_int(x) for x in v)
        return ok, tuple(v) if ok else v
    if kind in ("str_int_map", "int_map"):
        ok = isinstance(v, dict) and all(_is_int(x) for x in v.values())
        return ok, MappingProxyType(dict(v)) if ok else v
    if kind == "str_num_map":
        ok = isinstance(v, dict) and all(_is_num(x) for x in v.values())
        return ok, MappingProxyType(dict(v)) if ok else v
    if kind == "bool_or_str":
        return isinstance(v, (bool, str)), v
    raise AssertionError(kind)


def _type_name(v: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(v), type(v).__name__)


class _Problems:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: list[str] = []

    def add(self, key: str, what: str) -> None:
        self.lines.append(f"{self.file}: {key}: {what}")


def _values_check(p: _Problems, sec: dict[str, dict[str, Any]]) -> None:
    """Impossible values and cross-field rules, on values that already have the right type."""

    def rule(section: str, key: str, bad: Callable[[Any], bool], what: str) -> None:
        values = sec.get(section, {})
        if key in values and bad(values[key]):
            p.add(f"{section}.{key}", what)

    for (section, key), allowed in CHOICES.items():
        rule(section, key, lambda v, a=allowed: v not in a, f"must be one of {', '.join(allowed)}")

    m = sec.get("model", {})
    if "model" in sec and ("id" in m) == ("path" in m):
        p.add("model", "give exactly one of id (hub or catalog id) or path (local folder)")
    rule("model", "id", lambda v: not v.strip(), "must not be empty")
    rule("model", "path", lambda v: not v.strip(), "must not be empty")
    rule("model", "num_labels", lambda v: v < 2, f"must be at least 2 (got {m.get('num_labels')})")
    if "num_labels" in m and m.get("task", "causal-lm") != "sequence-classification":
        p.add("model.num_labels", "only applies to task = \"sequence-classification\"")

    q = sec.get("quantization", {})
    if q.get("load_in_4bit") is True and q.get("load_in_8bit") is True:
        p.add("quantization", "load_in_4bit and load_in_8bit cannot both be true")

    lo = sec.get("lora", {})
    rule("lora", "r", lambda v: v < 1, f"rank must be at least 1 (got {lo.get('r')})")
    rule("lora", "alpha", lambda v: v <= 0, f"must be positive (got {lo.get('alpha')})")
    rule("lora", "dropout", lambda v: not 0.0 <= v < 1.0, f"must be in [0, 1) (got {lo.get('dropout')})")
    tm = lo.get("target_modules")
    if isinstance(tm, tuple):
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
    rule("lora", "layers_to_transform", lambda v: any(x < 0 for x in v), "layer indices must be ≥ 0")
    if lo.get("layers_to_transform") and isinstance(tm, tuple) and "all-linear" in tm:
        p.add("lora.layers_to_transform", "needs explicit target_modules (peft refuses it with \"all-linear\")")
    rule("lora", "rank_pattern", lambda v: any(x < 1 for x in v.values()), "every rank must be at least 1")
    rule("lora", "alpha_pattern", lambda v: any(x <= 0 for x in v.values()), "every alpha must be positive")
    for key in ("rank_pattern", "alpha_pattern"):
        for pattern in lo.get(key, {}) if isinstance(lo.get(key), MappingProxyType) else ():
            try:
                re.compile(pattern)
            except re.error as exc:
                p.add(f"lora.{key}", f"{pattern!r} is not a valid regular expression ({exc})")
    init = lo.get("init_lora_weights")
    if isinstance(init, str) and init not in ps.INIT_METHODS and not re.fullmatch(r"pissa_niter_\d+", init):
        p.add("lora.init_lora_weights", f"must be true, false or one of {', '.join(ps.INIT_METHODS)}")

    t = sec.get("training", {})
    rule("training", "learning_rate", lambda v: v <= 0, f"must be positive (got {t.get('learning_rate')})")
    rule("training", "warmup_ratio", lambda v: not 0.0 <= v < 1.0, "must be in [0, 1)")
    for key in ("micro_batch", "gradient_accumulation", "seq_len", "max_steps", "save_steps", "logging_steps"):
        rule("training", key, lambda v: v < 1, f"must be at least 1 (got {t.get(key)})")
    rule("training", "epochs", lambda v: v <= 0, f"must be positive (got {t.get('epochs')})")
    rule("training", "seed", lambda v: v < 0, "must be ≥ 0")
    rule("training", "weight_decay", lambda v: v < 0, "must be ≥ 0")
    rule("training", "output_dir", lambda v: not v.strip(), "must not be empty")
    if "training" in sec and ("epochs" in t) == ("max_steps" in t):
        p.add("training", "give exactly one of epochs or max_steps")

    d = sec.get("data", {})
    rule("data", "path", lambda v: not v.strip(), "must not be empty")
    rule("data", "eval_split", lambda v: not 0.0 <= v < 1.0, f"must be in [0, 1) (got {d.get('eval_split')})")

    h = sec.get("hardware", {})
    rule("hardware", "gpus", lambda v: v < 0, f"must be ≥ 0 (0 = CPU; got {h.get('gpus')})")
    if h.get("gpus") == 0 and h.get("sharding", "none") not in ("none",) and "sharding" in h:
        p.add("hardware.sharding", f"{h['sharding']} needs GPUs, but hardware.gpus is 0")

    e = sec.get("estimate", {})
    for key in FIELDS["estimate"]:
        if key.endswith("_bytes") and key != "cuda_context_bytes" or key in ("rank", "trainable_params"):
            rule("estimate", key, lambda v: v < 0, "must be ≥ 0")
    rule("estimate", "details", lambda v: any(x < 0 for x in v.values()), "every figure must be ≥ 0")
    rule("estimate", "reserve_fraction", lambda v: v < 0, "must be ≥ 0")
    rule("estimate", "cuda_context_bytes", lambda v: v < 0, "must be ≥ 0")
    parts = [e.get(f"{c}_bytes") for c in ps.COMPONENTS]
    if all(_is_int(x) for x in parts) and _is_int(e.get("total_bytes")) and sum(parts) != e["total_bytes"]:
        p.add("estimate.total_bytes", f"is {e['total_bytes']} but the components add up to {sum(parts)}")
    if _is_int(e.get("rank")) and _is_int(lo.get("r")) and e["rank"] != lo["r"]:
        p.add("estimate.rank", f"is {e['rank']} but lora.r is {lo['r']}: the estimate was planned for another rank")


def plan_from_dict(doc: dict[str, Any], file: str = "plan") -> ps.Plan:
    """Validate a parsed TOML document and build the Plan; raise one BadInput listing every problem."""
    p = _Problems(file)
    version = doc.get("version")
    if "version" not in doc:
        p.add("version", f"missing (this lorplan writes version = {ps.PLAN_VERSION})")
    elif not _is_int(version):
        p.add("version", f"must be an integer, not {_type_name(version)}")
    elif version > ps.PLAN_VERSION:
        p.add("version", f"{version} was written by a newer lorplan (this one reads up to {ps.PLAN_VERSION})")
    elif version < 1:
        p.add("version", f"{version} is not a plan version (must be ≥ 1)")

    sec: dict[str, dict[str, Any]] = {}
    for name, value in doc.items():
        if name == "version":
            continue
        if name not in FIELDS:
            p.add(name, f"unknown table (expected {', '.join(FIELDS)})")
        elif not isinstance(value, dict):
            p.add(name, f"must be a table, not {_type_name(value)}")
        else:
            sec[name] = {}
            for key, v in value.items():
                if key not in FIELDS[name]:
                    p.add(f"{name}.{key}", "unknown key")
                    continue
                kind, _ = FIELDS[name][key]
                ok, converted = _convert(kind, v)
                if ok:
                    sec[name][key] = converted
                else:
                    p.add(f"{name}.{key}", f"must be {_KIND_NAMES[kind]}, not {_type_name(v)}")
            for key, (_, required) in FIELDS[name].items():
                if required and key not in value:
                    p.add(f"{name}.{key}", "missing (required)")
    for name in ps.REQUIRED_SECTIONS:
        if name not in doc:
            p.add(name, "missing table (required)")

    _values_check(p, sec)
    if p.lines:
        err = BadInput("\n".join(p.lines))
        err.problems = list(p.lines)  # type: ignore[attr-defined]
        raise err

    built = {name: ps.SECTIONS[name](**values) for name, values in sec.items()}
    if "epochs" not in sec["training"] and "max_steps" in sec["training"]:
        built["training"] = ps.TrainingSection(**{**sec["training"], "epochs": None})
    return ps.Plan(version=version, **built)


def known_keys(section: str) -> tuple[str, ...]:
    """The keys a table may hold (for editors and tests)."""
    return tuple(f.name for f in fields(ps.SECTIONS[section]))
