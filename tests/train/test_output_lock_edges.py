"""The output folder's lock (lorplan.train.lock) at its edges: a folder removed under a taker by a run refused
there, a file system that takes no flock, an output path that is a link to nothing, two spellings of one folder,
and the lock's descriptor in child processes.

No timing decides anything: the other run's removal happens inside the taker's own os.open (the one moment it
matters), the holder is the test process or a child blocked reading its stdin."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lorplan.train import lock as lock_module
from lorplan.train.lock import OutputLock, lock_path

from .test_output_lock import _refusal, _train, plan  # noqa: F401  (plan: the module's fixture, a real tiny plan)


def _remove_folder_at_first_open(monkeypatch, out: Path, other: OutputLock) -> None:
    """The other run (refused after it made `out`) ends just as this taker opens the lock file: its release
    removes its lock file and the folder it made, between the taker's look at the folder and its open."""
    real_open = os.open
    pending = [other]

    def racing_open(path, *args, **kwargs):
        if pending and Path(path) == lock_path(out):
            pending.pop().release()
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", racing_open)


def test_a_folder_removed_by_a_refused_run_as_the_next_takes_it_is_made_again(tmp_path, monkeypatch):
    """Before: 'cannot write there (No such file or directory): make it writable', a false refusal."""
    out = tmp_path / "new" / "run"
    first = OutputLock(out, "first")
    first.take(make=True)  # made new/run, then (say) refused: no GPU for its plan
    assert first.held and out.is_dir()
    _remove_folder_at_first_open(monkeypatch, out, first)
    second = OutputLock(out, "second")
    second.take(make=True)
    try:
        assert not first.held and second.held
        assert os.stat(lock_path(out)).st_ino == os.fstat(second.fd).st_ino
    finally:
        second.release()
    assert not (tmp_path / "new").exists()  # made again by the second, and removed again by it


def test_a_first_look_at_a_folder_removed_meanwhile_finds_no_run_there(tmp_path, monkeypatch):
    """take(make=False), before the inputs are checked: a folder that went is no run's, and nothing is made."""
    out = tmp_path / "run"
    first = OutputLock(out, "first")
    first.take(make=True)
    _remove_folder_at_first_open(monkeypatch, out, first)
    second = OutputLock(out, "second")
    second.take(make=False)
    assert not second.held and not out.exists()
    second.release()


def test_a_file_system_without_flock_leaves_no_lock_file(tmp_path, monkeypatch):
    """Before: the file no run could lock stayed in the folder after the run (and kept a folder made for a
    refused run from being removed)."""
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock_module.fcntl, "flock", no_locks)
    out = tmp_path / "nfs" / "run"
    with OutputLock(out, "--output nfs/run") as lock:
        lock.take(make=True)
        assert not lock.held
        assert lock.note == ("note: --output nfs/run: its file system takes no lock (No locks available), so "
                             "another lorplan train started there would not be stopped")
        assert out.is_dir() and list(out.iterdir()) == []
    assert not (tmp_path / "nfs").exists()  # the run (refused, or one that wrote nothing) leaves no folder


def test_an_output_that_links_to_nothing_is_one_line_before_torch(plan, tmp_path):  # noqa: F811
    """Before: FileExistsError's traceback from the folder's mkdir (once the model had loaded, before 1859895)."""
    out = tmp_path / "run"
    out.symlink_to(tmp_path / "gone")
    got, err = _train(plan, "--max-steps", "1", "--no-progress", "--output", str(out), cwd=tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False, "peft": False}
    assert err == (f"lorplan train: error: --output {out}: it is a link to {tmp_path / 'gone'}, which is not "
                   "there: make that folder, or choose another --output\n")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name in ("run", "gone")) == ["run"]


@pytest.mark.parametrize("spelling", ["link", "./run/", "link/../run", "ABS"])
def test_two_spellings_of_one_folder_are_one_lock(plan, tmp_path, spelling):  # noqa: F811
    out = tmp_path / "run"
    out.mkdir()
    (tmp_path / "link").symlink_to(out)
    given = str(out) if spelling == "ABS" else spelling
    with OutputLock(out, "held by the test") as lock:
        lock.take(make=False)
        got, err = _train(plan, "--max-steps", "1", "--no-progress", "--output", given, cwd=tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert err == _refusal(Path(given), os.getpid())  # as Path spells it


def test_a_child_process_does_not_keep_the_lock(tmp_path):
    """The lock's descriptor is not inherited (O_CLOEXEC), even by a child started with close_fds=False: a run
    that launched processes (accelerate's) and ended no longer holds the folder through them."""
    out = tmp_path / "run"
    out.mkdir()
    first = OutputLock(out, "first")
    first.take(make=False)
    assert not os.get_inheritable(first.fd)
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             close_fds=False)
    try:
        first.release()
        second = OutputLock(out, "second")
        second.take(make=False)  # while the child still lives
        assert second.held
        second.release()
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def test_an_output_whose_name_is_too_long_is_one_line_before_torch(plan, tmp_path):  # noqa: F811
    """Before: OSError's traceback (File name too long) from the first look at the folder."""
    out = tmp_path / ("x" * 300) / "run"
    got, err = _train(plan, "--max-steps", "1", "--no-progress", "--output", str(out), cwd=tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False, "peft": False}
    assert err == (f"lorplan train: error: --output {out}: cannot look there (File name too long), or choose "
                   "another --output\n")
