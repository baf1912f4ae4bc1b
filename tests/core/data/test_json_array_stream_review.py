"""rows() of a large JSON array, streamed by ijson in two passes (lorplan.core.data.json_array.checked_array, then
RowSource._json_streamed): a long run of the bytes an escape is made of is checked right (its speed:
benchmarks/json_array_stream.py), and the second pass's branches (a consumer that stops, more items than counted, a break) end as they say."""

from __future__ import annotations

import io
import json
import os

import pytest

from lorplan.core.data import json_array, readers
from lorplan.core.data.readers import RowSource
from lorplan.core.errors import BadInput


def test_a_long_run_of_escape_bytes_is_checked_right():
    """The surrogate check holds back the bytes at the end of a piece that an escape may go on from (a backslash,
    "u", hex digits). A string of 32 MB of hex digits (a hash or a hex dump in a data set) was all held back,
    copied once more with each 64 KB piece ijson reads: 7 s in the check alone, quadratic in the run (64 MB:
    about 30 s), beside ijson's own parse; now its bytes are copied once (benchmarks/json_array_stream.py times
    it). What is held back is still looked at as one run."""
    data = b'[{"text": "' + b"0123456789abcdef" * (2 * 2**20) + b'\\ud800"}, {"text": "\\ud800"}]'
    tape = json_array.Tape(io.BytesIO(data), 0)
    while tape.read(2**16):
        pass
    assert tape.json_differs()  # the lone surrogate after the run is still found
    for text, lone in ((b"\\\\" * 2**17 + b"\\ud83d\\ude00", False), (b"\\\\" * 2**17 + b"\\\\ud800", False),
                       (b"\\\\" * 2**17 + b"\\\\\\ud800", True)):
        tape = json_array.Tape(io.BytesIO(text), 0)
        while tape.read(2**16):
            pass
        assert tape.json_differs() == lone  # a backslash run's pairs count from its start, however long


@pytest.fixture
def streamed(monkeypatch):
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)


def _write(path, rows) -> None:
    path.write_text(json.dumps(rows), encoding="utf-8")


def test_a_consumer_that_stops_early_gets_no_refusal(tmp_path, streamed):
    """peek_examples and load_examples(limit) stop after some rows; the generator closed there (even on a file
    that changed since) ends quietly and closes the file."""
    path = tmp_path / "rows.json"
    rows = [{"text": f"row {i}"} for i in range(20)]
    _write(path, rows)
    source = RowSource(path)
    it = source.rows()
    assert [next(it) for _ in range(3)] == [(1, rows[0]), (2, rows[1]), (3, rows[2])]
    _write(path, rows[:5])
    os.utime(path, ns=(0, 10**18))
    it.close()  # no BadInput
    assert (source.unit, source.total, source.done) == ("rows", 20, 3)


def test_more_items_than_counted_are_refused_before_the_extra_row(tmp_path, streamed, monkeypatch):
    """A file that has more items than the count (rewritten at the same size and time) hands out no row past the
    count: the counted rows, then the refusal."""
    path = tmp_path / "rows.json"
    rows = [{"text": f"row {i}"} for i in range(5)]
    _write(path, rows)
    real = readers.checked_array
    monkeypatch.setattr(readers, "checked_array", lambda fh, progress=None: json_array.CheckedRows(
        (c := real(fh, progress)).start, c.items - 2, c.stamp))
    source = RowSource(path)
    got = []
    with pytest.raises(BadInput, match="the file changed while lorplan read it"):
        for item in source.rows():
            got.append(item)
    assert got == [(1, rows[0]), (2, rows[1]), (3, rows[2])] and source.done == 3


def test_a_break_in_the_second_pass_is_refused_as_a_change(tmp_path, streamed):
    """The count pass read the whole array; a break in the second pass means other bytes (a rewrite at the same
    size within the file system's time resolution): refused, never a traceback."""
    path = tmp_path / "rows.json"
    rows = [{"text": f"row {i}"} for i in range(json_array.STREAM_BUF // 5)]  # past what ijson reads at once
    _write(path, rows)
    before = os.stat(path)
    source = RowSource(path)
    it = source.rows()
    assert next(it) == (1, rows[0])
    text = json.dumps(rows)
    cut = text.rindex("{", 0, len(text) - 1000)
    with open(path, "r+", encoding="utf-8") as fh:
        fh.write(text[:cut] + "!" + text[cut + 1 :])  # the same size, a row near the end broken
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(BadInput, match="the file changed while lorplan read it"):
        list(it)
