"""One rule for trained tokens: lorplan.core.data.encode, checked against the profile's batched counter and
the training engine's data path (lorplan.train.data, used by `lorplan train` and probes), on every schema, with
real tokenizers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_formats import copy_tokenizer, write
from test_data_counts import ALPACA_ROWS, CHAT_ROWS, PC_ROWS, TEXT_ROWS, TOKENIZED_ROWS

from lorplan.core.data import load_examples, profile_dataset
from lorplan.core.data.counting import make_counter
from lorplan.core.data.encode import IGNORE_INDEX, encode_example
from lorplan.core.data.tokenizer import TokenizerChoice
from lorplan.train.data import tokenize

BIG = 4096  # a seq_len that truncates nothing here
# Rows that end with the EOS text ([SEP] for these tokenizers): no second EOS, in both code paths.
EOS_TEXT_ROWS = [{"text": "it ends with its own end [SEP]"}, {"text": "[sep]"}, {"text": "[SEP] then more"}]
EOS_PC_ROWS = [{"prompt": "say stop ", "completion": "stop [SEP]"}, {"prompt": "[SEP]", "completion": ""}]
SCHEMA_ROWS = {
    "text": TEXT_ROWS + EOS_TEXT_ROWS, "prompt-completion": PC_ROWS + EOS_PC_ROWS, "alpaca": ALPACA_ROWS, "messages": CHAT_ROWS,
    "tokenized": TOKENIZED_ROWS,
}


@pytest.fixture
def bos_eos_dir(chat_dir, tmp_path) -> Path:
    """MiniLM's vocabulary (and the test chat template) as a decoder-style tokenizer: [CLS] before a sequence (like a BOS), nothing after, and
    [SEP] as its eos_token, so the EOS is appended by lorplan (the MiniLM tokenizer ends sequences itself)."""
    folder = copy_tokenizer(chat_dir, tmp_path / "bos-eos")  # with the chat template of conftest.py
    spec = json.loads((folder / "tokenizer.json").read_text())
    cls = {"SpecialToken": {"id": "[CLS]", "type_id": 0}}
    seq = {"Sequence": {"id": "A", "type_id": 0}}
    spec["post_processor"] = {"type": "TemplateProcessing", "single": [cls, seq], "pair": [cls, seq],
                              "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]}}}
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(tokenizer_class="PreTrainedTokenizerFast", eos_token="[SEP]")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def _load(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def _trained(labels) -> int:
    return sum(1 for v in labels if v != IGNORE_INDEX)


@pytest.mark.parametrize("kind", ["minilm", "chat", "bos-eos"])
@pytest.mark.parametrize("mask", [True, False])
def test_profile_fast_path_equals_encode_example_on_every_schema(kind, mask, minilm_dir, chat_dir, bos_eos_dir,
                                                                   tmp_path):
    folder = {"minilm": minilm_dir, "chat": chat_dir, "bos-eos": bos_eos_dir}[kind]
    tok = _load(folder)
    counter = make_counter(TokenizerChoice(str(folder), kind), mask=mask)
    for schema, rows in SCHEMA_ROWS.items():
        examples = load_examples(write(rows, tmp_path / schema, "jsonl"))
        assert {e.schema for e in examples} == {schema}
        encoded = [encode_example(tok, e, mask_prompt=mask) for e in examples]
        assert counter.count(examples) == [(len(e.input_ids), e.trained) for e in encoded], schema
        for e in encoded:
            assert len(e.labels) == len(e.input_ids)
            assert all(lab in (IGNORE_INDEX, t) for lab, t in zip(e.labels, e.input_ids, strict=True))
            if not mask and schema != "tokenized":
                assert e.labels == e.input_ids


def test_the_rule_on_each_schema(chat_tok, bos_eos_dir):
    from lorplan.core.data import Example

    # Chat: exactly the positions transformers marks from the template's {% generation %} blocks, every turn.
    msgs = CHAT_ROWS[0]["messages"]
    ex = Example(1, "messages", messages=tuple((m["role"], m["content"]) for m in msgs))
    enc = encode_example(chat_tok, ex)
    ref = chat_tok.apply_chat_template(msgs, return_dict=True, return_assistant_tokens_mask=True)
    assert list(enc.input_ids) == ref["input_ids"]
    assert [lab != IGNORE_INDEX for lab in enc.labels] == [bool(m) for m in ref["assistant_masks"]]
    # Prompt/completion with MiniLM ([CLS] ... [SEP], no EOS token: SEP ends the sequence, not appended twice).
    pc = Example(2, "prompt-completion", prompt="what is two plus two ", completion="four")
    enc = encode_example(chat_tok, pc)
    assert list(enc.input_ids) == chat_tok("what is two plus two four")["input_ids"]
    assert [t for t in enc.labels if t != IGNORE_INDEX] == chat_tok("four", add_special_tokens=False)["input_ids"] + [
        chat_tok.sep_token_id]
    # A BOS-only tokenizer with an EOS: EOS appended and trained; the BOS is masked with the prompt.
    tok = _load(bos_eos_dir)
    enc = encode_example(tok, pc)
    assert enc.input_ids[0] == tok.cls_token_id and enc.input_ids[-1] == tok.eos_token_id
    assert enc.labels[0] == IGNORE_INDEX and enc.labels[-1] == tok.eos_token_id
    assert enc.trained == len(tok("four", add_special_tokens=False)["input_ids"]) + 1
    text = encode_example(tok, Example(3, "text", text="hello world"))
    assert text.input_ids == (*tok("hello world")["input_ids"], tok.eos_token_id) and text.labels == text.input_ids
    assert encode_example(tok, Example(3, "text", text="hello world"), add_eos=False).input_ids[-1] != tok.eos_token_id


@pytest.mark.parametrize("schema", list(SCHEMA_ROWS) + ["messages-no-template"])
@pytest.mark.parametrize("kind", ["chat", "bos-eos"])
def test_profile_train_and_probe_train_the_same_tokens(schema, kind, tmp_path, minilm_dir, chat_dir, bos_eos_dir):
    """Counts are before the causal shift: the number of labels != -100 in each sequence as built."""
    folder = {"chat": chat_dir, "bos-eos": bos_eos_dir}[kind]
    if schema == "messages-no-template":
        folder = minilm_dir
    rows = SCHEMA_ROWS[schema.removesuffix("-no-template")]
    path = write(rows, tmp_path / "data", "jsonl")
    profile = profile_dataset(path, tokenizer=str(folder), seq_len=BIG)
    assert profile.truncated_tokens == 0 and 0 < profile.trained_tokens <= profile.tokens
    tok = _load(folder)
    examples = load_examples(path)
    items = tokenize(examples, tok, task="causal-lm", seq_len=BIG, packing=False)
    assert sum(_trained(i.labels) for i in items) == profile.trained_tokens
    assert sum(len(i.input_ids) for i in items) == profile.tokens
    if schema in ("prompt-completion", "alpaca", "messages"):
        assert profile.trained_tokens < profile.tokens  # the prompt really is masked
    everything = profile_dataset(path, tokenizer=str(folder), seq_len=BIG, mask=False)
    expected_all = profile.trained_tokens if schema == "tokenized" else profile.tokens
    assert everything.trained_tokens == expected_all
