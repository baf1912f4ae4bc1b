"""Files as users have them, read by `lorplan profile` and `lorplan train` alike (core.data.readers): a UTF-8 byte
order mark, JSONL written to a .json file, a one-line object holding the rows beside other keys, one chat row
pretty-printed. Counted with the character estimate (4 characters a token, plus the EOS) so every figure is
worked out by hand."""

from __future__ import annotations

import json

from lorplan.core.data import iter_examples, profile_dataset

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
