"""The plan file's schema (version 1): frozen dataclasses, one per TOML table, and their TOML form.

A plan holds everything needed to train: the model, how its weights are quantized, the LoRA settings, the
training settings, the data, the hardware, and the memory estimate it was planned with (bytes per component,
so a later run can compare what it measured).

Key names follow the libraries they end up in: `quantization.*` uses transformers' BitsAndBytesConfig
spellings (all four 4-bit/8-bit fields written out, since transformers' own defaults, fp4 and fp32 compute,
differ from every trainer's QLoRA defaults); `lora.*` follows peft's LoraConfig with the `lora_` prefix dropped.
Optional values absent from TOML (which has no null) are None here: they are simply not written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

PLAN_VERSION = 1

# The names a value may take (task, optimizer, precision, ...) are lorplan.core.vocab's; validate.CHOICES
# says which vocabulary each key takes.
# (prepare_kbit, once among them, is a training setting: [quantization] prepare_kbit; an older plan's [estimate]
# prepare_kbit is read into it, validate.py)
ASSUMPTIONS = ("adapter_dtype", "autocast", "kernels", "foreach", "reserve_fraction", "cuda_context_bytes",
               "padding_mask", "loss")
COMPONENTS = ("weights", "adapter", "gradients", "optimizer", "activations", "overhead")


def _frozen_map(value: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(value or {}))


def _freeze(obj: Any, *names: str) -> None:
    """Lists become tuples and dicts read-only mappings, so a section built from plain values stays frozen."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, list):
            object.__setattr__(obj, name, tuple(value))
        elif isinstance(value, dict):
            object.__setattr__(obj, name, MappingProxyType(dict(value)))


@dataclass(frozen=True)
class ModelSection:
    """The base model: a hub/catalog `id` or a local `path` (exactly one), never running remote code by default.

    task: "causal-lm" (AutoModelForCausalLM) or "sequence-classification" (with num_labels).
    rope_scaling: a linear RoPE scaling factor (position interpolation, Chen et al. 2023, arXiv 2306.15595) set
    on the model config before loading, for sequences beyond the model's context (`lorplan plan --rope-scaling`);
    transformers' rope_parameters {"rope_type": "linear", "factor": rope_scaling}. Not written when None.
    """

    id: str | None = None
    path: str | None = None
    revision: str = "main"
    trust_remote_code: bool = False
    task: str = "causal-lm"
    num_labels: int | None = None
    rope_scaling: float | None = None

    @property
    def source(self) -> str:
        """What `from_pretrained` and `load_spec` take: the path when given, else the id."""
        return self.path if self.path is not None else (self.id or "")

    @property
    def key(self) -> str:
        """The plan's key that names the model, as a message about it says it: "model.path" or "model.id"."""
        return "model.path" if self.path is not None else "model.id"


@dataclass(frozen=True)
class QuantizationSection:
    """bitsandbytes settings, spelled as transformers.BitsAndBytesConfig spells them, and prepare_kbit: whether
    lorplan train and the probes call peft's prepare_model_for_kbit_training on the quantized base (its fp32
    up-cast of every weight bitsandbytes leaves unquantized; false: `lorplan plan --no-prepare-kbit`). It means
    something only with load_in_4bit or load_in_8bit (build.prepares_kbit). Plans written before it was here kept
    it as [estimate] prepare_kbit, which is still read (validate.py)."""

    load_in_4bit: bool = False
    load_in_8bit: bool = False
    bnb_4bit_quant_type: str = "nf4"
    bnb_4bit_use_double_quant: bool = False
    bnb_4bit_compute_dtype: str = "bfloat16"
    prepare_kbit: bool = True


@dataclass(frozen=True)
class LoraSection:
    """peft LoraConfig fields. target_modules is ("all-linear",) or leaf module names; layers_to_transform
    empty means every layer; rank_pattern / alpha_pattern keys are peft's (regex on the module path suffix)."""

    r: int = 16
    alpha: int | float = 32
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("all-linear",)
    layers_to_transform: tuple[int, ...] = ()
    rank_pattern: Mapping[str, int] = field(default_factory=_frozen_map)
    alpha_pattern: Mapping[str, int | float] = field(default_factory=_frozen_map)
    use_rslora: bool = False
    use_dora: bool = False
    init_lora_weights: bool | str = True
    modules_to_save: tuple[str, ...] = ()
    bias: str = "none"

    def __post_init__(self) -> None:
        _freeze(self, "target_modules", "layers_to_transform", "modules_to_save", "rank_pattern", "alpha_pattern")


@dataclass(frozen=True)
class TrainingSection:
    """Optimisation settings. Exactly one of epochs / max_steps is set. micro_batch is per GPU; the effective
    batch is micro_batch × gradient_accumulation × GPUs. precision is the autocast (and base-weight) dtype."""

    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    micro_batch: int = 1
    gradient_accumulation: int = 1
    epochs: float | None = 1.0
    max_steps: int | None = None
    seq_len: int = 2048
    packing: bool = False
    gradient_checkpointing: bool = False
    optimizer: str = "adamw"
    precision: str = "bf16"
    attention: str = "sdpa"
    seed: int = 42
    weight_decay: float = 0.0
    output_dir: str = "outputs/lorplan-run"
    save_steps: int = 100
    logging_steps: int = 10


@dataclass(frozen=True)
class DataSection:
    """Training data: a file or folder lorplan.core.data reads; eval_split is the held-out fraction.

    train_on "completion" puts the loss on completions, assistant turns and the EOS (the prompt is masked; plain
    text and pre-tokenized labels are trained as they are); "all" trains every token, prompts included. None for
    a sequence classifier (not written): it trains one label per example, so there are no tokens to choose (a
    classifier plan written before read "completion", which is still accepted and read as None; "all" is refused,
    rules.py).
    """

    path: str = ""
    schema: str = "auto"
    eval_split: float = 0.0
    train_on: str | None = "completion"


@dataclass(frozen=True)
class HardwareSection:
    """gpus = 0 means CPU. sharding: none (one GPU), ddp, fsdp, zero2, zero3."""

    gpus: int = 1
    sharding: str = "none"


@dataclass(frozen=True)
class EstimateSection:
    """The memory estimate (bytes per GPU) the plan was made with, from lorplan.core.memory.estimate."""

    rank: int
    trainable_params: int
    weights_bytes: int
    adapter_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int
    overhead_bytes: int
    total_bytes: int
    budget_bytes: int | None = None
    fits: bool | None = None
    lorplan_version: str = ""
    details: Mapping[str, int] = field(default_factory=_frozen_map)
    # planning assumptions beyond the training settings (TrainingSetup fields), so the estimate can be recomputed
    adapter_dtype: str | None = None
    autocast: bool | None = None
    kernels: str | None = None
    foreach: bool | None = None
    reserve_fraction: float | None = None
    cuda_context_bytes: int | None = None
    padding_mask: bool | None = None
    loss: str | None = None  # the causal-LM loss kernel (lorplan.core.vocab.LossKernel); exports enable it

    def __post_init__(self) -> None:
        _freeze(self, "details")


@dataclass(frozen=True)
class Plan:
    """A whole plan file. `version` is the schema version (PLAN_VERSION)."""

    model: ModelSection
    lora: LoraSection
    training: TrainingSection
    data: DataSection
    quantization: QuantizationSection = field(default_factory=QuantizationSection)
    hardware: HardwareSection = field(default_factory=HardwareSection)
    estimate: EstimateSection | None = None
    version: int = PLAN_VERSION


SECTIONS: dict[str, type] = {
    "model": ModelSection,
    "quantization": QuantizationSection,
    "lora": LoraSection,
    "training": TrainingSection,
    "data": DataSection,
    "hardware": HardwareSection,
    "estimate": EstimateSection,
}
REQUIRED_SECTIONS = ("model", "lora", "training", "data")


def _toml_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The TOML document of a plan: every set value written explicitly, None values left out."""
    doc: dict[str, Any] = {"version": plan.version}
    for name in SECTIONS:
        section = getattr(plan, name)
        if section is None:
            continue
        doc[name] = {
            f.name: _toml_value(getattr(section, f.name))
            for f in fields(section)
            if getattr(section, f.name) is not None
        }
    return doc
