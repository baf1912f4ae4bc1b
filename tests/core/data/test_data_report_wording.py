"""What a profile says about a file: the JSON error's column as Python reports it for the line, the label
balance of classification data (with a warning on strong imbalance), and a split reason without nested
parentheses."""

from __future__ import annotations

import json

import pytest

from lorplan.core.data import profile_dataset
from lorplan.core.data.readers import parse_json_line
from lorplan.core.data.stats import IMBALANCE_RATIO, label_balance, suggest_split
from lorplan.core.errors import BadInput


def _python_column(line: str) -> int:
    """The column Python's own parser gives for the line as a user would check it: json.loads(line)."""
    with pytest.raises(json.JSONDecodeError) as err:
        json.loads(line)
    assert err.value.lineno == 1
    return err.value.colno


@pytest.mark.parametrize("line", [
    '{"text": "abcdefghijklmnopqrstuvwxyzabcdefghijklm"',  # cut short: the error is at the line's end
    '{"text": "abc" "label": 1}',  # a missing comma mid-line
    '{"text": "abc",}',
])
@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_invalid_json_line_reports_pythons_column(line, ending):
    bad = parse_json_line((line + ending).encode())
    assert bad.reason.endswith(f" at column {_python_column(line)})"), bad.reason
    assert "column 1)" not in bad.reason


def test_profile_skips_a_cut_line_with_its_real_column(tmp_path):
    path = tmp_path / "d.jsonl"
    cut = '{"text": "' + "x" * 39 + '"'  # Python: "Expecting ',' delimiter: line 1 column 51"
    path.write_text(json.dumps({"text": "fine"}) + "\n" + cut + "\n")
    p = profile_dataset(path)
    (problem,) = p.problems
    assert problem.line == 2
    assert problem.reason == "invalid JSON (Expecting ',' delimiter at column 51)" and _python_column(cut) == 51


def test_whole_file_json_error_names_line_and_column_once(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[\n  {"text": "a"},\n  {"text": "b" "x": 1}\n]\n')
    with pytest.raises(BadInput) as err:
        profile_dataset(path)
    msg = str(err.value)
    assert "at line 3, column 16" in msg and msg.count("(") == 1, msg


def test_split_reason_has_no_nested_parentheses():
    for n in (10, 60, 500, 100_000):
        reason = suggest_split(n).reason
        assert "(" not in reason and ")" not in reason, reason
    assert suggest_split(60).reason.startswith("20 of 60 held out")  # the minimum binds: not "10% held out"


def test_label_counts_and_imbalance_warning(tmp_path):
    path = tmp_path / "spam.jsonl"
    rows = [{"text": f"message {i}", "label": "spam" if i % 10 == 0 else "ham"} for i in range(200)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = profile_dataset(path)
    assert p.labels.counts == (("ham", 180), ("spam", 20))
    assert p.labels.majority_fraction == 0.9 and p.labels.imbalance_ratio == 9.0
    assert "imbalanced" in p.labels.warning and "90.0%" in p.labels.warning
    out = p.to_json()["labels"]
    assert out["counts"] == [{"label": "ham", "count": 180}, {"label": "spam", "count": 20}]
    assert out["warning"] == p.labels.warning


def test_balanced_labels_carry_no_warning_and_text_data_has_no_labels(tmp_path):
    path = tmp_path / "bal.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}", "label": i % 3}) + "\n" for i in range(90)))
    p = profile_dataset(path)
    assert p.labels.counts == ((0, 30), (1, 30), (2, 30)) and p.labels.warning is None
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"text": "no label here"}) + "\n")
    assert profile_dataset(plain).labels is None and profile_dataset(plain).to_json()["labels"] is None


def test_imbalance_threshold_and_single_label():
    assert label_balance({0: 4 * 25 - 1, 1: 25}).warning is None  # just under 4 : 1
    assert label_balance({0: int(IMBALANCE_RATIO * 25), 1: 25}).warning is not None
    assert "at least two label values" in label_balance({"yes": 12}).warning
