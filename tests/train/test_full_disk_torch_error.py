"""A checkpoint that a really full disk refuses at torch.save: torch's writer raises no OSError but
'[enforce fail at inline_container.cc:672] . unexpected pos 53632 vs 53524', and the line said that text
('could not save checkpoint-2 in OUT ([enforce fail at ...] . unexpected pos 53632 vs 53524); ...', seen on a
4 MB tmpfs) where a full disk should read '(No space left on device)': the disk's free space was asked after
the partial checkpoint folder was removed, when the disk was no longer full. The disk is simulated at the OS
boundary: torch.save raising torch's error, os.statvfs answering 0 free while the partial folder is there."""

from __future__ import annotations

import os

import pytest

from lorplan.cli import main

from .test_train import tiny_plan

pytestmark = pytest.mark.slow


def test_a_full_disk_at_torch_save_is_said_to_be_full(tmp_path, tiny_llama, monkeypatch, capsys):
    import torch

    out = tmp_path / "out"
    partial = out / ".checkpoint-2.tmp"
    real_save, real_statvfs = torch.save, os.statvfs

    def save(obj, f, *args, **kwargs):
        if str(partial) in str(f):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 53632 vs 53524")
        return real_save(obj, f, *args, **kwargs)

    def statvfs(path):
        st = real_statvfs(path)
        if partial.exists():  # the partial checkpoint took the last of the disk
            return os.statvfs_result((st.f_bsize, st.f_frsize, st.f_blocks, 0, 0, *tuple(st)[5:]))
        return st

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(os, "statvfs", statvfs)
    plan = tiny_plan(tmp_path, tiny_llama, max_steps=2, save_steps=2)
    assert main(["train", str(plan), "--no-progress"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"lorplan train: could not save checkpoint-2 in {out} (No space left on device); no checkpoint was saved "
        "before it; free space there and start again")
    assert not partial.exists()
