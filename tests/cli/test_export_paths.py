"""`lorplan export` writes the plan's model.path and data.path where the exported tool finds them.

lorplan reads a relative path from the working folder, else from the plan's folder (lorplan.train.paths); axolotl
(`datasets[].path`, `base_model`), LLaMA-Factory (`dataset_dir`, `model_name_or_path`) and peft
(`base_model_name_or_path`) read one from the folder they run in. The exports wrote the path as the plan has it,
so a plan exported from another folder named files the tool did not find.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lorplan.cli import main

CATALOG = Path(__file__).resolve().parents[2] / "lorplan/core/model/catalog"
ROWS = "".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n" for i in range(30))


def _plan(tmp_path, monkeypatch, *, model: str = "HuggingFaceTB/SmolLM2-135M", data: str = "data/train.jsonl"):
    """tmp/project/plan.toml with data.path = `data` (relative: data/train.jsonl in the project) and the model
    `model` (a hub id, or a folder in the project); returns (plan, project folder)."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.jsonl").write_text(ROWS)
    if model.startswith("models/"):  # a local folder, with a real model's config.json
        folder = project / model
        folder.mkdir(parents=True)
        shutil.copy(CATALOG / "HuggingFaceTB__SmolLM2-135M-Instruct.json", folder / "config.json")
    monkeypatch.chdir(project)
    assert main(["plan", "--model", model, "--rank", "8", "--data", "data/train.jsonl", "--write", "plan.toml"]) == 0
    text = (project / "plan.toml").read_text()
    assert 'path = "data/train.jsonl"' in text
    (project / "plan.toml").write_text(text.replace('path = "data/train.jsonl"', f'path = "{data}"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return project / "plan.toml", project


def _export(plan: Path, to: str, out: Path, capsys) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["export", str(plan), "--to", to, "-o", str(out)]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.mark.parametrize("rel", ["../project/plan.toml", None])
def test_axolotl_dataset_path_is_the_file_lorplan_reads_written_absolute(tmp_path, monkeypatch, capsys, rel):
    """Exported from another folder, `datasets[0].path: data/train.jsonl` named nothing axolotl could find."""
    plan, project = _plan(tmp_path, monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    typed = Path(rel) if rel else plan
    _, err = _export(typed, "axolotl", out / "ax.yaml", capsys)
    text = (out / "ax.yaml").read_text()
    path = yaml.safe_load(text)["datasets"][0]["path"]
    assert path == str(project / "data" / "train.jsonl")
    monkeypatch.chdir(out)  # axolotl runs wherever the user runs it: the path does not depend on that
    assert Path(path).is_absolute() and Path(path).read_text() == ROWS
    # named by the plan file as the user typed it, as the warning for a path found nowhere is
    note = f"{typed}: data.path data/train.jsonl is written as {path}"
    assert f"note: {note}" in err
    assert f"# lorplan: NOTE: {note}" in text


def test_llamafactory_dataset_dir_holds_the_data_lorplan_reads(tmp_path, monkeypatch, capsys):
    """`dataset_dir: data` was read from the folder llamafactory-cli runs in, not the plan's; and the data was
    registered by hand. dataset_dir is now the export's own folder beside the YAML, whose dataset_info.json names
    the data lorplan reads, absolute."""
    plan, project = _plan(tmp_path, monkeypatch)
    out, err = _export(plan, "llamafactory", tmp_path / "lf.yaml", capsys)
    text = (tmp_path / "lf.yaml").read_text()
    cfg = yaml.safe_load(text)
    assert cfg["dataset_dir"] == str(tmp_path / "lf-data")
    info = json.loads((tmp_path / "lf-data" / "dataset_info.json").read_text())
    assert Path(info[cfg["dataset"]]["file_name"]).read_text() == ROWS
    assert "register the data" not in text + err
    assert out.split() == [str(tmp_path / "lf.yaml"), str(tmp_path / "lf-data" / "dataset_info.json")]
    assert f"note: {plan}: data.path data/train.jsonl is written as {project / 'data' / 'train.jsonl'}" in err


def test_the_working_folders_file_wins_as_lorplan_train_reads_it(tmp_path, monkeypatch, capsys):
    """A data/train.jsonl in the working folder is the one lorplan reads first: the export names that one."""
    plan, _ = _plan(tmp_path, monkeypatch)
    (Path.cwd() / "data").mkdir()
    (Path.cwd() / "data" / "train.jsonl").write_text(ROWS[: len(ROWS) // 2])
    _export(plan, "axolotl", tmp_path / "ax.yaml", capsys)
    path = yaml.safe_load((tmp_path / "ax.yaml").read_text())["datasets"][0]["path"]
    assert path == str(tmp_path / "elsewhere" / "data" / "train.jsonl")


@pytest.mark.parametrize(("to", "key"), [("peft", "base_model_name_or_path"), ("axolotl", "base_model"),
                                         ("llamafactory", "model_name_or_path")])
def test_a_relative_model_path_is_written_absolute(tmp_path, monkeypatch, capsys, to, key):
    plan, project = _plan(tmp_path, monkeypatch, model="models/smol")
    out = tmp_path / ("peft" if to == "peft" else f"{to}.yaml")
    _, err = _export(plan, to, out, capsys)
    text = (out / "adapter_config.json" if to == "peft" else out).read_text()
    source = json.loads(text)[key] if to == "peft" else yaml.safe_load(text)[key]
    assert source == str(project / "models" / "smol") and (Path(source) / "config.json").is_file()
    note = f"{plan}: model.path models/smol is written as {source}"
    assert f"note: {note}" in err
    if to == "peft":  # JSON holds no comment: the note is in the folder's notes file
        assert f"NOTE: {note}" in (out / "LORPLAN_WARNINGS.txt").read_text()


def test_a_hub_id_is_written_untouched(tmp_path, monkeypatch, capsys):
    """An id stays an id, even where a folder of that name sits in the working folder."""
    plan, _ = _plan(tmp_path, monkeypatch)
    (Path.cwd() / "HuggingFaceTB" / "SmolLM2-135M").mkdir(parents=True)
    _, err = _export(plan, "axolotl", tmp_path / "ax.yaml", capsys)
    assert yaml.safe_load((tmp_path / "ax.yaml").read_text())["base_model"] == "HuggingFaceTB/SmolLM2-135M"
    assert "model.path" not in err and "HuggingFaceTB/SmolLM2-135M is written" not in err


def test_a_path_lorplan_cannot_find_is_kept_as_typed_with_one_warning(tmp_path, monkeypatch, capsys):
    plan, _ = _plan(tmp_path, monkeypatch, data="missing/train.jsonl")
    _, err = _export(plan, "axolotl", tmp_path / "ax.yaml", capsys)
    text = (tmp_path / "ax.yaml").read_text()
    assert yaml.safe_load(text)["datasets"][0]["path"] == "missing/train.jsonl"
    lines = [line for line in err.splitlines() if "missing/train.jsonl" in line]
    # named by the plan file and its key, as the export's other problems and lorplan train's are (data_key)
    assert lines == [f"warning: {plan}: data.path missing/train.jsonl: not found in the working folder nor beside "
                     "the plan; written as typed, so axolotl looks for it from the folder it runs in"]
    assert f"# lorplan: WARNING: {lines[0].removeprefix('warning: ')}" in text


def test_an_absolute_path_that_exists_is_written_as_it_is_without_a_note(tmp_path, monkeypatch, capsys):
    plan, project = _plan(tmp_path, monkeypatch, data=str(tmp_path / "project" / "data" / "train.jsonl"))
    _, err = _export(plan, "axolotl", tmp_path / "ax.yaml", capsys)
    text = (tmp_path / "ax.yaml").read_text()
    assert yaml.safe_load(text)["datasets"][0]["path"] == str(project / "data" / "train.jsonl")
    assert "note:" not in err and "NOTE" not in text


def test_accelerate_names_no_path_and_says_nothing_of_one(tmp_path, monkeypatch, capsys):
    plan, _ = _plan(tmp_path, monkeypatch, data="missing/train.jsonl")
    _, err = _export(plan, "accelerate", tmp_path / "acc.yaml", capsys)
    assert "data.path" not in err and "data.path" not in (tmp_path / "acc.yaml").read_text()
