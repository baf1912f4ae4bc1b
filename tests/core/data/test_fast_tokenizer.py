"""Counting tokens with tokenizer.json through the tokenizers library alone (lorplan.core.data.fast_tokenizer)
gives the counts transformers' AutoTokenizer gives, on the real MiniLM (BERT WordPiece) and on byte-level BPE
tokenizers trained here; folders that need transformers go to it; and `lorplan profile --model` with a plain
tokenizer.json no longer imports transformers or torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from data_formats import copy_tokenizer, write
from test_data_counts import ALPACA_ROWS, CHAT_ROWS, PC_ROWS, TEXT_ROWS

from lorplan.core.data import fast_tokenizer, profile_dataset
from lorplan.core.data.counting import RealTokenizer
from lorplan.core.data.example import Example
from lorplan.core.data.fast_tokenizer import FastTokenizer, load_fast
from lorplan.core.data.tokenizer import TokenizerChoice

# Text that exercises normalizers, pre-tokenizers and added tokens: accents, CJK, control characters, the
# special tokens' texts (exact, lower-cased, glued to words), long words, empty and blank strings.
HARD_TEXTS = [
    "", " ", "\t\n", "Héllo wörld, naïve café!", "中文字符和English混合", "ＦＵＬＬＷＩＤＴＨ", "tab\there\x00nul\x07bell",
    "[SEP]", "[sep]", "x[SEP]y", "[CLS] starts", "<eos>", "text<eos>", "<bos> first", "<EOS>", "a" * 150,
    "antidisestablishmentarianism " * 20, "emoji 🙂🚀 and ZWJ 👩‍💻", "  leading and trailing  ", "1,234.56 + 7e-3",
]
EXTRA_ROWS = [{"text": t} for t in HARD_TEXTS] + [
    {"prompt": "[SEP] p ", "completion": "c <eos>"}, {"prompt": "Q: é? ", "completion": ""},
    {"messages": [{"role": "user", "content": "[SEP] hi"}, {"role": "assistant", "content": "yo <eos>"}]},
]


def _examples() -> list[Example]:
    out = [Example(0, "text", text=t) for t in HARD_TEXTS + [r["text"] for r in TEXT_ROWS]]
    out += [Example(0, "prompt-completion", prompt=r["prompt"], completion=r["completion"]) for r in PC_ROWS]
    out += [Example(0, "prompt-completion", prompt="[SEP] p ", completion="c <eos>"),
            Example(0, "prompt-completion", prompt="x", completion="[sep]")]
    out += [Example(0, "messages", messages=tuple((m["role"], m["content"]) for m in r["messages"]))
            for r in CHAT_ROWS]
    out += [Example(0, "messages", messages=(("user", "hi"), ("assistant", "yo <eos>"))),
            Example(0, "messages", messages=(("user", "q"),))]
    return out


def _bpe_folder(folder: Path, *, bos: bool, tokenizer_class: str | None = None, lowercase: bool = False) -> Path:
    """A byte-level BPE with <eos> (and a <bos> its post-processor puts first, as Llama 3's), trained here and
    saved by transformers' PreTrainedTokenizerFast (tokenizer_class TokenizersBackend unless given)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    if lowercase:
        t.normalizer = normalizers.Lowercase()
    corpus = [r["text"] for r in TEXT_ROWS] + HARD_TEXTS + ["the cat sat on the mat, said the model"] * 20
    t.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<eos>", "<bos>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if bos:
        t.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A $B",
                                                         special_tokens=[("<bos>", t.token_to_id("<bos>"))])
    specials = {"eos_token": "<eos>", **({"bos_token": "<bos>"} if bos else {})}
    PreTrainedTokenizerFast(tokenizer_object=t, model_max_length=64, **specials).save_pretrained(str(folder))
    if tokenizer_class is not None:
        _edit_config(folder, tokenizer_class=tokenizer_class)
    return folder


def _edit_config(folder: Path, **changes) -> None:
    path = folder / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _both_ways(folder: Path, monkeypatch) -> tuple[RealTokenizer, RealTokenizer]:
    """(the counter lorplan builds, the same counter with transformers' AutoTokenizer forced)."""
    choice = TokenizerChoice(str(folder), str(folder))
    ours = RealTokenizer(choice)
    with monkeypatch.context() as m:
        m.setattr(fast_tokenizer, "load_fast", lambda _folder: None)
        theirs = RealTokenizer(choice)
    return ours, theirs


FAST_CASES = ["minilm", "bpe", "bpe-bos", "bpe-pretrainedfast", "bpe-lowercase"]


@pytest.fixture
def fast_folder(request, minilm_dir, tmp_path) -> Path:
    kind = request.param
    if kind == "minilm":
        return minilm_dir
    return _bpe_folder(tmp_path / kind, bos=kind == "bpe-bos", lowercase=kind == "bpe-lowercase",
                       tokenizer_class="PreTrainedTokenizerFast" if kind == "bpe-pretrainedfast" else None)


@pytest.mark.parametrize("fast_folder", FAST_CASES, indirect=True)
def test_fast_path_counts_equal_transformers(fast_folder, monkeypatch):
    ours, theirs = _both_ways(fast_folder, monkeypatch)
    assert isinstance(ours.tok, FastTokenizer)  # the fast path was taken
    assert type(theirs.tok).__module__.startswith("transformers")
    for attr in ("eos_token_id", "sep_token_id", "eos_token", "sep_token"):
        assert getattr(ours.tok, attr) == getattr(theirs.tok, attr), attr
    assert ours.model_max_length == theirs.model_max_length
    assert (ours.encoder.pre, ours.encoder.post, ours.encoder.eos) == \
        (theirs.encoder.pre, theirs.encoder.post, theirs.encoder.eos)
    examples = _examples()
    for mask in (True, False):
        ours.encoder.mask_prompt = theirs.encoder.mask_prompt = mask
        assert ours.count(examples) == theirs.count(examples)
        assert ours.encoder.encode_many(examples) == theirs.encoder.encode_many(examples)
    texts = HARD_TEXTS
    assert ours.tok(texts, add_special_tokens=True)["input_ids"] == \
        [list(x) for x in theirs.tok(texts, add_special_tokens=True)["input_ids"]]


@pytest.mark.parametrize("fast_folder", ["minilm", "bpe-bos"], indirect=True)
@pytest.mark.parametrize("mask", [True, False])
def test_profiles_are_identical_both_ways(fast_folder, mask, monkeypatch, tmp_path):
    rows = TEXT_ROWS + PC_ROWS + ALPACA_ROWS + CHAT_ROWS + EXTRA_ROWS
    profiles = []
    for name in ("ours", "transformers"):
        by_schema = {}
        for schema, keep in (("text", "text"), ("prompt-completion", "prompt"), ("alpaca", "instruction"),
                             ("messages", "messages")):
            data = write([r for r in rows if keep in r], tmp_path / name / schema, "jsonl")
            with monkeypatch.context() as m:
                if name == "transformers":
                    m.setattr(fast_tokenizer, "load_fast", lambda _folder: None)
                by_schema[schema] = profile_dataset(data, tokenizer=str(fast_folder), mask=mask, seq_len=16)
        profiles.append(by_schema)
    ours, theirs = profiles
    for schema in ours:
        a, b = ours[schema].to_json(), theirs[schema].to_json()
        a.pop("path"), b.pop("path")
        assert a == b, schema
        assert a["tokens"] > a["examples"]


def test_bert_config_that_rebuilds_the_normalizer_goes_to_transformers(minilm_dir, monkeypatch, tmp_path):
    """transformers' BertTokenizer rebuilds the normalizer from tokenizer_config.json: with do_lower_case false
    it keeps case though tokenizer.json lower-cases, so tokenizer.json alone would count otherwise."""
    folder = copy_tokenizer(minilm_dir, tmp_path / "cased")
    _edit_config(folder, do_lower_case=False)
    assert load_fast(folder) is None
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ours, theirs = _both_ways(folder, monkeypatch)
    text = "Unbelievably ANTIDISESTABLISHMENTARIANISM"
    assert len(raw.encode(text).ids) != len(theirs.tok(text)["input_ids"])  # why the fast path stays out
    example = [Example(0, "text", text=text)]
    assert ours.count(example) == theirs.count(example)


@pytest.mark.parametrize("change", [
    "chat_template", "chat_template_file", "auto_map", "model_auto_map", "add_bos_token", "llama_class",
    "no_class", "eos_not_added", "added_tokens_decoder_differs", "extra_specials", "no_config",
])
def test_folders_that_need_transformers_are_left_to_it(change, tmp_path):
    folder = _bpe_folder(tmp_path / "bpe", bos=True)
    assert isinstance(load_fast(folder), FastTokenizer)
    if change == "chat_template":
        _edit_config(folder, chat_template="{% for m in messages %}{{ m['content'] }}{% endfor %}")
    elif change == "chat_template_file":
        (folder / "chat_template.jinja").write_text("{{ messages }}")
    elif change == "auto_map":
        _edit_config(folder, auto_map={"AutoTokenizer": ["tok.Evil", None]})
    elif change == "model_auto_map":
        (folder / "config.json").write_text(json.dumps({"model_type": "llama", "auto_map": {"AutoConfig": "x.C"}}))
    elif change == "add_bos_token":
        _edit_config(folder, add_bos_token=False)
    elif change == "llama_class":
        _edit_config(folder, tokenizer_class="LlamaTokenizer")
    elif change == "no_class":
        config = json.loads((folder / "tokenizer_config.json").read_text())
        del config["tokenizer_class"]
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    elif change == "eos_not_added":
        _edit_config(folder, eos_token="the")  # a vocabulary token, not an added special one
    elif change == "added_tokens_decoder_differs":
        _edit_config(folder, added_tokens_decoder={"0": {"content": "<eos>", "special": True, "normalized": True,
                                                         "lstrip": False, "rstrip": False, "single_word": False}})
    elif change == "extra_specials":
        _edit_config(folder, extra_special_tokens=["<tool>"])
    elif change == "no_config":
        (folder / "tokenizer_config.json").unlink()
    assert load_fast(folder) is None


def test_a_tokenizer_json_no_reader_can_read_is_refused_naming_it(tmp_path):
    # transformers fails on it too, with a line that names no file: it was left to transformers
    from lorplan.core.errors import BadInput

    folder = _bpe_folder(tmp_path / "bpe", bos=True)
    (folder / "tokenizer.json").write_text("{not json")
    with pytest.raises(BadInput, match=r"^tokenizer\.json at .*tokenizer\.json is not valid JSON \(line 1: "):
        load_fast(folder)


def test_profile_with_a_tokenizer_json_imports_neither_transformers_nor_torch(minilm_dir, tmp_path):
    data = write(TEXT_ROWS + PC_ROWS, tmp_path, "jsonl")
    code = ("import sys, json; from lorplan.cli import main; rc = main(['profile', '--model', sys.argv[1], "
            "'--data', sys.argv[2], '--json']); "
            "print(json.dumps([rc, 'transformers' in sys.modules, 'torch' in sys.modules]), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, str(minilm_dir), str(data)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stderr.strip().splitlines()[-1]) == [0, False, False]
    assert json.loads(out.stdout)["tokens"] > 0


def test_model_type_whose_tokenizer_class_transformers_overrides_goes_to_transformers(tmp_path, monkeypatch):
    """For a config.json model_type in transformers' MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS (qwen2),
    AutoTokenizer loads Qwen2Tokenizer whatever tokenizer_config.json names, and it splits digits one by one
    where tokenizer.json's BPE merges them: the fast path counted otherwise before."""
    from transformers.models.auto.tokenization_auto import MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS

    assert set(MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS) <= fast_tokenizer.HUB_CLASS_OVERRIDDEN
    folder = _bpe_folder(tmp_path / "qwen", bos=False)
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    assert load_fast(folder) is None
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ours, theirs = _both_ways(folder, monkeypatch)
    text = "Hello world, 1234567 cats!"
    assert raw.encode(text).ids != theirs.tok(text)["input_ids"]  # why the fast path stays out
    example = [Example(0, "text", text=text)]
    assert ours.count(example) == theirs.count(example)
    (folder / "config.json").write_text(json.dumps({"model_type": ["qwen2"]}))  # odd JSON: no raise
    assert isinstance(load_fast(folder), FastTokenizer)
