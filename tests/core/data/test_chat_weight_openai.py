"""OpenAI's per-message "weight" in chat rows: an assistant turn with weight 0 is context, never trained.

OpenAI's fine-tuning guide ("multi-turn chat examples"): "To skip fine-tuning on specific assistant messages, a
weight key can be added ... The allowed values for weight are currently 0 or 1"; its API puts the key on assistant
messages only. The profile must count what `lorplan train` trains, with and without a chat template, under
train_on "assistant" (mask) and "all" (no mask: weight 0 still masks the turn, as a tokenized row's labels)."""

from __future__ import annotations

import pytest
from data_formats import write

from lorplan.core.data import load_examples, profile_dataset
from lorplan.core.data.encode import IGNORE_INDEX, Encoder
from lorplan.train.data import tokenize

BIG = 4096

WEIGHTED = [
    {"messages": [{"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
                  {"role": "user", "content": "What's the capital of France?"},
                  {"role": "assistant", "content": "Paris", "weight": 0},
                  {"role": "user", "content": "Can you be more sarcastic?"},
                  {"role": "assistant", "content": "Paris, as if everyone doesn't know that already.",
                   "weight": 1}]},
    # the weight-0 turn last: its closing special tokens and EOS (no template) go untrained with it
    {"messages": [{"role": "user", "content": "Who wrote Hamlet?"},
                  {"role": "assistant", "content": "Shakespeare, obviously."},
                  {"role": "user", "content": "And Macbeth?"},
                  {"role": "assistant", "content": "Marlowe", "weight": 0}]},
]


def _unweighted(rows: list[dict]) -> list[dict]:
    return [{"messages": [{k: v for k, v in m.items() if k != "weight"} for m in r["messages"]]} for r in rows]


def _tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def _encoded(tmp_path, rows, folder, *, mask: bool):
    examples = load_examples(write(rows, tmp_path, "jsonl"))
    return examples, Encoder(_tokenizer(folder), mask_prompt=mask).encode_many(examples)


def test_weights_are_read_and_rows_without_one_read_as_before(tmp_path):
    weighted = load_examples(write(WEIGHTED, tmp_path / "w", "jsonl"))
    plain = load_examples(write(_unweighted(WEIGHTED), tmp_path / "p", "jsonl"))
    assert [e.untrained_turns for e in weighted] == [(2,), (3,)]
    assert [e.messages for e in weighted] == [e.messages for e in plain]
    assert [e.untrained_turns for e in plain] == [(), ()]


@pytest.mark.parametrize("kind", ["no-template", "chat"])
def test_a_weight_0_turn_is_masked_and_the_others_trained_as_before(kind, tmp_path, minilm_dir, chat_dir):
    folder = {"no-template": minilm_dir, "chat": chat_dir}[kind]
    tok = _tokenizer(folder)
    _, weighted = _encoded(tmp_path / "w", WEIGHTED, folder, mask=True)
    _, plain = _encoded(tmp_path / "p", _unweighted(WEIGHTED), folder, mask=True)
    for w, p, turn in zip(weighted, plain, ["Paris", "Marlowe"], strict=True):
        assert w.input_ids == p.input_ids
        dropped = [t for t, a, b in zip(w.input_ids, w.labels, p.labels, strict=True)
                   if a == IGNORE_INDEX and b != IGNORE_INDEX]
        # exactly the weight-0 turn (and its end-of-turn [SEP], or closing [SEP] + EOS) stopped being trained
        assert tok.decode(dropped).replace("[SEP]", "").strip() == turn.lower()
        assert all(a == b for a, b in zip(w.labels, p.labels, strict=True) if a != IGNORE_INDEX)
        assert 0 < w.trained < p.trained


@pytest.mark.parametrize("kind", ["no-template", "chat"])
def test_train_on_all_trains_every_token_but_the_weight_0_turns(kind, tmp_path, minilm_dir, chat_dir):
    folder = {"no-template": minilm_dir, "chat": chat_dir}[kind]
    tok = _tokenizer(folder)
    _, weighted = _encoded(tmp_path / "w", WEIGHTED, folder, mask=False)
    _, plain = _encoded(tmp_path / "p", _unweighted(WEIGHTED), folder, mask=False)
    _, weighted_masked = _encoded(tmp_path / "wm", WEIGHTED, folder, mask=True)
    _, plain_masked = _encoded(tmp_path / "pm", _unweighted(WEIGHTED), folder, mask=True)
    for w, p, wm, pm, turn in zip(weighted, plain, weighted_masked, plain_masked, ["Paris", "Marlowe"], strict=True):
        assert p.trained == len(p.input_ids) and w.input_ids == p.input_ids  # unweighted: every token, as before
        untrained = [k for k, v in enumerate(w.labels) if v == IGNORE_INDEX]
        assert tok.decode([w.input_ids[k] for k in untrained]).replace("[SEP]", "").strip() == turn.lower()
        # the same positions the weight takes out of the assistant-only count
        assert untrained == [k for k, (a, b) in enumerate(zip(wm.labels, pm.labels, strict=True))
                             if a == IGNORE_INDEX and b != IGNORE_INDEX]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
@pytest.mark.parametrize("kind", ["no-template", "chat"])
@pytest.mark.parametrize("mask", [True, False])
def test_profile_counts_what_train_trains(fmt, kind, mask, tmp_path, minilm_dir, chat_dir):
    """Parquet gives the messages without a weight a null one (one Arrow type per column): read as no weight."""
    folder = {"no-template": minilm_dir, "chat": chat_dir}[kind]
    path = write(WEIGHTED, tmp_path / "w", fmt)
    profile = profile_dataset(path, tokenizer=str(folder), seq_len=BIG, mask=mask)
    assert profile.examples == 2 and profile.skipped == 0
    items = tokenize(load_examples(path), _tokenizer(folder), task="causal-lm", seq_len=BIG, packing=False,
                     mask_prompt=mask)
    assert len(items) == 2
    assert sum(len(i.input_ids) for i in items) == profile.tokens
    assert sum(1 for i in items for v in i.labels if v != IGNORE_INDEX) == profile.trained_tokens
    before = profile_dataset(write(_unweighted(WEIGHTED), tmp_path / "p", fmt), tokenizer=str(folder),
                             seq_len=BIG, mask=mask)
    assert profile.tokens == before.tokens
    assert 0 < profile.trained_tokens < before.trained_tokens


def test_weights_that_are_not_0_or_1_or_not_on_an_assistant_skip_the_row_saying_why(tmp_path, minilm_dir):
    def chat(user: dict | None = None, **assistant) -> dict:
        return {"messages": [{"role": "user", "content": "hi", **(user or {})},
                             {"role": "assistant", "content": "hello", **assistant}]}

    rows = [
        chat(weight=1),  # 1: read
        chat(weight=2),  # 2
        chat(weight="0"),  # 3
        chat(weight=True),  # 4
        chat(weight=1.0),  # 5
        chat(weight=[0]),  # 6
        chat({"weight": 0}),  # 7
        chat({"weight": 1}),  # 8
        chat(weight=0),  # 9: nothing left to train
        chat({"weight": None}, weight=None),  # 10: null is no weight (read)
        {"conversations": [{"from": "human", "value": "hi", "weight": 1},
                           {"from": "gpt", "value": "hello"}]},  # 11
    ]
    p = profile_dataset(write(rows, tmp_path, "jsonl"), tokenizer=str(minilm_dir))
    assert p.examples == 2
    rule = "OpenAI's weight is 0 (do not train on this assistant turn) or 1, on assistant messages only"
    assert {pr.line: pr.reason for pr in p.problems} == {
        2: f"message 1 weight is 2; {rule}",
        3: f'message 1 weight is "0"; {rule}',
        4: f"message 1 weight is true; {rule}",
        5: f"message 1 weight is 1.0; {rule}",
        6: f"message 1 weight is a list; {rule}",
        7: f"message 0 (user) has a weight; {rule}",
        8: f"message 0 (user) has a weight; {rule}",
        9: "every assistant message has weight 0 (do not train on it): no assistant turn to train on",
        11: f"message 0 (human) has a weight; {rule}",
    }
