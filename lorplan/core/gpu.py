"""GPU facts through NVML (nvidia-ml-py), and presets for planning on a machine without a GPU.

NVML is initialised lazily on the first query (as nvitop does). No driver, no library or no device gives an empty
list and a one-line reason, never an exception. CUDA_VISIBLE_DEVICES is honoured: devices are listed in the order
and subset it exposes (indices, GPU UUID prefixes or MIG ids; parse_visible_devices is the one reading of that
variable in lorplan).

Numbering. An index, here and in CUDA_VISIBLE_DEVICES, is NVML's: PCI bus order, as nvidia-smi numbers. The CUDA
runtime numbers devices fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID (CUDA programming guide, "CUDA
Environment Variables"), so on a machine with different GPUs a bare index can open another GPU in a CUDA program.
lorplan therefore never hands a child process an index: child_devices gives each device's UUID (or MIG id),
which names one device whatever the order; order_note says when a user's own indices may differ.
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
    hits = preset_matches(text)
    # a number may name presets of one size ("6000": RTX-A6000 and RTX-6000-Ada); "100" (V100-16GB ... H100-80GB)
    # names no one budget
    return hits[0] if len(hits) == 1 or (hits and key.isdigit() and len({s for _, s in hits}) == 1) else None


def preset_matches(text: str) -> list[tuple[str, int]]:
    """Every preset whose name holds `text` (case, spaces and dashes aside), in PRESETS order."""
    key = _norm(text)
    return [(n, s) for n, s in PRESETS.items() if key and key in _norm(n)]


def _ordinal(token: str) -> int:
    """The number an entry starts with, as the C strtoul CUDA uses reads it ("1gpu" is 1), or -1 if none."""
    digits = len(token) - len(token.lstrip("0123456789"))
    return int(token[:digits]) if digits else -1


def parse_visible_devices(value: str | None) -> list[str] | None:
    """CUDA_VISIBLE_DEVICES as the list of entries CUDA honours; None = unset (every device).

    Entries are device indices (returned as plain numbers: " 01x" is "1"), GPU UUIDs or their prefixes
    ("GPU-8932f937") and MIG device ids ("MIG-<uuid>", or "MIG-GPU-<uuid>/<gi>/<ci>" of older drivers), as the
    CUDA programming guide's "CUDA Environment Variables" lists them. As CUDA does, the list stops at the first
    entry that is none of these (a negative or non-numeric index: "0,2,-1,1" exposes 0 and 2), an empty value
    hides every device, and a repeated entry hides every device (torch.cuda._parse_visible_devices models the
    runtime the same way).
    """
    if value is None:
        return None
    out: list[str] = []
    for raw in value.split(","):
        token = raw.strip()
        if token.startswith(("GPU-", "MIG-")):
            entry = token
        elif _ordinal(token) >= 0:
            entry = str(_ordinal(token))
        else:
            break
        if entry in out:
            return []
        out.append(entry)
    return out


def select_visible(devices: list[tuple[int, str]], visible: list[str] | None) -> list[int]:
    """NVML indices of the devices CUDA would expose, in CUDA order.

    devices: (nvml_index, uuid) of every device; visible: parse_visible_devices' list. An index beyond the
    device count, an unknown or ambiguous UUID prefix, or a MIG id ends the list (CUDA ignores everything from
    the first bad entry; MIG ids name MIG devices, see visible_handles); the same device twice hides all.
    An index is read as NVML's (PCI bus order), as CUDA reads it with CUDA_DEVICE_ORDER=PCI_BUS_ID; CUDA's
    default fastest-first order is a driver heuristic NVML cannot reproduce, so where it may differ (different
    GPUs) order_note says so, and children are given UUIDs (child_devices).
    """
    if visible is None:
        return [i for i, _ in devices]
    chosen: list[int] = []
    for tok in visible:
        if tok.isascii() and tok.isdigit():  # as CUDA reads an index ("²" and "٠" are none)
            match = [i for i, _ in devices if i == int(tok)]
        elif tok.startswith("GPU-"):
            match = [i for i, u in devices if u.lower().startswith(tok.lower())]
        else:
            match = []
        if len(match) != 1:
            break
        if match[0] in chosen:
            return []
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
    name = _text(nv.nvmlDeviceGetName(handle))
    uuid = _text(nv.nvmlDeviceGetUUID(handle))
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


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def visible_handles(nv, visible: list[str] | None) -> list[tuple[int, object]]:
    """(NVML index, NVML handle) of each device CUDA would expose, in CUDA order. MIG ids are looked up by
    UUID (nvmlDeviceGetHandleByUUID) and carry the index of their parent GPU; a MIG id NVML does not know
    ends the list. Raises what NVML raises."""
    count = nv.nvmlDeviceGetCount()
    handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    if visible and visible[0].startswith("MIG-"):
        out: list[tuple[int, object]] = []
        for tok in visible:
            try:
                handle = nv.nvmlDeviceGetHandleByUUID(tok)
                parent = nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(handle)
            except Exception:  # not a MIG id NVML knows (or an older driver's form): CUDA stops here too
                break
            out.append((int(nv.nvmlDeviceGetIndex(parent)), handle))
        return out
    uuids = [_text(nv.nvmlDeviceGetUUID(h)) for h in handles]
    return [(i, handles[i]) for i in select_visible(list(enumerate(uuids)), visible)]


def list_gpus() -> tuple[list[GpuInfo], str | None]:
    """Visible GPUs (CUDA order) and None, or ([], reason) when NVML or a device is not available."""
    try:
        nv = _nvml()
    except RuntimeError as exc:
        return [], str(exc)
    try:
        count = nv.nvmlDeviceGetCount()
        order = visible_handles(nv, parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES")))
        gpus = [_query(nv, handle, i, k) for k, (i, handle) in enumerate(order)]
    except Exception as exc:
        return [], f"NVML query failed: {exc}"
    if not gpus:
        why = "CUDA_VISIBLE_DEVICES hides every device" if count else "NVML sees no GPU"
        return [], why
    return gpus, None


@dataclass(frozen=True)
class ChildDevice:
    """One visible device as a child process is given it. cuda_visible: the child's whole CUDA_VISIBLE_DEVICES,
    which makes CUDA expose exactly this device as cuda:0 whatever CUDA_DEVICE_ORDER says (the GPU's UUID from
    NVML, or the MIG id). label: how people name it: NVML's index, as nvidia-smi numbers it (the MIG id for a MIG
    device). Without NVML both are the entry as the user wrote it."""

    cuda_visible: str
    label: str


def child_devices(value: str | None) -> list[ChildDevice]:
    """The devices CUDA_VISIBLE_DEVICES = `value` exposes (parse_visible_devices), in its order, each as a child
    process is given it (ChildDevice). Unset: every device. Checked against NVML when it answers; without NVML
    the parsed entries as they are (unset: none): the child then reads them as the user's own programs do."""
    visible = parse_visible_devices(value)
    try:
        nv = _nvml()
        order = visible_handles(nv, visible)
        if visible and visible[0].startswith("MIG-"):
            return [ChildDevice(tok, tok) for tok in visible[: len(order)]]
        return [ChildDevice(_text(nv.nvmlDeviceGetUUID(handle)), str(i)) for i, handle in order]
    except Exception:  # no driver or library: nothing to check against, as nvitop reports it
        return [ChildDevice(tok, tok) for tok in visible or []]


def visible_entries(value: str | None) -> list[str]:
    """child_devices' CUDA_VISIBLE_DEVICES values: each names one device, usable alone as a child's
    CUDA_VISIBLE_DEVICES (a GPU UUID or a MIG id when NVML answers, never an index)."""
    return [d.cuda_visible for d in child_devices(value)]


def order_note(env=None) -> str | None:
    """One line when CUDA programs may number this machine's GPUs otherwise than lorplan does: CUDA_DEVICE_ORDER
    is not PCI_BUS_ID (CUDA then numbers them fastest first), CUDA_VISIBLE_DEVICES is unset or holds indices,
    and NVML names more than one kind of GPU. None otherwise, and when NVML does not answer."""
    env = os.environ if env is None else env
    if env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return None
    visible = parse_visible_devices(env.get("CUDA_VISIBLE_DEVICES"))
    if visible is not None and not any(tok.isdigit() for tok in visible):
        return None
    try:
        nv = _nvml()
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(nv.nvmlDeviceGetCount())]
        names = {_text(nv.nvmlDeviceGetName(h)) for h in handles}
    except Exception:
        return None
    if len(names) < 2:
        return None
    return ("note: these GPUs differ and CUDA_DEVICE_ORDER is not PCI_BUS_ID, so CUDA programs number them "
            "fastest first, not as lorplan and nvidia-smi do (PCI bus order, which is also how lorplan reads indices "
            "in CUDA_VISIBLE_DEVICES); lorplan's probes get each GPU's UUID; export CUDA_DEVICE_ORDER=PCI_BUS_ID "
            "to number them alike everywhere")


def resolve_gpu(text: str) -> tuple[str, int]:
    """--gpu: a visible device index (its total memory from NVML) or a preset name -> (name, total bytes)."""
    t = str(text).strip()
    if t.isdecimal() and len(t) <= 2:  # not isdigit: int() refuses "²"
        gpus, reason = list_gpus()
        idx = int(t)
        if idx < len(gpus):
            return gpus[idx].name, gpus[idx].total_bytes
        raise BadInput(f"--gpu {t}: no such GPU ({reason or f'{len(gpus)} visible'})")
    if t.startswith("-") and t[1:].strip().isdigit():  # "-1" read as the preset number "1" was V100-16GB
        raise BadInput(f"--gpu {t}: a device index is 0 or more (lorplan gpus lists them), or give a preset name")
    found = find_preset(t)
    if found is None and len(hits := preset_matches(t)) > 1:
        raise BadInput(f"--gpu: {t!r} matches several GPU presets ({', '.join(n for n, _ in hits)}); give one")
    if found is None:
        raise BadInput(f"--gpu: unknown GPU {t!r} (presets: {', '.join(PRESETS)}; or a device index)")
    return found
