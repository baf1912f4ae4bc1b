"""A probe's result.json (and the fields of its events) read through one validating reader. Stdlib only.

The worker writes these files, but a user can edit them, a disk can damage them, and an older or newer lorplan
may have written them: a string eval loss, `"notes": 5` or a list for the whole file ended `probe status`,
`wait` and `list` (for every run) and the TUI's Probes tab in a ValueError or TypeError. Here a field of the
wrong type counts as missing, with one line naming the file and the fields; a file that is not a JSON object
is a damaged result: the probe ended (the worker writes result.json last, atomically) without one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lorplan.core.jsontext import loads_json
from lorplan.probe.runs import _kind  # a JSON value's kind in JSON's words, as plan.json's problems say it
from lorplan.train.write_error import NO_SPACE

# The states a result can record (runs.TERMINAL_STATES; "died" is a status of a probe without a result, but a
# result that says it is read as it says).
RESULT_STATES = ("finished", "failed", "oom", "cancelled", "died")

# The OS's errors for a write that found no space: the disk, the user's quota, the largest file allowed (the
# training engine's, which reads them out of torch's and safetensors' errors too). A probe that failed on one
# says so in its result ("out_of_space": true), and its run launches no more probes.
OUT_OF_SPACE = NO_SPACE
# Disk a probe's worker sets aside at its start for its result.json and final event, should the disk fill
# meanwhile (a result with its 20-line traceback, memory figures and notes is 3-6 KB, written beside its final
# name before the rename). The scheduler launches no probe onto a disk with less than twice this free.
RESERVE_BYTES = 64 * 1024


class _Wrong(Exception):
    """A field's value is not what the field holds: its message says what it should be."""


def _number(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Wrong("not a number")
    try:
        x = float(v)  # an integer of 400 digits overflows a float
    except OverflowError:
        raise _Wrong("not a number a float holds") from None
    # NaN and Infinity, which json reads: an older worker wrote `"eval_loss": NaN` for a diverged probe, and
    # status --json would print it back, which a strict reader (jq, JavaScript) refuses
    if not math.isfinite(x):
        raise _Wrong("not a finite number")
    return x


def _non_negative(v) -> float:
    """A time, a speed, or a step's scheduled rate (0 at the first warmup step): finite (_number) and at least 0."""
    x = _number(v)
    if x < 0:
        raise _Wrong("not a number of at least 0")
    return x


def _count(v) -> int:
    if isinstance(v, float) and v.is_integer():  # a count written as 5.0
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _Wrong("not a whole number of at least 0")
    return v


def _text(v) -> str:
    if not isinstance(v, str):
        raise _Wrong("not text")
    return v


def _texts(v) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(n, str) for n in v):
        raise _Wrong("not a list of text")
    return tuple(v)


def _state(v) -> str:
    if v not in RESULT_STATES:
        raise _Wrong(f"not one of {', '.join(RESULT_STATES)}")
    return v


# Every field a reader of results or events uses, with what it must be. null is "no value" for any of them.
FIELDS: dict[str, Callable] = {
    "state": _state, "step": _count, "loss": _number, "eval_loss": _number, "eval_accuracy": _number,
    "tokens_per_second": _non_negative, "peak_memory_bytes": _count, "wall_seconds": _non_negative,
    "load_seconds": _non_negative, "train_seconds": _non_negative, "seconds": _non_negative,
    "trainable_params": _count, "device": _text, "lr": _non_negative, "message": _text, "traceback": _text,
    "error": _text, "notes": _texts, "t": _number, "eval_examples": _count, "eval_majority": _count,
}


def checked_fields(obj: dict) -> tuple[dict, list[str]]:
    """(the fields of `obj` FIELDS names whose values are what they should be (or null), the others each as
    "eval_loss 'x' (not a number)"). Fields FIELDS does not name are left out."""
    good: dict = {}
    wrong: list[str] = []
    for key, check in FIELDS.items():
        if key not in obj:
            continue
        value = obj[key]
        if value is None:
            good[key] = None
            continue
        try:
            good[key] = check(value)
        except _Wrong as exc:
            shown = repr(value)
            wrong.append(f"{key} {shown if len(shown) <= 40 else shown[:37] + '...'} ({exc})")
    return good, wrong


@dataclass(frozen=True)
class ProbeResult:
    """A probe's result.json as read: `values` holds its fields that read right (FIELDS; null ones as None),
    by name; `problems` a line naming the file for fields read as missing; `damaged` says why the file held no
    result (not JSON, not an object, unreadable), with `values` then empty."""

    values: dict = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    damaged: str | None = None


def read_result(path: Path) -> ProbeResult | None:
    """The result in `path`, or None when there is none (no such file)."""
    try:
        with open(path, "rb") as fh:
            obj = loads_json(fh.read())
    except FileNotFoundError:
        return None
    except OSError as exc:  # a folder, no permission
        return ProbeResult(damaged=f"its result {path} could not be read ({exc.strerror or exc})")
    except ValueError as exc:  # not JSON, not UTF-8, nested too deeply
        return ProbeResult(damaged=f"its result {path} is damaged (not JSON: {str(exc)[:80]})")
    if not isinstance(obj, dict):
        return ProbeResult(damaged=f"its result {path} is damaged ({_kind(obj)}, not a JSON object)")
    good, wrong = checked_fields(obj)
    problems = (f"{path}: read as missing: {', '.join(wrong)}",) if wrong else ()
    if good.get("message"):
        good["message"] = diverged_words(good["message"])
    return ProbeResult(good, problems)


# What a worker older than its Diverged check (lorplan.probe.worker) ended a diverged probe with: the event line
# of its nan or inf loss was refused by json.dumps(allow_nan=False) (newer Pythons add ": nan" or ": inf")
OLDER_DIVERGED = "ValueError: Out of range float values are not JSON compliant"


def diverged_words(message: str) -> str:
    """A result's message; an older worker's for a diverged probe (OLDER_DIVERGED, which names no loss and no
    cause) said as a newer worker says it, with the older words kept after it."""
    if not message.startswith(OLDER_DIVERGED):
        return message
    return ("Diverged: a loss became nan or inf: the training diverged (a lower learning rate may hold it) or the "
            f"model's numbers overflow its dtype (the lorplan that ran it said: {message})")


__all__ = ["FIELDS", "OLDER_DIVERGED", "OUT_OF_SPACE", "RESERVE_BYTES", "RESULT_STATES", "ProbeResult", "checked_fields",
           "diverged_words", "read_result"]
