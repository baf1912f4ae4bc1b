"""`lorplan train` when its output folder fills up (a full disk or quota) mid-run: one line naming what was not
saved and where, exit 1, no half-written checkpoint left, the last complete checkpoint intact, and --resume
goes on from it once there is space again. The full disk is simulated at the write that fails (torch.save
raising the OS's ENOSPC), so the test runs as a normal user."""

from __future__ import annotations

import errno
import os

import pytest

from lorplan.cli import main

from .test_train import tiny_plan

pytestmark = pytest.mark.slow


def _full_at(monkeypatch, folder_name: str) -> None:
    import torch

    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if folder_name in str(f):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


def test_a_full_disk_at_a_checkpoint_is_one_line_and_resume_goes_on(tmp_path, tiny_llama, monkeypatch, capsys):
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=6, save_steps=2)
    out = tmp_path / "out"
    _full_at(monkeypatch, ".checkpoint-4.tmp")
    assert main(["train", str(plan), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1] == (f"lorplan train: could not save checkpoint-4 in {out} (No space left on device); "
                       "checkpoint-2, the last complete one, is kept: free space there and continue with --resume")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2", "log.jsonl"]  # no .checkpoint-4.tmp

    monkeypatch.undo()
    assert main(["train", str(plan), "--no-progress", "--resume"]) == 0
    assert "resumed from checkpoint-2 (step 2 of 6)" in "".join(capsys.readouterr())
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_a_full_disk_at_the_first_checkpoint_says_none_is_kept(tmp_path, tiny_llama, monkeypatch, capsys):
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=2, save_steps=2)
    _full_at(monkeypatch, ".checkpoint-2.tmp")
    assert main(["train", str(plan), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith("(No space left on device); no checkpoint was saved before it; free space there and "
                        "start again")


def test_a_full_disk_at_the_adapter_keeps_the_old_adapter_out_of_harm(tmp_path, tiny_llama, monkeypatch, capsys):
    """The final adapter's save (safetensors through peft) fails: one line naming the adapter folder; the last
    step's checkpoint is kept, and --resume then saves the adapter."""
    import peft.peft_model

    plan = tiny_plan(tmp_path, tiny_llama, max_steps=2, save_steps=2)
    out = tmp_path / "out"
    real = peft.peft_model.safe_save_file  # peft's own name for safetensors' save_file

    def save_file(tensors, filename, *args, **kwargs):
        if ".adapter.tmp" in str(filename):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(peft.peft_model, "safe_save_file", save_file)
    assert main(["train", str(plan), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"lorplan train: could not save the adapter in {out / 'adapter'} (No space left on device); "
                   "checkpoint-2, the last complete one, is kept: free space there and continue with --resume")
    assert not (out / ".adapter.tmp").exists() and not (out / "adapter").exists()
