"""A storage error no command words itself (a full disk, a read-only or foreign folder, a failing disk) was a
traceback; lorplan's main() now prints one line naming the file and what to do, exit 1. Other OSErrors still
surface: they are bugs to see. The failing call is simulated at the OS boundary."""

from __future__ import annotations

import errno
import os

import pytest

from lorplan.cli import main


def _failing(code: int):
    def list_gpus(*args, **kwargs):
        raise OSError(code, os.strerror(code), "/dev/nvidiactl")

    return list_gpus


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "free space there"),
                                             (errno.EACCES, "cannot be written"),
                                             (errno.EIO, "the disk reported an error")])
def test_a_storage_error_is_one_line(code, words, monkeypatch, capsys):
    monkeypatch.setattr("lorplan.core.gpu.list_gpus", _failing(code))
    assert main(["gpus"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"lorplan gpus: {os.strerror(code)} (/dev/nvidiactl); ") and words in err, err


def test_another_os_error_is_not_hidden(monkeypatch):
    monkeypatch.setattr("lorplan.core.gpu.list_gpus", _failing(errno.ECONNREFUSED))
    with pytest.raises(ConnectionRefusedError):
        main(["gpus"])
