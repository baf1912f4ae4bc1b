"""try_lock writes its note into the lock file after taking the flock. When that write failed (ENOSPC on a full
disk) the error went up with the locked descriptor still open: the lock stayed held by this process, and the
descriptor leaked, until the process exited. It now closes the descriptor (which lets the lock go) and raises."""

from __future__ import annotations

import errno
import os

import pytest

from lorplan.probe.backend import lock_held, try_lock


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("failing", ["pwrite", "ftruncate"])
def test_a_failed_note_write_closes_the_lock(tmp_path, monkeypatch, failing):
    path = tmp_path / "locks" / "slot-cpu-0.lock"

    def refused(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    before = _open_fds()
    monkeypatch.setattr(os, failing, refused)
    with pytest.raises(OSError) as caught:
        try_lock(path, "20261205-120000-aaaa r4\n")
    monkeypatch.undo()
    assert caught.value.errno == errno.ENOSPC
    assert _open_fds() == before, "try_lock left its descriptor open"
    assert not lock_held(path), "the lock is still held after the failed write"
    fd = try_lock(path, "another run\n")
    assert fd is not None
    os.close(fd)
