"""Validation of a plan document (the dict tomllib returns) into a `Plan`, collecting every problem at once.

Each problem is one line "FILE: dotted.key: what is wrong"; all of them are raised together in one BadInput
(whose `.problems` holds the lines), so a user fixes a hand-edited plan in one pass.
Here: unknown tables and keys, wrong types, missing required keys; then the value rules of rules.py
(names outside the vocabulary, r < 1, dropout outside [0, 1), learning rate ≤ 0, sharding over 0 GPUs, 4-bit
and 8-bit together, epochs and max_steps both or neither, an estimate whose components do not add up or that
was planned for another rank, ...).
"""

from __future__ import annotations

import math
from dataclasses import fields
from types import MappingProxyType
from typing import Any

from lorplan.core.errors import BadInput
from lorplan.core.plan import schema as ps
from lorplan.core.plan.rules import CHECKS, is_int, shown
from lorplan.core.units import LONGEST_ECHO, echoed
from lorplan.core.vocab import Task

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
        "rope_scaling": ("float", False),
    },
    "quantization": {
        "load_in_4bit": ("bool", False),
        "load_in_8bit": ("bool", False),
        "bnb_4bit_quant_type": ("str", False),
        "bnb_4bit_use_double_quant": ("bool", False),
        "bnb_4bit_compute_dtype": ("str", False),
        "prepare_kbit": ("bool", False),
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
        "prepare_kbit": ("bool", False),  # an older plan's place for quantization.prepare_kbit, read into it
        "kernels": ("str", False),
        "foreach": ("bool", False),
        "reserve_fraction": ("float", False),
        "cuda_context_bytes": ("int", False),
        "padding_mask": ("bool", False),
        "loss": ("str", False),
    },
}
def _is_num(v: Any) -> bool:
    return (is_int(v) or isinstance(v, float)) and not (isinstance(v, float) and not math.isfinite(v))


def _convert(kind: str, v: Any) -> tuple[bool, Any]:
    """(ok, converted value) for one TOML value of the given kind."""
    if kind == "str":
        return isinstance(v, str), v
    if kind == "bool":
        return isinstance(v, bool), v
    if kind == "int":
        return is_int(v), v
    if kind == "float":
        return _is_num(v), float(v) if _is_num(v) else v
    if kind == "number":
        return _is_num(v), v
    if kind == "str_list":
        ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
        return ok, tuple(v) if ok else v
    if kind == "int_list":
        ok = isinstance(v, list) and all(is_int(x) for x in v)
        return ok, tuple(v) if ok else v
    if kind in ("str_int_map", "int_map"):
        ok = isinstance(v, dict) and all(is_int(x) for x in v.values())
        return ok, MappingProxyType(dict(v)) if ok else v
    if kind == "str_num_map":
        ok = isinstance(v, dict) and all(_is_num(x) for x in v.values())
        return ok, MappingProxyType(dict(v)) if ok else v
    if kind == "bool_or_str":
        return isinstance(v, (bool, str)), v
    raise AssertionError(kind)


# the value each kind of table or list holds: (what the message calls it, the test of one value)
_MAP_VALUES = {"str_int_map": ("an integer", is_int), "int_map": ("an integer", is_int),
               "str_num_map": ("a number", _is_num)}
_LIST_ITEMS = {"str_list": ("a string", lambda x: isinstance(x, str)), "int_list": ("an integer", is_int)}


def _type_name(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):  # TOML's nan and inf are floats but not numbers a plan takes
        return repr(v)
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(v), type(v).__name__)


def _not_whole(v: Any, said: bool = False) -> str | None:
    """The refusal of a finite float where an integer goes, naming the value ("must be a whole number, not
    1.5"; 16.0: "must be written as a whole number: 16, not 16.0"; 1e+300, whose digits a float does not hold
    exactly: "must be written as a whole number, not 1e+300"), or None for any other value. said: the line
    already quotes the value (a table's entry, a list's item), which is then not repeated."""
    if not isinstance(v, float) or not math.isfinite(v):
        return None
    if not v.is_integer():
        return "must be a whole number" + ("" if said else f", not {v!r}")
    digits = f": {int(v)}" if abs(v) < 2 ** 53 else ""  # exact as a float: its digits are the integer meant
    return "must be written as a whole number" + digits + ("" if said else f", not {v!r}")


def _wrong_value(what: str, good, v: Any) -> str:
    """Why `v`, one value of a table or list whose values must be `what` (good: the test), is refused, the line
    already quoting it: a float where an integer goes as _not_whole says, else its type."""
    return (_not_whole(v, said=True) if good is is_int else None) or f"must be {what}, not {_type_name(v)}"


def _holds_nul(v: Any) -> bool:
    """A string with a NUL character, or a list or table holding one (keys included)."""
    if isinstance(v, str):
        return "\0" in v
    if isinstance(v, list):
        return any(_holds_nul(x) for x in v)
    if isinstance(v, dict):
        return any(_holds_nul(k) or _holds_nul(x) for k, x in v.items())
    return False


def _short(v: Any) -> str:
    """repr(v) as a problem's line quotes a value, a long one short as units.echoed echoes what was typed (a
    wrong value that is a whole table is named, not printed whole; a string of 5,000 characters or an integer
    of 4,000 digits neither)."""
    text = repr(v)
    return text if len(text) <= LONGEST_ECHO else shown(v) if isinstance(v, (str, int)) else echoed(text)


def _key(name: str) -> str:
    """A key or table name of the file in a problem's dotted key as written, a long one short (units.echoed,
    unquoted): not stripped, so " r" is not named as "r", a key every plan has."""
    return name if len(name) <= LONGEST_ECHO else echoed(name)


class _Problems:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: list[str] = []
        self.keys: set[str] = set()

    def add(self, key: str, what: str) -> None:
        self.lines.append(f"{self.file}: {key}: {what}")
        self.keys.add(key)

    def refused(self, *keys: str) -> bool:
        """Whether a problem was already said about any of `keys` (dotted): a rule across keys says nothing
        then, as its line would only follow from that value ("r = -8" is no second rank beside the estimate's),
        and a refused value still counts as given ("epochs = nan" is no missing length)."""
        return not self.keys.isdisjoint(keys)


def _check_version(p: _Problems, doc: dict[str, Any]) -> None:
    version = doc.get("version")
    if "version" not in doc:
        p.add("version", f"missing (this lorplan writes version = {ps.PLAN_VERSION})")
    elif not is_int(version):
        p.add("version", _not_whole(version) or f"must be an integer, not {_type_name(version)}")
    elif version > ps.PLAN_VERSION:
        p.add("version", f"{shown(version)} was written by a newer lorplan (this one reads up to {ps.PLAN_VERSION})")
    elif version < 1:
        p.add("version", f"{shown(version)} is not a plan version (must be ≥ 1)")


def _read_table(p: _Problems, name: str, table: dict[str, Any]) -> dict[str, Any]:
    """The keys of one table converted to their kinds; unknown keys, wrong types and missing keys are problems."""
    out: dict[str, Any] = {}
    for key, v in table.items():
        if key not in FIELDS[name]:
            p.add(f"{name}.{_key(key)}", "unknown key")
            continue
        kind, _ = FIELDS[name][key]
        ok, converted = _convert(kind, v)
        if ok and _holds_nul(v):  # no path, model id or module name holds one; the OS would refuse it later
            p.add(f"{name}.{key}", "contains a NUL character (\\u0000)")
        elif ok:
            out[key] = converted
        elif kind in _MAP_VALUES and isinstance(v, dict):  # a table with a wrong value: name its key
            what, good = _MAP_VALUES[kind]
            for entry, value in v.items():
                if not good(value):
                    p.add(f"{name}.{key}", f"{_short(entry)} = {_short(value)}: {_wrong_value(what, good, value)}")
        elif kind in _LIST_ITEMS and isinstance(v, list):  # a list with a wrong item: its place and value
            what, good = _LIST_ITEMS[kind]
            for place, item in enumerate(v, 1):
                if not good(item):
                    p.add(f"{name}.{key}", f"item {place} = {_short(item)}: {_wrong_value(what, good, item)}")
        else:
            whole = _not_whole(v) if kind == "int" else None
            p.add(f"{name}.{key}", whole or f"must be {_KIND_NAMES[kind]}, not {_type_name(v)}")
    for key, (_, required) in FIELDS[name].items():
        if required and key not in table:
            p.add(f"{name}.{key}", "missing (required)")
    return out


def _read_tables(p: _Problems, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sec: dict[str, dict[str, Any]] = {}
    for name, value in doc.items():
        if name == "version":
            continue
        if name not in FIELDS:
            p.add(_key(name), f"unknown table (expected {', '.join(FIELDS)})")
        elif not isinstance(value, dict):
            p.add(name, f"must be a table, not {_type_name(value)}")
        else:
            sec[name] = _read_table(p, name, value)
    for name in ps.REQUIRED_SECTIONS:
        if name not in doc:
            p.add(name, "missing table (required)")
    return sec


def _old_prepare_kbit(sec: dict[str, dict[str, Any]]) -> None:
    """An older plan's [estimate] prepare_kbit (where lorplan wrote it before [quantization] held it) read as
    quantization.prepare_kbit, so the file trains as it did (rules.py refused the two disagreeing)."""
    estimate = sec.get("estimate")
    if estimate is None or "prepare_kbit" not in estimate:
        return
    sec["estimate"] = {k: v for k, v in estimate.items() if k != "prepare_kbit"}
    sec["quantization"] = {"prepare_kbit": estimate["prepare_kbit"], **sec.get("quantization", {})}


def plan_from_dict(doc: dict[str, Any], file: str = "plan") -> ps.Plan:
    """Validate a parsed TOML document and build the Plan; raise one BadInput listing every problem."""
    p = _Problems(file)
    _check_version(p, doc)
    sec = _read_tables(p, doc)
    for check in CHECKS:
        check(p, sec)
    if p.lines:
        err = BadInput("\n".join(p.lines))
        err.problems = list(p.lines)  # type: ignore[attr-defined]
        raise err

    _old_prepare_kbit(sec)
    if sec["model"].get("task") == Task.SEQUENCE_CLASSIFICATION:
        # a classifier chooses no tokens to train: the "completion" every classifier plan held before reads as none
        sec["data"] = {**sec["data"], "train_on": None}
    built = {name: ps.SECTIONS[name](**values) for name, values in sec.items()}
    if "epochs" not in sec["training"] and "max_steps" in sec["training"]:
        built["training"] = ps.TrainingSection(**{**sec["training"], "epochs": None})
    return ps.Plan(version=doc["version"], **built)


def known_keys(section: str) -> tuple[str, ...]:
    """The keys a table may hold (for editors and tests)."""
    return tuple(f.name for f in fields(ps.SECTIONS[section]))
