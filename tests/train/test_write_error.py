"""One reading of a failed write (lorplan.train.write_error) for `lorplan train`'s checkpoints
(checkpoint.storage_failure / write_failure) and a probe's worker (worker.out_of_space). The two read "os error
N" and the OS's words out of torch's and safetensors' errors with different rules: the checkpoint took an OSError
only as the error itself and 'os error N' only from the error's own text, the worker only no-space errors and
only from the error's own text (or an OSError among its cause and context). Now both take the union: what
either found, the other finds.

The real errors come from the real libraries writing past a file size limit (RLIMIT_FSIZE, EFBIG: a write that
found no room, as a full disk or quota is) in a child process."""

from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys

import pytest

from lorplan.probe.worker import out_of_space
from lorplan.train.checkpoint import storage_failure, write_failure
from lorplan.train.write_error import write_error

NO_SPACE_WORDS = os.strerror(errno.ENOSPC)
QUOTA_WORDS = os.strerror(errno.EDQUOT)

REAL_ERRORS = r'''
import json, resource, signal, sys
import torch
import safetensors.torch
from pathlib import Path
from lorplan.probe.worker import out_of_space
from lorplan.train.checkpoint import storage_failure

folder = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of a signal
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
tensors = {"a": torch.zeros(10000)}
saves = {
    "safetensors": lambda: safetensors.torch.save_file(tensors, folder / "a.safetensors"),
    "torch": lambda: torch.save(tensors, folder / "b.pt"),
    "open": lambda: open(folder / "c.bin", "wb").write(b"x" * 10000),
}
seen = {}
for name, save in saves.items():
    try:
        save()
    except Exception as exc:
        seen[name] = [type(exc).__name__, storage_failure(exc, folder), out_of_space(exc)]
print(json.dumps(seen))
'''


@pytest.mark.slow
def test_the_real_libraries_errors_read_the_same_for_both(tmp_path):
    """Each caller says what it said before for the errors torch, safetensors and Python raise."""
    done = subprocess.run([sys.executable, "-c", REAL_ERRORS, str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=True)
    seen = json.loads(done.stdout)
    too_large = os.strerror(errno.EFBIG)
    assert seen["safetensors"] == ["SafetensorError", too_large, too_large]  # '... File too large (os error 27)'
    assert seen["open"] == ["OSError", too_large, too_large]
    kind, said, worker = seen["torch"]  # '[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534'
    assert kind == "RuntimeError" and said.startswith("[enforce fail at inline_container.cc") and worker is None


def _raised(exc: BaseException, cause: BaseException | None = None, context: BaseException | None = None):
    exc.__cause__, exc.__context__ = cause, context
    return exc


# where the two rules differed, each now finds what the other did (the error, storage_failure, out_of_space)
UNION = {
    # safetensors' text inside the context of the error raised: the checkpoint said 'Error while serializing',
    # the worker nothing
    "os error in the context": (
        _raised(RuntimeError("Error while serializing"),
                context=RuntimeError(f"I/O error: {QUOTA_WORDS} (os error {errno.EDQUOT})")),
        QUOTA_WORDS, QUOTA_WORDS),
    # torch's text for a write into shared memory: the checkpoint raised it as a bug; the worker, which said no
    # space, says none for its run folder now (/dev/shm is no disk of the run's: tests/probe/test_shared_memory_full)
    "no-space words": (RuntimeError(f"unable to write to file </torch_12_0>: {NO_SPACE_WORDS} (28)"),
                       NO_SPACE_WORDS, None),
    "no-space words, not shared memory": (RuntimeError(f"unable to write to file <out.bin>: {NO_SPACE_WORDS} (28)"),
                                          NO_SPACE_WORDS, NO_SPACE_WORDS),
    # an OSError as the cause: the checkpoint raised it as a bug ('[Errno 122] ...' names no 'os error N')
    "OSError as the cause": (_raised(RuntimeError("save failed"), cause=OSError(errno.EDQUOT, QUOTA_WORDS)),
                             QUOTA_WORDS, QUOTA_WORDS),
    # an OSError with no number whose text names one: the checkpoint said its whole text
    "OSError without a number": (OSError(f"I/O error: {NO_SPACE_WORDS} (os error 28)"), NO_SPACE_WORDS,
                                 NO_SPACE_WORDS),
}

# what each said before and still says
KEPT = {
    "ENOSPC": (OSError(errno.ENOSPC, NO_SPACE_WORDS, "/out/log.jsonl"), NO_SPACE_WORDS, NO_SPACE_WORDS),
    "EACCES: a write, not for space": (OSError(errno.EACCES, os.strerror(errno.EACCES)),
                                       os.strerror(errno.EACCES), None),
    "safetensors, not for space": (RuntimeError("I/O error: Permission denied (os error 13)"),
                                   os.strerror(errno.EACCES), None),
    "a pickling error": (pickle.PicklingError("Can't pickle local object 'make.<locals>.hook'"), None, None),
    "shared tensors": (RuntimeError("Some tensors share memory, this will lead to duplicate memory on disk"),
                       None, None),
    "torch's writer": (_raised(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"),
                               context=RuntimeError("basic_ios::clear: iostream error")),
                       "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534", None),
}


@pytest.mark.parametrize("case", [*UNION, *KEPT])
def test_both_callers_read_each_error_alike(case, tmp_path):
    exc, checkpoint_says, worker_says = {**UNION, **KEPT}[case]
    assert storage_failure(exc, tmp_path) == checkpoint_says
    assert out_of_space(exc) == worker_says
    if checkpoint_says is not None:
        assert write_failure(exc, tmp_path) == checkpoint_says


def test_torchs_writer_error_on_a_full_disk_is_no_space(tmp_path, monkeypatch):
    """torch names no OS error: a folder whose disk has none free is said to have none (the worker, which names
    no folder, does not guess)."""
    statvfs = os.statvfs
    monkeypatch.setattr(os, "statvfs", lambda p: os.statvfs_result((4096, 4096, 1000, 0, 0, *tuple(statvfs(p))[5:])))
    exc = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 53632 vs 53524")
    assert write_error(exc, tmp_path).reason == NO_SPACE_WORDS and write_error(exc, tmp_path).no_space
    assert storage_failure(exc, tmp_path) == NO_SPACE_WORDS
    assert out_of_space(exc) is None


NOT_FOUND_WORDS = os.strerror(errno.ENOENT)

# the evidence of no space wins wherever it is in the chain, before any other error number: an unrelated
# '(os error 2)' or a FileNotFoundError beside it read as 'No such file or directory'
NO_SPACE_FIRST = {
    "words in the error, 'os error 2' in its context": (
        _raised(RuntimeError(f"Error while serializing: {NO_SPACE_WORDS}"),
                context=RuntimeError(f"I/O error: {NOT_FOUND_WORDS} (os error {errno.ENOENT})")),
        errno.ENOSPC),
    "'os error 2' in the cause, 'os error 122' in the context": (
        _raised(RuntimeError("Error while serializing"), cause=RuntimeError("I/O error: (os error 2)"),
                context=RuntimeError(f"I/O error: {QUOTA_WORDS} (os error {errno.EDQUOT})")),
        errno.EDQUOT),
    "an OSError not found, the words of no space in its context": (
        _raised(FileNotFoundError(errno.ENOENT, NOT_FOUND_WORDS, "/out/adapter.tmp"),
                context=RuntimeError(f"unable to write: {NO_SPACE_WORDS}")),
        errno.ENOSPC),
    "one text with both 'os error 2' and 'os error 28'": (
        RuntimeError("rename failed (os error 2) after write failed (os error 28)"), errno.ENOSPC),
}


@pytest.mark.parametrize("case", NO_SPACE_FIRST)
def test_the_evidence_of_no_space_wins_wherever_it_is(case, tmp_path):
    exc, code = NO_SPACE_FIRST[case]
    found = write_error(exc)
    assert found is not None and found.errno == code and found.no_space, found
    assert storage_failure(exc, tmp_path) == os.strerror(code)
    assert out_of_space(exc) == os.strerror(code)


def test_another_error_number_alone_is_kept(tmp_path):
    exc = _raised(RuntimeError("Error while serializing"), context=RuntimeError("I/O error (os error 2)"))
    assert write_error(exc).errno == errno.ENOENT and not write_error(exc).no_space
    assert out_of_space(exc) is None
    exc = FileNotFoundError(errno.ENOENT, NOT_FOUND_WORDS)
    assert write_error(exc).errno == errno.ENOENT and out_of_space(exc) is None
