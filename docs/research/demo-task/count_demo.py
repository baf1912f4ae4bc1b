"""Paste-ready generator for lorplan's embedded demo: "how many apples are in the basket?".

Each text lists eight fruits; the label is how many of them are "apple" (0 to 5, six classes, drawn uniformly).
Nothing is downloaded: every text is assembled here from a word list, deterministic for a seed.
Counting is not in MiniLM's pooled [CLS] features (the head alone reaches ~0.3 accuracy) and the
adapter has to build it: at 60 steps, micro-batch 16, lr 2e-3, alpha = 2r, ranks 1-4 stop near
0.7-0.8 accuracy and ranks 8-32 reach ~1.0 (measured in REPORT.md next to this file).
"""

from __future__ import annotations

import random

COUNT_NUM_LABELS = 6  # 0..5 apples
_FRUITS = ("pear", "plum", "fig", "lemon", "mango", "peach", "grape", "kiwi")
_TARGET = "apple"
_LENGTH = 8
_MAX_COUNT = 5


def count_examples(n: int = 800, seed: int = 0) -> list[tuple[str, int]]:
    """`n` (text, label) pairs: label = how many of the eight listed fruits are apples (0..5).

    Same random stream as the measured experiment (tasks.count in this folder): for each example the
    count is drawn first, then the other fruits, then the order is shuffled."""
    rng = random.Random(seed)
    out: list[tuple[str, int]] = []
    for _ in range(n):
        c = rng.randrange(_MAX_COUNT + 1)
        items = [_TARGET] * c + [rng.choice(_FRUITS) for _ in range(_LENGTH - c)]
        rng.shuffle(items)
        out.append(("In the basket: " + ", ".join(items) + ".", c))
    return out


# In lorplan/probe/demo.py the loop body would build
#   Example(line=i + 1, schema="text", text=text, label=c)
# instead of the tuple (and num_labels=COUNT_NUM_LABELS for the classifier head).
