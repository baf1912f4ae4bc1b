"""Finding a model's tokenizer on this machine (a folder, or the local Hugging Face cache), offline.

Nothing is downloaded: a tokenizer that is not on disk means token counts are estimated from characters.
transformers is imported only when a tokenizer is actually loaded (see counting.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from lorplan.core.errors import BadInput

CHARS_PER_TOKEN = 4.0  # the usual rule of thumb for English BPE tokenizers (OpenAI's tokenizer guide)
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.txt", "vocab.json", "spiece.model")


@dataclass(frozen=True)
class TokenizerChoice:
    """Where token counts will come from.

    path: a local folder with tokenizer files, or None to estimate at `chars_per_token`.
    name: what the user asked for (model id, folder) for messages.
    note: why the counts are estimates, or None.
    """

    path: str | None
    name: str
    note: str | None = None
    chars_per_token: float = CHARS_PER_TOKEN

    @property
    def estimated(self) -> bool:
        return self.path is None


def has_tokenizer_files(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in _TOKENIZER_FILES)


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, as huggingface_hub resolves it (HF_HUB_CACHE, HF_HOME/hub, XDG, ~/.cache)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "huggingface" / "hub"


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of a hub model in the local cache (refs/main first, else the newest), or None."""
    if repo_id.count("/") != 1:
        return None
    repo = hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        snap = snapshots / ref.read_text().strip()
        if snap.is_dir():
            return snap
    found = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def catalog_hub_id(model: str) -> str | None:
    """The hub id of a built-in catalog entry, read from lorplan/core/catalog/*.json, or None."""
    folder = Path(__file__).resolve().parent.parent / "catalog"
    if not folder.is_dir():
        return None
    for file in sorted(folder.glob("*.json")):
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        entries = data if isinstance(data, list) else data.get("models", [data]) if isinstance(data, dict) else []
        if isinstance(entries, dict):
            entries = [dict(v, id=k) if isinstance(v, dict) else {} for k, v in entries.items()]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if model in (entry.get("id"), file.stem):
                for key in ("hub_id", "repo_id", "hf_id", "hub", "repo"):
                    if isinstance(entry.get(key), str):
                        return entry[key]
    return None


def resolve_tokenizer(model: str | None = None, tokenizer: str | None = None) -> TokenizerChoice:
    """Pick the tokenizer for `--tokenizer PATH` or `--model M` (a folder, a config.json path, a cached hub id,
    or a catalog id whose hub id is cached). Without either, or when none is on disk, counts are estimated at
    CHARS_PER_TOKEN characters per token, with a note saying why. `--tokenizer` must be a folder with
    tokenizer files (BadInput otherwise)."""
    if tokenizer:
        folder = Path(tokenizer).expanduser()
        if folder.is_file():
            folder = folder.parent
        if not has_tokenizer_files(folder):
            raise BadInput(f"--tokenizer {tokenizer}: not a folder with tokenizer files (tokenizer.json, vocab...)")
        return TokenizerChoice(str(folder), tokenizer)
    ratio = f"estimated at {CHARS_PER_TOKEN:g} characters per token"
    if not model:
        return TokenizerChoice(None, "none", f"no --model given: token counts {ratio}")
    candidate = Path(model).expanduser()
    if candidate.exists():
        folder = candidate.parent if candidate.is_file() else candidate
        if has_tokenizer_files(folder):
            return TokenizerChoice(str(folder), model)
        return TokenizerChoice(None, model, f"no tokenizer files in {folder}: token counts {ratio}")
    hub_id = model if "/" in model else catalog_hub_id(model)
    if hub_id:
        snap = cached_snapshot(hub_id)
        if snap is not None and has_tokenizer_files(snap):
            return TokenizerChoice(str(snap), model)
        return TokenizerChoice(None, model, f"tokenizer of {hub_id} is not in the local HF cache: token counts {ratio}")
    return TokenizerChoice(None, model, f"no tokenizer found for {model!r}: token counts {ratio}")
