"""lorplan.core.vocab is the one definition of every closed set of names: the CLI's choices, the TUI's options,
the plan validator and TrainingSetup take exactly its values; every tool table spells every member, in a way
the installed library accepts; and no module of lorplan keeps a second literal list of the same names."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import typing
from pathlib import Path

import pytest

from lorplan.cli import build_parser
from lorplan.core import vocab
from lorplan.core.errors import BadInput
from lorplan.core.memory import TrainingSetup
from lorplan.core.memory.types import DTYPE_BYTES
from lorplan.core.plan import (
    DataSection,
    EstimateSection,
    LoraSection,
    ModelSection,
    Plan,
    TrainingSection,
    dumps_plan,
    loads_plan,
    rules,
)
from lorplan.core.plan.schema import plan_to_dict
from lorplan.core.plan.validate import plan_from_dict
from lorplan.core.vocab import (
    ATTN_IMPLEMENTATION,
    FOUR_BIT_QUANTS,
    HF_OPTIM,
    PEFT_TASK_TYPE,
    SHARDED,
    SPELLINGS,
    TORCH_DTYPE,
    Attention,
    DataSchema,
    DType,
    ExportFormat,
    Kernels,
    LoraBias,
    LoraInit,
    LossKernel,
    Optimizer,
    Quant,
    Scheduler,
    Sharding,
    Task,
    TrainOn,
)

ROOT = Path(__file__).resolve().parents[2]
VOCABS = tuple(vocab.Vocab.__subclasses__())


def test_a_member_is_its_spelling():
    assert Quant("nf4") is Quant.NF4 and Quant.NF4 == "nf4"
    assert f"{Quant.NF4}" == str(Quant.NF4) == "nf4"
    assert {"nf4": 1}[Quant.NF4] == 1 and TORCH_DTYPE["bf16"] == "bfloat16"  # plain strings find members
    assert Quant.values() == ("none", "int8", "nf4", "fp4")
    assert Quant.options()[2] == ("nf4 (QLoRA)", "nf4")
    with pytest.raises(ValueError):
        Quant("nf8")
    for voc in VOCABS:
        assert len(set(voc.values())) == len(voc.values()) >= 2, voc
        assert all(type(v) is str for v in voc.values())


# ---- the CLI ---------------------------------------------------------------------------------------------


def _command(*names: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in names:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _flag(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


@pytest.mark.parametrize("command, flag, voc", [
    (("probe", "start"), "--quant", Quant),
    (("probe", "start"), "--optimizer", Optimizer),
    (("probe", "start"), "--attention", Attention),
    (("probe", "start"), "--train-on", TrainOn),
    (("plan",), "--train-on", TrainOn),
    (("recommend",), "--train-on", TrainOn),
    (("recommend",), "--task", Task),
    (("export",), "--to", ExportFormat),
    (("profile",), "--schema", DataSchema),
])
def test_cli_choices_are_the_vocabulary(command, flag, voc):
    assert tuple(_flag(_command(*command), flag).choices) == voc.values()


# `lorplan plan` checks these through TrainingSetup (one-line errors); its metavar lists the names.
PLAN_FLAGS = [("--quant", "quant", Quant), ("--base-dtype", "base_dtype", DType),
              ("--adapter-dtype", "adapter_dtype", DType), ("--attention", "attention", Attention),
              ("--kernels", "kernels", Kernels), ("--sharding", "sharding", Sharding),
              ("--optimizer", "optimizer", Optimizer), ("--loss", "loss", LossKernel)]


@pytest.mark.parametrize("flag, field, voc", PLAN_FLAGS)
def test_plan_flags_take_exactly_the_vocabulary(flag, field, voc):
    from lorplan.cli.plan_args import setup_from_args

    action = _flag(_command("plan"), flag)
    listed = action.help.split(" (default ")[0] if flag == "--optimizer" else action.metavar  # help: the names
    assert tuple(n.strip() for n in listed.replace("|", " ").split()) == voc.values()
    for value in voc.values():
        gpus = "2" if value in SHARDED else "1"
        args = build_parser().parse_args(["plan", "--model", "m", flag, value, "--gpus", gpus])
        assert getattr(setup_from_args(args), field) == value
    args = build_parser().parse_args(["plan", "--model", "m", flag, "nope"])
    with pytest.raises(BadInput, match=f"{flag}: 'nope' is not one of {', '.join(voc.values())}$"):
        setup_from_args(args)


# ---- the TUI ---------------------------------------------------------------------------------------------


def test_tui_setup_options_are_the_vocabulary():
    from lorplan.tui.panels.setup_form import (
        ATTENTION_CHOICES,
        OPTIMIZER_CHOICES,
        QUANT_CHOICES,
        SHARDING_CHOICES,
        FormValues,
        build_setup,
    )

    for options, voc, field in ((QUANT_CHOICES, Quant, "quant"), (OPTIMIZER_CHOICES, Optimizer, "optimizer"),
                                (ATTENTION_CHOICES, Attention, "attention"), (SHARDING_CHOICES, Sharding, "sharding")):
        assert tuple(tuple(o) for o in options) == voc.options()
        for _, value in options:  # every option the form offers builds a setup
            gpus = "2" if value in SHARDED or value == Sharding.DDP else "1"
            result = build_setup(FormValues(**{field: value}, gpus=gpus))
            assert result.setup is not None and getattr(result.setup, field) == value, result.errors


def test_tui_data_and_export_options_are_the_vocabulary():
    from lorplan.core.export import export_plan, output_name
    from lorplan.tui.panels.data_panel import SCHEMA_OPTIONS
    from lorplan.tui.screens.export_dialog import FORMATS, OUTPUT_NAMES

    assert tuple(value for _, value in SCHEMA_OPTIONS) == DataSchema.values()
    assert tuple(FORMATS) == ("plan", *ExportFormat.values())
    plan = _plan()
    for fmt in ExportFormat:
        result = export_plan(plan, fmt.value)
        assert result.format == fmt and OUTPUT_NAMES[fmt.value] == output_name(fmt.value)
        if not result.folder:  # the dialog names the file as the exporter does
            assert list(result.files) == [OUTPUT_NAMES[fmt.value]]


# ---- the plan file and TrainingSetup ---------------------------------------------------------------------


def _plan(**sections) -> Plan:
    lora = LoraSection(r=16, alpha=32, target_modules=("q_proj", "v_proj"))
    estimate = EstimateSection(16, 100, 1, 2, 3, 4, 5, 6, total_bytes=21, adapter_dtype="fp32", kernels="cuda",
                               loss="standard")
    base = {"model": ModelSection(id="m"), "lora": lora, "training": TrainingSection(),
            "data": DataSection(path="d.jsonl"), "estimate": estimate}
    return Plan(**{**base, **sections})


PLAN_KEYS = {
    ("model", "task"): Task.values(),
    ("quantization", "bnb_4bit_quant_type"): ("nf4", "fp4"),
    ("quantization", "bnb_4bit_compute_dtype"): ("bfloat16", "float16", "float32"),
    ("lora", "bias"): LoraBias.values(),
    ("training", "lr_scheduler"): Scheduler.values(),
    ("training", "optimizer"): Optimizer.values(),
    ("training", "precision"): DType.values(),
    ("training", "attention"): Attention.values(),
    ("data", "schema"): DataSchema.values(),
    ("data", "train_on"): TrainOn.values(),
    ("hardware", "sharding"): Sharding.values(),
    ("estimate", "adapter_dtype"): DType.values(),
    ("estimate", "kernels"): Kernels.values(),
    ("estimate", "loss"): LossKernel.values(),
}


def test_plan_choices_are_the_vocabulary():
    assert rules.CHOICES == PLAN_KEYS


@pytest.mark.parametrize("section, key", list(PLAN_KEYS))
def test_plan_validation_takes_exactly_the_vocabulary(section, key):
    doc = plan_to_dict(_plan())
    assert key in doc[section]
    for value in PLAN_KEYS[(section, key)]:
        doc[section][key] = value
        assert getattr(getattr(plan_from_dict(doc, "p.toml"), section), key) == value
    doc[section][key] = "nope"
    with pytest.raises(BadInput) as info:
        plan_from_dict(doc, "p.toml")
    assert info.value.problems == [f"p.toml: {section}.{key}: must be one of {', '.join(PLAN_KEYS[(section, key)])}"]


def test_plan_init_methods_are_the_vocabulary():
    text = dumps_plan(_plan())
    for init in LoraInit.values():
        plan = loads_plan(text.replace("init_lora_weights = true", f'init_lora_weights = "{init}"'), "p.toml")
        assert plan.lora.init_lora_weights == init
    with pytest.raises(BadInput, match=f"must be true, false or one of {', '.join(LoraInit.values())}"):
        loads_plan(text.replace("init_lora_weights = true", 'init_lora_weights = "nope"'), "p.toml")


@pytest.mark.parametrize("field, flag, voc", [
    ("quant", "--quant", Quant), ("optimizer", "--optimizer", Optimizer), ("attention", "--attention", Attention),
    ("sharding", "--sharding", Sharding), ("base_dtype", "--base-dtype", DType),
    ("adapter_dtype", "--adapter-dtype", DType), ("kernels", "--kernels", Kernels),
])
def test_training_setup_takes_exactly_the_vocabulary(field, flag, voc):
    for value in voc.values():
        gpus = 2 if value in SHARDED or value == Sharding.DDP else 1
        assert getattr(TrainingSetup(**{field: value}, gpus=gpus), field) == value
    with pytest.raises(BadInput, match=f"^{flag}: 'nope' is not one of {', '.join(voc.values())}$"):
        TrainingSetup(**{field: "nope"})


def test_double_quant_is_for_the_four_bit_quantizations_only():
    for quant in Quant:
        if quant in FOUR_BIT_QUANTS:
            assert TrainingSetup(quant=quant.value, double_quant=True).double_quant
        else:
            with pytest.raises(BadInput, match="--double-quant needs --quant nf4 or fp4"):
                TrainingSetup(quant=quant.value, double_quant=True)


# ---- the tool spellings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", list(SPELLINGS))
def test_every_member_has_a_spelling_in_every_tool_table(tool):
    voc, table = SPELLINGS[tool]
    assert set(table) == set(voc), f"{tool}: {set(voc) ^ set(table)}"
    assert all(type(v) is str and v for v in table.values())  # YAML and TOML writers see plain strings


def test_torch_dtype_names_exist_with_the_priced_sizes():
    import torch

    for dtype in DType:
        torch_dtype = getattr(torch, TORCH_DTYPE[dtype])
        assert isinstance(torch_dtype, torch.dtype) and torch_dtype.is_floating_point
        assert torch_dtype.itemsize == DTYPE_BYTES[dtype]


def test_bitsandbytes_config_takes_the_quant_types_and_compute_dtypes():
    import torch
    import transformers

    for quant in FOUR_BIT_QUANTS:
        for dtype in DType:
            cfg = transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant.value,
                                                  bnb_4bit_compute_dtype=TORCH_DTYPE[dtype])
            assert cfg.bnb_4bit_quant_type == quant and cfg.bnb_4bit_compute_dtype == getattr(torch, TORCH_DTYPE[dtype])


def test_transformers_accepts_the_attention_implementations():
    import torch
    import transformers

    cfg = transformers.LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   num_key_value_heads=2, vocab_size=32)
    for attention in Attention:
        name = ATTN_IMPLEMENTATION[attention]
        try:
            with torch.device("meta"):
                model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation=name)
        except ImportError as exc:  # flash-attn is not installed here: a known name whose package is missing
            assert attention is Attention.FLASH and "flash" in str(exc).lower(), exc
            continue
        assert model.config._attn_implementation == name
    with pytest.raises(ValueError, match="not supported"), torch.device("meta"):
        transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="nope")


def test_transformers_knows_the_optimizer_and_scheduler_names():
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    assert {OptimizerNames(HF_OPTIM[o]) for o in Optimizer}
    assert [SchedulerType(s.value).value for s in Scheduler] == list(Scheduler.values())


def test_peft_knows_the_task_types_biases_and_init_methods():
    import peft

    assert {t: peft.TaskType[PEFT_TASK_TYPE[t]].value for t in Task} == dict(PEFT_TASK_TYPE)
    hints = {f.name: f.type for f in dataclasses.fields(peft.LoraConfig)}
    bias = hints["bias"] if not isinstance(hints["bias"], str) else typing.get_type_hints(peft.LoraConfig)["bias"]
    assert typing.get_args(bias) == LoraBias.values()
    init = typing.get_type_hints(peft.LoraConfig)["init_lora_weights"]
    literals = {a for arg in typing.get_args(init) for a in typing.get_args(arg)}
    assert set(LoraInit.values()) <= literals, set(LoraInit.values()) - literals


def test_accelerate_knows_the_distributed_types_and_mixed_precisions():
    from accelerate.utils import DistributedType, PrecisionType

    for tool, enum in (("accelerate distributed_type", DistributedType), ("accelerate mixed_precision", PrecisionType)):
        for spelling in SPELLINGS[tool][1].values():
            assert enum(spelling).value == spelling


# ---- one definition --------------------------------------------------------------------------------------

# Modules of other areas that still held their own copy when the vocabulary was introduced; each should use
# lorplan.core.vocab (remove it here once it does). Every other module is checked.
PENDING: set[str] = set()  # modules not yet converted to the vocabulary: none left


def _literal_copies(path: Path) -> list[str]:
    """Tuples, lists, sets and dict keys/values of string constants that spell 2+ names of one vocabulary (all
    of theirs, or 3+ of them); a tuple of (label, value) pairs counts by its values."""
    names = {voc.__name__: set(voc.values()) for voc in VOCABS}
    names |= {tool: set(table.values()) for tool, (_, table) in SPELLINGS.items()}
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        groups = []
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            groups.append(node.elts)
            if node.elts and all(isinstance(e, ast.Tuple) and len(e.elts) == 2 for e in node.elts):
                groups.append([e.elts[1] for e in node.elts])
        elif isinstance(node, ast.Dict):
            groups += [[k for k in node.keys if k is not None], node.values]
        for elts in groups:
            strings = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            for name, values in names.items():
                hit = strings & values
                if len(hit) >= 3 or (len(hit) >= 2 and strings <= values):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name} {sorted(strings)}")
    return found


def test_the_scanner_finds_a_copy(tmp_path):
    (tmp_path / "m.py").write_text('X = ("nf4", "fp4")\nY = {"bf16": 2, "fp16": 2}\nZ = (("a", "sdpa"), ("b", "eager"))\n'
                                   'OK = ("auto", "cpu", "cuda")\n')
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        found = _literal_copies(tmp_path / "m.py")
    finally:
        ROOT = root
    flagged = {(int(f.split(":")[1]), f.split(": ")[1].split()[0]) for f in found}
    assert {(1, "Quant"), (2, "DType"), (3, "Attention")} <= flagged
    assert {line for line, _ in flagged} == {1, 2, 3}  # device names that share two words with Kernels pass


def test_no_module_keeps_a_second_list_of_the_names():
    files = [p for p in sorted((ROOT / "lorplan").rglob("*.py"))
             if p.name != "vocab.py" and str(p.relative_to(ROOT)) not in PENDING]
    assert [line for p in files for line in _literal_copies(p)] == []
