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
                                             (errno.EACCES, "check its permissions"),
                                             (errno.EIO, "the disk or device reported an error")])
def test_a_storage_error_is_one_line(code, words, monkeypatch, capsys):
    monkeypatch.setattr("lorplan.core.gpu.list_gpus", _failing(code))
    assert main(["gpus"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"lorplan gpus: {os.strerror(code)} (/dev/nvidiactl); ") and words in err, err
    assert "cannot be written" not in err  # a device read, not a folder written: it said so for EACCES and EPERM


def test_another_os_error_is_not_hidden(monkeypatch):
    monkeypatch.setattr("lorplan.core.gpu.list_gpus", _failing(errno.ECONNREFUSED))
    with pytest.raises(ConnectionRefusedError):
        main(["gpus"])


@pytest.mark.parametrize("code", [errno.EPERM, errno.EACCES, errno.EIO])
def test_a_permission_or_io_error_naming_no_file_is_not_hidden(code, monkeypatch):
    """os.killpg on another user's process group (probe cancel), a socket, a hung-up terminal: no file, no
    storage; it printed 'Operation not permitted; that place cannot be written: choose another folder...'."""
    def refused(*args, **kwargs):
        raise OSError(code, os.strerror(code))  # what os.killpg raises: no file name

    monkeypatch.setattr("lorplan.core.gpu.list_gpus", refused)
    with pytest.raises(OSError) as raised:
        main(["gpus"])
    assert raised.value.errno == code
