"""`lorplan train`'s [estimate] note on an old all-linear plan of a model type whose out_proj peft refuses (Mamba).

Such a module cannot be named, so lorplan.cli.train.priced_before_exclusions prices the old plan on the model's
spec under no model type (nothing refused or bypassed there): the note is right only if that pricing reproduces
the old [estimate] to the byte, which tests/train/test_ssm_plan_targets.py checked in trainable parameters alone
(a "before" total some bytes off passed it, and every old Mamba plan would be said "edited since it was planned").
Here: the note on such a plan, and the premise, that the memory model prices none of peft's Mamba-based model types
apart from a model of no type. Config-only model folders (config.json and MiniLM's tokenizer): nothing is trained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.lora import PEFT_MAMBA_TYPES
from lorplan.core.plan import read_plan
from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow


def _folder(root: Path, model_type: str, **config) -> Path:
    import transformers as tf

    from tests.model_builders import copy_tokenizer

    folder = copy_tokenizer(root / model_type)
    tf.AutoConfig.for_model(model_type, **config).save_pretrained(folder)
    return folder


def _written(capsys, tmp_path: Path, folder: Path, data: Path):
    plan = tmp_path / f"{folder.name}.toml"
    rc, _, err = _run(capsys, "plan", "--model", str(folder), "--data", str(data), "--rank", "4", "--seq-len", "64",
                      "--attention", "eager", "--write", str(plan))
    assert rc == 0, err
    return read_plan(plan)


def test_an_old_mamba_all_linear_plan_says_the_preset_changed(capsys, tmp_path, prompt_completion_file):
    from lorplan.cli.train import check_estimate
    from lorplan.core.model import load_spec
    from lorplan.core.plan.build import priced_anew

    folder = _folder(tmp_path, "mamba", hidden_size=64, num_hidden_layers=2, state_size=8, vocab_size=30522)
    spec = load_spec(str(folder))
    old = _written(capsys, tmp_path, folder, prompt_completion_file)
    old = replace(old, lora=replace(old.lora, target_modules=("all-linear",)))
    # what lorplan priced before peft's refusal and the bypass table left modules out of all-linear
    old = replace(old, estimate=priced_anew(old, replace(spec, model_type="")))
    plan, notes = check_estimate(old, spec, "old.toml")
    assert len(notes) == 1, notes
    assert "edited" not in notes[0] and "lorplan's all-linear no longer adapts" in notes[0], notes
    assert all(name in notes[0] for name in ("x_proj", "dt_proj", "out_proj", "peft refuses")), notes
    assert plan.estimate.trainable_params < old.estimate.trainable_params  # priced anew, without them


@pytest.mark.parametrize("model_type", PEFT_MAMBA_TYPES)
def test_a_plan_prices_alike_under_no_model_type(model_type, capsys, tmp_path, prompt_completion_file):
    """The premise: a plan of today (the modules it adapts named) prices to its own [estimate] on the spec under no
    model type (the transformers configuration class's defaults; eager attention, whose softmax some model types'
    pricing keys)."""
    from lorplan.core.model import load_spec
    from lorplan.core.plan.build import priced_anew

    folder = _folder(tmp_path, model_type, vocab_size=30522)
    spec = load_spec(str(folder))
    plan = _written(capsys, tmp_path, folder, prompt_completion_file)
    assert "all-linear" not in plan.lora.target_modules  # the plan names what peft adapts on this model type
    unkeyed = priced_anew(plan, replace(spec, model_type=""))
    assert (unkeyed.total_bytes, unkeyed.trainable_params) == (plan.estimate.total_bytes,
                                                               plan.estimate.trainable_params)
