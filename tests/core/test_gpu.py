"""GPU facts: no driver here gives ([], reason); CUDA_VISIBLE_DEVICES parsing; presets."""

from __future__ import annotations

import importlib.util

import pytest

from lorplan.core import gpu
from lorplan.core.errors import BadInput


def nvml_available() -> bool:
    if importlib.util.find_spec("pynvml") is None:
        return False
    return not gpu.list_gpus()[1]


def test_no_driver_is_a_reason_not_an_exception():
    gpus, reason = gpu.list_gpus()
    if gpus:
        pytest.skip("this machine has a GPU")
    assert gpus == [] and isinstance(reason, str) and reason and "\n" not in reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", []),
        ("0,1", ["0", "1"]),
        (" 2 , 0", ["2", "0"]),
        ("1,-1,0", ["1"]),
        ("0,abc,1", ["0"]),
        ("GPU-8f2a,1", ["GPU-8f2a", "1"]),
        ("MIG-abcd", ["MIG-abcd"]),
    ],
)
def test_parse_visible_devices(value, expected):
    assert gpu.parse_visible_devices(value) == expected


DEVICES = [(0, "GPU-aaaa-1111"), (1, "GPU-bbbb-2222"), (2, "GPU-aaab-3333")]


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, [0, 1, 2]),
        ([], []),
        (["2", "0"], [2, 0]),
        (["1", "7", "0"], [1]),  # out of range ends the list
        (["0", "0"], [0]),  # repeat ends the list
        (["GPU-bbbb"], [1]),
        (["GPU-aaa"], []),  # ambiguous prefix
        (["GPU-aaab", "0"], [2, 0]),
    ],
)
def test_select_visible(visible, expected):
    assert gpu.select_visible(DEVICES, visible) == expected


def test_presets_and_resolve():
    assert gpu.find_preset("rtx 4090")[0] == "RTX-4090"
    assert gpu.find_preset("H200")[1] > 130 * 1024**3
    assert gpu.find_preset("a100-80gb")[1] == 81920 * 1024**2
    assert gpu.find_preset("4090")[0] == "RTX-4090"
    assert gpu.find_preset("A100") is None  # ambiguous: 40GB or 80GB
    assert gpu.resolve_gpu("L40S") == ("L40S", 46068 * 1024**2)
    for name in ("RTX-3090", "RTX-5090", "A10G", "L4", "T4", "A100-40GB", "H100-80GB", "MI300X", "RTX-A6000"):
        assert name in gpu.PRESETS
    with pytest.raises(BadInput, match="unknown GPU"):
        gpu.resolve_gpu("TPUv9")


@pytest.mark.gpu
@pytest.mark.skipif(not nvml_available(), reason="needs an NVIDIA driver and a GPU (NVML)")
def test_real_gpu_memory_facts():
    gpus, reason = gpu.list_gpus()
    assert reason is None and gpus
    g = gpus[0]
    assert g.total_bytes > 0 and g.used_bytes <= g.total_bytes and g.free_bytes <= g.total_bytes
    assert g.uuid.startswith(("GPU-", "MIG-"))


def test_device_index_without_gpu_is_bad_input():
    if gpu.list_gpus()[0]:
        pytest.skip("this machine has a GPU")
    with pytest.raises(BadInput, match="no such GPU"):
        gpu.resolve_gpu("0")
