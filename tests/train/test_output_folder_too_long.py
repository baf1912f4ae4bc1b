"""lorplan.train.paths.output_folder_problem, which `lorplan train`'s input checks and run_training ask before
anything heavy loads, raised OSError (File name too long) for a name no file system takes, where it returns a
problem line for every other output it cannot use. The CLI's lock caught it first; run_training called from
Python, and check_inputs, ended in the OSError."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.train.paths import output_folder_problem

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


@pytest.mark.parametrize("name", ["a" * 300, "a" * 300 + "/run", "x/" * 3000], ids=["leaf", "parent", "path"])
def test_a_name_too_long_is_a_problem_line(tmp_path, name):
    assert output_folder_problem(tmp_path / name) == "cannot look there (File name too long)"


def test_usable_folders_are_still_no_problem(tmp_path):
    (tmp_path / "file").write_text("x")
    assert output_folder_problem(tmp_path / "new" / "run") is None
    assert output_folder_problem(tmp_path) is None
    assert output_folder_problem(tmp_path / "file") == "exists and is not a folder"
    assert output_folder_problem(tmp_path / "file" / "run") == f"{tmp_path / 'file'} is a file, so no folder can " \
        "be made under it"


def test_check_inputs_refuses_it_in_one_line(tmp_path, tiny_llama):

    from lorplan.cli.train import check_inputs
    from lorplan.core.plan import read_plan, write_plan

    data = tmp_path / "train.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    plan = read_plan(SAMPLES / "mistral-7b-fsdp-2gpu.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(tiny_llama)),
                   data=replace(plan.data, path=str(data)), training=replace(plan.training, seq_len=128))
    plan_path = str(write_plan(plan, tmp_path / "plan.toml"))
    out = str(tmp_path / ("a" * 300))
    with pytest.raises(BadInput) as exc:
        check_inputs(plan, plan_path, out, resume=False)
    assert str(exc.value) == f"--output {out}: cannot look there (File name too long): choose another --output"
