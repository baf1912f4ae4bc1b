"""A file's classes, read two ways: records.data_classes (what `lorplan train` and `lorplan export` number the
labels by; it refuses a label that is no class label) and records.LabelTally (load_examples' hook, with which a
probe's seeded sample notes every label of the file: lorplan.probe.worker.sample, numbered by
lorplan.train.data.class_ids). Both gather the distinct labels and the first label problem: on every edge case
they give the same classes or the same one-line refusal. load_examples calls its `each` hook on the rows it reads,
once each."""

from __future__ import annotations

import json

import pytest

from lorplan.core.data import data_classes, load_examples
from lorplan.core.data.labels import by_id
from lorplan.core.data.records import LabelTally
from lorplan.core.data.schema import DETECT_ROWS
from lorplan.core.errors import BadInput
from lorplan.train.data import Sample, class_ids

RULE = "a class label is a whole number (its class id) or a name"
WHERE = "--data d"
MISSING = object()  # a row without a label column


def _jsonl(path, labels):
    rows = ({"text": f"row {i}"} if v is MISSING else {"text": f"row {i}", "label": v} for i, v in enumerate(labels))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _outcome(call):
    try:
        return call()
    except BadInput as exc:
        return f"BadInput: {exc}"


def _both(path, *, limit=3, seed=0):
    """(data_classes' answer, the probe sample's answer) for the file: a dict class id -> label, or the refusal."""
    whole = _outcome(lambda: data_classes(path, where=WHERE))
    tally = LabelTally()
    drawn = load_examples(path, limit=limit, seed=seed, each=tally)
    sampled = _outcome(lambda: by_id(class_ids(Sample(drawn, tally.labels, tally.problem), WHERE)))
    return whole, sampled


CASES = {
    "booleans are no class label": ([0, True, 1], f"BadInput: {WHERE}: line 2: label true is a boolean; {RULE}"),
    "false too": ([False, 0, 1], f"BadInput: {WHERE}: line 1: label false is a boolean; {RULE}"),
    "digits are the integer": (["1", 0, " 2 "], {0: 0, 1: 1, 2: 2}),
    "'1.0' is a name beside integer ids": (
        ["1.0", 0, 1], f"BadInput: {WHERE}: label '1.0' reads as a number but is a name beside integer class ids "
                       f"such as 0; write every label as a whole number, or every label as a name"),
    "'1.0' among names is a name": (["1.0", "a"], {0: "1.0", 1: "a"}),
    "a whole float is its id": ([2.0, 0, -0.0], {0: 0, 2: 2}),
    "a fraction is refused at its line": ([0, 1, 2.5, 3.5], f"BadInput: {WHERE}: line 3: label 2.5 is not a whole "
                                                            f"number; {RULE}"),
    "the first problem is named": ([0, [1], True, 1], f"BadInput: {WHERE}: line 2: label is a list; {RULE}"),
    "null, blank and missing are no label": ([None, "", "  ", MISSING, "b", "a"], {0: "a", 1: "b"}),
    "names after the largest id": (["spam", 5, 0], {0: 0, 5: 5, 6: "spam"}),
    "no label at all": ([None, "", MISSING], f"BadInput: {WHERE}: sequence classification needs a label column "
                                             f"in the data"),
}


@pytest.mark.parametrize("labels, expected", list(CASES.values()), ids=list(CASES))
def test_data_classes_and_the_tally_agree_on_edge_cases(tmp_path, labels, expected):
    whole, sampled = _both(_jsonl(tmp_path / "d.jsonl", labels))
    assert whole == expected
    assert sampled == expected


def test_a_csv_cell_1_0_is_the_integer_both_ways(tmp_path):
    """Every CSV cell is text: "1.0" is the number pandas writes for an integer column with a missing value."""
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,1.0\nb,0\nc,\nd,2\n", encoding="utf-8")
    assert _both(path) == ({0: 0, 1: 1, 2: 2},) * 2


def _csv(path, labels):
    path.write_text("text,label\n" + "".join(f"row {i},{v}\n" for i, v in enumerate(labels)), encoding="utf-8")
    return path


CSV_CASES = {
    # a CSV cell that reads as a number that is not whole is the JSONL number: no class, refused at its line. It
    # was the name '2.5' (class 3 beside 0 and 1) and the refusal "reads as a number but is a name beside integer
    # class ids", with no line; alone among names it was a class of its own
    "a fraction is refused at its line": (["0", "1", "2.5", "3.5"], f"BadInput: {WHERE}: line 4: label 2.5 is not "
                                                                    f"a whole number; {RULE}"),
    "among names too": (["a", "2.50", "b"], f"BadInput: {WHERE}: line 3: label 2.50 is not a whole number; {RULE}"),
    "with an exponent": (["0", "1", "1e-1"], f"BadInput: {WHERE}: line 4: label 1e-1 is not a whole number; {RULE}"),
    "a leading point": (["0", " .5 ", "1"], f"BadInput: {WHERE}: line 3: label .5 is not a whole number; {RULE}"),
    # whole numbers keep their rules: "1.0" is the integer, "+1" still a name that reads as a number
    "a whole decimal is its id": (["1.0", "0", "-0.00", "2."], {0: 0, 1: 1, 2: 2}),
    "'+1' is a name beside integer ids": (
        ["+1", "0", "1"], f"BadInput: {WHERE}: label '+1' reads as a number but is a name beside integer class ids "
                          f"such as 0; write every label as a whole number, or every label as a name"),
    "text that holds a number is a name": (["2.5 stars", "3 stars"], {0: "2.5 stars", 1: "3 stars"}),
}


@pytest.mark.parametrize("labels, expected", list(CSV_CASES.values()), ids=list(CSV_CASES))
def test_csv_cells_agree_with_the_jsonl_numbers(tmp_path, labels, expected):
    assert _both(_csv(tmp_path / "d.csv", labels)) == (expected, expected)


def test_classes_and_a_problem_past_the_sample_limit_are_seen_both_ways(tmp_path):
    """The seeded sample streams the whole file, so the tally sees the rows the sample leaves out: a class on the
    last row only, then a bad label after it."""
    labels = ["a", "b"] * 20 + ["rare"]
    path = _jsonl(tmp_path / "d.jsonl", labels)
    assert _both(path, limit=3) == ({0: "a", 1: "b", 2: "rare"},) * 2
    path = _jsonl(tmp_path / "e.jsonl", labels + [0.5])
    refused = f"BadInput: {WHERE}: line 42: label 0.5 is not a whole number; {RULE}"
    assert _both(path, limit=3) == (refused, refused)


def test_the_tally_goes_on_past_a_problem(tmp_path):
    """LabelTally records the first problem and keeps gathering labels (a probe refuses on the problem when it
    numbers its classes); data_classes refuses at that row."""
    tally = LabelTally()
    load_examples(_jsonl(tmp_path / "d.jsonl", [0, 2.5, "x", True, 3]), each=tally)
    assert tally.labels == {0, "x", 3}
    assert tally.problem == f"line 2: label 2.5 is not a whole number; {RULE}"
    with pytest.raises(BadInput, match=r"^line 2: label 2\.5 is not a whole number"):  # no `where`: no prefix
        data_classes(tmp_path / "d.jsonl")


def test_each_sees_every_row_it_reads_once(tmp_path):
    """Without a seed, `each` sees the rows up to the limit-th; with one, every usable row of the file; never a
    skipped row, never one twice."""
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}"} if i % 5 else {"txt": "no text"}) + "\n"
                            for i in range(1, 31)), encoding="utf-8")
    usable = [i for i in range(1, 31) if i % 5]
    for limit, seed, seen_lines in ((None, None, usable), (4, None, usable[:4]), (4, 7, usable), (100, 7, usable),
                                    (100, None, usable)):
        seen: list = []
        drawn = load_examples(path, limit=limit, seed=seed, each=seen.append)
        assert [ex.line for ex in seen] == seen_lines, (limit, seed)
        assert len(drawn) == min(limit or len(usable), len(usable))


def test_data_classes_refuses_at_the_bad_row_without_reading_on(tmp_path):
    """data_classes stops at the first row whose label is no class label: an Arrow folder (save_to_disk's layout)
    whose second file is not Arrow at all is refused on the first file's bad row, its line named, never for the
    file it did not reach (the first file holds more rows than schema detection reads ahead). The probe's tally
    reads on (to note every class) and so meets the broken file."""
    import pyarrow as pa

    folder = tmp_path / "ds"
    folder.mkdir()
    labels = [0.0, 2.5] + [1.0] * DETECT_ROWS
    table = pa.table({"text": [f"row {i}" for i in range(len(labels))], "label": labels})
    with pa.OSFile(str(folder / "data-00000-of-00002.arrow"), "wb") as sink, \
            pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    (folder / "data-00001-of-00002.arrow").write_bytes(b"not an arrow stream")
    files = [{"filename": f"data-0000{i}-of-00002.arrow"} for i in range(2)]
    (folder / "state.json").write_text(json.dumps({"_data_files": files}), encoding="utf-8")
    with pytest.raises(BadInput) as refused:
        data_classes(folder, where=WHERE)
    assert str(refused.value) == f"{WHERE}: line 2: label 2.5 is not a whole number; {RULE}"
    with pytest.raises(BadInput, match="data-00001-of-00002.arrow: unreadable Arrow file"):
        load_examples(folder, limit=1, seed=0, each=LabelTally())
