"""The Unsloth script said how to run it as `python unsloth_train.py` (its header, its docstring and the
multi-GPU line's `accelerate launch ... unsloth_train.py`), though `lorplan export PLAN --to unsloth` writes it
next to the plan as PLAN-unsloth_train.py, as any -o names it: the lines name no file now (THIS.py, as the TRL
YAML's header says THIS.yaml)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from lorplan.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def test_the_script_names_no_other_file_to_run(tmp_path, capsys):
    plan = tmp_path / "mistral.toml"
    shutil.copy(SAMPLES / "mistral-7b-fsdp-2gpu.toml", plan)  # 2 GPUs: the accelerate launch line too
    assert main(["export", str(plan), "--to", "unsloth"]) == 0
    capsys.readouterr()
    (written,) = tmp_path.glob("*.py")
    assert written.name == "mistral-unsloth_train.py"
    text = written.read_text()
    runs = re.findall(r"(?:python|ACCELERATE\.yaml) (\S+?\.py)", text)
    assert len(runs) >= 3, runs  # header, docstring, the accelerate line
    assert set(runs) == {"THIS.py"}, runs
