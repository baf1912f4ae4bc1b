"""lorplan's vocabulary: every closed set of names a user types, a plan file holds or a tool reads, defined once.

Each vocabulary is an enum whose values are lorplan's own user-facing spellings (the CLI flags, the plan file's
values, the JSON), so `Quant("nf4")` reads what a user wrote and `Quant.values()` is what argparse, the TUI and
the plan validator offer. A member is also a `str` equal to (and hashing as) its spelling, so a plain "nf4"
finds `Quant.NF4` in a table keyed by the enum. `label` is the short name the TUI shows in its lists.

Below the enums: how each tool spells the same things (torch, transformers, peft, accelerate, LLaMA-Factory),
one table per concept, keyed by the enum and holding plain strings (YAML and TOML writers see only `str`).

Pure stdlib, imported by core, CLI and TUI alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType


class Vocab(str, Enum):
    """Base of every vocabulary: a member is its spelling (a `str`), with a display label."""

    label: str

    def __new__(cls, value: str, label: str | None = None) -> Vocab:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        return member

    # str first: f"{Quant.NF4}", str() and hash() give the spelling on every Python from 3.10 on
    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every spelling, in definition order (argparse choices, validators, messages)."""
        return tuple(m.value for m in cls)

    @classmethod
    def options(cls) -> tuple[tuple[str, str], ...]:
        """(label, value) pairs in definition order, as a Textual Select takes them."""
        return tuple((m.label, m.value) for m in cls)


def spellings(members) -> tuple[str, ...]:
    """The spellings of some members of a vocabulary (a subset such as FOUR_BIT_QUANTS), in order."""
    return tuple(str(m) for m in members)


# ---- the vocabularies ------------------------------------------------------------------------------------


class Quant(Vocab):
    """How the frozen base weights are stored: unquantized, LLM.int8, or bitsandbytes 4-bit NF4 / FP4."""

    NONE = "none", "bf16 (none)"
    INT8 = "int8"
    NF4 = "nf4", "nf4 (QLoRA)"
    FP4 = "fp4"


# The 4-bit quantizations (BitsAndBytesConfig.bnb_4bit_quant_type), the ones double quantization applies to.
FOUR_BIT_QUANTS = (Quant.NF4, Quant.FP4)


class DType(Vocab):
    """A floating-point dtype as lorplan spells it: base and adapter weights, a plan's training precision."""

    BF16 = "bf16"
    FP16 = "fp16"
    FP32 = "fp32"


class Optimizer(Vocab):
    """The optimizer of the adapter: torch AdamW, bitsandbytes 8-bit (paged) AdamW, torch SGD."""

    ADAMW = "adamw", "AdamW"
    ADAMW_8BIT = "adamw-8bit", "AdamW 8-bit"
    PAGED_ADAMW_8BIT = "paged-adamw-8bit", "paged AdamW 8b"
    SGD = "sgd", "SGD"
    SGD_MOMENTUM = "sgd-momentum", "SGD + momentum"


# bitsandbytes' 8-bit optimizers (CUDA only).
EIGHT_BIT_OPTIMIZERS = (Optimizer.ADAMW_8BIT, Optimizer.PAGED_ADAMW_8BIT)


class Attention(Vocab):
    """The attention implementation: PyTorch SDPA, eager (keeps the s×s scores), flash-attention 2."""

    SDPA = "sdpa", "SDPA"
    EAGER = "eager"
    FLASH = "flash", "flash-attn 2"


class Sharding(Vocab):
    """How several GPUs share the work: one GPU, data parallel, FSDP, DeepSpeed ZeRO-2 or ZeRO-3."""

    NONE = "none"
    DDP = "ddp", "DDP"
    FSDP = "fsdp", "FSDP"
    ZERO2 = "zero2", "ZeRO-2"
    ZERO3 = "zero3", "ZeRO-3"


def default_sharding(gpus: int) -> Sharding:
    """What `lorplan plan` assumes without --sharding: plain data parallel over several GPUs, none on one."""
    return Sharding.DDP if gpus > 1 else Sharding.NONE


# DeepSpeed ZeRO stage of each DeepSpeed sharding.
ZERO_STAGE: Mapping[Sharding, int] = MappingProxyType({Sharding.ZERO2: 2, Sharding.ZERO3: 3})
# The shardings that split optimizer state and gradients across GPUs (so they need several GPUs).
SHARDED = (Sharding.FSDP, Sharding.ZERO2, Sharding.ZERO3)
# The shardings that split the weights too (a 4-bit base then needs bnb_4bit_quant_storage = compute dtype).
WEIGHT_SHARDED = (Sharding.FSDP, Sharding.ZERO3)


class LossKernel(Vocab):
    """How the causal-LM loss is computed: transformers' standard cross-entropy over fp32 logits, Liger's fused
    linear cross-entropy (logits in chunks), or Apple's cut cross-entropy (logits never materialized)."""

    STANDARD = "standard", "standard CE"
    FUSED_LINEAR_CE = "fused-linear-ce", "Liger fused CE"
    CUT_CE = "cut-ce", "Apple cut CE"


class Kernels(Vocab):
    """Which kernels the memory model prices: CUDA's (default) or the CPU's (for the tracing tests)."""

    CUDA = "cuda"
    CPU = "cpu"


class Task(Vocab):
    """What the model is trained for: next-token prediction or sequence classification."""

    CAUSAL_LM = "causal-lm"
    SEQUENCE_CLASSIFICATION = "sequence-classification"


class DataSchema(Vocab):
    """The shape of a dataset's rows; auto detects it from the columns."""

    AUTO = "auto"
    TEXT = "text"
    PROMPT_COMPLETION = "prompt-completion"
    ALPACA = "alpaca"
    MESSAGES = "messages"
    TOKENIZED = "tokenized"


# The schemas a dataset can have once detected (every one but auto).
ROW_SCHEMAS = tuple(s for s in DataSchema if s is not DataSchema.AUTO)


class TrainOn(Vocab):
    """Which tokens carry the loss: completions and assistant turns (+ EOS), or every token (prompts too)."""

    COMPLETION = "completion"
    ALL = "all"


class Scheduler(Vocab):
    """Learning-rate schedule, spelled as transformers' SchedulerType (trainer_utils.py)."""

    LINEAR = "linear"
    COSINE = "cosine"
    COSINE_WITH_RESTARTS = "cosine_with_restarts"
    POLYNOMIAL = "polynomial"
    CONSTANT = "constant"
    CONSTANT_WITH_WARMUP = "constant_with_warmup"
    INVERSE_SQRT = "inverse_sqrt"


class LoraBias(Vocab):
    """Which biases train with the adapter, spelled as peft's LoraConfig.bias."""

    NONE = "none"
    ALL = "all"
    LORA_ONLY = "lora_only"


class LoraInit(Vocab):
    """Adapter initialisations by name, spelled as peft's LoraConfig.init_lora_weights (besides true / false and
    "pissa_niter_N")."""

    GAUSSIAN = "gaussian"
    EVA = "eva"
    OLORA = "olora"
    PISSA = "pissa"
    CORDA = "corda"
    LOFTQ = "loftq"
    ORTHOGONAL = "orthogonal"


class ExportFormat(Vocab):
    """The tools `lorplan export --to` writes for."""

    PEFT = "peft", "peft adapter_config.json"
    AXOLOTL = "axolotl", "axolotl YAML"
    LLAMAFACTORY = "llamafactory", "LLaMA-Factory YAML"
    ACCELERATE = "accelerate", "accelerate config YAML"
    TRL = "trl", "TRL sft YAML"
    UNSLOTH = "unsloth", "Unsloth training script"

    @property
    def file_name(self) -> str:
        """What the export writes (peft: a folder of files): "peft", "axolotl.yaml", ..., "unsloth_train.py"."""
        if self is ExportFormat.PEFT:
            return self.value
        return "unsloth_train.py" if self is ExportFormat.UNSLOTH else f"{self.value}.yaml"


# One-line help of a vocabulary where the CLI shows one (a flag may add its own context around it).
HELP: Mapping[type[Vocab], str] = MappingProxyType({
    Quant: "base weight quantization",
    Attention: "attention implementation",
    Sharding: "multi-GPU sharding",
    Kernels: "which kernels to model",
    LossKernel: "causal-LM loss kernel",
    DataSchema: "row schema",
    TrainOn: "loss on completions and assistant turns (default) or on every token",
    ExportFormat: "target format",
})


# ---- how each tool spells them ---------------------------------------------------------------------------

# torch dtype attribute (getattr(torch, name)); also BitsAndBytesConfig's bnb_4bit_compute_dtype string and
# LLaMA-Factory's compute dtype.
TORCH_DTYPE: Mapping[DType, str] = MappingProxyType({
    DType.BF16: "bfloat16",
    DType.FP16: "float16",
    DType.FP32: "float32",
})

# accelerate's mixed_precision (accelerate utils/dataclasses.py PrecisionType): fp32 is "no" mixed precision.
ACCELERATE_MIXED_PRECISION: Mapping[DType, str] = MappingProxyType({
    DType.BF16: "bf16",
    DType.FP16: "fp16",
    DType.FP32: "no",
})

# transformers' from_pretrained(attn_implementation=...); axolotl's attn_implementation passes it through.
ATTN_IMPLEMENTATION: Mapping[Attention, str] = MappingProxyType({
    Attention.SDPA: "sdpa",
    Attention.EAGER: "eager",
    Attention.FLASH: "flash_attention_2",
})

# LLaMA-Factory's flash_attn (hiyouga/LLaMA-Factory src/llamafactory/extras/constants.py AttentionFunction).
LLAMAFACTORY_FLASH_ATTN: Mapping[Attention, str] = MappingProxyType({
    Attention.SDPA: "sdpa",
    Attention.EAGER: "disabled",
    Attention.FLASH: "fa2",
})

# transformers TrainingArguments.optim (OptimizerNames in training_args.py), the name axolotl's optimizer and
# LLaMA-Factory's optim take. SGD's momentum has no name of its own there (exporters warn).
HF_OPTIM: Mapping[Optimizer, str] = MappingProxyType({
    Optimizer.ADAMW: "adamw_torch",
    Optimizer.ADAMW_8BIT: "adamw_bnb_8bit",
    Optimizer.PAGED_ADAMW_8BIT: "paged_adamw_8bit",
    Optimizer.SGD: "sgd",
    Optimizer.SGD_MOMENTUM: "sgd",
})

# accelerate's distributed_type (accelerate utils/dataclasses.py DistributedType).
ACCELERATE_DISTRIBUTED_TYPE: Mapping[Sharding, str] = MappingProxyType({
    Sharding.NONE: "NO",
    Sharding.DDP: "MULTI_GPU",
    Sharding.FSDP: "FSDP",
    Sharding.ZERO2: "DEEPSPEED",
    Sharding.ZERO3: "DEEPSPEED",
})

# peft's task_type (peft utils/peft_types.py TaskType).
PEFT_TASK_TYPE: Mapping[Task, str] = MappingProxyType({
    Task.CAUSAL_LM: "CAUSAL_LM",
    Task.SEQUENCE_CLASSIFICATION: "SEQ_CLS",
})

# axolotl's plugin and switch for each loss kernel (axolotl src/axolotl/integrations/liger/README.md and
# cut_cross_entropy/README.md, args.py): the plugin to list under `plugins`, the key to set true; none for the
# standard loss (pairs, not one spelling: outside SPELLINGS).
AXOLOTL_LOSS_PLUGIN: Mapping[LossKernel, tuple[str, str] | None] = MappingProxyType({
    LossKernel.STANDARD: None,
    LossKernel.FUSED_LINEAR_CE: ("axolotl.integrations.liger.LigerPlugin", "liger_fused_linear_cross_entropy"),
    LossKernel.CUT_CE: ("axolotl.integrations.cut_cross_entropy.CutCrossEntropyPlugin", "cut_cross_entropy"),
})

# Every table above: the tool it speaks for and the vocabulary it spells (the tests check each is complete).
SPELLINGS: Mapping[str, tuple[type[Vocab], Mapping]] = MappingProxyType({
    "torch dtype": (DType, TORCH_DTYPE),
    "accelerate mixed_precision": (DType, ACCELERATE_MIXED_PRECISION),
    "transformers attn_implementation": (Attention, ATTN_IMPLEMENTATION),
    "LLaMA-Factory flash_attn": (Attention, LLAMAFACTORY_FLASH_ATTN),
    "transformers optim": (Optimizer, HF_OPTIM),
    "accelerate distributed_type": (Sharding, ACCELERATE_DISTRIBUTED_TYPE),
    "peft task_type": (Task, PEFT_TASK_TYPE),
})

__all__ = [
    "ACCELERATE_DISTRIBUTED_TYPE", "ACCELERATE_MIXED_PRECISION", "ATTN_IMPLEMENTATION", "AXOLOTL_LOSS_PLUGIN",
    "EIGHT_BIT_OPTIMIZERS", "FOUR_BIT_QUANTS", "HELP", "HF_OPTIM", "LLAMAFACTORY_FLASH_ATTN", "PEFT_TASK_TYPE",
    "ROW_SCHEMAS", "SHARDED", "SPELLINGS", "TORCH_DTYPE", "WEIGHT_SHARDED", "ZERO_STAGE", "Attention", "DType",
    "DataSchema", "ExportFormat", "Kernels", "LoraBias", "LossKernel", "LoraInit", "Optimizer", "Quant", "Scheduler", "Sharding", "Task", "TrainOn", "Vocab",
    "default_sharding", "spellings",
]
