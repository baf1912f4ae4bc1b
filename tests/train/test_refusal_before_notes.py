"""A `lorplan train` refused for its output folder says one line: the refusal, with no `note:` before it. The
CPU run's thread note ("note: CPU run on 1 thread …") was said before the runner's own checks, so a finished
epoch-based run resumed to the same length, a stopped run resumed to another length and a checkpoint of another
adapter each answered in two lines. The machine is made to look busy (its load average at its core count), so
the run would take fewer threads than torch's default and the note is due."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.plan import read_plan, write_plan

from .test_train import tiny_plan

pytestmark = pytest.mark.slow


@pytest.fixture
def busy(monkeypatch):
    """A load average of the machine's core count: lorplan.probe.scheduler.cpu_threads gives 1 thread, below
    torch's default on a machine of several cores, so `lorplan train` sets it and says so. torch's thread count
    is the process's: an earlier test in the same pytest worker may have left it at 1 (a `lorplan train` run in
    process sets it and keeps it), and then no note is due; so it starts at the core count, as in a fresh
    process, and is put back afterwards."""
    import torch

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: torch's default is already 1 thread, no note is due")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (float(os.cpu_count() or 1),) * 3)
    before, fresh = torch.get_num_threads(), os.cpu_count() or 2
    torch.set_num_threads(fresh)
    yield lambda: torch.set_num_threads(fresh)  # as a fresh process has it, after a run in this one set 1
    torch.set_num_threads(before)


def _plan(tmp_path: Path, model: Path, name: str, **training) -> Path:
    """The tiny plan without an [estimate] (nothing to re-price, so no input note) and with `training`."""
    plan = read_plan(tiny_plan(tmp_path, model))
    plan = replace(plan, estimate=None, training=replace(plan.training, **training))
    return write_plan(plan, tmp_path / name, force=True)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err.strip()


def test_the_cpu_note_is_due_on_a_busy_machine(tmp_path, tiny_llama, capsys, busy):
    """The set-up the other tests rely on: a run that trains says the note (else they would prove nothing)."""
    plan = _plan(tmp_path, tiny_llama, "plan.toml", max_steps=1, save_steps=1)
    assert main(["train", str(plan), "--no-progress", "--output", str(tmp_path / "a")]) == 0
    assert "note: CPU run on 1 thread " in capsys.readouterr().err


def test_a_finished_epoch_run_resumed_to_its_length_is_one_line(tmp_path, tiny_llama, capsys, busy):
    """Its length is known only once the data is tokenized (epochs, not max_steps): the runner refuses it."""
    plan = _plan(tmp_path, tiny_llama, "plan.toml", max_steps=None, epochs=0.2, save_steps=100)
    out = tmp_path / "out"
    assert main(["train", str(plan), "--no-progress", "--output", str(out)]) == 0
    capsys.readouterr()
    busy()
    assert main(["train", str(plan), "--no-progress", "--output", str(out), "--resume"]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"lorplan train: error: --resume: {out} holds a finished ") and "too" in err


def test_a_stopped_run_resumed_to_another_length_is_one_line(tmp_path, tiny_llama, capsys, busy):
    """--max-steps (or the plan's max_steps) is the run's length: decided before torch, with the other checks."""
    plan = _plan(tmp_path, tiny_llama, "plan.toml", max_steps=4, save_steps=2)
    assert main(["train", str(plan), "--no-progress", "--output", str(tmp_path / "a")]) == 0
    out = tmp_path / "b"
    out.mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-2", out / "checkpoint-2")
    capsys.readouterr()
    busy()
    assert main(["train", str(plan), "--no-progress", "--output", str(out), "--resume", "--max-steps", "6"]) == 2
    assert _one_line(capsys) == (
        f"lorplan train: error: --resume: checkpoint-2 in {out} is step 2 of a 4-step run, and this one would run "
        "6 steps: its learning-rate schedule would change mid-run; pass --max-steps 4 to continue it as it "
        "started, or --output to start elsewhere")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2"]


def test_a_checkpoint_of_another_adapter_is_one_line(tmp_path, tiny_llama, capsys, busy):
    plan = _plan(tmp_path, tiny_llama, "plan.toml", max_steps=4, save_steps=2)
    assert main(["train", str(plan), "--no-progress", "--output", str(tmp_path / "a")]) == 0
    out = tmp_path / "b"
    out.mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-2", out / "checkpoint-2")
    p = read_plan(plan)
    edited = write_plan(replace(p, lora=replace(p.lora, r=4)), tmp_path / "edited.toml")
    capsys.readouterr()
    busy()
    assert main(["train", str(edited), "--no-progress", "--output", str(out), "--resume"]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"lorplan train: error: --resume: checkpoint-2 in {out} was saved with another adapter")


def test_a_seq_len_beyond_the_models_context_is_one_line(tmp_path, tiny_llama, capsys, busy):
    """check_plan_context refuses in lorplan.cli.train.check_inputs, before any note."""
    import json

    context = json.loads((tiny_llama / "config.json").read_text())["max_position_embeddings"]
    plan = _plan(tmp_path, tiny_llama, "plan.toml", max_steps=2, seq_len=context * 4)
    assert main(["train", str(plan), "--no-progress", "--output", str(tmp_path / "a")]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"lorplan train: error: {plan}: ") and "seq_len" in err
