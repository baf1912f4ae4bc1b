"""lorplan.core.filekind.special_kind: the one wording of "not a file" that the plan reader, the model resolver
and export -o use, checked on real pipes, devices and sockets."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from lorplan.core.filekind import special_kind


def test_each_kind_of_special_path_is_named(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # an AF_UNIX name is at most 107 bytes
        sock_path = Path(short) / "s"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(sock_path))
            assert special_kind(sock_path) == "a socket"
    assert special_kind(pipe) == "a named pipe"
    assert special_kind("/dev/null") == "a device"
    link = tmp_path / "link"
    link.symlink_to("/dev/null")
    assert special_kind(link) == "a device"


def test_files_folders_and_unreadable_names_are_left_to_the_caller(tmp_path):
    (tmp_path / "f.toml").write_text("x = 1\n")
    for path in (tmp_path / "f.toml", tmp_path, tmp_path / "missing", str(tmp_path / "a\0b"),
                 tmp_path / "f.toml" / "below"):
        assert special_kind(path) == "", path


def test_compressed_kind_goes_by_the_first_bytes_alone():
    """compressed_kind and decompress_hint (the data readers' refusal of a .jsonl.gz) read magic bytes, never the
    name: text and Parquet are not compressed, however they start, and the hint quotes a path a shell splits."""
    import bz2
    import gzip
    import lzma

    from lorplan.core.filekind import compressed_kind, decompress_hint

    assert [compressed_kind(b) for b in (gzip.compress(b"x"), bz2.compress(b""), lzma.compress(b"x"))] == [
        "gzip-compressed", "bzip2-compressed", "xz-compressed"]
    for head in (b"BZh9 text", b"PAR1\x15\x04", b'{"text": "\x1f\x8b"}', b"", b"PK: a name"):
        assert compressed_kind(head) is None and decompress_hint("d.jsonl", head) is None, head
    assert decompress_hint("my data.csv.gz", gzip.compress(b"x")) == (
        "gzip-compressed: decompress it first (gunzip 'my data.csv.gz')")
    assert decompress_hint("d.csv", bz2.compress(b"x")) == (
        "bzip2-compressed: decompress it first (bunzip2 -c d.csv > d-decompressed.csv)")
