"""lorplan.train.checkpoint_files on checkpoints that --resume loads, and on files the OS will not let it read.

A sharded checkpoint (FSDP, DeepSpeed) saved by a lorplan release before 2026-11-28 (2428c3f) holds its adapter
beside accelerate's state, with no optimizer.pt or rng.pt (accelerate's state holds them); a sharded --resume
loads accelerate/ and scheduler.pt. The check read any checkpoint with an adapter folder as an unsharded one and
refused it: 'checkpoint-2 in OUT is damaged: .../optimizer.pt is missing; remove ...'.

A file the OS refuses to read (no access: a run folder handed over by another user) was said to be damaged,
with advice to remove the checkpoint; it may be whole. The files here are written by the real torch.save,
safetensors and peft-format JSON; the refusal of a read is the OS's error, raised where lorplan opens the file
(the tests run as root, whom chmod does not stop)."""

from __future__ import annotations

import builtins
import errno
import io
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from lorplan.core.errors import BadInput
from lorplan.train import checkpoint as ckpt
from lorplan.train.checkpoint_files import checkpoint_problem


def _scheduler(path: Path) -> None:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    torch.save(torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0).state_dict(), path)


def _adapter(folder: Path) -> None:
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4}))
    save_file({"base_model.model.layers.0.q_proj.lora_A.weight": torch.zeros(2, 16),
               "base_model.model.layers.0.q_proj.lora_B.weight": torch.zeros(16, 2)},
              str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})


def _sharded(out: Path, step: int, *, adapter: bool) -> Path:
    """checkpoint-`step` as a sharded run saves it: accelerate's folder (its own files: a model and optimizer
    shard, the RNG), scheduler.pt, state.json; with `adapter`, the adapter folder earlier releases saved too."""
    folder = out / f"checkpoint-{step}"
    (folder / "accelerate").mkdir(parents=True)
    torch.save({"w": torch.zeros(4)}, folder / "accelerate" / "pytorch_model_fsdp_0.bin")
    torch.save({"state": {}, "param_groups": []}, folder / "accelerate" / "optimizer_0.bin")
    torch.save({"torch": torch.get_rng_state()}, folder / "accelerate" / "random_states_0.pkl")
    _scheduler(folder / "scheduler.pt")
    if adapter:
        _adapter(folder / "adapter")
    (folder / "state.json").write_text(json.dumps({"step": step, "total": 4}))
    return folder


def test_an_earlier_releases_sharded_checkpoint_with_its_adapter_is_whole(tmp_path):
    out = tmp_path / "run"
    _sharded(out, 1, adapter=True)
    folder = _sharded(out, 2, adapter=True)
    assert not (folder / "optimizer.pt").exists() and not (folder / "rng.pt").exists()
    assert checkpoint_problem(folder) is None  # was: optimizer.pt "is missing"
    ckpt.check_checkpoint((2, folder), out)
    assert checkpoint_problem(_sharded(tmp_path / "now", 2, adapter=False)) is None  # this release's layout


def test_an_earlier_releases_sharded_checkpoint_is_still_checked(tmp_path):
    """Its adapter (--resume compares it with the plan's) and scheduler.pt are read: damage is still said."""
    out = tmp_path / "run"
    folder = _sharded(out, 2, adapter=True)
    weights = folder / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert checkpoint_problem(folder) == (weights, "is cut short (its tensors take 256 bytes after the header, the "
                                                   "file holds 246)")
    save_file({}, str(weights))  # whole again: the next file read is said
    (folder / "scheduler.pt").write_bytes(b"garbage\n")
    assert checkpoint_problem(folder) == (folder / "scheduler.pt", "is cut short or not a file torch.save wrote "
                                                                   "(8 bytes without a whole zip directory)")


def _refused(monkeypatch, refused: Path) -> None:
    """The OS refuses to open `refused` (EACCES), as it does for a file of another user's with mode 600."""
    real = io.open

    def opening(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file) == refused:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", opening)
    monkeypatch.setattr(builtins, "open", opening)


@pytest.mark.parametrize("name", ["state.json", "adapter/adapter_model.safetensors", "optimizer.pt"])
def test_a_file_it_may_not_read_is_not_called_damaged(tmp_path, monkeypatch, name):
    out = tmp_path / "run"
    _sharded(out, 1, adapter=False)
    folder = out / "checkpoint-2"
    folder.mkdir()
    _adapter(folder / "adapter")
    for torch_file in ("optimizer.pt", "rng.pt"):
        torch.save({"state": {}}, folder / torch_file)
    _scheduler(folder / "scheduler.pt")
    (folder / "state.json").write_text(json.dumps({"step": 2, "total": 4}))
    ckpt.check_checkpoint((2, folder), out)  # whole
    _refused(monkeypatch, folder / name)
    with pytest.raises(BadInput) as caught:
        ckpt.check_checkpoint((2, folder), out)
    assert str(caught.value) == (f"checkpoint-2 in {out} could not be checked: {folder / name} cannot be read "
                                 "(Permission denied); make it readable to resume from it, or give --output to "
                                 "start elsewhere")  # was: 'is damaged ...; remove {folder} to resume from ...'
