"""Whether a JSON object holds the rows ({"data": [...]}) or is one ({"messages": [...]}) is one rule
(readers._holds_rows), asked of a parsed object by the whole read and of ijson's survey by the streamed reads.
Over generated objects (keys that schemas name, a one-item list, two lists, an empty list, items that are no
objects or chat messages, nested objects and lists), the two askings agree, and so do the whole read and the
streamed one (the size threshold forced to 0) on the rows, their count, under_key and list_key."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from lorplan.core.data import json_array, readers
from lorplan.core.data.readers import RowSource
from lorplan.core.errors import BadInput

# keys a schema names (messages, conversations, input_ids, instruction+output, prompt+completion, text) and not
_KEYS = ["data", "rows", "version", "name", "meta", "messages", "conversations", "text", "input_ids",
         "instruction", "output", "prompt", "completion"]
_ITEMS = [  # what a list's item may be: rows of each schema, chat messages, other objects, no objects
    {"text": "a row"}, {"prompt": "p", "completion": "c"}, {"instruction": "i", "output": "o"},
    {"messages": [{"role": "user", "content": "hi"}]}, {"conversations": [{"from": "human", "value": "hi"}]},
    {"input_ids": [1, 2, 3]}, {"role": "user", "content": "hi"}, {"from": "gpt", "value": "yo"},
    {"text": "t", "role": "assistant"}, {"a": 1}, {}, {"data": [{"text": "inner"}]}, 1, "x", None, [1, 2], [],
]
_SCALARS = [1, "s", None, True, 2.5, {}, {"data": [{"text": "nested"}]}, {"items": {"x": [1, 2]}}]


def _generated_object(rng: random.Random) -> dict:
    """Up to five keys, zero to two of them lists of zero to four items (the same item often repeated, so that
    a list is all rows, all chat messages or all plain objects often enough), the others scalars or nested."""
    keys = rng.sample(_KEYS, rng.randrange(1, 6))
    lists = set(rng.sample(keys, min(len(keys), rng.choice([0, 1, 1, 1, 2]))))
    obj: dict = {}
    for key in keys:
        if key in lists:
            same = rng.choice(_ITEMS)
            obj[key] = [same if rng.random() < 0.7 else rng.choice(_ITEMS) for _ in range(rng.choice([0, 1, 1, 2, 4]))]
        else:
            obj[key] = rng.choice(_SCALARS)
    return obj


def _read(path, threshold: int, monkeypatch) -> tuple:
    """rows() of `path` (its rows by repr, or the refusal), unit, total, done, under_key and list_key, then
    head(100) (more rows than any generated list) by repr and its under_key and list_key."""
    monkeypatch.setattr(readers, "_STREAM_BYTES", threshold)
    source = RowSource(path)
    try:
        rows = repr(list(source.rows()))
    except BadInput as exc:
        rows = str(exc)
    head_source = RowSource(path)
    try:
        head = repr(head_source.head(100))
    except BadInput as exc:
        head = str(exc)
    return (rows, source.unit, source.total, source.done, source.under_key, source.list_key,
            head, head_source.under_key, head_source.list_key)


@pytest.mark.parametrize("seed", range(4))
def test_the_whole_and_the_streamed_reads_agree_on_which_objects_hold_rows(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    outcomes: Counter[tuple[bool, bool]] = Counter()  # (a schema names a key, holds rows): the cases covered
    for n in range(120):
        obj = _generated_object(rng)
        path = tmp_path / f"{n}.json"
        path.write_text(json.dumps(obj, indent=rng.choice([None, 1])) + rng.choice(["", "\n"]), encoding="utf-8")
        holds = readers._object_holds_rows(obj)
        with open(path, "rb") as fh:
            found = json_array.checked_object(fh, readers._row_like)
        # no survey: no list or a second one (the generator writes no key twice, no dotted key, no "" key)
        surveyed = found is not None and readers._surveyed_holds_rows(found[0])
        assert surveyed == holds, obj
        whole, streamed = _read(path, 1 << 62, monkeypatch), _read(path, 0, monkeypatch)
        assert streamed == whole, obj
        assert whole[6:] == (whole[0], whole[4], whole[5]), obj  # the head: rows() up to 100 rows
        outcomes[readers._schema_of(obj) is not None, holds] += 1
    # every way the rule can go was generated, several times over
    assert min(outcomes[case] for case in [(False, False), (False, True), (True, False), (True, True)]) >= 5, outcomes
