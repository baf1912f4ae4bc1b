"""command_for: the `lorplan plan` command line for a setup, read back by the real parser into the same setup."""

from __future__ import annotations

import json
import shlex
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from lorplan.cli import build_parser, main
from lorplan.cli.plan_args import budget_from_args, ranks_from_args, setup_from_args
from lorplan.core.limits import MAX_CUDA_CONTEXT_BYTES, MIN_GPU_MEMORY_BYTES
from lorplan.core.lora import LoraTargets
from lorplan.core.memory import DEFAULT_RANKS, TrainingSetup, plan_json, rank_table
from lorplan.core.model import load_spec
from lorplan.core.plan.command import command_for

MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@st.composite
def setups(draw) -> TrainingSetup:
    names = draw(st.one_of(st.just(("all-linear",)), st.lists(st.sampled_from(MODULES), min_size=1, max_size=4,
                                                                unique=True).map(tuple)))
    quant = draw(st.sampled_from(("none", "int8", "nf4", "fp4")))
    gpus = draw(st.sampled_from((1, 2, 8)))
    targets = LoraTargets(
        modules=names,
        layers_to_transform=draw(st.one_of(st.none(), st.lists(st.integers(0, 31), min_size=1, max_size=3,
                                                                  unique=True).map(tuple))),
        rank_pattern=MappingProxyType(draw(st.dictionaries(st.sampled_from(MODULES), st.integers(1, 128),
                                                           max_size=2))),
        use_dora=draw(st.booleans()),
        modules_to_save=draw(st.sampled_from(((), ("lm_head",), ("lm_head", "embed_tokens")))),
    )
    return TrainingSetup(
        targets=targets, quant=quant, double_quant=quant in ("nf4", "fp4") and draw(st.booleans()),
        base_dtype=draw(st.sampled_from(("bf16", "fp16", "fp32"))),
        adapter_dtype=draw(st.sampled_from(("bf16", "fp16", "fp32"))),
        micro_batch=draw(st.integers(1, 64)), seq_len=draw(st.integers(1, 1 << 17)),
        grad_checkpointing=draw(st.booleans()),
        optimizer=draw(st.sampled_from(("adamw", "adamw-8bit", "paged-adamw-8bit", "sgd", "sgd-momentum"))),
        attention=draw(st.sampled_from(("sdpa", "eager", "flash"))),
        lora_dropout=draw(st.sampled_from((0.0, 0.05, 0.1, 1 / 3))),
        gpus=gpus, sharding="none" if gpus == 1 else draw(st.sampled_from(("ddp", "fsdp", "zero2", "zero3"))),
        cuda_context_bytes=draw(st.one_of(st.none(), st.just(0), st.just(MAX_CUDA_CONTEXT_BYTES),
                                             st.integers(1, MAX_CUDA_CONTEXT_BYTES))),
        autocast=draw(st.booleans()), prepare_kbit=draw(st.booleans()),
        kernels=draw(st.sampled_from(("cuda", "cpu"))), foreach=draw(st.booleans()),
        reserve_fraction=draw(st.sampled_from((0.05, 0.0, 0.125))),
        padding_mask=draw(st.booleans()),
    )


def parsed(command: str):
    argv = shlex.split(command)
    assert argv[:2] == ["lorplan", "plan"]
    return build_parser().parse_args(argv[1:])


@settings(max_examples=150, deadline=None)
@given(setups(), st.one_of(st.none(), st.integers(MIN_GPU_MEMORY_BYTES, 200 << 30)),  # a budget the form accepts
       st.one_of(st.none(), st.lists(st.integers(1, 4096), min_size=1, max_size=5, unique=True).map(
           lambda r: tuple(sorted(r)))))
def test_the_command_reads_back_as_the_same_setup(setup, budget, ranks):
    args = parsed(command_for("Qwen/Qwen3-8B", setup, ranks, budget))
    assert args.model == "Qwen/Qwen3-8B"
    assert setup_from_args(args) == setup
    assert budget_from_args(args)[0] == budget
    assert ranks_from_args(args) == (ranks or DEFAULT_RANKS)


def test_defaults_write_the_shortest_command():
    assert command_for("meta-llama/Llama-3.1-8B", TrainingSetup()) == "lorplan plan --model meta-llama/Llama-3.1-8B"
    assert command_for("/my models/llama", TrainingSetup(), budget_bytes=24 << 30) == (
        "lorplan plan --model '/my models/llama' --gpu-memory 24GiB")


def test_running_the_command_prints_the_same_table(capsys):
    setup = TrainingSetup(quant="nf4", double_quant=True, seq_len=4096, grad_checkpointing=True,
                          targets=LoraTargets(modules=("q_proj", "v_proj")), optimizer="paged-adamw-8bit")
    ranks, budget = (4, 12, 64), 24 << 30
    command = command_for("meta-llama/Llama-3.1-8B", setup, ranks, budget)
    assert main([*shlex.split(command)[1:], "--json"]) in (0, 1)
    spec = load_spec("meta-llama/Llama-3.1-8B")
    # plus the budget's card, which the command adds: none for a --gpu-memory size
    assert json.loads(capsys.readouterr().out) == {**plan_json(spec, rank_table(spec, setup, ranks, budget)),
                                                   "gpu": None}


def test_a_setup_priced_without_the_cuda_context_reads_back(capsys):
    """0 bytes of CUDA context (a plan may carry it) is written as --cuda-context 0GiB, which the flag took
    for no size at all and refused."""
    setup = TrainingSetup(cuda_context_bytes=0)
    command = command_for("openai-community/gpt2", setup, (8,))
    assert command.endswith("--cuda-context 0GiB --ranks 8")
    assert setup_from_args(parsed(command)) == setup
    assert main([*shlex.split(command)[1:], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cuda_context"]["bytes"] == 0


def test_the_planners_attention_reads_back_for_a_model_without_sdpa(capsys):
    """The attention `lorplan plan` defaults to depends on the model (eager on Gemma 2, which has no SDPA): the
    planner's setup there (bridge.model_attention's default), eager, is written out and runs back to the same
    table, without the default's note."""
    from lorplan.core.model.attention import default_attention

    spec = load_spec("google/gemma-2-2b-it")
    setup = TrainingSetup(attention=default_attention(spec).value, seq_len=1024)
    assert setup.attention != TrainingSetup().attention
    command = command_for(spec.id, setup, (8,))
    assert setup_from_args(parsed(command)) == setup
    assert main([*shlex.split(command)[1:], "--json"]) in (0, 1)
    got = json.loads(capsys.readouterr().out)
    assert got["rows"] == plan_json(spec, rank_table(spec, setup, (8,)))["rows"]
    assert not any(n.startswith("--attention") for n in got["notes"]), got["notes"]
