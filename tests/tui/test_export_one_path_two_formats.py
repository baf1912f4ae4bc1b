"""Two formats of one export writing the same file. bridge.write_exports merged each format's files into one dict
(`files |= ...`), so a later format's text silently replaced an earlier one's at a path both write (two formats given
one output path, or a file on LLaMA-Factory's side folder `<stem>-data/dataset_info.json`) and the earlier format
was never written, though its path was returned. Such a request is now refused in one line naming the path and
both formats, and nothing is written. The export dialog gives each format its own name in one folder, so it cannot
ask for this (checked below for every pair); write_exports is the bridge's door for any caller."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.tui import bridge
from lorplan.tui.screens.export_dialog import FORMATS, OUTPUT_NAMES

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def _plan(tmp_path: Path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"prompt": "q", "completion": " a"}\n')
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    return replace(plan, data=replace(plan.data, path=str(data), schema="prompt-completion"))


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _refused(plan, targets, out: Path) -> str:
    with pytest.raises(BadInput) as caught:
        bridge.write_exports(plan, targets, force=True)
    assert _files_under(out) == [], "nothing is written when two formats ask for one path"
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_two_formats_given_one_output_path_are_refused(tmp_path):
    plan, out = _plan(tmp_path), tmp_path / "out"
    message = _refused(plan, {"axolotl": out / "train.yaml", "trl": out / "train.yaml"}, out)
    assert str(out / "train.yaml") in message
    assert "axolotl YAML" in message and "TRL sft YAML" in message


def test_a_file_on_llamafactorys_side_folder_is_refused(tmp_path):
    plan, out = _plan(tmp_path), tmp_path / "out"
    side = out / "llamafactory-data" / "dataset_info.json"
    message = _refused(plan, {"llamafactory": out / "llamafactory.yaml", "plan": side}, out)
    assert str(side) in message and "LLaMA-Factory YAML" in message and "plan file" in message


def test_one_path_spelled_two_ways_is_refused(tmp_path):
    plan, out = _plan(tmp_path), tmp_path / "out"
    message = _refused(plan, {"plan": out / "x.yaml", "accelerate": out / "sub" / ".." / "x.yaml"}, out)
    assert "x.yaml" in message and "plan file" in message and "accelerate config YAML" in message


def test_a_file_where_another_format_needs_a_folder_is_refused(tmp_path):
    plan, out = _plan(tmp_path), tmp_path / "out"
    # peft writes a folder of files: the plan file at the folder's own path
    message = _refused(plan, {"peft": out / "adapter", "plan": out / "adapter"}, out)
    assert str(out / "adapter") in message and "peft adapter_config.json" in message and "plan file" in message


def test_the_dialogs_formats_never_share_a_path(tmp_path):
    """Every pair of the dialog's formats in one folder: distinct files, and both written."""
    plan, out = _plan(tmp_path), tmp_path / "out"
    writable = [f for f in FORMATS if bridge.export_refusal(plan, f) is None]
    assert "llamafactory" in writable and "plan" in writable
    for a, b in itertools.combinations(writable, 2):
        folder = out / f"{a}-{b}"
        written = bridge.write_exports(plan, {a: folder / OUTPUT_NAMES[a], b: folder / OUTPUT_NAMES[b]},
                                       force=False)
        assert sorted(written) == _files_under(folder), (a, b)
