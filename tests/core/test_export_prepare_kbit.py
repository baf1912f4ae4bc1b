"""Each export of a quantized plan says where its tool treats the base's unquantized weights otherwise than the
plan priced them: with peft's prepare_model_for_kbit_training (its fp32 up-cast) or without it ([quantization]
prepare_kbit = false, lorplan plan --no-prepare-kbit), which lorplan train follows (core.plan.build.prepares_kbit).
axolotl calls it whatever its config says (then casts norms and embeddings back), LLaMA-Factory, TRL and Unsloth
never do; the figures are the memory model's, each plan priced both ways."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lorplan.core.export import export_plan, kbit
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from lorplan.core.plan.build import prepares_kbit, priced_anew
from lorplan.core.plan.schema import HardwareSection
from lorplan.core.units import format_bytes
from lorplan.core.vocab import Sharding

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
CALL = "prepare_model_for_kbit_training"


def priced(plan, prepare: bool, model: str | None = None):
    """`plan` (on `model` when given) with its [estimate] priced anew with or without the call, as lorplan plan
    writes it with or without --no-prepare-kbit."""
    if model is not None:
        plan = replace(plan, model=replace(plan.model, id=model, path=None))
    plan = replace(plan, quantization=replace(plan.quantization, prepare_kbit=prepare))
    return replace(plan, estimate=priced_anew(plan, load_spec(plan.model.source)))


def qlora(prepare: bool, model: str | None = None):
    return priced(read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml"), prepare, model)


def lines(plan, fmt: str) -> list[str]:
    return [w for w in export_plan(plan, fmt).warnings if CALL in w]


def test_the_rule_is_the_plans():
    assert prepares_kbit(qlora(True)) and not prepares_kbit(qlora(False))
    lora = read_plan(SAMPLES / "qwen2.5-7b-lora-80gb.toml")
    assert not prepares_kbit(lora)  # no quantized base: nothing to prepare


def test_a_prepared_plan_needs_less_memory_in_tools_that_do_not_upcast():
    plan, without = qlora(True), qlora(False)
    assert without.estimate.total_bytes < plan.estimate.total_bytes
    for fmt, tool in (("llamafactory", "LLaMA-Factory"), ("unsloth", "Unsloth")):
        (line,) = lines(plan, fmt)
        assert line.startswith(f"{tool} calls no") and "needs less memory than the plan says" in line
        # the figure is what lorplan plan --no-prepare-kbit writes for the same plan, the plan's its own total
        assert format_bytes(without.estimate.total_bytes) in line and format_bytes(plan.estimate.total_bytes) in line
    (trl,) = lines(plan, "trl")
    assert "upcasts to fp32 for this plan" in trl and format_bytes(without.estimate.total_bytes) in trl
    assert not lines(plan, "peft")  # a script of the user's, which calls it as peft's recipe does


def test_a_plan_priced_without_the_call_is_what_these_tools_train():
    plan = qlora(False)
    assert not lines(plan, "llamafactory") and not lines(plan, "unsloth")
    (trl,) = lines(plan, "trl")
    assert "as lorplan train does for this plan" in trl and "upcasts" not in trl
    (peft,) = lines(plan, "peft")
    assert peft.startswith("the plan was priced without") and "skip that call" in peft
    assert "LORPLAN_WARNINGS.txt" in export_plan(plan, "peft").files


def test_axolotl_keeps_biases_in_fp32_for_a_plan_priced_without_the_call():
    # Llama has no biases, routers or fused experts: after axolotl casts norms and embeddings back, nothing stays
    # in fp32, so it trains the plan's dtypes
    assert not lines(qlora(False), "axolotl")
    plan = qlora(False, "Qwen/Qwen2.5-7B")  # q/k/v biases, which axolotl leaves in fp32
    (line,) = lines(plan, "axolotl")
    full = qlora(True, "Qwen/Qwen2.5-7B")
    assert "(--no-prepare-kbit)" in line and "more weights per GPU than the plan priced" in line
    assert format_bytes(full.estimate.total_bytes) in line and format_bytes(plan.estimate.total_bytes) in line
    # the sharded runs in which axolotl skips the call: no line
    for sharding in (Sharding.ZERO3, Sharding.FSDP):
        sharded = replace(plan, hardware=HardwareSection(gpus=2, sharding=sharding))
        assert not lines(sharded, "axolotl")
    # a plan priced with the call: axolotl casts the norms and embeddings back, so it needs less
    (prepared,) = lines(full, "axolotl")
    assert prepared.startswith("axolotl calls peft's") and "needs less memory than the plan says" in prepared
    assert format_bytes(plan.estimate.total_bytes) in prepared  # the figure without the up-cast


def test_no_line_where_the_upcast_changes_no_dtype():
    for prepare in (True, False):
        plan = qlora(prepare)
        fp32 = replace(plan, training=replace(plan.training, precision="fp32"))
        for fmt in ("axolotl", "llamafactory", "unsloth", "peft"):
            assert not lines(fp32, fmt), fmt


def test_axolotl_figure_for_a_prepared_plan_counts_what_it_leaves_in_fp32():
    # Qwen3-30B-A3B's fused experts are left unquantized by bitsandbytes; axolotl's cast back after the up-cast
    # (norms, embeddings) leaves them in fp32, so its total is the plan without the up-cast plus their fp32 bytes,
    # not the no-up-cast total LLaMA-Factory and Unsloth train
    base = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")
    base = replace(base, lora=replace(base.lora, dropout=0.0))  # peft has no dropout on fused experts
    plan, without = (priced(base, prepare, "Qwen/Qwen3-30B-A3B") for prepare in (True, False))
    kept = kbit.extra_fp32_bytes(plan, kbit.left_in_fp32(plan))
    assert kept > 40 * 2**30  # the experts: tens of GiB
    (line,) = lines(plan, "axolotl")
    axolotl_total = without.estimate.total_bytes + kept
    assert axolotl_total < plan.estimate.total_bytes
    assert format_bytes(axolotl_total) in line, line
    (lf,) = lines(plan, "llamafactory")
    assert format_bytes(axolotl_total) not in lf and format_bytes(without.estimate.total_bytes) in lf


def test_trl_names_no_upcast_where_it_changes_no_dtype():
    # an fp32 plan's unquantized weights are fp32 with or without peft's call: lorplan train up-casts nothing
    for prepare in (True, False):
        plan = qlora(prepare)
        fp32 = replace(plan, training=replace(plan.training, precision="fp32"))
        (line,) = [w for w in export_plan(fp32, "trl").warnings if "unquantized weights" in w]
        assert "as lorplan train does" in line and "upcast" not in line and "--no-prepare-kbit" not in line, line



def test_the_spec_the_caller_loaded_is_the_one_priced(tmp_path, capsys):
    # lorplan export loads the model's spec to check the plan against it (cli.export.check_context) and passes it
    # on: the notes price that spec (the figures follow it) rather than reading the model again
    plan = qlora(True)
    for fmt in ("axolotl", "llamafactory", "trl", "unsloth"):
        want = lines(plan, fmt)
        assert want and [w for w in export_plan(plan, fmt, spec=load_spec(plan.model.source)).warnings
                         if CALL in w] == want, fmt
    other = load_spec("Qwen/Qwen2.5-7B")  # another model's spec: its figures, not the plan's model's
    (line,) = [w for w in export_plan(plan, "llamafactory", spec=other).warnings if CALL in w]
    qwen = qlora(False, "Qwen/Qwen2.5-7B").estimate.total_bytes
    assert format_bytes(qwen) in line and format_bytes(qlora(False).estimate.total_bytes) not in line
    from lorplan.cli import main
    from lorplan.core.plan import write_plan

    path = write_plan(plan, tmp_path / "p.toml")
    assert main(["export", str(path), "--to", "llamafactory,trl"]) == 0
    assert capsys.readouterr().err.count(format_bytes(qlora(False).estimate.total_bytes)) == 2
