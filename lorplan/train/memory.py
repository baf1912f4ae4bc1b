"""Measured peak memory of a run, for comparison with the plan's estimate.

CUDA: torch.cuda.max_memory_allocated / max_memory_reserved since the start of the run (what the planner
models; nvidia-smi shows reserved plus the CUDA context). CPU: the process's peak resident set size
(getrusage ru_maxrss), which also counts the Python runtime and libraries, so it is an upper bound of the
training state; the RSS before the model was loaded is reported too.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass


def rss_now_bytes() -> int:
    """Current RSS of this process in bytes (psutil)."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def rss_peak_bytes() -> int:
    """Peak RSS of this process in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass(frozen=True)
class MeasuredMemory:
    device: str  # "cuda" or "cpu"
    peak_allocated_bytes: int | None  # CUDA only
    peak_reserved_bytes: int | None  # CUDA only
    peak_rss_bytes: int
    rss_before_model_bytes: int

    @property
    def comparable_bytes(self) -> int:
        """The figure to compare with the estimate: reserved on CUDA, RSS growth during the run on CPU."""
        if self.peak_reserved_bytes is not None:
            return self.peak_reserved_bytes
        return max(0, self.peak_rss_bytes - self.rss_before_model_bytes)


def reset_cuda_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def measure(device: str, rss_before: int) -> MeasuredMemory:
    import torch

    if device == "cuda":
        return MeasuredMemory("cuda", int(torch.cuda.max_memory_allocated()), int(torch.cuda.max_memory_reserved()),
                              rss_peak_bytes(), rss_before)
    return MeasuredMemory("cpu", None, None, rss_peak_bytes(), rss_before)


def report_lines(measured: MeasuredMemory, estimate_total: int | None) -> list[str]:
    """Human lines comparing measured peak memory with the plan's estimate."""
    from lorplan.core.units import format_bytes

    lines = []
    if measured.device == "cuda":
        lines.append(f"peak memory (CUDA): allocated {format_bytes(measured.peak_allocated_bytes)}, "
                     f"reserved {format_bytes(measured.peak_reserved_bytes)}")
    else:
        lines.append(f"peak memory (CPU RSS): {format_bytes(measured.peak_rss_bytes)}, of which "
                     f"{format_bytes(measured.comparable_bytes)} since the model was loaded "
                     "(RSS includes libraries; the plan estimates one GPU)")
    if estimate_total:
        ratio = measured.comparable_bytes / estimate_total
        lines.append(f"planned: {format_bytes(estimate_total)}; measured/planned = {ratio:.2f}")
    else:
        lines.append("planned: the plan has no [estimate] to compare with")
    return lines
