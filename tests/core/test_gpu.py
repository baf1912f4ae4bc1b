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
        ("0,2,-1,1", ["0", "2"]),  # the CUDA programming guide's example
        ("-1", []),
        ("1gpu2,2ampere", ["1", "2"]),  # an index is read as strtoul reads it
        ("01", ["1"]),
        ("0,0", []),  # a repeated entry hides every device
        ("GPU-8f2a,GPU-8f2a", []),
        ("0,,1", ["0"]),
        ("gpu-8f2a", []),  # the prefix is GPU-, in capitals
        ("MIG-GPU-8932f937-d72c-4106-c12f-20bd9faed9f6/1/2,MIG-5c3e", [
            "MIG-GPU-8932f937-d72c-4106-c12f-20bd9faed9f6/1/2", "MIG-5c3e"]),
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
        (["0", "GPU-aaaa"], []),  # the same device twice hides every device
        (["GPU-bbbb"], [1]),
        (["GPU-aaa"], []),  # ambiguous prefix
        (["GPU-aaab", "0"], [2, 0]),
        (["1", "MIG-1234"], [1]),  # a MIG id is not one of these GPUs
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


class FakeNVML:
    """Stands in for pynvml at the driver boundary (no NVIDIA driver on the test machine)."""

    nvmlMemory_v2 = 0x02000028

    class NVMLError(Exception):
        pass

    def __init__(self, devices, v2=True, fail_init=None):
        self.devices = devices  # list of dicts: name, uuid, total, used, reserved, procs
        self.v2 = v2
        self.fail_init = fail_init

    def nvmlInit(self):
        if self.fail_init:
            raise self.NVMLError(self.fail_init)

    def nvmlDeviceGetCount(self):
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, i):
        return self.devices[i]

    def nvmlDeviceGetName(self, h):
        return h["name"].encode()

    def nvmlDeviceGetUUID(self, h):
        return h["uuid"]

    def nvmlDeviceGetMemoryInfo(self, h, version=None):
        from types import SimpleNamespace

        if version and not self.v2:
            raise self.NVMLError("Function Not Found")
        mem = SimpleNamespace(total=h["total"], used=h["used"], free=h["total"] - h["used"])
        if version:
            mem.reserved = h["reserved"]
        return mem

    def nvmlDeviceGetHandleByUUID(self, uuid):
        for d in self.devices:
            if d["uuid"] == uuid:
                return d
        for d in self.devices:
            for mig in d.get("migs", ()):
                if mig["uuid"] == uuid:
                    return {**mig, "parent": d}
        raise self.NVMLError("Not Found")

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, h):
        return h["parent"]

    def nvmlDeviceGetIndex(self, h):
        return self.devices.index(h)

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        from types import SimpleNamespace

        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in h["procs"]]


DEVS = [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-aaaa", "total": 80 * gpu.GiB, "used": 10 * gpu.GiB,
     "reserved": 500 * gpu.MiB, "procs": [(1234, 9 * gpu.GiB), (99, None)]},
    {"name": "NVIDIA RTX 4090", "uuid": "GPU-bbbb", "total": 24 * gpu.GiB, "used": 0, "reserved": 300 * gpu.MiB,
     "procs": []},
]


class DriverNVML(FakeNVML):
    """FakeNVML with a driver version (what the --cuda-context measuring child and the order checks read)."""

    def nvmlSystemGetDriverVersion(self):
        return b"550.54.15"


def driver_nvml(monkeypatch, tmp_path, devices):
    """Install a DriverNVML over `devices` as pynvml, with a clean lorplan cache and no CUDA_VISIBLE_DEVICES or
    CUDA_DEVICE_ORDER; yields it (a fixture body: the reading is reset after)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    fake = DriverNVML(devices)
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake)
    gpu.reset()
    yield fake
    gpu.reset()


@pytest.fixture
def fake_nvml(monkeypatch):
    def install(fake):
        monkeypatch.setitem(__import__("sys").modules, "pynvml", fake)
        gpu.reset()
        return fake

    yield install
    gpu.reset()


def test_fake_nvml_devices_in_cuda_order(fake_nvml, monkeypatch):
    fake_nvml(FakeNVML(DEVS))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb,0")
    gpus, reason = gpu.list_gpus()
    assert reason is None
    assert [(g.index, g.cuda_index, g.name) for g in gpus] == [(1, 0, "NVIDIA RTX 4090"), (0, 1, "NVIDIA H100 80GB HBM3")]
    h100 = gpus[1]
    assert (h100.total_bytes, h100.used_bytes, h100.free_bytes, h100.reserved_bytes) == (
        80 * gpu.GiB, 10 * gpu.GiB, 70 * gpu.GiB, 500 * gpu.MiB)
    assert h100.processes == (gpu.GpuProcess(1234, 9 * gpu.GiB), gpu.GpuProcess(99, None))
    assert gpu.resolve_gpu("1") == ("NVIDIA H100 80GB HBM3", 80 * gpu.GiB)


def test_fake_nvml_without_memory_v2(fake_nvml, monkeypatch):
    fake_nvml(FakeNVML(DEVS, v2=False))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpus, _ = gpu.list_gpus()
    assert [g.reserved_bytes for g in gpus] == [0, 0] and gpus[0].total_bytes == 80 * gpu.GiB


def test_fake_nvml_hidden_or_failing(fake_nvml, monkeypatch):
    fake_nvml(FakeNVML(DEVS))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu.list_gpus() == ([], "CUDA_VISIBLE_DEVICES hides every device")
    fake_nvml(FakeNVML([], fail_init="Driver Not Loaded"))
    gpus, reason = gpu.list_gpus()
    assert gpus == [] and "Driver Not Loaded" in reason


def test_gpus_command_with_fake_nvml(fake_nvml, monkeypatch, capsys):
    from lorplan.cli import main

    fake_nvml(FakeNVML(DEVS))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert main(["gpus"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[0] NVIDIA H100 80GB HBM3  total 80.00 GiB  free 70.00 GiB")
    assert "pid 1234: 9.00 GiB" in out[1] and "pid 99: ?" in out[2]


def test_fake_nvml_mig_devices(fake_nvml, monkeypatch):
    mig = {"name": "NVIDIA H100 80GB HBM3 MIG 3g.40gb", "uuid": "MIG-5c3e0b1e-aaaa", "total": 40 * gpu.GiB,
           "used": 0, "reserved": 0, "procs": []}
    fake_nvml(FakeNVML([DEVS[1], {**DEVS[0], "migs": [mig]}]))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-5c3e0b1e-aaaa,MIG-unknown")
    gpus, reason = gpu.list_gpus()
    assert reason is None
    assert [(g.index, g.cuda_index, g.name, g.total_bytes) for g in gpus] == [
        (1, 0, "NVIDIA H100 80GB HBM3 MIG 3g.40gb", 40 * gpu.GiB)]
    assert gpu.visible_entries("MIG-5c3e0b1e-aaaa,MIG-unknown") == ["MIG-5c3e0b1e-aaaa"]


def test_probe_slots_use_the_same_reading(fake_nvml, monkeypatch):
    from lorplan.probe.backend import device_slots, visible_gpus

    fake_nvml(FakeNVML(DEVS))
    assert visible_gpus({}) == ["GPU-aaaa", "GPU-bbbb"]  # unset: every device NVML counts, by UUID
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-bbbb,5,0"}) == ["GPU-bbbb"]  # 5 does not exist: CUDA stops
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,GPU-bbbb"}) == []  # one device twice
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    slots = device_slots("auto", None, {"CUDA_VISIBLE_DEVICES": "1,0"})
    assert [(s["cuda_visible"], s["name"]) for s in slots] == [("GPU-bbbb", "cuda-1-0"), ("GPU-aaaa", "cuda-0-0")]
    fake_nvml(FakeNVML([], fail_init="Driver Not Loaded"))  # no driver: the entries as written
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-x, 3,3"}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-x, 3"}) == ["GPU-x", "3"]
    assert visible_gpus({}) == []
