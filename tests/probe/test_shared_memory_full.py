"""A probe whose shared memory (/dev/shm) has no room. torch's error for it names no space left
('unable to allocate shared memory(shm) for file </torch_PID_N_N>: No space left on device (28)'), which the
worker read as its run folder's disk: the probe said "could not write in RUN_FOLDER ... free space there" and its
result said out_of_space, so the run's scheduler launched no more probes. Now the probe says shared memory is full
and the run goes on (its folder's disk is not full).

The real error comes from torch itself: share_memory_() in a child process with a file size limit (RLIMIT_FSIZE,
EFBIG, the same kind of refusal as a full /dev/shm's ENOSPC) fails in torch's shared-memory allocator."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from lorplan.probe import runner
from lorplan.probe.runs import create_run, read_json
from lorplan.probe.worker import out_of_space, shared_memory_full

NO_SPACE_WORDS = os.strerror(errno.ENOSPC)
TOO_LARGE_WORDS = os.strerror(errno.EFBIG)

TORCH_SHM_ERROR = r'''
import resource, signal
import torch
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    torch.zeros(100000).share_memory_()
except RuntimeError as exc:
    print(exc)
'''


@pytest.fixture(scope="module")
def real_torch_error() -> str:
    """torch's own text: 'unable to resize file </torch_PID_N_N> to the right size: File too large (27)'."""
    done = subprocess.run([sys.executable, "-c", TORCH_SHM_ERROR], capture_output=True, text=True, timeout=300,
                          check=True)
    text = done.stdout.strip()
    assert "</torch_" in text and TOO_LARGE_WORDS in text, text
    return text


# torch's shared-memory allocator (aten/src/ATen/MapAllocator.cpp) when /dev/shm is full: posix_fallocate's ENOSPC
FULL_SHM = f"unable to allocate shared memory(shm) for file </torch_4242_2614931390_0>: {NO_SPACE_WORDS} (28)"
# torch's DataLoader when a worker writing into a full /dev/shm gets SIGBUS
DATALOADER_BUS_ERROR = ("DataLoader worker (pid 4242) is killed by signal: Bus error. It is possible that "
                        "dataloader's workers are out of shared memory. Please try to raise your shared memory limit.")


def test_torchs_shared_memory_error_is_no_space_of_the_run_folder(real_torch_error):
    exc = RuntimeError(real_torch_error)
    assert out_of_space(exc) is None  # was 'File too large': the run folder said to be out of space
    assert shared_memory_full(exc) == TOO_LARGE_WORDS
    assert out_of_space(RuntimeError(FULL_SHM)) is None and shared_memory_full(RuntimeError(FULL_SHM)) == NO_SPACE_WORDS
    in_shm = OSError(errno.ENOSPC, NO_SPACE_WORDS, "/dev/shm/lorplan_batch")
    assert out_of_space(in_shm) is None and shared_memory_full(in_shm) == NO_SPACE_WORDS
    assert shared_memory_full(RuntimeError(DATALOADER_BUS_ERROR)) == "a DataLoader worker was killed by a bus error"


def test_other_errors_are_not_shared_memory():
    disk = OSError(errno.ENOSPC, NO_SPACE_WORDS, "/runs/r/events.jsonl")
    assert shared_memory_full(disk) is None and out_of_space(disk) == NO_SPACE_WORDS
    too_many = RuntimeError("unable to open shared memory object </torch_4242_1_0> in read-write mode: Too many open "
                            "files (24)")
    assert shared_memory_full(too_many) is None and out_of_space(too_many) is None
    assert shared_memory_full(RuntimeError("boom")) is None


@pytest.mark.parametrize("which", ["real torch error", "full /dev/shm"])
def test_a_probe_whose_shared_memory_is_full_says_so_and_the_run_goes_on(which, real_torch_error, state_home,
                                                                         monkeypatch):
    from lorplan.probe import worker

    text = real_torch_error if which == "real torch error" else FULL_SHM
    reason = TOO_LARGE_WORDS if which == "real torch error" else NO_SPACE_WORDS
    run = create_run(runner.make_plan((4,), steps=6, micro_batch=4, eval_every=6, eval_examples=8, device="cpu",
                                      max_parallel=1, run="20261205-060000-shmf"), state_home)

    def fails(run, probe_id, emit, state, *args, **kwargs):
        state.step = 2
        raise RuntimeError(text)

    monkeypatch.setattr(worker, "run_probe", fails)
    result = worker.run_worker(run.path, "r4", "cpu")
    assert result["state"] == "failed"
    assert result["message"] == (f"shared memory (/dev/shm) is full ({reason}) at step 2: free space there or give "
                                 "it more (e.g. docker run --shm-size), then retry the probe")
    assert str(run.path) not in result["message"]
    assert "out_of_space" not in result  # the scheduler goes on launching probes: the run folder has room
    assert "out_of_space" not in read_json(run.result_path("r4"))
