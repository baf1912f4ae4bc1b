"""lorplan.train.data.global_tokens, which log.jsonl's `tokens` counts from (Engine.step_tokens): the input tokens
of every global micro-batch are those the world processes' own micro-batches (micro_batches, one per rank) hold,
uneven last batches and the one-item fillers of ranks past the data included; and the data order is drawn once a
pass for all of them. It was drawn once per process (world streams of micro_batches): a resumed 8-process run over
1M items recounting 50k steps drew each epoch's permutation 8 times over and scanned the first epoch for its
longest item 8 times, 72 s on the main process before its first step (12 s once per pass)."""

from __future__ import annotations

from itertools import islice

import pytest

from lorplan.train import data as D


def _items(n: int) -> list[D.Item]:
    return [D.Item(tuple(range(1 + (i * 7) % 11))) for i in range(n)]


@pytest.mark.parametrize(("n", "micro_batch", "world"), [(36, 2, 1), (37, 4, 2), (10, 3, 4), (5, 4, 3), (1, 2, 2)])
def test_global_tokens_are_the_ranks_micro_batches_tokens(n, micro_batch, world):
    items = _items(n)
    count = 3 * D.micro_batches_per_epoch(n, micro_batch, world) + 1  # past two epoch ends
    ranks = [list(islice(D.micro_batches(items, micro_batch, 5, 0, world, r), count)) for r in range(world)]
    want = [sum(len(x.input_ids) for rank in ranks for x in rank[k][1]) for k in range(count)]
    assert list(islice(D.global_tokens(items, micro_batch, 5, world), count)) == want
    # every rank gets a chunk, partial or a filler, at an uneven epoch end
    assert all(rank[k][1] for rank in ranks for k in range(count))


def test_global_tokens_draw_each_epochs_order_once_for_all_processes(monkeypatch):
    drawn: list[int] = []
    real = D.epoch_order

    def spy(items, seed, epoch):
        drawn.append(epoch)
        return real(items, seed, epoch)

    monkeypatch.setattr(D, "epoch_order", spy)
    items = _items(37)
    per_epoch = D.micro_batches_per_epoch(len(items), 4, 8)
    for _ in islice(D.global_tokens(items, 4, 0, 8), 3 * per_epoch):
        pass
    assert drawn == [0, 1, 2]
