"""A model's head: how many outputs a sequence classifier's head has, the spec with another number, and the head
config.json names when lorplan plans another (a token classifier's, which lorplan train refuses).

The head is trained in full (it is new for the task), so its size counts in the trainable parameters and the
memory: every figure for a classifier is priced with the head the plan trains (lorplan.core.plan.classifier_spec
picks it from the data). Pure Python.
"""

from __future__ import annotations

import re

# transformers' auto classes of the heads fine-tuned for a task lorplan does not train: a checkpoint with such a head
# (a Llama token classifier, a BERT question-answering model) is planned as the model lorplan plans of its config, and
# lorplan train refuses it, which would load it as that other model (a causal LM without the lm_head it lacks, a
# sequence classifier without BERT's pooler) and train it without its own head. An encoder's masked LM and a
# sequence-to-sequence LM are not refused: lorplan plans such a model from them on purpose (its classifier, its
# decoder's causal LM), as the fallback's notes say.
REFUSED_HEADS = ("AutoModelForTokenClassification", "AutoModelForQuestionAnswering", "AutoModelForMultipleChoice")

# what other_head_note adds for a head of REFUSED_HEADS
REFUSED_CLAUSE = ("; lorplan train, export, recommend and the probes refuse this checkpoint, whose head they do not "
                  "train")


def task_words(auto: str) -> str:
    """What transformers' auto class `auto` builds, in the words of the notes (the fast path's and the fallback's
    child's, which imports it): "a token-classification model transformers builds with
    AutoModelForTokenClassification"; "a sequence-to-sequence model transformers builds with AutoModelForSeq2SeqLM"."""
    task = auto.removeprefix("AutoModel").removeprefix("For")
    kind = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", task).lower() if task else "base"
    kind = kind.replace("seq2seq-lm", "seq2seq").replace("seq2seq", "sequence-to-sequence")
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{article} {kind} model transformers builds with {auto}"


def other_head_note(name: str, auto: str, built: str) -> str:
    """The note of a plan of `built` for a config.json whose architectures names `name`, the class transformers'
    `auto` builds (a head lorplan does not plan), the fast path's (archs.build_layout) and the fallback's
    (fallback._spec, from its child's _named_other); for a head of REFUSED_HEADS, that lorplan train, lorplan
    export, recommend and the probes refuse the checkpoint (other_head_refusal)."""
    note = (f"config.json names {name}, {task_words(auto)}; lorplan plans causal language models and sequence "
            f"classifiers (what lorplan train loads), and this plan is of {built}")
    return note + (REFUSED_CLAUSE if auto in REFUSED_HEADS else "")


def other_head(spec) -> tuple[str, str] | None:
    """(the class config.json's architectures names, the auto class transformers builds it with) when the spec was
    planned as another model than that head (ModelSpec.named_head, the fast path's or the fallback's; its note is
    other_head_note's), else None."""
    named = getattr(spec, "named_head", ())
    return (named[0], named[1]) if len(named) == 2 else None


def other_head_refusal(spec, model: str) -> str | None:
    """The one line lorplan train, export, recommend and the probes refuse a model with when its config.json names a
    head of REFUSED_HEADS ("MODEL: config.json names LlamaForTokenClassification, a token-classification model
    transformers builds with AutoModelForTokenClassification, a head lorplan does not train ..."); None otherwise.
    `model` names it as the caller's input does ("PLAN: model.path ./tagger", "--model ./tagger")."""
    found = other_head(spec)
    if found is None or found[1] not in REFUSED_HEADS:
        return None
    name, auto = found
    return (f"{model}: config.json names {name}, {task_words(auto)}, a head lorplan does not train: lorplan trains "
            "causal language models and sequence classifiers (lorplan train, its exports, recommendations and probes), and would "
            "train another model from this checkpoint without the head it holds: give the model it was fine-tuned "
            "from, or a causal LM or sequence classifier")


def head_labels(spec) -> int | None:
    """Outputs of the model's classifier head (_head_linears), else None."""
    return next((m.out_features for m in _head_linears(spec)), None)


def _head_linears(spec) -> list:
    """A sequence classifier's output linear, role "head": its `classifier` or `score` linear, or the one in a head
    module of that name the fallback's child found (T5Gemma's score.out_proj, RoBERTa's classifier.out_proj:
    _fallback_child._classifier_name); [] for a causal LM (its lm_head) or none."""
    from lorplan.core.vocab import Task

    if spec.task != Task.SEQUENCE_CLASSIFICATION:
        return []
    return [m for m in spec.linears if m.role == "head" and m.layer is None]


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


# what regression_head_note and regression_words say of the model's own head, in one wording
_ONE_OUTPUT = "its classifier head has 1 output, a regression or score head (a cross-encoder's, say)"


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
    return (f"{model}: {_ONE_OUTPUT}; lorplan trains class labels, no regression, so the plan prices and trains "
            f"a new {num_labels}-class head {which}in its place{hint}")


def regression_words(spec, model: str) -> str | None:
    """What a refusal of float labels (no class labels) adds for a model whose own head has 1 output: "MODEL: its
    classifier head has 1 output, a regression or score head (a cross-encoder's, say), and lorplan trains class
    labels, no regression"; else None. `model` names it as regression_head_note does, as the user typed it
    ("--model m")."""
    if model_labels(spec) != 1:
        return None
    return f"{model}: {_ONE_OUTPUT}, and lorplan trains class labels, no regression"


def with_labels(spec, num_labels: int):
    """The spec with a classifier head of num_labels outputs (the head is trained in full, so it counts);
    the spec itself when it already has that many, or has no config to rebuild from. A fallback spec (built by
    transformers in a child process, which a re-head would run again: seconds) gets its head's output linear
    resized in place (_resized_head)."""
    from lorplan.core.model.sources import from_config

    cfg = dict(spec.config or {})
    if not cfg or head_labels(spec) == num_labels:
        return spec
    cfg = {k: v for k, v in cfg.items() if k not in ("id2label", "label2id")}
    cfg["num_labels"] = num_labels
    if spec.source == "fallback":
        return _resized_head(spec, cfg, num_labels)
    return from_config(cfg, spec.id, spec.source, spec.config_path or spec.id)


def _output_linears(spec) -> list:
    """The linears of a sequence classifier's head whose width is num_labels: its output linear (_head_linears'),
    else the one linear outside the blocks as wide as the config's num_labels (a head not named classifier or
    score: T5's and BART's classification_head.out_proj,
    XLNet's logits_proj, XLM's sequence_summary.summary, Perceiver's decoder final_layer: in transformers 5 the one
    module whose shape num_labels changes, as built on the meta device for 1, 2 and 3 labels); [] when none is
    found or several are."""
    from lorplan.core.model.archs import num_labels
    from lorplan.core.vocab import Task

    named = _head_linears(spec)
    if named or spec.task != Task.SEQUENCE_CLASSIFICATION:
        return named
    was = num_labels(spec.config or {})
    found = [m for m in spec.linears if m.layer is None and m.role not in ("head", "vision") and m.out_features == was]
    return found if len(found) == 1 else []


def _resized_head(spec, cfg: dict, num_labels: int):
    """A fallback spec with its head's output linear (_output_linears) num_labels outputs wide and `cfg` as its
    config, exact for the heads transformers builds anew for num_labels (each sequence classifier of transformers
    5 checked on the meta device); the spec itself when it has that many. A head of which no such linear is found
    keeps its linears as built, `cfg` as its config (the classes the plan writes), and a note that says so, once
    (the figures are off by the head's difference, which nothing else says)."""
    from dataclasses import replace
    from types import MappingProxyType

    heads = _output_linears(spec)
    if heads and all(m.out_features == num_labels for m in heads):
        return spec
    if not heads:
        built = model_labels(spec)
        said = f"{spec.architecture}'s classifier head is priced as built"
        note = (f"{said} ({built} output{'s' if built != 1 else ''}): lorplan finds no output linear in it to resize "
                "to the classes the plan trains, so the trainable count and memory are off by that linear's "
                "difference")
        notes = spec.notes if any(n.startswith(said) for n in spec.notes) else (*spec.notes, note)
        return replace(spec, config=MappingProxyType(cfg), notes=notes)
    linears = tuple(replace(m, out_features=num_labels) if m in heads else m for m in spec.linears)
    return replace(spec, linears=linears, config=MappingProxyType(cfg))
