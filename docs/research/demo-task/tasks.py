"""Candidate task generators (pure Python, seeded). Each returns (list[(text, label)], num_labels)."""
from __future__ import annotations

import random


COLORS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange", "pink", "brown", "gray", "golden"]
ANIMALS = ["cat", "dog", "horse", "rabbit", "fox", "bear", "tiger", "mouse", "sheep", "goat", "eagle", "snake"]
PLACES = ["in the garden", "near the river", "on the hill", "by the barn", "in the forest", "at the market",
          "under the bridge", "behind the house"]
VERBS = ["sleeps", "waits", "runs", "sits", "plays", "rests", "hides", "eats"]


def demo(n=800, seed=0):
    from lorplan.probe.demo import demo_examples
    return [(e.text, e.label) for e in demo_examples(n, seed)], 2


def pairtable(n=800, seed=0, nc=8, na=8, ncls=8, table_seed=1234):
    """'The {color} {animal} {verb} {place}.' label = T[color][animal], a random table into ncls classes."""
    trng = random.Random(table_seed)
    table = [[trng.randrange(ncls) for _ in range(na)] for _ in range(nc)]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        c, a = rng.randrange(nc), rng.randrange(na)
        text = f"The {COLORS[c]} {ANIMALS[a]} {rng.choice(VERBS)} {rng.choice(PLACES)}."
        out.append((text, table[c][a]))
    return out, ncls


def binding(n=800, seed=0, k=4, adjs=("big", "small")):
    """k animals each with one of two adjectives, mentioned in random order; label = the k-bit code of which
    fixed animals (ANIMALS[:k]) are adjs[1]: 2^k classes. Bag-of-words cannot tell who is which."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        bits = [rng.randrange(2) for _ in range(k)]
        order = list(range(k))
        rng.shuffle(order)
        parts = [f"the {ANIMALS[i]} is {adjs[bits[i]]}" for i in order]
        text = ", ".join(parts[:-1]) + " and " + parts[-1] + "."
        text = text[0].upper() + text[1:]
        out.append((text, sum(b << i for i, b in enumerate(bits))))
    return out, 2 ** k


def position(n=800, seed=0, m=3, pick=1, nitems=12):
    """m distinct animals listed; label = the animal at position `pick` (nitems classes)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        items = rng.sample(range(nitems), m)
        text = "I saw a " + ", then a ".join(ANIMALS[i] for i in items) + "."
        out.append((text, items[pick]))
    return out, nitems


def count(n=800, seed=0, maxc=5, length=8):
    """a list of `length` fruits; label = how many are 'apple' (0..maxc)."""
    fruits = ["pear", "plum", "fig", "lemon", "mango", "peach", "grape", "kiwi"]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        c = rng.randrange(maxc + 1)
        items = ["apple"] * c + [rng.choice(fruits) for _ in range(length - c)]
        rng.shuffle(items)
        out.append(("In the basket: " + ", ".join(items) + ".", c))
    return out, maxc + 1


TASKS = {"demo": demo, "pairtable": pairtable, "binding": binding, "position": position, "count": count}


def make(name, n, seed, **kw):
    return TASKS[name](n=n, seed=seed, **kw)
