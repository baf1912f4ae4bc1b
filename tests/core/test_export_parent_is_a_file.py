"""A folder on an export's path that is there as something else: LLaMA-Factory's data folder beside its YAML
(lf.yaml: lf-data/) left as a plain file, or a folder above an output that is a file. mkdir's error came through
as "lf-data/dataset_info.json: cannot write there (File exists)", which names no file in the way (and "(Not a
directory)" for one further up); now the line says which path is a file where a folder must be, and says it before
"pass --force", which would not help."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export.files import write_files_atomic, write_text_atomic


@pytest.mark.parametrize("below", ["", "c/"])  # the file is the target's folder, or a folder above it
def test_the_file_in_the_way_is_named(tmp_path, below):
    (tmp_path / "a").write_text("mine")
    out = tmp_path / "a" / below / "b.yaml"
    with pytest.raises(BadInput) as info:
        write_text_atomic(out, "x: 1\n")
    assert str(info.value) == f"{out}: cannot write there: {tmp_path / 'a'} is a file, not a folder"
    assert (tmp_path / "a").read_text() == "mine"


def test_a_link_to_nothing_and_a_named_pipe_are_named_too(tmp_path):
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    with pytest.raises(BadInput, match=r"gone/f: cannot write there: .*gone is a link to .*nowhere, which is not "
                                       r"there$"):
        write_text_atomic(tmp_path / "gone" / "f", "x")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(BadInput, match=r"pipe/f: cannot write there: .*pipe is a named pipe, not a folder$"):
        write_text_atomic(tmp_path / "pipe" / "f", "x")


def test_the_file_in_the_way_is_said_before_pass_force(tmp_path):
    (tmp_path / "lf.yaml").write_text("mine: 1\n")
    (tmp_path / "lf-data").write_text("mine")
    files = {tmp_path / "lf.yaml": "x: 1\n", tmp_path / "lf-data" / "dataset_info.json": "{}"}
    for force in (False, True):
        with pytest.raises(BadInput, match=r"lf-data is a file, not a folder$"):
            write_files_atomic(files, force=force)
    assert (tmp_path / "lf.yaml").read_text() == "mine: 1\n"  # neither written


def _plan(tmp_path: Path, monkeypatch) -> Path:
    """plan.toml with prompt-completion rows in train.jsonl beside it: the LLaMA-Factory export writes lf-data/."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.jsonl").write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n"
                                                  for i in range(5)))
    assert main(["plan", "--model", "HuggingFaceTB/SmolLM2-135M", "--rank", "8", "--data", "train.jsonl",
                 "--write", "plan.toml"]) == 0
    return tmp_path / "plan.toml"


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_export_says_the_data_folder_is_a_file(tmp_path, monkeypatch, capsys, force):
    plan = _plan(tmp_path, monkeypatch)
    (tmp_path / "lf-data").write_text("mine")
    capsys.readouterr()
    assert main(["export", str(plan), "--to", "llamafactory", "-o", "lf.yaml", *force]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lorplan export: error: lf-data/dataset_info.json: cannot write there: lf-data is a file, "
                   "not a folder"], err
    assert not (tmp_path / "lf.yaml").exists() and (tmp_path / "lf-data").read_text() == "mine"
    (tmp_path / "lf-data").unlink()  # the file moved away, the same command writes both
    assert main(["export", str(plan), "--to", "llamafactory", "-o", "lf.yaml", *force]) == 0
    assert json.loads((tmp_path / "lf-data" / "dataset_info.json").read_text())
