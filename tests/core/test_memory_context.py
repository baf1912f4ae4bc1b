"""Which CUDA context `lorplan plan` prices: given, measured through NVML on this GPU (cached per GPU, driver and
torch), or the default; and the sentence that says which. NVML is faked at the driver boundary (no NVIDIA driver
on the test machine); the measuring child is the real one (it fails here: no CUDA)."""

from __future__ import annotations

import json
import sys

import pytest
from test_gpu import DEVS, driver_nvml

from lorplan.cli import build_parser
from lorplan.cli.plan_args import cuda_context_from_args, setup_from_args
from lorplan.core import gpu
from lorplan.core.errors import BadInput
from lorplan.core.memory import DEFAULT_CUDA_CONTEXT_BYTES
from lorplan.core.memory.context import cache_file, cached_context, measure_context


@pytest.fixture
def nvml(monkeypatch, tmp_path):
    yield from driver_nvml(monkeypatch, tmp_path, DEVS)


def _choice(*flags: str):
    args = build_parser().parse_args(["plan", "--model", "m", *flags])
    return cuda_context_from_args(args, setup_from_args(args))


def _cache(uuid: str, nbytes: int) -> None:
    from importlib.metadata import version

    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({f"{uuid}|550.54.15|{version('torch')}": {"bytes": nbytes, "gpu": "x"}}))


def test_without_a_measurement_the_default_is_priced_and_said(nvml):
    setup, choice = _choice()
    assert setup.cuda_context_bytes is None
    assert choice.source == "default" and choice.bytes == DEFAULT_CUDA_CONTEXT_BYTES
    assert "lorplan's default" in choice.note and "--cuda-context measure" in choice.note


def test_a_cached_measurement_of_this_gpu_driver_and_torch_is_priced(nvml):
    _cache("GPU-bbbb", 391 * 1024**2)
    assert cached_context(0) is None  # device 0 is the H100: nothing measured there
    setup, choice = _choice("--gpu", "1")
    assert setup.cuda_context_bytes == 391 * 1024**2
    assert choice.source == "measured" and choice.bytes == 391 * 1024**2
    assert choice.note == ("CUDA context: 391.00 MiB measured through NVML on NVIDIA RTX 4090 (driver 550.54.15, "
                           f"torch {cached_context(1).torch})")
    # a preset names no device of this machine: the default, not the local measurement
    assert _choice("--gpu", "RTX-4090")[1].source == "default"
    # a size given wins, and CPU kernels have no context
    assert _choice("--gpu", "1", "--cuda-context", "1GiB")[1][:2] == (1024**3, "given")
    assert _choice("--gpu", "1", "--kernels", "cpu")[1][:2] == (0, "cpu")


def test_measuring_needs_a_gpu_and_a_cuda_child(nvml, monkeypatch):
    with pytest.raises(BadInput, match="--cuda-context measure: no GPU 5 to measure"):
        measure_context(5)
    # the real child: this machine's torch has no CUDA, so it fails, and the message says why
    with pytest.raises(BadInput, match=r"--cuda-context measure: the CUDA child failed \(.+\)"):
        measure_context(0)
    assert not cache_file().exists()


def test_without_nvml_nothing_is_measured(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    gpu.reset()
    try:
        assert cached_context(0) is None
        assert _choice()[1].source == "default"
        with pytest.raises(BadInput, match="no GPU 0 to measure .*nvidia-ml-py is not installed"):
            _choice("--cuda-context", "measure")
    finally:
        gpu.reset()
