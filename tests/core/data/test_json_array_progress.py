"""The first pass over a large JSON array (lorplan.core.data.json_array.checked_array, made before rows() hands out
its first row) reports its bytes to the progress callback profile_dataset takes, and a raise from that callback
stops it there as a cancel; peek_examples reads only the first rows of such an array (RowSource.first)."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.data import json_array, peek_examples, profile_dataset, readers
from lorplan.core.errors import BadInput


@pytest.fixture
def streamed(monkeypatch):
    monkeypatch.setattr(readers, "_STREAM_BYTES", 0)


def _rows(n: int) -> list[dict]:
    return [{"prompt": f"question {i} " + "word " * 20, "completion": f"answer {i}", "label": i % 3}
            for i in range(n)]


@pytest.fixture
def big(tmp_path):
    """A prompt-completion array of about 3 pieces of what ijson reads at once (json_array.STREAM_BUF)."""
    path = tmp_path / "big.json"
    path.write_text(json.dumps(_rows(3 * json_array.STREAM_BUF // 150)), encoding="utf-8")
    assert path.stat().st_size > 2 * json_array.STREAM_BUF
    return path


class Cancel(Exception):
    pass


def test_the_first_pass_reports_bytes_then_the_rows_pass_rows(big, streamed, monkeypatch):
    """Bytes read out of the file's size while the array is checked and counted, each piece ijson reads (the
    throttle set to nothing), and the end of the file; then the rows as before. Before, nothing was reported
    until the first row, after the whole first pass."""
    monkeypatch.setattr(json_array, "REPORT_EVERY", 0)
    calls = []
    profile = profile_dataset(big, progress=lambda *call: calls.append(call))
    size = big.stat().st_size
    in_bytes = [c for c in calls if c[2] == json_array.CHECKING]
    assert calls[: len(in_bytes)] == in_bytes  # every bytes call comes before the rows
    assert len(in_bytes) >= 4  # ijson's first read (0 bytes), three pieces and the end
    assert all(total == size for _, total, _ in in_bytes)
    assert [d for d, _, _ in in_bytes] == sorted(d for d, _, _ in in_bytes) and in_bytes[-1][0] == size
    assert {u for _, _, u in calls[len(in_bytes):]} == {"rows"}
    assert calls[-1] == (profile.examples, profile.examples, "rows")


def test_the_throttle_keeps_the_first_and_last_report(big, streamed):
    """At the default throttle (a few calls a second) a first pass shorter than that still reports its start
    and its end, so a bar shows the pass and then fills."""
    calls = []
    profile_dataset(big, progress=lambda *call: calls.append(call))
    size = big.stat().st_size
    in_bytes = [c for c in calls if c[2] == json_array.CHECKING]
    assert in_bytes[0] == (0, size, json_array.CHECKING) and in_bytes[-1] == (size, size, json_array.CHECKING)


@pytest.mark.parametrize("error", [Cancel("stop"), BadInput("--data x: stop"), KeyboardInterrupt()])
def test_a_raise_during_the_first_pass_stops_it_and_comes_out_as_raised(big, streamed, monkeypatch, error):
    """The Data tab cancels by raising its own exception from the callback, the CLI by Ctrl-C (KeyboardInterrupt):
    the one raised object comes out of profile_dataset, the pass stops at the piece it was raised on and the
    second pass never starts. A ValueError (BadInput is one) is not taken for a break in the file, which would
    read it whole and go on; the callback raises once, so going on would finish the profile."""
    monkeypatch.setattr(json_array, "REPORT_EVERY", 0)
    calls = []

    def progress(done, total, unit):
        calls.append((done, total, unit))
        if len(calls) == 2:
            raise error

    with pytest.raises(type(error)) as raised:
        profile_dataset(big, progress=progress)
    assert raised.value is error
    assert len(calls) == 2 and calls[1][2] == json_array.CHECKING and 0 < calls[1][0] < big.stat().st_size


def test_ctrl_c_during_the_first_pass_says_interrupted(big, streamed, monkeypatch, capsys):
    """`lorplan profile` stopped during the first pass says what an interrupt says (exit 130, one line), where
    before the bar was not called until the rows came (the profile ran to its end)."""
    from lorplan.cli import profile as profile_cli

    def interrupt(self, done, total, unit):
        if unit == json_array.CHECKING and done > 0:
            raise KeyboardInterrupt

    monkeypatch.setattr(json_array, "REPORT_EVERY", 0)
    monkeypatch.setattr(profile_cli._Bar, "__call__", interrupt)
    assert main(["profile", "--data", str(big), "--json"]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == "lorplan profile: interrupted"


def test_peek_reads_the_head_of_a_large_array_and_not_its_broken_tail(tmp_path, streamed):
    """A large array broken well past the rows peek_examples reads: those rows, complete False, no refusal (it
    read the whole file in the first pass before, and the whole-file reader refused the break); the same file
    read whole is still refused."""
    path = tmp_path / "broken.json"
    text = json.dumps(_rows(5000))  # ~600 KB past the rows read: beyond what ijson reads past them
    path.write_text(text[:-200] + "!!", encoding="utf-8")
    peek = peek_examples(path, rows=300)
    assert (peek.examples, peek.skipped, peek.complete, peek.schema) == (300, 0, False, "prompt-completion")
    assert peek.labels == {0: 100, 1: 100, 2: 100}
    with pytest.raises(BadInput, match="invalid JSON"):
        peek_examples(path, rows=6000)  # past the break: read whole, refused as before


@pytest.mark.parametrize("case", ["fewer", "exact", "one more", "many more", "bad rows", "vertical tab", "broken"])
def test_peek_of_a_large_array_is_the_peek_of_the_whole_file(tmp_path, monkeypatch, case):
    """Read through its head (streamed size) or whole (under _STREAM_BYTES, as every file was read before): the
    same DataPeek, `complete` True only when every row was read, or the same refusal. A head that ijson reads
    otherwise than json (a vertical tab) and a break within the rows read go to the whole-file reader."""
    limit = 250
    rows = {"fewer": 100, "exact": limit, "one more": limit + 1}.get(case, 1000)
    items: list = _rows(rows)
    items[7]["label"] = None
    if case == "bad rows":
        items[3], items[5], items[9] = 42, {"other": 1}, [1]
    text = json.dumps(items)
    if case == "vertical tab":
        text = text.replace("}, {", "},\x0b {", 1)  # whitespace to ijson, refused by json
    if case == "broken":
        text = text.replace("}, {", "} {", 50)
    path = tmp_path / "rows.json"
    path.write_text(text, encoding="utf-8")

    def peek(stream_bytes: int):
        monkeypatch.setattr(readers, "_STREAM_BYTES", stream_bytes)
        try:
            return peek_examples(path, rows=limit)
        except BadInput as exc:
            return str(exc)

    whole = peek(2**40)
    assert peek(0) == whole
    if case in ("vertical tab", "broken"):
        assert isinstance(whole, str) and "invalid JSON" in whole
    else:
        assert whole.complete == (rows <= limit) and whole.rows_read == min(rows, limit)
        assert whole.unlabelled == 1 and whole.skipped == (3 if case == "bad rows" else 0)
