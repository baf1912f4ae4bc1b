"""A reviewer saw lorplan price LayoutLMv3ForSequenceClassification (one layer of layoutlmv3-base's sizes, three
labels) at 648,195 trainable parameters at rank 4 with all-linear, where peft's get_peft_model(target_modules=
"all-linear") counts 648,979. The 784 apart are the adapters peft's "all-linear" puts on the encoder's three
relative-position bias tables: r·(32 + 12) on rel_pos_bias (32 buckets, 12 heads) and r·(64 + 12) on each of
rel_pos_x_bias and rel_pos_y_bias (64 buckets), 4·44 + 2·4·76 = 784. LayoutLMv3Encoder indexes those modules'
weights (`weight.t()[buckets]`) and never calls them, so their adapters never train
(tests/core/test_weight_bypassed_families.py trains it); lorplan's presets leave them out (core.lora.WEIGHT_BYPASSED)
and its exports name the modules it adapts, with which peft counts lorplan's figure exactly. One fallback build;
peft on the meta device."""

from __future__ import annotations

import json

import pytest
from model_builders import exported_classifier_trainable

from lorplan.cli import main
from lorplan.core.lora import WEIGHT_BYPASSED
from lorplan.core.plan import read_plan

pytestmark = pytest.mark.slow

RANK = 4
REL_POS = {"rel_pos_bias": 32, "rel_pos_x_bias": 64, "rel_pos_y_bias": 64}  # buckets (LayoutLMv3Config defaults)
HEADS = 12


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(folder, plan path, peft export folder) of the reviewer's model: layoutlmv3-base's sizes (the
    configuration's defaults), one layer, three labels."""
    root = tmp_path_factory.mktemp("layoutlmv3")
    folder = root / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "layoutlmv3", "architectures": ["LayoutLMv3ForSequenceClassification"],
        "num_hidden_layers": 1, "id2label": {"0": "a", "1": "b", "2": "c"}}))
    plan = root / "p.toml"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        assert main(["plan", "--model", str(folder), "--rank", str(RANK), "--seq-len", "32", "--write",
                     str(plan)]) == 0
        assert main(["export", str(plan), "--to", "peft", "-o", str(root / "peft")]) == 0
    return folder, plan, root / "peft"


def test_lorplan_prices_what_peft_trains_of_its_export(exported):
    folder, plan, out = exported
    assert read_plan(plan).estimate.trainable_params == 648_195 == exported_classifier_trainable(folder, out)
    target_modules = json.loads((out / "adapter_config.json").read_text())["target_modules"]
    assert isinstance(target_modules, list) and not set(target_modules) & set(REL_POS)


def test_peft_all_linear_adds_the_bias_tables_adapters(exported):
    """peft's own "all-linear" counts 784 more: exactly LoRA at rank 4 on the three relative-position bias tables,
    the modules lorplan leaves out as never trained."""
    import peft
    import torch
    import transformers

    folder, plan, _ = exported
    config = transformers.AutoConfig.from_pretrained(str(folder))
    with torch.device("meta"):
        model = transformers.AutoModelForSequenceClassification.from_config(config)
    assert {name: (m.in_features, m.out_features) for name, m in model.layoutlmv3.encoder.named_children()
            if name in REL_POS} == {name: (buckets, HEADS) for name, buckets in REL_POS.items()}
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=RANK, target_modules="all-linear", task_type="SEQ_CLS"))
    peft_count = wrapped.get_nb_trainable_parameters()[0]
    lorplan_count = read_plan(plan).estimate.trainable_params
    assert (lorplan_count, peft_count) == (648_195, 648_979)
    assert peft_count - lorplan_count == sum(RANK * (buckets + HEADS) for buckets in REL_POS.values()) == 784
    assert set(REL_POS) == set(WEIGHT_BYPASSED["layoutlmv3"])
