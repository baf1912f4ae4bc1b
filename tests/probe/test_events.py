from __future__ import annotations

import json

import pytest

from lorplan.probe.events import CorruptEventWarning, EventTail, append_event, read_events


def test_append_and_read_in_order(tmp_path):
    log = tmp_path / "events.jsonl"
    for i in range(5):
        append_event(log, {"type": "step", "step": i})
    events = read_events(log)
    assert [e["step"] for e in events] == [0, 1, 2, 3, 4]
    assert all("t" in e for e in events)


def test_corrupt_last_line_is_ignored_with_a_warning(tmp_path):
    log = tmp_path / "events.jsonl"
    append_event(log, {"type": "step", "step": 1, "loss": 0.5})
    with open(log, "a") as fh:
        fh.write('{"type": "step", "step": 2, "lo')  # a crash mid-write
    with pytest.warns(CorruptEventWarning, match="corrupt event line"):
        events = read_events(log)
    assert events == [json.loads(log.read_text().splitlines()[0])]


def test_tail_holds_a_partial_line_until_it_is_complete(tmp_path):
    log = tmp_path / "events.jsonl"
    tail = EventTail(log)
    assert tail.poll() == []
    append_event(log, {"type": "step", "step": 1})
    with open(log, "a") as fh:
        fh.write('{"type": "step", ')
    assert [e["step"] for e in tail.poll()] == [1]
    with open(log, "a") as fh:
        fh.write('"step": 2}\n')
    assert [e["step"] for e in tail.poll()] == [2]
    assert tail.problems == []


def test_tail_restarts_when_the_log_is_replaced(tmp_path):
    log = tmp_path / "events.jsonl"
    tail = EventTail(log)
    append_event(log, {"type": "step", "step": 7})
    assert len(tail.poll()) == 1
    log.rename(tmp_path / "old.jsonl")
    append_event(log, {"type": "step", "step": 1})
    events = tail.poll()
    assert tail.reset and [e["step"] for e in events] == [1]
