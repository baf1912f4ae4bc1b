"""The form rules: every kind of bad input gets one message naming the field; good input builds a setup."""

from __future__ import annotations

import pytest

from lorplan.core.errors import BadInput
from lorplan.tui.panels.setup_form import FormValues, build_setup, parse_budget, parse_positive_float


def test_defaults_build_the_core_default_setup():
    from lorplan.core.memory import TrainingSetup

    result = build_setup(FormValues())
    assert result.errors == {}
    assert result.setup == TrainingSetup()


@pytest.mark.parametrize(
    ("field", "text", "needle"),
    [
        ("micro_batch", "abc", "is not a number"),
        ("micro_batch", "0", "must be at least 1"),
        ("micro_batch", "-3", "must be at least 1"),
        ("micro_batch", "1.5", "whole number"),
        ("seq_len", "1000000000", "must be at most 16,777,216"),
        ("seq_len", "1e9", "must be at most 16,777,216"),
        ("seq_len", "", "type a whole number"),
        ("gpus", "0", "must be at least 1"),
        ("lora_dropout", "x", "not a number"),
        ("lora_dropout", "1", "below 1"),
        ("lora_dropout", "-0.1", "at least 0"),
        # empty was read as 0 without a word; the other required fields refuse it too
        ("lora_dropout", "", "type a number (0 for no dropout"),
        ("lora_dropout", "   ", "type a number (0 for no dropout"),
        ("custom_rank", "0", "must be at least 1"),
        ("custom_rank", "ten", "not a number"),
    ],
)
def test_bad_fields_are_named(field, text, needle):
    result = build_setup(FormValues(**{field: text}))
    assert result.setup is None
    assert needle in result.errors[field]


def test_several_bad_fields_are_all_reported():
    result = build_setup(FormValues(micro_batch="x", seq_len="0"))
    assert set(result.errors) == {"micro_batch", "seq_len"}


def test_no_target_is_an_error():
    assert "targets" in build_setup(FormValues(targets=())).errors


def test_double_quant_only_applies_to_4bit():
    assert build_setup(FormValues(quant="int8", double_quant=True)).setup.double_quant is False
    assert build_setup(FormValues(quant="nf4", double_quant=True)).setup.double_quant is True


def test_custom_rank_and_thousands_separators():
    result = build_setup(FormValues(custom_rank="12", seq_len="8_192"))
    assert result.custom_rank == 12 and result.setup.seq_len == 8192


@pytest.mark.parametrize("text", ["lots", "0", "-4GiB", "1000TiB", "65T"])  # 65T is 65 TiB, over the 64 TiB cap
def test_bad_budgets(text):
    from lorplan.core.errors import BadInput

    with pytest.raises(BadInput, match="GPU memory"):
        parse_budget(text)


def test_budget_units():
    assert parse_budget("24GiB") == 24 * 1024**3
    assert parse_budget("80GB") == 80 * 10**9
    assert parse_budget("24G") == 24 * 1024**3  # as lorplan's table writes GiB ("23.50G")
    assert parse_budget("60TB") == 60 * 10**12


def test_several_gpus_need_sharding():
    assert "Sharding" in build_setup(FormValues(gpus="2")).errors["sharding"]
    assert build_setup(FormValues(gpus="2", sharding="fsdp")).setup.sharding == "fsdp"


def test_sharding_follows_the_gpu_count_as_the_cli_defaults_it():
    from lorplan.core.vocab import default_sharding
    from lorplan.tui.panels.setup_form import sharding_for_gpus

    assert sharding_for_gpus(2, "none", False) == (default_sharding(2).value, True) == ("ddp", True)
    assert sharding_for_gpus(1, "ddp", True) == ("none", False)  # set automatically: undone on one GPU
    assert sharding_for_gpus(1, "ddp", False) == ("ddp", False)  # chosen by hand: kept
    assert sharding_for_gpus(2, "fsdp", False) == ("fsdp", False)
    assert sharding_for_gpus(3, "ddp", True) == ("ddp", True)


@pytest.mark.parametrize("text", ["abc", "-1", "0", "nan", "inf", "1e999", "", "  "])
def test_parse_positive_float_refuses_naming_the_field(text):
    with pytest.raises(BadInput, match=r"^Ladder budget: .*minutes$"):
        parse_positive_float(text, "Ladder budget", "minutes")


def test_parse_positive_float_reads_numbers():
    assert parse_positive_float(" 2.5 ", "Ladder budget", "minutes") == 2.5
    assert parse_positive_float("1_000", "x") == 1000.0


def test_the_custom_rank_bound_is_the_plan_readers():
    """The form's custom rank stops where a plan's lora.r does (lorplan.core.limits.MAX_RANK, through the
    bridge): one bound from one place, not a copy of its number."""
    from lorplan.core import limits
    from lorplan.tui.panels import setup_form

    assert setup_form.MAX_RANK is limits.MAX_RANK  # the core's own value, not an equal literal
    assert build_setup(FormValues(custom_rank=f"{limits.MAX_RANK:,}")).custom_rank == limits.MAX_RANK
    result = build_setup(FormValues(custom_rank=str(limits.MAX_RANK + 1)))
    assert result.setup is None and f"{limits.MAX_RANK:,}" in result.errors["custom_rank"], result.errors
