"""lorplan train on a checkpoint whose head is a regression head (1 output, config.json "problem_type":
"regression", as transformers' Trainer saves a regression model): the plan's new class head trains with
cross-entropy on class ids. The checkpoint's problem_type used to pick MSE for the 2 new logits against the
class ids: a RuntimeError traceback (size of tensor a (2) must match b (16)) at the first step."""

from __future__ import annotations

import json
from dataclasses import replace

from lorplan.cli import main
from lorplan.core.export.peft import SINGLE_LABEL
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from lorplan.train.model import build_model, rope_scaled_config
from tests.model_builders import tiny_bert

from .test_train import tiny_plan


def test_a_regression_checkpoint_trains_its_new_class_head_with_cross_entropy(tmp_path):
    import torch

    folder = tiny_bert(tmp_path / "scorer", head=1)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "problem_type": "regression"}))
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"query {i}", "label": i % 2}) + "\n" for i in range(40)))
    path = tmp_path / "p.toml"
    assert main(["plan", "--model", str(folder), "--rank", "4", "--seq-len", "32", "--data", str(data),
                 "--write", str(path)]) == 0
    plan = read_plan(path)
    notes: list[str] = []
    model = build_model(plan, folder, load_spec(str(folder)), "cpu", 0, notes)
    assert (model.config.num_labels, model.config.problem_type) == (2, SINGLE_LABEL)
    assert any("the checkpoint's has 1 output, a regression or score head; the plan's num_labels is 2" in n
               for n in notes)
    labels = torch.tensor([0, 1, 1, 0])
    out = model(input_ids=torch.randint(1000, 2000, (4, 8)), labels=labels)
    assert out.logits.shape == (4, 2)
    expected = torch.nn.functional.cross_entropy(out.logits.float(), labels)
    assert torch.isclose(out.loss.float(), expected)


def test_a_rope_scaled_load_takes_the_class_head_too(tmp_path, tiny_llama):
    """With model.rope_scaling the config is built first (rope_scaled_config): num_labels and problem_type move
    onto it, in that order (a single-label problem needs 2 labels or more)."""
    import transformers

    plan = read_plan(tiny_plan(tmp_path, tiny_llama))
    plan = replace(plan, model=replace(plan.model, rope_scaling=2.0))
    config = transformers.AutoConfig.from_pretrained(str(tiny_llama), num_labels=1, problem_type="regression")
    kwargs = {"num_labels": 2, "problem_type": SINGLE_LABEL}
    scaled = rope_scaled_config(plan, tiny_llama, kwargs, config)
    assert (scaled.num_labels, scaled.problem_type, kwargs) == (2, SINGLE_LABEL, {})
    assert (config.num_labels, config.problem_type) == (1, "regression")  # the config given is left as it was
