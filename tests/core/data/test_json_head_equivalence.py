"""RowSource.head's rows of a JSON array (read by ijson) are exactly RowSource.rows()' first rows (read by json):
the same values with the same types and key order, over a few hundred generated rows of awkward values written
as JSON text by hand (number spellings json.dumps never writes, duplicate keys, escapes, odd whitespace)."""

from __future__ import annotations

import io
import json
import os
import random
import re

import pytest

from lorplan.core.data import json_array, readers
from lorplan.core.data.readers import RowSource, json_array_head
from lorplan.core.errors import BadInput

_WS = [" ", "\n", "\t", "\r\n", "", "  \n\t "]
_NUMBERS = [
    "0", "-0", "1", "-1", "42", "9223372036854775807", "-9223372036854775807", "4294967296", "1.0", "-0.0", "0.0",
    "0e0", "-0E-0", "1e5", "1E5", "1e+05", "1.5E-3", "2.5e-324", "4.9e-324", "1e-400", "2.2250738585072014e-308",
    "1.7976931348623157e308", "1e308", "0.1", "0.30000000000000004", "123456789012345678901234567890.5",
    "0.1000000000000000055511151231257827021181583404541015625", "3.141592653589793238462643383279",
    "1" + "0" * 18 + ".0", "12345678901234567e-20",
]
_STRINGS = [
    "", "plain", "é", "😀", "日本語", "tab\there", "line\nbreak", "quote\"back\\slash/", "\x00nul", "\x1f\x7f",
    "\u2028\u2029", "\ufeffbom", "\uffff", "\U0010ffff", "a" * 300,
]


def _string(rng: random.Random, text: str) -> str:
    """`text` as a JSON string, spelled one of several ways: escaped to ASCII, raw UTF-8, "\\/" for "/", upper-
    case hex escapes."""
    way = rng.randrange(4)
    out = json.dumps(text, ensure_ascii=way in (0, 3))
    if way == 2:
        out = out.replace("/", "\\/")
    if way == 3:  # "\u00E9", not "\u00e9"
        out = re.sub(r"\\u[0-9a-f]{4}", lambda m: "\\u" + m.group()[2:].upper(), out)
    return out


def _value(rng: random.Random, depth: int) -> str:
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return rng.choice(_NUMBERS)
    if kind == 1:
        return repr(rng.uniform(-1e6, 1e6)) if rng.random() < 0.5 else str(rng.randint(-10**12, 10**12))
    if kind == 2:
        return _string(rng, rng.choice(_STRINGS) + rng.choice(_STRINGS))
    if kind == 3:
        return rng.choice(["null", "true", "false"])
    if kind == 4:
        return rng.choice(["{}", "[]", "[[]]", '{"": {}}'])
    if kind in (5, 6):
        return _object(rng, depth + 1)
    items = [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return "[" + ("," + rng.choice(_WS)).join(items) + "]"


def _object(rng: random.Random, depth: int) -> str:
    keys = [rng.choice(["a", "b", "text", "messages", "é", "", "k\\u0041", "😀"]) for _ in range(rng.randrange(6))]
    pairs = [f"{_string(rng, json.loads(chr(34) + k + chr(34)))}{rng.choice(_WS)}:{rng.choice(_WS)}"
             f"{_value(rng, depth)}" for k in keys]  # keys repeat: json keeps the last value at the first place
    return "{" + rng.choice(_WS) + ("," + rng.choice(_WS)).join(pairs) + rng.choice(_WS) + "}"


def _array_text(seed: int, count: int) -> str:
    rng = random.Random(seed)
    rows = [_object(rng, 0) if rng.random() < 0.9 else _value(rng, 3) for _ in range(count)]
    return rng.choice(_WS) + "[" + rng.choice(_WS) + ("," + rng.choice(_WS)).join(rows) + rng.choice(_WS) + "]\n"


def _same(head, full) -> bool:
    """Equal with the same types everywhere: repr tells 1 from 1.0, -0.0 from 0.0, a Decimal, and key order."""
    return repr(head) == repr(full)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_head_of_generated_rows_is_the_full_reader_s_first_rows(tmp_path, seed):
    path = tmp_path / "rows.json"
    path.write_text(_array_text(seed, 300), encoding="utf-8")
    full = list(RowSource(path).rows())
    assert len(full) == 300
    assert json_array_head(path, 300) is not None  # ijson reads it: the comparison is not the fallback's
    for n in (1, 2, 7, 50, 199, 200, 300, 500):
        head = RowSource(path).head(n)
        assert _same(head, full[:n]), n


def test_generated_values_cover_the_awkward_types(tmp_path):
    """The generator writes what the comparison is about: ints and floats of one value, -0.0, Decimal-free big
    numbers, duplicate keys, empty containers, non-object rows."""
    path = tmp_path / "rows.json"
    path.write_text(_array_text(0, 300), encoding="utf-8")
    seen: set[str] = set()

    def walk(v):
        seen.add(type(v).__name__)
        if isinstance(v, float) and v == 0 and str(v).startswith("-"):
            seen.add("-0.0")
        if isinstance(v, dict):
            seen.add("{}" if not v else "dict")
            for x in v.values():
                walk(x)
        if isinstance(v, list):
            seen.add("[]" if not v else "list")
            for x in v:
                walk(x)

    for _, row in RowSource(path).head(300):
        seen.add(type(row).__name__)
        walk(row)
    assert {"int", "float", "-0.0", "str", "bool", "NoneType", "{}", "[]", "dict", "list", "Bad"} <= seen
    duplicates = []
    json.loads(_array_text(0, 300), object_pairs_hook=lambda p: duplicates.append(len(p) - len(dict(p))) or {})
    assert sum(duplicates) > 50


@pytest.mark.parametrize("space", [b"\x0b", b"\x0c"])
@pytest.mark.parametrize("where", ["before", "inside", "after"])
def test_a_vertical_tab_or_form_feed_as_whitespace_is_no_json(tmp_path, space, where):
    """json takes space, tab, CR and LF between values; ijson (yajl) also a vertical tab and a form feed. The head
    read such a file while rows() refuses it; now the head is the full reader's refusal."""
    text = {"before": space + b'[{"a": 1}]', "inside": b'[{"a":' + space + b'1}]',
            "after": b'[{"a": 1}' + space + b"]"}[where]
    path = tmp_path / "ws.json"
    path.write_bytes(text)
    with pytest.raises(BadInput, match="invalid JSON"):
        list(RowSource(path).rows())
    assert json_array_head(path, 200) is None
    with pytest.raises(BadInput, match="invalid JSON"):
        RowSource(path).head(200)


def test_the_text_of_a_surrogate_escape_is_no_escape(tmp_path):
    """A backslash written as "\\\\" before "ud83d" is text (a JavaScript emoji pattern in a code data set): the head
    reads such rows, as the full reader does, rather than reading the whole array (seconds and gigabytes for a 2 GB
    file); a real lone surrogate escape still goes to the full reader."""
    rows = [{"text": r"/\ud83d[\ude00-\ude4f]/u and \\ud800 and \ud83d"}, {"text": "\U0001f600 \\"}]
    path = tmp_path / "code.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    assert r"\\ud83d[\\ude00" in path.read_text()  # the JSON text holds the escaped backslash
    assert json_array_head(path, 200) == list(RowSource(path).rows()) == [(1, rows[0]), (2, rows[1])]
    for lone in (r'"\ud800"', r'"\\\ud800"', r'"\ud83d\u0041"', r'"\ud83d\\ude00"', r'"\"\udc00"', r'"\ud83d\\\ude00"'):
        path.write_text(f'[{{"text": {lone}}}]', encoding="utf-8")
        assert json_array_head(path, 200) is None, lone
        assert _same(RowSource(path).head(200), list(RowSource(path).rows())), lone


# -- rows() of a large array: streamed by ijson in two passes (count and check, then the rows) ------------------

# The surrogate rule as json_array_head applied it to all the bytes it read, before json_array.Tape looked at them piece by
# piece: the oracle the pieces are checked against
_OLD_LONE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                       rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _old_lone_surrogate(data: bytes) -> bool:
    return _OLD_LONE.search(re.sub(rb"\\\\", b"__", data)) is not None


def _rows_both_ways(path, monkeypatch):
    """rows() of `path` read whole (json) and streamed (ijson), each as (rows or the refusal, unit, total, done)."""
    out = []
    for threshold in (1 << 62, 0):
        monkeypatch.setattr(readers, "_STREAM_BYTES", threshold)
        source = RowSource(path)
        try:
            got = list(source.rows())
        except BadInput as exc:
            got = str(exc)
        out.append((repr(got), source.unit, source.total, source.done))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_the_streamed_rows_of_generated_arrays_are_json_s(tmp_path, monkeypatch, seed):
    """All rows, the row count (`total`, unit "rows") and the progress at the end, by repr: streamed as read whole."""
    path = tmp_path / "rows.json"
    path.write_text(_array_text(seed, 300), encoding="utf-8")
    with open(path, "rb") as fh:
        checked = json_array.checked_array(fh)
    assert checked is not None and checked.items == 300  # streamed, not the fallback
    whole, streamed = _rows_both_ways(path, monkeypatch)
    assert whole[1:] == ("rows", 300, 300)
    assert streamed == whole


@pytest.mark.parametrize("text", [
    b'[{"a": NaN}]', b'[{"a": -Infinity}]', b'[{"a": 123456789012345678901234567890}]', b'[{"a": 1e400}]',
    b'[{"a": -9223372036854775808}]', b'[{"a": "x\\ud800y"}]', b'[{"a": "\\udc00"}, 1]', b'[{"a":\x0b1}]',
    b'[{"a": 1}]\x0c', b'[{"a": 1}] x', b'[{"a": 1}] []', b'[{"a": 1},]', b'[{"a": 1}', b'[{"a": "\xff"}]',
    b'[{"a": "\xed\xa0\x80"}]', b'[{"a": "tab\there"}]', b'[{"a": 01}]', b'[{"a": [' + b"[" * 150 + b"]" * 150 + b"]}]",
    b'[' + b"[" * 5000 + b"]" * 5000 + b"]", b'\xef\xbb\xbf \n[{"a": 1}, 2, null]\n',
])
def test_what_json_reads_otherwise_is_read_whole(tmp_path, monkeypatch, text):
    """NaN, Infinity, big integers (and -2**63, which ijson's yajl calls an overflow), floats past 1e308, lone
    surrogate escapes, a vertical tab or form feed, a break, junk after the array, invalid UTF-8, deep nesting:
    the streamed reader gives the whole-file reader's rows or its refusal, word for word."""
    path = tmp_path / "odd.json"
    path.write_bytes(text)
    whole, streamed = _rows_both_ways(path, monkeypatch)
    assert streamed == whole


def test_the_streamed_rows_hold_no_whole_array(tmp_path, monkeypatch):
    """rows() of a large array parses it with ijson (json.loads is never called on it), and at the first row the
    count of all rows is known."""
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"text": f"row {i}"} for i in range(3000)]), encoding="utf-8")
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)

    def refuse(text):
        raise AssertionError("read whole")

    monkeypatch.setattr(readers, "loads_json", refuse)
    source = RowSource(path)
    rows = source.rows()
    assert next(rows) == (1, {"text": "row 0"})
    assert (source.unit, source.total, source.done) == ("rows", 3000, 1)
    assert sum(1 for _ in rows) == 2999 and source.done == 3000


@pytest.mark.parametrize("change", ["grown", "replaced in place", "cut"])
def test_a_file_changed_between_the_passes_is_refused(tmp_path, monkeypatch, change):
    """Rows of the counted text have been handed out when the second pass finds another file: refused, naming it."""
    path = tmp_path / "moving.json"
    rows = [{"text": f"row {i}"} for i in range(50)]
    path.write_text(json.dumps(rows), encoding="utf-8")
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    source = RowSource(path)
    it = source.rows()
    assert next(it) == (1, rows[0]) and source.total == 50
    text = {"grown": json.dumps(rows + rows), "replaced in place": json.dumps([{"text": f"ROW {i}"} for i in range(50)]),
            "cut": json.dumps(rows)[:-200]}[change]
    with open(path, "r+", encoding="utf-8") as fh:  # the same file, rewritten (an editor's save, a copy over it)
        fh.write(text)
        fh.truncate()
    os.utime(path, ns=(0, 10**18))
    with pytest.raises(BadInput, match=rf"^--data {re.escape(str(path))}: the file changed while lorplan read it"):
        list(it)


def test_a_file_changed_during_the_count_is_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "moving.json"
    path.write_text(json.dumps([{"text": "a"}, {"text": "b"}]), encoding="utf-8")
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)
    stamps = iter([(1, 1), (2, 2)])
    monkeypatch.setattr(json_array, "stamp", lambda fh: next(stamps))
    with open(path, "rb") as fh:
        assert json_array.checked_array(fh) is None
    for module in (json_array, readers):
        monkeypatch.setattr(module, "stamp", lambda fh: (3, 3))
    assert list(RowSource(path).rows()) == [(1, {"text": "a"}), (2, {"text": "b"})]


@pytest.mark.parametrize("seed", range(6))
def test_the_surrogate_check_piece_by_piece_is_the_check_of_all_bytes(seed):
    """json_array.Tape looks at what ijson reads in pieces, cut anywhere: it finds a lone surrogate escape exactly where the
    rule applied to all the bytes at once finds one, escaped backslashes and pairs across the cuts included."""
    rng = random.Random(seed)
    atoms = [b"\\ud83d", b"\\ude00", b"\\uD800", b"\\uDC00", b"\\\\", b"\\n", b"\\u0041", b"u", b"d83d", b"x", b" ",
             b'"', b"\\"]
    found = 0
    for _ in range(400):
        data = b"".join(rng.choice(atoms) for _ in range(rng.randrange(1, 12)))
        expected = _old_lone_surrogate(data)
        found += expected
        assert json_array.lone_surrogate_escape(data) == expected, data
        sizes = [rng.randrange(1, 8) for _ in range(40)]
        for _ in range(2):
            pieces = io.BytesIO(data)
            tape = json_array.Tape(pieces, 0)
            for size in sizes:
                tape.read(size)
            while tape.read(3):
                pass
            assert tape.json_differs() == expected, (data, sizes)
            sizes = [1] * len(data)
    assert 50 < found < 350  # both answers are tested


def test_the_head_reads_in_the_passes_pieces(tmp_path, monkeypatch):
    """The head of an array and of an object holding the rows asks ijson for json_array.STREAM_BUF at a time, as
    the two passes do: at ijson's default, 64 KB, the head of a file whose first row holds a 32 MB string took
    3.4-3.6 s (0.4-0.5 s at 1 MiB). Before, the head read 64 KB at a time."""
    asked = []
    read = json_array.Tape.read

    def recording(self, size=-1):
        asked.append(size)
        return read(self, size)

    monkeypatch.setattr(json_array.Tape, "read", recording)
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([{"text": "x" * 100_000}, {"text": "y"}]))
    assert json_array_head(array, 1) == [(1, {"text": "x" * 100_000})]
    under_key = tmp_path / "under_key.json"
    under_key.write_text(json.dumps({"data": [{"text": "x" * 100_000}, {"text": "y"}]}))
    assert readers.json_object_head(under_key, 1) == ([(1, {"text": "x" * 100_000})], None, "data")
    assert asked and {size for size in asked if size} == {json_array.STREAM_BUF}
