"""Exports: peft's JSON loads in real peft and gives the planned trainable count (meta device); the YAML exports
parse and hold every mapped value; accelerate's config loads in accelerate's own ClusterConfig; what a tool
cannot express is a warning in the output and in the result; files are never overwritten without --force."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.cli import main
from lorplan.core.errors import BadInput
from lorplan.core.export import FORMATS, default_output, export_plan, write_export
from lorplan.core.plan import (
    HardwareSection,
    LoraSection,
    QuantizationSection,
    read_plan,
    write_plan,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SAMPLE_FILES = sorted(SAMPLES.glob("*.toml"))
# axolotl and LLaMA-Factory train causal LMs only: a classifier's plan is refused (test_export_classifier.py)
CAUSAL_FILES = [p for p in SAMPLE_FILES if read_plan(p).model.task == "causal-lm"]


def sample(name: str):
    return read_plan(SAMPLES / f"{name}.toml")


def meta_model(plan):
    """The plan's model at full size on the meta device, from the catalog's config.json."""
    import torch
    import transformers

    from lorplan.core.model import catalog

    cfg = copy.deepcopy(catalog.config(catalog.find(plan.model.source)))
    config = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    with torch.device("meta"):
        if plan.model.task == "sequence-classification":
            config.num_labels = plan.model.num_labels or 2
            return transformers.AutoModelForSequenceClassification.from_config(config)
        return transformers.AutoModelForCausalLM.from_config(config)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The PEFT config's `base_model_name_or_path` was renamed")
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_peft_export_loads_and_gives_the_planned_trainable_count(path, tmp_path):
    import peft  # a hard dependency: a missing one must fail, not skip
    plan = read_plan(path)
    written = write_export(export_plan(plan, "peft"), tmp_path / "peft")
    assert tmp_path / "peft" / "adapter_config.json" in written
    config = peft.LoraConfig.from_pretrained(str(tmp_path / "peft"))
    assert config.r == plan.lora.r and config.lora_alpha == plan.lora.alpha
    d = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert peft.LoraConfig(**d).target_modules == config.target_modules
    model = peft.get_peft_model(meta_model(plan), config)
    trainable, _ = model.get_nb_trainable_parameters()
    assert trainable == plan.estimate.trainable_params


def test_peft_export_writes_bitsandbytes_settings(tmp_path):
    import transformers
    plan = sample("llama-3.1-8b-qlora-24gb")
    result = export_plan(plan, "peft")
    bnb = json.loads(result.files["bnb_config.json"])
    assert bnb == {"load_in_4bit": True, "load_in_8bit": False, "bnb_4bit_quant_type": "nf4",
                   "bnb_4bit_use_double_quant": True, "bnb_4bit_compute_dtype": "bfloat16"}
    cfg = transformers.BitsAndBytesConfig(**bnb)
    assert cfg.load_in_4bit and cfg.bnb_4bit_quant_type == "nf4" and cfg.bnb_4bit_use_double_quant
    assert "bnb_config.json" not in export_plan(sample("qwen2.5-7b-lora-80gb"), "peft").files


def _yaml(plan, fmt: str) -> tuple[dict, str]:
    result = export_plan(plan, fmt)
    (text,) = result.files.values()
    return yaml.safe_load(text), text


@pytest.mark.parametrize("path", CAUSAL_FILES, ids=lambda p: p.stem)
def test_axolotl_holds_every_mapped_field(path):
    plan = read_plan(path)
    cfg, _ = _yaml(plan, "axolotl")
    lo, q, t = plan.lora, plan.quantization, plan.training
    assert cfg["base_model"] == plan.model.source
    assert cfg["load_in_4bit"] == q.load_in_4bit and cfg["load_in_8bit"] == q.load_in_8bit
    assert cfg["adapter"] == ("qlora" if q.load_in_4bit else "lora")
    if q.load_in_4bit:
        assert cfg["bnb_config_kwargs"] == {"bnb_4bit_quant_type": q.bnb_4bit_quant_type,
                                            "bnb_4bit_use_double_quant": q.bnb_4bit_use_double_quant,
                                            "bnb_4bit_compute_dtype": q.bnb_4bit_compute_dtype}
    assert (cfg["lora_r"], cfg["lora_alpha"], cfg["lora_dropout"]) == (lo.r, lo.alpha, lo.dropout)
    if lo.target_modules == ("all-linear",):
        assert cfg["lora_target_linear"] is True and "lora_target_modules" not in cfg
    else:
        assert cfg["lora_target_linear"] is False and cfg["lora_target_modules"] == list(lo.target_modules)
    assert cfg.get("lora_rank_pattern", {}) == dict(lo.rank_pattern)
    assert cfg["peft_use_rslora"] == lo.use_rslora and cfg["peft_use_dora"] == lo.use_dora
    assert cfg["sequence_len"] == t.seq_len and cfg["sample_packing"] == t.packing
    assert cfg["micro_batch_size"] == t.micro_batch
    assert cfg["gradient_accumulation_steps"] == t.gradient_accumulation
    assert cfg.get("num_epochs") == t.epochs and cfg.get("max_steps") == t.max_steps
    assert cfg["learning_rate"] == t.learning_rate and cfg["lr_scheduler"] == t.lr_scheduler
    assert cfg["gradient_checkpointing"] == t.gradient_checkpointing
    assert cfg["bf16"] == (t.precision == "bf16") and cfg["fp16"] == (t.precision == "fp16")
    assert cfg["seed"] == t.seed and cfg["output_dir"] == t.output_dir
    assert cfg["datasets"][0]["path"] == plan.data.path and cfg["val_set_size"] == plan.data.eval_split
    assert cfg["train_on_inputs"] is (plan.data.train_on == "all")
    assert cfg["optimizer"] == {"adamw": "adamw_torch", "adamw-8bit": "adamw_bnb_8bit",
                                "paged-adamw-8bit": "paged_adamw_8bit"}.get(t.optimizer, "sgd")


@pytest.mark.parametrize("path", CAUSAL_FILES, ids=lambda p: p.stem)
def test_llamafactory_holds_every_mapped_field(path):
    plan = read_plan(path)
    cfg, text = _yaml(plan, "llamafactory")
    lo, q, t = plan.lora, plan.quantization, plan.training
    assert cfg["model_name_or_path"] == plan.model.source and cfg["finetuning_type"] == "lora"
    assert (cfg["lora_rank"], cfg["lora_alpha"], cfg["lora_dropout"]) == (lo.r, lo.alpha, lo.dropout)
    expected_target = "all" if lo.target_modules == ("all-linear",) else ",".join(lo.target_modules)
    assert cfg["lora_target"] == expected_target
    if q.load_in_4bit:
        assert (cfg["quantization_bit"], cfg["quantization_method"]) == (4, "bnb")
        assert cfg["quantization_type"] == q.bnb_4bit_quant_type
        assert cfg["double_quantization"] == q.bnb_4bit_use_double_quant
    else:
        assert "quantization_bit" not in cfg
    assert cfg["cutoff_len"] == t.seq_len + (1 if t.packing else 0) and cfg["packing"] == t.packing
    assert cfg["per_device_train_batch_size"] == t.micro_batch
    assert cfg["gradient_accumulation_steps"] == t.gradient_accumulation
    assert cfg["learning_rate"] == t.learning_rate and cfg["lr_scheduler_type"] == t.lr_scheduler
    assert cfg["disable_gradient_checkpointing"] == (not t.gradient_checkpointing)
    assert cfg.get("num_train_epochs") == t.epochs and cfg.get("max_steps") == t.max_steps
    assert cfg["use_rslora"] == lo.use_rslora and cfg["use_dora"] == lo.use_dora
    assert cfg["val_size"] == plan.data.eval_split and cfg["seed"] == t.seed
    assert cfg["train_on_prompt"] is (plan.data.train_on == "all")
    if lo.rank_pattern:  # LLaMA-Factory has no rank_pattern: said in the file and in the result
        assert "# lorplan: WARNING: LLaMA-Factory has no rank_pattern" in text
        assert any("no rank_pattern" in w for w in export_plan(plan, "llamafactory").warnings)


@pytest.mark.parametrize("sharding", ["ddp", "fsdp", "zero2", "zero3"])
def test_accelerate_config_loads_in_accelerate(sharding, tmp_path):
    import accelerate  # noqa: F401  (a hard dependency)
    from accelerate.commands.config.config_args import ClusterConfig

    plan = replace(sample("mistral-7b-fsdp-2gpu"), hardware=HardwareSection(gpus=4, sharding=sharding))
    (path,) = write_export(export_plan(plan, "accelerate"), tmp_path / "acc.yaml")
    cfg = ClusterConfig.from_yaml_file(str(path))
    assert cfg.num_processes == 4
    assert cfg.mixed_precision == "bf16"
    expected = {"ddp": "MULTI_GPU", "fsdp": "FSDP", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED"}[sharding]
    assert str(cfg.distributed_type).split(".")[-1] == expected
    if sharding == "fsdp":
        assert cfg.fsdp_config["fsdp_use_orig_params"] is True
    if sharding.startswith("zero"):
        assert cfg.deepspeed_config["zero_stage"] == int(sharding[-1])
        assert cfg.deepspeed_config["gradient_accumulation_steps"] == plan.training.gradient_accumulation


def test_what_a_tool_cannot_express_is_never_dropped_silently():
    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, lora=replace(plan.lora, target_modules=("q_proj", "v_proj"), rank_pattern={"q_proj": 4},
                                      alpha_pattern={"v_proj": 2}, layers_to_transform=(0, 1), bias="all"))
    for fmt, expected in (("llamafactory", ("no rank_pattern", "no alpha_pattern", "layers_to_transform",
                                            "bias")), ("axolotl", ("bias",))):
        result = export_plan(plan, fmt)
        (text,) = result.files.values()
        for word in expected:
            assert any(word in w for w in result.warnings), (fmt, word)
            assert any(word in line for line in text.splitlines() if line.startswith("# lorplan: WARNING")), word
    ax, _ = _yaml(plan, "axolotl")  # axolotl expresses these
    assert ax["lora_rank_pattern"] == {"q_proj": 4} and ax["lora_alpha_pattern"] == {"v_proj": 2}
    assert ax["peft_layers_to_transform"] == [0, 1]


def test_alpha_and_all_linear_are_written_explicitly():
    plan = sample("llama-3.1-8b-qlora-24gb")
    assert plan.lora.target_modules == ("all-linear",)
    assert _yaml(plan, "llamafactory")[0]["lora_alpha"] == plan.lora.alpha  # LLaMA-Factory would default to 2r
    assert _yaml(plan, "llamafactory")[0]["lora_target"] == "all"
    assert _yaml(plan, "axolotl")[0]["lora_target_linear"] is True
    assert json.loads(export_plan(plan, "peft").files["adapter_config.json"])["target_modules"] == "all-linear"


def _axolotl_keys(model) -> set[str]:
    """The top-level keys an axolotl pydantic model reads: its fields and their aliases."""
    return {name for n, f in model.model_fields.items() for name in (n, f.alias) if name}


def test_own_schema_axolotl():
    """axolotl's pydantic schema accepts the export, and reads every key it holds: pydantic drops an unknown key
    without a word (runs where axolotl is importable). Last checked with axolotl 0.21.0 (transformers 5.20.1,
    peft 0.21.2, pydantic 2.13.5) on Python 3.11; the plugins' switches (liger_fused_linear_cross_entropy,
    cut_cross_entropy) are the plugins' own arguments, read once `plugins` names them."""
    schema = pytest.importorskip("axolotl.utils.schemas.config")
    from lorplan.core.vocab import AXOLOTL_LOSS_PLUGIN

    known = _axolotl_keys(schema.AxolotlInputConfig) | {pair[1] for pair in AXOLOTL_LOSS_PLUGIN.values() if pair}
    for path in SAMPLE_FILES:
        plan = read_plan(path)
        if plan.model.task != "causal-lm":
            continue
        written = _yaml(plan, "axolotl")[0]
        assert set(written) <= known, set(written) - known
        cfg = schema.AxolotlInputConfig(**written)
        assert cfg.lora_r == plan.lora.r
    from hypothesis import HealthCheck, given, settings
    from test_planfile import plans

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plans())
    def check(plan):  # any valid causal-LM plan
        if plan.model.task == "causal-lm":
            written = _yaml(plan, "axolotl")[0]
            assert set(written) <= known, set(written) - known
            assert schema.AxolotlInputConfig(**written).lora_r == plan.lora.r

    check()


def test_own_schema_llamafactory():
    """LLaMA-Factory's argument dataclasses accept the export, every key read (allow_extra_keys=False; runs where
    llamafactory is importable). Last checked with LLaMA-Factory 0.9.5 on transformers 5.6.0, the newest it
    allows: warmup_ratio is still a TrainingArguments field there (deprecated), as on transformers 4."""
    parser_mod = pytest.importorskip("llamafactory.hparams.parser")
    from transformers import HfArgumentParser

    for path in CAUSAL_FILES:
        plan = read_plan(path)
        cfg = _yaml(plan, "llamafactory")[0]
        cfg = {**cfg, "bf16": False, "deepspeed": None}  # no GPU nor DeepSpeed here
        model_args, data_args, train_args, ft_args, _ = HfArgumentParser(parser_mod._TRAIN_ARGS).parse_dict(
            cfg, allow_extra_keys=False)
        assert ft_args.lora_rank == plan.lora.r and ft_args.lora_alpha == plan.lora.alpha
        assert data_args.cutoff_len == plan.training.seq_len and data_args.packing == plan.training.packing
        assert train_args.gradient_accumulation_steps == plan.training.gradient_accumulation
    from hypothesis import HealthCheck, given, settings
    from test_planfile import plans

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plans())
    def check(plan):  # any valid causal-LM plan
        if plan.model.task != "causal-lm":
            return
        cfg = _yaml(plan, "llamafactory")[0]
        cfg = {**cfg, "bf16": False, "fp16": False, "deepspeed": None}
        parsed = HfArgumentParser(parser_mod._TRAIN_ARGS).parse_dict(cfg, allow_extra_keys=False)
        assert parsed[3].lora_rank == plan.lora.r

    check()


def test_cli_export_refuses_to_overwrite(tmp_path, capsys):
    plan_path = tmp_path / "p.toml"
    plan = sample("qwen3-8b-qlora-rank-pattern-24gb")
    write_plan(plan, plan_path)
    assert main(["export", str(plan_path), "--to", "llamafactory"]) == 0
    out = default_output(plan_path, "llamafactory")
    assert out.exists() and out.name == "p-llamafactory.yaml"
    err = capsys.readouterr().err
    assert "warning: LLaMA-Factory has no rank_pattern" in err
    out.write_text("mine")
    assert main(["export", str(plan_path), "--to", "llamafactory"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "mine"
    assert main(["export", str(plan_path), "--to", "llamafactory", "--force"]) == 0
    assert yaml.safe_load(out.read_text())["lora_rank"] == plan.lora.r
    for fmt in FORMATS:
        target = tmp_path / f"x-{fmt}"
        assert main(["export", str(plan_path), "--to", fmt, "-o", str(target)]) == 0
        assert target.exists()


def test_cli_export_bad_plan_lists_problems(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    write_plan(sample("smollm2-135m-cpu"), bad)
    bad.write_text(bad.read_text().replace("r = 8", "r = 0").replace("dropout = 0.0", "dropout = 3.0"))
    assert main(["export", str(bad), "--to", "peft"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: lora.r: rank must be at least 1" in err and f"{bad}: lora.dropout" in err


def test_quantization_section_round_trips_into_every_format():
    plan = replace(sample("smollm2-135m-cpu"), quantization=QuantizationSection(
        load_in_8bit=True, bnb_4bit_quant_type="fp4", bnb_4bit_compute_dtype="float16"))
    assert _yaml(plan, "axolotl")[0]["load_in_8bit"] is True
    assert _yaml(plan, "llamafactory")[0]["quantization_bit"] == 8
    assert json.loads(export_plan(plan, "peft").files["bnb_config.json"])["load_in_8bit"] is True
    plan = replace(plan, lora=LoraSection(r=4, alpha=4, target_modules=("q_proj",), init_lora_weights="pissa_niter_8"))
    lf = _yaml(plan, "llamafactory")[0]
    assert lf["pissa_init"] is True and lf["pissa_iter"] == 8


@pytest.mark.filterwarnings("ignore")
def test_every_valid_plan_exports_to_configs_the_tools_accept():
    """Property over the plan schema: peft's LoraConfig accepts the JSON, and every YAML parses with the plan's
    rank and alpha (hypothesis draws plans from the same strategy as the round-trip test)."""
    import peft  # a hard dependency: a missing one must fail, not skip
    from hypothesis import HealthCheck, given, settings
    from test_planfile import plans

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plans())
    def check(plan):
        d = json.loads(export_plan(plan, "peft").files["adapter_config.json"])
        config = peft.LoraConfig(**d)
        assert (config.r, config.lora_alpha, config.use_dora) == (plan.lora.r, plan.lora.alpha, plan.lora.use_dora)
        acc, _ = _yaml(plan, "accelerate")
        assert acc["num_processes"] == max(1, plan.hardware.gpus)
        if plan.model.task != "causal-lm":  # refused by the trainers that train causal LMs only
            for fmt in ("axolotl", "llamafactory"):
                with pytest.raises(BadInput, match="trains no sequence classifier"):
                    export_plan(plan, fmt)
            return
        ax, _ = _yaml(plan, "axolotl")
        lf, _ = _yaml(plan, "llamafactory")
        assert (lf["lora_rank"], lf["lora_alpha"]) == (plan.lora.r, plan.lora.alpha)
        assert ax["lora_r"] == plan.lora.r
        if float(plan.lora.alpha).is_integer():
            assert ax["lora_alpha"] == plan.lora.alpha
        else:  # axolotl types alpha as int: rounded, and said so
            assert any("integer lora_alpha" in w for w in export_plan(plan, "axolotl").warnings)

    check()


@pytest.mark.parametrize(("loss", "plugin", "switch"), [
    ("fused-linear-ce", "axolotl.integrations.liger.LigerPlugin", "liger_fused_linear_cross_entropy"),
    ("cut-ce", "axolotl.integrations.cut_cross_entropy.CutCrossEntropyPlugin", "cut_cross_entropy"),
    ("standard", None, None),
])
def test_axolotl_enables_the_loss_kernel_the_plan_was_priced_with(loss, plugin, switch):
    plan = sample("llama-3.1-8b-qlora-24gb")
    plan = replace(plan, estimate=replace(plan.estimate, loss=loss))
    cfg, _ = _yaml(plan, "axolotl")
    if plugin is None:
        assert "plugins" not in cfg and "liger_fused_linear_cross_entropy" not in cfg and "cut_cross_entropy" not in cfg
    else:
        assert cfg["plugins"] == [plugin] and cfg[switch] is True


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_export_into_a_folder_that_does_not_exist_is_refused(tmp_path, capsys, fmt):
    """-o with a typo in a folder name made the missing folders (a stray folder tree); `lorplan plan --write`
    refuses the same typo. For peft the output is a folder itself: it is made, but not the folders above it."""
    plan_path = tmp_path / "p.toml"
    write_plan(sample("smollm2-135m-cpu"), plan_path)
    target = tmp_path / "typo" / "exports" / ("peft" if fmt == "peft" else "x.yaml")
    assert main(["export", str(plan_path), "--to", fmt, "-o", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lorplan export: error: -o {target}: folder {target.parent} does not exist; create it first")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml"]  # nothing made
    assert main(["export", str(plan_path), "--to", fmt, "-o", str(tmp_path / target.name)]) == 0  # its folder exists
