"""Which CUDA context a table prices: the one given (--cuda-context SIZE), the one measured on this GPU with
this driver and torch (NVML, cached), or the default (types.DEFAULT_CUDA_CONTEXT_BYTES).

A measurement runs a child Python process that initialises CUDA and runs the kernels a LoRA step loads (matmul,
SDPA, LayerNorm, SiLU, cross-entropy and their backward, an AdamW step) on tiny tensors, and reads what NVML
says that process uses on the device, less what PyTorch's caching allocator reserved (priced elsewhere). The
result is cached per GPU (UUID), driver and torch version in $XDG_CACHE_HOME/lorplan/cuda_context.json, so
later plans on the same machine price it without a new measurement. The parent never imports torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from lorplan.core.errors import BadInput
from lorplan.core.memory.types import DEFAULT_CUDA_CONTEXT_BYTES, TrainingSetup
from lorplan.core.units import format_bytes

# The child: CUDA context, cuBLAS handle and the kernels of one small training step, then its pid and the
# allocator's reserve; it waits on stdin so that NVML can read its usage while it is alive.
_CHILD = r"""
import json, os, sys
import torch
import torch.nn.functional as F
x = torch.randn(2, 8, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
w = torch.randn(64, 64, device="cuda", requires_grad=True)
with torch.autocast("cuda", dtype=torch.bfloat16):
    h = F.silu(F.layer_norm(x @ w, (64,)))
    q = h.view(2, 8, 4, 16).transpose(1, 2)
    o = F.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2).reshape(2, 8, 64)
    loss = F.cross_entropy(o.float().view(16, 64), torch.zeros(16, dtype=torch.long, device="cuda"))
loss.backward()
torch.optim.AdamW([w], foreach=True).step()
torch.cuda.synchronize()
print(json.dumps({"pid": os.getpid(), "reserved": torch.cuda.memory_reserved(), "torch": torch.__version__}),
      flush=True)
sys.stdin.readline()
"""


class Measured(NamedTuple):
    """A CUDA context measured through NVML: bytes, and the GPU, driver and torch it was measured with."""

    bytes: int
    gpu: str
    driver: str
    torch: str


class ContextChoice(NamedTuple):
    """The CUDA context a table prices and why: source is "given", "measured", "default" or "cpu"."""

    bytes: int
    source: str
    note: str

    def as_json(self) -> dict:
        return {"bytes": self.bytes, "source": self.source, "note": self.note}


def cache_file() -> Path:
    """Where measurements are kept: $XDG_CACHE_HOME/lorplan/cuda_context.json (~/.cache when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lorplan" / "cuda_context.json"


def _torch_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return ""


def _device(index: int):
    """(pynvml, NVML handle, GpuInfo, driver version) of the visible device `index`; BadInput when none."""
    from lorplan.core import gpu

    gpus, reason = gpu.list_gpus()
    if index >= len(gpus):
        raise BadInput(f"--cuda-context measure: no GPU {index} to measure ({reason or f'{len(gpus)} visible'})")
    nv = gpu._nvml()
    info = gpus[index]
    handle = nv.nvmlDeviceGetHandleByIndex(info.index)
    driver = nv.nvmlSystemGetDriverVersion()
    return nv, handle, info, driver.decode() if isinstance(driver, bytes) else str(driver)


def _key(uuid: str, driver: str, torch_version: str) -> str:
    return f"{uuid}|{driver}|{torch_version}"


def _read_cache() -> dict:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_context(index: int) -> Measured | None:
    """The measurement cached for the visible GPU `index` with this driver and torch (None when there is none
    or NVML does not answer)."""
    try:
        _, _, info, driver = _device(index)
    except Exception:  # no driver, no library, no device: nothing was measured here
        return None
    hit = _read_cache().get(_key(info.uuid, driver, _torch_version()))
    if not isinstance(hit, dict) or not isinstance(hit.get("bytes"), int):
        return None
    return Measured(hit["bytes"], info.name, driver, _torch_version())


def measure_context(index: int, timeout: float = 180.0) -> Measured:
    """Measure the CUDA context of the visible GPU `index` (a child process; seconds) and cache it. BadInput
    with the reason when there is no GPU, no CUDA build of torch, or NVML cannot see the child's memory."""
    from lorplan.core.atomic import replace_text

    nv, handle, info, driver = _device(index)
    # the device by its UUID (or MIG id), not an index: CUDA may number devices otherwise than NVML does
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": info.uuid}
    before = info.used_bytes
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = child.stdout.readline()
        if not line:
            err = (child.stderr.read() or "").strip().splitlines()
            raise BadInput(f"--cuda-context measure: the CUDA child failed ({err[-1] if err else 'no output'})")
        report = json.loads(line)
        used = None
        try:
            for p in nv.nvmlDeviceGetComputeRunningProcesses(handle):
                if int(p.pid) == report["pid"] and isinstance(getattr(p, "usedGpuMemory", None), int):
                    used = int(p.usedGpuMemory)
        except Exception:
            used = None
        if used is None:  # containers often hide per-process usage: the device's growth is the child's
            used = int(nv.nvmlDeviceGetMemoryInfo(handle).used) - before
    finally:
        try:
            child.communicate("\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
    measured = Measured(max(0, used - int(report["reserved"])), info.name, driver, report["torch"])
    data = _read_cache()
    data[_key(info.uuid, driver, measured.torch)] = {"bytes": measured.bytes, "gpu": info.name}
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return measured


def choose_context(setup: TrainingSetup, measured: Measured | None, given: bool) -> ContextChoice:
    """The context the table prices with `setup` (whose cuda_context_bytes is already the measured or given
    figure when there is one) and the sentence that says which it is."""
    if setup.kernels == "cpu":
        return ContextChoice(0, "cpu", "CUDA context: none (--kernels cpu)")
    if given and setup.cuda_context_bytes is not None:
        return ContextChoice(setup.cuda_context_bytes, "given",
                             f"CUDA context: {format_bytes(setup.cuda_context_bytes)} (given by --cuda-context)")
    if measured is not None:
        return ContextChoice(measured.bytes, "measured",
                             f"CUDA context: {format_bytes(measured.bytes)} measured through NVML on {measured.gpu} "
                             f"(driver {measured.driver}, torch {measured.torch})")
    return ContextChoice(DEFAULT_CUDA_CONTEXT_BYTES, "default",
                         f"CUDA context: {format_bytes(DEFAULT_CUDA_CONTEXT_BYTES)} (lorplan's default; "
                         "--cuda-context measure measures this machine's GPU through NVML)")
