"""`lorplan train --resume` on a checkpoint the plan's hardware cannot load: a sharded one (FSDP / DeepSpeed:
accelerate's `accelerate/` folder) under a plan that is not sharded, an unsharded one under a sharded plan, an
FSDP one under DeepSpeed. Each ended in the loader's traceback once the model had loaded (safetensors' missing
adapter file, accelerate's load_state); now one line naming the checkpoint, the plan's hardware.sharding and
gpus and what to do, exit 2, before torch is imported.

No GPU is needed: the checkpoint folders are built by hand as each kind of run saves them (accelerate's file
names for FSDP and DeepSpeed, the real torch.save for scheduler.pt), and the command is refused before it would
launch anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_builders import tiny_llama
from safetensors.torch import save_file

from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.train.checkpoint_sharding import saved_deepspeed, saved_sharding
from lorplan.train.runner import run_training

from .conftest import write_jsonl

PROBE = ("import json, sys; from lorplan.cli import main; rc = main(['train', *sys.argv[1:]]); "
         "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,"
         " 'peft': 'peft' in sys.modules}))")


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "LORPLAN_UNDER_ACCELERATE")}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HOME": str(cwd / "hf"), "XDG_STATE_HOME": str(cwd / "state"),
            "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, Path]:
    """Plans of one tiny Llama and its data, by hardware: "none" (one device), "fsdp" and "zero3" on 2 GPUs."""
    root = tmp_path_factory.mktemp("sharding")
    model = tiny_llama(root / "model", hidden=16, layers=1)
    data = write_jsonl(root / "train.jsonl", 48)
    found = {}
    for sharding, gpus in (("none", "1"), ("fsdp", "2"), ("zero3", "2")):
        found[sharding] = root / f"{sharding}.toml"
        done = subprocess.run([sys.executable, "-m", "lorplan", "plan", "--model", str(model), "--rank", "2",
                               "--seq-len", "32", "--data", str(data), "--gpus", gpus, "--sharding", sharding,
                               "--write", str(found[sharding]), "--force"], cwd=root, env=_env(root),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return found


def _scheduler(path: Path) -> None:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    torch.save(torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0).state_dict(), path)


def _checkpoint(out: Path, kind: str, hardware: dict | None = None, stage: str = "zero3", gpus: int = 2) -> Path:
    """checkpoint-2 of a stopped 4-step run as a `kind` run saves it: "fsdp" and "deepspeed" in accelerate's
    folder (accelerate's names: pytorch_model_fsdp_0 / optimizer_0, DeepSpeed's pytorch_model folder of
    shards: ZeRO-3's model states and ZeRO-2's optimizer states one file per GPU, ZeRO-2's model states one
    file, as DeepSpeed 0.19's engine.py names them), "plain" with its adapter, optimizer.pt and rng.pt;
    scheduler.pt and state.json in each."""
    folder = out / "checkpoint-2"
    state = folder / "accelerate"
    if kind == "fsdp":
        (state / "pytorch_model_fsdp_0").mkdir(parents=True)
        (state / "pytorch_model_fsdp_0" / "__0_0.distcp").write_bytes(b"\0" * 64)
        (state / "optimizer_0").mkdir()
    elif kind == "deepspeed":
        (state / "pytorch_model").mkdir(parents=True)
        names = [f"bf16_zero_pp_rank_{r}_mp_rank_00_optim_states.pt" for r in range(gpus)]
        names += ([f"zero_pp_rank_{r}_mp_rank_00_model_states.pt" for r in range(gpus)] if stage == "zero3"
                  else ["mp_rank_00_model_states.pt"])
        for name in names:
            torch.save({"w": torch.zeros(2)}, state / "pytorch_model" / name)
    else:
        (folder / "adapter").mkdir(parents=True)
        (folder / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2}))
        save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(2, 16)},
                  str(folder / "adapter" / "adapter_model.safetensors"))
        for name in ("optimizer.pt", "rng.pt"):
            torch.save({"state": {}}, folder / name)
    if kind != "plain":
        torch.save({"torch": torch.get_rng_state()}, state / "random_states_0.pkl")
    _scheduler(folder / "scheduler.pt")
    state_json = {"step": 2, "total": 4, **({"hardware": hardware} if hardware else {})}
    (folder / "state.json").write_text(json.dumps(state_json))
    return folder


def _resume(plan: Path, out: Path, cwd: Path) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(plan), "--resume", "--max-steps", "4", "--no-progress",
                           "--output", str(out)], cwd=cwd, env=_env(cwd), capture_output=True, text=True,
                          timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


# an FSDP checkpoint (SHARDED_STATE_DICT) loads on any GPU count: torch.distributed.checkpoint reshards it
FSDP_ANY_GPUS = ('hardware.sharding = "fsdp" (on any number of GPUs: torch\'s distributed checkpoint reshards its '
                 "state)")
REFUSED = {
    # (checkpoint kind, the plan's sharding): what the line says the checkpoint is, and what to restore
    ("fsdp", "none"): ("a sharded run (FSDP: its training state is in {folder}/accelerate)",
                       'hardware.sharding = "none", gpus = 1', FSDP_ANY_GPUS),
    ("deepspeed", "none"): ("a sharded run (DeepSpeed: its training state is in {folder}/accelerate)",
                            'hardware.sharding = "none", gpus = 1',
                            'hardware.sharding = "zero3" and gpus = 2'),  # DeepSpeed's files say both
    ("plain", "fsdp"): ("a run that was not sharded (its training state in adapter/, optimizer.pt and rng.pt)",
                        'hardware.sharding = "fsdp", gpus = 2', 'hardware.sharding = "none" (or "ddp")'),
    ("plain", "zero3"): ("a run that was not sharded (its training state in adapter/, optimizer.pt and rng.pt)",
                         'hardware.sharding = "zero3", gpus = 2', 'hardware.sharding = "none" (or "ddp")'),
    ("fsdp", "zero3"): ("a sharded run (FSDP: its training state is in {folder}/accelerate)",
                        'hardware.sharding = "zero3", gpus = 2', FSDP_ANY_GPUS),
}


@pytest.mark.parametrize("kind, sharding", list(REFUSED))
def test_a_checkpoint_the_plans_hardware_cannot_load_is_one_line_before_torch(plans, tmp_path, kind, sharding):
    out = tmp_path / "run"
    folder = _checkpoint(out, kind)
    got, err = _resume(plans[sharding], out, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False, "peft": False}
    what, hardware, fix = REFUSED[kind, sharding]
    assert err == (f"lorplan train: error: --resume: checkpoint-2 in {out} was saved by {what.format(folder=folder)}, "
                   f"which {plans[sharding]}'s {hardware} cannot load: restore {fix} to continue the run, or give "
                   "--output to start elsewhere\n")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2"]  # nothing written


def test_an_fsdp_checkpoint_asks_for_fsdp_alone_not_its_gpu_count(plans, tmp_path):
    """Before: 'restore hardware.sharding = "fsdp" and gpus = 4' (its state.json's), though FSDP's sharded state
    loads on any GPU count (torch.distributed.checkpoint reshards it; the DeepSpeed rule alone needs the count)."""
    out = tmp_path / "run"
    folder = _checkpoint(out, "fsdp", {"sharding": "fsdp", "gpus": 4})
    got, err = _resume(plans["none"], out, tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert err.endswith(f"FSDP: its training state is in {folder}/accelerate), which {plans['none']}'s "
                        f'hardware.sharding = "none", gpus = 1 cannot load: restore {FSDP_ANY_GPUS} to continue '
                        "the run, or give --output to start elsewhere\n"), err


@pytest.mark.parametrize("stage, gpus", [("zero2", 4), ("zero3", 8)])
def test_a_deepspeed_checkpoint_under_one_device_names_the_stage_and_gpus_its_files_say(plans, tmp_path, stage, gpus):
    """Before: 'restore hardware.sharding = "zero2" or "zero3" with the GPUs it ran on' for a checkpoint of the
    previous version (no hardware in state.json), though DeepSpeed's files name both and load under no other."""
    out = tmp_path / "run"
    _checkpoint(out, "deepspeed", stage=stage, gpus=gpus)
    got, err = _resume(plans["none"], out, tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert f'cannot load: restore hardware.sharding = "{stage}" and gpus = {gpus} to continue the run' in err, err


@pytest.mark.parametrize("kept, fix", [
    ({"sharding": "fsdp", "gpus": 4}, FSDP_ANY_GPUS),
    ({"sharding": "zero2", "gpus": 4}, 'hardware.sharding = "zero2" and gpus = 4'),
    (None, 'hardware.sharding ("fsdp", "zero2" or "zero3") with the GPUs it ran on'),
])
def test_a_sharded_checkpoint_of_unknown_files_asks_for_what_its_state_json_keeps(tmp_path, plans, kept, fix):
    from lorplan.train.checkpoint_sharding import check_sharding

    folder = _checkpoint(tmp_path / "run", "plain", kept)
    (folder / "accelerate").mkdir()  # accelerate's folder, files of neither kind
    with pytest.raises(BadInput, match=r"cannot load: restore (.*) to continue the run") as caught:
        check_sharding((2, folder), read_plan(str(plans["none"])), tmp_path / "run", None)
    assert f"cannot load: restore {fix} to continue the run" in str(caught.value)


@pytest.mark.parametrize("kind, sharding", [("fsdp", "fsdp"), ("deepspeed", "zero3"), ("plain", "none")])
def test_a_checkpoint_of_the_plans_own_sharding_goes_on(plans, tmp_path, kind, sharding):
    """Not refused by its layout: the 2-GPU plans go on to the next check (no GPU here), the one-device plan past
    every check before torch (the run then trains on from the hand-made checkpoint, not done here)."""
    out = tmp_path / "run"
    _checkpoint(out, kind)
    if sharding == "none":
        from lorplan.cli.train import check_inputs

        check_inputs(read_plan(str(plans[sharding])), str(plans[sharding]), str(out), True, 4)
        return
    got, err = _resume(plans[sharding], out, tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert "hardware.gpus = 2, but no GPU is visible here" in err, err


def test_run_training_refuses_it_before_the_model_loads(plans, tmp_path):
    out = tmp_path / "run"
    _checkpoint(out, "deepspeed")
    with pytest.raises(BadInput, match=r"^--resume: checkpoint-2 in .* was saved by a sharded run \(DeepSpeed: "):
        run_training(read_plan(str(plans["none"])), plan_path=str(plans["none"]), output_dir=str(out), max_steps=4,
                     resume=True, progress=False)


def test_accelerate_files_name_the_sharding(tmp_path):
    assert saved_sharding(_checkpoint(tmp_path / "a", "fsdp")) == "FSDP"
    assert saved_sharding(_checkpoint(tmp_path / "b", "deepspeed")) == "DeepSpeed"
    assert saved_sharding(_checkpoint(tmp_path / "c", "plain")) is None
    (tmp_path / "d" / "checkpoint-2" / "accelerate").mkdir(parents=True)  # files of neither: sharded, kind unknown
    assert saved_sharding(tmp_path / "d" / "checkpoint-2") == "sharded"


def _plan(plans: dict[str, Path], root: Path, sharding: str, gpus: int) -> Path:
    """A plan of the module's model and data on `gpus` GPUs with `sharding`: the zero3 plan's hardware edited."""
    plan = root / f"{sharding}-{gpus}.toml"
    plan.write_text(plans["zero3"].read_text().replace('sharding = "zero3"', f'sharding = "{sharding}"')
                    .replace("gpus = 2", f"gpus = {gpus}"))
    assert read_plan(str(plan)).hardware.gpus == gpus and str(read_plan(str(plan)).hardware.sharding) == sharding
    return plan


DEEPSPEED_REFUSED = [
    # (saved stage, saved GPUs, the plan's stage and GPUs): the run the line names, what to restore. DeepSpeed
    # 0.19: another stage finds no model-states file of its own name (state_dict_factory's assert), another GPU
    # count is _load_zero_checkpoint's ZeRORuntimeException (its DP world size)
    ("zero3", 2, "zero2", 2, "a DeepSpeed ZeRO-3 run on 2 GPUs", 'hardware.sharding = "zero3" and gpus = 2'),
    ("zero2", 2, "zero3", 2, "a DeepSpeed ZeRO-2 run on 2 GPUs", 'hardware.sharding = "zero2" and gpus = 2'),
    ("zero3", 4, "zero3", 2, "a DeepSpeed ZeRO-3 run on 4 GPUs", 'hardware.sharding = "zero3" and gpus = 4'),
    ("zero2", 2, "zero2", 4, "a DeepSpeed ZeRO-2 run on 2 GPUs", 'hardware.sharding = "zero2" and gpus = 2'),
]


@pytest.mark.parametrize("stage, gpus, now, now_gpus, run, fix", DEEPSPEED_REFUSED)
def test_a_deepspeed_checkpoint_of_another_stage_or_gpu_count_is_one_line_before_torch(plans, tmp_path, stage, gpus,
                                                                                      now, now_gpus, run, fix):
    """Before: accepted by the layout check (DeepSpeed under DeepSpeed), then DeepSpeed's traceback once the model
    had loaded on every GPU."""
    out = tmp_path / "run"
    _checkpoint(out, "deepspeed", stage=stage, gpus=gpus)
    plan = _plan(plans, tmp_path, now, now_gpus)
    got, err = _resume(plan, out, tmp_path)
    assert got == {"rc": 2, "torch": False, "transformers": False, "peft": False}
    assert err == (f"lorplan train: error: --resume: checkpoint-2 in {out} was saved by {run}, which {plan}'s "
                   f'hardware.sharding = "{now}", gpus = {now_gpus} cannot load (DeepSpeed loads its shards only '
                   f"under the ZeRO stage and GPU count that saved them): restore {fix} to continue the run, or "
                   "give --output to start elsewhere\n")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2"]


@pytest.mark.parametrize("kind, stage, saved_gpus, sharding, gpus", [
    ("deepspeed", "zero2", 4, "zero2", 4),  # its own stage and count
    ("fsdp", "", 4, "fsdp", 2),  # FSDP's SHARDED_STATE_DICT: torch.distributed.checkpoint reshards on load
])
def test_a_sharded_checkpoint_its_hardware_loads_goes_on(plans, tmp_path, kind, stage, saved_gpus, sharding, gpus):
    out = tmp_path / "run"
    _checkpoint(out, kind, {"sharding": stage or sharding, "gpus": saved_gpus}, stage=stage, gpus=saved_gpus)
    got, err = _resume(_plan(plans, tmp_path, sharding, gpus), out, tmp_path)
    assert got["rc"] == 2 and not got["torch"]
    assert f"hardware.gpus = {gpus}, but no GPU is visible here" in err, err


def test_deepspeed_s_files_name_its_stage_and_gpus_and_state_json_what_they_do_not(tmp_path):
    assert saved_deepspeed(_checkpoint(tmp_path / "a", "deepspeed", stage="zero3", gpus=3)) == ("zero3", 3)
    assert saved_deepspeed(_checkpoint(tmp_path / "b", "deepspeed", stage="zero2", gpus=8)) == ("zero2", 8)
    folder = _checkpoint(tmp_path / "c", "deepspeed", {"sharding": "zero3", "gpus": 4})
    for shard in (folder / "accelerate" / "pytorch_model").iterdir():
        shard.unlink()
    assert saved_deepspeed(folder) == ("zero3", 4)
    (folder / "state.json").write_text(json.dumps({"step": 2, "total": 4}))
    assert saved_deepspeed(folder) == (None, None)
