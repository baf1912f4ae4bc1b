"""What a path is, in words, for the refusals that name it: a path that is neither a regular file nor a folder
(special_kind), and a file compressed by gzip, bzip2, xz or zstd or zipped (compressed_kind, by its first bytes).

A named pipe with no writer keeps a read waiting for ever, and a device (/dev/null) reads as empty or without
end, so a plan, a model path or an export's -o naming one is refused saying what it is instead of being read.
A compressed data file (the Hub serves .jsonl.gz and .json.zst) read as text is NUL bytes or garbage: the data
readers refuse it saying how it was compressed and how to undo it. Stdlib only.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import PurePath

# A compressed file's first bytes -> (what it is, the command that undoes it, the suffix that command expects).
# bzip2's "BZh" + block size is followed by the first block's magic (pi's digits) or the end-of-stream one (an
# empty file), so text that starts "BZh9" is not taken for it; gzip's is followed by its one method, deflate.
_COMPRESSED = (
    ((b"\x1f\x8b\x08",), "gzip-compressed", "gunzip", ".gz"),
    (tuple(b"BZh%d" % n + magic for n in range(1, 10) for magic in (b"1AY&SY", b"\x17rE8P\x90")),
     "bzip2-compressed", "bunzip2", ".bz2"),
    ((b"\xfd7zXZ\x00",), "xz-compressed", "unxz", ".xz"),
    ((b"\x28\xb5\x2f\xfd",), "zstd-compressed", "unzstd", ".zst"),
    ((b"PK\x03\x04", b"PK\x05\x06"), "a zip archive", "unzip", ".zip"),
)
# zip archives that are a spreadsheet (Excel, OpenDocument): unzipped they are the workbook's XML parts, no rows
_SPREADSHEETS = (".xlsx", ".xlsm", ".ods")


def special_kind(path: str | os.PathLike) -> str:
    """"a named pipe", "a device" (character or block) or "a socket" for a path that is there and is none of a
    regular file and a folder (links followed); "" for anything else: a file, a folder, a missing or unreadable
    path, a name the OS is never asked about (one holding a NUL byte), each left to the caller's own read."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return ""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else ""


def compressed_kind(head: bytes) -> str | None:
    """"gzip-compressed", "bzip2-compressed", "xz-compressed", "zstd-compressed" or "a zip archive" for a file
    whose first bytes (`head`) are those of one, by their magic bytes (the file's name says nothing: a .jsonl
    can be gzip and a .gz plain text); None for anything else."""
    found = _compression(head)
    return found[0] if found else None


def decompress_hint(path: str | os.PathLike, head: bytes) -> str | None:
    """"gzip-compressed: decompress it first (gunzip d.jsonl.gz)" for the file at `path` whose first bytes are
    `head`, the command one a shell runs as written (the path quoted where it must be); where the name lacks the
    suffix the tool expects (gunzip leaves "d.jsonl" alone), the tool writes the text beside it ("gunzip -c
    d.jsonl > d-decompressed.jsonl"). A zip archive is extracted ("unzip d.zip"), but one named as a spreadsheet
    (.xlsx, .ods) is saved as CSV. None where compressed_kind is."""
    found = _compression(head)
    if found is None:
        return None
    kind, tool, suffix = found
    name = str(path)
    if tool == "unzip" and PurePath(name).suffix.lower() in _SPREADSHEETS:
        return "a spreadsheet, which lorplan does not read; save it as CSV UTF-8 (the spreadsheet program's Save As)"
    if tool == "unzip":
        return f"{kind}: extract it first (unzip {shlex.quote(name)})"
    if name.endswith(suffix) and len(PurePath(name).name) > len(suffix):
        command = f"{tool} {shlex.quote(name)}"
    else:
        pure = PurePath(name)
        out = pure.with_name(f"{pure.stem}-decompressed{pure.suffix}")
        command = f"{tool} -c {shlex.quote(name)} > {shlex.quote(str(out))}"
    return f"{kind}: decompress it first ({command})"


def _compression(head: bytes) -> tuple[str, str, str] | None:
    return next(((kind, tool, suffix) for magics, kind, tool, suffix in _COMPRESSED if head.startswith(magics)),
                None)
