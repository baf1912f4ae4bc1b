"""Whether a checkpoint was saved by a sharded run, and whether the plan's hardware can load it. Stdlib only.

A sharded run (FSDP, DeepSpeed) keeps its training state in accelerate's own folder (`checkpoint-N/accelerate`);
a run that is not (one process, or data parallel) keeps the adapter, optimizer.pt and rng.pt. Each loads only its
own layout: a sharded checkpoint resumed under a plan that is not sharded, or the other way round, or an FSDP one
under DeepSpeed, was a traceback from accelerate's loader (or safetensors' missing file) once the model had loaded.
`lorplan train --resume` asks before torch is imported.

Within its own layout a DeepSpeed checkpoint loads only under the ZeRO stage and the GPU count that saved it
(DeepSpeed 0.19, runtime/engine.py): ZeRO-3 keeps each GPU's weights in zero_pp_rank_R_mp_rank_00_model_states.pt
and ZeRO-2 all of them in mp_rank_00_model_states.pt, and load_checkpoint finds the other stage's file by neither
name (an AssertionError in state_dict_factory's check_ckpt_list); one optimizer shard per GPU
(zero_pp_rank_R_mp_rank_00_optim_states.pt) is a ZeRORuntimeException in _load_zero_checkpoint ("The checkpoint
being loaded used a DP world size of 4 but the current world size is 2") on any other count. Refused before
torch too. An FSDP checkpoint (SHARDED_STATE_DICT, torch.distributed.checkpoint's files) loads on any number of
GPUs, and one not sharded (DDP) on any: not refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.core.vocab import SHARDED, ZERO_STAGE, Sharding

FSDP, DEEPSPEED = "FSDP", "DeepSpeed"
FSDP_PREFIX = "pytorch_model_fsdp"  # accelerate's FSDP_MODEL_NAME: the model's file or folder of an FSDP state
DEEPSPEED_FOLDER = "pytorch_model"  # accelerate's MODEL_NAME: DeepSpeed's checkpoint folder (its shards)
HARDWARE_KEY = "hardware"  # state.json: the sharding and GPUs of the run that saved it (kept since 2026-12-05)
# DeepSpeed's file names in its checkpoint folder (engine.py: _get_ckpt_name, _get_rank_zero_ckpt_name)
ZERO3_MODEL = re.compile(r"zero_pp_rank_\d+_mp_rank_\d+_model_states\.pt")  # one per GPU: ZeRO-3
ZERO2_MODEL = re.compile(r"mp_rank_\d+_model_states\.pt")  # the whole model's: ZeRO-1/2
OPTIMIZER_SHARD = re.compile(r"(?:bf16_)?zero_pp_rank_(\d+)_mp_rank_\d+_?optim_states\.pt")  # one per GPU
ZERO = tuple(str(s) for s in ZERO_STAGE)  # the plan's DeepSpeed shardings, as state.json keeps them


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


def _kept_hardware(folder: Path) -> tuple[str | None, int | None]:
    """The run's own sharding and GPUs as its state.json keeps them (HARDWARE_KEY); None for what it does not."""
    try:
        kept = json.loads((folder / "state.json").read_text(encoding="utf-8")).get(HARDWARE_KEY)
    except (OSError, ValueError, AttributeError):
        return None, None
    if not isinstance(kept, dict):
        return None, None
    sharding, gpus = kept.get("sharding"), kept.get("gpus")
    return (sharding if isinstance(sharding, str) else None,
            gpus if isinstance(gpus, int) and not isinstance(gpus, bool) else None)


def _restore(saved: str, folder: Path) -> str:
    """What to restore for sharded checkpoint `folder` (its layout `saved`: FSDP, DeepSpeed or "sharded"): FSDP
    on any GPU count (torch's distributed checkpoint reshards its state), DeepSpeed with the ZeRO stage and GPUs
    its files (or its state.json) name, else the sharding and GPUs its state.json keeps."""
    kept, _ = _kept_hardware(folder)
    if saved == FSDP or (saved != DEEPSPEED and kept == "fsdp"):
        return ('hardware.sharding = "fsdp" (on any number of GPUs: torch\'s distributed checkpoint reshards its '
                "state)")
    if saved == DEEPSPEED or kept in ZERO:
        return _restore_deepspeed(*saved_deepspeed(folder))
    return 'hardware.sharding ("fsdp", "zero2" or "zero3") with the GPUs it ran on'


def _restore_deepspeed(stage: str | None, gpus: int | None) -> str:
    """What to restore for a DeepSpeed checkpoint of ZeRO stage `stage` on `gpus` GPUs (None: not known)."""
    return ((f'hardware.sharding = "{stage}"' if stage else 'hardware.sharding = "zero2" or "zero3"')
            + (f" and gpus = {gpus}" if gpus else " with the GPUs it ran on"))


def saved_deepspeed(folder: Path) -> tuple[str | None, int | None]:
    """The ZeRO stage ("zero2", "zero3") and the GPU count of DeepSpeed checkpoint `folder`, as DeepSpeed's files
    say (its optimizer shards: one per GPU), else as its state.json keeps them; None for what neither says."""
    try:
        names = [p.name for p in (folder / "accelerate" / DEEPSPEED_FOLDER).iterdir()]
    except OSError:
        names = []
    stage = ("zero3" if any(ZERO3_MODEL.fullmatch(n) for n in names)
             else "zero2" if any(ZERO2_MODEL.fullmatch(n) for n in names) else None)
    ranks = {m.group(1) for m in map(OPTIMIZER_SHARD.fullmatch, names) if m}
    gpus = len(ranks) or None
    if stage is None or gpus is None:
        kept, kept_gpus = _kept_hardware(folder)
        if stage is None and kept in ZERO:
            stage = kept
        if gpus is None:
            gpus = kept_gpus
    return stage, gpus


def _check_deepspeed(latest: tuple[int, Path], plan, out: Path, whose: str, hardware: str) -> None:
    """BadInput when DeepSpeed checkpoint `latest` was saved under another ZeRO stage or GPU count than the
    plan's: DeepSpeed loads it under neither (the module docstring)."""
    step, folder = latest
    stage, gpus = saved_deepspeed(folder)
    if (stage is None or stage == str(plan.hardware.sharding)) and (gpus is None or gpus == plan.hardware.gpus):
        return
    run = "a DeepSpeed " + (f"{Sharding(stage).label} run" if stage else "run") + (
        f" on {gpus} GPU{'s' if gpus != 1 else ''}" if gpus else "")
    fix = _restore_deepspeed(stage, gpus)
    raise BadInput(f"--resume: checkpoint-{step} in {out} was saved by {run}, which {whose} {hardware} cannot "
                   "load (DeepSpeed loads its shards only under the ZeRO stage and GPU count that saved them): "
                   f"restore {fix} to continue the run, or give --output to start elsewhere")


def check_sharding(latest: tuple[int, Path], plan, out: Path, plan_path: str | None) -> None:
    """BadInput, one line naming the checkpoint and the plan's hardware.sharding and gpus, when the plan's run
    cannot load checkpoint `latest`: saved sharded and the plan is not, saved unsharded and the plan is sharded,
    or saved by FSDP and the plan is DeepSpeed (or the other way round). What to do: restore the plan's
    sharding (_restore: FSDP on any GPU count, DeepSpeed with its stage and GPUs), or give --output to start
    elsewhere. Also a DeepSpeed checkpoint under DeepSpeed with another ZeRO stage or GPU count."""
    step, folder = latest
    saved, now = saved_sharding(folder), plan_sharding(plan)
    whose = f"{plan_path}'s" if plan_path else "the plan's"
    hardware = f'hardware.sharding = "{plan.hardware.sharding}", gpus = {plan.hardware.gpus}'
    if saved == now == DEEPSPEED:
        _check_deepspeed(latest, plan, out, whose, hardware)
    if saved == now or (saved == "sharded" and now is not None):
        return
    if saved is None:
        what = "a run that was not sharded (its training state in adapter/, optimizer.pt and rng.pt)"
        fix = 'hardware.sharding = "none" (or "ddp")'
    else:
        kind = "FSDP or DeepSpeed" if saved == "sharded" else saved
        what = f"a sharded run ({kind}: its training state is in {folder / 'accelerate'})"
        fix = _restore(saved, folder)
    raise BadInput(f"--resume: checkpoint-{step} in {out} was saved by {what}, which {whose} {hardware} cannot "
                   f"load: restore {fix} to continue the run, or give --output to start elsewhere")


def hardware_state(plan) -> dict:
    """The run's sharding and GPUs, kept in each checkpoint's state.json (HARDWARE_KEY), so a refusal can say
    which to restore."""
    return {"sharding": str(plan.hardware.sharding), "gpus": int(plan.hardware.gpus)}


__all__ = ["HARDWARE_KEY", "check_sharding", "hardware_state", "plan_sharding", "saved_deepspeed",
           "saved_sharding"]
