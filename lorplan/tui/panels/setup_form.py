"""Turn what the user typed into a `TrainingSetup`, with one plain message per bad field.

Pure (no Textual) so the rules are unit-tested directly. The planner keeps the last valid table while any field
is wrong and shows these messages next to the fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lorplan.core.errors import BadInput
from lorplan.core.units import format_bytes, whole_number_in, without_commas
from lorplan.core.units import parse_budget as core_parse_budget
from lorplan.core.vocab import FOUR_BIT_QUANTS, Attention, Optimizer, Quant, Sharding, default_sharding
from lorplan.tui import bridge
from lorplan.tui.bridge import MAX_GPUS, MAX_MICRO_BATCH, MAX_RANK, MAX_SEQ_LEN

# Limits beyond which a value is a typo, not a plan: micro-batch, sequence length, GPUs, the rank (a plan's lora.r
# above it is refused) and the budget (64 MiB to 64 TiB per GPU: core.units.parse_budget) are core's (the same rule
# as `lorplan plan`'s and the plan reader's, from one place).

# (label, value) options of the Select fields: lorplan.core.vocab's names and labels
QUANT_CHOICES = Quant.options()
OPTIMIZER_CHOICES = Optimizer.options()
ATTENTION_CHOICES = Attention.options()
SHARDING_CHOICES = Sharding.options()


def parse_int(text: str, label: str, low: int, high: int) -> int:
    """An integer in [low, high], or BadInput naming the field in plain words: the CLI's rule and words for its
    integer flags (core.units.whole_number_in: 4,096, 1e3 and 4096.0 read, 4,096.5 must be a whole number). A
    value out of range is echoed as typed ("Sequence length: 1e9 must be at most 16,777,216"): the figure the user
    reads is the one they typed, not 1,000,000,000 for 1e9, and a pasted 5,000-digit one as "9999999999… (5,000
    digits)", not "inf"."""
    return whole_number_in(text, label, low, high)


def parse_positive_float(text: str, label: str, unit: str = "") -> float:
    """A finite number above 0 (`unit` names what it counts, e.g. "minutes"), or BadInput naming the field in
    plain words; "nan", "inf" and "-1" are refused as "abc" is. A comma only groups thousands (1,000.5), the one
    rule of the form's other number fields and the CLI's counts (core.units.without_commas): "2,5" is refused,
    not read as 25."""
    raw = without_commas(text, label, "2.5")
    of = f" of {unit}" if unit else ""
    if not raw:
        raise BadInput(f"{label}: type a number{of}")
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{label}: {text.strip()!r} is not a number{of}") from None
    if math.isnan(value) or math.isinf(value):  # as the CLI says it: "'nan' must be a positive number" read oddly
        raise BadInput(f"{label}: {text.strip()!r} is not a finite number{of}")
    if value <= 0:
        raise BadInput(f"{label}: {text.strip()!r} must be a positive number{of}")
    return value


def parse_dropout(text: str) -> float:
    """LoRA dropout in [0, 1). Empty is refused as the other required fields refuse it (it was read as 0
    without a word). Separators by core.units.without_commas' rule, as `--lora-dropout` reads them (float() read
    0.0_5 as 0.05 and 0_5 as 5)."""
    raw = without_commas(text, "LoRA dropout", "0.05")
    if not raw:
        raise BadInput("LoRA dropout: type a number (0 for no dropout, e.g. 0.05)")
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"LoRA dropout: {text.strip()!r} is not a number (try 0.05)") from None
    if not 0.0 <= value < 1.0:
        raise BadInput(f"LoRA dropout: {str(text).strip()} must be at least 0 and below 1")
    return value + 0.0  # "-0" is no dropout, written 0.0 (a plan said lora_dropout = -0.0)


def parse_budget(text: str) -> int:
    """A per-GPU memory budget such as "24G" (= "24GiB", binary) or "80GB" (decimal) in bytes, within the bounds
    `--gpu-memory` has (core.units.parse_budget: one rule for both)."""
    return core_parse_budget(text, "GPU memory")


# the number as typed, its separators too (parse_budget has read them by core.units.without_commas' rule)
_DECIMAL_SIZE = re.compile(r"^\s*([0-9][0-9,_]*\.?[0-9]*|\.[0-9]+)\s*([kmgt])b\s*$", re.IGNORECASE)


def budget_words(text: str, size: int) -> str:
    """A typed budget as the plan's summary names it: in the table's binary units, and for one typed in decimal
    units (80GB, as GPU vendors write it) what was typed too, so "80 GB = 74.51 GiB" says why the table's figure
    is not 80. `size`: parse_budget(text)."""
    shown = format_bytes(size)
    decimal = _DECIMAL_SIZE.match(str(text))
    if decimal is None:
        return shown
    return f"{decimal.group(1)} {decimal.group(2).upper()}B = {shown}"


@dataclass(frozen=True)
class FormValues:
    """The raw state of the setup form: text as typed, choices as picked."""

    quant: str = "none"
    double_quant: bool = False
    targets: tuple[str, ...] = ("all-linear",)
    micro_batch: str = "1"
    seq_len: str = "2048"
    grad_checkpointing: bool = False
    optimizer: str = "adamw"
    attention: str = "sdpa"
    lora_dropout: str = "0"
    dora: bool = False
    gpus: str = "1"
    sharding: str = "none"
    custom_rank: str = ""
    padding_mask: bool = False


def sharding_for_gpus(gpus: int, sharding: str, automatic: bool) -> tuple[str, bool]:
    """The sharding field once the GPU count is `gpus`: `lorplan plan`'s default (core's default_sharding, ddp over
    several GPUs) replaces none, and a sharding set that way (`automatic`) goes back to the default on one GPU.
    Any other choice is the user's and is kept. Returns (sharding, whether it is now the automatic one)."""
    if sharding == Sharding.NONE.value and gpus > 1:
        return default_sharding(gpus).value, True
    if automatic and gpus <= 1 and sharding == default_sharding(2).value:
        return default_sharding(gpus).value, False
    return sharding, automatic and gpus > 1


def attention_for_model(attention: str, supported: tuple[str, ...], default: str, automatic: bool,
                        saved: str | None = None) -> tuple[str, bool]:
    """The attention field once a model implementing `supported` is chosen (`default`: the one `lorplan plan`
    plans it with, core.model.attention). The form's own default (SDPA) on a model without it becomes the
    model's default (eager on Gemma 2), as `lorplan plan` without --attention does, and an attention set that way
    (`automatic`) goes back to the form's default for the next model that has it. `saved`: the attention of the
    setup the planner opened with (the last session's), while no attention was picked in this session: it is
    wanted as the form's default is (kept where the model implements it, else the model's default, and back
    for the next model that has it), as a saved grad checkpointing tick follows the model. Any other choice is
    the user's and is kept: the form marks it when the model lacks it (bridge.rank_table). Returns (attention,
    whether it is now an automatic one)."""
    wanted = saved if saved is not None else FormValues.attention
    if saved is not None or automatic or attention == wanted:
        return (wanted, False) if wanted in supported else (default, True)
    return attention, False


@dataclass(frozen=True)
class FormResult:
    """A setup when every field is valid; otherwise the messages per field id."""

    setup: bridge.TrainingSetup | None
    custom_rank: int | None = None
    errors: Mapping[str, str] = field(default_factory=dict)


def build_setup(values: FormValues) -> FormResult:
    """Validate every field; the setup is built only when all of them are valid."""
    errors: dict[str, str] = {}
    parsed: dict = {}

    def attempt(field_id: str, fn, *args):
        try:
            parsed[field_id] = fn(*args)
        except BadInput as exc:
            errors[field_id] = str(exc)

    attempt("micro_batch", parse_int, values.micro_batch, "Micro-batch", 1, MAX_MICRO_BATCH)
    attempt("seq_len", parse_int, values.seq_len, "Sequence length", 1, MAX_SEQ_LEN)
    attempt("gpus", parse_int, values.gpus, "GPUs", 1, MAX_GPUS)
    attempt("lora_dropout", parse_dropout, values.lora_dropout)
    custom = None
    if values.custom_rank.strip():
        attempt("custom_rank", parse_int, values.custom_rank, "Custom rank", 1, MAX_RANK)
        custom = parsed.get("custom_rank")
    if not values.targets:
        errors["targets"] = "Targets: tick at least one module (or press all-linear)"
    if parsed.get("gpus", 1) > 1 and values.sharding == "none":
        errors["sharding"] = "Sharding: with several GPUs choose DDP, FSDP, ZeRO-2 or ZeRO-3"
    if errors:
        return FormResult(None, custom, errors)
    try:
        setup = bridge.training_setup(
            targets=values.targets,
            dora=values.dora,
            quant=values.quant,
            double_quant=values.double_quant and values.quant in FOUR_BIT_QUANTS,
            micro_batch=parsed["micro_batch"],
            seq_len=parsed["seq_len"],
            grad_checkpointing=values.grad_checkpointing,
            optimizer=values.optimizer,
            attention=values.attention,
            lora_dropout=parsed["lora_dropout"],
            gpus=parsed["gpus"],
            sharding=values.sharding,
            padding_mask=values.padding_mask,
        )
    except BadInput as exc:  # a combination the core refuses, on the field its message names
        return FormResult(None, custom, {bridge.error_field(str(exc)): str(exc)})
    return FormResult(setup, custom, {})


# -- the setup remembered between sessions (tui.config's [setup] table) -----------------------------------------
_CHOICES = {"quant": QUANT_CHOICES, "optimizer": OPTIMIZER_CHOICES, "attention": ATTENTION_CHOICES,
            "sharding": SHARDING_CHOICES}
_FLAGS = ("double_quant", "grad_checkpointing", "dora", "padding_mask")
_WHOLE = {"micro_batch": ("Micro-batch", MAX_MICRO_BATCH), "seq_len": ("Sequence length", MAX_SEQ_LEN),
          "gpus": ("GPUs", MAX_GPUS), "custom_rank": ("Custom rank", MAX_RANK)}
# Every field but the targets, which name the modules of one model (the next model may have others).
SAVED_FIELDS = (*_CHOICES, *_FLAGS, *_WHOLE, "lora_dropout")


def saved_setup(values: FormValues) -> dict[str, str | int | float | bool]:
    """The form as a TOML table: numbers as numbers, an empty custom rank left out. Only call it with values
    that built a setup (build_setup without errors)."""
    table: dict[str, str | int | float | bool] = {}
    for name in SAVED_FIELDS:
        value = getattr(values, name)
        if name in _WHOLE:
            if str(value).strip():
                label, high = _WHOLE[name]
                table[name] = parse_int(value, label, 1, high)
        elif name == "lora_dropout":
            table[name] = parse_dropout(value)
        else:
            table[name] = value
    return table


def _saved_value(name: str, value: object) -> str | bool:
    """One remembered field as the form holds it (text, choice or flag). Raises BadInput saying why not."""
    if name in _CHOICES:
        known = [v for _label, v in _CHOICES[name]]
        if value not in known:
            raise BadInput(f"{value!r} is not one of {', '.join(known)}")
        return str(value)
    if name in _FLAGS:
        if not isinstance(value, bool):
            raise BadInput(f"{value!r} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadInput(f"{value!r} must be a number")
    if name == "lora_dropout":
        return format(parse_dropout(str(value)), "g")
    label, high = _WHOLE[name]
    return str(parse_int(str(value), label, 1, high))


def read_saved_setup(table: Mapping[str, object]) -> tuple[FormValues, dict[str, str]]:
    """The form a [setup] table describes, and a problem per key that was dropped (unknown, or a value the form
    would refuse): key -> why. Dropped keys keep the form's default."""
    fields: dict[str, str | bool] = {}
    problems: dict[str, str] = {}
    for name, value in table.items():
        if name not in SAVED_FIELDS:
            problems[name] = f"unknown setup field (known: {', '.join(SAVED_FIELDS)})"
            continue
        try:
            fields[name] = _saved_value(name, value)
        except BadInput as exc:
            problems[name] = str(exc)
    return FormValues(**fields), problems
