"""Why a write failed, in the OS's words, from what the OS, torch.save or safetensors raised. Stdlib only.

An OSError says it itself. torch.save's writer raises RuntimeError ('[enforce fail at inline_container.cc:672]
. unexpected pos 576 vs 534', its context 'basic_ios::clear: iostream error') and names no OS error; safetensors
raises its own error whose text does ('Error while serializing: I/O error: File too large (os error 27)'). Both
`lorplan train`'s checkpoints (lorplan.train.checkpoint) and a probe's worker (whether its probe ended for want
of space: lorplan.probe.worker.out_of_space) read them here.

NCCL's shared memory in /dev/shm (a docker container's is 64 MB by default) is no write into the run's folder,
though newer NCCL says 'No space left on device' of it: nccl_shm_failure, not write_error.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

# A write that found no space: the disk, the user's quota, or the file size limit (RLIMIT_FSIZE).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

_OS_ERROR = re.compile(r"os error (\d+)")  # Rust's io::Error, as safetensors says it
# torch.save's writer on a failed write (see above), or 'PytorchStreamWriter failed writing file ...'
_TORCH_WRITER = re.compile(r"inline_container\.cc|PytorchStreamWriter|iostream error")
# NCCL's shared memory segment it could not make, as torch's DistBackendError says (NCCL 2.21.5: 'NCCL error in:
# .../NCCLUtils.hpp:268, unhandled system error ... Last error:\nError while creating shared memory segment
# /dev/shm/nccl-LeXlEJ (size 9637888)'; newer NCCL's misc/shmutils.cc adds ', error: No space left on device (28)')
_NCCL_SHM = re.compile(r"Error while creating shared memory segment (\S+ \(size \d+\))")


@dataclass(frozen=True)
class WriteError:
    """A write that failed: the OS's error number (None where nothing names one) and its reason in words."""

    errno: int | None
    reason: str

    @property
    def no_space(self) -> bool:
        """The disk, quota or file size had no room for it."""
        return self.errno in NO_SPACE


def write_error(exc: BaseException, folder: Path | None = None) -> WriteError | None:
    """The WriteError `exc` is, read from it, its __cause__ and its __context__ in this order: the evidence of no
    space anywhere among them (an OSError of no space; 'os error N' with N a no-space error; the words of one,
    'No space left on device'), before any other error number; then `exc` an OSError with an error number; 'os
    error N' in their text; `exc` an OSError with none; torch's writer error in their
    text, which is said to be no space left when the disk of `folder` has none free (given: asked now, so
    before the caller frees what the failed write took), else its first line. None for any other error (a bug
    in what was written, such as a pickling error or 'Some tensors share memory'), which is no write that
    failed."""
    if nccl_shm_failure(exc) is not None:  # /dev/shm, not the folder written to
        return None
    chain = [e for e in (exc, exc.__cause__, exc.__context__) if e is not None]
    texts = [str(e) for e in chain]
    # the evidence of no space first, wherever it is in the chain: another error number beside it (a file not
    # found in the context of a write that found no space) is not why the write failed
    for e in chain:
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            return WriteError(e.errno, _words(e))
    for text in texts:
        for m in _OS_ERROR.finditer(text):
            if int(m.group(1)) in NO_SPACE:
                return WriteError(int(m.group(1)), os.strerror(int(m.group(1))))
    for code in NO_SPACE:
        if any(os.strerror(code) in text for text in texts):
            return WriteError(code, os.strerror(code))
    if isinstance(exc, OSError) and exc.errno is not None:
        return WriteError(exc.errno, _words(exc))
    for text in texts:
        m = _OS_ERROR.search(text)
        if m:
            return WriteError(int(m.group(1)), os.strerror(int(m.group(1))))
    if isinstance(exc, OSError):
        return WriteError(None, _words(exc))
    if any(_TORCH_WRITER.search(text) for text in texts):
        if folder is not None and _disk_full(folder):
            return WriteError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return WriteError(None, first_line(exc))
    return None


def nccl_shm_failure(exc: BaseException) -> str | None:
    """The shared memory segment NCCL could not make ("/dev/shm/nccl-LeXlEJ (size 9637888)") when `exc`, its
    __cause__ or its __context__ is that failure (_NCCL_SHM), else None."""
    for e in (exc, exc.__cause__, exc.__context__):
        m = _NCCL_SHM.search(str(e)) if e is not None else None
        if m:
            return m.group(1)
    return None


def first_line(exc: BaseException) -> str:
    """An error's first line, at most 200 characters (its type's name when it has no text)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _words(exc: OSError) -> str:
    return exc.strerror or (os.strerror(exc.errno) if exc.errno is not None else str(exc))


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free == 0
    except OSError:
        return False


__all__ = ["NO_SPACE", "WriteError", "first_line", "nccl_shm_failure", "write_error"]
