"""Streaming row readers: JSONL/JSON, CSV/TSV, Parquet, a folder of .txt files, a `datasets` save_to_disk folder.

Every reader yields `(line, row)` where row is a dict or a `Bad` (the reason the row is unusable), and never
holds more than one batch of rows in memory (a JSON file under _STREAM_BYTES is read whole, as the json module
does; a larger array, or object whose one list holds the rows ({"data": [...]}), is streamed with ijson, twice:
once to check and count it, once for the rows. `RowSource.head` reads only the first rows of an array, and of
such an object of _STREAM_BYTES and up).
`line` is the 1-based line in the file for line formats, else the 1-based row number.
Progress is `RowSource.done` out of `RowSource.total` in `RowSource.unit` ("bytes" or "rows"); the first pass
over a streamed JSON file, which rows() makes before its first row, reports to RowSource's `progress` callback
in unit json_array.CHECKING.
pyarrow is imported inside the Parquet and Arrow readers only, ijson inside the JSON array streaming.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from lorplan.core.data.json_array import (
    BOM,
    STREAM_BUF,
    CheckedRows,
    ObjectSurvey,
    Progress,
    Stopped,
    array_head,
    checked_array,
    checked_object,
    object_head,
    stamp,
)
from lorplan.core.errors import BadInput
from lorplan.core.filekind import compressed_kind, decompress_hint
from lorplan.core.jsontext import loads_json
from lorplan.core.units import counted

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "txt-folder", "arrow-folder")
EXTENSIONS = {  # a file's suffix -> the format lorplan reads it as (detect_format)
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv",
    ".parquet": "parquet", ".pq": "parquet", ".txt": "txt",
}
_SNIFF_BYTES = 8192
_BATCH_ROWS = 1024
# A JSON array file (or object holding the rows) of this size and up is streamed by rows(), smaller ones read
# whole. json.loads holds about 7 times the file (`lorplan profile` of a 44 MB chat array: 2.3-2.6 s, 342 MB
# peak; 200 MB: 9.7 s, 1.48 GB; rows under a key on one line were parsed twice, first line and file), the
# two ijson passes about 20 MB whatever the size (44 MB: 2.8-2.9 s, 48 MB; 200 MB: 12.2 s, 49 MB; 2 GB: 127 s,
# 64 MB) but take longer: 1 MB read in 15-20 ms whole, 33-49 ms streamed, where the memory saved is nothing
_STREAM_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Bad:
    """A row that cannot be used, and why (one short phrase)."""

    reason: str


def detect_format(path: Path) -> str:
    """The file format of `path`, from the extension or, without one, from the first bytes.

    Raises BadInput naming the path when it does not exist, is empty, is compressed (gzip, bzip2, xz, zstd or
    zip, by its first bytes whatever its name: saying how to undo it), or looks binary where text is expected.
    """
    try:
        exists = path.exists()  # raises PermissionError inside a folder the user cannot enter
    except OSError as exc:
        raise BadInput(f"--data {path}: cannot read ({exc.strerror or exc})") from None
    if not exists:
        raise BadInput(f"--data {path}: no such file or folder")
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return "arrow-folder"
        if any(path.rglob("*.txt")):
            return "txt-folder"
        raise BadInput(f"--data {path}: a folder must hold .txt files or a dataset saved with save_to_disk")
    size = path.stat().st_size
    if size == 0:
        raise BadInput(f"--data {path}: the file is empty")
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise BadInput(f"--data {path}: cannot read ({exc.strerror or exc})") from None
    if (packed := decompress_hint(path, head)) is not None:
        raise BadInput(f"--data {path}: {packed}")
    fmt = EXTENSIONS.get(path.suffix.lower())
    guessed = fmt is None  # from the first bytes: "txt" where nothing else fits, no kind to name in a refusal
    if fmt is None:
        if head.startswith(b"PAR1"):
            fmt = "parquet"
        else:
            first = head.removeprefix(BOM).lstrip()[:1]
            fmt = {b"[": "json", b"{": "jsonl"}.get(first, "txt")
    if fmt != "parquet" and (wide := wide_encoding(head)) is not None:
        raise BadInput(f"--data {path}: {wide} text, which lorplan does not read; save it as UTF-8 (an editor's "
                       f"Save As, or iconv -f {wide} -t UTF-8)")
    if fmt != "parquet" and b"\x00" in head:
        raise BadInput(f"--data {path}: looks like a binary file (NUL bytes), not "
                       f"{'text' if guessed else fmt.upper() + ' text'}")
    if fmt == "parquet" and not head.startswith(b"PAR1"):
        raise BadInput(f"--data {path}: not a Parquet file (no PAR1 header)")
    return fmt


class RowSource:
    """The rows of one dataset file or folder, read lazily. Iterate `rows()` once.

    progress(done, total, unit), when given, hears of the first pass over a JSON file rows() streams (bytes
    read out of the file's size, unit json_array.CHECKING, every json_array.REPORT_EVERY seconds), which is made
    before the first row comes; what it raises stops the pass and comes out of rows() as it was raised. Other
    reading does not call it: the caller reports done, total and unit as the rows come."""

    def __init__(self, path: str | os.PathLike[str], progress: Progress | None = None):
        self.path = Path(path)
        self.progress = progress
        self.format = detect_format(self.path)
        self.note: str | None = None
        self.unit = "bytes"
        self.total = 0
        self.done = 0
        self.list_key: str | None = None  # where the rows are the list of one JSON object, its key ("data")
        # a CSV or TSV file's header (its first record) as written, once rows() has read it: spaces around the
        # names kept (the rows' keys are the names stripped), a BOM left out, bytes that are not UTF-8 escaped
        # (surrogateescape, as the cells); None for other files and before the header is read
        self.header: tuple[str, ...] | None = None
        self.size = 0  # the file's size in bytes (0 for a folder): which way a JSON file is read
        if self.path.is_file():
            self.total = self.size = self.path.stat().st_size

    @property
    def under_key(self) -> bool:
        """Whether the rows read are the list of one JSON object ({"data": [...]}, list_key), not the file's own."""
        return self.list_key is not None

    def head(self, limit: int) -> list[tuple[int, Any]]:
        """The first `limit` rows as rows() yields them, reading no further: a JSON array through
        json_array_head, an object of _STREAM_BYTES and up whose list holds the rows through json_object_head
        (which sets list_key, and where the list ends within them its row count as rows() leaves it) (rows()
        reads the whole file, once or twice: seconds, and gigabytes read whole, for a 2 GB file), else rows().
        Call it instead of rows(); it raises what rows() raises."""
        if self.format == "json":
            if (rows := json_array_head(self.path, limit)) is not None:
                return rows
            if self.size >= _STREAM_BYTES and (found := json_object_head(self.path, limit)) is not None:
                rows, counted, self.list_key = found
                if counted is not None:  # the whole list read: its row count, as rows() leaves it
                    self.unit, self.total, self.done = "rows", counted, counted
                return rows
        return list(islice(self.rows(), limit))

    def first(self, limit: int) -> Iterator[tuple[int, Any]]:
        """rows() up to `limit` rows: a JSON file rows() would stream (_STREAM_BYTES and up) through head, so its
        first pass does not read the whole file for them (done, total and unit are then as head leaves them); else,
        or where head finds no rows to read so, rows() (its first pass reports to `progress`). Smaller files are
        read whole as rows() reads them, which refuses a break past the rows."""
        if self.format == "json" and self.size >= _STREAM_BYTES:
            return iter(self.head(limit))
        return islice(self.rows(), limit)

    def rows(self) -> Iterator[tuple[int, Any]]:
        reader = {
            "jsonl": self._jsonl, "json": self._json, "csv": self._csv, "tsv": self._csv,
            "parquet": self._parquet, "txt": self._txt, "txt-folder": self._txt_folder,
            "arrow-folder": self._arrow_folder,
        }[self.format]
        try:
            yield from reader()
        except Stopped as stop:  # the progress callback's own exception, as it raised it
            raise stop.error from None
        except OSError as exc:
            raise BadInput(f"--data {self.path}: cannot read ({exc.strerror or exc})") from None
        self.done = self.total

    # -- line formats -------------------------------------------------------------------------------------
    def _jsonl(self) -> Iterator[tuple[int, Any]]:
        with open(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                self.done += len(raw)
                if lineno == 1:
                    raw = raw.removeprefix(BOM)  # else a BOM before a blank first line is a broken row
                if not raw.strip():
                    continue
                yield lineno, parse_json_line(raw)

    def _json(self) -> Iterator[tuple[int, Any]]:
        if self.size >= _STREAM_BYTES:
            with open(self.path, "rb") as fh:
                checked = checked_array(fh, self.progress)
                if checked is None:
                    fh.seek(0)
                    found = checked_object(fh, _row_like, self.progress)
                    # one object and nothing after it, holding the rows: the whole read below gives its list's
                    # items (its first line, whole or not, is no JSONL row)
                    if found is not None and _surveyed_holds_rows(found[0]):
                        checked = found[1]
                if checked is not None:
                    yield from self._json_streamed(fh, checked)
                    return
        first_line, more = _first_object_line(self.path)
        if first_line is not None:
            try:
                first = loads_json(first_line)
            except ValueError:
                first = None  # a pretty-printed object: read it whole below
            # a whole object on the first line and more after it is JSONL (one JSON value has no second line);
            # alone, it is a row unless it holds the rows ({"version": 1, "data": [...]} written on one line)
            if isinstance(first, dict) and (more or not _object_holds_rows(first)):
                self.format = "jsonl"
                yield from self._jsonl()
                return
        try:
            with open(self.path, encoding="utf-8-sig") as fh:  # a BOM (Windows editors write one) is no JSON
                data = loads_json(fh.read())
        except UnicodeDecodeError:
            raise BadInput(f"--data {self.path}: not valid UTF-8") from None
        except json.JSONDecodeError as exc:
            raise BadInput(f"--data {self.path}: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
                           ) from None
        except ValueError as exc:
            raise BadInput(f"--data {self.path}: invalid JSON ({exc})") from None
        if isinstance(data, dict) and _schema_of(data) is not None and not _object_holds_rows(data):
            data = [data]  # one row, pretty-printed: {"messages": [...]} holds a chat, not rows
        if isinstance(data, dict):
            lists = [(k, v) for k, v in data.items() if isinstance(v, list)]
            if len(lists) != 1:
                raise BadInput(f"--data {self.path}: expected a JSON array of rows (or an object holding one)")
            ((self.list_key, data),) = lists
        if not isinstance(data, list):
            raise BadInput(f"--data {self.path}: expected a JSON array of rows, got {type(data).__name__}")
        self.unit, self.total, self.done = "rows", len(data), 0
        for i, row in enumerate(data, 1):
            self.done = i
            yield i, row if isinstance(row, dict) else Bad(f"expected a JSON object, got {_kind(row)}")

    def _json_streamed(self, fh: io.BufferedReader, checked: CheckedRows) -> Iterator[tuple[int, Any]]:
        """The rows in `fh` that checked_array (or checked_object) counted, as the whole-file reader yields them,
        read again by ijson. A file that changed since (another size or modification time, another item count, a
        break) is refused: rows of its old text may have been handed out."""
        import ijson

        self.unit, self.total, self.done = "rows", checked.items, 0
        if checked.prefix != "item":  # checked_object's: the key, then ".item"
            self.list_key = checked.prefix.removesuffix(".item")
        fh.seek(checked.start)
        # the nesting was checked: no depth guard
        items = enumerate(ijson.items(fh, checked.prefix, use_float=True, buf_size=STREAM_BUF), 1)
        end = (0, None)
        n = 0
        while True:
            try:
                n, row = next(items, end)
            except (ValueError, ijson.JSONError):
                n = -1
            if n in (0, -1) or n > checked.items:
                break
            self.done = n
            yield n, row if isinstance(row, dict) else Bad(f"expected a JSON object, got {_kind(row)}")
        if n != 0 or self.done != checked.items or stamp(fh) != checked.stamp:
            raise BadInput(f"--data {self.path}: the file changed while lorplan read it; run again")

    def _csv(self) -> Iterator[tuple[int, Any]]:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        delimiter = "\t" if self.format == "tsv" else ","
        with open(self.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter=delimiter)
            try:
                header = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise BadInput(f"--data {self.path}: unreadable CSV header ({exc})") from None
            self.header = tuple(header)
            header = [h.strip() for h in header]
            start = reader.line_num + 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield start, Bad(f"malformed CSV ({exc})")
                    start = reader.line_num + 1
                    continue
                line, start = start, reader.line_num + 1
                self.done = raw.tell()
                if not fields or fields == [""]:
                    continue
                if len(fields) != len(header):
                    yield line, Bad(f"row has {counted(len(fields), 'field')}, the header has {len(header)}")
                    continue
                if any(has_lone_surrogates(f) for f in fields):  # undecodable bytes, escaped above
                    yield line, Bad("not valid UTF-8")
                    continue
                yield line, dict(zip(header, fields, strict=True))

    def _txt(self) -> Iterator[tuple[int, Any]]:
        # A single .txt file: one example per non-blank line.
        with open(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                self.done += len(raw)
                if lineno == 1:
                    raw = raw.removeprefix(BOM)
                if not raw.strip():
                    continue
                try:
                    yield lineno, {"text": raw.decode("utf-8").rstrip("\r\n")}
                except UnicodeDecodeError:
                    yield lineno, Bad("not valid UTF-8")

    def _txt_folder(self) -> Iterator[tuple[int, Any]]:
        files = sorted(p for p in self.path.rglob("*.txt") if p.is_file())
        self.unit, self.total = "rows", len(files)
        self.note = f"{len(files)} .txt files, one example each; the row number is the file's place in name order"
        for i, file in enumerate(files, 1):
            self.done = i
            rel = file.relative_to(self.path)
            try:
                data = file.read_bytes().removeprefix(BOM)
            except OSError as exc:
                yield i, Bad(f"{rel}: cannot read ({exc.strerror})")
                continue
            if (packed := compressed_kind(data)) is not None:
                yield i, Bad(f"{rel}: {packed}")
                continue
            if (wide := wide_encoding(data[:_SNIFF_BYTES])) is not None:
                yield i, Bad(f"{rel}: {wide} text, not UTF-8")
                continue
            if b"\x00" in data[:_SNIFF_BYTES]:
                yield i, Bad(f"{rel}: binary file")
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                yield i, Bad(f"{rel}: not valid UTF-8")
                continue
            if not text.strip():
                yield i, Bad(f"{rel}: empty text")
                continue
            yield i, {"text": text}

    # -- columnar formats ---------------------------------------------------------------------------------
    def _parquet(self) -> Iterator[tuple[int, Any]]:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise BadInput(f"--data {self.path}: unreadable Parquet ({exc})") from None
        self.unit, self.total = "rows", pf.metadata.num_rows
        row = 0
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
            for item in batch.to_pylist():
                row += 1
                yield row, item
            self.done = row

    def _arrow_folder(self) -> Iterator[tuple[int, Any]]:
        import pyarrow as pa

        folder = self.path
        if (folder / "dataset_dict.json").is_file():
            try:
                splits = loads_json((folder / "dataset_dict.json").read_bytes())["splits"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise BadInput(f"--data {folder}: dataset_dict.json is not a DatasetDict's "
                               f"({exc.__class__.__name__}: {exc})") from None
            if not isinstance(splits, list) or not all(isinstance(x, str) for x in splits):
                raise BadInput(f"--data {folder}: dataset_dict.json: splits is not a list of split names")
            if not splits:
                raise BadInput(f"--data {folder}: dataset_dict.json lists no splits")
            split = "train" if "train" in splits else splits[0]
            self.note = f"DatasetDict with splits {', '.join(splits)}: profiled split {split!r}"
            folder = folder / split
        try:
            state = loads_json((folder / "state.json").read_bytes())
            files = [folder / f["filename"] for f in state["_data_files"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"--data {folder}: not a dataset saved with save_to_disk ({exc})") from None
        self.unit, self.total = "bytes", sum(f.stat().st_size for f in files if f.exists())
        row, done_before = 0, 0
        for file in files:
            try:
                source = pa.memory_map(str(file))
                reader = pa.ipc.open_stream(source)
            except Exception as exc:
                raise BadInput(f"--data {file}: unreadable Arrow file ({exc})") from None
            for batch in reader:
                for item in batch.to_pylist():
                    row += 1
                    yield row, item
                self.done = done_before + source.tell()
            done_before += file.stat().st_size


def parse_json_line(raw: bytes) -> Any:
    """One JSONL line -> a dict, or a Bad saying why it is not one. A syntax error names the column on the line
    as Python's json module reports it for the line alone (parsed with its line break, an error at the end
    of the line would be "line 2, column 1")."""
    try:
        row = loads_json(raw.rstrip(b"\r\n"))
    except UnicodeDecodeError:
        return Bad("not valid UTF-8")
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        col = getattr(exc, "colno", None)
        return Bad(f"invalid JSON ({msg}" + (f" at column {col})" if col else ")"))
    if not isinstance(row, dict):
        return Bad(f"expected a JSON object, got {_kind(row)}")
    return row


def json_array_head(path: Path, limit: int) -> list[tuple[int, Any]] | None:
    """The first `limit` items of the JSON array in the file at `path` as rows() yields them ((item number, the
    object or a Bad)), the rest of the file neither read nor checked; None where lorplan's reader must read the
    file (lorplan.core.data.json_array.array_head says when)."""
    if (items := array_head(path, limit)) is None:
        return None
    return [(n, row if isinstance(row, dict) else Bad(f"expected a JSON object, got {_kind(row)}"))
            for n, row in enumerate(items, 1)]


def json_object_head(path: Path, limit: int) -> tuple[list[tuple[int, Any]], int | None, str] | None:
    """The first `limit` rows of a JSON object file whose one list holds them ({"data": [...]}) as rows() yields
    them, read by ijson no further than them (json_array.object_head), the rest of the file taken to be what
    they show: the rule of _holds_rows applied to the keys before the list's end and the items read; and the
    list's length where it ends with them (the whole object read), else None; and the object's key whose list holds
    them (RowSource.list_key). The first line's end is looked for (bytes, not parsed): a first line that is a whole
    object with more lines after it is JSONL to rows(). None where rows() must read the file: no such object, ijson reads it otherwise than json, or a first line of over
    json_array.STREAM_BUF bytes with more after it (whether it is one object is not known)."""
    survey = object_head(path, limit, _row_like)
    if survey is None or survey.rows is None or not _surveyed_holds_rows(survey) or not _not_jsonl(path):
        return None
    rows = list(enumerate(survey.rows, 1))  # every row an object, by _holds_rows
    assert survey.list_key is not None  # by _surveyed_holds_rows
    return rows, (survey.items if survey.complete else None), survey.list_key


def _not_jsonl(path: Path) -> bool:
    """Whether _json does not take the file for JSONL by its first non-blank line (a whole object with another
    non-blank line after it), that line's end found by its line break alone; False where it cannot tell without
    reading a first line longer than STREAM_BUF whole."""
    line, ended, more = bytearray(), False, False
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        fh.seek(len(head) - len(head.removeprefix(BOM).lstrip()))
        for chunk in iter(lambda: fh.read(STREAM_BUF), b""):
            if not ended:
                end = chunk.find(b"\n")
                if len(line) <= STREAM_BUF:
                    line += chunk if end < 0 else chunk[:end]
                if end < 0:
                    continue
                ended, chunk = True, chunk[end + 1:]
            if chunk.strip():
                more = True
                break
    if not more:
        return True
    if len(line) > STREAM_BUF:
        return False
    try:
        return not isinstance(loads_json(bytes(line)), dict)
    except ValueError:
        return True


def _first_object_line(path: Path) -> tuple[bytes | None, bool]:
    """The first non-blank line of a .json file when it starts with "{" (else None), without a BOM, and whether
    a non-blank line follows it. A line that starts otherwise ("[" of an array on one line, however long) is
    not read past its first _SNIFF_BYTES: the whole file is read once more as JSON."""
    with open(path, "rb") as fh:
        chunks = iter(lambda: fh.readline(_SNIFF_BYTES), b"")  # a long line comes in pieces
        line = next(chunks, b"").removeprefix(BOM)
        while line and not line.strip():  # blank lines (or a long run of spaces) before the first value
            line = next(chunks, b"")
        if not line.lstrip().startswith(b"{"):
            return None, False
        if not line.endswith(b"\n"):
            line += fh.readline()  # the rest of a long first row
        more = any(chunk.strip() for chunk in chunks)  # stops at the first piece of a second non-blank line
    return line, more


def _holds_rows(keys: Iterable[str], lists: int, items: int, all_dicts: bool,
                all_row_like: Callable[[], bool]) -> bool:
    """Whether a JSON object holds the rows rather than being one, from its `keys`, the number of its values
    that are lists, and of the one list the number of `items`, whether each is an object (all_dicts) and
    whether each is a row to _row_like (asked only where it decides: reading a parsed list for it costs a test
    per item). It holds them with one value that is a list of objects ({"data": [{...}, ...]}, beside other
    keys such as "version"), and no schema's column ({"messages": [...]} is a chat row) unless that list's
    objects are rows themselves ({"conversations": [{"messages": [...]}, ...]}, rows under a key that a schema
    names), not chat messages. The whole read asks it of a parsed object (_object_holds_rows), the streamed
    reads of what ijson's events showed (_surveyed_holds_rows): one rule for both."""
    if lists != 1 or not items or not all_dicts:
        return False
    return _schema_of(keys) is None or all_row_like()


def _object_holds_rows(obj: dict) -> bool:
    """_holds_rows of an object json parsed."""
    lists = [v for v in obj.values() if isinstance(v, list)]
    rows = lists[0] if len(lists) == 1 else []
    return _holds_rows(obj, len(lists), len(rows), all(isinstance(v, dict) for v in rows),
                       lambda: all(_row_like(v) for v in rows))


def _surveyed_holds_rows(survey: ObjectSurvey) -> bool:
    """_holds_rows of an object read by ijson (json_array.survey_object, which gives None for one with a second
    list), from its keys and what each item of its list read was."""
    return _holds_rows(survey.keys, int(survey.list_key is not None), survey.items, survey.all_dicts,
                       lambda: survey.all_row_like)


def _row_like(item: dict | set[str]) -> bool:
    """An item of the list a schema's key names is a row, not a chat message (_holds_rows); `item` or its keys."""
    return _schema_of(item) is not None and "role" not in item and "from" not in item


def _schema_of(obj: dict | list[str] | set[str]) -> str | None:
    from lorplan.core.data.schema import schema_of_columns  # schema imports this module

    return schema_of_columns(obj)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def wide_encoding(head: bytes) -> str | None:
    """"UTF-16" or "UTF-32" when the first bytes of a file are text in that encoding (what Windows PowerShell's
    `>` and Notepad's "Unicode" write), by its byte order mark; without one, "UTF-16LE" or "UTF-16BE" when NUL
    bytes fill one side of the byte pairs (the ASCII that JSON, CSV and most text are made of), else None. Read
    as UTF-8 it would be NUL bytes or garbage. Either way the bytes must also decode in that encoding to text
    (_reads_as_text): a short binary file ("\\x00\\x01\\x02binary") can show the NUL pattern by chance."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32" if _reads_as_text(head, "utf-32", 4) else None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16" if _reads_as_text(head, "utf-16", 2) else None
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    # ASCII puts a NUL on one side of each pair; a few characters (U+4E00 一, emoji) put one on the other
    if max(even, odd) * 4 >= pairs and min(even, odd) * 10 <= max(even, odd):
        name = "UTF-16LE" if odd > even else "UTF-16BE"  # named so, iconv reads it without a byte order mark
        return name if _reads_as_text(head, name.lower(), 2) else None
    return None


def _reads_as_text(head: bytes, codec: str, unit: int) -> bool:
    """Whether `head`, a file's first bytes, decodes with `codec` (code units of `unit` bytes) to text: no byte
    sequence the codec refuses (a lone surrogate) but a character the sample's end cut in two, and at most one
    character in a hundred a control character other than a line break, tab, vertical tab (Word's line break) or
    escape (terminal colours, which PowerShell's `>` keeps), or one of private use. Binary data read as UTF-16 is
    mostly such characters ("\\x00\\x01" is U+0001); text has next to none."""
    cut = len(head) - len(head) % unit
    try:
        text = head[:cut].decode(codec)
    except UnicodeDecodeError as exc:
        # a surrogate pair split by the end of the sample ("unexpected end of data" from its high half)
        if exc.end != cut or exc.start < cut - 2 * unit:
            return False
        try:
            text = head[: exc.start].decode(codec)
        except UnicodeDecodeError:
            return False
    odd = sum(1 for c in text if c not in "\t\n\v\f\r\x1b" and unicodedata.category(c) in ("Cc", "Co"))
    return odd * 100 <= len(text)


def has_lone_surrogates(text: str) -> bool:
    """True when `text` cannot be encoded as UTF-8: undecodable bytes read with surrogateescape, or a JSON
    "\\ud800" escape. No tokenizer accepts such a string."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
