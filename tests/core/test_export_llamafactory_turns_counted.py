"""The LLaMA-Factory export's "turns do not alternate" line counts the rows lorplan trains that LLaMA-Factory's sharegpt
converter skips for their turn order alone (data/converter.py, SharegptDatasetConverter: after a leading system_tag
message, user_tag or observation_tag turns at odd places, assistant_tag or function_tag at even ones, an even count),
and names their lines. A new user's file of OpenAI rows with one ShareGPT row (human/gpt) got "(here: 1 of the data
file's first 5 chat rows)" though every row alternates: the ShareGPT row was counted because its role values are not
the entry's tags. That row is one the entry does not read at all (another column and keys: the "mostly use" line
says so), and a row whose role values no tag names is skipped for its roles (the "role values" line, or the
developer line): neither is a row whose turns do not alternate."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.data import iter_examples
from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
TURNS = "chat rows whose turns do not alternate"


def _msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


SYSTEM_FIRST = {"messages": [_msg("system", "Be brief."), _msg("user", "2+2?"), _msg("assistant", "4.")]}
PLAIN = {"messages": [_msg("user", "Name a colour."), _msg("assistant", "Blue.")]}
USER_LAST = {"messages": [_msg("user", "only user")]}  # no assistant turn: lorplan trains nothing of it
SHAREGPT = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
TWO_USERS = {"messages": [_msg("user", "a"), _msg("user", "b"), _msg("assistant", "c")]}
SYSTEM_LATER = {"messages": [_msg("user", "a"), _msg("assistant", "b"), _msg("system", "c"), _msg("user", "d"),
                             _msg("assistant", "e")]}
DEVELOPER = {"messages": [_msg("developer", "Be brief."), _msg("user", "a"), _msg("assistant", "b")]}
CAPITAL = {"messages": [_msg("User", "a"), _msg("assistant", "b")]}  # lorplan reads it as user; the tag is "user"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _rows(*rows: dict) -> list[str]:
    return [json.dumps(row) for row in rows]


def _export(path: Path):
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")  # a chat plan
    plan = replace(plan, data=replace(plan.data, path=str(path), schema="messages"))
    result = export_plan(plan, "llamafactory")
    return json.loads(result.data_files["dataset_info.json"])["lorplan_train"], list(result.warnings)


def _turns(warnings: list[str]) -> list[str]:
    return [w for w in warnings if w.startswith(TURNS)]


def test_the_walk_s_file_has_no_turns_line_and_says_its_sharegpt_row_in_the_singular(tmp_path):
    """The new-user walk's file: OpenAI rows, a broken line (5), a user-last row lorplan skips (6) and a ShareGPT
    row (7). Every row lorplan trains alternates; line 7 was counted as not alternating."""
    lines = _rows(SYSTEM_FIRST, PLAIN, PLAIN, PLAIN) + ['{"messages":[{"role":"user","content":"broken"'] + \
        _rows(USER_LAST, SHAREGPT)
    path = _write(tmp_path / "chat.jsonl", lines)
    assert len(list(iter_examples(path, schema="messages"))) == 5  # lines 1-4 and 7
    entry, warnings = _export(path)
    assert entry["columns"] == {"messages": "messages"}
    assert _turns(warnings) == []
    (mixed,) = [w for w in warnings if "mostly use" in w]
    assert "also column 'conversations' in 1 row," in mixed
    assert "role 'from' in 2 messages" in mixed and " 1 rows" not in mixed


def test_rows_counted_are_those_the_entry_reads_whose_turns_do_not_alternate(tmp_path):
    path = _write(tmp_path / "d.jsonl", _rows(PLAIN, TWO_USERS, SHAREGPT, SYSTEM_LATER, DEVELOPER, CAPITAL,
                                              SYSTEM_FIRST))
    _, warnings = _export(path)
    (line,) = _turns(warnings)
    # TWO_USERS (line 2) and SYSTEM_LATER (line 4); not the ShareGPT row (another column), the developer row (the
    # developer line says it) nor the capitalised one (the role values line says it)
    assert line.endswith("(here: 2 of the data file's first 7 chat rows: lines 2 and 4)")
    assert [w for w in warnings if "'User'" in w and "beside the ones the tags name" in w]
    assert [w for w in warnings if "skips a row with a developer message" in w]


def test_one_row_is_named_by_its_line(tmp_path):
    _, warnings = _export(_write(tmp_path / "d.jsonl", _rows(PLAIN, PLAIN, TWO_USERS)))
    (line,) = _turns(warnings)
    assert line.endswith("(here: 1 of the data file's first 3 chat rows: line 3)")
    _, warnings = _export(_write(tmp_path / "one.jsonl", _rows(TWO_USERS)))
    (line,) = _turns(warnings)
    assert line.endswith("(here: the data file's one chat row read, line 1)")


# ---- LLaMA-Factory's own loader and converter, where installed ----

def _llamafactory():
    pytest.importorskip("llamafactory")
    if importlib.util.find_spec("torchaudio") is None:  # imported by llamafactory.data for audio files only
        stub = types.ModuleType("torchaudio")
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = stub
    from llamafactory.data.converter import SharegptDatasetConverter
    from llamafactory.data.parser import get_dataset_list

    return get_dataset_list, SharegptDatasetConverter


@pytest.mark.filterwarnings("ignore")
def test_llamafactory_skips_the_rows_counted_and_stops_on_the_other_column(tmp_path):
    """datasets' json builder reads the file as LLaMA-Factory's loader does (one table: a row without the entry's
    column has None there); its converter skips exactly the rows the line counts among the rows of the entry's
    column, and fails on the ShareGPT row, which the "mostly use" line says it stops on."""
    import datasets

    get_dataset_list, converter = _llamafactory()
    rows = [PLAIN, TWO_USERS, SYSTEM_LATER, SYSTEM_FIRST]
    path = _write(tmp_path / "d.jsonl", _rows(*rows, SHAREGPT))
    entry, warnings = _export(path)
    (attr,) = get_dataset_list(["lorplan_train"], {"lorplan_train": entry})
    convert = converter(attr, None)
    table = datasets.load_dataset("json", data_files=str(path), split="train")
    out = [convert(table[i]) for i in range(len(rows))]
    skipped = [i + 1 for i, o in enumerate(out) if not o["_response"]]
    assert skipped == [2, 3]
    (line,) = _turns(warnings)
    assert line.endswith("(here: 2 of the data file's first 5 chat rows: lines 2 and 3)")
    with pytest.raises(TypeError):
        convert(table[len(rows)])
    assert [w for w in warnings if "mostly use" in w and "LLaMA-Factory stops on a row" in w]
