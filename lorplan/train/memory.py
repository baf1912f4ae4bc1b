"""Measured peak memory of a run (one reader for `lorplan train` and probes), for comparison with the plan.

CUDA: torch's peak allocated, reserved and active bytes since the run's start, as torchtune's
training/memory.py get_memory_stats reads them (torch.cuda.max_memory_allocated, max_memory_reserved and
memory_stats()["active_bytes.all.peak"]); the planner models allocated and reserved. NVML's figure for this
process (lorplan.core.gpu; it adds the CUDA context, as nvidia-smi shows) is sampled when asked and at the
end, where the driver reports per-process memory. CPU: the process's peak resident set size (getrusage
ru_maxrss), which also counts the Python runtime and libraries, so it is an upper bound of the training state;
the RSS before the model was loaded is kept too.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Mapping
from dataclasses import dataclass


def rss_now_bytes() -> int:
    """Current RSS of this process in bytes (psutil)."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def rss_peak_bytes() -> int:
    """Peak RSS of this process in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def cuda_uuid(cuda_index: int) -> str | None:
    """NVML's name of torch's CUDA device `cuda_index` ("GPU-" + the UUID torch reads from CUDA; CUDA's own
    string has no prefix), or None when torch does not say (no CUDA, no such device, a build without it)."""
    try:
        import torch

        raw = str(getattr(torch.cuda.get_device_properties(cuda_index), "uuid", "") or "").strip().lower()
    except Exception:  # no CUDA, an index torch refuses: the meter then says nothing rather than guess
        return None
    if raw.startswith(("gpu-", "mig-")):
        raw = raw[4:]
    return f"GPU-{raw}" if len(raw) == 36 and raw.count("-") == 4 else None


def nvml_handle_by_uuid(nv, uuid: str):
    """NVML's handle of the device CUDA calls `uuid` (cuda_uuid's "GPU-..."), or None when NVML does not know it.
    A MIG instance's CUDA UUID is NVML's "MIG-..." of the same digits (drivers from R470), hence the second try."""
    for name in (uuid, "MIG-" + uuid[4:]):
        try:
            return nv.nvmlDeviceGetHandleByUUID(name)
        except Exception:
            continue
    return None


def nvml_process_bytes(cuda_index: int, uuid: str | None = None) -> int | None:
    """GPU memory NVML attributes to this process on the CUDA device `cuda_index` (torch's index), or None when
    NVML, the device or the per-process figure is unavailable (containers often hide pids).

    The device is found by its UUID (`uuid`, else cuda_uuid(cuda_index)): torch's index i is not NVML's i
    when CUDA numbers GPUs fastest first (its default) or CUDA_VISIBLE_DEVICES selects some. Only when torch
    gives no UUID is the index looked up as lorplan reads CUDA_VISIBLE_DEVICES (list_gpus), and then only
    where CUDA numbers the GPUs alike (order_note is None): a missing figure is better than another GPU's."""
    from lorplan.core import gpu

    uuid = uuid or cuda_uuid(cuda_index)
    try:
        nv = gpu._nvml()
    except RuntimeError:
        return None
    if uuid is not None:
        handle = nvml_handle_by_uuid(nv, uuid)
        if handle is None:
            return None
        used = [int(p.usedGpuMemory) for p in nv.nvmlDeviceGetComputeRunningProcesses(handle)
                if p.pid == os.getpid() and isinstance(getattr(p, "usedGpuMemory", None), int) and p.usedGpuMemory]
        return max(used) if used else None
    gpus, _ = gpu.list_gpus()
    if cuda_index >= len(gpus) or (len(gpus) > 1 and gpu.order_note() is not None):
        return None
    used = [p.used_bytes for p in gpus[cuda_index].processes if p.pid == os.getpid() and p.used_bytes]
    return max(used) if used else None


@dataclass(frozen=True)
class MeasuredMemory:
    device: str  # "cuda" or "cpu"
    peak_allocated_bytes: int | None  # CUDA only
    peak_reserved_bytes: int | None  # CUDA only
    peak_rss_bytes: int
    rss_before_model_bytes: int
    peak_active_bytes: int | None = None  # CUDA only
    peak_nvml_bytes: int | None = None  # CUDA with a driver that reports per-process memory

    @property
    def comparable_bytes(self) -> int:
        """The figure to compare with the estimate: reserved on CUDA, RSS growth during the run on CPU."""
        if self.peak_reserved_bytes is not None:
            return self.peak_reserved_bytes
        return max(0, self.peak_rss_bytes - self.rss_before_model_bytes)

    @property
    def peak_bytes(self) -> int:
        """One peak figure for tables: torch's reserved peak on CUDA, the process's peak RSS on CPU."""
        return self.peak_reserved_bytes if self.peak_reserved_bytes is not None else self.peak_rss_bytes


class MemoryMeter:
    """Peaks of one run: start() before the model is loaded, sample() now and then, measure() at the end."""

    def __init__(self, device: str, cuda_index: int = 0) -> None:
        self.device = device
        self.cuda_index = cuda_index
        self.rss_before = 0
        self.nvml_peak: int | None = None
        self.uuid: str | None = None  # the device's NVML UUID once sampled ("" when torch does not give it)

    def start(self) -> None:
        import torch

        self.rss_before = rss_now_bytes()
        if self.device == "cuda" and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def sample(self) -> None:
        """Record NVML's figure for this process (keeps the maximum); torch keeps its own peaks."""
        if self.device != "cuda":
            return
        try:
            if self.uuid is None:  # asked once: torch's UUID of the device does not change during a run
                self.uuid = cuda_uuid(self.cuda_index) or ""
            used = nvml_process_bytes(self.cuda_index, self.uuid or None)
        except Exception:  # NVML refusing mid-run must not end a training
            used = None
        if used is not None:
            self.nvml_peak = max(self.nvml_peak or 0, used)

    def measure(self) -> MeasuredMemory:
        import torch

        if self.device != "cuda":
            return MeasuredMemory("cpu", None, None, rss_peak_bytes(), self.rss_before)
        self.sample()
        stats = torch.cuda.memory_stats()
        return MeasuredMemory(
            "cuda", int(torch.cuda.max_memory_allocated()), int(torch.cuda.max_memory_reserved()),
            rss_peak_bytes(), self.rss_before, int(stats.get("active_bytes.all.peak", 0)), self.nvml_peak)


def _priced_for_cpu(details: Mapping[str, int] | None) -> bool:
    """Whether the estimate's details are the CPU kernels' (lorplan plan --kernels cpu, a CPU sample): no CUDA
    context and no cuBLAS workspaces. Details written before they named the context read as a GPU's."""
    d = details or {}
    return "cuda_context" in d and not d["cuda_context"] and not d.get("cublas_workspace", 0)


def report_lines(measured: MeasuredMemory, estimate_total: int | None,
                 details: Mapping[str, int] | None = None) -> list[str]:
    """Human lines comparing measured peak memory with the plan's estimate: what was measured, what was planned,
    then `measured/planned:` naming what each ratio compares. On CUDA, with the estimate's details (plans since
    the memory model priced the cuBLAS workspaces): torch's allocated peak against the estimate's allocated
    peak, its reserved peak against allocated + allocator reserve, and NVML's figure for the process against the
    total (the only one holding the CUDA context), as benchmarks/gpu_memory_check.py compares them; without
    details, the reserved peak against the total. On CPU the RSS growth since just before the model was loaded
    (its weights are in it, as in the estimate) against the estimate's tensors (its allocated peak less the
    cuBLAS workspaces; the total when the plan has no details), since a CPU run holds no CUDA context,
    workspaces or allocator reserve."""
    from lorplan.core.units import format_bytes

    cuda = measured.device == "cuda"
    lines = []
    if cuda:
        nvml = (f", process (NVML) {format_bytes(measured.peak_nvml_bytes)}"
                if measured.peak_nvml_bytes is not None else "")
        lines.append(f"peak memory (CUDA): allocated {format_bytes(measured.peak_allocated_bytes)}, "
                     f"reserved {format_bytes(measured.peak_reserved_bytes)}, active "
                     f"{format_bytes(measured.peak_active_bytes)}{nvml}")
    else:
        gpu = "" if _priced_for_cpu(details) else " (the plan estimates one GPU)"
        lines.append(f"peak memory (CPU RSS): {format_bytes(measured.peak_rss_bytes)}, of which "
                     f"{format_bytes(measured.comparable_bytes)} since before the model was loaded{gpu}")
    if not estimate_total:
        lines.append("planned: the plan has no [estimate] to compare with")
        return lines
    d = details or {}
    if cuda and "allocated" in d and "allocator_reserve" in d:
        allocated, reserved = d["allocated"], d["allocated"] + d["allocator_reserve"]
        pairs = [("allocated", measured.peak_allocated_bytes, allocated),
                 ("reserved", measured.peak_reserved_bytes, reserved),
                 ("process (NVML)", measured.peak_nvml_bytes, estimate_total)]
        ratios = ", ".join(f"{name} {got / want:.2f}" for name, got, want in pairs if got and want)
        lines.append(f"planned: allocated {format_bytes(allocated)}, reserved {format_bytes(reserved)}, total "
                     f"{format_bytes(estimate_total)} (with the CUDA context)")
        lines.append(f"measured/planned: {ratios}")
        return lines
    got = measured.comparable_bytes
    what = "reserved peak" if cuda else "RSS growth since before the model was loaded"
    caveat = "" if cuda else " (CPU: RSS counts the allocator's, Python's and the libraries' memory too)"
    if not cuda and "allocated" in d:
        # RSS growth holds the tensors alone: no CUDA context, cuBLAS workspaces or caching allocator's reserve
        tensors = d["allocated"] - d.get("cublas_workspace", 0)
        if tensors > 0:
            extra = ""
            if estimate_total > tensors and _priced_for_cpu(d):
                extra = (f"; its total {format_bytes(estimate_total)} adds an allocator reserve of "
                         f"{format_bytes(estimate_total - tensors)}, left out here")
            elif estimate_total > tensors:
                extra = (f"; its total {format_bytes(estimate_total)} adds the CUDA context, workspaces and "
                         "allocator reserve, which a CPU run does not have")
            lines.append(f"planned: tensors {format_bytes(tensors)} (weights, adapter, optimizer, gradients and "
                         f"activations at the step's peak{extra})")
            lines.append(f"measured/planned: {format_bytes(got)} {what} / {format_bytes(tensors)} of tensors "
                         f"planned = {got / tensors:.2f}{caveat}")
            return lines
    lines.append(f"planned: {format_bytes(estimate_total)} in all (the plan's [estimate] gives no finer figure)")
    lines.append(f"measured/planned: {format_bytes(got)} {what} / {format_bytes(estimate_total)} planned in all = "
                 f"{got / estimate_total:.2f}{caveat}")
    return lines
