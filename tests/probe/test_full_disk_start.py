"""`lorplan probe start` (and a recommend ladder, which makes its run the same way) when the runs folder cannot
be written: a full disk or quota, a read-only $XDG_STATE_HOME. The failing write is simulated where the OS
reports it (the atomic writer's fsync, os.mkdir), so the test runs as a normal user."""

from __future__ import annotations

import errno
import os

from lorplan.cli import main


def test_a_full_disk_is_one_line_naming_the_run_folder_and_leaves_no_half_made_run(state_home, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("lorplan.core.atomic.os.fsync", full)
    assert main(["probe", "start", "--ranks", "4", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("lorplan probe start: error: cannot make the probe run's folder ")
    assert str(state_home) in err and "(No space left on device)" in err and "XDG_STATE_HOME" in err
    # the plan.json that was not written leaves no run folder behind: `probe list` would show a broken run
    assert [p.name for p in state_home.iterdir() if not p.name.startswith(".")] == []


def test_a_read_only_state_folder_is_one_line(state_home, monkeypatch, capsys):
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(state_home.parent)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    assert main(["probe", "start", "--ranks", "4", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "(Read-only file system)" in err and str(state_home) in err
