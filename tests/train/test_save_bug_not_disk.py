"""A checkpoint or adapter save that fails for a reason other than storage (a bug: an object pickle cannot
write, safetensors refusing tensors that share memory) is raised as it is, with its traceback. Since 84988bf
every exception in a save was a full disk's line: 'lorplan train: could not save checkpoint-2 in OUT (Can't
pickle local object ...); no checkpoint was saved before it; free space there and start again', exit 1, which
sends the user to free space that is there and hides the bug. A write that failed (an OSError, torch's or
safetensors' error around one) is still the one line (tests/train/test_full_disk.py). The failing call is
replaced at the library boundary, as test_full_disk does."""

from __future__ import annotations

import pickle

import pytest

from lorplan.cli import main

from .test_train import tiny_plan

pytestmark = pytest.mark.slow


def test_a_checkpoint_that_pickle_refuses_is_raised_not_called_a_full_disk(tmp_path, tiny_llama, monkeypatch,
                                                                          capsys):
    import torch

    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if ".checkpoint-2.tmp" in str(f):
            raise pickle.PicklingError("Can't pickle local object 'make.<locals>.hook'")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=2, save_steps=2)
    with pytest.raises(pickle.PicklingError, match="Can't pickle local object"):
        main(["train", str(plan), "--no-progress"])
    assert "free space" not in capsys.readouterr().err
    assert not (tmp_path / "out" / ".checkpoint-2.tmp").exists()  # the partial folder is still removed


def test_an_adapter_safetensors_refuses_is_raised_not_called_a_full_disk(tmp_path, tiny_llama, monkeypatch,
                                                                       capsys):
    import peft.peft_model

    real = peft.peft_model.safe_save_file

    def save_file(tensors, filename, *args, **kwargs):
        if ".adapter.tmp" not in str(filename):  # the final adapter's save, not the checkpoint's
            return real(tensors, filename, *args, **kwargs)
        raise RuntimeError("Some tensors share memory, this will lead to duplicate memory on disk and potential "
                           "differences when loading them again")

    plan = tiny_plan(tmp_path, tiny_llama, max_steps=2, save_steps=2)
    monkeypatch.setattr(peft.peft_model, "safe_save_file", save_file)
    with pytest.raises(RuntimeError, match="Some tensors share memory"):
        main(["train", str(plan), "--no-progress"])
    assert "free space" not in capsys.readouterr().err
    assert not (tmp_path / "out" / ".adapter.tmp").exists()
