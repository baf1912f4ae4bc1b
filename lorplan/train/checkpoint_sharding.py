"""Whether a checkpoint was saved by a sharded run, and whether the plan's hardware can load it. Stdlib only.

A sharded run (FSDP, DeepSpeed) keeps its training state in accelerate's own folder (`checkpoint-N/accelerate`);
a run that is not (one process, or data parallel) keeps the adapter, optimizer.pt and rng.pt. Each loads only its
own layout: a sharded checkpoint resumed under a plan that is not sharded, or the other way round, or an FSDP one
under DeepSpeed, was a traceback from accelerate's loader (or safetensors' missing file) once the model had loaded.
`lorplan train --resume` asks before torch is imported.
"""

from __future__ import annotations

import json
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.core.vocab import SHARDED, Sharding

FSDP, DEEPSPEED = "FSDP", "DeepSpeed"
FSDP_PREFIX = "pytorch_model_fsdp"  # accelerate's FSDP_MODEL_NAME: the model's file or folder of an FSDP state
DEEPSPEED_FOLDER = "pytorch_model"  # accelerate's MODEL_NAME: DeepSpeed's checkpoint folder (its shards)
HARDWARE_KEY = "hardware"  # state.json: the sharding and GPUs of the run that saved it (kept since 2026-12-05)


def saved_sharding(folder: Path) -> str | None:
    """How checkpoint `folder` was sharded: None when it was not (no `accelerate` folder); FSDP or DeepSpeed as
    accelerate's files there say; "sharded" when they say neither."""
    state = folder / "accelerate"
    if not state.is_dir():
        return None
    try:
        names = [p.name for p in state.iterdir()]
    except OSError:
        return "sharded"
    if any(name.startswith(FSDP_PREFIX) for name in names):
        return FSDP
    if (state / DEEPSPEED_FOLDER).is_dir():
        return DEEPSPEED
    return "sharded"


def plan_sharding(plan) -> str | None:
    """How the plan's run is sharded (None: not, one process or data parallel)."""
    s = plan.hardware.sharding
    if s not in SHARDED:
        return None
    return FSDP if s == Sharding.FSDP else DEEPSPEED


def _saved_hardware(folder: Path) -> str | None:
    """The run's own hardware as its state.json keeps it (`hardware.sharding = "fsdp" and gpus = 4`), or None."""
    try:
        kept = json.loads((folder / "state.json").read_text(encoding="utf-8")).get(HARDWARE_KEY)
        sharding, gpus = kept["sharding"], kept["gpus"]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None
    if not isinstance(sharding, str) or not isinstance(gpus, int) or isinstance(gpus, bool):
        return None
    return f'hardware.sharding = "{sharding}" and gpus = {gpus}'


def check_sharding(latest: tuple[int, Path], plan, out: Path, plan_path: str | None) -> None:
    """BadInput, one line naming the checkpoint and the plan's hardware.sharding and gpus, when the plan's run
    cannot load checkpoint `latest`: saved sharded and the plan is not, saved unsharded and the plan is sharded,
    or saved by FSDP and the plan is DeepSpeed (or the other way round). What to do: restore the plan's
    sharding (a sharded run's own, with its GPUs, when its state.json keeps them), or give --output to start
    elsewhere."""
    step, folder = latest
    saved, now = saved_sharding(folder), plan_sharding(plan)
    if saved == now or (saved == "sharded" and now is not None):
        return
    whose = f"{plan_path}'s" if plan_path else "the plan's"
    hardware = f'hardware.sharding = "{plan.hardware.sharding}", gpus = {plan.hardware.gpus}'
    if saved is None:
        what = "a run that was not sharded (its training state in adapter/, optimizer.pt and rng.pt)"
        fix = 'hardware.sharding = "none" (or "ddp")'
    else:
        kind = "FSDP or DeepSpeed" if saved == "sharded" else saved
        what = f"a sharded run ({kind}: its training state is in {folder / 'accelerate'})"
        fix = {FSDP: 'hardware.sharding = "fsdp"', DEEPSPEED: 'hardware.sharding = "zero2" or "zero3"'}.get(
            saved, 'hardware.sharding ("fsdp", "zero2" or "zero3")') + " with the GPUs it ran on"
        fix = _saved_hardware(folder) or fix  # the run's own GPUs too: a sharded state is split over them
    raise BadInput(f"--resume: checkpoint-{step} in {out} was saved by {what}, which {whose} {hardware} cannot "
                   f"load: restore {fix} to continue the run, or give --output to start elsewhere")


def hardware_state(plan) -> dict:
    """The run's sharding and GPUs, kept in each checkpoint's state.json (HARDWARE_KEY), so a refusal can say
    which to restore."""
    return {"sharding": str(plan.hardware.sharding), "gpus": int(plan.hardware.gpus)}


__all__ = ["HARDWARE_KEY", "check_sharding", "hardware_state", "plan_sharding", "saved_sharding"]
