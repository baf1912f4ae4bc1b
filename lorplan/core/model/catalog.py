"""The built-in catalog: config.json files of models people fine-tune, shipped in lorplan/core/model/catalog/.

Each file is the model's config.json (architecture fields as published on the Hugging Face Hub; see
tests/core/reference_model_configs.toml for the sources). Two kinds of keys are left out: `auto_map` (lorplan never
runs remote code) and, where noted on the entry, long rope-scaling factor lists (they do not change shapes). The index below is plain Python so that listing and
lookup cost no file reads; a config is read (once per process) when a spec is asked for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog model. id is the Hugging Face id; aliases are ids with the same architecture. rope_scaling:
    where the stored config.json leaves the model's own RoPE scaling out (its long factor lists), the scaling's
    type as the model's config.json on the hub names it ("longrope"; the context it scales from stays in the
    stored file, original_max_position_embeddings); "" for the others, whose file says it."""

    id: str
    family: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    rope_scaling: str = ""

    @property
    def filename(self) -> str:
        return self.id.replace("/", "__") + ".json"


def _e(id_: str, family: str, *aliases: str, note: str = "", rope_scaling: str = "") -> CatalogEntry:
    return CatalogEntry(id_, family, tuple(aliases), note, rope_scaling)


_LONGROPE = ("rope_scaling (longrope factor lists) left out of the stored config.json; shapes are unaffected, and "
             "the entry's rope_scaling says the model scales RoPE itself")
# microsoft/Phi-3.5-mini-instruct's and microsoft/Phi-4-mini-instruct's config.json on the hub: rope_scaling
# {"type": "longrope", "long_factor": [...], "short_factor": [...]} (the stored files keep
# original_max_position_embeddings 4096 and max_position_embeddings 131072)


ENTRIES: tuple[CatalogEntry, ...] = (
    _e("meta-llama/Llama-3.1-8B-Instruct", "llama", "meta-llama/Llama-3.1-8B"),
    _e("meta-llama/Llama-3.1-70B-Instruct", "llama", "meta-llama/Llama-3.1-70B"),
    _e("meta-llama/Llama-3.2-1B-Instruct", "llama", "meta-llama/Llama-3.2-1B"),
    _e("meta-llama/Llama-3.2-3B-Instruct", "llama", "meta-llama/Llama-3.2-3B"),
    _e("meta-llama/Llama-3.3-70B-Instruct", "llama"),
    _e("mistralai/Mistral-7B-Instruct-v0.3", "mistral", "mistralai/Mistral-7B-v0.3"),
    _e("mistralai/Mixtral-8x7B-v0.1", "mixtral", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
    _e("Qwen/Qwen2.5-0.5B-Instruct", "qwen2", "Qwen/Qwen2.5-0.5B"),
    _e("Qwen/Qwen2.5-1.5B-Instruct", "qwen2"),
    _e("Qwen/Qwen2.5-1.5B", "qwen2"),
    _e("Qwen/Qwen2.5-3B-Instruct", "qwen2", "Qwen/Qwen2.5-3B"),
    _e("Qwen/Qwen2.5-7B-Instruct", "qwen2"),
    _e("Qwen/Qwen2.5-7B", "qwen2"),
    _e("Qwen/Qwen2.5-14B-Instruct", "qwen2"),
    _e("Qwen/Qwen2.5-14B", "qwen2"),
    _e("Qwen/Qwen2.5-32B-Instruct", "qwen2"),
    _e("Qwen/Qwen2.5-32B", "qwen2"),
    _e("Qwen/Qwen2.5-72B-Instruct", "qwen2"),
    _e("Qwen/Qwen2.5-72B", "qwen2"),
    _e("Qwen/Qwen3-0.6B", "qwen3"),
    _e("Qwen/Qwen3-0.6B-Base", "qwen3"),
    _e("Qwen/Qwen3-1.7B", "qwen3"),
    _e("Qwen/Qwen3-1.7B-Base", "qwen3"),
    _e("Qwen/Qwen3-4B", "qwen3"),
    _e("Qwen/Qwen3-4B-Base", "qwen3"),
    _e("Qwen/Qwen3-8B", "qwen3"),
    _e("Qwen/Qwen3-8B-Base", "qwen3"),
    _e("Qwen/Qwen3-14B", "qwen3"),
    _e("Qwen/Qwen3-14B-Base", "qwen3"),
    _e("Qwen/Qwen3-32B", "qwen3"),
    _e("Qwen/Qwen3-30B-A3B", "qwen3_moe"),
    _e("google/gemma-2-2b-it", "gemma2", "google/gemma-2-2b"),
    _e("google/gemma-2-9b-it", "gemma2", "google/gemma-2-9b"),
    _e("google/gemma-2-27b-it", "gemma2", "google/gemma-2-27b"),
    _e("google/gemma-3-1b-it", "gemma3_text", "google/gemma-3-1b-pt"),
    _e("google/gemma-3-4b-it", "gemma3", "google/gemma-3-4b-pt",
       note="planned as Gemma3ForConditionalGeneration (vision tower included); vocab_size is the config default"),
    _e("google/gemma-3-12b-it", "gemma3", "google/gemma-3-12b-pt"),
    _e("google/gemma-3-27b-it", "gemma3", "google/gemma-3-27b-pt"),
    _e("microsoft/Phi-3-mini-4k-instruct", "phi3"),
    _e("microsoft/Phi-3.5-mini-instruct", "phi3", note=_LONGROPE, rope_scaling="longrope"),
    _e("microsoft/Phi-4-mini-instruct", "phi3", note=_LONGROPE, rope_scaling="longrope"),
    _e("microsoft/phi-4", "phi3", note="tie_word_embeddings and max_position_embeddings from one source only"),
    _e("HuggingFaceTB/SmolLM2-135M-Instruct", "llama", "HuggingFaceTB/SmolLM2-135M"),
    _e("HuggingFaceTB/SmolLM2-360M-Instruct", "llama", "HuggingFaceTB/SmolLM2-360M"),
    _e("HuggingFaceTB/SmolLM2-1.7B-Instruct", "llama", "HuggingFaceTB/SmolLM2-1.7B"),
    _e("openai-community/gpt2", "gpt2", "gpt2"),
    _e("google-bert/bert-base-uncased", "bert", "bert-base-uncased"),
    _e("sentence-transformers/all-MiniLM-L6-v2", "bert", "all-MiniLM-L6-v2"),
)


@lru_cache(maxsize=1)
def _by_name() -> dict[str, CatalogEntry]:
    table: dict[str, CatalogEntry] = {}
    for e in ENTRIES:
        for name in (e.id, *e.aliases):
            table[name.lower()] = e
    return table


def find(name: str) -> CatalogEntry | None:
    """The catalog entry for an id or alias (case-insensitive), or None."""
    return _by_name().get(name.strip().lower())


@cache
def _read(filename: str) -> str:
    return resources.files("lorplan.core.model").joinpath("catalog", filename).read_text(encoding="utf-8")


def config_file(entry: CatalogEntry) -> Path:
    """The entry's config.json in the installed package (lorplan is installed as files, as pip and uv do)."""
    return Path(str(resources.files("lorplan.core.model").joinpath("catalog", entry.filename)))


def config(entry: CatalogEntry) -> dict[str, Any]:
    """A fresh copy of the entry's config.json as a dict."""
    return json.loads(_read(entry.filename))


# A size in a name or a search word (lower case): "7b", "1.7b", "0.5b", "135m"; the other ways hub ids spell one,
# "1_8b" (InternLM's, StableLM's 1.8B) and "7b1" (BLOOM's 7.1B, its digits after the unit); and a mixture of experts,
# "8x7b" (Mixtral: 8 experts of 7B) or "7bx2". Groups: experts before, whole, fraction, unit, fraction after the
# unit, experts after.
_SIZE = r"(?:(\d+)x)?(\d+)(?:[._](\d+))?([bm])(\d+)?(?:x(\d+))?"
_SIZE_WORD = re.compile(_SIZE)
# In a name a size stands alone: no letter, digit or "." just before ("a3b", Qwen3-30B-A3B's active 3B; "e4b",
# gemma-3n's effective 4B; the "7b" of "1.7b"), no letter or digit just after ("4bit", "7b7").
_SIZE_IN_NAME = re.compile(rf"(?<![a-z0-9.]){_SIZE}(?![a-z0-9])")
# A search word that begins with a size and goes on after a separator: "7b-instruct", "8x7b-instruct".
_SIZE_THEN_MORE = re.compile(rf"{_SIZE}(?=[^a-z0-9])")
_UNIT = {"b": 10**9, "m": 10**6}


@dataclass(frozen=True)
class _Size:
    params: tuple[Decimal, ...]  # the parameter counts it answers to, the exact one first
    experts: int | None


def _size(m: re.Match[str], *, as_named: bool) -> _Size | None:
    """The size a _SIZE match spells. A name's "7b1" also answers to 7b (BLOOM 7B), as the name reads; a search
    word's "7b1" is 7.1B only."""
    before, whole, frac, unit, frac_after, after = m.groups()
    if (frac and frac_after) or (before and after):  # "1.5b7", "8x7bx2" spell no size
        return None
    count = Decimal(f"{whole}.{frac or frac_after or 0}") * _UNIT[unit]
    read_as = (Decimal(whole) * _UNIT[unit],) if as_named and frac_after else ()
    experts = before or after
    return _Size((count, *read_as), int(experts) if experts else None)


def _same_size(word: _Size, named: _Size) -> bool:
    """Whether a search word's size is a name's: the same parameter count (500m is 0.5b), and the same experts
    when the word gives them (7b finds 8x7b, 8x7b does not find 7b)."""
    return word.params[0] in named.params and (word.experts is None or word.experts == named.experts)


def _word_in(word: str, hay: str) -> bool:
    """Whether one lower-case search word is in `hay` (lower case): a size word as a whole size of a name (7b finds
    Mistral-7B, Mixtral-8x7B and BLOOM-7b1, not Qwen3-1.7B), a word beginning with a size ("7b-instruct") where
    that whole size is followed by the rest, any other word anywhere."""
    if (m := _SIZE_WORD.fullmatch(word)) is not None:
        rest = ""
    elif (m := _SIZE_THEN_MORE.match(word)) is not None:
        rest = word[m.end():]
    else:
        return word in hay
    wanted = _size(m, as_named=False)
    if wanted is None:
        return word in hay
    for found in _SIZE_IN_NAME.finditer(hay):
        named = _size(found, as_named=True)
        if named is not None and _same_size(wanted, named) and hay.startswith(rest, found.end()):
            return True
    return False


def matches(text: str, *names: str) -> bool:
    """Whether every word of the search `text` is in one of `names` (case-insensitive; a size word like 7b, 1.7b or
    8x7b matches a whole size, not the end of "1.7b": 7b finds Mixtral-8x7B and bloom-7b1, 8b finds no 1_8b). For
    any id: the catalog's search, the TUI's model picker and `lorplan models` filtering the Hugging Face cache's
    ids."""
    hay = " ".join(names).lower()
    return all(_word_in(w, hay) for w in text.lower().split())


def exact(text: str, *names: str) -> bool:
    """Whether the search `text` is one of `names` itself, or one's name without its owner ("qwen2.5-7b" for
    Qwen/Qwen2.5-7B), case-insensitive: such a model is listed before the others the words match."""
    typed = " ".join(text.lower().split())
    return any(typed in (n.lower(), n.lower().rsplit("/", 1)[-1]) for n in names)


def search(text: str = "") -> tuple[CatalogEntry, ...]:
    """Entries whose id, alias or family has every word of text (case-insensitive; `matches`), an entry whose id
    or alias is text itself (`exact`) first, the others in catalog order."""
    found = [e for e in ENTRIES if matches(text, e.id, *e.aliases, e.family)]
    return tuple(sorted(found, key=lambda e: not exact(text, e.id, *e.aliases)))
