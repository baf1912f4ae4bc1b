"""The TRL export trains what `lorplan train` trains: a CPU plan as lorplan runs it on the CPU (fp32, no
bitsandbytes, torch AdamW, SDPA), warmup that every transformers reads alike where the run's length is known, and
a warning for each difference left (transformers 4, the loss over accumulated micro-batches, modules_to_save's
dtype, ShareGPT chats). Each value is read back through `trl sft`'s own parser."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.export import export_plan
from lorplan.core.plan import DataSection, HardwareSection, QuantizationSection, read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def sample(name: str = "smollm2-135m-cpu"):
    return read_plan(SAMPLES / f"{name}.toml")


def with_training(plan, **changes):
    return replace(plan, training=replace(plan.training, **changes))


def parse(plan, tmp_path: Path):
    """(script, sft, model, mixture) as `trl sft --config` reads the export (use_cpu given on a machine without a
    GPU, where TrainingArguments refuses bf16 otherwise)."""
    pytest.importorskip("trl")
    import torch
    from trl.scripts.sft import make_parser

    path = tmp_path / "trl.yaml"
    path.write_text(export_plan(plan, "trl").files["trl.yaml"])
    cpu = [] if torch.cuda.is_available() else ["--use_cpu", "true"]
    *parsed, left, cli_left = make_parser().parse_args_and_config(
        ["--config", str(path), *cpu], return_remaining_strings=True, separate_remaining_strings=True)
    assert left == [] and cli_left == []
    return parsed


def config(plan) -> dict:
    return yaml.safe_load(export_plan(plan, "trl").files["trl.yaml"])


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("ratio", "steps"), [(0.05, 200), (0.1, 7), (0.03, 1000), (0.0, 50)])
def test_warmup_over_max_steps_is_lorplans_steps_on_any_transformers(ratio, steps, tmp_path):
    from lorplan.train.optim import warmup_steps

    plan = with_training(sample(), max_steps=steps, epochs=None, warmup_ratio=ratio)
    written = config(plan)["warmup_steps"]
    # an int: transformers 4 takes it as steps, transformers 5 too (a float below 1 would be a ratio there only)
    assert isinstance(written, int) and written == warmup_steps(plan, steps)
    _, sft, _, _ = parse(plan, tmp_path)
    assert sft.get_warmup_steps(steps) == warmup_steps(plan, steps)
    assert not any("transformers 4" in w for w in export_plan(plan, "trl").warnings)


@pytest.mark.filterwarnings("ignore")
def test_warmup_over_epochs_is_the_ratio_and_says_what_transformers_4_does(tmp_path):
    from lorplan.train.optim import warmup_steps

    plan = with_training(sample(), max_steps=None, epochs=2.0, warmup_ratio=0.05)
    _, sft, _, _ = parse(plan, tmp_path)
    assert sft.get_warmup_steps(300) == warmup_steps(plan, 300) == 15
    (note,) = [w for w in export_plan(plan, "trl").warnings if w.startswith("warmup_steps")]
    assert "reads it as 0.05 steps" in note and "warmup_ratio: 0.05" in note


@pytest.mark.filterwarnings("ignore")
def test_a_cpu_plan_is_written_as_lorplan_train_runs_it_on_the_cpu(tmp_path):
    import torch
    from trl import get_quantization_config

    from lorplan.train.model import load_kwargs

    plan = replace(with_training(sample(), precision="bf16", optimizer="paged-adamw-8bit", attention="flash"),
                   quantization=QuantizationSection(load_in_4bit=True, bnb_4bit_use_double_quant=True),
                   hardware=HardwareSection(gpus=0))
    _, sft, model, _ = parse(plan, tmp_path)
    runs = load_kwargs(plan, "cpu", [])
    assert runs["dtype"] is torch.float32 and "quantization_config" not in runs
    assert model.dtype == "float32" and (sft.bf16, sft.fp16) == (False, False)
    assert get_quantization_config(model) is None
    assert str(sft.optim.value) == "adamw_torch"
    assert model.attn_implementation == runs["attn_implementation"] == "sdpa"
    (note,) = [w for w in export_plan(plan, "trl").warnings if w.startswith("hardware.gpus = 0")]
    for said in ("fp32 weights and compute, not bf16", "4-bit off", "for paged-adamw-8bit", "SDPA"):
        assert said in note
    assert not any("casts the LoRA weights" in w for w in export_plan(plan, "trl").warnings)


@pytest.mark.filterwarnings("ignore")
def test_a_gpu_plan_keeps_its_precision_quantization_and_optimizer(tmp_path):
    from trl import get_quantization_config

    plan = replace(with_training(sample(), precision="bf16", optimizer="paged-adamw-8bit", attention="flash"),
                   quantization=QuantizationSection(load_in_4bit=True, bnb_4bit_compute_dtype="bfloat16"),
                   hardware=HardwareSection(gpus=1))
    _, sft, model, _ = parse(plan, tmp_path)
    assert model.dtype == "bfloat16" and sft.bf16 is True
    assert get_quantization_config(model).load_in_4bit
    assert str(sft.optim.value) == "paged_adamw_8bit" and model.attn_implementation == "flash_attention_2"
    assert not any(w.startswith("hardware.gpus = 0") for w in export_plan(plan, "trl").warnings)
    assert any("prepare_model_for_kbit_training" in w for w in export_plan(plan, "trl").warnings)


def test_a_cpu_fp32_plan_needs_no_cpu_note():
    assert not any(w.startswith("hardware.gpus = 0") for w in export_plan(sample(), "trl").warnings)


def test_modules_to_save_in_the_base_dtype_is_a_warning():
    plan = sample()
    plan = replace(plan, lora=replace(plan.lora, modules_to_save=("lm_head",)))
    gpu = replace(with_training(plan, precision="bf16"), hardware=HardwareSection(gpus=1))
    assert any("TRL trains lm_head in bfloat16" in w for w in export_plan(gpu, "trl").warnings)
    assert config(gpu)["lora_modules_to_save"] == ["lm_head"]
    # fp32 (a CPU plan, or fp32 on a GPU) trains them in fp32 in both
    assert not any("lora_modules_to_save" in w for w in export_plan(plan, "trl").warnings)


def test_the_loss_over_accumulated_micro_batches_is_a_warning():
    one = replace(with_training(sample(), gradient_accumulation=1), hardware=HardwareSection(gpus=1))
    assert not any(w.startswith("the loss") for w in export_plan(one, "trl").warnings)
    for plan in (with_training(one, gradient_accumulation=4), replace(one, hardware=HardwareSection(gpus=2))):
        assert any(w.startswith("the loss") and "trained tokens" in w for w in export_plan(plan, "trl").warnings)


def test_sgd_momentum_says_transformers_4_drops_it():
    plan = with_training(sample(), optimizer="sgd-momentum")
    assert config(plan)["optim_args"] == "momentum=0.9"
    assert any("transformers 4" in w and "plain SGD" in w for w in export_plan(plan, "trl").warnings)


def test_sharegpt_chat_rows_say_trl_keeps_their_role_values(tmp_path):
    """TRL converts ShareGPT rows itself (tests/core/test_export_trl_sharegpt.py runs its functions); what it
    keeps, human and gpt, is the line. A file it cannot read says nothing of ShareGPT."""
    path = tmp_path / "sg.jsonl"
    path.write_text('{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}\n')
    plan = replace(sample(), data=DataSection(path=str(path), schema="messages", train_on="completion"))
    assert any("keeps the role values" in w and "roles 'human', 'gpt'" in w for w in export_plan(plan, "trl").warnings)
    missing = replace(plan, data=replace(plan.data, path=str(tmp_path / "missing.jsonl")))
    assert not any("ShareGPT" in w for w in export_plan(missing, "trl").warnings)
