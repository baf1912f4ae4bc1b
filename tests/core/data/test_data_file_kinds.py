"""What a data file that is not UTF-8 text is called when lorplan refuses it: a compressed file by its magic bytes
(whatever its name), a short binary file as binary (not UTF-16), and a real UTF-16 or UTF-32 file by its encoding.
Every reader (the profile, the probes' and train's load_examples, schema detection, export's data_head and the
CLI) opens a data file through lorplan.core.data.readers.detect_format, so each says the same."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import random
import struct
import zipfile

import pytest

from lorplan.cli import main
from lorplan.core.data import data_classes, load_examples, profile_dataset
from lorplan.core.data.schema import detect_from_file
from lorplan.core.errors import BadInput
from lorplan.core.export.common import data_head

ROWS = "".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(5)).encode()


def _zip(data: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("chat.jsonl", data)
    return buf.getvalue()


def _refusal(path) -> str:
    with pytest.raises(BadInput) as exc:
        profile_dataset(path)
    return str(exc.value)


# name -> (the file's bytes, what the refusal says after "--data PATH: ")
COMPRESSED = {
    "chat.jsonl.gz": (gzip.compress(ROWS), "gzip-compressed: decompress it first (gunzip {path})"),
    "d.csv.bz2": (bz2.compress(b"text\nhello\n"), "bzip2-compressed: decompress it first (bunzip2 {path})"),
    "d.json.xz": (lzma.compress(ROWS), "xz-compressed: decompress it first (unxz {path})"),
    # zstd's frame magic (no zstd module in the stdlib of 3.11): the sniff reads the first four bytes alone
    "d.jsonl.zst": (b"\x28\xb5\x2f\xfd" + bytes(range(40)), "zstd-compressed: decompress it first (unzstd {path})"),
    "d.zip": (_zip(ROWS), "a zip archive: extract it first (unzip {path})"),
    # the name says nothing: a .jsonl or a .parquet that is gzip is called gzip, and gunzip (which wants .gz) is
    # told where to write the text
    "plain.jsonl": (gzip.compress(ROWS), "gzip-compressed: decompress it first (gunzip -c {path} > {out})"),
    "d.parquet": (gzip.compress(ROWS), "gzip-compressed: decompress it first (gunzip -c {path} > {out})"),
    "noext": (gzip.compress(ROWS), "gzip-compressed: decompress it first (gunzip -c {path} > {out})"),
}


@pytest.mark.parametrize("name", list(COMPRESSED))
def test_a_compressed_file_is_named_by_its_magic_bytes(tmp_path, name):
    """chat.jsonl.gz was 'looks like a binary file (NUL bytes), not TXT text': the .gz suffix is no format lorplan
    knows, so it sniffed the first bytes as text, and gzip is common on the Hub."""
    data, said = COMPRESSED[name]
    path = tmp_path / name
    path.write_bytes(data)
    out = path.with_name(f"{path.stem}-decompressed{path.suffix}")
    assert _refusal(path) == f"--data {path}: " + said.format(path=path, out=out)


def test_every_reader_refuses_a_compressed_file_the_same_way(tmp_path, capsys):
    path = tmp_path / "chat.jsonl.gz"
    path.write_bytes(gzip.compress(ROWS))
    expected = f"--data {path}: gzip-compressed: decompress it first (gunzip {path})"
    for read in (profile_dataset, load_examples, detect_from_file, data_classes):
        with pytest.raises(BadInput) as exc:
            read(path)
        assert str(exc.value) == expected, read.__name__
    # export's data head never raises: it keeps the reason as its chat layout's problem
    assert data_head(str(path)).layout.problem == expected.removeprefix("--data ")
    assert main(["profile", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"lorplan profile: error: {expected}\n"


def test_a_text_file_that_starts_like_bzip2_is_text(tmp_path):
    path = tmp_path / "d.txt"
    path.write_bytes(b"BZh9 is how bzip2 files start\nsecond line\n")
    assert profile_dataset(path).examples == 2


def test_a_compressed_txt_in_a_folder_is_named(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(gzip.compress(b"Hello world."))
    (folder / "b.txt").write_bytes(b"Hello world.")
    p = profile_dataset(folder)
    assert (p.examples, [x.reason for x in p.problems]) == (1, ["a.txt: gzip-compressed"])


TINY_BINARY = {
    "the new user's file": b"\x00\x01\x02binary",
    "two bytes": b"\x00\x01",
    "little-endian shorts": struct.pack("<8H", *range(8)),
    "big-endian ints": struct.pack(">6I", 1, 2, 3, 4, 5, 6),
    "a NUL between letters": b"\x00abcdefgh\x00ijkl",
}


@pytest.mark.parametrize("data", list(TINY_BINARY.values()), ids=list(TINY_BINARY))
def test_a_tiny_binary_file_is_binary_not_utf16(tmp_path, data):
    """printf '\\x00\\x01\\x02binary' > bin.jsonl was 'UTF-16BE text ... iconv -f UTF-16BE': a NUL on one side of
    one byte pair in four was the whole test. The sample must also decode as UTF-16 to text without control
    characters."""
    path = tmp_path / "bin.jsonl"
    path.write_bytes(data)
    assert _refusal(path) == f"--data {path}: looks like a binary file (NUL bytes), not JSONL text"


def test_random_bytes_are_binary(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(random.Random(7).randbytes(2048).replace(b"\x00", b"\x01") + b"\x00")
    assert _refusal(path) == f"--data {path}: looks like a binary file (NUL bytes), not CSV text"


def test_a_binary_file_whose_format_was_guessed_is_not_called_txt(tmp_path):
    """Without a suffix lorplan knows, the format is guessed from the first bytes ("txt" when nothing fits): the
    refusal said 'not TXT text' of a file the user never called text."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(64))
    assert _refusal(path) == f"--data {path}: looks like a binary file (NUL bytes), not text"


def _utf16_message(path, enc):
    return f"--data {path}: {enc} text, which lorplan does not read; save it as UTF-8 (an editor's Save As, or " \
           f"iconv -f {enc} -t UTF-8)"


def test_real_utf16_and_utf32_files_still_name_their_encoding(tmp_path):
    """The stricter sniff keeps every real file: short ones, Windows line ends, text beyond ASCII, a sample whose
    8 KiB end splits a surrogate pair (an emoji) in two, with and without a byte order mark."""
    # 8192 bytes are 4096 UTF-16 units: '{"text": "' (10) + a's up to unit 4094 puts the emoji's high surrogate last
    split = '{"text": "' + "a" * 4085 + '😀"}\n' + '{"text": "b"}\n'
    cases = {
        "tiny-le.jsonl": ("{}\n".encode("utf-16-le"), "UTF-16LE"),
        "tiny-be.jsonl": ("{}\n".encode("utf-16-be"), "UTF-16BE"),
        "crlf.csv": ("text,label\r\nhello,1\r\nworld é,0\r\n".encode("utf-16-le"), "UTF-16LE"),
        "bom.csv": ("text,label\r\nhello,1\r\n".encode("utf-16"), "UTF-16"),
        "cjk-bom.jsonl": ('{"text": "你好世界"}\n'.encode("utf-16"), "UTF-16"),
        "split-le.jsonl": (split.encode("utf-16-le"), "UTF-16LE"),
        "split-be.jsonl": (split.encode("utf-16-be"), "UTF-16BE"),
        "split-bom.jsonl": (split[1:].encode("utf-16"), "UTF-16"),  # the BOM takes a unit: one a fewer
        "emoji.jsonl": ('{"text": "😀 ok"}\n'.encode("utf-16-le"), "UTF-16LE"),
        "a32.jsonl": ('{"text": "hi"}\n'.encode("utf-32"), "UTF-32"),
    }
    for name, (data, enc) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert _refusal(path) == _utf16_message(path, enc), name
    assert len(split.encode("utf-16-le")) > 8192 and split.encode("utf-16-le")[8190:8192] == "😀".encode(
        "utf-16-le")[:2]  # the case is what it says


def test_a_byte_order_mark_before_binary_is_binary(tmp_path):
    path = tmp_path / "bom-bin.jsonl"
    path.write_bytes(b"\xff\xfe" + struct.pack("<8H", *range(1, 9)))
    assert _refusal(path) == f"--data {path}: looks like a binary file (NUL bytes), not JSONL text"


def _zipped(members: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["labels.xlsx", "Labels.XLSM", "labels.ods"])
def test_a_spreadsheet_is_told_to_be_saved_as_csv_not_unzipped(tmp_path, name):
    """An Excel or OpenDocument spreadsheet is a zip archive; 'extract it first (unzip labels.xlsx)' gave the user
    the workbook's XML parts, no rows. It is told to save the sheet as CSV."""
    path = tmp_path / name
    path.write_bytes(_zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}))
    assert _refusal(path) == (f"--data {path}: a spreadsheet, which lorplan does not read; save it as CSV UTF-8 "
                              f"(the spreadsheet program's Save As)")


@pytest.mark.parametrize("text", ["\x1b[32mok\x1b[0m test passed in 0.3 s\r\n", "first line\vsame paragraph\r\n"],
                         ids=["terminal colours", "Word's line break"])
def test_utf16_text_with_escapes_or_vertical_tabs_is_utf16(tmp_path, text):
    """PowerShell's `>` (README's example of UTF-16) keeps a program's terminal colours (ESC); Word's manual line
    break is a vertical tab. Both are text, a few in every line: the sniff called such a file binary."""
    for enc, name in (("utf-16", "UTF-16"), ("utf-16-le", "UTF-16LE")):
        path = tmp_path / f"log-{enc}.txt"
        path.write_bytes((text * 40).encode(enc))
        assert _refusal(path) == _utf16_message(path, name)
