"""A ModelSpec from a model name (resolve.resolve_model finds it) or a config.json.

Nothing here imports torch; only the fallback (unknown architectures) builds the model with transformers, in a
child process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lorplan.core.errors import BadInput
from lorplan.core.jsontext import loads_json
from lorplan.core.model import archs, catalog
from lorplan.core.model.resolve import ModelSource, resolve_model
from lorplan.core.model.spec import ModelSpec, SpecSource


def load_spec(source: str | ModelSource, *, trust_remote_code: bool = False,
              allow_fallback: bool = True) -> ModelSpec:
    """Load a spec from any name resolve_model understands: a catalog id or alias, a folder or config.json
    path, a hub id in the local HF cache, the shipped all-MiniLM-L6-v2, or a short or misspelled name that is
    unambiguous (its resolution is the spec's first note).

    Raises BadInput with one line naming the input when it cannot (unknown or ambiguous name, missing folder,
    malformed or incomplete config.json). Unknown architectures fall back to a meta-device build in a child
    process (source="fallback", with a note saying so) when allow_fallback is true.
    Catalog specs are cached per process (repeated calls are cheap).
    """
    src = source if isinstance(source, ModelSource) else resolve_model(source)
    entry = catalog.find(src.id) if src.kind in ("catalog", "shipped") else None
    if entry is not None:
        spec = _catalog_spec(entry.id)
        if src.id != entry.id:  # a sibling alias (base vs instruct): the entry's shapes, under the id typed
            from dataclasses import replace

            spec = replace(spec, id=src.id)
    elif src.kind == "folder":
        spec = from_config_file(src.config_path, "folder", trust_remote_code, allow_fallback)
    else:
        spec = from_config_file(src.config_path, "cache", trust_remote_code, allow_fallback, spec_id=src.id)
    if src.note is None:
        return spec
    from dataclasses import replace

    return replace(spec, notes=(src.note, *spec.notes))


@cache
def _catalog_spec(entry_id: str) -> ModelSpec:
    entry = catalog.find(entry_id)
    assert entry is not None
    return from_config(catalog.config(entry), entry.id, "catalog", where=f"catalog entry {entry.id}")


class NeedsBuild(BadInput):
    """load_spec(allow_fallback=False) of a config.json that only the fallback's build can describe: an
    architecture the fast path does not know, and which transformers knows (or whose own code, auto_map, may)."""


def config_spec(model: str) -> ModelSpec | None:
    """The spec `lorplan plan` loads for `model`, judged without building the model: the commands that read a
    model's config but build nothing (lorplan profile, the data profile's length limit) refuse what plan refuses,
    with plan's line. None when lorplan has no config.json for `model` (a folder of tokenizer files alone, a
    name not on disk: resolve_model refuses it, and the caller goes on without a config) or when only the
    fallback's build could judge it (an architecture the fast path does not know: seconds of torch in a child
    process). BadInput, load_spec's own line, for every config.json plan refuses without that build: unreadable
    or malformed, a size missing or of the wrong type, no model_type, a model_type transformers does not know."""
    try:
        src = resolve_model(model)
    except BadInput:
        return None
    try:
        return load_spec(src, allow_fallback=False)
    except NeedsBuild:
        return None


def read_config(path: Path) -> dict[str, Any]:
    """Read a config.json as a dict; BadInput naming the file when unreadable or malformed."""
    # a file of another name was given as the model's config.json: say that it may be no config at all
    what = f"config.json at {path}" if path.name == "config.json" else f"{path} (given as a model's config.json)"
    return read_json_object(path, what)


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON file of a model folder (config.json, tokenizer_config.json...) read as a dict; BadInput "`what`
    ..." in one line when it cannot be read, is empty, is not UTF-8, starts with a byte-order mark (which
    transformers' reader refuses too), is not JSON json can read (nested too deeply, a number of thousands of
    digits) or is not a JSON object."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise BadInput(f"{what} is empty")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise BadInput(f"{what} starts with a UTF-8 byte-order mark (BOM), which transformers does not read: "
                       "save it as UTF-8 without one")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    try:
        obj = loads_json(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{what} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except ValueError as exc:  # nested too deeply, an integer of thousands of digits
        raise BadInput(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadInput(f"{what} is not a JSON object")
    return obj


def from_config_file(
    path: Path,
    source: SpecSource,
    trust_remote_code: bool = False,
    allow_fallback: bool = True,
    spec_id: str | None = None,
) -> ModelSpec:
    """A spec from a config.json file (fast path, or the fallback for unknown architectures).

    Cached per process on (path, size, mtime, options), so the slow fallback runs once per file version.
    """
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is None:
        return _from_file(path, source, trust_remote_code, allow_fallback, spec_id)
    return _cached_file(key, path, source, trust_remote_code, allow_fallback, spec_id)


@lru_cache(maxsize=64)
def _cached_file(key, path, source, trust_remote_code, allow_fallback, spec_id) -> ModelSpec:
    return _from_file(path, source, trust_remote_code, allow_fallback, spec_id)


def _from_file(
    path: Path, source: SpecSource, trust_remote_code: bool, allow_fallback: bool, spec_id: str | None
) -> ModelSpec:
    cfg = read_config(path)
    sid = spec_id or str(path.parent if path.name == "config.json" else path)
    try:
        spec = from_config(cfg, sid, source, where=f"config.json at {path}")
    except archs.UnsupportedConfig as exc:
        from lorplan.core.model import fallback

        if not allow_fallback:
            fallback.check_known_type(path, cfg)  # plan's own line for a model_type transformers does not know
            raise NeedsBuild(f"config.json at {path}: {exc} is not supported by the fast path") from None
        if not trust_remote_code:
            fallback.check_own_code(path, cfg)
        spec = fallback.build_spec(path, cfg, sid, trust_remote_code=trust_remote_code, reason=str(exc))
    return _with_path(spec, str(path))


def _with_path(spec: ModelSpec, path: str) -> ModelSpec:
    from dataclasses import replace

    return replace(spec, config_path=path)


def from_config(cfg: Mapping[str, Any], spec_id: str, source: SpecSource, where: str) -> ModelSpec:
    """A spec from a config dict via the fast path. Raises archs.UnsupportedConfig for unknown model types and
    BadInput (naming `where` and the key) for incomplete configs."""
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise BadInput(f"{where}: missing 'model_type'")
    check_auto_map(cfg, where)
    try:
        lay = archs.build_layout(model_type, cfg)
    except archs.MissingField as exc:
        raise BadInput(f"{where}: {exc}") from None
    return spec_from_layout(lay, cfg, spec_id, source, model_type)


def check_auto_map(cfg: Mapping[str, Any], where: str, *, tokenizer: bool = False, class_read: bool = True,
                   trusted: bool = False) -> None:
    """BadInput naming `where` and the key for an auto_map that is no object of class paths (a string, or a list
    of strings and nulls: a tokenizer's slow and fast classes): transformers' loaders test `"AutoConfig" in
    auto_map` and the like, and `lorplan profile`'s tokenizer load said only "cannot load (argument of type 'int'
    is not iterable)".

    tokenizer=True (tokenizer_config.json) checks what transformers 5's AutoTokenizer reads
    (models/auto/tokenization_auto.py): the auto_map is a list, transformers' legacy form of a tokenizer's
    [slow class, fast class], or an object whose "AutoTokenizer" entry is that list (or a string, or null: no
    code of its own); its other keys are not read. Of the list it takes the fast class, else the slow one: a
    list of one (["X"]: IndexError) or whose two are null ("argument of type 'NoneType' is not iterable") is
    refused. class_read=False: transformers drops the entry unread (a config.json model_type it loads its own
    tokenizer class for, MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS, qwen2 or phi3, when the folder's code is not
    trusted), so only the auto_map's form is checked (a list or an object). A string entry is indexed as the list
    is: one shorter than 2 characters is refused (IndexError, trusted or not). trusted=True (the folder's code is
    trusted): transformers then loads the class it takes by dynamic_module_utils.get_class_from_dynamic_module,
    which splits it as [repo--]module.Class, so a string (its class would be its second character) and a class
    path of no such form (["X", ""], "a.b.C", "tok.", "--tok.X") are refused; untrusted it never splits it (a
    folder with a tokenizer class of transformers' own loads). config.json's AutoTokenizer of nulls is left
    alone: transformers loads the folder's tokenizer all the same."""
    if "auto_map" not in cfg:
        return
    auto_map = cfg["auto_map"]
    if tokenizer:
        _check_tokenizer_entry(auto_map, where, class_read, trusted)
        return
    if not isinstance(auto_map, Mapping):
        raise BadInput(f"{where}: 'auto_map' must be a JSON object, not {_short_repr(auto_map)}")
    for name, value in auto_map.items():
        # a list's items are never read one by one from config.json: transformers 5 reads no AutoTokenizer there
        # (tokenizer_config.json's is the one it reads), and of a model class's list it tests `"--" in value`
        # and, trusted, splits it (AttributeError) whatever its items: ["x.Y", null] and [5, "X"] alike
        if isinstance(value, (str, list)):
            continue
        raise BadInput(f"{where}: 'auto_map' must map names to strings or lists of strings, not "
                       f"{_short_repr(name)}: {_short_repr(value)}")


def _check_tokenizer_entry(auto_map: Any, where: str, class_read: bool, trusted: bool) -> None:
    """check_auto_map of a tokenizer_config.json: the tokenizer's classes as AutoTokenizer reads them."""
    if isinstance(auto_map, list):  # the legacy form: the classes themselves
        entry, which = auto_map, ""
    elif isinstance(auto_map, Mapping):
        entry, which = auto_map.get("AutoTokenizer"), " for 'AutoTokenizer'"
    else:  # transformers calls auto_map.get("AutoTokenizer")
        raise BadInput(f"{where}: 'auto_map' must be a JSON object, not {_short_repr(auto_map)}")
    if not class_read or entry is None:
        return
    if isinstance(entry, str):  # transformers takes entry[1] (else entry[0]) as it does of the list
        if len(entry) < 2 or trusted:  # "X"[1]: IndexError; trusted, a class path of one character
            raise BadInput(f"{where}: 'auto_map' names a string{which} ({_short_repr(entry)}) where transformers reads a "
                           "list, [slow class, fast class]: write the class in such a list (null for a class the "
                           "tokenizer lacks), or remove the key")
        return
    fix = "give the tokenizer's class path, or remove the key"
    if entry == []:  # transformers reads entry[1]: IndexError
        raise BadInput(f"{where}: 'auto_map' names no class{which} ([]): {fix}")
    if not isinstance(entry, list):  # under AutoTokenizer: a number, an object (entry[1]: TypeError, KeyError)
        raise BadInput(f"{where}: 'auto_map' must map names to strings or lists of strings, not "
                       f"'AutoTokenizer': {_short_repr(entry)}")
    if len(entry) < 2:  # transformers reads entry[1], the fast class: IndexError
        raise BadInput(f"{where}: 'auto_map' names one class{which} ({_short_repr(entry)}) where transformers reads "
                       "two, [slow class, fast class]: give both (null for a class the tokenizer lacks), or remove "
                       "the key")
    # transformers takes the fast class, else the slow one, and reads nothing else of the list: the slow class
    # beside a fast one ([5, "tok.X"]) and any third item are never read, and load
    taken = entry[1] if entry[1] is not None else entry[0]
    if taken is None:  # "argument of type 'NoneType' is not iterable"
        raise BadInput(f"{where}: 'auto_map' names no class{which} ({_short_repr(entry)}): {fix}")
    if not isinstance(taken, str) and (trusted or not _dashes_read(taken)):
        # [null, 5]: `"--" in 5` is a TypeError, trusted or not; [null, ["x"]] passes that test and, trusted,
        # get_class_from_dynamic_module splits it ('list' object has no attribute 'split')
        raise BadInput(f"{where}: 'auto_map' lists {_short_repr(entry)}{which} where transformers reads [slow "
                       f"class, fast class]: {_short_repr(taken)} is no class name; give class paths as strings "
                       "(null for a class the tokenizer lacks), or remove the key")
    if trusted and not _loadable_class_path(taken):  # get_class_from_dynamic_module: "not enough values to unpack"
        raise BadInput(f"{where}: 'auto_map' names the class {_short_repr(taken)}{which} (give the tokenizer's "
                       "class path as module.Class (tokenization_x.XTokenizer), or remove the key)")


def _dashes_read(taken: Any) -> bool:
    """Whether transformers' untrusted read of the tokenizer class it takes passes for a `taken` that is no
    string: `"--" in taken` (a TypeError for a number or a boolean), then `taken.split("--")` when that holds
    (an AttributeError for a list or an object holding "--")."""
    try:
        return "--" not in taken
    except TypeError:
        return False


def _loadable_class_path(path: str) -> bool:
    """Whether transformers' get_class_from_dynamic_module can split `path`: `repo_id, ref = path.split("--")`
    when it holds "--" (a repo id of nothing is invalid), then `module, name = ref.split(".")`, and a class name
    of nothing is no attribute of the module. (A module of nothing is a file named .py, which can load.)"""
    repo, dashes, ref = path.rpartition("--")
    if dashes and (not repo or "--" in repo):
        return False
    parts = ref.split(".")
    return len(parts) == 2 and bool(parts[1])


def _short_repr(value: Any) -> str:
    """repr(value) for a message, a long one short (archs.shown, the rule of units.echoed: a list of 5,000
    entries or a class path of 5,000 characters is not all shown)."""
    return archs.shown(value)


def spec_from_layout(
    lay: archs.Layout, cfg: Mapping[str, Any], spec_id: str, source: SpecSource, model_type: str
) -> ModelSpec:
    return ModelSpec(
        id=spec_id,
        source=source,
        model_type=model_type,
        architecture=lay.architecture,
        task=lay.task,
        hidden_size=lay.hidden_size,
        num_layers=lay.num_layers,
        num_attention_heads=lay.num_attention_heads,
        num_key_value_heads=lay.num_key_value_heads,
        head_dim=lay.head_dim,
        intermediate_size=lay.intermediate_size,
        vocab_size=lay.vocab_size,
        max_position_embeddings=lay.max_position_embeddings,
        tie_word_embeddings=lay.tie_word_embeddings,
        hidden_act=lay.hidden_act,
        gated_mlp=lay.gated_mlp,
        norm=lay.norm,  # type: ignore[arg-type]
        linears=tuple(lay.linears),
        tensors=tuple(lay.tensors),
        num_experts=lay.num_experts,
        num_experts_per_tok=lay.num_experts_per_tok,
        moe_intermediate_size=lay.moe_intermediate_size,
        notes=tuple(lay.notes),
        named_head=lay.named_head,
        tied_linears=tuple(lay.tied_linears),
        config=MappingProxyType(dict(cfg)),
        dropout=lay.dropout,
    )
