"""Classification labels as class ids: the one rule that lorplan train, its probes, the head every plan prices
(lorplan.core.plan.classifier_spec / class_count) and the recommender's head share.

An integer label is its own class id (labels 0 and 5 need a head of 6 outputs). Names (string labels) are
numbered in sorted order after the largest integer label, from 0 when there is none: {0, 5, "spam"} gives
"spam" id 6, a head of 7. No two classes ever share an id.

A file that mixes integer ids with a name that reads as a number ("1.0", "+1", "2e0") is refused: whether "1.0"
is class 1 or a class of its own cannot be told, and guessing trains the wrong classes. (Digits alone, "3" or
" 3 ", and a whole number such as 3.0, or "3.0" in a CSV cell, are read as the integer 3 when the row is parsed;
2.5 (or "2.5" in a CSV cell), NaN or true are no label at all, and a classifier refuses them at their line:
lorplan.core.data.schema.read_label.) Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lorplan.core.errors import BadInput
from lorplan.core.vocab import DataSchema

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_class_id(label) -> bool:
    """An integer label (a class id), not a name; bool is neither (the parser drops it)."""
    return isinstance(label, int) and not isinstance(label, bool)


def class_ids(labels: Iterable, where: str | None = None) -> dict:
    """Label value -> class id for the distinct values in `labels` (see the module docstring).

    BadInput, one line starting with `where` (e.g. "--data d.jsonl") when given: integer labels beside a name
    that reads as a number, with an example of each; no label at all."""
    values = set(labels)
    values.discard(None)
    prefix = f"{where}: " if where else ""
    if not values:
        raise BadInput(f"{prefix}sequence classification needs a label column in the data")
    ints = sorted(v for v in values if is_class_id(v))
    names = sorted((v for v in values if not is_class_id(v)), key=str)
    if ints and names:
        numeric = ambiguous_name(values)
        if numeric is not None:
            raise BadInput(f"{prefix}label {numeric!r} reads as a number but is a name beside integer class ids "
                           f"such as {ints[0]}; write every label as a whole number, or every label as a name")
    start = max(ints[-1] + 1, 0) if ints else 0
    ids: dict = {v: v for v in ints}
    ids.update((name, start + i) for i, name in enumerate(names))
    return ids


def ambiguous_name(labels: Iterable) -> str | None:
    """The first name (in sorted order) that reads as a number ("1.0", "+1", "2e0") when integer class ids are
    among the labels: what class_ids refuses. None otherwise."""
    values = [v for v in set(labels) if v is not None]
    if not any(is_class_id(v) for v in values):
        return None
    names = sorted((v for v in values if not is_class_id(v)), key=str)
    return next((n for n in names if _NUMBER.fullmatch(str(n).strip())), None)


def unlabelled(example) -> bool:
    """Whether a sequence classifier trains without this row: its label is null, an empty string or missing
    (Example.label None), and not a value that is no class label (2.5, NaN, true: Example.label_problem), which a
    classifier refuses rather than skips. The one rule of `lorplan train` (train.data.tokenize), its start checks
    (records.peek_examples) and the profile of a classifier's data (profile.profile_dataset)."""
    return example.label is None and getattr(example, "label_problem", None) is None


def by_id(ids: dict) -> dict:
    """class_ids' mapping turned around: class id -> the label as the data writes it, in id order (what `lorplan
    train`'s result.json calls `classes`)."""
    return {i: label for label, i in sorted(ids.items(), key=lambda kv: kv[1])}


def check_head(ids: Iterable[int], num_labels: int, where: str) -> None:
    """BadInput "{where}: class ids [...] do not fit model.num_labels = N" when a class id lies outside a head of
    `num_labels` outputs (what `lorplan train` refuses, before and after its tokenizer loads)."""
    ids = sorted(set(ids))
    if ids and (ids[0] < 0 or ids[-1] >= num_labels):
        raise BadInput(f"{where}: class ids {ids} do not fit model.num_labels = {num_labels}")


def check_classes(labels: Iterable, where: str) -> None:
    """BadInput "{where}: sequence classification needs at least two distinct values of 'label' (every row has
    0)" when `labels` (label values, or a mapping label -> examples; None is no label and not counted) hold one
    value alone: one class teaches a classifier nothing (its head trains to that class, eval accuracy 0 or 1
    whatever the rank). The one rule of `lorplan probe start`, `lorplan recommend --data`, `lorplan plan --write
    --data`, `lorplan train` (before torch, and again in the engine, which reads every row) and the planner's
    probes and ladders; `where` names the data as the command does ("--data d.jsonl", "p.toml: data.path
    d.jsonl"). No labels at all is not this rule's to refuse (class_ids says so)."""
    values = {v for v in labels if v is not None}
    if len(values) == 1:
        raise BadInput(f"{where}: sequence classification needs at least two distinct values of 'label' "
                       f"(every row has {next(iter(values))!r})")


def classes_needed(labels: Iterable, where: str | None = None) -> int:
    """Outputs a classifier head needs for these labels: the largest class id + 1, at least 2."""
    return max(2, max(class_ids(labels, where).values()) + 1)


def mixed_note(labels: Iterable) -> str | None:
    """A sentence for a report when the labels mix integer class ids and names (which ids the names take and
    the head that needs), else None. Raises BadInput as class_ids does."""
    ids = class_ids(labels)
    ints = [v for v in ids if is_class_id(v)]
    names = [v for v in ids if not is_class_id(v)]
    if not ints or not names:
        return None
    shown = ", ".join(f"{n!r} → {ids[n]}" for n in names[:3]) + (", ..." if len(names) > 3 else "")
    return (f"labels mix integer class ids and names: integers are their own ids and names take the ids after "
            f"the largest ({shown}), a head of {classes_needed(ids)} outputs")


def unlabelled_note(what: str | None, rows: int, first_line: int, labelled: int, uses: str) -> str:
    """One line on a classifier's rows whose label is null or missing, which it trains without (as the note on
    skipped rows says of those): `what` names the data as the command does (None: the line starts with the rows,
    as a profile's own note); `uses` says what goes on without them ("training uses"). Without "note: ", which
    the caller adds where it prints."""
    from lorplan.core.units import counted

    where = f"line {first_line}" if rows == 1 else f"the first, line {first_line}"
    head = f"{what}: " if what else ""
    return f"{head}{counted(rows, 'row')} without a label skipped ({where}); {uses} the {labelled:,} labelled examples"


CLASSES_SHOWN = 6  # class labels a note names; the rest are counted


def classes_words(labels: Iterable, rows_read: int | None = None) -> str:
    """The distinct labels (None left out) as a note names them: "2 classes: 0, 1", integer class ids first in
    order, then names in sorted order (as repr: 'pos'), the first CLASSES_SHOWN and how many more. rows_read: the
    labels are those of the first rows_read rows alone (a peek), which the words say ("2 classes in its first
    20,000 rows: 0, 1"); None: of the whole file."""
    values = {v for v in labels if v is not None}
    ordered = sorted(v for v in values if is_class_id(v)) + sorted((v for v in values if not is_class_id(v)), key=str)
    shown = ", ".join(map(repr, ordered[:CLASSES_SHOWN]))
    more = f", ... {len(ordered) - CLASSES_SHOWN:,} more" if len(ordered) > CLASSES_SHOWN else ""
    where = f" in its first {rows_read:,} rows" if rows_read is not None else ""
    return f"{len(ordered):,} class{'' if len(ordered) == 1 else 'es'}{where}: {shown}{more}"


# what a causal LM's plan learns of a row of each schema but text, where a row's label word would go to be learned
# (None: no place to write it, a tokenized row's ids)
_LEARNED_PART = {DataSchema.PROMPT_COMPLETION.value: "completion", DataSchema.ALPACA.value: "output",
                 DataSchema.MESSAGES.value: "assistant turn", DataSchema.TOKENIZED.value: None}


def labels_unused_note(what: str, model: str, labels: Iterable, task: str, schema: str = "text",
                       rows_read: int | None = None, no_class: str | None = None,
                       no_class_rows: int | None = None) -> str | None:
    """The one line for labelled data planned for a causal LM, which trains on the rows as language modelling
    and never reads the `label` column: a user who brought classification data is told so, what lorplan plans
    labels for, and how to teach a causal LM the labels (text rows: as prompt/completion pairs; rows of another
    schema: the label's word in the part the model learns, the completion, output or assistant turn). `what`
    names the data as the command does ("--data d.jsonl", "p.toml: data.path d.jsonl"); `model` the model, named
    as the recommender's evidence names one (core.model.names.model_name: a folder by its short name, its full
    path being printed where the user needs it); `labels` the label values (a Counter, or (label, n) pairs'
    labels); `schema` the rows' (DataSchema); rows_read: the labels were read from the first rows_read rows alone
    (None: the whole file). no_class: the first label that is no class label (2.5, NaN, true: regression targets,
    say) as "line N: why" (DataPeek.bad_label, a profile's first label problem), and no_class_rows how many rows
    have one (None: not counted); a column of such labels alone is said to hold no class label, and lorplan to
    plan no regression. None when `task` is not a causal LM's (a classifier trains on the labels, or refuses
    them) or the data has no label. Without "note: ", which the caller adds where it prints: `lorplan plan --write --data`,
    `lorplan recommend --data` (its evidence), `lorplan profile --model`, `lorplan train` and the planner's Data
    tab (DataProfile.labels_unused_note)."""
    from lorplan.core.vocab import Task

    values = {v for v in labels if v is not None}
    if task != Task.CAUSAL_LM or not (values or no_class):
        return None
    odd = _no_class_words(no_class, no_class_rows, beside=bool(values)) if no_class else ""
    if values:
        column = f"a label column ({classes_words(values, rows_read)}{f'; {odd}' if odd else ''})"
    else:  # regression targets, say: no class to name, and nothing lorplan plans trains on them
        where = f" in its first {rows_read:,} rows" if rows_read is not None else ""
        column = f"a label column but no class label{where} ({odd})"
    head = f"{what} has {column}; {model} is a causal LM, so a plan for it "
    # the models lorplan plans as classifiers (core.model.archs: BERT's kin, and a decoder such as a reward model
    # whose config.json's architectures names its sequence classifier: names_classifier, the fallback's rule)
    which = ("BERT-style encoders (e.g. sentence-transformers/all-MiniLM-L6-v2) and decoders whose config.json "
             "names their sequence classifier")
    encoders = f"lorplan plans sequence classification for {which}"
    if not values:
        encoders = (f"lorplan plans sequence classification of whole-number or named classes for {which}, and no "
                    "regression")
    word = "the label's word" if values else "the label written out"
    if schema not in _LEARNED_PART:  # text rows
        return (f"{head}trains on the text as language modelling and never sees the labels: {encoders}; to teach a "
                "causal LM the labels, write each row as a prompt/completion pair (prompt = the text, completion = "
                f"{word})")
    part = _LEARNED_PART[schema]
    label = "label word" if values else "label, written out,"
    teach = f"; to teach a causal LM the labels, write each row's {label} into its {part}" if part else ""
    return f"{head}trains on the {schema} rows as language modelling and never sees the labels: {encoders}{teach}"


def _no_class_words(no_class: str, rows: int | None, beside: bool) -> str:
    """The rows whose label is no class label, for labels_unused_note, in the words of the profile's warning
    (DataProfile.label_refusal) without the rule a classifier's refusal adds. `beside` class labels: "10 rows
    have a label that is no class label, the first line 3: label 2.5 is not a whole number"; with no class label
    at all, which the note has said already: "30 rows, the first line 1: label 0.3 is not a whole number"."""
    first = no_class.split("; ")[0]
    if not beside:
        return first if rows == 1 else f"{rows:,} rows, the first {first}" if rows else f"the first {first}"
    if rows is None:
        return f"labels that are no class label, the first {first}"
    if rows == 1:
        return f"1 row has a label that is no class label, {first}"
    return f"{rows:,} rows have a label that is no class label, the first {first}"
