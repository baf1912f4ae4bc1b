"""Exact counts for every schema and format, recomputed here with the real MiniLM tokenizer."""

from __future__ import annotations

import pytest
from data_formats import FORMATS, write

from lorplan.core.data import detect_schema, load_examples, profile_dataset
from lorplan.core.data.example import alpaca_prompt

SEQ = 12

TEXT_ROWS = [
    {"text": "The quick brown fox jumps over the lazy dog."},
    {"text": "Short one."},
    {"text": "A much longer example that certainly goes beyond twelve word pieces once tokenized by BERT."},
    {"text": "Unbelievably antidisestablishmentarianism tokenizes into several pieces."},
    {"text": "Short one."},  # an exact duplicate of row 2
]
PC_ROWS = [
    {"prompt": "Translate to French: cat ", "completion": "chat"},
    {"prompt": "What is two plus two? ", "completion": "Four, obviously, and nothing else at all here."},
    {"prompt": "", "completion": "An empty prompt is allowed."},
]
ALPACA_ROWS = [
    {"instruction": "Name a colour.", "input": "", "output": "Blue"},
    {"instruction": "Summarise the text.", "input": "Cats sleep a lot during the day.", "output": "Cats nap."},
    {"instruction": "Count to three.", "output": "one two three"},
]
CHAT_ROWS = [
    {"messages": [{"role": "user", "content": "Hello there, how are you?"},
                  {"role": "assistant", "content": "Fine, thanks."},
                  {"role": "user", "content": "And now?"},
                  {"role": "assistant", "content": "Still fine!"}]},
    {"messages": [{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Why is the sky blue?"},
                  {"role": "assistant", "content": "Rayleigh scattering of sunlight by air molecules."}]},
]
TOKENIZED_ROWS = [  # -100 written out: the masked label users' files carry (transformers' ignore_index)
    {"input_ids": [101, 7592, 2088, 102], "labels": [-100, -100, 2088, 102]},
    {"input_ids": list(range(1000, 1020)), "labels": [-100] * 5 + list(range(1005, 1020))},
    {"input_ids": [101, 102, 103]},
]


def _expected(lengths: list[int], trained: list[int], seq: int = SEQ) -> dict:
    return {
        "examples": len(lengths),
        "tokens": sum(lengths),
        "trained_tokens": sum(trained),
        "truncated_tokens": sum(max(n - seq, 0) for n in lengths),
        "max": max(lengths),
    }


def _got(p) -> dict:
    return {"examples": p.examples, "tokens": p.tokens, "trained_tokens": p.trained_tokens,
            "truncated_tokens": p.truncated_tokens, "max": p.lengths.max}


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_counts_match_the_tokenizer_in_every_format(fmt, tmp_path, tok, minilm_dir):
    lengths = [len(tok(r["text"])["input_ids"]) for r in TEXT_ROWS]
    path = write(TEXT_ROWS, tmp_path, fmt)
    p = profile_dataset(path, tokenizer=str(minilm_dir), seq_len=SEQ)
    assert _got(p) == _expected(lengths, lengths)
    assert p.schema == "text" and p.skipped == 0 and p.estimated is False
    assert p.duplicates == 1
    assert p.truncated_tokens > 0  # the fixture really exercises truncation


def test_text_folder_one_example_per_file(tmp_path, tok, minilm_dir):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    for i, row in enumerate(TEXT_ROWS):
        (folder / ("sub" if i % 2 else "") / f"{i:02d}.txt").write_text(row["text"])
    lengths = [len(tok(r["text"])["input_ids"]) for r in TEXT_ROWS]
    p = profile_dataset(folder, tokenizer=str(minilm_dir), seq_len=SEQ)
    assert p.format == "txt-folder"
    assert _got(p) == _expected(lengths, lengths)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_prompt_completion_trains_on_the_completion_only(fmt, tmp_path, tok, minilm_dir):
    lengths = [len(tok(r["prompt"] + r["completion"])["input_ids"]) for r in PC_ROWS]
    # The prompts end at a word boundary, so the completion alone tokenizes to the trained tokens; the closing
    # [SEP] (MiniLM has no EOS: SEP ends sequences, so none is appended) is trained with it.
    trained = [len(tok(r["completion"], add_special_tokens=False)["input_ids"]) + 1 for r in PC_ROWS]
    p = profile_dataset(write(PC_ROWS, tmp_path, fmt), tokenizer=str(minilm_dir), seq_len=SEQ)
    assert p.schema == "prompt-completion"
    assert _got(p) == _expected(lengths, trained)
    everything = profile_dataset(write(PC_ROWS, tmp_path, fmt), tokenizer=str(minilm_dir), seq_len=SEQ, mask=False)
    assert everything.trained_tokens == sum(lengths)


@pytest.mark.parametrize("fmt", ["jsonl", "arrow"])
def test_alpaca_rows_use_the_alpaca_prompt(fmt, tmp_path, tok, minilm_dir):
    prompts = [alpaca_prompt(r["instruction"], r.get("input")) for r in ALPACA_ROWS]
    assert "### Input:" in prompts[1] and "### Input:" not in prompts[0]
    lengths = [len(tok(pr + r["output"])["input_ids"]) for pr, r in zip(prompts, ALPACA_ROWS, strict=True)]
    trained = [len(tok(r["output"], add_special_tokens=False)["input_ids"]) + 1 for r in ALPACA_ROWS]  # + [SEP]
    rows = [dict(r, input=r.get("input")) for r in ALPACA_ROWS] if fmt == "arrow" else ALPACA_ROWS
    p = profile_dataset(write(rows, tmp_path, fmt), tokenizer=str(minilm_dir), seq_len=SEQ)
    assert p.schema == "alpaca"
    assert _got(p) == _expected(lengths, trained)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_chat_rendered_with_the_template_trains_on_assistant_tokens(fmt, tmp_path, chat_dir, chat_tok):
    lengths, trained = [], []
    for row in CHAT_ROWS:
        rendered = chat_tok.apply_chat_template(row["messages"], tokenize=False)
        lengths.append(len(chat_tok(rendered, add_special_tokens=False)["input_ids"]))
        # Independent count: transformers' assistant mask from the template's {% generation %} blocks.
        out = chat_tok.apply_chat_template(row["messages"], return_dict=True, return_assistant_tokens_mask=True)
        assert len(out["input_ids"]) == lengths[-1]
        trained.append(sum(out["assistant_masks"]))
    p = profile_dataset(write(CHAT_ROWS, tmp_path, fmt), tokenizer=str(chat_dir), seq_len=SEQ)
    assert p.schema == "messages"
    assert _got(p) == _expected(lengths, trained)
    assert 0 < p.trained_tokens < p.tokens


def test_chat_without_a_template_uses_role_lines(tmp_path, tok, minilm_dir):
    path = write(CHAT_ROWS[:1], tmp_path, "jsonl")
    turns = [(m["role"], m["content"]) for m in CHAT_ROWS[0]["messages"]]

    def rendered(upto: int, generation_prompt: bool = False) -> str:
        text = "".join(f"<|{role}|>\n{content}\n" for role, content in turns[:upto])
        return text + ("<|assistant|>\n" if generation_prompt else "")

    def n(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    # each assistant turn trains the tokens it adds after "<|assistant|>\n"; the closing [SEP] ends the last one
    trained = sum(n(rendered(i + 1)) - n(rendered(i, True)) for i, (role, _) in enumerate(turns)
                  if role == "assistant")
    p = profile_dataset(path, tokenizer=str(minilm_dir), seq_len=SEQ)
    assert p.tokens == len(tok(rendered(len(turns)))["input_ids"])
    assert p.trained_tokens == trained + 1


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "arrow", "csv"])
def test_pretokenized_counts_are_exact_without_a_tokenizer(fmt, tmp_path):
    rows = TOKENIZED_ROWS if fmt == "jsonl" else [dict(r, labels=r.get("labels")) for r in TOKENIZED_ROWS]
    p = profile_dataset(write(rows, tmp_path, fmt), seq_len=SEQ)
    assert p.schema == "tokenized"
    assert p.estimated is False
    assert _got(p) == _expected([4, 20, 3], [2, 15, 3])


def test_schema_override_and_detection(tmp_path):
    path = write([{"text": "x", "prompt": "p ", "completion": "c"}], tmp_path, "jsonl")
    assert detect_schema(path) == "prompt-completion"
    assert profile_dataset(path, schema="text").schema == "text"


def test_estimate_without_tokenizer_is_marked(tmp_path):
    p = profile_dataset(write(TEXT_ROWS, tmp_path, "jsonl"), seq_len=SEQ)
    assert p.estimated is True
    assert p.tokens == sum(-(-len(r["text"]) // 4) + 1 for r in TEXT_ROWS)  # + the EOS training appends
    assert any("4 characters per token" in n for n in p.notes)
    assert p.to_json()["estimated"] is True


# Three-letter words that MiniLM keeps whole: "w w w" is 4k - 1 characters, k tokens exactly at 4 characters per
# token, so an estimate over them differs from the exact count only by the tokens it leaves out.
WORDS = "the cat sat and ran big red dog was not one two six ten old new hot cup bag map".split()


def _words(k: int, start: int = 0) -> str:
    return " ".join(WORDS[(start + i) % len(WORDS)] for i in range(k))


def test_estimate_counts_the_eos_the_training_appends(tmp_path, tok, minilm_dir):
    """The estimate left out the EOS `lorplan train` appends to every text / prompt-completion row (MiniLM's
    [SEP]) and trains: a text row was 2 tokens short of the exact count, a completion's trained tokens 1 short.
    Only the tokenizer's own leading special token ([CLS] here; BOS on Llama, none on GPT-2 or Qwen) is left
    out now, since the estimate cannot know it."""
    from lorplan.core.data import load_examples
    from lorplan.train.data import tokenize

    text_rows = [{"text": _words(3 + 5 * i, i)} for i in range(6)]
    pc_rows = [{"prompt": _words(2 + i, i) + " ", "completion": _words(1 + 3 * i, 7 + i)} for i in range(6)]
    for name, rows, trained_gap in (("text", text_rows, 1), ("pc", pc_rows, 0)):
        path = write(rows, tmp_path / name, "jsonl")
        est = profile_dataset(path, seq_len=4096)
        exact = profile_dataset(path, tokenizer=str(minilm_dir), seq_len=4096)
        assert est.estimated and not exact.estimated
        # what the engine trains: its own rows (train/data.py), not only the profile's exact count
        items = tokenize(load_examples(path), tok, task="causal-lm", seq_len=4096, packing=False)
        assert all(x.input_ids[-1] == tok.sep_token_id for x in items)  # each ends with the appended EOS
        assert exact.tokens == sum(len(x.input_ids) for x in items)
        assert exact.trained_tokens == sum(x.trained for x in items)
        assert exact.tokens - est.tokens == len(rows), name  # one [CLS] per row, the EOS counted by both
        assert exact.trained_tokens - est.trained_tokens == trained_gap * len(rows), name
    unmasked = profile_dataset(write(pc_rows, tmp_path / "all", "jsonl"), seq_len=4096, mask=False)
    assert unmasked.trained_tokens == unmasked.tokens  # every token trained, the EOS included


def test_estimate_trains_a_chats_eos_only_after_an_assistant_turn(tmp_path):
    """An estimated chat renders without a template, as the engine does a template-less tokenizer's: EOS
    appended, and trained when the last turn is the assistant's (encode.py)."""
    turns = [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "hello you"}]
    ends_assistant = profile_dataset(write([{"messages": turns}], tmp_path / "a", "jsonl"))
    ends_user = profile_dataset(write([{"messages": turns + [{"role": "user", "content": "ok"}]}],
                                      tmp_path / "u", "jsonl"))
    rendered = "<|user|>\nhi there\n<|assistant|>\nhello you\n"
    assert ends_assistant.tokens == -(-len(rendered) // 4) + 1
    assert ends_assistant.trained_tokens == -(-len("hello you") // 4) + 1
    assert ends_user.trained_tokens == -(-len("hello you") // 4)


def test_load_examples_sample_is_seeded_and_in_file_order(tmp_path):
    rows = [{"text": f"row {i}", "label": i % 3} for i in range(200)]
    path = write(rows, tmp_path, "jsonl")
    a = load_examples(path, limit=10, seed=7)
    assert a == load_examples(path, limit=10, seed=7)
    assert a != load_examples(path, limit=10, seed=8)
    assert [e.line for e in a] == sorted(e.line for e in a)
    assert all(e.label == (e.line - 1) % 3 for e in a)
    assert [e.line for e in load_examples(path, limit=3)] == [1, 2, 3]


def test_datasetdict_folder_profiles_its_train_split(tmp_path):
    import datasets

    dd = datasets.DatasetDict({
        "test": datasets.Dataset.from_list([{"text": "held out"}]),
        "train": datasets.Dataset.from_list([{"text": "one"}, {"text": "two"}, {"text": ""}]),
    })
    dd.save_to_disk(str(tmp_path / "dd"))
    p = profile_dataset(tmp_path / "dd")
    assert p.format == "arrow-folder" and p.examples == 2 and p.skipped == 1
    assert [(pr.line, pr.reason) for pr in p.problems] == [(3, "empty text")]
    assert any("profiled split 'train'" in n for n in p.notes)
