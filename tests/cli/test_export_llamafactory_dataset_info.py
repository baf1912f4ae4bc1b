"""`lorplan export --to llamafactory` registers the data itself. It wrote a YAML whose dataset_dir was the data
file's folder and a warning giving the dataset_info.json entry to add there by hand; `llamafactory-cli train` stopped
("Cannot open data/dataset_info.json", or "Undefined dataset lorplan_train") until the user did. The export now
writes its own dataset_info.json in a folder beside the YAML, named after it (lf.yaml: lf-data/), which dataset_dir
names, absolute, and whose entry names the data file absolute: LLaMA-Factory joins dataset_dir and file_name with
os.path.join, which keeps an absolute file_name (data/parser.py get_dataset_list, data/loader.py)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from lorplan.cli import main

ROWS = [{"prompt": f"q{i}", "completion": f" a{i}"} for i in range(7)]


def _project(tmp_path: Path, monkeypatch) -> Path:
    """tmp/project/plan.toml (prompt-completion rows in data/train.jsonl), the working folder elsewhere."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    monkeypatch.chdir(project)
    assert main(["plan", "--model", "HuggingFaceTB/SmolLM2-135M", "--rank", "8", "--data", "data/train.jsonl",
                 "--write", "plan.toml"]) == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return project / "plan.toml"


def _export(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["export", *args, "--to", "llamafactory"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_yaml_names_a_dataset_info_json_of_its_own(tmp_path, monkeypatch, capsys):
    plan = _project(tmp_path, monkeypatch)
    code, out, err = _export(capsys, str(plan))  # no -o: beside the plan, named after it
    assert code == 0
    yaml_path, info_path = plan.with_name("plan-llamafactory.yaml"), plan.with_name("plan-llamafactory-data")
    info_path = info_path / "dataset_info.json"
    assert out.split() == [str(yaml_path), str(info_path)]
    cfg = yaml.safe_load(yaml_path.read_text())
    assert cfg["dataset_dir"] == str(info_path.parent) and Path(cfg["dataset_dir"]).is_absolute()
    entry = json.loads(info_path.read_text())[cfg["dataset"]]
    assert entry["file_name"] == str(plan.parent / "data" / "train.jsonl")
    assert entry["columns"] == {"prompt": "prompt", "response": "completion"}
    assert "register the data" not in err + yaml_path.read_text()
    assert not (plan.parent / "data" / "dataset_info.json").exists()  # the data's folder is not written to


def test_a_dataset_info_json_there_is_kept_without_force(tmp_path, monkeypatch, capsys):
    """The YAML's own folder is checked with the YAML: both are written, or neither."""
    plan = _project(tmp_path, monkeypatch)
    mine = tmp_path / "lf-data" / "dataset_info.json"
    mine.parent.mkdir()
    mine.write_text('{"my_set": {"file_name": "mine.jsonl"}}')
    code, _, err = _export(capsys, str(plan), "-o", str(tmp_path / "lf.yaml"))
    assert code == 2
    assert f"{mine} already exists; pass --force" in err and "Traceback" not in err
    assert mine.read_text() == '{"my_set": {"file_name": "mine.jsonl"}}'
    assert not (tmp_path / "lf.yaml").exists()
    code, _, _ = _export(capsys, str(plan), "-o", str(tmp_path / "lf.yaml"), "--force")
    assert code == 0 and list(json.loads(mine.read_text())) == ["lorplan_train"]


def test_a_data_folders_own_dataset_info_json_is_left_alone(tmp_path, monkeypatch, capsys):
    plan = _project(tmp_path, monkeypatch)
    theirs = plan.parent / "data" / "dataset_info.json"
    theirs.write_text('{"other": {"file_name": "other.json"}}')
    assert _export(capsys, str(plan), "-o", str(tmp_path / "lf.yaml"), "--force")[0] == 0
    assert theirs.read_text() == '{"other": {"file_name": "other.json"}}'
    assert yaml.safe_load((tmp_path / "lf.yaml").read_text())["dataset_dir"] == str(tmp_path / "lf-data")


def test_a_data_path_found_nowhere_is_still_registered_by_hand(tmp_path, monkeypatch, capsys):
    """A relative path lorplan finds nowhere is written as typed, which LLaMA-Factory reads from the folder it runs
    in: only a dataset_dir of that path's folder can say so, and the warning gives the entry to add there."""
    plan = _project(tmp_path, monkeypatch)
    plan.write_text(plan.read_text().replace('path = "data/train.jsonl"', 'path = "gone/train.jsonl"'))
    code, out, err = _export(capsys, str(plan), "-o", str(tmp_path / "lf.yaml"))
    assert code == 0 and out.split() == [str(tmp_path / "lf.yaml")]
    assert yaml.safe_load((tmp_path / "lf.yaml").read_text())["dataset_dir"] == "gone"
    assert 'warning: register the data in gone/dataset_info.json as {"lorplan_train": {"file_name": "train.jsonl"' \
        in err
    assert not (tmp_path / "lf-data").exists()


def _llamafactory():
    pytest.importorskip("llamafactory")
    if importlib.util.find_spec("torchaudio") is None:  # imported by llamafactory.data for audio files only
        stub = types.ModuleType("torchaudio")
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = stub
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    return get_dataset_list, _load_single_dataset, DataArguments, ModelArguments, Seq2SeqTrainingArguments


@pytest.mark.filterwarnings("ignore")
def test_llamafactory_reads_the_rows_from_the_yaml_alone(tmp_path, monkeypatch, capsys):
    """LLaMA-Factory's own parser and loader (0.9.5), from the YAML's dataset and dataset_dir, run in a third
    folder: every row, prompt and completion as written (runs where llamafactory is importable)."""
    get_dataset_list, load_single, data_arguments, model_arguments, training_arguments = _llamafactory()
    plan = _project(tmp_path, monkeypatch)
    assert _export(capsys, str(plan), "-o", str(tmp_path / "out" / "lf.yaml"))[0] == 2  # no such folder
    (tmp_path / "out").mkdir()
    assert _export(capsys, str(plan), "-o", str(tmp_path / "out" / "lf.yaml"))[0] == 0
    cfg = yaml.safe_load((tmp_path / "out" / "lf.yaml").read_text())
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    (attr,) = get_dataset_list([cfg["dataset"]], cfg["dataset_dir"])
    assert attr.load_from == "file" and attr.formatting == "alpaca"
    data_args = data_arguments(dataset=cfg["dataset"], dataset_dir=cfg["dataset_dir"], cutoff_len=cfg["cutoff_len"])
    rows = load_single(attr, model_arguments(model_name_or_path="unused"), data_args,
                       training_arguments(output_dir=str(tmp_path / "o"), report_to="none"))
    assert [r["_prompt"][0]["content"] for r in rows] == [r["prompt"] for r in ROWS]
    assert [r["_response"][0]["content"] for r in rows] == [r["completion"] for r in ROWS]


@pytest.mark.filterwarnings("ignore")
def test_llamafactory_reads_the_rows_through_a_folder_of_any_name(tmp_path, monkeypatch, capsys):
    """The YAML read as `llamafactory-cli train lf.yaml` reads it (read_args: OmegaConf from sys.argv), written in a
    folder named with a space, quotes, a backslash, an accent and a character beyond U+FFFF, which the dataset_dir
    written as a JSON string lost (YAML reads its escape as two lone surrogates)."""
    get_dataset_list, load_single, data_arguments, model_arguments, training_arguments = _llamafactory()
    from llamafactory.hparams.parser import read_args

    plan = _project(tmp_path, monkeypatch)
    out = tmp_path / "ü 😀 \"q\" 's' \\ #x"
    out.mkdir()
    assert _export(capsys, str(plan), "-o", str(out / "lf 😀.yaml"))[0] == 0
    monkeypatch.setattr(sys, "argv", ["llamafactory-cli", str(out / "lf 😀.yaml")])
    cfg = read_args()
    assert cfg["dataset_dir"] == str(out / "lf 😀-data")
    (attr,) = get_dataset_list([cfg["dataset"]], cfg["dataset_dir"])
    data_args = data_arguments(dataset=cfg["dataset"], dataset_dir=cfg["dataset_dir"], cutoff_len=cfg["cutoff_len"])
    rows = load_single(attr, model_arguments(model_name_or_path="unused"), data_args,
                       training_arguments(output_dir=str(tmp_path / "o"), report_to="none"))
    assert [r["_prompt"][0]["content"] for r in rows] == [r["prompt"] for r in ROWS]
