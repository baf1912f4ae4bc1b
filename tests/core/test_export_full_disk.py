"""An export of several files (peft: the adapter config, a training script, ...) on a disk that fills part-way:
with --force over an earlier export, the first files were already replaced when a later one failed, leaving a
folder of old and new files that belong to no one plan; a new folder was left behind empty. Now every file is
written to its temporary name before any is moved into place, so the old export stays whole, and a folder the
export made is removed. The full disk is simulated at the OS boundary (os.fsync raising ENOSPC on the Nth file):
CI cannot mount one."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from lorplan.cli import main
from lorplan.core.plan import read_plan, write_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def _fail_on(monkeypatch, nth: int) -> None:
    real, calls = os.fsync, {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == nth:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def _export(tmp_path, *extra) -> int:
    plan_path = tmp_path / "p.toml"
    if not plan_path.exists():
        # 4-bit: bnb_config.json beside adapter_config.json
        write_plan(read_plan(SAMPLES / "qwen3-8b-qlora-rank-pattern-24gb.toml"), plan_path)
    return main(["export", str(plan_path), "--to", "peft", "-o", str(tmp_path / "peft"), *extra])


def test_a_failed_forced_export_keeps_the_earlier_one_whole(tmp_path, monkeypatch, capsys):
    assert _export(tmp_path) == 0
    folder = tmp_path / "peft"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert len(before) >= 2, before  # several files, so a part-way failure could mix them
    for p in folder.iterdir():
        p.write_bytes(b"old " + p.read_bytes())  # the earlier export, told apart from the new one
    old = {p.name: p.read_bytes() for p in folder.iterdir()}
    capsys.readouterr()
    _fail_on(monkeypatch, 2)  # the second file's write fails: the first was already replaced before
    assert _export(tmp_path, "--force") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and str(folder) in err[0], err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == old  # every file old, no temporary left


def test_a_failed_export_removes_the_folder_it_made(tmp_path, monkeypatch, capsys):
    _fail_on(monkeypatch, 2)
    assert _export(tmp_path) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not (tmp_path / "peft").exists()  # was: peft/ left with the first file in it


def test_folders_made_for_several_targets_are_all_removed(tmp_path, monkeypatch):
    from lorplan.core.errors import BadInput
    from lorplan.core.export.files import write_files_atomic

    _fail_on(monkeypatch, 2)
    top = tmp_path / "new"
    try:
        write_files_atomic({top / "a" / "x.json": "{}", top / "b" / "y.json": "{}"})
    except BadInput:
        pass
    else:
        raise AssertionError("the second write should fail")
    assert not top.exists()  # was: new/ left behind, removed before its second child
