"""What the current tools do with the keys the exports write, beyond their schemas accepting them: axolotl 0.21
sets overrides_of_model_config on transformers 5's config by setattr, passes peft_init_lora_weights on only when
true, and refuses cut cross-entropy without 16-bit training; LLaMA-Factory 0.9.5 cannot apply rope_scaling on
transformers 5 and still reads warmup_ratio up to transformers 5.6."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def sample(name: str):
    return read_plan(SAMPLES / f"{name}.toml")


def _axolotl(plan) -> dict:
    (text,) = export_plan(plan, "axolotl").files.values()
    return yaml.safe_load(text)


@pytest.mark.filterwarnings("ignore")
def test_axolotl_rope_overrides_build_the_linearly_scaled_model():
    """axolotl's load_model_config does setattr(config, key, value) for each override. On transformers 5 the old
    `rope_scaling: {type: linear, factor}` replaced rope_parameters whole, and building the model failed
    (KeyError 'rope_type'); now rope_parameters is written whole, with the model's rope_theta."""
    import torch
    import transformers
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    from lorplan.core.model import catalog

    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, model=replace(plan.model, rope_scaling=4.0))
    overrides = _axolotl(plan)["overrides_of_model_config"]
    raw = copy.deepcopy(catalog.config(catalog.find(plan.model.source)))
    assert overrides["rope_parameters"] == {"rope_type": "linear", "factor": 4.0,
                                            "rope_theta": float(raw["rope_theta"])}

    def config():
        cfg = copy.deepcopy(raw)
        return transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)

    scaled = config()
    for key, value in copy.deepcopy(overrides).items():  # as axolotl applies them, in the file's order
        setattr(scaled, key, value)
    # the model's own rotary embedding (SmolLM2 is a llama), as from_pretrained builds it from this config
    rotary = LlamaRotaryEmbedding(scaled)
    assert rotary.rope_type == "linear"
    assert torch.allclose(LlamaRotaryEmbedding(config()).inv_freq, 4.0 * rotary.inv_freq)


def test_axolotl_rope_without_a_known_rope_theta_says_what_to_add():
    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, model=replace(plan.model, id="nobody-knows/this-model-7b", rope_scaling=2.0))
    result = export_plan(plan, "axolotl")
    params = _axolotl(plan)["overrides_of_model_config"]["rope_parameters"]
    assert params == {"rope_type": "linear", "factor": 2.0}
    assert any("add rope_theta" in w and "nobody-knows/this-model-7b" in w for w in result.warnings)


def test_axolotl_init_false_is_said_to_be_dropped():
    plan = sample("smollm2-135m-cpu")
    dropped = replace(plan, lora=replace(plan.lora, init_lora_weights=False))
    assert any("drops peft_init_lora_weights: false" in w for w in export_plan(dropped, "axolotl").warnings)
    assert not any("peft_init_lora_weights" in w for w in export_plan(plan, "axolotl").warnings)


@pytest.mark.parametrize(("precision", "enabled"), [("bf16", True), ("fp16", True), ("fp32", False)])
def test_axolotl_cut_cross_entropy_only_with_16_bit_training(precision, enabled):
    """CutCrossEntropyArgs refuses the whole config (a ValidationError) when cut_cross_entropy is on without bf16
    or fp16; a hand-edited fp32 plan priced with cut-ce now gets the standard loss and a warning."""
    plan = sample("llama-3.1-8b-qlora-24gb")
    plan = replace(plan, estimate=replace(plan.estimate, loss="cut-ce"),
                   training=replace(plan.training, precision=precision))
    cfg = _axolotl(plan)
    warned = any("cut cross-entropy needs bf16 or fp16" in w for w in export_plan(plan, "axolotl").warnings)
    assert (cfg.get("cut_cross_entropy") is True) is enabled and ("plugins" in cfg) is enabled
    assert warned is not enabled


def test_llamafactory_warns_that_rope_scaling_fails_on_transformers_5():
    plan = sample("smollm2-135m-cpu")
    scaled = replace(plan, model=replace(plan.model, rope_scaling=2.0))
    result = export_plan(scaled, "llamafactory")
    (line,) = [w for w in result.warnings if w.startswith("rope_scaling left out")]
    assert "fails to load" in line and "on transformers 5" in line and 'add "rope_scaling": ' in line
    assert "rope_scaling" not in yaml.safe_load(next(iter(result.files.values())))
    assert not any("transformers 5" in w for w in export_plan(plan, "llamafactory").warnings)


def test_llamafactory_keeps_warmup_ratio_and_says_when_to_change_it():
    plan = sample("smollm2-135m-cpu")
    result = export_plan(plan, "llamafactory")
    (text,) = result.files.values()
    cfg = yaml.safe_load(text)
    assert cfg["warmup_ratio"] == plan.training.warmup_ratio and "warmup_steps" not in cfg
    assert any(f"write warmup_steps: {plan.training.warmup_ratio} instead" in w and "removed after 5.6" in w
               for w in result.warnings)


def test_a_warning_naming_a_path_with_control_characters_keeps_the_yaml_readable():
    """A warning is a comment line: an ESC in the path it names made the file unreadable YAML (ReaderError:
    unacceptable character #x001b), and a line break would have ended the comment."""
    plan = sample("smollm2-135m-cpu")
    plan = replace(plan, data=replace(plan.data, path="\x1b\nodd/name.jsonl"))
    (text,) = export_plan(plan, "llamafactory").files.values()
    assert yaml.safe_load(text)["dataset_dir"] == "\x1b\nodd"
    comments = [line for line in text.splitlines() if line.startswith("# lorplan: WARNING: register the data")]
    assert comments and "\\x1b\\nodd/dataset_info.json" in comments[0]


KERNEL_FLAGS = ("lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "lora_embedding_kernel")


def _kernel_cases():
    plan = sample("smollm2-135m-cpu")
    lora_8bit = replace(plan, quantization=replace(plan.quantization, load_in_8bit=True))
    return {
        "dropout 0": (plan, None),
        "dropout 0, DoRA, rank pattern": (replace(plan, lora=replace(plan.lora, use_dora=True, target_modules=(
            "q_proj", "v_proj"), rank_pattern={"q_proj": 4})), None),
        "dropout 0.05": (replace(plan, lora=replace(plan.lora, dropout=0.05)), False),
        "8-bit LoRA": (lora_8bit, False),
    }


@pytest.mark.parametrize("case", list(_kernel_cases()))
def test_axolotl_lora_kernels_are_said_or_switched_off(case):
    """axolotl 0.21 turns its fused LoRA kernels on when the lora_*_kernel flags are unset; the export said
    nothing. With dropout 0 they are left on and the file says so (the plan's memory, priced with peft's layers,
    an upper bound); with dropout their MLP kernel drops no input of down_proj's LoRA and shares masks, so they
    are written false, with the reason."""
    plan, written = _kernel_cases()[case]
    result = export_plan(plan, "axolotl")
    (text,) = result.files.values()
    cfg = yaml.safe_load(text)
    assert {cfg.get(flag) for flag in KERNEL_FLAGS} == {written}
    on = any("axolotl turns on its fused Triton LoRA kernels" in w and "upper bound" in w for w in result.warnings)
    off = any("lora_*_kernel: false" in w and "down_proj" in w for w in result.warnings)
    assert (on, off) == (written is None, case == "dropout 0.05")
    assert ("# lorplan: WARNING: lora_*_kernel" in text) is (on or off)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", list(_kernel_cases()))
def test_axolotl_validation_turns_the_kernels_on_only_where_the_export_leaves_them(case):
    """axolotl's own validate_config (0.21.0) on the export: every flag true where the export left them unset,
    false where it wrote false (and no ValueError for 8-bit LoRA, which refuses kernels)."""
    pytest.importorskip("axolotl.utils.config")
    from axolotl.integrations.base import PluginManager
    from axolotl.utils.config import prepare_plugins, validate_config
    from axolotl.utils.dict import DictDefault

    plan, written = _kernel_cases()[case]
    PluginManager._instance = None
    cfg = DictDefault(copy.deepcopy(_axolotl(plan)))
    prepare_plugins(cfg)
    out = validate_config(cfg, capabilities={"bf16": True, "fp8": False, "n_gpu": 1, "n_node": 1,
                                             "compute_capability": "sm_90"},
                          env_capabilities={"torch_version": "2.13.0"})
    assert {bool(out[flag]) for flag in KERNEL_FLAGS} == {written is None}
