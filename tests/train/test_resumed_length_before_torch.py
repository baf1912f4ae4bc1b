"""A stopped run resumed to another --max-steps is refused by `lorplan train`'s input checks, before torch is
imported (lorplan.cli.train.check_inputs asks lorplan.train.checkpoint.check_resumed_length when the run's length
is known there), not by the runner once the model has loaded. tests/train/test_refusal_before_notes.py checks the
line; this checks where it is said: a child process that runs `lorplan train` and reports what it imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from lorplan.cli import main

from .test_train import tiny_plan

pytestmark = pytest.mark.slow

_PROBE = ("import json, sys; from lorplan.cli import main; rc = main(['train', *sys.argv[1:]]); "
          "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}))")


def test_a_stopped_run_resumed_to_another_length_is_refused_before_torch(tmp_path, tiny_llama, capsys, monkeypatch):
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=4, save_steps=2)
    assert main(["train", str(plan), "--no-progress", "--output", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    out = tmp_path / "b"
    out.mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-2", out / "checkpoint-2")
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(plan), "--no-progress", "--output", str(out),
                           "--resume", "--max-steps", "6"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 2, "torch": False}, proc.stderr
    assert proc.stderr.startswith(f"lorplan train: error: --resume: checkpoint-2 in {out} is step 2 of a 4-step "
                                  "run, and this one would run 6 steps: "), proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2"]
    # the same length is not refused there: the check compares, it does not refuse every resume. In this process
    # (a child's start and imports saved): what is checked here is that the resume runs, not where it imports torch
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["train", str(plan), "--no-progress", "--output", str(out), "--resume", "--max-steps", "4"]) == 0
    assert "resumed from checkpoint-2 (step 2 of 4)" in capsys.readouterr().err
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
