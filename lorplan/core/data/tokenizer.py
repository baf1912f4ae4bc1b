"""Finding a model's tokenizer on this machine, offline, through lorplan.core.model.resolve_model.

Order: the model's folder, the local Hugging Face cache (the model's hub id, then the other ids of its catalog
entry), then the model lorplan ships (all-MiniLM-L6-v2). Nothing is downloaded: a tokenizer that is not on
disk means token counts are estimated from characters. transformers is imported only when a tokenizer is
actually loaded (see counting.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lorplan.core.errors import BadInput

CHARS_PER_TOKEN = 4.0  # the usual rule of thumb for English BPE tokenizers (OpenAI's tokenizer guide)


@dataclass(frozen=True)
class TokenizerChoice:
    """Where token counts will come from.

    path: a local folder with tokenizer files, or None to estimate at `chars_per_token`.
    name: what the user asked for (model id, folder) for messages.
    note: what a short or misspelled model name resolved to, and why the counts are estimates; or None.
    """

    path: str | None
    name: str
    note: str | None = None
    chars_per_token: float = CHARS_PER_TOKEN

    @property
    def estimated(self) -> bool:
        return self.path is None


def has_tokenizer_files(folder: Path) -> bool:
    """True when `folder` holds tokenizer files (resolve.TOKENIZER_FILES)."""
    from lorplan.core.model.resolve import TOKENIZER_FILES, has_files

    return has_files(folder, TOKENIZER_FILES)


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of a hub model in the local cache that holds tokenizer files (refs/main first, else
    the newest), or None. Cache location and snapshot choice as lorplan.core.model.hfcache resolves them."""
    from lorplan.core.model.hfcache import find_snapshot
    from lorplan.core.model.resolve import TOKENIZER_FILES

    return find_snapshot(repo_id, TOKENIZER_FILES)


def tokenizer_folder(source) -> Path | None:
    """A folder with the tokenizer files of a resolved model (a lorplan.core.model.ModelSource), or None.

    A folder model: the folder itself. Otherwise a cache snapshot of the model's hub id holding tokenizer
    files, then one of another id of its catalog entry (base and instruct models share a vocabulary), then
    the model's own folder (the shipped all-MiniLM-L6-v2)."""
    from lorplan.core.model import catalog

    if source.kind == "folder":
        folder = source.config_path.parent
        return folder if has_tokenizer_files(folder) else None
    entry = catalog.find(source.id)
    others = (entry.id, *entry.aliases) if entry is not None else ()
    for name in dict.fromkeys((*source.hub_names, *others)):
        snapshot = cached_snapshot(name)
        if snapshot is not None:
            return snapshot
    return source.folder


def resolve_tokenizer(model: str | None = None, tokenizer: str | None = None) -> TokenizerChoice:
    """Pick the tokenizer for `--tokenizer PATH` or `--model M` (any name resolve_model finds; a folder needs
    only tokenizer files). Without either, or when none is on disk, counts are estimated at CHARS_PER_TOKEN
    characters per token, with a note saying why. BadInput when `--tokenizer` is not a folder with tokenizer
    files, or when `--model` is a missing path, an ambiguous name or a misspelling with close ids (one line
    listing them); a name lorplan knows nothing like is estimated, with a note."""
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
    # a folder with tokenizer files needs no config.json; a device or a pipe (/dev/null) goes on to resolve_model,
    # which names it (it read "no tokenizer files in /dev/null" and counted on, exit 0)
    if candidate.is_dir() or candidate.is_file():
        folder = candidate.parent if candidate.is_file() else candidate
        if has_tokenizer_files(folder):
            return TokenizerChoice(str(folder), model)
        return TokenizerChoice(None, model, f"no tokenizer files in {folder}: token counts {ratio}")
    from lorplan.core.model import resolve_model
    from lorplan.core.model.names import UnknownModel

    try:
        source = resolve_model(model)
    except UnknownModel as exc:
        snapshot = cached_snapshot(model)  # a hub id cached with its tokenizer files only (no config.json)
        if snapshot is not None:
            return TokenizerChoice(str(snapshot), model)
        if exc.suggestions:
            raise
        if "/" in model:
            return TokenizerChoice(None, model, f"tokenizer of {model} is not in the local HF cache: token counts "
                                                f"{ratio}")
        return TokenizerChoice(None, model, f"no tokenizer found for {model!r} (not a folder, catalog id or "
                                            f"cached hub id): token counts {ratio}")
    folder = tokenizer_folder(source)
    if folder is not None:
        return TokenizerChoice(str(folder), model, source.note)
    why = f"tokenizer of {source.id} is not in the local HF cache: token counts {ratio}"
    return TokenizerChoice(None, model, f"{source.note}; {why}" if source.note else why)
