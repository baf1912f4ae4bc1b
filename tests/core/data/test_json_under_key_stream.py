"""The rows of a large JSON object file whose one list holds them ({"data": [...]}, {"version": 1, "data": [...]})
are streamed by ijson (prefix "data.item") in two passes as a top-level array's are, where before the file was
read whole (about 7 times its size in memory): the same rows, messages and row numbers as the whole read, which
still reads every file ijson would read otherwise. The head (RowSource.head/first, peek_examples) reads only the
first rows. The progress of the first pass is in json_array.CHECKING, which the CLI's bar and the Data tab label
as that pass."""

from __future__ import annotations

import json
import random
import sys

import pytest
from test_json_head_equivalence import _WS, _object

from lorplan.core.data import json_array, peek_examples, profile_dataset, readers
from lorplan.core.data.readers import RowSource, json_object_head
from lorplan.core.errors import BadInput


def _rows_text(rng: random.Random, count: int, schema_key: bool) -> str:
    """`count` generated awkward objects as a JSON list; schema_key: each also has a "text" key (its first), so
    that it is a row under a key a schema names ({"conversations": [...]})."""
    rows = []
    for _ in range(count):
        obj = _object(rng, 0)
        if schema_key:
            obj = '{"text": "t"' + ("," if json.loads(obj) else "") + obj[1:]
        rows.append(obj)
    return "[" + rng.choice(_WS) + ("," + rng.choice(_WS)).join(rows) + rng.choice(_WS) + "]"


def _under_key_text(seed: int, count: int, layout: str) -> str:
    """An object holding `count` generated rows beside other keys, in shuffled order: pretty (line breaks
    anywhere), one line (json.dump's default), or under "conversations" (a schema's key)."""
    rng = random.Random(seed)
    key = "conversations" if layout == "schema key" else "data"
    pairs = [(key, _rows_text(rng, count, layout == "schema key")), ("version", "1"),
             ("name", '"set \\u00e9"'), ("meta", '{"data": 1, "items": {"x": [1, 2]}}')]
    rng.shuffle(pairs)
    text = "{" + ",".join(f'{rng.choice(_WS)}"{k}"{rng.choice(_WS)}:{rng.choice(_WS)}{v}' for k, v in pairs) + "}"
    if layout == "one line":
        text = text.replace("\n", " ")
    return rng.choice(["", " ", "\n\n"]) + text + rng.choice(["", "\n", " \n"])


def _both_ways(path, monkeypatch):
    """rows() of `path` read whole (json) and streamed (ijson), each as (rows or the refusal, unit, total, done,
    under_key)."""
    out = []
    for threshold in (1 << 62, 0):
        monkeypatch.setattr(readers, "_STREAM_BYTES", threshold)
        source = RowSource(path)
        try:
            got = list(source.rows())
        except BadInput as exc:
            got = str(exc)
        out.append((repr(got), source.unit, source.total, source.done, source.under_key))
    return out


def _streams(path) -> bool:
    """Whether rows() of a large `path` takes the streamed way (the first pass finds an object holding rows)."""
    with open(path, "rb") as fh:
        found = json_array.checked_object(fh, readers._row_like)
    return found is not None and readers._surveyed_holds_rows(found[0])


@pytest.mark.parametrize("layout", ["pretty", "one line", "schema key"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_streamed_rows_under_a_key_are_the_whole_read_s(tmp_path, monkeypatch, seed, layout):
    """All rows by repr (types, key order, duplicate keys), the row count, the end's progress and under_key:
    streamed as read whole. Before, the streamed reader did not read such a file (it was read whole)."""
    path = tmp_path / "rows.json"
    path.write_text(_under_key_text(seed, 250, layout), encoding="utf-8")
    assert _streams(path)
    whole, streamed = _both_ways(path, monkeypatch)
    assert whole[1:] == ("rows", 250, 250, True)
    assert streamed == whole
    full = list(RowSource(path).rows())
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    assert json_object_head(path, 250) is not None  # the head is ijson's, not the fallback's
    for n in (1, 7, 249, 250, 400):
        source = RowSource(path)
        assert repr(source.head(n)) == repr(full[:n]) and source.under_key, n


@pytest.mark.parametrize("text", [
    b'{"data": [{"a": NaN}]}', b'{"data": [{"a": 1e400}]}', b'{"v": 1e400, "data": [{"a": 1}]}',
    b'{"data": [{"a": -9223372036854775808}]}', b'{"version": 1, "data": [{"a": "x\\ud800"}]}',
    b'{"data": [{"a":\x0b1}]}', b'{"data": [{"a": 1}]} x', b'{"data": [{"a": 1}]} {}', b'{"data": [{"a": 1}',
    b'{"data": [{"a": 1},]}', b'{"data": [{"a": "\xff"}]}', b'{"data": [{"a": 1}], "data": [{"b": 2}]}',
    b'{"data": [{"a": 1}], "more": [{"b": 2}]}', b'{"data": []}', b'{"data": [{"a": 1}, 2]}', b'{"data": [[1]]}',
    b'{"data": [{"a": 1}], "data.item": {"b": 2}}', b'{"a": {"item": 1}, "a.item": [{"c": 1}]}', b'{"": [{"a": 1}]}',
    b'{"data": [{"a": [' + b"[" * 150 + b"]" * 150 + b"]}]}", b'\xef\xbb\xbf\n{"data": [{"a": 1}, {"b": 2}]}\n',
    b'{"messages": [{"role": "user", "content": "hi"}]}', b'{"conversations": [{"messages": []}]}',
    b'{"conversations": [{"messages": []}, {"messages": [], "role": "x"}]}', b'{"text": "x", "data": [{"a": 1}]}',
    b'{"data": [{"a": 1}]}\n{"data": [{"a": 2}]}\n', b'{"data": [{"a": 1}]}\n\n  \n', b'{"data": 5, "rows": [{"a": 1}]}',
])
def test_what_json_reads_otherwise_is_read_whole(tmp_path, monkeypatch, text):
    """NaN, overflows, lone surrogates, a vertical tab, junk or a second value after the object, a break, a key
    twice (json keeps the last value), a second list, an empty list, items that are no objects, a prefix that
    would match another key's values, deep nesting, a chat object, JSONL: the streamed reader gives the whole
    read's rows or its refusal, word for word."""
    path = tmp_path / "odd.json"
    path.write_bytes(text)
    whole, streamed = _both_ways(path, monkeypatch)
    assert streamed == whole
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    try:
        full = list(RowSource(path).rows())
    except BadInput as exc:
        with pytest.raises(BadInput, match="^" + str(exc).replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            RowSource(path).head(5)
    else:
        assert repr(RowSource(path).head(5)) == repr(full[:5])


def test_a_holding_object_streams_and_one_that_holds_no_rows_does_not(tmp_path):
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"version": 1, "data": [{"text": "a"}, {"text": "b"}]}))
    assert _streams(ok)
    for text in ('{"data": [{"a": 1}], "data.item": 5}', '{"messages": [{"role": "user", "content": "hi"}]}',
                 '{"data": [{"a": 1}, 2]}', '{"data": [{"a": 1}], "data": [{"a": 1}]}'):
        (tmp_path / "no.json").write_text(text)
        assert not _streams(tmp_path / "no.json"), text


@pytest.mark.parametrize("indent", [None, 1])
def test_the_streamed_rows_under_a_key_hold_no_whole_file(tmp_path, monkeypatch, indent):
    """json.loads is never called on the file (before: on all of it, once for a one-line file's first line and
    once more for the file), and at the first row the count of all rows is known."""
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"version": 1, "data": [{"text": f"row {i}"} for i in range(3000)]}, indent=indent))
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)

    def refuse(text):
        raise AssertionError("read whole")

    monkeypatch.setattr(readers, "loads_json", refuse)
    source = RowSource(path)
    rows = source.rows()
    assert next(rows) == (1, {"text": "row 0"})
    assert (source.unit, source.total, source.done, source.under_key) == ("rows", 3000, 1, True)
    assert sum(1 for _ in rows) == 2999 and source.done == 3000


def test_a_file_changed_between_the_passes_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "moving.json"
    rows = [{"text": f"row {i}"} for i in range(50)]
    path.write_text(json.dumps({"data": rows}))
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    it = RowSource(path).rows()
    assert next(it) == (1, rows[0])
    path.write_text(json.dumps({"data": rows + rows}))
    with pytest.raises(BadInput, match=rf"^--data {path}: the file changed while lorplan read it"):
        list(it)


@pytest.mark.parametrize("indent", [None, 2])
def test_the_head_of_a_file_with_a_broken_tail_still_peeks(tmp_path, monkeypatch, indent):
    """The head reads the first rows and not the rest: a file cut short (a copy that stopped) gives its first
    rows to head and peek_examples, as a large array's does; the whole read refuses it. Before, the head read the
    whole file and refused it."""
    rows = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(3000)]
    path = tmp_path / "cut.json"
    path.write_text(json.dumps({"version": 1, "data": rows}, indent=indent)[:-5000])
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    with pytest.raises(BadInput, match=rf"^--data {path}: invalid JSON"):
        list(RowSource(path).rows())
    source = RowSource(path)
    assert source.head(5) == [(i + 1, rows[i]) for i in range(5)] and source.under_key
    assert list(RowSource(path).first(3)) == [(i + 1, rows[i]) for i in range(3)]
    peek = peek_examples(path, rows=300)
    assert peek.examples == 300 and peek.schema == "prompt-completion"


def test_a_first_line_that_is_a_whole_object_with_more_lines_is_jsonl_to_the_head(tmp_path, monkeypatch):
    """Such a file is JSONL to rows() (each line a row): the head gives those rows, not the first line's list,
    whether that line is short (parsed) or longer than json_array.STREAM_BUF (the full reader is asked)."""
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    for size in (10, json_array.STREAM_BUF):
        line = json.dumps({"data": [{"text": "x" * size}, {"text": "y"}]})
        path = tmp_path / f"lines{size}.json"
        path.write_text(line + "\n" + json.dumps({"text": "second"}) + "\n")
        assert json_object_head(path, 5) is None
        assert RowSource(path).head(5) == list(RowSource(path).rows()) == [
            (1, json.loads(line)), (2, {"text": "second"})]
    lone = tmp_path / "lone.json"
    lone.write_text(json.dumps({"data": [{"text": "a"}, {"text": "b"}]}) + "\n\n \n")
    assert json_object_head(lone, 5) == ([(1, {"text": "a"}), (2, {"text": "b"})], 2, "data")
    assert json_object_head(lone, 2) == ([(1, {"text": "a"}), (2, {"text": "b"})], 2, "data")
    assert json_object_head(lone, 1) == ([(1, {"text": "a"})], None, "data")


# -- the progress of the two passes, and its label --------------------------------------------------------------

def test_the_first_pass_over_rows_under_a_key_reports_checked_bytes_then_rows(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"version": 1, "data": [{"text": f"row {i} " + "w " * 40} for i in range(30000)]}))
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    monkeypatch.setattr(json_array, "REPORT_EVERY", 0)
    calls = []
    profile = profile_dataset(path, progress=lambda *call: calls.append(call))
    units = [u for _, _, u in calls]
    checks = units.count(json_array.CHECKING)
    assert checks >= 3 and units[:checks] == [json_array.CHECKING] * checks
    assert set(units[checks:]) == {"rows"} and calls[-1] == (30000, 30000, "rows") == (profile.examples,) * 2 + ("rows",)
    assert calls[checks - 1][:2] == (path.stat().st_size,) * 2


def test_the_cli_bar_names_the_pass(tmp_path, monkeypatch, capsys):
    """`lorplan profile` of a large JSON file: "checking FILE" while the first pass fills the bar, then "reading
    rows"; a one-pass file stays "profiling". Before, both passes said "profiling"."""
    from lorplan.cli import main

    path = tmp_path / "under_key_rows.json"
    path.write_text(json.dumps({"data": [{"text": f"row {i}"} for i in range(2000)]}))
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["profile", "--data", str(path), "--json"]) == 0
    err = capsys.readouterr().err
    assert "\rchecking under_key_rows.json [" in err and "\rreading rows [" in err
    assert err.index("checking under_key_rows.json") < err.index("reading rows") and "profiling [" not in err
    lines = tmp_path / "rows.jsonl"
    lines.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(50)))
    assert main(["profile", "--data", str(lines), "--json"]) == 0
    err = capsys.readouterr().err
    assert "\rprofiling [" in err and "checking" not in err and "reading rows" not in err


def test_a_raise_during_the_first_pass_over_rows_under_a_key_comes_out_as_raised(tmp_path, monkeypatch):
    """The Data tab's cancel and the CLI's Ctrl-C stop the first pass over such a file as over an array."""
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"data": [{"text": f"row {i} " + "w " * 40} for i in range(30000)]}))
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    monkeypatch.setattr(json_array, "REPORT_EVERY", 0)
    calls = []
    stop = KeyboardInterrupt()

    def progress(done, total, unit):
        calls.append(unit)
        if len(calls) == 2:
            raise stop

    with pytest.raises(KeyboardInterrupt) as raised:
        profile_dataset(path, progress=progress)
    assert raised.value is stop and calls == [json_array.CHECKING] * 2


@pytest.mark.parametrize("count", [1, 2, 3])
def test_the_head_and_the_whole_read_agree_on_a_short_list_under_a_key(tmp_path, monkeypatch, count):
    """A list of one row is a row under a key to the whole read with a row count of 1, as the exports' rows_key
    takes it (whatever the count): the head, asked for that many rows or more, gives the same under_key, key and
    row count. Before, a file of _STREAM_BYTES and up gave the head under_key with the file's size in bytes as its
    total, so the exports said "under a key" where the whole read said not."""
    from lorplan.core.export import common

    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"version": 1, "conversations": [chat] * count}))
    whole, _ = _both_ways(path, monkeypatch)
    assert whole[1:] == ("rows", count, count, True)
    keys = []
    for threshold in (1 << 62, 0):  # read whole (under the streaming size), and as a file over it
        monkeypatch.setattr(readers, "_STREAM_BYTES", threshold)
        for limit in range(count, count + 2):
            source = RowSource(path)
            assert source.head(limit) == [(i, chat) for i in range(1, count + 1)]
            assert (source.unit, source.total, source.under_key) == ("rows", count, True), (threshold, limit)
            assert source.list_key == "conversations"
        common._HEADS.clear()
        keys.append(common.rows_key(str(path)))
    assert keys == ["conversations"] * 2
