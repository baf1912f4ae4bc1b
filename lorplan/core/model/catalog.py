"""The built-in catalog: config.json files of models people fine-tune, shipped in lorplan/core/model/catalog/.

Each file is the model's config.json (architecture fields as published on the Hugging Face Hub; see
tests/core/reference_model_configs.toml for the sources). Two kinds of keys are left out: `auto_map` (lorplan never
runs remote code) and, where noted on the entry, long rope-scaling factor lists (they do not change shapes). The index below is plain Python so that listing and
lookup cost no file reads; a config is read (once per process) when a spec is asked for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from fractions import Fraction
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
# "1_8b" (InternLM's, Qwen's, StableLM's 1.8B) and "7b1" (BLOOM's 7.1B, its decimal after the unit); and a mixture of
# experts, "8x7b" (Mixtral: 8 experts of 7B) or "7bx2". Groups: experts before, whole, decimal point, decimals, unit,
# decimals after the unit, experts after.
_SIZE = r"(?:(\d+)x)?(\d+)(?:([._])(\d+))?([bm])(\d+)?(?:x(\d+))?"
_SIZE_WORD = re.compile(_SIZE)
# In a name a size stands alone: no letter, digit or "." just before ("a3b", Qwen3-30B-A3B's active 3B; "e4b",
# gemma-3n's effective 4B; the "7b" of "1.7b"), no letter or digit just after ("4bit", "7b1t").
_SIZE_IN_NAME = re.compile(rf"(?<![a-z0-9.]){_SIZE}(?![a-z0-9])")
# A search word that begins with a size and goes on after a separator: "7b-instruct", "8x7b-instruct".
_SIZE_THEN_MORE = re.compile(rf"{_SIZE}(?=[^a-z0-9])")
_UNIT = {"b": 10**9, "m": 10**6}


@dataclass(frozen=True)
class _Size:
    count: Fraction  # parameters
    span: int  # parameters above count a search word stands for too: 7b's 10**9 (7B to 7.9…B), 1.7b's none
    experts: int | None
    end: int  # where it ends in the text read


def _version(name: str) -> str:
    """Where the version of an id's name stands after `name` (the name up to a number, lower case): "none" (no
    number yet: "llama", "meta-llama"), "whole" (a number read and no decimal yet: a number after it may still be
    its decimal: "llama_3", "qwen2"), "word" (as "whole", the number a word of its own: "granite_3", whose 0 is its
    decimal, Granite 3.0) or "done" (a word after it, "internlm2_chat", or its decimal, "qwen2_5", "internlm2.5").
    A number of its own after a second name starts that name's version: "hermes_3_llama_3" (Hermes 3 on Llama 3)."""
    version, previous = "none", ""
    for word in re.split(r"[-_.]", name):
        if word[-1:].isdigit():
            restart = word.isdigit() and previous[-1:].isalpha()
            version = ("word" if word.isdigit() else "whole") if version == "none" or restart else "done"
        elif word and version != "none":
            version = "done"
        previous = word
    return version


def _size(m: re.Match[str], text: str) -> _Size | None:
    """The size a _SIZE match in `text` spells, or None ("1.5b7", "8x7bx2" and a run of digits longer than any size
    spell none). An underscore is a decimal point where the number before it follows another separator
    (internlm2_5-1_8b: 1.8B). Where underscores separate the words too, the number before it may be the id's version
    ("llama_2_7b": Llama 2, 7B; "llama_3_1_8b": Llama 3.1, 8B; "qwen2_5_7b"): it is a decimal point once that
    version has ended ("internlm2_chat_1_8b", "qwen2_5_1_5b": 1.8B, 1.5B), and after a 0 ("qwen2_0_5b": 0.5B)
    unless that 0 is the decimal of a version written as a word of its own ("granite_3_0_2b": Granite 3.0, 2B)."""
    before, whole, point, decimals, unit, decimals_after, after = m.groups()
    if (decimals and decimals_after) or (before and after) or m.end() - m.start() > 40:
        return None
    if (point == "_" and not before and m.start() > 0 and text[m.start() - 1] == "_"
            and _version(re.split(r"[/ ]", text[:m.start() - 1])[-1]) in (("word",) if whole == "0" else
                                                                          ("none", "whole", "word"))):
        whole, decimals = decimals, None
    digits = decimals or decimals_after
    count = Fraction(f"{whole}.{digits or 0}") * _UNIT[unit]
    experts = before or after
    return _Size(count, 0 if digits else _UNIT[unit], int(experts) if experts else None, m.end())


@lru_cache(maxsize=4096)
def _sizes_in(hay: str) -> tuple[_Size, ...]:
    """The sizes a (lower-case) name holds, each one count (no span); cached, as a picker searches the same ids at
    each key."""
    sizes = (_size(m, hay) for m in _SIZE_IN_NAME.finditer(hay))
    return tuple(replace(s, span=0) for s in sizes if s is not None)


@lru_cache(maxsize=256)
def _size_word(word: str) -> tuple[_Size, str] | None:
    """A search word's size and what follows it ("7b-instruct": 7B, "-instruct"), or None for a word that does not
    begin with one; cached, as each word is read against every id."""
    if (m := _SIZE_WORD.fullmatch(word)) is not None:
        rest = ""
    elif (m := _SIZE_THEN_MORE.match(word)) is not None:
        rest = word[m.end():]
    else:
        return None
    wanted = _size(m, word)
    return None if wanted is None else (wanted, rest)


def _word_in(word: str, hay: str) -> bool:
    """Whether one lower-case search word is in `hay` (lower case): a size word as a size of a name, by its value
    (7b finds Mistral-7B, bloom-7b1 and Mixtral-8x7B's experts, 1.7b finds Qwen3-1.7B and bloom-1b7, neither finds
    the 7B of 1.7B), a word beginning with a size ("7b-instruct") where that size is followed by the rest, any
    other word anywhere."""
    if (parsed := _size_word(word)) is None:
        return word in hay
    wanted, rest = parsed
    return any((named.count == wanted.count or wanted.count <= named.count < wanted.count + wanted.span)
               and wanted.experts in (None, named.experts)
               and hay.startswith(rest, named.end) for named in _sizes_in(hay))


def matches(text: str, *names: str) -> bool:
    """Whether every word of the search `text` is in one of `names` (case-insensitive; a size word like 7b, 1.7b or
    8x7b matches a size by its value, however a name spells it, not the end of "1.7b": 7b finds every 7.xB, such as
    bloom-7b1, and Mixtral-8x7B; 1.7b finds Qwen3-1.7B and bloom-1b7; 8b finds no 1_8b). For any id: the catalog's
    search, the TUI's model picker and `lorplan models` filtering the Hugging Face cache's ids."""
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
