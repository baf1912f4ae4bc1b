"""A run on several GPUs writes accelerate_config.yaml into its output folder before it re-executes under
`accelerate launch`. `--output ~/x` (or a plan's output_dir "~/x") was expanded by the lock, the input checks and
the training processes, but not there: the config went into a literal ./~/x/ beside the working folder. No GPU
here: CUDA_VISIBLE_DEVICES names two, and starting the launcher is the boundary replaced (as test_launch does)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.plan import read_plan, write_plan
from lorplan.train import launch

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


@pytest.fixture
def home_plan(tmp_path, monkeypatch, tiny_llama):
    """A 2-GPU plan on a tiny Llama (a causal LM, as the plan trains) and a one-row file, HOME at tmp_path/home and the working folder
    tmp_path/work (where a literal ~ folder would appear)."""

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    data = tmp_path / "train.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    plan = read_plan(SAMPLES / "mistral-7b-fsdp-2gpu.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(tiny_llama)),
                   data=replace(plan.data, path=str(data)),
                   training=replace(plan.training, output_dir="~/runs/from-plan", seq_len=128))
    plan_path = write_plan(plan, tmp_path / "plan.toml")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv(launch.UNDER_LAUNCH_ENV, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # without NVML lorplan counts the entries as written
    return plan_path, home, work


def _launched(monkeypatch) -> list[list[str]]:
    calls = []
    monkeypatch.setattr(launch, "run_forwarding", lambda cmd, env: calls.append(cmd) or 0)
    return calls


def _config_file(cmd: list[str]) -> Path:
    return Path(cmd[cmd.index("--config_file") + 1])


@pytest.mark.parametrize("flag", [["--output", "~/runs/x"], []], ids=["--output", "plan output_dir"])
def test_the_accelerate_config_goes_into_the_home_folder(home_plan, monkeypatch, flag):
    plan_path, home, work = home_plan
    calls = _launched(monkeypatch)
    assert main(["train", str(plan_path), *flag]) == 0
    (cmd,) = calls
    out = home / "runs" / ("x" if flag else "from-plan")
    assert _config_file(cmd) == out / "accelerate_config.yaml"
    assert (out / "accelerate_config.yaml").is_file()
    assert not (work / "~").exists()  # was ./~/runs/x/accelerate_config.yaml
    if flag:  # the processes get the flag as typed and expand it themselves, as this process did
        assert cmd[-2:] == ["--output", "~/runs/x"]


def test_launch_command_resolves_the_output_as_the_lock_does(home_plan):
    from lorplan.cli.train import launch_command

    plan_path, home, work = home_plan
    plan = read_plan(plan_path)
    args = argparse.Namespace(plan=str(plan_path), output="~/y", resume=False, max_steps=None, no_progress=True,
                              trust_remote_code=False)
    cmd = launch_command(args, plan)
    assert _config_file(cmd) == home / "y" / "accelerate_config.yaml"
    assert _config_file(cmd).is_file() and not (work / "~").exists()
