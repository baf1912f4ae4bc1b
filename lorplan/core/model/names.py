"""Short and misspelled model names: resolve one when it is unambiguous, else say which ids come closest.

A name resolves when it is (1) a unique case-insensitive match on the name without organisation
("Llama-3.1-8B-Instruct", "qwen2.5-7b"), or (2) the single close spelling of a known id (difflib's ratio at
least CLOSE, for example "Qwen/Qwen2.5-7B-Instrukt"). The separators - _ . count as one in both: "qwen2_5_7b" is
Qwen2.5-7B, and "gemma_2_2b" gemma-2-2b, not also gemma-2-2b-it. A close spelling must keep every number of the
name: "Llama-3.1-7B" never becomes the 8B model, whatever the letters say. Several candidates are never chosen
between; BadInput lists them.
"""

from __future__ import annotations

import difflib
import re

from lorplan.core.errors import BadInput

CLOSE = 0.85  # difflib.SequenceMatcher.ratio(); "instrukt" vs "instruct" in a 20-letter name is about 0.95
SUGGEST = 0.6  # difflib.get_close_matches' own default cutoff, for the "closest ids" of an unknown name
MAX_LISTED = 5


class UnknownModel(BadInput):
    """No known model matches the name. suggestions: the closest known ids (possibly empty)."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = suggestions


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1].lower()


def _numbers(name: str) -> list[str]:
    return re.findall(r"\d+", name)


def match(text: str, known: tuple[str, ...]) -> str:
    """The one name of `known` (ids as spelled, organisation included) that `text` means.

    Raises BadInput listing the candidates when several match, and UnknownModel (a BadInput, with the closest
    ids) when none does. Both are one line naming `text`.
    """
    spelled: dict[str, str] = {}
    for name in known:
        spelled.setdefault(name.lower(), name)
    typed = text.strip().lower()
    # the same id, then the same id but for its separators ("gemma_2_2b" is gemma-2-2b, not also gemma-2-2b-it)
    sep = _separated(typed)
    exact = [n for low, n in spelled.items() if low == typed] or \
        [n for low, n in spelled.items() if _separated(low) == sep]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise BadInput(f"model {quoted_name(text)} is ambiguous: {_listed(exact)}; give the full id")
    with_org = "/" in typed
    if not with_org:
        same = [n for low, n in spelled.items() if _short(low) == typed] or \
            [n for low, n in spelled.items() if _separated(_short(low)) == sep]
        if len(same) == 1:
            return same[0]
        if same:
            raise BadInput(f"model {quoted_name(text)} is ambiguous: {_listed(same)}; give the full id")
    key = typed if with_org else _short(typed)
    pairs = [(low if with_org else _short(low), n) for low, n in spelled.items()]
    close = _close(key, pairs)
    if len(close) == 1:
        return close[0]
    if close:
        raise BadInput(f"model {quoted_name(text)} is ambiguous: {_listed(close)}; give the full id")
    suggestions = _closest(typed, spelled)
    raise UnknownModel(_unknown(text, suggestions), suggestions)


WORD_CLOSE = 0.75  # per word: "instrukt"/"instruct" 0.88 passes; "large"/"base" 0.44 and "mini"/"medium" fail


def _words_close(a: str, b: str) -> bool:
    """The typed words `a` are those of `b` but for typos: each word that differs is a near spelling of its
    partner, and `b` may only add words at the end (gemma-3-4b → gemma-3-4b-it, -pt). A different word
    (bert-large vs bert-base, Phi-3-mini vs Phi-3-medium) is another model, never a typo."""
    wa, wb = re.split(r"[-_./]", a), re.split(r"[-_./]", b)
    if len(wa) > len(wb):
        return False
    pairs = zip(wa, wb[: len(wa)], strict=True)
    return all(x == y or difflib.SequenceMatcher(None, x, y).ratio() >= WORD_CLOSE for x, y in pairs)


def _separated(name: str) -> str:
    """`name` with one separator for all of - _ . ("qwen2_5_7b" and "qwen2.5-7b" alike: a run's or a file's
    spelling of an id differs from it in separators only)."""
    return re.sub(r"[-_.]", "-", name)


def _close(key: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Names whose key is a close spelling of `key` with the same numbers and words, best first; separators
    (- _ .) count as one, so that "llama_3_1_8b" is as close to "llama-3.1-8b" as the same letters are."""
    numbers = _numbers(key)
    scored = []
    for k, name in pairs:
        if _numbers(k) != numbers or not _words_close(key, k):
            continue
        ratio = difflib.SequenceMatcher(None, _separated(key), _separated(k)).ratio()
        if ratio >= CLOSE:
            scored.append((-ratio, name))
    return list(dict.fromkeys(name for _, name in sorted(scored)))


def _closest(typed: str, spelled: dict[str, str]) -> tuple[str, ...]:
    """Up to three names most like `typed`, best first: names that begin with it ("qwen3-30b" for
    Qwen3-30B-A3B), then by difflib ratio as a whole id or by the name without organisation."""
    scored = []
    for low, name in spelled.items():
        begins = low.startswith(typed) or _short(low).startswith(_short(typed))
        ratio = max(difflib.SequenceMatcher(None, typed, low).ratio(),
                    difflib.SequenceMatcher(None, _short(typed), _short(low)).ratio())
        if begins or ratio >= SUGGEST:
            scored.append((not begins, -ratio, name))
    return tuple(name for *_, name in sorted(scored))[:3]


def quoted_name(text: str) -> str:
    """The model name typed, quoted (repr), a long one short as units.echoed echoes what was typed."""
    from lorplan.core.units import LONGEST_ECHO, echoed

    return repr(text) if len(text) <= LONGEST_ECHO else echoed(text, quoted=True)


def _listed(candidates: list[str]) -> str:
    more = len(candidates) - MAX_LISTED
    return ", ".join(candidates[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def _unknown(text: str, suggestions: tuple[str, ...]) -> str:
    from lorplan.core.model.hfcache import hub_cache_dir

    closest = f"; closest: {', '.join(suggestions)}" if suggestions else ""
    return (f"unknown model {quoted_name(text)}: not in the catalog (see `lorplan models`), not a folder, and not in the "
            f"local Hugging Face cache ({hub_cache_dir()}){closest}")


# a folder's last part that names no model by itself: a checkpoint's or an export's generic name, or a revision
# hash (a snapshot folder outside a Hugging Face cache)
_GENERIC_FOLDER = re.compile(r"models?|checkpoints?|ckpts?|final|best|latest|last|output|outputs|snapshots?|"
                             r"weights|merged|hf|main|"
                             r"(checkpoint|ckpt|step|epoch|global_step)[-_]?\d+|[0-9a-f]{7,}", re.IGNORECASE)
MAX_NAME_PARTS = 3


def model_name(model: str) -> str:
    """How the evidence names a model: a catalog or hub id as it is; a folder (a spec's id is its absolute path)
    by the published id of what it holds when lorplan knows it (the shipped all-MiniLM-L6-v2, a Hugging Face
    cache snapshot models--ORG--NAME/snapshots/REV), else by the folder's name, with the folders above it
    while it is a generic one (model, checkpoint-500, final, a hash: `x/model`, at most MAX_NAME_PARTS parts). The full path is printed once
    where the user needs it (the header line, a command to rerun): in each rule's sentence it wrapped over
    several rows of an 80-column terminal."""
    from pathlib import Path

    path = Path(model)
    if not path.is_absolute():
        return model
    from lorplan.core.model.resolve import SHIPPED_ID, shipped_folder

    if path == shipped_folder():
        return SHIPPED_ID
    from lorplan.core.model.hfcache import repo_hub_id

    cached = repo_hub_id(path.parent.parent.name) if path.parent.name == "snapshots" else None
    if cached:
        return cached
    parts = path.parts[1:]  # a generic last part (model, checkpoint-500, a hash) names no model by itself:
    shown = parts[-1:]  # /tmp/x/model is `x/model`, at most MAX_NAME_PARTS parts
    while shown and _GENERIC_FOLDER.fullmatch(shown[0]) and len(shown) < min(MAX_NAME_PARTS, len(parts)):
        shown = parts[-1 - len(shown):]
    return "/".join(shown) or model
