"""The TRL export: the YAML parses with `trl sft`'s own parser (trl.scripts.sft.make_parser), which reads every key
it holds (`trl sft` hands any other key to `accelerate launch`, and the script run alone drops it); the plan's
values come out of TRL's dataclasses, peft's LoraConfig and bitsandbytes' config as planned; what TRL cannot
express is a warning, a classifier's plan a refusal; and one real `trl sft` run trains the plan's LoRA on a tiny
Llama on CPU."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export import export_plan
from lorplan.core.plan import (
    DataSection,
    HardwareSection,
    QuantizationSection,
    read_plan,
    write_plan,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
CAUSAL_FILES = [p for p in sorted(SAMPLES.glob("*.toml")) if read_plan(p).model.task == "causal-lm"]


def sample(name: str):
    return read_plan(SAMPLES / f"{name}.toml")


def _text(plan) -> str:
    return export_plan(plan, "trl").files["trl.yaml"]


def trl_parse(plan, tmp_path: Path):
    """(script, sft, model, mixture) as `trl sft --config` parses the export; asserts it left no key unread."""
    pytest.importorskip("trl")
    import torch
    from trl.scripts.sft import make_parser

    path = tmp_path / "trl.yaml"
    path.write_text(_text(plan))
    # TrainingArguments refuses bf16 on a machine without a GPU unless told use_cpu (checked apart below)
    cpu = [] if torch.cuda.is_available() else ["--use_cpu", "true"]
    *parsed, config_left, cli_left = make_parser().parse_args_and_config(
        ["--config", str(path), *cpu], return_remaining_strings=True, separate_remaining_strings=True)
    assert config_left == [] and cli_left == [], "keys TRL does not read"
    return parsed


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", CAUSAL_FILES, ids=lambda p: p.stem)
def test_trl_reads_every_key_and_every_value(path, tmp_path):
    from trl import get_peft_config, get_quantization_config

    plan = read_plan(path)
    script, sft, model, mixture = trl_parse(plan, tmp_path)
    lo, q, t, d = plan.lora, plan.quantization, plan.training, plan.data
    assert model.model_name_or_path == plan.model.source and model.use_peft is True
    peft_cfg = get_peft_config(model)
    assert (peft_cfg.r, peft_cfg.lora_alpha, peft_cfg.lora_dropout) == (lo.r, lo.alpha, lo.dropout)
    assert peft_cfg.target_modules == ("all-linear" if lo.target_modules == ("all-linear",)
                                       else set(lo.target_modules))
    assert (peft_cfg.use_rslora, peft_cfg.use_dora) == (lo.use_rslora, lo.use_dora)
    assert model.dtype == {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[t.precision]
    bnb = get_quantization_config(model)
    if q.load_in_4bit:
        assert (bnb.bnb_4bit_quant_type, bnb.bnb_4bit_use_double_quant) == (q.bnb_4bit_quant_type,
                                                                            q.bnb_4bit_use_double_quant)
    else:
        assert bnb is None
    assert (sft.max_length, sft.packing) == (t.seq_len, t.packing)
    assert sft.per_device_train_batch_size == t.micro_batch
    assert sft.gradient_accumulation_steps == t.gradient_accumulation
    assert sft.learning_rate == t.learning_rate and str(sft.lr_scheduler_type.value) == t.lr_scheduler
    # with max_steps the steps themselves (any transformers), over epochs the ratio (transformers 5)
    assert sft.warmup_steps == (math.ceil(t.warmup_ratio * t.max_steps) if t.max_steps else t.warmup_ratio)
    assert sft.max_steps == (t.max_steps if t.max_steps is not None else -1)
    if t.max_steps is None:
        assert sft.num_train_epochs == t.epochs
    assert sft.gradient_checkpointing is t.gradient_checkpointing
    assert (sft.bf16, sft.fp16) == (t.precision == "bf16", t.precision == "fp16")
    assert (sft.seed, sft.output_dir, sft.save_steps, sft.logging_steps) == (t.seed, t.output_dir, t.save_steps,
                                                                           t.logging_steps)
    assert yaml.safe_load(_text(plan))["use_cpu"] is (plan.hardware.gpus == 0)
    (entry,) = mixture.datasets
    assert (entry.path, entry.data_files) == ("json", d.path)
    assert mixture.test_split_size == (d.eval_split or None)
    assert str(sft.eval_strategy.value) == ("steps" if d.eval_split else "no")
    masked = d.train_on == "completion"
    assert sft.completion_only_loss is (masked if d.schema == "prompt-completion" else False)
    assert sft.assistant_only_loss is (masked and d.schema == "messages")
    assert script.dataset_train_split == "train"


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("quant", "expected"), [
    (QuantizationSection(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                         bnb_4bit_compute_dtype="float32"), ("nf4", True)),
    (QuantizationSection(load_in_4bit=True, bnb_4bit_quant_type="fp4", bnb_4bit_compute_dtype="float32"),
     ("fp4", False)),
    (QuantizationSection(load_in_8bit=True, bnb_4bit_compute_dtype="float32"), "int8"),
])
def test_quantization_round_trips_through_trl(quant, expected, tmp_path):
    from trl import get_quantization_config

    # on one GPU: a CPU plan loads no bitsandbytes, as lorplan train runs it (test_export_trl_as_lorplan_trains.py)
    plan = replace(sample("smollm2-135m-cpu"), quantization=quant, hardware=HardwareSection(gpus=1))
    _, _, model, _ = trl_parse(plan, tmp_path)
    bnb = get_quantization_config(model)
    if expected == "int8":
        assert bnb.load_in_8bit and not bnb.load_in_4bit
    else:
        assert bnb.load_in_4bit and (bnb.bnb_4bit_quant_type, bnb.bnb_4bit_use_double_quant) == expected
        assert str(bnb.bnb_4bit_compute_dtype) == "torch.float32"  # the plan's precision, fp32
    assert any("casts the LoRA weights to bf16" in w for w in export_plan(plan, "trl").warnings)


@pytest.mark.filterwarnings("ignore")
def test_training_settings_round_trip_through_trl(tmp_path):
    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, training=replace(plan.training, max_steps=None, epochs=3.0, lr_scheduler="cosine",
                                          warmup_ratio=0.1, gradient_checkpointing=True, precision="bf16",
                                          packing=True, optimizer="sgd-momentum", attention="eager"),
                   data=replace(plan.data, eval_split=0.0, train_on="all"), hardware=HardwareSection(gpus=1))
    _, sft, model, mixture = trl_parse(plan, tmp_path)
    assert (sft.num_train_epochs, sft.max_steps) == (3.0, -1)
    assert str(sft.lr_scheduler_type.value) == "cosine" and sft.warmup_steps == 0.1
    assert sft.gradient_checkpointing is True and sft.gradient_checkpointing_kwargs == {"use_reentrant": False}
    assert (sft.bf16, model.dtype) == (True, "bfloat16")
    assert sft.packing and sft.packing_strategy == "wrapped" and sft.padding_free is False
    assert str(sft.optim.value) == "sgd" and sft.optim_args == "momentum=0.9"
    assert model.attn_implementation == "eager"
    assert sft.completion_only_loss is False  # train_on = "all"
    assert mixture.test_split_size is None and str(sft.eval_strategy.value) == "no"


@pytest.mark.filterwarnings("ignore")
def test_one_target_module_reaches_peft_as_that_module(tmp_path):
    """ModelConfig turns a one-item list into a string, which peft matches as a regex of the whole name."""
    from peft.tuners.tuners_utils import check_target_module_exists
    from trl import get_peft_config

    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, lora=replace(plan.lora, target_modules=("q_proj",)))
    _, _, model, _ = trl_parse(plan, tmp_path)
    peft_cfg = get_peft_config(model)
    assert check_target_module_exists(peft_cfg, "model.layers.0.self_attn.q_proj")
    assert not check_target_module_exists(peft_cfg, "model.layers.0.self_attn.k_proj")
    assert not check_target_module_exists(peft_cfg, "model.layers.0.self_attn.xq_proj")
    assert any("regular expression" in w for w in export_plan(plan, "trl").warnings)


def test_a_classifier_is_refused():
    with pytest.raises(BadInput, match=r"--to trl: TRL trains no sequence classifier"):
        export_plan(sample("minilm-classification"), "trl")


def test_what_trl_cannot_express_is_a_warning_in_the_file():
    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, lora=replace(plan.lora, target_modules=("q_proj", "v_proj"), rank_pattern={"q_proj": 4},
                                      alpha_pattern={"v_proj": 2}, layers_to_transform=(0, 1), bias="all",
                                      init_lora_weights="gaussian"),
                   hardware=HardwareSection(gpus=2, sharding="fsdp"),
                   data=replace(plan.data, schema="alpaca"))
    result = export_plan(plan, "trl")
    text = result.files["trl.yaml"]
    comments = [line for line in text.splitlines() if line.startswith("# lorplan: WARNING")]
    for word in ("no rank_pattern", "no alpha_pattern", "layers_to_transform", 'bias="none"', "init_lora_weights",
                 "--accelerate_config", "alpaca columns", "test_split_size"):
        assert any(word in w for w in result.warnings), word
        assert any(word in line for line in comments), word
    cfg = yaml.safe_load(text)
    assert cfg["lora_target_modules"] == ["q_proj", "v_proj"] and cfg["completion_only_loss"] is True


def test_each_schema_gets_its_loss_mask_and_its_difference_from_lorplan():
    plan = sample("smollm2-135m-cpu")
    cases = {("text", "completion"): (False, False, None), ("messages", "completion"): (False, True, "generation"),
             ("messages", "all"): (False, False, "chat_template_path"),
             ("prompt-completion", "completion"): (True, False, "first token where they differ"),
             ("tokenized", "completion"): (False, False, None), ("auto", "completion"): (None, False, "auto")}
    for (schema, train_on), (completion, assistant, said) in cases.items():
        p = replace(plan, data=DataSection(path="d.jsonl", schema=schema, train_on=train_on))
        result = export_plan(p, "trl")
        cfg = yaml.safe_load(result.files["trl.yaml"])
        assert (cfg["completion_only_loss"], cfg["assistant_only_loss"]) == (completion, assistant), schema
        if said is not None:
            assert any(said in w for w in result.warnings), schema


def test_the_cli_writes_it_with_the_data_path_made_absolute(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    plan_path = write_plan(sample("smollm2-135m-cpu"), tmp_path / "p.toml")
    assert main(["export", str(plan_path), "--to", "trl"]) == 0
    out = tmp_path / "p-trl.yaml"
    assert capsys.readouterr().out.strip() == str(out)
    cfg = yaml.safe_load(out.read_text())
    assert cfg["datasets"][0]["data_files"] == str(tmp_path / "data" / "train.jsonl")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_trl_sft_trains_the_plans_lora_on_cpu(tmp_path, monkeypatch):
    """`trl sft --config THIS.yaml`'s parser and script, in this process (the CLI adds `accelerate launch` around
    the same two calls), for 2 steps on a tiny random Llama and 16 prompt/completion rows."""
    pytest.importorskip("trl")
    from model_builders import tiny_llama
    from trl.scripts.sft import main as sft_main
    from trl.scripts.sft import make_parser

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    model = tiny_llama(tmp_path / "tiny")
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i} plus {i} is", "completion": f" {2 * i}"}) + "\n"
                            for i in range(16)))
    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(model)),
                   lora=replace(plan.lora, r=4, alpha=8, target_modules=("q_proj", "v_proj")),
                   data=DataSection(path=str(data), schema="prompt-completion", eval_split=0.0),
                   training=replace(plan.training, max_steps=2, micro_batch=2, gradient_accumulation=1, seq_len=32,
                                    save_steps=2, logging_steps=1, output_dir=str(tmp_path / "out")))
    config = tmp_path / "trl.yaml"
    config.write_text(_text(plan))
    # MiniLM's tokenizer has no EOS token (lorplan ends sequences with its [SEP], TRL needs eos_token)
    args = make_parser().parse_args_and_config(["--config", str(config), "--report_to", "none",
                                                "--eos_token", "[SEP]"])
    sft_main(*args)
    adapter = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"]) == (4, 8)
    assert set(adapter["target_modules"]) == {"q_proj", "v_proj"}
    state = json.loads((tmp_path / "out" / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2


@pytest.mark.parametrize("train_on", ["completion", "all"])
def test_auto_on_an_alpaca_file_says_trl_stops_on_its_rows(tmp_path, train_on):
    """data.schema auto on a file lorplan reads as alpaca gets the alpaca line (TRL reads no instruction/output
    columns), as data.schema = "alpaca" does, not the auto line on the columns TRL finds itself; other files'
    auto keep theirs."""
    from lorplan.core.export.trl import ALPACA_NOTE, AUTO_NOTE

    alpaca = tmp_path / "alpaca.json"  # a JSON array: detection reads its first rows
    alpaca.write_text(json.dumps([{"instruction": "Add.", "input": "2 and 3", "output": "5"}]), encoding="utf-8")
    pc = tmp_path / "pc.jsonl"
    pc.write_text(json.dumps({"prompt": "2+3=", "completion": "5"}) + "\n", encoding="utf-8")
    plan = sample("smollm2-135m-cpu")
    for path, said, unsaid in ((alpaca, ALPACA_NOTE, AUTO_NOTE), (pc, AUTO_NOTE, ALPACA_NOTE)):
        p = replace(plan, data=DataSection(path=str(path), schema="auto", train_on=train_on))
        result = export_plan(p, "trl")
        assert said in result.warnings and unsaid not in result.warnings, path.name
        assert said.split(":")[0] in result.files["trl.yaml"]
        cfg = yaml.safe_load(result.files["trl.yaml"])
        assert cfg["completion_only_loss"] is (None if train_on == "completion" else False)
