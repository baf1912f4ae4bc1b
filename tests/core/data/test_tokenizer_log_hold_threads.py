"""core.data.counting holds transformers' log records while a tokenizer loads (_logs_held): dropped when the load
fails, passed on when it loads. The planner profiles in thread workers, and a superseded profile's thread runs on
(Textual's exclusive workers only mark it cancelled), so two loads can overlap. The hold swapped the library
logger's handlers for its own and put back what it found: the second load found the first's holder, so once both
ended transformers' stderr handler was gone for the rest of the session and every later warning went into a list
nobody read. A record another thread logged during a hold was also taken (and dropped with a failed load). Real
transformers logging, threads ordered by events."""

from __future__ import annotations

import logging
import threading

import pytest

from lorplan.core.data.counting import _logs_held


@pytest.fixture
def library(monkeypatch):
    """transformers' library logger with one handler of ours, as its stderr handler stands; what reaches it."""
    from transformers.utils import logging as hf_logging

    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    root = hf_logging.get_logger()
    seen: list[str] = []
    sink = logging.Handler()
    sink.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    monkeypatch.setattr(root, "handlers", [sink])
    monkeypatch.setattr(root, "propagate", False)
    monkeypatch.setattr(root, "level", logging.WARNING)
    return root, sink, seen


def _log(text: str) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.get_logger("transformers.models.auto.tokenization_auto").warning(text)


def test_overlapping_holds_put_the_handlers_back(library):
    root, sink, seen = library
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with _logs_held():
            _log("first loads")
            a_in.set()
            assert b_in.wait(10)
        a_out.set()

    def second():
        assert a_in.wait(10)
        with pytest.raises(ValueError), _logs_held():
            b_in.set()
            assert a_out.wait(10)
            _log("second fails")
            raise ValueError("no tokenizer")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert root.handlers == [sink] and root.propagate is False  # was [the first hold's holder]
    _log("after both")
    assert seen == ["first loads", "after both"]  # the failed load's record dropped, the later one shown


def test_another_thread_s_record_is_not_held(library):
    root, sink, seen = library
    inside, logged = threading.Event(), threading.Event()

    def other():
        assert inside.wait(10)
        _log("another thread")
        logged.set()

    t = threading.Thread(target=other)
    t.start()
    with pytest.raises(ValueError), _logs_held():
        _log("held")
        inside.set()
        assert logged.wait(10)
        assert seen == ["another thread"]  # passed on at once, not held with the loading thread's
        raise ValueError("no tokenizer")
    t.join(10)
    assert seen == ["another thread"] and root.handlers == [sink]


def test_a_load_that_ends_well_passes_its_records_on(library):
    root, sink, seen = library
    with _logs_held():
        _log("a warning of the load")
        assert seen == []
    assert seen == ["a warning of the load"] and root.handlers == [sink]


def test_a_record_handed_to_the_holder_as_the_last_hold_ends_is_passed_on(library):
    # another thread's record reached the holder (the logger had handed it over) and the last hold ended before
    # the holder's emit ran: emit looked for the logger as it was in the state the ending hold had cleared, and
    # the other thread's logging call raised IndexError. The holder's filter, which logging runs before emit,
    # stops the other thread there until the hold has ended.
    root, sink, seen = library
    at_holder, go = threading.Event(), threading.Event()
    raised: list[BaseException] = []

    def other():
        try:
            _log("another thread")
        except BaseException as exc:  # what the other thread's logging call raised
            raised.append(exc)

    def stop(record):
        at_holder.set()
        return go.wait(10)

    with _logs_held():
        root.handlers[0].addFilter(stop)
        t = threading.Thread(target=other)
        t.start()
        assert at_holder.wait(10)
    assert root.handlers == [sink]  # the hold has ended; the record is still on its way through the holder
    go.set()
    t.join(10)
    assert not t.is_alive() and raised == [] and seen == ["another thread"]
