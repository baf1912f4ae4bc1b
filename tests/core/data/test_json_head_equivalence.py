"""RowSource.head's rows of a JSON array (read by ijson) are exactly RowSource.rows()' first rows (read by json):
the same values with the same types and key order, over a few hundred generated rows of awkward values written
as JSON text by hand (number spellings json.dumps never writes, duplicate keys, escapes, odd whitespace)."""

from __future__ import annotations

import json
import random
import re

import pytest

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
