"""A JSON array file, or a JSON object file whose one list holds the rows ({"data": [...]}), read by ijson's
streaming parser where json would read it the same: an array's first items (array_head) or an object's
(object_head) without the rest of the file, or all of it checked and counted (checked_array, checked_object)
and then streamed (lorplan.core.data.readers.RowSource), so a 2 GB file is not held in memory. Where ijson reads
otherwise than json (NaN, integers past 64 bits, lone surrogate escapes, a vertical tab, deep nesting, anything
after the value), these give None and the whole-file reader reads the file or says why not, in its own words.
ijson is imported by the functions that parse.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark: Notepad and Excel write it; it is no text
_BLANK_START = 8192  # what is read for the "[" that starts an array (a BOM and blank lines may come first)
# Nesting array_head reads; deeper (json refuses past about 1000 levels, ijson's prefixes grow with the
# square of the depth: 100000 levels took over 4 GB) goes to the full reader, which reads it or says why not
HEAD_DEPTH = 100
# ijson's read size for the heads and the two passes (array_head, object_head, checked_array, checked_object,
# RowSource's second pass): its default, 64 KB, makes a string longer than that slow to parse (one of 32 MB: 6.5 s
# for both passes, 0.7 s at 1 MB; the head of its file 3.4-3.6 s, 0.4-0.5 s at 1 MB; a 55 MB chat array of short
# strings: 0.35 s at either size)
STREAM_BUF = 2**20
# A "\\uXXXX" escape of a lone UTF-16 surrogate: json keeps it (to_example refuses such a row), ijson's C parser
# writes "?" for a lone high one and joins it with a next escape that is no low one, so a head holding one goes
# to the full reader. Searched once escaped backslashes ("\\\\ud83d" is text) and surrogate pairs are set aside
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# An escaped backslash or a surrogate pair's escape, either of which the surrogate check sets aside
_PAIRED = re.compile(rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
# The bytes of those, and of other escapes' starts: JSON text cut at another byte cuts none of them
_ESCAPE_BYTES = b"\\u0123456789abcdefABCDEF"
# Seconds between two calls of checked_array's (and checked_object's) progress callback (lorplan.core.data.profile
# reports as often)
REPORT_EVERY = 0.1

# (done, total, unit): RowSource's and profile_dataset's. unit: CHECKING for the first of the two passes over a
# streamed JSON file (bytes read out of its size, before any row), "bytes" for rows read from a file's bytes
# (JSONL, CSV, ...), "rows" for rows counted out of a known number (the second pass, Parquet, ...)
Progress = Callable[[int, int, str], None]
CHECKING = "bytes checked"
Events = Iterator[tuple[str, Any]]  # ijson's basic_parse events, (event, value), as the passes and heads read them
_T = TypeVar("_T")  # what a pass or a head makes of the events (_parsed's `read`)


class Stopped(BaseException):
    """What a progress callback raised while ijson read the file (a cancel, an interrupt), carried past the
    except clauses between it and RowSource.rows, which raises it again as it was: a ValueError there is ijson
    saying the file breaks (the whole-file reader is then asked), an OSError a read that failed."""

    def __init__(self, error: BaseException):
        super().__init__(error)
        self.error = error


def array_head(path: Path, limit: int) -> list[Any] | None:
    """The first `limit` items of the JSON array in the file at `path`, read by ijson's streaming parser, which stops
    there: the rest of the file is neither read nor checked. Numbers come as json reads them (an int, else a float).
    None where ijson would read otherwise than lorplan's reader, which then reads the file or says why not in its
    own words: no array (an object, a BOM-less blank start past 8 KB), a break before `limit` items or past the
    array's end, NaN or Infinity, an integer past 64 bits or a float past 1e308, an escape of a lone surrogate, a
    vertical tab or form feed (whitespace to ijson, not to json), nesting deeper than HEAD_DEPTH. The checks of the
    bytes look at all ijson read (up to STREAM_BUF past the rows), so such a byte just after them also sends the
    head to the full reader."""
    import ijson  # 20 ms, for the few callers that read an array's head

    # fewer rows than asked: the items ran out, ijson read the whole file and checked what follows the array
    return _head(path, b"[", lambda events: list(islice(ijson.items(ijson.parse(events), "item"), limit)))


@dataclass(frozen=True)
class CheckedRows:
    """A JSON file holding rows (an array, or an object whose one list holds them) that json reads as ijson does:
    where its value starts (past a BOM), the number of rows, the file's size and modification time when they were
    counted, and the ijson prefix of the rows ("item": the array's items; "data.item": those of the list under
    the object's key "data")."""

    start: int
    items: int
    stamp: tuple[int, int]
    prefix: str = "item"



def checked_array(fh: io.BufferedReader, progress: Progress | None = None) -> CheckedRows | None:
    """The JSON array in the open file `fh` read through by ijson, with array_head's checks over every byte;
    None where json reads the file otherwise than ijson (what array_head falls back on, anything past the
    array) or the file changed while it was read: the whole-file reader then reads it or says why not.
    progress(bytes read, file size, CHECKING), when given, is called at the first read and then at most every
    REPORT_EVERY seconds; what it raises stops the reading at once and comes out as Stopped."""
    counted = [0]  # depth_limited counts the array's items as ijson reads them

    def read_through(events: Events) -> int:
        deque(events, maxlen=0)
        return counted[0]

    if (found := _checked(fh, b"[", read_through, progress, counted)) is None:
        return None
    items, start, before = found
    return CheckedRows(start, items, before)


@dataclass
class ObjectSurvey:
    """What ijson's events of a JSON object file say about the rows it may hold under one key: its keys in order,
    the one whose value is a list (list_key, None without one), that list's items read (items; their values in
    `rows` where they were built), whether each of them is an object (all_dicts) and passes the reader's row
    test on its keys (all_row_like), and whether the whole object was read (complete) or its first items only."""

    keys: list[str] = field(default_factory=list)
    list_key: str | None = None
    items: int = 0
    all_dicts: bool = True
    all_row_like: bool = True
    complete: bool = False
    rows: list[Any] | None = None


def survey_object(events: Events, row_like: Callable[[set[str]], bool],
                  limit: int | None = None, build: bool = False) -> ObjectSurvey | None:
    """The ObjectSurvey of the JSON object whose basic_parse `events` these are, read to its end (ijson then
    checks that nothing follows it), or to the end of the list's `limit`-th item where another item follows it
    (complete: the list's items all read, `items` its length). row_like(an item's keys) is the
    reader's test of an item; build: the items' values are kept in `rows`. None where the value is no object, a
    key comes twice (json keeps its last value) or a second value is a list: no object holding rows."""
    import ijson

    if next(events, (None, None))[0] != "start_map":
        return None
    built: list[Any] = []  # the items' values, where build
    survey = ObjectSurvey(rows=built if build else None)
    seen: set[str] = set()
    depth, in_list = 1, False  # containers open; inside the list's own level
    item_keys: set[str] | None = None  # the keys of the item object being read
    builder = None
    for event, value in events:
        if depth == 1:  # the object's keys and the starts of its values
            if event == "end_map":
                depth = 0
                break
            if event == "map_key":
                if value in seen:
                    return None
                seen.add(value)
                survey.keys.append(value)
            elif event == "start_array":
                if survey.list_key is not None:
                    return None
                survey.list_key, in_list, depth = survey.keys[-1], True, 2
            elif event == "start_map":
                depth = 2
            continue
        if in_list and depth == 2:  # an item starts, or the list ends
            if event == "end_array":
                in_list, depth = False, 1
                continue
            if build:
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
            if event == "start_map":
                item_keys, depth = set(), 3
                continue
            survey.all_dicts = False
            if event == "start_array":
                depth = 3
                continue
        else:  # inside an item or another value
            if builder is not None:
                builder.event(event, value)
            if event == "map_key" and depth == 3 and item_keys is not None:
                item_keys.add(value)
            if event in ("start_map", "start_array"):
                depth += 1
                continue
            if event in ("end_map", "end_array"):
                depth -= 1
            if depth != 2 or not in_list:
                continue
        # an item ended
        survey.items += 1
        if item_keys is not None and not row_like(item_keys):
            survey.all_row_like = False
        if builder is not None:
            built.append(builder.value)
        item_keys, builder = None, None
        if limit is not None and survey.items >= limit:
            # the list may end with this item: then its row count is known (RowSource.head's total), and the
            # object is read to its end as where the list ends before the limit
            if next(events, (None, None))[0] != "end_array":
                return survey
            in_list, depth = False, 1
    if depth != 0:
        return None
    deque(events, maxlen=0)  # ijson reads on to the end: a second value or junk after the object is an error
    survey.complete = True
    return survey


def object_head(path: Path, limit: int, row_like: Callable[[set[str]], bool]) -> ObjectSurvey | None:
    """The object in the file at `path` read by ijson to the end of its list's `limit`-th item (ObjectSurvey,
    the items built in `rows`), the rest of the file neither read nor checked; None where survey_object gives
    None or ijson would read the bytes read otherwise than json (what array_head checks)."""
    return _head(path, b"{", lambda events: survey_object(events, row_like, limit, build=True))


def checked_object(fh: io.BufferedReader, row_like: Callable[[set[str]], bool], progress: Progress | None = None
                   ) -> tuple[ObjectSurvey, CheckedRows] | None:
    """The JSON object in the open file `fh` read through by ijson as checked_array reads an array (the same
    checks, progress and Stopped), its ObjectSurvey, and where it starts, its list's item count and ijson prefix
    for RowSource's second pass. None where checked_array would give None, survey_object gives None or finds
    no list, or that prefix would also match another key's values ("a.item" beside a key "a.item")."""
    if (found := _checked(fh, b"{", lambda events: survey_object(events, row_like), progress)) is None:
        return None
    survey, start, before = found
    key = survey.list_key  # None: no list
    prefix = f"{key}.item"
    if not key or any(k != key and (prefix == k or prefix.startswith(k + ".")) for k in survey.keys):
        return None
    return survey, CheckedRows(start, survey.items, before, prefix)


def _head(path: Path, opener: bytes, read: Callable[[Events], _T | None]) -> _T | None:
    """What _parsed gives of the file at `path` (array_head's, object_head's): read's value alone, the file read
    no further than `read` reads; None also where the file cannot be opened or read."""
    try:
        with open(path, "rb") as fh:
            found = _parsed(fh, opener, read)
    except OSError:
        return None
    return None if found is None else found[0]


def _checked(fh: io.BufferedReader, opener: bytes, read: Callable[[Events], _T | None], progress: Progress | None,
             counted: list[int] | None = None) -> tuple[_T, int, tuple[int, int]] | None:
    """What _parsed gives of the open file `fh` (checked_array's, checked_object's), and the file's size and
    modification time before it was read; None also where they changed while it was read."""
    before = stamp(fh)
    if (found := _parsed(fh, opener, read, progress, counted)) is None or stamp(fh) != before:
        return None
    return found[0], found[1], before


def _parsed(fh: io.BufferedReader, opener: bytes, read: Callable[[Events], _T | None], progress: Progress | None = None,
            counted: list[int] | None = None) -> tuple[_T, int] | None:
    """read(the events of the JSON value that starts `fh` with `opener`: "[" an array, whose items are the rows;
    "{" an object, whose list holds them) and where that value starts. The events are ijson's, STREAM_BUF read at
    a time through a Tape (which reports to `progress`) and depth_limited (`counted` as there). None where the
    file starts otherwise (array_tape), ijson finds a break, a number past its range or nesting too deep, read
    gives None, or the bytes ijson read hold what json reads otherwise (Tape.json_differs): the whole-file reader
    then reads the file or says why not. An OSError, and Stopped, come out as raised."""
    import ijson

    try:
        if (tape := array_tape(fh, progress, opener)) is None:
            return None
        events = ijson.basic_parse(tape, use_float=True, buf_size=STREAM_BUF)
        value = read(depth_limited(events, counted, outer=1 if opener == b"[" else 2))
    except (ValueError, ijson.JSONError):  # a break, an overflow, NaN, too deep: the full reader's words
        return None
    if value is None or tape.json_differs():
        return None
    return value, tape.start


def stamp(fh: io.BufferedReader) -> tuple[int, int]:
    st = os.fstat(fh.fileno())
    return st.st_size, st.st_mtime_ns


def array_tape(fh: io.BufferedReader, progress: Progress | None = None, opener: bytes = b"[") -> Tape | None:
    """`fh` at the "[" (or `opener`) that starts the file (past a BOM and whitespace in its first _BLANK_START),
    read through a Tape (which reports to `progress`); None where the file starts otherwise."""
    head = fh.read(_BLANK_START)
    body = head.removeprefix(BOM)
    if not body.lstrip(b" \t\r\n").startswith(opener):
        return None
    fh.seek(len(head) - len(body))
    return Tape(fh, len(head) - len(body), progress)


def depth_limited(events: Events, counted: list[int] | None = None, outer: int = 1) -> Events:
    """ijson's basic_parse events, ValueError past HEAD_DEPTH levels inside the rows, which `outer` levels hold
    (the array; an object and its list) (ijson.parse's paths grow with the square of the depth; json refuses past
    about 1000). counted[0], when given, counts the array's items read so far."""
    depth = 0
    for event, value in events:
        if event in ("start_map", "start_array"):
            if depth == 1 and counted is not None:
                counted[0] += 1
            depth += 1
            if depth > HEAD_DEPTH + outer:  # the array itself is the first level
                raise ValueError("nested too deeply")
        elif event in ("end_map", "end_array"):
            depth -= 1
        elif depth == 1 and counted is not None:
            counted[0] += 1
        yield event, value


def lone_surrogate_escape(data: bytes) -> bool:
    """Whether JSON text holds an escape of a UTF-16 surrogate that is not a high one followed at once by a low one
    ("\\ud83d\\ude00" is one character). A backslash pair is text, not the start of an escape."""
    if _SURROGATE_ESCAPE.search(data) is None:  # most files
        return False
    # read left to right, a backslash run pairs up from its start: what is left of a surrogate escape is lone
    return _SURROGATE_ESCAPE.search(_PAIRED.sub(b"", data)) is not None


class Tape:
    """A binary file that looks at each piece read from it (by ijson) for what json reads otherwise than ijson: a
    vertical tab or form feed (whitespace to ijson, an error to json) and a lone surrogate escape, as
    lone_surrogate_escape finds one in all the bytes read, holding back no more than a run of _ESCAPE_BYTES at
    the end of them. `start` is where reading began. progress, when given, hears of the bytes read as
    checked_array says; what it raises is raised as Stopped (ijson passes it on as it is)."""

    def __init__(self, fh: io.BufferedReader, start: int, progress: Progress | None = None):
        self.fh, self.start = fh, start
        self.differs = False
        self._progress = progress
        self._size = os.fstat(fh.fileno()).st_size if progress is not None else 0
        self._reported = float("-inf")  # time.monotonic() of the last report: the first read reports
        # the end of the bytes read, from where an escaped backslash or surrogate pair may go on: a bytearray, as
        # a run of _ESCAPE_BYTES (a hex string of megabytes) grows by a piece at a time, which bytes would copy whole
        self._held = bytearray()

    def read(self, size: int = -1) -> bytes:
        chunk = self.fh.read(size)
        self._look(chunk, last=not chunk)
        # every REPORT_EVERY seconds from the first read (ijson's, of 0 bytes, sees whether the file is binary) and
        # at the end of the file, so a bar fills
        if self._progress is not None and ((now := time.monotonic()) - self._reported >= REPORT_EVERY
                                           or (not chunk and size != 0)):
            self._reported = now
            try:
                self._progress(self.fh.tell(), self._size, CHECKING)
            except BaseException as exc:  # a cancel or an interrupt: not a break in the file
                raise Stopped(exc) from None
        return chunk

    def json_differs(self) -> bool:
        """Whether the bytes read so far hold what json reads otherwise than ijson (their end taken as the end of
        the text)."""
        self._look(b"", last=True)
        return self.differs

    def _look(self, chunk: bytes, last: bool) -> None:
        if self.differs:
            return
        if b"\x0b" in chunk or b"\x0c" in chunk:
            self.differs = True
            return
        cut = len(chunk) if last else len(chunk.rstrip(_ESCAPE_BYTES))
        if cut == 0 and not last:  # no byte to cut at: wait for the next piece
            self._held += chunk
            return
        self._held += chunk[:cut]
        piece, self._held = bytes(self._held), bytearray(chunk[cut:])
        self.differs = lone_surrogate_escape(piece)
