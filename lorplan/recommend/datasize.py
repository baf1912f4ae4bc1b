"""How much a dataset has to teach: trained tokens for language modelling, examples × label entropy for
classification. Epochs and exact duplicates add no information, so neither is counted.

`DataSize` comes from a data profile (lorplan.core.data.profile_dataset, with its train_on masking) or from
numbers the user gives (`lorplan recommend --trained-tokens N --examples N`). Pure Python; a classifier's label
counts come from lorplan.probe.runner.read_labels (the one label rule of every start of probes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from lorplan.core.errors import BadInput
from lorplan.core.vocab import Task

TASKS = Task.values()


def label_entropy(counts: Mapping[object, int]) -> float:
    """Shannon entropy of the label distribution, in bits per example: -Σ p·log2 p (0 for a single label)."""
    total = sum(counts.values())
    if total <= 0:
        raise BadInput("labels: no labelled example to measure the label entropy from")
    return max(0.0, -sum(c / total * math.log2(c / total) for c in counts.values() if c > 0))


@dataclass(frozen=True)
class DataSize:
    """What the data has to teach, counted once.

    task: "causal-lm" or "sequence-classification".
    trained_tokens: tokens with a loss (completions / assistant turns, or every token with train_on = all),
        counted once over the dataset (causal LM; may be None for classification).
    examples: usable examples (None when unknown).
    num_labels / label_entropy_bits: classification only; the entropy is per example, in bits.
    entropy_counted: the entropy was measured from the labels (False: assumed uniform over num_labels).
    duplicates: exact duplicate examples (they teach nothing new).
    epochs: passes over the data the user plans (recorded for the plan; adds no information).
    source: where the figures come from, in words ("given on the command line", "profile of data.jsonl").
    estimated: token figures are estimates (no tokenizer, or a sample scaled up).
    truncated_tokens: tokens beyond the sequence length (some may be trained tokens that truncation drops).
    """

    task: str
    trained_tokens: int | None = None
    examples: int | None = None
    num_labels: int | None = None
    label_entropy_bits: float | None = None
    entropy_counted: bool = False
    duplicates: int = 0
    epochs: float = 1.0
    source: str = "given on the command line"
    estimated: bool = False
    truncated_tokens: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise BadInput(f"--task: {self.task!r} is not one of {', '.join(TASKS)}")
        for flag, value in (("--trained-tokens", self.trained_tokens), ("--examples", self.examples)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise BadInput(f"{flag}: {value!r} must be a whole number of at least 0")
        if not (isinstance(self.epochs, (int, float)) and self.epochs > 0):
            raise BadInput(f"--epochs: {self.epochs!r} must be a positive number")
        if not 0 <= self.duplicates <= (self.examples if self.examples is not None else self.duplicates):
            raise BadInput(f"duplicates: {self.duplicates} must lie between 0 and the number of examples")
        if self.task == "causal-lm":
            if self.trained_tokens is None:
                raise BadInput("--trained-tokens: a causal language model needs the number of trained tokens "
                               "(or --data)")
        else:
            if self.examples is None:
                raise BadInput("--examples: sequence classification counts examples × label entropy; give "
                               "--examples N (or --data)")
            if self.num_labels is None or self.num_labels < 2:
                raise BadInput(f"--num-labels: {self.num_labels!r} must be at least 2")
            if self.label_entropy_bits is None:
                object.__setattr__(self, "label_entropy_bits", math.log2(self.num_labels))
            if not 0 <= self.label_entropy_bits <= math.log2(self.num_labels) + 1e-9:
                raise BadInput(f"label entropy {self.label_entropy_bits!r} bits must lie in [0, log2 "
                               f"{self.num_labels}]")

    @property
    def unique_fraction(self) -> float:
        """Share of examples that are not exact duplicates (1 when the count is unknown)."""
        if not self.examples:
            return 1.0
        return (self.examples - self.duplicates) / self.examples

    @property
    def unique_trained_tokens(self) -> int | None:
        """Trained tokens without exact duplicates (scaled by the share of unique examples)."""
        if self.trained_tokens is None:
            return None
        return round(self.trained_tokens * self.unique_fraction)

    @property
    def unique_examples(self) -> int | None:
        return None if self.examples is None else self.examples - self.duplicates

    @property
    def label_bits(self) -> float | None:
        """Information in the labels, in bits: unique examples × label entropy (classification only)."""
        if self.task != "sequence-classification":
            return None
        return self.unique_examples * self.label_entropy_bits


def data_size_from_profile(
    profile,
    *,
    task: str,
    epochs: float = 1.0,
    label_counts: Mapping[object, int] | None = None,
    num_labels: int | None = None,
) -> DataSize:
    """A DataSize from a lorplan.core.data.DataProfile (its trained tokens already follow train_on).

    Classification: label_counts (lorplan.probe.runner.read_labels' counts) gives the entropy, over the classes
    the labels hold; num_labels, the head's outputs, is at least what lorplan train's class ids need
    (lorplan.core.data.labels.classes_needed: labels 0, 5 and "spam" are 3 classes on a head of 7).
    """
    entropy = None
    if task == "sequence-classification":
        if label_counts:
            from lorplan.core.data.labels import classes_needed

            entropy = label_entropy(label_counts)
            num_labels = max(num_labels or 0, classes_needed(label_counts, f"--data {profile.path}"))
        elif num_labels is None:
            num_labels = 2
    return DataSize(
        task=task,
        trained_tokens=int(profile.trained_tokens),
        examples=int(profile.examples),
        num_labels=num_labels if task == "sequence-classification" else None,
        label_entropy_bits=entropy,
        entropy_counted=entropy is not None,
        duplicates=min(int(getattr(profile, "duplicates", 0) or 0), int(profile.examples)),
        epochs=epochs,
        source=f"profile of {profile.path}",
        estimated=bool(profile.estimated),
        truncated_tokens=int(getattr(profile, "truncated_tokens", 0) or 0),
    )
