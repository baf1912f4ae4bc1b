"""GPU facts through NVML (nvidia-ml-py), and presets for planning on a machine without a GPU.

NVML is initialised lazily on the first query (as nvitop does). No driver, no library or no device gives an empty
list and a one-line reason, never an exception. CUDA_VISIBLE_DEVICES is honoured: devices are listed in the order
and subset the CUDA runtime would expose (integer indices or UUID prefixes; parsing stops at the first invalid
entry, as CUDA does).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from lorplan.core.errors import BadInput

MiB = 1024**2
GiB = 1024**3

# Total memory as nvidia-smi / NVML reports it for each card (a little under the marketed size), in bytes.
PRESETS: dict[str, int] = {
    "T4": 15360 * MiB,
    "V100-16GB": 16384 * MiB,
    "V100-32GB": 32768 * MiB,
    "RTX-3090": 24576 * MiB,
    "RTX-4090": 24564 * MiB,
    "RTX-5090": 32607 * MiB,
    "A10G": 23028 * MiB,
    "A10": 23028 * MiB,
    "L4": 23034 * MiB,
    "RTX-A6000": 49140 * MiB,
    "RTX-6000-Ada": 49140 * MiB,
    "L40S": 46068 * MiB,
    "A100-40GB": 40960 * MiB,
    "A100-80GB": 81920 * MiB,
    "H100-80GB": 81559 * MiB,
    "H200": 143771 * MiB,
    "MI300X": 192 * GiB,
}


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_bytes: int | None  # None when the driver does not say (e.g. inside some containers)


@dataclass(frozen=True)
class GpuInfo:
    """One device as NVML sees it. index is NVML's (physical) index; cuda_index its index under
    CUDA_VISIBLE_DEVICES. reserved_bytes is driver/firmware memory (NVML memory info v2), 0 when unknown."""

    index: int
    cuda_index: int
    name: str
    uuid: str
    total_bytes: int
    free_bytes: int
    used_bytes: int
    reserved_bytes: int
    processes: tuple[GpuProcess, ...] = ()


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def find_preset(text: str) -> tuple[str, int] | None:
    """A preset by name, forgiving case, spaces and dashes ("rtx 4090", "4090", "h100", "a100-80gb")."""
    key = _norm(text)
    if not key:
        return None
    for name, size in PRESETS.items():
        if _norm(name) == key:
            return name, size
    hits = [(n, s) for n, s in PRESETS.items() if key in _norm(n)]
    return hits[0] if len(hits) == 1 or (hits and key.isdigit()) else None


def parse_visible_devices(value: str | None) -> list[str] | None:
    """CUDA_VISIBLE_DEVICES as a list of entries (ints as strings, or UUID prefixes); None = unset (all).

    Parsing stops at the first invalid entry (a negative or non-numeric, non-UUID token), as the CUDA runtime
    does; an empty value hides every device.
    """
    if value is None:
        return None
    out: list[str] = []
    for raw in value.split(","):
        tok = raw.strip()
        if tok.isdigit():
            out.append(str(int(tok)))
        elif tok.upper().startswith(("GPU-", "MIG-")):
            out.append(tok)
        else:
            break
    return out


def select_visible(devices: list[tuple[int, str]], visible: list[str] | None) -> list[int]:
    """NVML indices of the devices CUDA would expose, in CUDA order.

    devices: (nvml_index, uuid) of every device. An index beyond the device count, a repeated device or an
    unknown UUID ends the list (CUDA ignores everything from the first bad entry).
    """
    if visible is None:
        return [i for i, _ in devices]
    chosen: list[int] = []
    for tok in visible:
        if tok.isdigit():
            idx = int(tok)
            match = [i for i, _ in devices if i == idx]
        else:
            match = [i for i, u in devices if u.lower().startswith(tok.lower())]
        if len(match) != 1 or match[0] in chosen:
            break
        chosen.append(match[0])
    return chosen


_lock = threading.Lock()
_state: dict[str, object] = {}


def reset() -> None:
    """Forget the NVML state (the next query initialises again); for tests and long-lived apps."""
    with _lock:
        _state.clear()


def _nvml():
    """The initialised pynvml module, or raise RuntimeError with a one-line reason."""
    with _lock:
        if "module" in _state:
            return _state["module"]
        if "error" in _state:
            raise RuntimeError(_state["error"])
        try:
            import pynvml
        except ImportError:
            _state["error"] = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
            raise RuntimeError(_state["error"]) from None
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            _state["error"] = f"no NVIDIA driver found (NVML: {exc})"
            raise RuntimeError(_state["error"]) from None
        _state["module"] = pynvml
        return pynvml


def _query(nv, handle, nvml_index: int, cuda_index: int) -> GpuInfo:
    name = nv.nvmlDeviceGetName(handle)
    name = name.decode() if isinstance(name, bytes) else str(name)
    uuid = nv.nvmlDeviceGetUUID(handle)
    uuid = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
    reserved = 0
    try:
        mem = nv.nvmlDeviceGetMemoryInfo(handle, version=nv.nvmlMemory_v2)
        reserved = int(getattr(mem, "reserved", 0))
    except Exception:
        mem = nv.nvmlDeviceGetMemoryInfo(handle)
    procs: list[GpuProcess] = []
    try:
        for p in nv.nvmlDeviceGetComputeRunningProcesses(handle):
            used = getattr(p, "usedGpuMemory", None)
            procs.append(GpuProcess(int(p.pid), int(used) if isinstance(used, int) else None))
    except Exception:
        pass
    return GpuInfo(nvml_index, cuda_index, name, uuid, int(mem.total), int(mem.free), int(mem.used), reserved,
                   tuple(procs))


def list_gpus() -> tuple[list[GpuInfo], str | None]:
    """Visible GPUs (CUDA order) and None, or ([], reason) when NVML or a device is not available."""
    try:
        nv = _nvml()
    except RuntimeError as exc:
        return [], str(exc)
    try:
        count = nv.nvmlDeviceGetCount()
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = []
        for h in handles:
            u = nv.nvmlDeviceGetUUID(h)
            uuids.append(u.decode() if isinstance(u, bytes) else str(u))
        order = select_visible(list(enumerate(uuids)),
                               parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES")))
        gpus = [_query(nv, handles[i], i, k) for k, i in enumerate(order)]
    except Exception as exc:
        return [], f"NVML query failed: {exc}"
    if not gpus:
        why = "CUDA_VISIBLE_DEVICES hides every device" if count else "NVML sees no GPU"
        return [], why
    return gpus, None


def resolve_gpu(text: str) -> tuple[str, int]:
    """--gpu: a visible device index (its total memory from NVML) or a preset name -> (name, total bytes)."""
    t = str(text).strip()
    if t.isdigit() and len(t) <= 2:
        gpus, reason = list_gpus()
        idx = int(t)
        if idx < len(gpus):
            return gpus[idx].name, gpus[idx].total_bytes
        raise BadInput(f"--gpu {t}: no such GPU ({reason or f'{len(gpus)} visible'})")
    found = find_preset(t)
    if found is None:
        raise BadInput(f"--gpu: unknown GPU {t!r} (presets: {', '.join(PRESETS)}; or a device index)")
    return found
