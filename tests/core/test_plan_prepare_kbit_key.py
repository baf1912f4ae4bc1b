"""Whether lorplan train calls peft's prepare_model_for_kbit_training on a quantized base is a training setting,
so the plan file keeps it in [quantization] prepare_kbit (default true), not in [estimate], the planner's record of
what it priced: deleting [estimate], or writing a plan by hand without one, no longer brings the fp32 up-cast back.
An older plan's [estimate] prepare_kbit is still read (schema version 1), and the two keys may not disagree.
Pure Python: plans built from text, no model loaded."""

from __future__ import annotations

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.plan import dumps_plan, loads_plan
from lorplan.core.plan.build import plan_to_setup, prepares_kbit

_HEAD = """version = 1
[model]
id = "meta-llama/Llama-3.1-8B"
[lora]
r = 16
alpha = 32
target_modules = ["all-linear"]
[training]
learning_rate = 0.0002
micro_batch = 1
seq_len = 256
epochs = 1.0
[data]
path = "data/train.jsonl"
"""
_ESTIMATE = """[estimate]
rank = 16
trainable_params = 1
weights_bytes = 1
adapter_bytes = 1
gradients_bytes = 1
optimizer_bytes = 1
activations_bytes = 1
overhead_bytes = 1
total_bytes = 6
"""


def _plan(quantization: str = "", estimate: str | None = None):
    text = _HEAD + "[quantization]\nload_in_4bit = true\n" + quantization
    if estimate is not None:
        text += _ESTIMATE + estimate
    return loads_plan(text, "p.toml")


def test_the_new_key_is_written_in_quantization_and_read_back():
    plan = _plan("prepare_kbit = false\n", estimate="")
    assert plan.quantization.prepare_kbit is False and not prepares_kbit(plan)
    assert plan_to_setup(plan)[1].prepare_kbit is False
    text = dumps_plan(plan)
    quantization = text.split("[quantization]")[1].split("\n[")[0]
    assert "prepare_kbit = false" in quantization
    assert "prepare_kbit" not in text.split("[estimate]")[1]  # written once, where it belongs
    assert loads_plan(text) == plan
    assert _plan().quantization.prepare_kbit is True and prepares_kbit(_plan())  # the default: prepared


def test_an_older_plans_estimate_key_is_still_read():
    old = _plan(estimate="prepare_kbit = false\n")
    assert old.quantization.prepare_kbit is False and not prepares_kbit(old)
    assert plan_to_setup(old)[1].prepare_kbit is False
    # written again, it moves to [quantization]: the file trains as it did
    again = loads_plan(dumps_plan(old))
    assert again == old and "prepare_kbit = false" in dumps_plan(old).split("[quantization]")[1].split("\n[")[0]
    both = _plan("prepare_kbit = true\n", estimate="prepare_kbit = true\n")  # agreeing: accepted
    assert both.quantization.prepare_kbit is True


def test_a_plan_without_estimate_keeps_the_setting():
    plan = _plan("prepare_kbit = false\n")
    assert plan.estimate is None and not prepares_kbit(plan)
    from dataclasses import replace

    assert not prepares_kbit(replace(_plan("prepare_kbit = false\n", estimate=""), estimate=None))


def test_the_two_keys_disagreeing_are_refused_in_one_line():
    with pytest.raises(BadInput) as exc:
        _plan("prepare_kbit = true\n", estimate="prepare_kbit = false\n")
    (line,) = str(exc.value).splitlines()
    assert line.startswith("p.toml: quantization.prepare_kbit:")
    assert "estimate.prepare_kbit" in line


@pytest.mark.parametrize("where", ["quantization", "estimate"])
def test_a_value_that_is_no_boolean_is_refused_in_one_line(where):
    with pytest.raises(BadInput) as exc:
        if where == "quantization":
            _plan('prepare_kbit = "no"\n', estimate="")
        else:
            _plan(estimate='prepare_kbit = "no"\n')
    (line,) = str(exc.value).splitlines()
    assert line == f"p.toml: {where}.prepare_kbit: must be true or false, not a string"


def test_an_older_plan_is_the_plan_written_now_and_is_not_said_edited():
    # a plan `lorplan plan --no-prepare-kbit --write` wrote before the key moved (in [estimate], after autocast):
    # read, it is today's plan, and lorplan train's check of its [estimate] (cli.train.check_estimate, which prices
    # the plan as it stands) finds nothing edited; written again, the key is in [quantization]
    from dataclasses import replace
    from pathlib import Path

    from lorplan.cli.train import check_estimate
    from lorplan.core.model import load_spec
    from lorplan.core.plan import read_plan
    from lorplan.core.plan.build import priced_anew

    sample = read_plan(Path(__file__).resolve().parents[2] / "sample_configs" / "llama-3.1-8b-qlora-24gb.toml")
    spec = load_spec(sample.model.source)
    for prepare in (True, False):
        plan = replace(sample, quantization=replace(sample.quantization, prepare_kbit=prepare))
        plan = replace(plan, estimate=priced_anew(plan, spec))
        now = dumps_plan(plan)
        key = f"prepare_kbit = {str(prepare).lower()}\n"
        old = now.replace(key, "", 1).replace("\nautocast = true\n", f"\nautocast = true\n{key}", 1)
        assert old != now and old.count(key) == 1 and key in old.split("[estimate]")[1]
        read = loads_plan(old, "old.toml")
        assert read == plan and prepares_kbit(read) is prepare and dumps_plan(read) == now
        checked, notes = check_estimate(read, spec, "old.toml")
        assert notes == [] and checked.estimate == plan.estimate
