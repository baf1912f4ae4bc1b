"""A DistilBERT classifier's plan under all-linear: peft's "all-linear" adapts its pre_classifier, then SEQ_CLS's
modules_to_save ("classifier", matched as a suffix) refuses to wrap that LoRA layer (TypeError at get_peft_model).
lorplan train resolved the names itself, but `plan --write` kept "all-linear" in the plan and `lorplan export --to
peft` wrote it into adapter_config.json, which peft could not load onto the model. The plan now names the modules
(core.plan.build.plan_target_names, by core.lora.peft_all_linear_fits), and an older plan's all-linear is exported
as those names with a note. Real transformers/peft on a tiny random-weight DistilBERT."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lorplan.cli import main
from lorplan.core.plan import read_plan, write_plan

NAMES = ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"]


@pytest.fixture
def distilbert(tmp_path):
    import transformers

    config = transformers.DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2, hidden_dim=32,
                                           architectures=["DistilBertForSequenceClassification"])
    config.save_pretrained(tmp_path / "m")
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"t {i}", "label": i % 2}) + "\n" for i in range(8)))
    return config, tmp_path / "m", data


def _peft_loads(folder, config) -> int:
    """The trainable parameters of the exported adapter config applied to the model (get_peft_model)."""
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_config(config)
    kwargs = json.loads((folder / "adapter_config.json").read_text())
    return get_peft_model(model, LoraConfig(**kwargs)).get_nb_trainable_parameters()[0]


def test_the_plan_and_its_peft_export_name_the_modules_peft_can_adapt(distilbert, tmp_path, capsys):
    config, model, data = distilbert
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(model), "--data", str(data), "--rank", "4", "--targets", "all-linear",
                 "--write", str(plan)]) == 0
    assert list(read_plan(plan).lora.target_modules) == NAMES
    assert main(["export", str(plan), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    adapter = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert adapter["target_modules"] == NAMES and adapter["task_type"] == "SEQ_CLS"
    capsys.readouterr()
    assert main(["plan", "--model", str(model), "--rank", "4", "--targets", "all-linear", "--json"]) == 0
    priced = json.loads(capsys.readouterr().out)["rows"][0]["trainable_params"]
    assert _peft_loads(tmp_path / "peft", config) == priced


def test_an_older_plans_all_linear_is_exported_as_the_names_with_a_note(distilbert, tmp_path, capsys):
    config, model, data = distilbert
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(model), "--data", str(data), "--rank", "4", "--write", str(plan)]) == 0
    old = read_plan(plan)
    write_plan(replace(old, lora=replace(old.lora, target_modules=("all-linear",))), plan, force=True)
    capsys.readouterr()
    assert main(["export", str(plan), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    err = capsys.readouterr().err
    assert "lora.target_modules all-linear is written as the modules lorplan train adapts (q_lin, k_lin" in err
    adapter = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert adapter["target_modules"] == NAMES
    assert _peft_loads(tmp_path / "peft", config) > 0  # "all-linear" raised TypeError here


def test_a_causal_lms_all_linear_stays_all_linear(tmp_path, capsys):
    import transformers

    transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=1).save_pretrained(tmp_path / "m")
    plan = tmp_path / "p.toml"
    assert main(["plan", "--model", str(tmp_path / "m"), "--rank", "4", "--write", str(plan)]) == 0
    assert list(read_plan(plan).lora.target_modules) == ["all-linear"]
    assert main(["export", str(plan), "--to", "peft", "-o", str(tmp_path / "peft")]) == 0
    assert "target_modules all-linear is written" not in capsys.readouterr().err
    assert json.loads((tmp_path / "peft" / "adapter_config.json").read_text())["target_modules"] == "all-linear"
