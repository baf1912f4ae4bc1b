"""NCCL's shared memory in /dev/shm (a docker container's is 64 MB unless started with --shm-size) too small for
a run on several GPUs: torch's DistBackendError, a traceback in every process, whose 'No space left on device'
(newer NCCL) the checkpoint saves would have taken for the output folder's disk. Now one line, exit 1, saying
what to do (--shm-size, or NCCL_SHM_DISABLE=1).

The texts are NCCL's own as torch raises them: NCCL 2.21.5 through torch's NCCLUtils.hpp (reported in
hiyouga/LlamaFactory#7233, a 4-GPU run in a container), and NCCL's misc/shmutils.cc that adds the OS error
(pytorch/ci-infra#490, a CI pod's 64 MB /dev/shm). No GPU here: the error is raised where accelerate's prepare
makes the first NCCL call (the engine's build), in the real torch exception type."""

from __future__ import annotations

import pytest
import torch.distributed

from lorplan.cli import main
from lorplan.core.plan import read_plan
from lorplan.train import runner
from lorplan.train.write_error import nccl_shm_failure, write_error

from .test_train import tiny_plan

NCCL_2_21 = ("NCCL error in: /pytorch/torch/csrc/distributed/c10d/NCCLUtils.hpp:268, unhandled system error (run "
             "with NCCL_DEBUG=INFO for details), NCCL version 2.21.5\nncclSystemError: System call (e.g. socket, "
             "malloc) or external library call failed or device error. \nLast error:\nError while creating shared "
             "memory segment /dev/shm/nccl-LeXlEJ (size 9637888)")
NCCL_NEWER = NCCL_2_21.replace("(size 9637888)", "(size 9637888), error: No space left on device (28)")


@pytest.mark.parametrize("text", [NCCL_2_21, NCCL_NEWER])
def test_nccl_s_shared_memory_is_named_and_no_write_into_the_folder(text, tmp_path):
    exc = torch.distributed.DistBackendError(text)
    assert nccl_shm_failure(exc) == "/dev/shm/nccl-LeXlEJ (size 9637888)"
    assert write_error(exc, tmp_path) is None  # not the output folder's disk: its 'No space left' is /dev/shm's
    wrapped = RuntimeError("broadcast failed")
    wrapped.__cause__ = exc
    assert nccl_shm_failure(wrapped) == "/dev/shm/nccl-LeXlEJ (size 9637888)"
    assert nccl_shm_failure(torch.distributed.DistBackendError("NCCL error: unhandled cuda error")) is None


@pytest.fixture
def failing_prepare(monkeypatch):
    def build_engine(*args, **kwargs):
        raise torch.distributed.DistBackendError(NCCL_NEWER)

    monkeypatch.setattr(runner, "build_engine", build_engine)


EXPECTED = ("NCCL could not make its shared memory segment /dev/shm/nccl-LeXlEJ (size 9637888) between the GPUs' "
            "processes: /dev/shm is full or too small (a docker container's is 64 MB unless started with "
            "--shm-size, e.g. --shm-size=16g); give it room, or set NCCL_SHM_DISABLE=1 to go without it (slower)")


def test_run_training_says_it_in_one_line(tmp_path, tiny_llama, failing_prepare):
    plan = tiny_plan(tmp_path, tiny_llama)
    with pytest.raises(runner.SharedMemoryFull) as caught:
        run = read_plan(str(plan))
        runner.run_training(run, plan_path=str(plan), progress=False)
    assert str(caught.value) == EXPECTED


def test_lorplan_train_prints_the_line_and_ends_1(tmp_path, tiny_llama, failing_prepare, capsys):
    plan = tiny_plan(tmp_path, tiny_llama)
    assert main(["train", str(plan), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"lorplan train: {EXPECTED}"
    assert "Traceback" not in err
