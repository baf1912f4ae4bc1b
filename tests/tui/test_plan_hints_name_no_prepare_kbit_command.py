"""The Plan tab's "to fit:" line offered "no prepare_model_for_kbit_training (no fp32 up-cast)", a change the
planner has no field for, without saying where to make it. Each part of a hint whose flag the planner cannot set
is now worded as the Recommend tab words it (recommend_bridge.remedy_words: "no fp32 up-cast (`lorplan plan
--no-prepare-kbit`)"); the parts it has fields for keep their words. Priced through the real planner."""

from __future__ import annotations

from lorplan.core.memory import TrainingSetup, rank_table
from lorplan.core.memory.report import fit_hints as core_hints
from lorplan.core.memory.report import format_hint
from lorplan.tui import bridge, recommend_bridge

GiB = 1024**3
MIXTRAL = "mistralai/Mixtral-8x7B-v0.1"


def _hints(budget: int):
    spec = bridge.load_spec(MIXTRAL)
    setup = TrainingSetup(quant="nf4")
    row = rank_table(spec, setup, (16,), budget).rows[0]
    return core_hints(spec, setup, row, budget), bridge.fit_hints(spec, setup, row, budget)


def test_the_no_up_cast_hint_names_the_command_that_sets_it():
    core, shown = _hints(80 * GiB)
    flagged = [i for i, h in enumerate(core) if "--no-prepare-kbit" in h.flags.split()]
    assert flagged and any(" + " in core[i].words for i in flagged)  # alone and in a combination
    command = recommend_bridge.remedy_words("--no-prepare-kbit")
    assert "`lorplan plan --no-prepare-kbit`" in command
    for i in flagged:
        assert command in shown[i] and "prepare_model_for_kbit_training" not in shown[i], shown[i]
    # the combination's other parts keep the Plan tab's words, and its price stays
    combo = next(i for i in flagged if " + " in core[i].words)
    assert shown[combo].startswith(core[combo].words.split(" + ")[0] + " + ")
    assert shown[combo].split(": ")[-1] == format_hint(core[combo], 80 * GiB).split(": ")[-1]
    # a hint the planner can set alone reads as before
    for i, h in enumerate(core):
        if i not in flagged:
            assert shown[i].startswith(h.words + ": "), shown[i]
