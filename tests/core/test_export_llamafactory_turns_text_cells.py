"""The LLaMA-Factory export's "turns do not alternate" line counts only rows its sharegpt converter judges by their
turns (99c1390). A CSV file holding each chat as JSON text in a cell is read by LLaMA-Factory (datasets' csv
loader) as a string, and its converter stops on the first row (TypeError: the text-cells line says so): no row is
skipped for its turns. The line still said "(here: 1 of the data file's first 2 chat rows: line 3)"."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
TURNS = "chat rows whose turns do not alternate"


def _msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


PLAIN = [_msg("user", "Name a colour."), _msg("assistant", "Blue.")]
TWO_USERS = [_msg("user", "a"), _msg("user", "b"), _msg("assistant", "c")]


def _warnings(path: Path) -> list[str]:
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")  # a chat plan
    plan = replace(plan, data=replace(plan.data, path=str(path), schema="messages"))
    return list(export_plan(plan, "llamafactory").warnings)


def test_chats_in_csv_cells_are_no_rows_skipped_for_their_turns(tmp_path):
    path = tmp_path / "chats.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["messages"])
        for chat in (PLAIN, TWO_USERS):
            writer.writerow([json.dumps(chat)])
    warnings = _warnings(path)
    assert [w for w in warnings if "as JSON text in a cell" in w and "stops on it" in w]
    assert [w for w in warnings if w.startswith(TURNS)] == []


def test_the_same_chats_as_jsonl_count_the_row(tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text("".join(json.dumps({"messages": chat}) + "\n" for chat in (PLAIN, TWO_USERS)))
    (line,) = [w for w in _warnings(path) if w.startswith(TURNS)]
    assert line.endswith("(here: 1 of the data file's first 2 chat rows: line 2)")
