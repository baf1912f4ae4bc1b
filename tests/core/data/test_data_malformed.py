"""Malformed input: skipped rows are reported with line numbers and reasons; unusable files are one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from not_root import error_without_root as _error_without_root

from lorplan.core.data import profile_dataset
from lorplan.core.errors import BadInput


def _problems(p) -> dict[int, str]:
    return {pr.line: pr.reason for pr in p.problems}


def test_jsonl_with_broken_lines_missing_fields_and_wrong_types(tmp_path, minilm_dir):
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"text": "good row one"}),  # 1
        '{"text": "unterminated',  # 2
        json.dumps({"txt": "typo in the column"}),  # 3
        json.dumps({"text": 42}),  # 4
        "",  # 5 blank: ignored, not a problem
        json.dumps(["an", "array"]),  # 6
        json.dumps({"text": "   "}),  # 7
        json.dumps({"text": None}),  # 8
        json.dumps({"text": "good row two"}),  # 9
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"text": "\xff\xfe bad utf8"}\n')  # 10
    with open(path, "a") as fh:
        fh.write('{"text": "lone \\ud800 surrogate"}\n')  # 11
    p = profile_dataset(path, tokenizer=str(minilm_dir))
    assert p.examples == 2
    assert p.skipped == 8
    problems = _problems(p)
    assert set(problems) == {2, 3, 4, 6, 7, 8, 10, 11}
    assert problems[2].startswith("invalid JSON")
    assert problems[3] == "missing field 'text'"
    assert problems[4] == "field 'text' is a number, expected a string"
    assert problems[6] == "expected a JSON object, got an array"
    assert problems[7] == "empty text"
    assert problems[8] == "field 'text' is null, expected a string"
    assert problems[10] == "not valid UTF-8"
    assert problems[11] == "field 'text' holds a lone surrogate (invalid Unicode)"
    assert p.to_json()["problems"][0] == {"line": 2, "reason": problems[2]}


def test_messages_rows_with_bad_turns(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"messages": [{"role": "user", "content": "no answer"}]},
        {"messages": "not a list"},
        {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "y"}]},
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = profile_dataset(path)
    assert p.examples == 2
    assert _problems(p) == {
        2: "no assistant message",
        3: "field 'messages' is a string, expected a list of messages",
        4: "message 0 has no known role (got 'wizard')",
        5: "message 0 content is a number, expected a string",
    }


def test_csv_with_a_ragged_row(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b'text,label\n"fine row",1\ntoo,many,fields\nshort\n"multi\nline row",0\n"",1\nlast,2\n'
                     b'caf\xe9 latin-1,3\n')
    p = profile_dataset(path)
    assert p.examples == 3
    assert _problems(p) == {
        3: "row has 3 fields, the header has 2",
        4: "row has 1 field, the header has 2",  # one field, not "1 fields"
        7: "empty text",
        9: "not valid UTF-8",
    }


def test_parquet_with_the_wrong_columns_is_a_clear_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"question": ["a", "b"], "score": [1, 2]}), path)
    with pytest.raises(BadInput, match=r"no known schema in columns \(question, score\)"):
        profile_dataset(path)


def test_parquet_rows_with_nulls_are_skipped_by_row_number(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"text": ["one", None, "three", ""]}), path, row_group_size=2)
    p = profile_dataset(path)
    assert p.examples == 2
    assert _problems(p) == {2: "field 'text' is null, expected a string", 4: "empty text"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", b"", "the file is empty"),
        ("binary.jsonl", bytes(range(256)) * 4, "looks like a binary file"),
        ("all-broken.jsonl", b"nope\n{bad\n", "no readable row in the first 200 rows; line 1: invalid JSON"),
        ("no-text.jsonl", b'{"text": ""}\n{"text": 1}\n', r"no usable row \(2 skipped; line 1: empty text\)"),
        ("fake.parquet", b"this is not parquet", "not a Parquet file"),
        ("header-only.csv", b"text,label\n", "no readable row"),
    ],
)
def test_files_with_no_usable_row_are_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message) as info:
        profile_dataset(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_path_and_bad_arguments(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        profile_dataset(tmp_path / "nope.jsonl")
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(BadInput, match="--schema 'chat'"):
        profile_dataset(tmp_path / "a.jsonl", schema="chat")
    with pytest.raises(BadInput, match="--tokenizer"):
        profile_dataset(tmp_path / "a.jsonl", tokenizer=str(tmp_path))
    empty_folder = tmp_path / "folder"
    empty_folder.mkdir()
    with pytest.raises(BadInput, match="a folder must hold"):
        profile_dataset(empty_folder)


def test_json_array_with_non_objects(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"text": "a"}, 3, {"text": "b"}]))
    p = profile_dataset(path)
    assert p.examples == 2 and _problems(p) == {2: "expected a JSON object, got a number"}


def test_json_object_holding_rows_on_one_line(tmp_path):
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"data": [{"text": "a"}, {"text": "b"}, {"text": ""}]}))
    p = profile_dataset(path)
    assert p.examples == 2 and _problems(p) == {3: "empty text"}


def test_unreadable_file_and_folder_are_one_line_errors():
    import tempfile

    with tempfile.TemporaryDirectory() as top:
        os.chmod(top, 0o711)  # nobody may pass through it (pytest's tmp_path is private to its user)
        secret = Path(top, "secret.jsonl")
        secret.write_text('{"text": "x"}\n')
        secret.chmod(0)
        locked = Path(top, "locked")
        locked.mkdir(mode=0o700)
        (locked / "data.jsonl").write_text('{"text": "x"}\n')
        locked.chmod(0)
        for path in (secret, locked / "data.jsonl"):
            message = _error_without_root(lambda p=path: profile_dataset(p))
            assert message == f"BadInput: --data {path}: cannot read (Permission denied)"


def test_label_text_that_only_looks_like_an_integer_stays_a_name(tmp_path):
    """A label is an integer (a class id) when it is written as one: 3, "3", " 3 ", "-1"; "--1" or "²" (which
    str.isdigit accepts and int() does not) are names, not a ValueError traceback."""
    from lorplan.core.data import load_examples

    texts = ['"--1"', '"²"', '" 3 "', '"-1"', "7", '"spam"']
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(f'{{"text": "row {i}", "label": {t}}}\n' for i, t in enumerate(texts)))
    assert [e.label for e in load_examples(path)] == ["--1", "²", 3, -1, 7, "spam"]
