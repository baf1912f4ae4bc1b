"""`lorplan export -o FOLDER` for a one-file export: the refusal said "d is a folder; give a file name", naming
neither the flag (unlike every other -o line) nor a name to give; it now names both, for each one-file format."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main

ONE_FILE = {"axolotl": "axolotl.yaml", "llamafactory": "llamafactory.yaml", "accelerate": "accelerate.yaml",
            "trl": "trl.yaml", "unsloth": "unsloth_train.py"}


@pytest.mark.parametrize("to", sorted(ONE_FILE))
def test_a_folder_as_output_names_the_flag_and_a_file(tmp_path, capsys, to):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n" for i in range(30)))
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", "HuggingFaceTB/SmolLM2-135M", "--rank", "8", "--data", str(data),
                 "--write", str(plan)]) == 0
    out = tmp_path / "exports"
    out.mkdir()
    capsys.readouterr()
    for force in ([], ["--force"]):
        assert main(["export", str(plan), "--to", to, "-o", str(out), *force]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"lorplan export: error: -o {out}: that is a folder; give a file name, such as "
                       f"{out / ONE_FILE[to]}")
    assert list(out.iterdir()) == []
    assert main(["export", str(plan), "--to", to, "-o", str(out / ONE_FILE[to])]) == 0  # the name it suggests


@pytest.mark.parametrize("to", sorted(ONE_FILE))
def test_a_new_folder_name_with_a_slash_is_not_written_as_a_file(tmp_path, capsys, to):
    """`-o newdir/` for a one-file format wrote a FILE named newdir (pathlib drops the slash): the slash says a
    folder, which -o does not make for a one-file export, so it is refused naming the folder and a file to give."""
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n" for i in range(30)))
    plan = tmp_path / "plan.toml"
    assert main(["plan", "--model", "HuggingFaceTB/SmolLM2-135M", "--rank", "8", "--data", str(data),
                 "--write", str(plan)]) == 0
    capsys.readouterr()
    out = f"{tmp_path / 'newdir'}/"
    assert main(["export", str(plan), "--to", to, "-o", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lorplan export: error: -o {out}: folder {tmp_path / 'newdir'} does not exist; create it "
                   f"first, or give a file name, such as {tmp_path / 'newdir' / ONE_FILE[to]}")
    assert not (tmp_path / "newdir").exists()
