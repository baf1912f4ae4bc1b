"""The Recommend tab's memory verdict names every flag the planner's hints can now offer (cde85d8: --targets
attention, --no-prepare-kbit, ZeRO-3 over the user's own GPUs, and their combinations) in the planner's words.

Before, remedy_words had no words for two of them: "--targets attention" read "Targets attention" (the field's
label with a capital, mid-sentence) and "--no-prepare-kbit" the bare command option, with nothing saying what it
does. Priced through the real planner (recommend.price_fit -> core.memory.report.fit_hints)."""

from __future__ import annotations

from lorplan.core.memory import TrainingSetup
from lorplan.recommend import price_fit
from lorplan.tui import bridge, recommend_bridge

GiB = 1024**3


def test_each_new_flag_has_words():
    words = recommend_bridge.remedy_words
    assert words("--targets attention") == "LoRA on the attention targets only"
    assert words("--no-prepare-kbit") == "no fp32 up-cast (`lorplan plan --no-prepare-kbit`)"
    assert words("--sharding zero3") == "ZeRO-3 sharding"
    assert (words("--targets attention --grad-checkpointing --no-prepare-kbit")
            == "LoRA on the attention targets only + gradient checkpointing + no fp32 up-cast "
               "(`lorplan plan --no-prepare-kbit`)")
    assert (words("--gpus 2 --sharding zero3 --grad-checkpointing --no-prepare-kbit")
            == "ZeRO-3 sharding over 2 GPUs + gradient checkpointing + no fp32 up-cast "
               "(`lorplan plan --no-prepare-kbit`)")


def test_the_verdict_of_a_real_moe_plan_names_no_field_label_mid_sentence():
    """Qwen3-30B-A3B in nf4 on 70 GiB fits only on its attention projections, checkpointed, without the fp32
    up-cast; Mixtral in nf4 on an A100 only over 2 GPUs: the verdict says so in words, every flag the planner has
    a field for named as that setting, the one it has not as the command that sets it."""
    cases = (("Qwen/Qwen3-30B-A3B", 70 * GiB, "--targets attention"),
             ("mistralai/Mixtral-8x7B-v0.1", 80 * GiB, "--no-prepare-kbit"))
    for model, budget, flag in cases:
        spec = bridge.load_spec(model)
        fit = price_fit(spec, TrainingSetup(quant="nf4"), 16, budget)
        works = [r.change for r in fit.remedies if r.fits]
        assert any(flag in w for w in works), fit.remedies
        text = recommend_bridge.fit_words(fit)
        said = text.split("; it fits with ")[1]
        outside = "".join(said.split("`")[::2])  # what is not a quoted command
        assert "--" not in outside and "Targets" not in said, text
        assert all(recommend_bridge.remedy_words(w) in said for w in works), text
