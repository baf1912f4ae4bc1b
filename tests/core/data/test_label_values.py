"""Numeric `label` values that are not Python ints: a whole float is its class id, anything else that is no class
label (2.5, NaN, true, a list) is named with its line, in every format the profile reads."""

from __future__ import annotations

import json

import pytest

from lorplan.core.data import load_examples, peek_examples, profile_dataset
from lorplan.core.errors import BadInput

RULE = "a class label is a whole number (its class id) or a name"


def _pandas_frame():
    pd = pytest.importorskip("pandas")
    # an integer column with a missing value: pandas stores it as float64 (0.0, 1.0, NaN, 10.0)
    return pd.DataFrame({"text": [f"review {i}" for i in range(8)], "label": [0, 1, None, 10, 1, 0, 10, 1]})


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "json"])
def test_a_pandas_integer_column_with_missing_values_keeps_its_class_ids_in_every_format(tmp_path, fmt):
    """pandas writes 1.0 (JSON, Parquet) or "1.0" (CSV) for an integer column with a missing value. Those rows
    were read as unlabelled in JSON and Parquet (left out of the profile and of training without a word), and as
    names '0.0', '1.0', '10.0' in CSV (class ids 0, 1, 2 in string order: '10.0' before '2.0')."""
    df = _pandas_frame()
    path = tmp_path / f"data.{fmt}"
    {"jsonl": lambda: df.to_json(path, orient="records", lines=True),
     "json": lambda: df.to_json(path, orient="records"),
     "csv": lambda: df.to_csv(path, index=False),
     "parquet": lambda: df.to_parquet(path, index=False)}[fmt]()
    assert [e.label for e in load_examples(path)] == [0, 1, None, 10, 1, 0, 10, 1]
    p = profile_dataset(path)
    assert p.examples == 8 and p.skipped == 0 and p.bad_labels == 0 and p.label_refusal() is None
    assert dict(p.labels.counts) == {0: 2, 1: 3, 10: 2}


def test_labels_that_are_no_class_are_named_with_their_line_and_the_row_stays_an_example(tmp_path):
    """2.5, NaN, Infinity, true, a list, an object: no class label. Each was silently no label; the row stays an
    example (a causal LM ignores the column), the profile counts and lists them, and a classifier is refused."""
    values = ["1.0", "0", "2.5", "NaN", "-Infinity", "true", "[1]", '{"id": 1}', "null", "-0.0"]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(f'{{"text": "row {i}", "label": {v}}}\n' for i, v in enumerate(values)))
    examples = load_examples(path)
    assert [e.label for e in examples] == [1, 0, None, None, None, None, None, None, None, 0]
    assert [e.label_problem for e in examples if e.label_problem] == [
        f"label 2.5 is not a whole number; {RULE}", f"label NaN is not a whole number; {RULE}",
        f"label -Infinity is not a whole number; {RULE}", f"label true is a boolean; {RULE}",
        f"label is a list; {RULE}", f"label is an object; {RULE}"]
    p = profile_dataset(path)
    assert p.examples == 10 and p.skipped == 0 and dict(p.labels.counts) == {0: 2, 1: 1}
    assert p.bad_labels == 6 and [x.line for x in p.label_problems] == [3, 4, 5, 6, 7, 8]
    assert p.label_refusal() == (f"6 rows have a label that is no class label, the first line 3: label 2.5 is not "
                                 f"a whole number; {RULE}")
    assert p.to_json()["bad_labels"] == 6
    assert p.to_json()["label_problems"][0] == {"line": 3, "reason": f"label 2.5 is not a whole number; {RULE}"}
    assert peek_examples(path).bad_label == f"line 3: label 2.5 is not a whole number; {RULE}"


def test_one_bad_label_is_named_alone_and_text_keeps_its_rules(tmp_path):
    """A JSON string is text: "1.0" stays a name (refused beside integer ids, as before); in a CSV cell, where
    every value is text, a cell that reads as a number is that number: "1.0" is the integer 1 and "2.5" no class,
    named with its line as the JSONL number 2.5 is (it was the name '2.5', and beside integer ids a warning with
    no line)."""
    path = tmp_path / "one.jsonl"
    path.write_text('{"text": "a", "label": 0}\n{"text": "b", "label": 1.5}\n{"text": "c", "label": "1.0"}\n')
    p = profile_dataset(path)
    assert p.label_refusal() == f"line 2: label 1.5 is not a whole number; {RULE}"
    assert dict(p.labels.counts) == {0: 1, "1.0": 1}
    assert p.labels.refused.startswith("label '1.0' reads as a number but is a name beside integer class ids")
    csv = tmp_path / "fractions.csv"
    csv.write_text("text,label\na,2.5\nb,3.5\nc,\nd,1.0\n")
    assert [(e.label, e.label_problem) for e in load_examples(csv)] == [
        (None, f"label 2.5 is not a whole number; {RULE}"), (None, f"label 3.5 is not a whole number; {RULE}"),
        (None, None), (1, None)]
    p = profile_dataset(csv)
    assert p.bad_labels == 2 and dict(p.labels.counts) == {1: 1}
    assert p.label_refusal() == f"2 rows have a label that is no class label, the first line 2: label 2.5 is not " \
                                f"a whole number; {RULE}"
    csv = tmp_path / "mixed.csv"  # the new user's file: beside integer ids, the warning had no line
    csv.write_text("text,label\na,0\nb,1\nc,2.5\nd,1\n")
    p = profile_dataset(csv)
    assert p.label_refusal() == f"line 4: label 2.5 is not a whole number; {RULE}"
    assert dict(p.labels.counts) == {0: 1, 1: 2} and p.labels.refused is None


def test_the_recommenders_label_count_names_the_line(tmp_path):
    from lorplan.probe.runner import read_labels  # lorplan recommend --data's count, probe start's rule

    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}", "label": [0.0, 1.0, 0.5][i % 3]}) + "\n" for i in range(6)))
    with pytest.raises(BadInput) as err:
        read_labels(path, f"--data {path}")
    assert str(err.value) == f"--data {path}: line 3: label 0.5 is not a whole number; {RULE}"
    path.write_text("".join(json.dumps({"text": f"t{i}", "label": [0.0, 1.0][i % 2]}) + "\n" for i in range(6)))
    assert read_labels(path, f"--data {path}").counts == {0: 3, 1: 3}


def test_a_csv_cell_with_an_exponent_past_decimals_range_is_no_traceback(tmp_path):
    """A CSV label cell "1e99999999999999999999999" reads as a number whose exponent Decimal cannot hold: the
    whole-number check raised decimal.InvalidOperation out of lorplan profile (a traceback). Such a cell stays
    what it was before the check: a name that reads as a number (refused beside integer ids)."""
    csv = tmp_path / "huge.csv"
    csv.write_text("text,label\na,0\nb,1e99999999999999999999999\nc,-1.5e-99999999999999999999999\n")
    assert [e.label for e in load_examples(csv)] == [0, "1e99999999999999999999999",
                                                      "-1.5e-99999999999999999999999"]
    p = profile_dataset(csv)
    assert p.labels.refused.startswith("label '-1.5e-99999999999999999999999' reads as a number but is a name")
