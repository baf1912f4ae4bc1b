"""Training data of a plan as token ids: the one data path of `lorplan train` and probes.

Causal LM: ids and labels from lorplan.core.data.encode (the rule `lorplan profile` counts): loss on the
completion (+ EOS) of prompt/completion and Alpaca rows, on every assistant turn of a chat, on every token of
plain text (+ EOS); pre-tokenized labels as given. Sequences are cut to seq_len; with packing they are
concatenated (each ends with its EOS) and cut into seq_len blocks, the remainder shorter than a block dropped
(as transformers' examples/pytorch/language-modeling/run_clm.py group_texts does). A sequence or block left
with no label after the causal shift is dropped: alone in a micro-batch its mean loss would be 0/0.
Sequence classification: text + class id; a row without a label (null, empty or missing:
lorplan.core.data.labels.unlabelled, the rule the profile counts by) is left out. The class ids of a sample
drawn from a larger file (Sample: a probe's) are those of the whole file.

Order: epoch e visits the items in torch.randperm(seed + e); in epoch 0 the longest item leads, so a run that
does not fit in memory fails at its first step. A pure function of (seed, step), so a resumed run sees exactly
the micro-batches the stopped run would have seen next.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from lorplan.core.data.encode import IGNORE_INDEX, Encoder, eos_id
from lorplan.core.data.labels import unlabelled
from lorplan.core.data.stats import held_out_count
from lorplan.core.errors import BadInput


@dataclass(frozen=True)
class Item:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...] | None = None  # causal LM
    label: int | None = None  # classification: the class id

    @property
    def trained(self) -> int:
        """Positions that carry the loss (before the causal shift; classification: 1)."""
        if self.labels is None:
            return 1
        return sum(1 for v in self.labels if v != IGNORE_INDEX)


class Sample(list):
    """Examples drawn from a larger data file (a probe's seeded sample: lorplan.probe.worker), with what every row
    of that file says of its label: `labels`, the distinct label values (None and unlabelled rows left out), and
    `label_problem`, "line N: why" for the first row whose label is no class label (2.5, NaN, true), else None.
    class_ids numbers a Sample's classes by the whole file, so its head and class ids are those `lorplan train`
    builds from the file, also when the sample lacks a class."""

    def __init__(self, examples=(), labels=(), label_problem: str | None = None):
        super().__init__(examples)
        self.labels = frozenset(labels)
        self.label_problem = label_problem


def class_ids(examples, where: str | None = None) -> dict:
    """Label value -> class id (lorplan.core.data.labels.class_ids, the rule every head lorplan plans follows):
    integer labels are their own ids; names are numbered in sorted order after the largest integer. A Sample's
    are its whole file's (Sample.labels).
    BadInput (starting with `where` when given) for data without labels or with ambiguous ones, or a row whose
    label is no class label (2.5, NaN, true), naming its line."""
    from lorplan.core.data.labels import class_ids as ids

    prefix = f"{where}: " if where else ""
    whole = examples if isinstance(examples, Sample) else None
    examples = list(examples)
    if whole is not None and whole.label_problem is not None:
        raise BadInput(f"{prefix}{whole.label_problem}")
    bad = next((ex for ex in examples if getattr(ex, "label_problem", None) is not None), None)
    if bad is not None:
        raise BadInput(f"{prefix}line {bad.line}: {bad.label_problem}")
    if whole is None:
        return ids((ex.label for ex in examples), where)
    index = ids(whole.labels, where)
    stray = next((ex for ex in examples if ex.label is not None and ex.label not in index), None)
    if stray is not None:  # a sample holds rows of its file: only a Sample built wrong gets here
        raise BadInput(f"{prefix}line {stray.line}: label {stray.label!r} is not among the file's labels")
    return index


def _has_target(labels: tuple[int, ...]) -> bool:
    # transformers shifts labels left by one inside the loss: position 0 is never a prediction target
    return any(v != IGNORE_INDEX for v in labels[1:])


def tokenize(examples, tok, *, task: str, seq_len: int, packing: bool, mask_prompt: bool = True,
             where: str | None = None) -> list[Item]:
    """Items ready for batching (see the module docstring for the masking, packing and dropping rules).

    mask_prompt=False (a plan's `train_on = "all"`) puts the loss on every token, prompts included. `where`
    (e.g. "data d.jsonl") starts the error for labels that are no classes.
    """
    if task == "sequence-classification":
        index = class_ids(examples, where)
        items = []
        for ex in examples:
            if unlabelled(ex):  # the rows the profile of a classifier's data leaves out: the one rule
                continue
            ids = tok(ex.plain_text(), truncation=True, max_length=seq_len)["input_ids"]
            items.append(Item(tuple(ids), label=index[ex.label]))
        return items
    if eos_id(tok) is None:
        raise BadInput("the tokenizer has no EOS or SEP token to end sequences with")
    pairs = [(e.input_ids, e.labels) for e in Encoder(tok, mask_prompt=mask_prompt).encode_many(examples)]
    if packing:
        flat_ids = [t for ids, _ in pairs for t in ids]
        flat_labels = [t for _, labels in pairs for t in labels]
        cut = len(flat_ids) if len(flat_ids) <= seq_len else len(flat_ids) - len(flat_ids) % seq_len
        pairs = [(flat_ids[k : k + seq_len], flat_labels[k : k + seq_len]) for k in range(0, cut, seq_len)]
    items = [Item(tuple(i[:seq_len]), tuple(lab[:seq_len])) for i, lab in pairs]
    return [x for x in items if _has_target(x.labels)]


def split(items: list, eval_split: float, seed: int, max_eval: int | None = None) -> tuple[list, list]:
    """Deterministic held-out split: a fraction eval_split (at least one item when eval_split > 0 and there
    are two or more, at most max_eval), drawn with random.Random(seed)."""
    if eval_split <= 0 or len(items) < 2:
        return items, []
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(items) - 1, max(1, held_out_count(len(items), eval_split)))
    if max_eval is not None:
        n_eval = min(n_eval, max(1, max_eval))
    held = set(order[:n_eval])
    return [x for i, x in enumerate(items) if i not in held], [items[i] for i in sorted(held)]


def digest(items: list[Item]) -> str:
    """A short hash of the items' token ids: equal digests prove two runs held out the same examples."""
    h = hashlib.sha1()
    for x in items:
        h.update(repr((x.input_ids, x.labels, x.label)).encode())
    return h.hexdigest()[:12]


def collate(items: list[Item], pad_id: int):
    """Right-padded tensors: input_ids, attention_mask and labels (IGNORE_INDEX on padding) or class ids."""
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
        labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
        for row, x in enumerate(items):
            labels[row, : len(x.labels)] = torch.tensor(x.labels)
        batch["labels"] = labels
    return batch


def micro_batches_per_epoch(n_items: int, micro_batch: int, world: int = 1) -> int:
    return max(1, math.ceil(n_items / (micro_batch * world)))


def epoch_order(items: list[Item], seed: int, epoch: int) -> list[int]:
    """The visiting order of one epoch: torch.randperm(seed + epoch); epoch 0 starts with the longest item."""
    import torch

    g = torch.Generator().manual_seed(seed + epoch)
    perm = torch.randperm(len(items), generator=g).tolist()
    if epoch == 0 and perm:
        longest = max(range(len(perm)), key=lambda k: len(items[perm[k]].input_ids))
        perm[0], perm[longest] = perm[longest], perm[0]
    return perm


def _chunks(items: list[Item], micro_batch: int, seed: int, start: int, world: int,
            ranks: tuple[int, ...]) -> Iterator[tuple[int, list[list[Item]]]]:
    """Endless (epoch, [micro-batch of each of `ranks`]) from micro-batch index `start` on, each epoch's order drawn
    once for all of them: process `rank` of `world` takes its own slice of every global batch (a rank past the
    data at an uneven epoch end takes one item, so every process steps)."""
    per_epoch = micro_batches_per_epoch(len(items), micro_batch, world)
    k = start
    perm_epoch, perm = -1, []
    while True:
        epoch, j = divmod(k, per_epoch)
        if epoch != perm_epoch:
            perm, perm_epoch = epoch_order(items, seed, epoch), epoch
        chunks = []
        for rank in ranks:
            lo = (j * world + rank) * micro_batch
            chunks.append([items[i] for i in perm[lo : lo + micro_batch]] or [items[perm[lo % len(perm)]]])
        yield epoch, chunks
        k += 1


def micro_batches(items: list[Item], micro_batch: int, seed: int, start: int = 0, world: int = 1,
                  rank: int = 0) -> Iterator[tuple[int, list[Item]]]:
    """Endless (epoch, micro-batch) from micro-batch index `start` on; process `rank` of `world` takes its
    own slice of every global batch."""
    for epoch, (chunk,) in _chunks(items, micro_batch, seed, start, world, (rank,)):
        yield epoch, chunk


def global_tokens(items: list[Item], micro_batch: int, seed: int, world: int = 1) -> Iterator[int]:
    """Endless input tokens (padding left out: what collate's attention mask counts) of every global micro-batch
    from the first on, the world processes' micro-batches of one index together (each epoch's order drawn once,
    not once per process). A pure function of the items, as micro_batches is, so a resumed run counts the steps
    before its checkpoint again, exactly."""
    for _, chunks in _chunks(items, micro_batch, seed, 0, world, tuple(range(world))):
        yield sum(len(x.input_ids) for chunk in chunks for x in chunk)
