"""JSON data that Python's json module cannot read for reasons beyond syntax: arrays nested deeper than it
recurses were a RecursionError traceback from `lorplan profile` and `lorplan probe start`; an integer of more
digits than int() converts read "use sys.set_int_max_str_digits() to increase the limit", advice for a
programmer. Now a deep JSONL line is a skipped row with its line number, a deep .json file a one-line error
naming it, and a long integer says how many digits it has."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.core.data import profile_dataset
from lorplan.core.errors import BadInput

DEEP = "[" * 100_000 + "]" * 100_000


def test_a_deep_jsonl_line_is_a_skipped_row(tmp_path):
    path = tmp_path / "rows é.jsonl"
    path.write_text('{"text": "a good row"}\n' + DEEP + "\n" + '{"text": "' + "9" * 10 + '", "n": ' + "9" * 5000 + "}\n")
    p = profile_dataset(path)
    assert p.examples == 1
    reasons = {pr.line: pr.reason for pr in p.problems}
    assert reasons[2] == "invalid JSON (arrays or objects nested too deeply for Python's json module)"
    assert reasons[3] == "invalid JSON (a number of 5000 digits, more than the 4300 json reads)"


def test_a_deep_json_file_is_one_line_naming_it(tmp_path, capsys):
    path = tmp_path / "rows é.json"
    path.write_text(DEEP)
    with pytest.raises(BadInput, match="nested too deeply"):
        profile_dataset(path)
    for argv in (["profile", "--data", str(path)], ["probe", "start", "--data", str(path)]):
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err and err.count("\n") == 1, err
        assert f"--data {path}: invalid JSON (arrays or objects nested too deeply" in err, err


@pytest.mark.parametrize(("content", "says"), [
    ("{bad", "dataset_dict.json is not a DatasetDict's (JSONDecodeError: "),
    ("[1]", "dataset_dict.json is not a DatasetDict's (TypeError: "),
    ('{"splits": "train"}', "dataset_dict.json: splits is not a list of split names"),
    ('{"splits": []}', "dataset_dict.json lists no splits"),
])
def test_a_damaged_dataset_dict_json_is_one_line(tmp_path, content, says):
    # malformed JSON and a list were tracebacks (JSONDecodeError, AttributeError); "train" as the splits read
    # as the split "t"
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "dataset_dict.json").write_text(content)
    with pytest.raises(BadInput) as exc:
        profile_dataset(folder)
    assert str(exc.value).startswith(f"--data {folder}: {says}"), exc.value


@pytest.mark.parametrize("schema", ["messages", "auto"])
def test_a_deep_csv_cell_is_a_skipped_row(tmp_path, schema):
    # a CSV cell holding JSON text nested deeper than json recurses was a RecursionError traceback from the
    # schema's cell parser (schema._maybe_json caught ValueError only)
    path = tmp_path / "rows é.csv"
    good = '"[{""role"": ""user"", ""content"": ""hi""}, {""role"": ""assistant"", ""content"": ""yo""}]"'
    path.write_text("messages\n" + good + "\n" + "[" * 5000 + "\n")
    p = profile_dataset(path, schema=schema)
    assert p.examples == 1
    assert [pr.line for pr in p.problems] == [3]
