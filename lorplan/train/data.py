"""Training examples as token ids, from lorplan.core.data's Examples.

Causal LM: ids and labels from lorplan.core.data.encode (the rule `lorplan profile` counts and probes use):
loss on the completion (+ EOS) of prompt/completion and Alpaca rows, on every assistant turn of a chat, on every
token of plain text (+ EOS); pre-tokenized labels as given. Sequences are cut to seq_len; with packing they are
concatenated (each ends with its EOS) and cut into seq_len blocks. Sequence classification: text + label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from lorplan.core.data.encode import Encoder, eos_id
from lorplan.core.errors import BadInput


@dataclass(frozen=True)
class Item:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...] | None = None  # causal LM
    label: int | None = None  # classification


def resolve_path(data_path: str, plan_path: str | None) -> Path:
    """Relative paths (data, a local model) are taken from the working folder, else from the plan's folder."""
    p = Path(data_path).expanduser()
    if p.is_absolute() or p.exists() or plan_path is None:
        return p
    beside = Path(plan_path).resolve().parent / p
    return beside if beside.exists() else p


def _check_eos(tok) -> None:
    if eos_id(tok) is None:
        raise BadInput("the tokenizer has no EOS or SEP token to end sequences with")


def tokenize(examples, tok, *, task: str, seq_len: int, packing: bool, mask_prompt: bool = True) -> list[Item]:
    """Items ready for batching (see module docstring for the masking and packing rules).

    mask_prompt=False (a plan's `train_on = "all"`) puts the loss on every token, prompts included.
    """
    if task == "sequence-classification":
        labels = sorted({ex.label for ex in examples if ex.label is not None}, key=str)
        if not labels:
            raise BadInput("sequence classification needs a label column in the data")
        index = {v: (v if isinstance(v, int) else i) for i, v in enumerate(labels)}
        items = []
        for ex in examples:
            if ex.label is None:
                continue
            ids = tok(ex.plain_text(), truncation=True, max_length=seq_len)["input_ids"]
            items.append(Item(tuple(ids), label=int(index[ex.label])))
        return items
    _check_eos(tok)
    pairs = [(e.input_ids, e.labels) for e in Encoder(tok, mask_prompt=mask_prompt).encode_many(examples)]
    if not packing:
        return [Item(tuple(i[:seq_len]), tuple(lab[:seq_len])) for i, lab in pairs if i]
    flat_ids: list[int] = []
    flat_labels: list[int] = []
    for ids, labels in pairs:
        flat_ids += ids
        flat_labels += labels
    return [
        Item(tuple(flat_ids[k : k + seq_len]), tuple(flat_labels[k : k + seq_len]))
        for k in range(0, len(flat_ids), seq_len)
    ]


def split(items: list[Item], eval_split: float, seed: int) -> tuple[list[Item], list[Item]]:
    """Deterministic held-out split (at least one eval item when eval_split > 0 and there are two or more)."""
    if eval_split <= 0 or len(items) < 2:
        return items, []
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(items) - 1, max(1, int(len(items) * eval_split)))
    held = set(order[:n_eval])
    return [x for i, x in enumerate(items) if i not in held], [items[i] for i in sorted(held)]


def collate(items: list[Item], pad_id: int):
    """Right-padded tensors: input_ids, attention_mask and labels (-100 on padding) or class labels."""
    import torch

    width = max(len(x.input_ids) for x in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, x in enumerate(items):
        ids[row, : len(x.input_ids)] = torch.tensor(x.input_ids)
        mask[row, : len(x.input_ids)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if items[0].label is not None:
        batch["labels"] = torch.tensor([x.label for x in items], dtype=torch.long)
    else:
        labels = torch.full((len(items), width), -100, dtype=torch.long)
        for row, x in enumerate(items):
            labels[row, : len(x.labels)] = torch.tensor(x.labels)
        batch["labels"] = labels
    return batch
