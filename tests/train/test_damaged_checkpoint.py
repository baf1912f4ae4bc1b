"""`lorplan train --resume` on a checkpoint with a damaged file: a state.json or adapter_config.json that is no
JSON, a cut or garbled adapter_model.safetensors, a cut optimizer.pt / rng.pt, a file missing. Each was a
traceback (json's, safetensors', torch.load's; exit 1) 6-9 s into the command, after torch and the model had
loaded; a garbled optimizer.pt was refused as a pickle that 'holds more than tensors and numbers'. Now each is
one line naming the file, exit 2, before torch is imported (~0.2 s). The checkpoints are a real run's (a tiny
Llama, 2 steps, one checkpoint a step), damaged as a killed copy or a full disk leaves them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from model_builders import tiny_llama

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.train import checkpoint as ckpt
from lorplan.train.checkpoint_files import checkpoint_problem

from .conftest import write_jsonl

pytestmark = pytest.mark.slow

PROBE = ("import json, sys; from lorplan.cli import main; rc = main(['train', *sys.argv[1:]]); "
         "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,"
         " 'peft': 'peft' in sys.modules}))")


def _lorplan(*args: str, cwd: Path, code: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(cwd / "hf"), "XDG_STATE_HOME": str(cwd / "state")}
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "lorplan", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(the plan, the folder of a finished 2-step run with checkpoint-1 and checkpoint-2). Planned and trained in
    this process (two children's start and imports saved): the commands whose imports are checked (PROBE) and
    the damaged checkpoints' own runs are children or read these files."""
    root = tmp_path_factory.mktemp("damaged")
    model = tiny_llama(root / "model", hidden=16, layers=1)
    plan = root / "plan.toml"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_HOME", str(root / "hf")),
                            ("XDG_STATE_HOME", str(root / "state"))):
            mp.setenv(name, value)
        mp.chdir(root)
        assert main(["plan", "--model", str(model), "--rank", "2", "--seq-len", "32", "--data",
                     str(write_jsonl(root / "train.jsonl", 48)), "--write", str(plan), "--force"]) == 0
        plan.write_text(plan.read_text().replace("save_steps = 100", "save_steps = 1"))
        assert main(["train", str(plan), "--max-steps", "2", "--no-progress", "--output", "run"]) == 0
    assert sorted(p.name for p in (root / "run").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    return plan, root / "run"


def _stopped(trained, tmp_path: Path) -> Path:
    """A copy of the run as if stopped after step 2 of more: its checkpoints, no adapter nor result."""
    out = tmp_path / "run"
    shutil.copytree(trained[1], out)
    shutil.rmtree(out / "adapter")
    (out / "result.json").unlink()
    return out


def _cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _garble(path: Path) -> None:
    path.write_text("garbage\n")


DAMAGE = {
    "state.json not JSON": ("state.json", _garble, "is not JSON (Expecting value: line 1 column 1 (char 0))"),
    "state.json cut": ("state.json", lambda p: _cut(p, 20), "is not JSON ("),
    "state.json without a step": ("state.json", lambda p: p.write_text('{"total": 2}'),
                                  "has no step count (step: null)"),
    "adapter config not JSON": ("adapter/adapter_config.json", _garble, "is not JSON ("),
    "adapter weights garbled": ("adapter/adapter_model.safetensors", _garble,
                                "is cut short or not a safetensors file (its 8 bytes hold no whole header)"),
    "adapter weights cut in the tensors": ("adapter/adapter_model.safetensors", lambda p: _cut(p, p.stat().st_size - 100),
                                           "is cut short (its tensors take "),
    "adapter weights missing": ("adapter/adapter_model.safetensors", Path.unlink, "is missing"),
    "optimizer garbled": ("optimizer.pt", _garble,
                          "is cut short or not a file torch.save wrote (8 bytes without a whole zip directory)"),
    "rng cut": ("rng.pt", lambda p: _cut(p, 1000),
                "is cut short or not a file torch.save wrote (1,000 bytes without a whole zip directory)"),
    "scheduler missing": ("scheduler.pt", Path.unlink, "is missing"),
}


def test_a_real_runs_checkpoints_are_whole(trained):
    for name in ("checkpoint-1", "checkpoint-2"):
        assert checkpoint_problem(trained[1] / name) is None


@pytest.mark.parametrize("case", DAMAGE)
def test_each_damaged_file_is_named_with_what_to_do(trained, tmp_path, case):
    name, damage, said = DAMAGE[case]
    out = _stopped(trained, tmp_path)
    damage(out / "checkpoint-2" / name)
    with pytest.raises(BadInput) as caught:
        ckpt.check_checkpoint((2, out / "checkpoint-2"), out)
    line = str(caught.value)
    head = f"checkpoint-2 in {out} is damaged: {out / 'checkpoint-2' / name} "
    assert line.startswith(head + said), line
    assert line.endswith(f"; remove {out / 'checkpoint-2'} to resume from checkpoint-1, the one before it, or give "
                         "--output to start elsewhere"), line
    assert "\n" not in line


def test_resume_on_a_cut_adapter_is_one_line_before_torch_and_its_advice_resumes(trained, tmp_path, monkeypatch,
                                                                                  capsys):
    """The command itself: exit 2, one line, nothing of torch, transformers or peft imported (it was a
    SafetensorError's traceback, exit 1, after the model loaded). Then the line's advice, followed: the run
    resumes from checkpoint-1 and finishes."""
    plan, _ = trained
    out = _stopped(trained, tmp_path)
    weights = out / "checkpoint-2" / "adapter" / "adapter_model.safetensors"
    _cut(weights, 300)
    proc = _lorplan(str(plan), "--resume", "--max-steps", "2", "--no-progress", "--output", str(out),
                    cwd=tmp_path, code=PROBE)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 2, "torch": False, "transformers": False,
                                                                "peft": False}
    assert proc.stderr == (f"lorplan train: error: checkpoint-2 in {out} is damaged: {weights} is cut short or not a "
                           "safetensors file (its 300 bytes hold no whole header); remove "
                           f"{out / 'checkpoint-2'} to resume from checkpoint-1, the one before it, or give --output "
                           "to start elsewhere\n")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-1", "checkpoint-2", "log.jsonl"]  # nothing written

    shutil.rmtree(out / "checkpoint-2")
    # in this process (a child's start and imports saved): what is checked here is that it resumes
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["train", str(plan), "--resume", "--max-steps", "2", "--no-progress", "--output", str(out)]) == 0
    assert "resumed from checkpoint-1 (step 1 of 2)" in capsys.readouterr().err
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_a_finished_run_whose_last_state_json_is_damaged_is_one_line(trained, tmp_path):
    """Its state.json says whether the run ended there; json's traceback came with --resume or without."""
    plan, run = trained
    out = tmp_path / "run"
    shutil.copytree(run, out)
    _garble(out / "checkpoint-2" / "state.json")
    for extra in (["--resume", "--max-steps", "3"], []):
        proc = _lorplan(str(plan), *extra, "--no-progress", "--output", str(out), cwd=tmp_path, code=PROBE)
        assert json.loads(proc.stdout.strip().splitlines()[-1])["rc"] == 2
        assert proc.stderr == (f"lorplan train: error: checkpoint-2 in {out} is damaged: "
                               f"{out / 'checkpoint-2' / 'state.json'} is not JSON (Expecting value: line 1 column 1 "
                               "(char 0)); give --output to start elsewhere\n"), proc.stderr
