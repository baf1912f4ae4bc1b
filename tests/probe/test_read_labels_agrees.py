"""A classifier's labels, read by the two entry points that read them from a whole file:
lorplan.probe.runner.read_labels (every start of probes: `lorplan probe start`, `lorplan recommend --data`, the
planner's probes and ladders) and lorplan.core.data.data_classes (`lorplan train`'s and `lorplan export`'s
classes). Both stream the file once and refuse, byte for byte alike, a label that is no class label (its line),
labels of no one kind and no label at all; read_labels also refuses one label alone (check_classes), which
`lorplan train` checks apart. read_labels takes the start checks' peek instead of the file when the peek read
the whole file, and refuses its first bad label as the file's read does (the peek's refusal was left to
check_start before).

Real files in tmp_path, read by the real readers."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from lorplan.core.data import data_classes, peek_examples
from lorplan.core.data.labels import by_id, class_ids
from lorplan.core.data.readers import RowSource
from lorplan.core.errors import BadInput
from lorplan.probe.runner import read_labels

RULE = "a class label is a whole number (its class id) or a name"
WHERE = "--data d"
MISSING = object()  # a row without a label column
PEEK = 20_000  # records.peek_examples' rows
AMBIGUOUS = ("label {!r} reads as a number but is a name beside integer class ids such as 0; write every label "
             "as a whole number, or every label as a name")


def _jsonl(path, labels):
    rows = ({"text": f"row {i}"} if v is MISSING else {"text": f"row {i}", "label": v} for i, v in enumerate(labels))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _csv(path, labels):
    path.write_text("text,label\n" + "".join(f"row {i},{v}\n" for i, v in enumerate(labels)), encoding="utf-8")
    return path


def _outcome(call):
    try:
        return call()
    except BadInput as exc:
        return f"BadInput: {exc}"


def _read(path, **kwargs):
    """read_labels' answer as data_classes gives it (class id -> label), or its refusal."""
    return _outcome(lambda: by_id(class_ids(read_labels(path, WHERE, **kwargs).counts)))


def _all_ways(path):
    """(data_classes, read_labels streaming the file, read_labels given the start checks' peek)."""
    return (_outcome(lambda: data_classes(path, where=WHERE)), _read(path), _read(path, peek=peek_examples(path)))


def _refused(why):
    return f"BadInput: {WHERE}: {why}"


ONE_ALONE = _refused("sequence classification needs at least two distinct values of 'label' (every row has 'a')")
NO_LABEL = _refused("sequence classification needs a label column in the data")

# name: (labels, what data_classes gives, what read_labels gives when it differs (one label alone), else None)
JSONL = {
    "a boolean": ([0, True, 1], _refused(f"line 2: label true is a boolean; {RULE}"), None),
    "false first": ([False, 0, 1], _refused(f"line 1: label false is a boolean; {RULE}"), None),
    "'1' is the integer": (["1", 0, " 2 "], {0: 0, 1: 1, 2: 2}, None),
    "'1.0' beside integers": (["1.0", 0, 1], _refused(AMBIGUOUS.format("1.0")), None),
    "'1' and '1.0'": (["1", "1.0", 0], _refused(AMBIGUOUS.format("1.0")), None),
    "1.0 the number is 1": ([1.0, 0, "1"], {0: 0, 1: 1}, None),
    "a fraction at its line": ([0, 1, 2.5, 3.5], _refused(f"line 3: label 2.5 is not a whole number; {RULE}"), None),
    "a list": ([0, [1], True, 1], _refused(f"line 2: label is a list; {RULE}"), None),
    "blanks are no label": ([None, "", "  ", MISSING, "b", "a"], {0: "a", 1: "b"}, None),
    "no label at all": ([None, "", MISSING], NO_LABEL, None),
    "one class alone": (["a", None, "a"], {0: "a"}, ONE_ALONE),
    "mixed ints and names": (["spam", 5, 0], {0: 0, 5: 5, 6: "spam"}, None),
}

CSV = {
    "'true' is a name": (["true", "false"], {0: "false", 1: "true"}, None),
    "'1.0' is the integer": (["1", "1.0", "0"], {0: 0, 1: 1}, None),
    "'+1' beside integers": (["+1", "0", "1"], _refused(AMBIGUOUS.format("+1")), None),
    "2.5 at its line": (["0", "1", "2.5"], _refused(f"line 4: label 2.5 is not a whole number; {RULE}"), None),
    "2.50 among names": (["a", "2.50", "b"], _refused(f"line 3: label 2.50 is not a whole number; {RULE}"), None),
    "blank cells are no label": (["", "b", " ", "a"], {0: "a", 1: "b"}, None),
    "no label at all": (["", " "], NO_LABEL, None),
    "one class alone": (["a", "", "a"], {0: "a"}, ONE_ALONE),
    "mixed ints and names": (["spam", "5", "0"], {0: 0, 5: 5, 6: "spam"}, None),
}


@pytest.mark.parametrize("kind, labels, classes, read", [("jsonl", *v) for v in JSONL.values()]
                         + [("csv", *v) for v in CSV.values()], ids=[f"jsonl {k}" for k in JSONL]
                         + [f"csv {k}" for k in CSV])
def test_read_labels_and_data_classes_agree(tmp_path, kind, labels, classes, read):
    path = (_jsonl if kind == "jsonl" else _csv)(tmp_path / f"d.{kind}", labels)
    assert _all_ways(path) == (classes, read or classes, read or classes)


def test_a_late_bad_label_past_the_peek_is_refused_at_its_line_every_way(tmp_path):
    """Past the peek's rows the file is streamed: the bad label on row 20,041 is named by its line."""
    labels = [i % 2 for i in range(PEEK + 50)]
    labels[PEEK + 40] = 2.5
    path = _jsonl(tmp_path / "late.jsonl", labels)
    refused = _refused(f"line {PEEK + 41}: label 2.5 is not a whole number; {RULE}")
    assert _all_ways(path) == (refused,) * 3
    csv = _csv(tmp_path / "late.csv", labels)
    assert _all_ways(csv) == (_refused(f"line {PEEK + 42}: label 2.5 is not a whole number; {RULE}"),) * 3


def test_a_late_class_past_the_peek_is_counted(tmp_path):
    path = _jsonl(tmp_path / "late.jsonl", ["a"] * (PEEK + 10) + ["b"])
    assert _all_ways(path) == ({0: "a", 1: "b"},) * 3
    assert read_labels(path, WHERE, peek=peek_examples(path)).counts == Counter({"a": PEEK + 10, "b": 1})


def test_a_bad_label_in_a_whole_file_peek_is_refused(tmp_path):
    """read_labels given a peek that read the whole file took its labels and left out its bad label (check_start
    had refused it before calling read_labels, but read_labels alone answered the file's labels): now it refuses
    it, the line as the file's read names it."""
    path = _jsonl(tmp_path / "d.jsonl", [0, 1, 2.5, 1])
    peek = peek_examples(path)
    assert peek.complete and peek.bad_label is not None
    assert _read(path, peek=peek) == _refused(f"line 3: label 2.5 is not a whole number; {RULE}") == _read(path)


def test_a_whole_file_peek_is_not_read_again(tmp_path, monkeypatch):
    """The peek read every row: read_labels counts its labels without opening the file again."""
    path = _jsonl(tmp_path / "d.jsonl", ["a", "b", None, "b"])
    peek = peek_examples(path)
    passes: list[str] = []
    rows = RowSource.rows

    def counted(self):
        passes.append(self.path.name)
        yield from rows(self)

    monkeypatch.setattr(RowSource, "rows", counted)
    assert read_labels(path, WHERE, peek=peek).counts == Counter({"a": 1, "b": 2})
    assert passes == []
    assert read_labels(path, WHERE).counts == Counter({"a": 1, "b": 2})
    assert passes == ["d.jsonl"]


def test_the_peek_and_label_counts_count_alike(tmp_path):
    """peek_examples counts the labels of the rows it reads with the same tally as label_counts: the same
    counts, and the rows without a label (null, blank, missing) counted apart from the first at its line."""
    from lorplan.core.data.records import label_counts

    path = _jsonl(tmp_path / "d.jsonl", [None, "b", "", 3, MISSING, "b", "  "])
    peek = peek_examples(path)
    assert peek.labels == label_counts(path) == Counter({"b": 2, 3: 1})
    assert (peek.unlabelled, peek.first_unlabelled, peek.bad_label) == (4, 1, None)
    with pytest.raises(BadInput, match=r"^line 2: label 2\.5 is not a whole number"):  # no `where`: no prefix
        label_counts(_jsonl(tmp_path / "e.jsonl", ["a", 2.5, "b"]))
