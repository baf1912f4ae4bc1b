"""Separate runs share one machine-wide queue per device slot: a second run's probe waits (and says for what)
while another run's probe trains on the CPU slot, and starts once that slot is free. Real scheduler and
worker processes; the state_home fixture kills whatever is left."""

from __future__ import annotations

import time

import pytest

from lorplan.probe import runner
from lorplan.probe.backend import device_slots, lock_held

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout=180.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _state(run, pid):
    return {p.id: p for p in runner.status(run).probes}[pid]


def test_slots_have_machine_wide_names():
    assert [s["name"] for s in device_slots("cpu", 3)] == ["cpu-0", "cpu-1", "cpu-2"]
    env = {"CUDA_VISIBLE_DEVICES": "2,5"}
    assert [s["name"] for s in device_slots("auto", 4, env)] == ["cuda-2-0", "cuda-5-0", "cuda-2-1", "cuda-5-1"]


def test_a_gpu_index_beyond_the_visible_ones_says_how_many_there_are():
    """It said "only 0 GPU(s) visible" on a machine without one."""
    from lorplan.core.errors import BadInput

    with pytest.raises(BadInput) as none:
        device_slots("cuda:0", None, {"CUDA_VISIBLE_DEVICES": ""})
    assert str(none.value) == ("--device cuda:0: no GPU is visible (CUDA_VISIBLE_DEVICES / NVML); --device cpu runs "
                               "on the CPU")
    with pytest.raises(BadInput, match=r"^--device cuda:2: only 2 GPUs are visible \(cuda:0-cuda:1\)"):
        device_slots("cuda:2", None, {"CUDA_VISIBLE_DEVICES": "4,5"})
    assert [s["name"] for s in device_slots("cuda:1", None, {"CUDA_VISIBLE_DEVICES": "4,5"})] == ["cuda-5-0"]


def test_a_second_run_waits_for_the_cpu_slot_another_run_holds(state_home, monkeypatch):
    small = dict(steps=3, micro_batch=4, eval_every=3, eval_examples=8, device="cpu")
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "hang@1")  # the first run's probe stays on its slot
    first = runner.start(runner.make_plan((4,), **small))
    wait_for(lambda: _state(first, "r4").state == "running", what="first run's probe running")
    monkeypatch.delenv("LORPLAN_PROBE_INJECT")
    second = runner.start(runner.make_plan((8,), **small))
    slot = second.slot_lock("cpu-0")
    wait_for(lambda: second.waiting_path.exists(), timeout=60, what="second run waiting")
    assert lock_held(slot) and slot.read_text().split() == [first.id, "r4"]
    time.sleep(2)  # the second scheduler polls every 0.5 s: it had four chances to launch
    waiting = _state(second, "r8")
    assert waiting.state == "queued" and not second.proc_path("r8").exists()
    assert waiting.message == f"waiting for cpu-0 (run {first.id}, probe r4)"
    runner.cancel(first)
    st = runner.wait(second, timeout=240)
    assert st.probes[0].state == "finished" and st.probes[0].step == 3
    assert not second.waiting_path.exists()
