"""A model folder's tokenizer.json loaded with the `tokenizers` library alone, for counting tokens without
importing transformers (and torch, which transformers imports): about 3 s of every `lorplan profile --model M`.

`load_fast(folder)` returns a FastTokenizer only when transformers' AutoTokenizer would tokenize exactly as
tokenizer.json does, so that the counts are identical; else None, and the caller loads AutoTokenizer. What
transformers (5.x) changes on load, and why each case goes to it:
- a chat template (tokenizer_config's chat_template, chat_template.jinja / .json): rendering needs
  apply_chat_template (jinja and transformers' template context);
- auto_map in tokenizer_config.json or config.json: the tokenizer is Python code of the model's (refused or run
  only with --trust-remote-code, as transformers decides);
- a tokenizer_class other than the generic backend (TokenizersBackend, PreTrainedTokenizerFast) and BERT's:
  model classes (Llama, GPT-2, T5...) rebuild the backend from their own arguments (add_prefix_space, legacy,
  add_bos_token...); BERT's rebuild is checked piece by piece against tokenizer.json (_bert_matches);
- add_bos_token / add_eos_token / add_prefix_space / split_special_tokens in tokenizer_config.json (the backend's
  post-processor or pre-tokenizer is rewritten), additional special tokens, added_tokens.json;
- a named special token (eos_token, sep_token...) that is not an added special, unnormalized token of
  tokenizer.json, or an added_tokens_decoder entry that differs from it (transformers adds or redefines it,
  which changes how text splits);
- a config.json model_type transformers lists as naming the wrong tokenizer class on the Hub
  (MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS, copied as HUB_CLASS_OVERRIDDEN): for Qwen2 and others it loads
  its own class (Qwen2Tokenizer), which rebuilds the backend whatever tokenizer_class says;
- a vocabulary over 100,000 tokens (transformers may patch a Mistral pre-tokenizer regex);
- no tokenizer.json, or one the tokenizers library cannot read (transformers converts or names the error).
tests/core/data/test_fast_tokenizer.py profiles the same data both ways and compares every count.
"""

from __future__ import annotations

import json
from pathlib import Path

GENERIC_CLASSES = frozenset({"TokenizersBackend", "PreTrainedTokenizerFast"})
BERT_CLASSES = frozenset({"BertTokenizer", "BertTokenizerFast"})
SPECIAL_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# transformers rewrites the post-processor when add_bos_token / add_eos_token is present at all (False too)
PRESENT_KEYS = ("add_bos_token", "add_eos_token", "add_prefix_space")
SET_KEYS = ("split_special_tokens", "additional_special_tokens", "extra_special_tokens", "auto_map", "chat_template")
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json", "additional_chat_templates", "added_tokens.json")
# transformers' MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS (5.x, models/auto/tokenization_auto.py): for these
# config.json model types AutoTokenizer loads its registered class instead of tokenizer_config's (Qwen2Tokenizer
# for qwen2), which rebuilds the backend; tests check that transformers' set is inside this one
HUB_CLASS_OVERRIDDEN = frozenset({
    "arctic", "chatlm", "cohere_asr", "ernie4_5", "ernie4_5_moe", "fuyu", "h2ovl_chat", "hyperclovax",
    "hyperclovax_vision_v2", "hyperclovax_vlm", "internlm2", "internlm3", "iquestcoder", "jamba", "llava",
    "llava_next", "minicpm3", "minicpmv", "minimax_m2", "modernbert", "modernbert-decoder", "molmo", "molmo2",
    "nemotron", "nvfp4", "opencua", "openvla", "paddleocr_vl", "phi3", "phi3_v", "phimoe", "qwen2", "qwen3_5",
    "qwen3_5_moe", "qwen3_5_moe_text", "qwen4_exp", "siglip2", "smolvlm", "step3_vl", "vipllava",
})
MISTRAL_PATCH_VOCAB = 100_000  # transformers' _patch_mistral_regex looks at vocabularies above this size
VERY_LARGE = 10**7  # a model_max_length at or above this is transformers' "no limit" placeholder


class FastTokenizer:
    """The part of a Hugging Face tokenizer that lorplan.core.data.encode.Encoder uses: `tok(text,
    add_special_tokens=...)["input_ids"]`, backend_tokenizer, eos/sep tokens and ids, chat_template (None),
    model_max_length (tokens, or None when the folder names no real limit)."""

    chat_template = None

    def __init__(self, backend, specials: dict[str, str], model_max_length: int | None):
        self.backend_tokenizer = backend
        self.eos_token = specials.get("eos_token")
        self.sep_token = specials.get("sep_token")
        self.eos_token_id = backend.token_to_id(self.eos_token) if self.eos_token else None
        self.sep_token_id = backend.token_to_id(self.sep_token) if self.sep_token else None
        self.model_max_length = model_max_length

    def __call__(self, text: str | list[str], add_special_tokens: bool = True) -> dict:
        if isinstance(text, str):
            return {"input_ids": self.backend_tokenizer.encode(text, add_special_tokens=add_special_tokens).ids}
        encodings = self.backend_tokenizer.encode_batch(text, add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encodings]}


def _read_json(path: Path) -> dict | None:
    """A JSON file of the folder as transformers finds it: None when it is not a regular file (missing, a
    folder, a link to nothing; a pipe, whose read would wait for a writer for ever), which transformers skips
    too. One that is there but cannot be read as a JSON object is BadInput naming it (sources.read_json_object):
    transformers fails on it as well, with a line that names no file ("Expecting value: line 1 column 1"), Python's
    advice to call sys.set_int_max_str_digits() or a RecursionError traceback."""
    if not path.is_file():
        return None
    from lorplan.core.model.sources import read_json_object

    return read_json_object(path, f"{path.name} at {path}")


def _content(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _specials(config: dict, mapped: dict | None) -> dict[str, str | dict] | None:
    """The named special tokens as transformers reads them: tokenizer_config.json, overridden by
    special_tokens_map.json (`mapped`, None when there is none; load_fast reads it only when the config has no
    added_tokens_decoder, as transformers does). None when the map adds special tokens of its own."""
    specials = {k: config[k] for k in SPECIAL_NAMES if config.get(k)}
    if mapped is not None:
        if any(mapped.get(k) for k in ("additional_special_tokens", "extra_special_tokens")):
            return None
        specials.update({k: v for k, v in mapped.items() if k in SPECIAL_NAMES and v})
    return specials


def _added_tokens_match(tokenizer_json: dict, config: dict, specials: dict) -> bool:
    """Every named special token is an added, special, unnormalized token of tokenizer.json (with the flags a
    dict value names), and every added_tokens_decoder entry is one of its added tokens, id and flags alike."""
    added = {t.get("content"): t for t in tokenizer_json.get("added_tokens") or () if isinstance(t, dict)}
    for value in specials.values():
        token = added.get(_content(value))
        if token is None or not token.get("special") or token.get("normalized"):
            return False
        if isinstance(value, dict) and any(token.get(k) != v for k, v in value.items() if k != "special"):
            return False
    decoder = config.get("added_tokens_decoder") or {}
    if not isinstance(decoder, dict):
        return False
    for idx, entry in decoder.items():
        token = added.get(entry.get("content")) if isinstance(entry, dict) else None
        if token is None or str(token.get("id")) != str(idx):
            return False
        if any(token.get(k) != v for k, v in entry.items() if k != "id"):
            return False
    return True


def _bert_matches(backend, tokenizer_json: dict, config: dict, specials: dict) -> bool:
    """Whether tokenizer.json is what transformers' BertTokenizer rebuilds from tokenizer_config.json: its
    WordPiece model (unk token, "##", 100 characters a word), BertNormalizer, BertPreTokenizer and
    [CLS] $A [SEP] post-processor; and it has no added token beyond the named special ones (the rebuild keeps
    only those and added_tokens_decoder's)."""
    from tokenizers import normalizers, pre_tokenizers, processors

    model = tokenizer_json.get("model") or {}
    unk = _content(specials.get("unk_token", "[UNK]"))
    if (model.get("type"), model.get("unk_token"), model.get("continuing_subword_prefix"),
            model.get("max_input_chars_per_word")) != ("WordPiece", unk, "##", 100):
        return False
    kept = {_content(v) for v in specials.values()} | {
        e.get("content") for e in (config.get("added_tokens_decoder") or {}).values() if isinstance(e, dict)}
    if any(t.get("content") not in kept for t in tokenizer_json.get("added_tokens") or ()):
        return False
    cls, sep = _content(specials.get("cls_token", "[CLS]")), _content(specials.get("sep_token", "[SEP]"))
    cls_id, sep_id = backend.token_to_id(cls), backend.token_to_id(sep)
    if cls_id is None or sep_id is None:
        return False
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=config.get("tokenize_chinese_chars", True),
        strip_accents=config.get("strip_accents"), lowercase=config.get("do_lower_case", True))
    post = processors.TemplateProcessing(single=f"{cls}:0 $A:0 {sep}:0",
                                         pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
                                         special_tokens=[(cls, cls_id), (sep, sep_id)])
    return (_same(backend.normalizer, normalizer, "normalizer")
            and _same(backend.pre_tokenizer, pre_tokenizers.BertPreTokenizer(), "pre_tokenizer")
            and _same(backend.post_processor, post, "post_processor"))


def _same(piece, expected, name: str) -> bool:
    """Two tokenizers components (`name`: normalizer, pre_tokenizer or post_processor) alike, compared as the
    JSON the library writes for them."""
    from tokenizers import Tokenizer, models

    def as_json(component) -> dict | None:
        if component is None:
            return None
        holder = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
        setattr(holder, name, component)
        return json.loads(holder.to_str())[name]

    return as_json(piece) == as_json(expected)


def read_json_files(folder: Path, *, tokenizer_json: bool = True
                    ) -> tuple[dict | None, dict | None, dict | None, dict | None]:
    """(tokenizer_config.json, config.json, tokenizer.json, special_tokens_map.json) of `folder` as dicts, None
    for one that is not there (_read_json), the map only when transformers reads it (tokenizer_config.json has no
    added_tokens_decoder). BadInput naming the first that is there and no JSON object transformers could read.
    tokenizer_json=False leaves tokenizer.json unread (None): a real one is megabytes (7-17 MB for Llama 3 or
    Qwen, about 0.1 s of json), so a folder left to transformers has it read here only after transformers
    failed on the folder, to name it (counting's AutoTokenizer, train's load_tokenizer)."""
    config = _read_json(folder / "tokenizer_config.json")
    model = _read_json(folder / "config.json")
    tokenizer = _read_json(folder / "tokenizer.json") if tokenizer_json else None
    mapped = None if "added_tokens_decoder" in (config or {}) else _read_json(folder / "special_tokens_map.json")
    return config, model, tokenizer, mapped


def load_fast(folder: str | Path) -> FastTokenizer | None:
    """The folder's tokenizer.json as a FastTokenizer when AutoTokenizer would tokenize exactly as it does
    (module docstring), else None: a folder it cannot judge is left to transformers. BadInput naming the file
    when one of the small JSON files transformers reads (tokenizer_config.json, config.json,
    special_tokens_map.json) is there but is no JSON object it could read (_read_json), or tokenizer.json is, when
    the folder is not left to transformers before it is needed (it is read only then: read_json_files)."""
    folder = Path(folder)
    config, model, _, mapped = read_json_files(folder, tokenizer_json=False)
    if config is None or not (folder / "tokenizer.json").is_file():
        return None
    try:
        if _left_to_transformers(folder, config, model):
            return None
    except (AttributeError, TypeError, ValueError, KeyError):  # a field of an unexpected type: transformers names it
        return None
    tokenizer_json = _read_json(folder / "tokenizer.json")
    try:
        return _judged(config, tokenizer_json, mapped)
    except (AttributeError, TypeError, ValueError, KeyError):
        return None


def _left_to_transformers(folder: Path, config: dict, model: dict | None) -> bool:
    """What load_fast sees without tokenizer.json: a class, key, file or model type transformers rebuilds or
    overrides the backend for (module docstring)."""
    cls = config.get("tokenizer_class")
    if cls not in GENERIC_CLASSES | BERT_CLASSES or any(k in config for k in PRESENT_KEYS) or any(
            config.get(k) for k in SET_KEYS):
        return True
    if any((folder / name).exists() for name in TEMPLATE_FILES):
        return True
    if model is not None:
        named = {model.get(k) for k in ("model_type", "model_name") if isinstance(model.get(k), str)}
        if model.get("auto_map") or HUB_CLASS_OVERRIDDEN.intersection(named):
            return True
    return False


def _judged(config: dict, tokenizer_json: dict, mapped: dict | None) -> FastTokenizer | None:
    """load_fast's judgement of tokenizer.json, read, for a folder _left_to_transformers does not give away."""
    cls = config.get("tokenizer_class")
    specials = _specials(config, mapped)
    if specials is None or not _added_tokens_match(tokenizer_json, config, specials):
        return None
    from tokenizers import Tokenizer

    try:
        backend = Tokenizer.from_str(json.dumps(tokenizer_json))
    except Exception:  # the library raises plain Exception for a file it cannot read; transformers names it
        return None
    if backend.get_vocab_size(with_added_tokens=True) > MISTRAL_PATCH_VOCAB:
        return None
    if cls in BERT_CLASSES and not _bert_matches(backend, tokenizer_json, config, specials):
        return None
    backend.no_truncation()
    backend.no_padding()
    limit = config.get("model_max_length", config.get("max_len"))  # transformers' order
    limit = int(limit) if isinstance(limit, int) and 0 < limit < VERY_LARGE else None
    return FastTokenizer(backend, {k: _content(v) for k, v in specials.items()}, limit)
