"""Which GPU a child process of lorplan opens. lorplan numbers GPUs as NVML and nvidia-smi do (PCI bus order); the
CUDA runtime numbers them fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, so a child given a bare index could
open another GPU than the one lorplan priced. Children get the GPU's UUID instead. NVML is faked at the driver
boundary (no NVIDIA driver here): a workstation with an RTX 3060 on PCI bus 1 (NVML 0) and an RTX 4090 on bus 2
(NVML 1), which CUDA's default order would number the other way round."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_gpu import DriverNVML, driver_nvml

from lorplan.core import gpu

U3060 = "GPU-3060aaaa-1111-2222-3333-444455556666"
U4090 = "GPU-4090bbbb-7777-8888-9999-000011112222"
WORKSTATION = [
    {"name": "NVIDIA GeForce RTX 3060", "uuid": U3060, "total": 12 * gpu.GiB, "used": 0, "reserved": 0, "procs": []},
    {"name": "NVIDIA GeForce RTX 4090", "uuid": U4090, "total": 24 * gpu.GiB, "used": 0, "reserved": 0, "procs": []},
]


@pytest.fixture
def workstation(monkeypatch, tmp_path):
    yield from driver_nvml(monkeypatch, tmp_path / "cache", WORKSTATION)


def test_probe_slots_name_the_gpu_by_uuid_and_show_nvidia_smi_numbers(workstation):
    from lorplan.probe.backend import device_slots, visible_gpus

    assert visible_gpus({}) == [U3060, U4090]
    assert device_slots("cuda:0", None, {}) == [{"device": "cuda:0", "cuda_visible": U3060, "name": "cuda-0-0"}]
    assert device_slots("cuda:1", None, {}) == [{"device": "cuda:0", "cuda_visible": U4090, "name": "cuda-1-0"}]
    assert [(s["cuda_visible"], s["name"]) for s in device_slots("auto", 3, {})] == [
        (U3060, "cuda-0-0"), (U4090, "cuda-1-0"), (U3060, "cuda-0-1")]
    # the user's own selection, read as lorplan reads it everywhere (an index is NVML's, a UUID prefix is unique):
    # the slot's name is the GPU's nvidia-smi number whatever spelling chose it, so runs share one lock per GPU
    for value in ("1", "GPU-4090", U4090):
        assert device_slots("auto", None, {"CUDA_VISIBLE_DEVICES": value}) == [
            {"device": "cuda:0", "cuda_visible": U4090, "name": "cuda-1-0"}], value
    assert [s["cuda_visible"] for s in device_slots("auto", None, {"CUDA_VISIBLE_DEVICES": "1,0"})] == [U4090, U3060]


def test_a_launched_probe_gets_the_uuid_of_the_gpu_lorplan_chose(workstation, state_home, monkeypatch):
    """The real launch() and a real child process; only the child's program is swapped for one that prints the
    environment it was started with (the probe worker needs CUDA, which this machine lacks)."""
    from lorplan.probe import runner, scheduler
    from lorplan.probe.backend import device_slots
    from lorplan.probe.runs import create_run, read_json

    run = create_run(runner.make_plan((4,), steps=1, device="cuda:0"), state_home)
    slot = device_slots("cuda:0", None)[0]
    passed: dict = {}
    real_popen = subprocess.Popen

    def popen(args, **kwargs):
        passed.update(kwargs["env"])
        dump = ("import json, os; print(json.dumps({k: os.environ.get(k) for k in "
                "('CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER', 'LORPLAN_PROBE_DEVICE')}))")
        return real_popen([sys.executable, "-c", dump], **kwargs)

    monkeypatch.setattr(scheduler.subprocess, "Popen", popen)
    proc = scheduler.launch(run, "r4", 0, slot, cpu_threads=1)
    assert proc.wait(timeout=60) == 0
    seen = json.loads((run.probe_dir("r4") / "stdout.log").read_text())
    assert passed["CUDA_VISIBLE_DEVICES"] == U3060
    assert seen == {"CUDA_VISIBLE_DEVICES": U3060, "CUDA_DEVICE_ORDER": None, "LORPLAN_PROBE_DEVICE": "cuda:0"}
    recorded = read_json(run.proc_path("r4"))
    assert (recorded["cuda_visible_devices"], recorded["slot_name"]) == (U3060, "cuda-0-0")


def test_the_cuda_context_child_measures_the_gpu_it_is_priced_for(workstation, monkeypatch):
    """The real measuring child (it fails here: no CUDA); the environment it was given is the GPU's UUID."""
    from lorplan.core.errors import BadInput
    from lorplan.core.memory import context

    given: list[str] = []
    real_popen = subprocess.Popen

    def popen(args, **kwargs):
        given.append(kwargs["env"].get("CUDA_VISIBLE_DEVICES"))
        return real_popen(args, **kwargs)

    monkeypatch.setattr(context.subprocess, "Popen", popen)
    with pytest.raises(BadInput, match="the CUDA child failed"):
        context.measure_context(0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    with pytest.raises(BadInput, match="the CUDA child failed"):
        context.measure_context(0)
    assert given == [U3060, U4090]


def test_torch_in_the_child_sees_exactly_that_gpu(workstation, monkeypatch):
    """torch reads CUDA_VISIBLE_DEVICES itself (its NVML-based device count and device-to-NVML mapping): the
    child's value is one device, NVML's index of the GPU lorplan chose."""
    torch_cuda = pytest.importorskip("torch.cuda")
    from lorplan.probe.backend import device_slots

    for device, nvml_index in (("cuda:0", 0), ("cuda:1", 1)):
        (slot,) = device_slots(device, None, {})
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", slot["cuda_visible"])
        parsed = torch_cuda._parse_visible_devices()
        assert parsed == [slot["cuda_visible"]]
        assert torch_cuda._transform_uuid_to_ordinals(parsed, [U3060, U4090]) == [nvml_index]


def test_order_note_only_where_cuda_may_number_the_gpus_otherwise(workstation, monkeypatch):
    note = gpu.order_note({})
    assert note and "\n" not in note and "CUDA_DEVICE_ORDER=PCI_BUS_ID" in note and "UUID" in note
    assert gpu.order_note({"CUDA_VISIBLE_DEVICES": "1,0"}) == note  # indices: CUDA reads them in its own order
    assert gpu.order_note({"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}) is None
    assert gpu.order_note({"CUDA_VISIBLE_DEVICES": f"{U4090},{U3060}"}) is None  # UUIDs: no order involved
    assert gpu.order_note({"CUDA_VISIBLE_DEVICES": ""}) is None
    monkeypatch.setitem(sys.modules, "pynvml", DriverNVML([WORKSTATION[1], {**WORKSTATION[1], "uuid": U3060}]))
    gpu.reset()
    assert gpu.order_note({}) is None  # two alike GPUs: either order opens the same kind of card


def test_gpus_command_says_it(workstation, monkeypatch, capsys):
    from lorplan.cli import main

    assert main(["gpus"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[0] NVIDIA GeForce RTX 3060") and out[1].startswith("[1] NVIDIA GeForce RTX 4090")
    assert out[2] == gpu.order_note({})
    assert main(["gpus", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["note"] == gpu.order_note({})
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    assert main(["gpus"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_the_planners_gpu_report_carries_the_note(workstation, monkeypatch):
    from lorplan.tui import bridge

    report = bridge.query_gpus()
    assert [g.name for g in report.gpus] == ["NVIDIA GeForce RTX 3060", "NVIDIA GeForce RTX 4090"]
    assert report.note == gpu.order_note({}) and report.note
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    assert bridge.query_gpus().note is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert bridge.query_gpus() == bridge.GpuReport((), "CUDA_VISIBLE_DEVICES hides every device", None)

class CudaUUID:
    """What torch.cuda.get_device_properties(i).uuid is: an object whose str() is CUDA's UUID, without NVML's
    "GPU-" prefix (torch/csrc/cuda/Module.cpp, _CUuuid.__str__)."""

    def __init__(self, nvml_uuid: str):
        self.text = nvml_uuid.split("-", 1)[1]

    def __str__(self):
        return self.text


def fake_cuda(monkeypatch, *nvml_uuids: str) -> None:
    """torch.cuda's device properties as CUDA numbers the devices: cuda:i is the GPU of nvml_uuids[i]."""
    from types import SimpleNamespace

    import torch

    def props(i):
        if not 0 <= i < len(nvml_uuids):
            raise AssertionError("Invalid device id")
        return SimpleNamespace(name="?", uuid=CudaUUID(nvml_uuids[i]))

    monkeypatch.setattr(torch.cuda, "get_device_properties", props)


UMIG = "MIG-5c3e0b1e-aaaa-bbbb-cccc-ddddeeeeffff"


@pytest.fixture
def busy_workstation(monkeypatch, tmp_path):
    """The workstation with this process on both GPUs: 5 GiB on the 4090, 300 MiB (a stray context) on the 3060,
    so reading the wrong GPU gives a wrong figure, not a missing one."""
    import os

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    me = os.getpid()
    mig = {"name": "MIG 1g.5gb", "uuid": UMIG, "total": 5 * gpu.GiB, "used": 0, "reserved": 0,
           "procs": [(me, 2 * gpu.GiB)]}
    fake = DriverNVML([{**WORKSTATION[0], "procs": [(me, 300 * gpu.MiB), (1, 7 * gpu.GiB)]},
                       {**WORKSTATION[1], "procs": [(1, 9 * gpu.GiB), (me, 5 * gpu.GiB)], "migs": [mig]}])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    gpu.reset()
    yield fake
    gpu.reset()


def test_the_memory_meter_reads_the_gpu_torch_trains_on(busy_workstation, monkeypatch):
    """CUDA's default order makes the 4090 cuda:0; NVML calls it 1. The meter finds it by torch's UUID."""
    pytest.importorskip("torch")
    from lorplan.train.memory import MemoryMeter, cuda_uuid, nvml_process_bytes

    fake_cuda(monkeypatch, U4090, U3060)  # fastest first
    assert cuda_uuid(0) == U4090 and cuda_uuid(1) == U3060 and cuda_uuid(2) is None
    assert nvml_process_bytes(0) == 5 * gpu.GiB
    assert nvml_process_bytes(1) == 300 * gpu.MiB
    meter = MemoryMeter("cuda", 0)
    meter.sample()
    assert (meter.uuid, meter.nvml_peak) == (U4090, 5 * gpu.GiB)
    # a subset: CUDA_VISIBLE_DEVICES=1 makes the 4090 cuda:0 in every order
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    fake_cuda(monkeypatch, U4090)
    assert nvml_process_bytes(0) == 5 * gpu.GiB
    # a MIG instance: CUDA's UUID is NVML's MIG-<same digits>
    fake_cuda(monkeypatch, "GPU-" + UMIG[4:])
    assert nvml_process_bytes(0) == 2 * gpu.GiB
    # a device NVML does not know: nothing, not another GPU's figure
    fake_cuda(monkeypatch, "GPU-00000000-0000-0000-0000-000000000000")
    assert nvml_process_bytes(0) is None


def test_without_torchs_uuid_the_meter_reads_an_index_only_where_cuda_numbers_alike(busy_workstation, monkeypatch):
    """This torch has no CUDA: get_device_properties raises, as it does where the UUID is unavailable."""
    pytest.importorskip("torch")
    from lorplan.train.memory import MemoryMeter, cuda_uuid, nvml_process_bytes

    assert cuda_uuid(0) is None
    assert nvml_process_bytes(0) is None  # different GPUs, CUDA's own order: cuda:0 may be either
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    assert nvml_process_bytes(0) == 300 * gpu.MiB and nvml_process_bytes(1) == 5 * gpu.GiB
    monkeypatch.delenv("CUDA_DEVICE_ORDER")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", U4090)  # one device named by UUID: no order involved
    assert nvml_process_bytes(0) == 5 * gpu.GiB
    # NVML failing mid-run: the meter records nothing and does not raise
    fake_cuda(monkeypatch, U4090)

    def refuse(handle):
        raise busy_workstation.NVMLError("GPU is lost")

    monkeypatch.setattr(busy_workstation, "nvmlDeviceGetComputeRunningProcesses", refuse, raising=False)
    meter = MemoryMeter("cuda", 0)
    meter.sample()
    assert meter.nvml_peak is None
    monkeypatch.setitem(sys.modules, "pynvml", DriverNVML([], fail_init="Driver Not Loaded"))
    gpu.reset()
    assert nvml_process_bytes(0) is None
