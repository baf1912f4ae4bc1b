"""A class that cannot checkpoint (transformers 5's CTRL: `supports_gradient_checkpointing = False`, read by the
fallback's child) was refused `lorplan plan --grad-checkpointing` and `lorplan recommend --grad-checkpointing`, but
three other ways to that setting took it: a plan FILE with `training.gradient_checkpointing = true` ended `lorplan
train` in transformers' ValueError traceback ("CTRLLMHeadModel does not support activation checkpointing");
`lorplan export` wrote it into the formats that carry it (and, reading no fallback model, checked nothing); and
`lorplan probe start --grad-checkpointing` started probes that each failed with that ValueError. Each is now
refused in one line saying what to do instead, as a plan file's attention the class lacks is refused
(core.plan.context); an export format that writes no checkpointing setting is made, with a note. Real tiny CTRL
with random weights and MiniLM's tokenizer; which formats write the setting is checked against what each
exporter's output changes with."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.export.common import WRITES_ATTENTION, WRITES_GRADIENT_CHECKPOINTING
from lorplan.core.vocab import ExportFormat
from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow

FLAG = "--grad-checkpointing"


def _why(ctrl: Path) -> str:
    return f"{ctrl} (CTRLLMHeadModel) does not implement gradient checkpointing in transformers"


def _plan(capsys, ctrl: Path, data: Path, folder: Path, checkpointing: bool) -> Path:
    """A plan `lorplan plan` writes for the CTRL (without checkpointing, which it refuses), then edited as a
    hand edit or a plan written elsewhere would have it."""
    plan = folder / "plan.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(ctrl), "--data", str(data), "--rank", "4", "--seq-len", "32",
                      "--write", str(plan))
    assert rc == 0, err
    text = plan.read_text()
    assert "gradient_checkpointing = false" in text.splitlines()
    if checkpointing:
        plan.write_text(text.replace("gradient_checkpointing = false", "gradient_checkpointing = true", 1))
    return plan


def _refusal(plan: Path, ctrl: Path) -> str:
    return (f"{plan}: training.gradient_checkpointing = true: {_why(ctrl)}: set it to false (or lorplan plan "
            f"without {FLAG})")


def test_train_refuses_a_plan_file_that_checkpoints_a_class_without_it(tiny_ctrl, prompt_completion_file, tmp_path,
                                                                      capsys, state_home):
    """Before: transformers' ValueError traceback once the weights were loaded."""
    plan = _plan(capsys, tiny_ctrl, prompt_completion_file, tmp_path, checkpointing=True)
    rc, _, err = _run(capsys, "train", str(plan), "--max-steps", "1", "--output", str(tmp_path / "out"))
    assert rc == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"lorplan train: error: {_refusal(plan, tiny_ctrl)}", err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ExportFormat.values())
def test_only_an_export_that_writes_checkpointing_refuses_it(tiny_ctrl, prompt_completion_file, tmp_path, capsys,
                                                             fmt):
    plan = _plan(capsys, tiny_ctrl, prompt_completion_file, tmp_path, checkpointing=True)
    out = tmp_path / "out"
    rc, stdout, err = _run(capsys, "export", str(plan), "--to", fmt, "-o", str(out))
    assert "not checked against the model" not in err, err  # the fallback's model is read, not skipped
    if ExportFormat(fmt) in WRITES_GRADIENT_CHECKPOINTING:
        assert rc == 2 and stdout == "", (stdout, err)
        assert err.strip() == f"lorplan export: error: {_refusal(plan, tiny_ctrl)}", err
        assert not out.exists()
        return
    assert rc == 0, err
    assert out.exists() and stdout.strip(), (stdout, err)
    said = [line for line in err.splitlines() if "gradient_checkpointing" in line]
    assert said == [f"note: --to {fmt} writes no gradient checkpointing setting, so this export is made, but "
                    f"lorplan train refuses the plan: {_refusal(plan, tiny_ctrl)}"], err


@pytest.mark.parametrize("fmt", ExportFormat.values())
def test_a_ctrl_plan_without_checkpointing_exports_without_a_word_of_it(tiny_ctrl, prompt_completion_file, tmp_path,
                                                                       capsys, fmt):
    plan = _plan(capsys, tiny_ctrl, prompt_completion_file, tmp_path, checkpointing=False)
    rc, _, err = _run(capsys, "export", str(plan), "--to", fmt, "-o", str(tmp_path / "out"))
    assert rc == 0, err
    assert "gradient_checkpointing" not in err and "not checked" not in err, err


def test_the_formats_that_write_checkpointing_are_those_whose_output_changes_with_it(tmp_path):
    from lorplan.cli import main
    from lorplan.core.export import export_plan
    from lorplan.core.plan import read_plan
    from tests.cli.test_export_attention import _code

    path = tmp_path / "plan.toml"
    assert main(["plan", "--model", "Qwen/Qwen3-0.6B", "--rank", "8", "--write", str(path)]) == 0
    plan = read_plan(path)
    assert plan.training.gradient_checkpointing is False
    on = replace(plan, training=replace(plan.training, gradient_checkpointing=True))
    changed = {fmt for fmt in ExportFormat
               if _code(export_plan(plan, fmt.value).files) != _code(export_plan(on, fmt.value).files)}
    assert changed == set(WRITES_GRADIENT_CHECKPOINTING)
    assert changed and changed != set(ExportFormat)
    assert changed != set(WRITES_ATTENTION)  # the two sets are not one set by another name


def test_probe_start_refuses_checkpointing_for_a_class_without_it(tiny_ctrl, prompt_completion_file, capsys,
                                                                 state_home):
    """Before: accepted, and `probe status` showed every probe failed with transformers' ValueError."""
    argv = ("probe", "start", "--model", str(tiny_ctrl), "--data", str(prompt_completion_file), "--ranks", "2",
            "--steps", "4")
    rc, out, err = _run(capsys, *argv, FLAG)
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == (f"lorplan probe start: error: {FLAG}: {_why(tiny_ctrl)}: start the probes without "
                           f"{FLAG}"), err
    assert not any(state_home.rglob("plan.json")), list(state_home.rglob("*"))  # no run was made


def test_plan_and_recommend_say_what_to_do_instead(tiny_ctrl, capsys):
    rc, out, err = _run(capsys, "plan", "--model", str(tiny_ctrl), "--rank", "4", FLAG)
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == f"lorplan plan: error: {FLAG}: {_why(tiny_ctrl)}: plan without {FLAG}", err
    rc, out, err = _run(capsys, "recommend", "--model", str(tiny_ctrl), "--trained-tokens", "100000", "--gpu-memory",
                        "16", FLAG)
    assert rc == 2 and out == "", (out, err)
    assert err.strip() == f"lorplan recommend: error: {FLAG}: {_why(tiny_ctrl)}: recommend without {FLAG}", err


def test_probe_check_start_names_the_plan_key_for_a_plan(tiny_ctrl, prompt_completion_file):
    """check_start with plan_keys (a plan probed from the planner) names the plan's key, not the flag."""
    from lorplan.core.errors import BadInput
    from lorplan.probe.runner import check_start

    with pytest.raises(BadInput) as exc:
        check_start(str(tiny_ctrl), str(prompt_completion_file), plan_keys=True, grad_checkpointing=True)
    assert str(exc.value) == f"training.gradient_checkpointing = true: {_why(tiny_ctrl)}: set it to false"
    assert check_start(str(tiny_ctrl), str(prompt_completion_file), plan_keys=True).task  # without it: accepted
