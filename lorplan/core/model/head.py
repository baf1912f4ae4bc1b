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


def with_labels(spec, num_labels: int):
    """The spec with a classifier head of num_labels outputs (the head is trained in full, so it counts);
    the spec itself when it already has that many, or has no config to rebuild from."""
    from lorplan.core.model.sources import from_config

    cfg = dict(spec.config or {})
    if not cfg or spec.source == "fallback" or head_labels(spec) == num_labels:
        return spec
    cfg = {k: v for k, v in cfg.items() if k not in ("id2label", "label2id")}
    cfg["num_labels"] = num_labels
    return from_config(cfg, spec.id, spec.source, spec.config_path or spec.id)
