"""Probe data: the seeded sample and held-out split, tokenized features, and batches (worker side).

Causal LM: ids and labels from lorplan.core.data.encode (the rule `lorplan profile` counts and `lorplan train`
uses): loss on the completion (+ EOS) of prompt/completion and Alpaca rows, on every assistant turn of a chat,
on every token of plain text (+ EOS); pre-tokenized labels as given. Sequence classification: text + label id.
Batches are length-grouped (as transformers' LengthGroupedSampler: shuffled megabatches of 50 micro-batches,
each sorted by length, the longest batch first so an out-of-memory shows at step 1) or, for causal LM,
packed into full seq_len blocks.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from lorplan.core.data.encode import IGNORE_INDEX, Encoder
from lorplan.core.errors import BadInput

IGNORE = IGNORE_INDEX
MEGABATCH = 50


@dataclass(frozen=True)
class Feature:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...] | int  # token labels (causal LM) or a class id (classification)

    @property
    def length(self) -> int:
        return len(self.input_ids)


def split(examples: list, n_eval_max: int, seed: int) -> tuple[list, list, str]:
    """(train, eval, digest): a seeded shuffle, the first ~10% (at most n_eval_max, at least 2) held out.
    Every probe of a run calls this with the same sample and seed, so they share the held-out set; the
    digest (of the eval lines) lets results prove it."""
    if len(examples) < 4:
        raise BadInput(f"--data: {len(examples)} usable examples; a probe needs at least 4")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = max(2, min(n_eval_max, round(0.1 * len(examples))))
    ev = [examples[i] for i in order[:n_eval]]
    tr = [examples[i] for i in order[n_eval:]]
    digest = hashlib.sha1(",".join(str(getattr(e, "line", i)) for i, e in enumerate(ev)).encode()).hexdigest()[:12]
    return tr, ev, digest


def label_ids(examples: list) -> dict:
    """Class label -> id, sorted so every probe maps labels the same way."""
    labels = {e.label for e in examples if e.label is not None}
    if len(labels) < 2:
        raise BadInput("--data: sequence classification needs at least two distinct values of 'label'")
    return {lab: i for i, lab in enumerate(sorted(labels, key=lambda x: (str(type(x)), x)))}


def causal_features(examples: list, tokenizer, seq_len: int, mask_prompt: bool = True) -> list[Feature]:
    """Features cut to seq_len; examples left with no trained target after the causal shift are dropped.

    mask_prompt=False trains every token (the run's train_on = "all")."""
    out = []
    for enc in Encoder(tokenizer, mask_prompt=mask_prompt).encode_many(examples):
        ids, labels = enc.input_ids[:seq_len], enc.labels[:seq_len]
        if len(ids) >= 2 and any(x != IGNORE for x in labels[1:]):
            out.append(Feature(ids, labels))
    if not out:
        raise BadInput(f"--data: no example keeps a trained token within --seq-len {seq_len}")
    return out


def classification_features(examples: list, tokenizer, seq_len: int, labels: dict) -> list[Feature]:
    out = []
    for ex in examples:
        if ex.label is None or ex.label not in labels:
            continue
        ids = tokenizer(ex.plain_text(), truncation=True, max_length=seq_len)["input_ids"]
        out.append(Feature(tuple(ids), labels[ex.label]))
    if not out:
        raise BadInput("--data: no example has a usable 'label'")
    return out


def pack(features: list[Feature], seq_len: int) -> list[Feature]:
    """Concatenate every feature into one stream and cut it into full seq_len blocks (the last partial
    block is dropped unless it is the only one)."""
    ids: list[int] = []
    labels: list[int] = []
    for f in features:
        ids.extend(f.input_ids)
        labels.extend(f.labels)  # type: ignore[arg-type]
    blocks = [Feature(tuple(ids[i : i + seq_len]), tuple(labels[i : i + seq_len])) for i in range(0, len(ids), seq_len)]
    if len(blocks) > 1 and blocks[-1].length < seq_len:
        blocks.pop()
    return blocks


def length_grouped_order(lengths: list[int], micro_batch: int, rng: random.Random, first_epoch: bool) -> list[list[int]]:
    """Batches of indices: megabatches sorted by length, batch order shuffled, longest batch first on the
    first epoch."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = micro_batch * MEGABATCH
    batches = []
    for i in range(0, len(order), mega):
        chunk = sorted(order[i : i + mega], key=lambda j: -lengths[j])
        batches.extend(chunk[k : k + micro_batch] for k in range(0, len(chunk), micro_batch))
    rng.shuffle(batches)
    if first_epoch and batches:
        longest = max(range(len(batches)), key=lambda b: max(lengths[j] for j in batches[b]))
        batches[0], batches[longest] = batches[longest], batches[0]
    return batches


def batch_stream(features: list[Feature], micro_batch: int, grouping: str, seed: int):
    """Endless iterator of lists of features, epoch after epoch, deterministic for a seed."""
    rng = random.Random(seed)
    lengths = [f.length for f in features]
    epoch = 0
    while True:
        if grouping == "length":
            order = length_grouped_order(lengths, micro_batch, rng, epoch == 0)
        else:
            idx = list(range(len(features)))
            rng.shuffle(idx)
            order = [idx[k : k + micro_batch] for k in range(0, len(idx), micro_batch)]
        for b in order:
            yield [features[j] for j in b]
        epoch += 1


def collate(batch: list[Feature], pad_id: int, multiple_of: int = 1):
    """Pad to the longest in the batch (rounded up to `multiple_of`): input_ids, attention_mask, labels."""
    import torch

    longest = max(f.length for f in batch)
    if multiple_of > 1:
        longest = -(-longest // multiple_of) * multiple_of
    n = len(batch)
    ids = torch.full((n, longest), pad_id, dtype=torch.long)
    mask = torch.zeros((n, longest), dtype=torch.long)
    token_labels = not isinstance(batch[0].labels, int)
    labels = torch.full((n, longest), IGNORE, dtype=torch.long) if token_labels else torch.empty(n, dtype=torch.long)
    for i, f in enumerate(batch):
        ids[i, : f.length] = torch.tensor(f.input_ids)
        mask[i, : f.length] = 1
        if token_labels:
            labels[i, : f.length] = torch.tensor(f.labels)
        else:
            labels[i] = f.labels
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
