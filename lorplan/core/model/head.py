"""A sequence classifier's head: how many outputs a spec's head has, and the spec with another number.

The head is trained in full (it is new for the task), so its size counts in the trainable parameters and the
memory: every figure for a classifier is priced with the head the plan trains (lorplan.core.plan.classifier_spec
picks it from the data). Pure Python.
"""

from __future__ import annotations


def head_labels(spec) -> int | None:
    """Outputs of the model's classifier head (a sequence classifier's `classifier` or `score`), else None."""
    for m in spec.linears:
        if m.role == "head" and m.name in ("classifier", "score"):
            return m.out_features
    return None


def model_labels(spec) -> int:
    """Outputs of the model's own classifier head: its head (head_labels), else its config's num_labels as
    transformers derives it (2 when it says none)."""
    from lorplan.core.model.archs import num_labels

    return head_labels(spec) or num_labels(spec.config or {})


def trained_labels(spec) -> int:
    """Outputs of the head a plan trains on this sequence classifier when no data says how many: the model's
    own, at least 2. A 1-output head is a regression or score head (a cross-encoder's: transformers trains it on
    float labels with MSE), and lorplan trains class labels, so a new 2-class head takes its place
    (regression_head_note says so)."""
    return max(2, model_labels(spec))


def regression_head_note(spec, num_labels: int, model: str, data: str | None = None, *,
                         classes: str | None = None) -> str | None:
    """The one line for a plan that trains a head of num_labels outputs on a model whose own head has 1 output (a
    regression or score head, which lorplan does not train), else None. `model` and `data` name the inputs as the
    user typed them ("--model m", "--data d.jsonl"; data None: the plan has no data, whose labels would set the
    classes); `classes`, the flag that set the count without data ("--num-labels 5", lorplan recommend's). Without
    "note: ", which the caller adds where it prints."""
    if model_labels(spec) != 1 or num_labels == 1:
        return None
    which = f"for {data}'s labels " if data else f"({classes}) " if classes else ""
    hint = "" if data or classes else " (--data gives it as many classes as its labels need)"
    return (f"{model}: its classifier head has 1 output, a regression or score head (a cross-encoder's, say); "
            f"lorplan trains class labels, no regression, so the plan prices and trains a new {num_labels}-class "
            f"head {which}in its place{hint}")


def regression_words(spec, model: str) -> str | None:
    """What a refusal of float labels (no class labels) adds for a model whose own head has 1 output: "MODEL: its
    classifier head has 1 output, a regression or score head (a cross-encoder's, say), and lorplan trains class
    labels, no regression"; else None. `model` names it as regression_head_note does, as the user typed it
    ("--model m")."""
    if model_labels(spec) != 1:
        return None
    return (f"{model}: its classifier head has 1 output, a regression or score head (a cross-encoder's, say), and "
            "lorplan trains class labels, no regression")


def with_labels(spec, num_labels: int):
    """The spec with a classifier head of num_labels outputs (the head is trained in full, so it counts);
    the spec itself when it already has that many, or has no config to rebuild from. A fallback spec (built by
    transformers in a child process, which a re-head would run again: seconds) gets its head linear resized in
    place (_resized_head), exact for the Linear(hidden, num_labels) head transformers builds anew for num_labels."""
    from lorplan.core.model.sources import from_config

    cfg = dict(spec.config or {})
    if not cfg or head_labels(spec) == num_labels:
        return spec
    cfg = {k: v for k, v in cfg.items() if k not in ("id2label", "label2id")}
    cfg["num_labels"] = num_labels
    if spec.source == "fallback":
        return _resized_head(spec, cfg, num_labels)
    return from_config(cfg, spec.id, spec.source, spec.config_path or spec.id)


def _resized_head(spec, cfg: dict, num_labels: int):
    """A fallback spec with its classifier head (head_labels' linear: `classifier` or `score`) num_labels outputs
    wide and `cfg` as its config; the spec itself when no such head was found (a head of another shape, as
    RoBERTa's classifier.out_proj, is priced as built)."""
    from dataclasses import replace
    from types import MappingProxyType

    if head_labels(spec) is None:
        return spec
    linears = tuple(replace(m, out_features=num_labels)
                    if m.role == "head" and m.name in ("classifier", "score") else m for m in spec.linears)
    return replace(spec, linears=linears, config=MappingProxyType(cfg))
