"""The fallback's builds, remembered across runs: the child's report (fallback.run_child) for a config.json, kept in
$XDG_CACHE_HOME/lorplan/fallback/ (~/.cache when unset), one small JSON file per build.

An entry is keyed by everything that changes the report (fallback.cache_key): the config file's bytes and whether
it is read as a folder's config.json, the transformers and torch the child imports, and the source of the child
and of the lorplan modules it imports (child_source_hash), so a lorplan that reports otherwise never reads an older
lorplan's entry. A build that ran the model's own code (trust_remote_code) is keyed by that code's bytes as well
(fallback.own_code_hash), and not kept when that code is not all in the model's folder. A file is read only when
it is whole, names its own key and its report matches its checksum; anything else is a miss, and the build runs
again and writes the entry anew. A cache folder that cannot be written is skipped without a word. The newest KEEP
entries are kept (a read counts as new).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import time
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA = 1  # the layout of an entry file; a new one never reads an older one
KEEP = 64  # entries kept (a large model's report is tens of kB)
_STALE_TMP_S = 86400  # an atomic write's temporary file this old was left by a process that died


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/lorplan/fallback (~/.cache/lorplan/fallback when XDG_CACHE_HOME is unset), as
    core.memory.context keeps its measurements beside it."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lorplan" / "fallback"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def data_hash(data: Any) -> str:
    """The checksum an entry keeps of its report."""
    return hashlib.sha256(_canonical(data).encode()).hexdigest()


def entry_path(key: dict) -> Path:
    return cache_dir() / f"{hashlib.sha256(_canonical(key).encode()).hexdigest()[:40]}.json"


def child_sources() -> list[Path]:
    """_fallback_child.py and every lorplan module it imports, directly or through them (read from their import
    statements, not by importing them): what makes the child's report besides transformers."""
    root = Path(__file__).resolve().parents[3]  # the folder holding the lorplan package
    todo, seen = [Path(__file__).with_name("_fallback_child.py")], set()
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name == "lorplan" or name.startswith("lorplan."):
                    todo.append(root.joinpath(*name.split(".")).with_suffix(".py"))
    return sorted(seen)


@cache
def child_source_hash() -> str:
    """A hash of child_sources()' text: any change to what the child runs keys its entries apart."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[3]
    for path in child_sources():
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
        digest.update(b"\0")
    return digest.hexdigest()


def config_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def load(key: dict) -> dict | None:
    """The report kept for `key`, None when there is none or it is not whole and its own (a miss). A hit counts
    as new for pruning."""
    path = entry_path(key)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # missing, unreadable, not UTF-8, not JSON, truncated
        return None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("key") != key:
        return None
    data = doc.get("data")
    if not isinstance(data, dict) or doc.get("sha256") != data_hash(data):
        return None
    try:
        os.utime(path)
    except OSError:
        pass
    return data


def store(key: dict, data: dict) -> None:
    """Keep `data` for `key` (atomically), then prune to the newest KEEP entries; nothing when the cache folder
    cannot be made or written."""
    from lorplan.core.atomic import replace_text

    path = entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_text(path, _canonical({"schema": SCHEMA, "key": key, "sha256": data_hash(data), "data": data}))
    except (OSError, ValueError):
        return
    _prune(path.parent)


def _prune(folder: Path) -> None:
    entries = []
    now = time.time()
    try:
        names = list(folder.iterdir())
    except OSError:
        return
    for path in names:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        if path.name.endswith(".json") and not path.name.startswith("."):
            entries.append((mtime, path))
        elif path.name.startswith(".") and path.name.endswith(".tmp") and now - mtime > _STALE_TMP_S:
            _unlink(path)
    entries.sort(reverse=True)
    for _, path in entries[KEEP:]:
        _unlink(path)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
