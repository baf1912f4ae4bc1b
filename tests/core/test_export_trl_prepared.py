"""The TRL helpers the Unsloth script shares (sft_dataset, sft_config) word their lines for the rows TRL gets:
told what the script does to the data first (trl.Prepared), each drops or rewords TRL's line on that one thing and
leaves every other line, in its place, as the TRL export says it. The Unsloth export tells them (it never edits
the list of warnings after the fact, where a changed wording in trl.py would leave the YAML's line standing)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.export import export_plan
from lorplan.core.export.trl import PROMPT_COMPLETION_NOTE, Prepared, sft_config, sft_dataset
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


PAIRS = [{"prompt": f"two and {i}", "completion": f"{i + 2}"} for i in range(4)]
# flag -> (file name, its text, eval_split, lines TRL's export says that the flag drops, lines it says instead)
CASES = {
    "rows_key": ("rows.json", json.dumps({"data": PAIRS}), 0.0, ["holds the rows"], []),
    "padded_header": ("hand.csv", "prompt, completion\n" + "".join(f"{r['prompt']},{r['completion']}\n"
                                                                  for r in PAIRS), 0.0, ["spaces around"], []),
    "alpaca": ("alpaca.jsonl", _jsonl([{"instruction": r["prompt"], "output": r["completion"]} for r in PAIRS]),
               0.0, ["TRL reads no alpaca columns"], [PROMPT_COMPLETION_NOTE]),
    "chat_roles": ("chats.jsonl", _jsonl([{"conversations": [{"from": "human", "value": r["prompt"]},
                                                             {"from": "gpt", "value": r["completion"]}]}
                                          for r in PAIRS]),
                   0.0, ["where lorplan reads human as user", "reads role developer as system"],
                   ["the script renames the roles alone"]),
    "seeded_split": ("pairs.jsonl", _jsonl(PAIRS), 0.25, ["no seed"], ["with the plan's seed"]),
}


def _plan(tmp_path: Path, flag: str):
    name, text, split, _, _ = CASES[flag]
    data = tmp_path / name
    data.write_text(text, encoding="utf-8", newline="")
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, data=replace(plan.data, path=str(data), schema="auto", train_on="completion",
                                      eval_split=split))


def _lines(plan, prepared: Prepared | None = None) -> tuple[list[str], dict, dict]:
    warnings: list[str] = []
    args = () if prepared is None else (prepared,)
    data = sft_dataset(plan, warnings, *args)
    sft = sft_config(plan, warnings, *args)
    return warnings, data, sft


@pytest.mark.parametrize("flag", CASES)
def test_each_step_the_script_takes_drops_or_rewords_trls_line_on_it_alone(tmp_path, flag):
    plan = _plan(tmp_path, flag)
    _, _, _, dropped, instead = CASES[flag]
    plain, plain_data, plain_sft = _lines(plan)
    done, data, sft = _lines(plan, Prepared(**{flag: True}))

    gone = [w for w in plain if w not in done]
    assert [any(d in w for w in gone) for d in dropped] == [True] * len(dropped), gone
    assert len(gone) == len(dropped)  # one line each, no other
    new = [w for w in done if w not in plain]
    assert [any(i in w for w in new) for i in instead] == [True] * len(instead), new
    assert len(new) == len(instead)
    # every other line as the TRL export says it, in its order; a reworded line in the place of the one it replaces
    assert [w for w in plain if w not in gone] == [w for w in done if w not in new]
    if new:
        assert [plain.index(w) for w in gone][: len(new)] == [done.index(w) for w in new]
    assert data == plain_data
    # alpaca rows written as prompt/completion: TRL masks the prompt as the plan's train_on asks (auto: None before)
    assert sft == (plain_sft | {"completion_only_loss": True} if flag == "alpaca" else plain_sft)


@pytest.mark.parametrize("flag", CASES)
def test_the_unsloth_script_says_its_lines_not_the_yamls(tmp_path, flag):
    plan = _plan(tmp_path, flag)
    _, _, _, dropped, instead = CASES[flag]
    unsloth, trl = export_plan(plan, "unsloth").warnings, export_plan(plan, "trl").warnings
    for d in dropped:
        assert any(d in w for w in trl) and not any(d in w for w in unsloth), d
    for i in instead:
        assert any(i in w for w in unsloth) and not any(i in w for w in trl), i
