"""Files as users have them, read by `lorplan profile` and `lorplan train` alike (core.data.readers): a UTF-8 byte
order mark, JSONL written to a .json file, a one-line object holding the rows beside other keys, one chat row
pretty-printed. Counted with the character estimate (4 characters a token, plus the EOS) so every figure is
worked out by hand."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from lorplan.core.data import iter_examples, profile_dataset
from lorplan.core.data.readers import _first_object_line
from lorplan.core.errors import BadInput

BOM = b"\xef\xbb\xbf"
CHAT = {"messages": [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}]}
TEXTS = [{"text": "Hello world."}, {"text": "你好，世界。"}, {"text": "emoji 😀 party 🎉"}]


def test_json_array_with_a_bom_is_read(tmp_path):
    # Notepad's "UTF-8 with BOM": it stopped with 'invalid JSON (Unexpected UTF-8 BOM ...)'
    path = tmp_path / "rows.json"
    path.write_bytes(BOM + json.dumps(TEXTS, ensure_ascii=False).encode())
    p = profile_dataset(path)
    # 12 chars -> 3 + EOS; 6 -> 2 + EOS; 15 -> 4 + EOS
    assert (p.format, p.schema, p.examples, p.skipped, p.tokens) == ("json", "text", 3, 0, 12)


def test_jsonl_chat_rows_in_a_json_file_are_rows(tmp_path):
    # each {"messages": [...]} line was taken for an object holding rows, and the file read as one JSON value:
    # 'invalid JSON (Extra data at line 2, column 1)'
    path = tmp_path / "chats.json"
    second = {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}
    path.write_text(json.dumps(CHAT) + "\n" + json.dumps(CHAT) + "\n" + json.dumps(second) + "\n")
    p = profile_dataset(path)
    assert (p.format, p.schema, p.examples, p.skipped, p.duplicates) == ("jsonl", "messages", 3, 0, 1)
    # "<|user|>\nHi there\n<|assistant|>\nHello!\n" is 40 chars -> 10 + EOS; "<|user|>\na\n<|assistant|>\nb\n" 28 -> 7 + EOS
    # trained: "Hello!" 6 -> 2 + EOS; "b" -> 1 + EOS
    assert (p.tokens, p.trained_tokens) == (11 + 11 + 8, 3 + 3 + 2)


def test_one_line_object_with_rows_beside_other_keys(tmp_path):
    # {"version": ..., "data": [...]} on one line was read as a JSONL row: 'no known schema in columns (version,
    # data)', though the same object pretty-printed was read as its rows
    line = tmp_path / "one-line.json"
    line.write_text(json.dumps({"version": "1.0", "data": TEXTS}, ensure_ascii=False))
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps({"version": "1.0", "data": TEXTS}, ensure_ascii=False, indent=2))
    for path in (line, pretty):
        p = profile_dataset(path)
        assert (p.format, p.schema, p.examples, p.tokens) == ("json", "text", 3, 12), path.name


def test_one_chat_row_pretty_printed_is_a_row(tmp_path):
    # its messages list was taken for the rows: 'no known schema in columns (role, content)'
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(CHAT, indent=2))
    p = profile_dataset(path)
    assert (p.schema, p.examples, p.tokens, p.trained_tokens) == ("messages", 1, 11, 3)


def test_a_text_files_bom_is_no_text(tmp_path):
    # the BOM stayed at the start of the first example: trained on (tokens a BPE tokenizer counts) and the
    # line no longer equal to the same line without it
    single = tmp_path / "lines.txt"
    single.write_bytes(BOM + b"Hello world.\r\nHello world.\r\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(BOM + b"Hello world.")
    (folder / "b.txt").write_bytes(b"Hello world.")
    for path in (single, folder):
        assert [ex.text for ex in iter_examples(path)] == ["Hello world.", "Hello world."], path.name
        p = profile_dataset(path)
        assert (p.examples, p.duplicates, p.tokens) == (2, 1, 8), path.name  # 12 chars -> 3 + EOS, twice


def test_jsonl_with_a_bom_and_no_extension_is_jsonl(tmp_path):
    # the sniffer saw the BOM's first byte, not "{", and read each JSON line as a text example
    path = tmp_path / "export"
    path.write_bytes(BOM + b'{"text": "Hello world."}\n{"text": "Hi"}\n')
    p = profile_dataset(path)
    assert (p.format, p.examples, p.tokens) == ("jsonl", 2, 4 + 2)


def test_jsonl_in_a_json_file_after_blank_lines(tmp_path):
    # the sniff read the first line alone, a blank one, and the file was then read as one JSON value: 'invalid
    # JSON (Extra data at line 4, column 1)'
    path = tmp_path / "rows.json"
    path.write_bytes(BOM + b"\r\n\r\n" + b"".join(json.dumps(r).encode() + b"\r\n" for r in TEXTS[:2]))
    p = profile_dataset(path)
    assert (p.format, p.schema, p.examples, p.skipped, p.tokens) == ("jsonl", "text", 2, 0, 4 + 3)


def test_a_bom_before_a_blank_first_line_is_no_row(tmp_path):
    # the BOM alone on line 1 was parsed as a row: 'skipped line 1: invalid JSON (Expecting value ...)'
    path = tmp_path / "rows.jsonl"
    path.write_bytes(BOM + b"\n" + json.dumps(TEXTS[0]).encode() + b"\n")
    p = profile_dataset(path)
    assert (p.examples, p.skipped, p.problems) == (1, 0, ())


def test_rows_under_a_key_a_schema_names_are_rows(tmp_path):
    # {"conversations": [{"messages": [...]}, ...]} (rows under a key named like ShareGPT's column) was read as its
    # rows before 829781f; it then became one chat row whose messages are rows: 'no usable row'
    wrapper = {"conversations": [CHAT, CHAT, {"messages": [{"role": "user", "content": "a"},
                                                         {"role": "assistant", "content": "b"}]}]}
    for name, text in (("pretty.json", json.dumps(wrapper, indent=2)), ("line.json", json.dumps(wrapper))):
        path = tmp_path / name
        path.write_text(text)
        p = profile_dataset(path)
        assert (p.format, p.schema, p.examples, p.skipped, p.duplicates) == ("json", "messages", 3, 0, 1), name
        assert (p.tokens, p.trained_tokens) == (11 + 11 + 8, 3 + 3 + 2), name
    # a chat row whose messages hold a "text" key is still one row, not its messages
    path = tmp_path / "row.json"
    path.write_text(json.dumps({"messages": [{"role": "user", "text": "a"}, {"role": "assistant", "text": "b"}]},
                               indent=2))
    assert list(iter_examples(path)) == []  # one row, with no "content": unusable, not two "text" examples


def test_utf16_files_are_refused_by_their_encoding(tmp_path):
    # PowerShell's `>` and Notepad's "Unicode" write UTF-16: it was 'looks like a binary file (NUL bytes)', and
    # text without ASCII (no NUL byte) was read as UTF-8 garbage
    rows = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TEXTS)
    files = {"a.json": json.dumps(TEXTS).encode("utf-16"), "a.jsonl": rows.encode("utf-16"),
             "a.csv": "text\nhello\n".encode("utf-16"), "a.txt": "你好世界".encode("utf-16"),
             "noext": rows.encode("utf-16"), "le.jsonl": rows.encode("utf-16-le"),
             "be.jsonl": rows.encode("utf-16-be"), "a32.jsonl": rows.encode("utf-32")}
    named = {"le.jsonl": "UTF-16LE", "be.jsonl": "UTF-16BE", "a32.jsonl": "UTF-32"}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        enc = named.get(name, "UTF-16")
        with pytest.raises(BadInput) as exc:
            profile_dataset(path)
        assert str(exc.value) == (f"--data {path}: {enc} text, which lorplan does not read; save it as UTF-8 (an "
                                  f"editor's Save As, or iconv -f {enc} -t UTF-8)"), name
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes("Hello world.".encode("utf-16"))
    (folder / "b.txt").write_bytes(b"Hello world.")
    p = profile_dataset(folder)
    assert (p.examples, [x.reason for x in p.problems]) == (1, ["a.txt: UTF-16 text, not UTF-8"])


def test_the_json_sniff_reads_one_line_at_most(tmp_path):
    # the first line was read whole, a minified array of the whole file too, and kept while the file was read
    # again as JSON; a long first row is still read whole
    array = tmp_path / "array.json"
    array.write_text(json.dumps([{"text": "x" * 1000}] * 4000))
    tracemalloc.start()
    try:
        assert _first_object_line(array) == (None, False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200_000  # the file is 4 MB
    rows = tmp_path / "rows.json"
    first = json.dumps({"text": "y" * 20_000}).encode()
    rows.write_bytes(b"\n  \n" + first + b"\n\n" + b" " * 10_000 + b"\n" + json.dumps(TEXTS[0]).encode())
    assert _first_object_line(rows) == (first + b"\n", True)
    assert _first_object_line(tmp_path / "array.json") == (None, False)
    alone = tmp_path / "alone.json"
    alone.write_bytes(BOM + first + b"\n" + b" " * 10_000 + b"\n\n")
    assert _first_object_line(alone) == (first + b"\n", False)
