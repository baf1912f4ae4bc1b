"""RowSource.head / json_array_head: a JSON array's first rows through ijson, read as lorplan's reader reads them,
without the rest of the file; anything ijson reads otherwise goes to the full reader."""

from __future__ import annotations

import json

import pytest

from lorplan.core.data import detect_schema
from lorplan.core.data.readers import BOM, Bad, RowSource, json_array_head
from lorplan.core.data.schema import detect_from_file
from lorplan.core.errors import BadInput

ROWS = [{"text": f"row {i}", "score": 0.5 + i, "n": i} for i in range(300)]


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _full(path, limit: int):
    rows = []
    for item in RowSource(path).rows():
        rows.append(item)
        if len(rows) >= limit:
            break
    return rows


def test_the_head_is_the_full_reader_s_first_rows_bom_numbers_and_non_objects(tmp_path):
    items = [{"a": 1.0, "b": 2, "c": 1.5, "d": -0.0, "e": 1e2, "f": 9223372036854775807, "g": None, "h": "é😀"},
             3, "x", [1], True, {"t": "\u00e9", "s": "\ud83d\ude00"}]
    path = _write(tmp_path / "a.json", BOM + b" \n" + json.dumps(items, indent=2).encode())
    head = json_array_head(path, 200)
    assert head == _full(path, 200)  # the same values, types included (1.0 a float, 2 an int, no Decimal)
    assert [type(v) for v in head[0][1].values()] == [float, int, float, float, float, int, type(None), str]
    assert head[1] == (2, Bad("expected a JSON object, got a number"))
    assert len(json_array_head(path, 2)) == 2


def test_an_array_of_3_rows_with_200_asked(tmp_path):
    path = _write(tmp_path / "three.json", json.dumps(ROWS[:3]).encode())
    assert json_array_head(path, 200) == [(1, ROWS[0]), (2, ROWS[1]), (3, ROWS[2])]
    assert json_array_head(_write(tmp_path / "empty.json", b" [ ]\n"), 200) == []


def test_a_tail_that_is_no_json_is_not_read(tmp_path):
    """The rest of the array after the rows asked for is neither read nor checked: the head of a broken file
    still reads (chat_layout and schema detection of a 2 GB array); lorplan's full reader refuses it."""
    text = json.dumps(ROWS, indent=1)
    path = _write(tmp_path / "big.json", (text[: text.index('"row 250"')] + "{ broken ,,").encode())
    source = RowSource(path)
    assert source.head(200) == [(i + 1, row) for i, row in enumerate(ROWS[:200])]
    assert detect_from_file(path) == "text"
    assert detect_schema(path) == "text"  # lorplan.core.data's entry point is the same detection
    with pytest.raises(BadInput, match=r"invalid JSON \(Expecting"):
        list(RowSource(path).rows())


def test_an_array_cut_or_broken_before_the_rows_asked_goes_to_the_full_reader(tmp_path):
    text = json.dumps(ROWS[:10])
    cut = _write(tmp_path / "cut.json", text[: len(text) // 2].encode())
    assert json_array_head(cut, 200) is None
    with pytest.raises(BadInput, match=rf"^--data {cut}: invalid JSON \("):
        RowSource(cut).head(200)
    garbage = _write(tmp_path / "garbage.json", (text + " x").encode())  # past the array's end
    assert json_array_head(garbage, 200) is None
    assert len(json_array_head(garbage, 10)) == 10  # the 10 rows asked for end before it


def test_what_ijson_reads_otherwise_goes_to_the_full_reader(tmp_path):
    """NaN and Infinity (json reads them), an integer past 64 bits, a float past 1e308 (json: inf), a lone
    surrogate escape (ijson's C parser writes "?"): the head is the full reader's rows."""
    cases = {
        "nan": b'[{"a": NaN, "b": -Infinity}]',
        "bigint": b'[{"a": 123456789012345678901234567890}]',
        "overflow": b'[{"a": 1e400}]',
        "surrogate": b'[{"a": "x\\ud800y"}, {"b": "\\udc00"}]',
    }
    for name, data in cases.items():
        path = _write(tmp_path / f"{name}.json", data)
        assert json_array_head(path, 200) is None, name
        assert RowSource(path).head(200) == _full(path, 200), name
    assert RowSource(tmp_path / "surrogate.json").head(200)[0][1]["a"] == "x\ud800y"
    paired = _write(tmp_path / "paired.json", b'[{"a": "\\ud83d\\ude00"}]')  # json.dumps' escape of an emoji
    assert json_array_head(paired, 200) == [(1, {"a": "\U0001f600"})]


def test_deep_nesting(tmp_path):
    """ijson's paths grow with the square of the depth (100000 levels: over 4 GB); past json_array.HEAD_DEPTH the full
    reader reads it, or refuses as json does."""
    ok = _write(tmp_path / "deep.json", b'[{"a": ' + b"[" * 150 + b"]" * 150 + b"}]")
    assert json_array_head(ok, 200) is None
    assert RowSource(ok).head(200) == _full(ok, 200)
    shallow = _write(tmp_path / "shallow.json", b'[{"a": ' + b"[" * 99 + b"]" * 99 + b"}]")
    assert json_array_head(shallow, 200) == _full(shallow, 200)
    deep = _write(tmp_path / "deeper.json", b'[{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]")
    assert json_array_head(deep, 200) is None
    with pytest.raises(BadInput, match="nested too deeply"):
        RowSource(deep).head(200)


def test_an_object_file_is_read_by_the_full_reader(tmp_path):
    under = _write(tmp_path / "under.json", json.dumps({"version": 1, "data": ROWS[:5]}, indent=2).encode())
    assert json_array_head(under, 200) is None
    source = RowSource(under)
    assert source.head(200) == [(i + 1, r) for i, r in enumerate(ROWS[:5])] and source.under_key
    one = _write(tmp_path / "one.json", json.dumps({"messages": [{"role": "user", "content": "hi"}]}, indent=2)
                 .encode())
    source = RowSource(one)
    assert len(source.head(200)) == 1 and not source.under_key
    jsonl = _write(tmp_path / "lines.json", b'{"text": "a"}\n{"text": "b"}\n')
    assert RowSource(jsonl).head(1) == [(1, {"text": "a"})]


def test_an_array_with_nan_is_not_rows_under_a_key(tmp_path):
    """A JSON array the full reader reads (NaN in it) is no object holding rows: the exports' datasets line on
    {"data": [...]} files (rows_key) is not written for it."""
    from lorplan.core.export.common import chat_layout, rows_key

    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "w": 1}
    text = json.dumps([chat, chat, {**chat, "w": float("nan")}])
    path = _write(tmp_path / "nan.json", text.encode())
    layout = chat_layout(str(path))
    assert layout.rows == 3 and rows_key(str(path)) is None


def test_importing_the_readers_and_exports_does_not_import_ijson():
    """ijson costs about 20 ms at import: only a JSON array's head loads it."""
    import subprocess
    import sys

    code = ("import sys, lorplan.core.data, lorplan.core.data.schema, lorplan.core.export.common, "
            "lorplan.core.export.trl, lorplan.tui.app\nprint('ijson' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False"]
