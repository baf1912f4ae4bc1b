"""Whether a checkpoint folder's files are whole, read from their own structure. Stdlib only.

`lorplan train --resume` asks before torch is imported (lorplan.train.checkpoint.check_checkpoint): a cut or
garbled file, or one missing, was a traceback from json, safetensors or torch.load once the model had loaded
(6-9 s into the command). What is read: state.json as JSON with its fields; adapter_config.json as a JSON
object; adapter_model.safetensors' header (an 8-byte little-endian length, then that many bytes of JSON), whose
tensors must cover the rest of the file exactly, as safetensors requires; each torch.save file's zip directory
(at the file's end, so a cut file has none) with its data.pkl. Headers and directories only: a flipped byte
inside a tensor's data is not seen here.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

TORCH_FILES = ("optimizer.pt", "rng.pt", "scheduler.pt")
SHARDED_TORCH_FILES = ("scheduler.pt",)  # FSDP / DeepSpeed: the rest is in accelerate's own folder
MAX_HEADER_BYTES = 100_000_000  # safetensors refuses a longer header


def checkpoint_problem(folder: Path) -> tuple[Path, str] | None:
    """(the file, what is wrong with it: "is missing", "is cut short (...)", ...) for the first damaged file of
    checkpoint `folder` that --resume reads, in the order it reads them; None when all are whole. A sharded
    checkpoint (an `accelerate` folder) is read as accelerate's: state.json and scheduler.pt, and its adapter
    when it has one (lorplan releases before 2026-11-28 saved one beside accelerate's state, with no
    optimizer.pt or rng.pt: --resume compares it with the plan's, then loads accelerate's state)."""
    state = folder / "state.json"
    problem = state_problem(state)
    if problem is not None:
        return state, problem
    sharded = (folder / "accelerate").is_dir()
    checks = [(folder / name, torch_file_problem) for name in (SHARDED_TORCH_FILES if sharded else TORCH_FILES)]
    adapter = folder / "adapter"
    if not sharded or adapter.is_dir():
        checks = [(adapter / "adapter_config.json", json_object_problem),
                  (adapter / "adapter_model.safetensors", safetensors_problem), *checks]
    for path, check in checks:
        problem = check(path)
        if problem is not None:
            return path, problem
    return None


UNREADABLE = "cannot be read"  # how a problem begins when the OS refused the read (no access, an I/O error)


def unreadable(problem: str) -> bool:
    """Whether `problem` (checkpoint_problem's) is a file the OS would not let lorplan read, not a damaged one:
    a folder handed over by another user, or a disk's error, where the checkpoint may well be whole."""
    return problem.startswith(UNREADABLE)


def _read(path: Path) -> bytes | str:
    """The file's bytes, or what stops them being read ("is missing", the OS's words)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"{UNREADABLE} ({exc.strerror or exc})"


def _json(path: Path) -> object:
    """The file's JSON value, or a str saying why there is none (see _read)."""
    data = _read(path)
    if isinstance(data, str):
        return data
    try:
        return json.loads(data)
    except ValueError as exc:  # UnicodeDecodeError is one
        return f"is not JSON ({str(exc).splitlines()[0][:80]})"


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def state_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint's state.json (lorplan.train.checkpoint.read_state), or None: a JSON object
    whose `step` is a whole number, `total` one above 0 (or absent), and `schedules`, when present, a list of
    {"from_step": int, "total": int} (lorplan.train.checkpoint.schedules)."""
    state = _json(path)
    if isinstance(state, str):
        return state
    if not isinstance(state, dict):
        return f"is not a JSON object (it holds a {type(state).__name__})"
    step, total = state.get("step"), state.get("total")
    if not _int(step) or step < 0:
        return f"has no step count (step: {json.dumps(step)})"
    if total is not None and (not _int(total) or total < 1):
        return f"has no run length (total: {json.dumps(total)})"
    kept = state.get("schedules")
    if kept is not None and not (isinstance(kept, list) and all(
            isinstance(s, dict) and _int(s.get("from_step")) and _int(s.get("total")) for s in kept)):
        return "has schedules that are not a list of {from_step, total} step counts"
    return None


def json_object_problem(path: Path) -> str | None:
    """What is wrong with a file that holds a JSON object (adapter_config.json), or None."""
    value = _json(path)
    if isinstance(value, str):
        return value
    return None if isinstance(value, dict) else f"is not a JSON object (it holds a {type(value).__name__})"


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file's structure, or None: its header is read (the 8-byte length, then
    JSON), never its tensors."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else None
            if length is None or length > MAX_HEADER_BYTES or 8 + length > size:
                return (f"is cut short or not a safetensors file (its {size:,} bytes hold no whole header)")
            header = json.loads(fh.read(length))
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"{UNREADABLE} ({exc.strerror or exc})"
    except ValueError:
        return "is not a safetensors file (its header is not JSON)"
    if not isinstance(header, dict):
        return "is not a safetensors file (its header is not a JSON object)"
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_int(o) for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            return f"is not a safetensors file (its header gives tensor {name!r} no place in the file)"
        end = max(end, offsets[1])
    data = size - 8 - length
    if end > data:
        return f"is cut short (its tensors take {end:,} bytes after the header, the file holds {data:,})"
    if end < data:
        return f"has {data - end:,} bytes more than its tensors take"
    return None


def torch_file_problem(path: Path) -> str | None:
    """What is wrong with a torch.save file's structure (a zip holding data.pkl), or None: its zip directory is
    read, never its pickle."""
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"{UNREADABLE} ({exc.strerror or exc})"
    except (zipfile.BadZipFile, ValueError, EOFError):  # the directory at a zip's end: a cut file has none
        return f"is cut short or not a file torch.save wrote ({size:,} bytes without a whole zip directory)"
    if not any(info.filename.rsplit("/", 1)[-1] == "data.pkl" for info in infos):
        return "is not a file torch.save wrote (no data.pkl in it)"
    if any(info.header_offset + info.compress_size > size for info in infos):
        return f"is cut short (its zip directory names more than its {size:,} bytes)"
    return None


__all__ = ["checkpoint_problem", "json_object_problem", "safetensors_problem", "state_problem",
           "torch_file_problem", "unreadable"]
