"""Chat rows as OpenAI-style exports write them: `content` as a list of parts and the `developer` role.

Evidence for the rules is checked against the chat templates TRL ships (real Jinja, rendered by transformers):
Qwen2.5-VL's template writes the text parts one after another, so lorplan joins them with nothing between; gpt-oss'
and Gemma 4's render a leading `developer` message exactly as a `system` one, so lorplan reads it as system (the
templates that do not know the role drop it or write a header the model never saw)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_formats import write

from lorplan.core.data import load_examples, profile_dataset
from lorplan.core.data.encode import IGNORE_INDEX, Encoder
from lorplan.core.errors import BadInput
from lorplan.train.data import tokenize

BIG = 4096


def _parts(*texts: str) -> list[dict]:
    return [{"type": "text", "text": t} for t in texts]


PARTS_ROWS = [
    {"messages": [{"role": "user", "content": _parts("Why is the sky ", "blue?")},
                  {"role": "assistant", "content": _parts("Rayleigh scattering", " of sunlight.")}]},
    {"messages": [{"role": "developer", "content": "Be brief."},
                  {"role": "user", "content": "Hello there"},
                  {"role": "assistant", "content": _parts("Hi!")}]},
]
# The same conversations as lorplan read them before: strings, and "system".
STRING_ROWS = [
    {"messages": [{"role": "user", "content": "Why is the sky blue?"},
                  {"role": "assistant", "content": "Rayleigh scattering of sunlight."}]},
    {"messages": [{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hello there"},
                  {"role": "assistant", "content": "Hi!"}]},
]


def _trl_template(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja").read_text()


def _tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def test_text_parts_and_developer_are_read_as_the_strings_and_system_they_mean(tmp_path):
    examples = load_examples(write(PARTS_ROWS, tmp_path, "jsonl"))
    assert [e.messages for e in examples] == [
        (("user", "Why is the sky blue?"), ("assistant", "Rayleigh scattering of sunlight.")),
        (("system", "Be brief."), ("user", "Hello there"), ("assistant", "Hi!")),
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
@pytest.mark.parametrize("kind", ["no-template", "chat"])
def test_profile_counts_what_train_trains(fmt, kind, tmp_path, minilm_dir, chat_dir):
    """The profile and `lorplan train`'s data path agree on parts rows, and count them as the string rows."""
    folder = {"no-template": minilm_dir, "chat": chat_dir}[kind]
    rows = PARTS_ROWS
    if fmt == "parquet":  # one Arrow type per column: every content a list of parts
        rows = [{"messages": [{**m, "content": m["content"] if isinstance(m["content"], list) else _parts(
            m["content"])} for m in r["messages"]]} for r in PARTS_ROWS]
    path = write(rows, tmp_path / "parts", fmt)
    profile = profile_dataset(path, tokenizer=str(folder), seq_len=BIG)
    assert profile.examples == 2 and profile.skipped == 0
    items = tokenize(load_examples(path), _tokenizer(folder), task="causal-lm", seq_len=BIG, packing=False)
    assert sum(len(i.input_ids) for i in items) == profile.tokens
    assert sum(1 for i in items for v in i.labels if v != IGNORE_INDEX) == profile.trained_tokens
    before = profile_dataset(write(STRING_ROWS, tmp_path / "strings", "jsonl"), tokenizer=str(folder), seq_len=BIG)
    assert (profile.tokens, profile.trained_tokens) == (before.tokens, before.trained_tokens)
    assert 0 < profile.trained_tokens < profile.tokens


def test_joined_parts_render_as_a_list_aware_template_renders_the_parts(tmp_path, minilm_dir):
    """Qwen2.5-VL's template (as TRL ships it) renders the original list; lorplan renders its joined string
    (what text-only templates such as Qwen2.5's need: given the list they raise TypeError)."""
    tok = _tokenizer(minilm_dir)
    tok.chat_template = _trl_template("qwen2_5_vl")
    example = load_examples(write(PARTS_ROWS[:1], tmp_path, "jsonl"))[0]
    assert Encoder(tok).render(example.messages) == tok.apply_chat_template(
        PARTS_ROWS[0]["messages"], tokenize=False)


@pytest.mark.parametrize("template", ["gptoss", "gemma4"])
def test_developer_renders_as_the_templates_that_know_it_render_it(template, tmp_path, minilm_dir):
    tok = _tokenizer(minilm_dir)
    tok.chat_template = _trl_template(template)
    row = {"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "ok"}]}
    example = load_examples(write([row], tmp_path, "jsonl"))[0]
    assert example.messages[0] == ("system", "Be brief.")
    assert Encoder(tok).render(example.messages) == tok.apply_chat_template(row["messages"], tokenize=False)


def test_parts_that_are_not_text_keep_the_row_skipped_naming_the_part(tmp_path, minilm_dir):
    rows = [
        PARTS_ROWS[0],  # 1: read
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                                   {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                      {"role": "assistant", "content": "A cat."}]},  # 2
        {"messages": [{"role": "user", "content": "hi"},
                      {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}]},  # 3
        {"messages": [{"role": "user", "content": [{"text": "no type"}]},
                      {"role": "assistant", "content": "ok"}]},  # 4
        {"messages": [{"role": "user", "content": ["a bare string"]},
                      {"role": "assistant", "content": "ok"}]},  # 5
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 7}]},
                      {"role": "assistant", "content": "ok"}]},  # 6
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAA="}}]},
                      {"role": "assistant", "content": "ok"}]},  # 7
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "\ud800"}]},
                      {"role": "assistant", "content": "ok"}]},  # 8
    ]
    p = profile_dataset(write(rows, tmp_path, "jsonl"), tokenizer=str(minilm_dir))
    assert p.examples == 1
    problems = {pr.line: pr.reason for pr in p.problems}
    assert problems == {
        2: "message 0 content part 1 is an 'image_url' part; lorplan trains on text parts only",
        3: "message 1 content part 0 is a 'refusal' part; lorplan trains on text parts only",
        4: "message 0 content part 0 has no type, expected {\"type\": \"text\", \"text\": ...}",
        5: "message 0 content part 0 is a string, expected {\"type\": \"text\", \"text\": ...}",
        6: "message 0 content part 0 text is a number, expected a string",
        7: "message 0 content part 0 is an 'input_audio' part; lorplan trains on text parts only",
        8: "message 0 content part 0 holds a lone surrogate (invalid Unicode)",
    }


def test_assistant_tool_calls_without_content_stay_skipped_and_say_why(tmp_path, minilm_dir):
    row = {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."}]}
    legacy = {"messages": [  # the older single-function form
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "function_call": {"name": "weather", "arguments": "{}"}},
        {"role": "function", "name": "weather", "content": "sunny"}]}
    path = write([PARTS_ROWS[0], row, legacy], tmp_path, "jsonl")
    p = profile_dataset(path, tokenizer=str(minilm_dir))
    assert p.examples == 1
    assert [(pr.line, pr.reason) for pr in p.problems] == [
        (2, "message 1 is a tool call (tool_calls) without content, which lorplan does not train on"),
        (3, "message 1 is a tool call (function_call) without content, which lorplan does not train on")]


def test_a_file_of_image_rows_only_is_refused_naming_the_part(tmp_path, minilm_dir):
    row = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
                        {"role": "assistant", "content": "A cat."}]}
    path = tmp_path / "images.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(BadInput, match=r"no usable row \(1 skipped; line 1: message 0 content part 0 is an "
                                       r"'image_url' part; lorplan trains on text parts only\)"):
        profile_dataset(path, tokenizer=str(minilm_dir))
