"""Review of the OpenAI-style chat reading: an assistant turn that holds a tool call is skipped whatever its
content (null, "", an empty parts list or text beside the call), since lorplan renders no call and reading the
content alone trains a turn without it; the Responses API's input_text/output_text parts are read as text; string
rows with the extra keys OpenAI exports carry read as before."""

from __future__ import annotations

import pytest
from data_formats import write

from lorplan.core.data import load_examples, profile_dataset
from lorplan.core.data.encode import IGNORE_INDEX
from lorplan.train.data import tokenize

CALL = [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]
GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _call_row(content) -> dict:
    return {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": content, "tool_calls": CALL},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."}]}


@pytest.mark.parametrize(("content", "said"), [
    ("", "without content"),
    ([], "without content"),
    ("Let me check.", "beside its content"),
    ([{"type": "text", "text": "Let me check."}], "beside its content"),
])
def test_a_tool_call_is_skipped_whatever_its_content(content, said, tmp_path, minilm_dir):
    path = write([GOOD, _call_row(content)], tmp_path, "jsonl")
    p = profile_dataset(path, tokenizer=str(minilm_dir))
    assert p.examples == 1
    assert [(pr.line, pr.reason) for pr in p.problems] == [
        (2, f"message 1 is a tool call (tool_calls) {said}, which lorplan does not train on")]
    assert [e.line for e in load_examples(path)] == [1]  # lorplan train reads the same rows


def test_an_empty_tool_calls_list_is_no_call(tmp_path):
    row = {"messages": [{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "hello", "tool_calls": [], "function_call": None}]}
    assert load_examples(write([row], tmp_path, "jsonl"))[0].messages == (("user", "hi"), ("assistant", "hello"))


def test_responses_api_text_parts_are_text(tmp_path, minilm_dir):
    row = {"messages": [
        {"role": "user", "content": [{"type": "input_text", "text": "Why is the sky "},
                                     {"type": "input_text", "text": "blue?"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Rayleigh scattering.",
                                           "annotations": []}]}]}
    plain = {"messages": [{"role": "user", "content": "Why is the sky blue?"},
                          {"role": "assistant", "content": "Rayleigh scattering."}]}
    path = write([row], tmp_path / "parts", "jsonl")
    assert load_examples(path)[0].messages == (("user", "Why is the sky blue?"), ("assistant", "Rayleigh scattering."))
    p = profile_dataset(path, tokenizer=str(minilm_dir))
    before = profile_dataset(write([plain], tmp_path / "plain", "jsonl"), tokenizer=str(minilm_dir))
    assert (p.examples, p.tokens, p.trained_tokens) == (1, before.tokens, before.trained_tokens)


@pytest.mark.parametrize("train_on_all", [False, True])
def test_string_rows_with_openai_extra_keys_read_as_before(train_on_all, tmp_path, chat_dir):
    """name, weight and tool_call_id beside string content change nothing; profile and train count alike."""
    from transformers import AutoTokenizer

    rows = [{"messages": [{"role": "system", "content": "Be brief.", "name": "ops"},
                          {"role": "user", "content": "hi", "name": "ann"},
                          {"role": "assistant", "content": "hello", "weight": 1}]},
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
            {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c1", "content": "y"},
                          {"role": "assistant", "content": "z"}]}]
    path = write(rows, tmp_path, "jsonl")
    examples = load_examples(path)
    assert [e.messages for e in examples] == [
        (("system", "Be brief."), ("user", "hi"), ("assistant", "hello")),
        (("user", "hi"), ("assistant", "hello")),
        (("user", "x"), ("tool", "y"), ("assistant", "z"))]
    p = profile_dataset(path, tokenizer=str(chat_dir), seq_len=4096, mask=not train_on_all)
    items = tokenize(examples, AutoTokenizer.from_pretrained(str(chat_dir), local_files_only=True),
                     task="causal-lm", seq_len=4096, packing=False, mask_prompt=not train_on_all)
    assert sum(len(i.input_ids) for i in items) == p.tokens
    assert sum(1 for i in items for v in i.labels if v != IGNORE_INDEX) == p.trained_tokens
    assert (p.trained_tokens == p.tokens) is train_on_all
