"""Finding a model's tokenizer on this machine (a folder, or the local Hugging Face cache), offline.

Nothing is downloaded: a tokenizer that is not on disk means token counts are estimated from characters.
transformers is imported only when a tokenizer is actually loaded (see counting.py). A catalog id is looked up
under its hub id and aliases.
"""

from __future__ import annotations

import json
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


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of a hub model in the local cache that holds tokenizer files (refs/main first, else
    the newest), or None. Cache location and snapshot choice as lorplan.core.model.hfcache resolves them."""
    from lorplan.core.model.hfcache import find_snapshot

    return find_snapshot(repo_id, _TOKENIZER_FILES)


def model_max_length(model: str | None) -> int | None:
    """The context length (max_position_embeddings / n_positions) of a catalog model or a local config.json,
    or None (never raises)."""
    if not model:
        return None
    config: dict = {}
    try:
        candidate = Path(model).expanduser()
        if candidate.exists():
            file = candidate if candidate.is_file() else candidate / "config.json"
            config = json.loads(file.read_text(encoding="utf-8")) if file.name == "config.json" else {}
        else:
            from lorplan.core.model import catalog

            entry = catalog.find(model)
            config = catalog.config(entry) if entry is not None else {}
    except (OSError, ValueError):
        return None
    config = config.get("text_config", config) if isinstance(config, dict) else {}
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):  # GPT-2 says n_positions
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, int) and value > 0:
            return value
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
    from lorplan.core.model import catalog

    entry = catalog.find(model)
    names = [model] + ([entry.id, *entry.aliases] if entry is not None else [])
    for name in dict.fromkeys(names):
        snap = cached_snapshot(name)
        if snap is not None:
            return TokenizerChoice(str(snap), model)
    if entry is not None or "/" in model:
        hub_id = entry.id if entry is not None else model
        return TokenizerChoice(None, model, f"tokenizer of {hub_id} is not in the local HF cache: token counts {ratio}")
    return TokenizerChoice(None, model, f"no tokenizer found for {model!r} (not a folder, catalog id or cached hub "
                                        f"id): token counts {ratio}")
