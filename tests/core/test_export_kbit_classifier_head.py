"""A quantized sequence classifier's up-cast figures (core.export.kbit) are priced on the head the plan trains,
as the planner prices the plan (`lorplan plan --write --data` re-heads the model for its labels:
core.plan.classifier_spec), not on the model's own head. Catalog specs only: no model built, no child process."""

from __future__ import annotations

from dataclasses import replace

from lorplan.core.export import kbit
from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.model import load_spec
from lorplan.core.model.head import head_labels, with_labels
from lorplan.core.plan.build import plan_from_setup, priced_anew, priced_spec
from lorplan.core.units import format_bytes

MODEL = "google-bert/bert-base-uncased"  # catalog: its config.json says 2 labels
LABELS = 5000  # a head big enough that the wrong one shows in the note's rounded figures


def planned(prepare: bool):
    """The plan `lorplan plan --model MODEL --quant nf4 --rank 8 [--no-prepare-kbit] --write --data D` writes for
    data with LABELS classes: built from the spec re-headed for them, priced as the planner prices it."""
    setup = TrainingSetup(targets=LoraTargets(modules=("query", "value")), quant="nf4", micro_batch=16,
                          seq_len=128, prepare_kbit=prepare)
    return plan_from_setup(with_labels(load_spec(MODEL), LABELS), setup, 8, source=MODEL)


def test_priced_spec_is_the_plans_head():
    model = load_spec(MODEL)
    plan = planned(True)
    assert head_labels(model) == 2 and plan.model.num_labels == LABELS
    assert head_labels(priced_spec(plan, model)) == LABELS
    # a plan without num_labels trains the 2 outputs lorplan train builds
    assert head_labels(priced_spec(replace(plan, model=replace(plan.model, num_labels=None)), model)) == 2
    assert priced_anew(plan, model) == plan.estimate


def test_kbit_totals_are_the_planners_figures():
    plan, without = planned(True), planned(False)
    want = (plan.estimate.total_bytes, without.estimate.total_bytes)
    assert want[1] < want[0]
    # read offline (the planner's export dialog), and on the model's own spec (`lorplan export` passes the one it
    # loaded to check the plan): both re-headed
    assert kbit.totals(plan) == want
    assert kbit.totals(plan, load_spec(MODEL)) == want


def test_the_note_says_the_planners_figures():
    plan, without = planned(True), planned(False)
    (line,) = kbit.priced_less_note(plan, "a tool calls no prepare_model_for_kbit_training")
    assert format_bytes(plan.estimate.total_bytes) in line and format_bytes(without.estimate.total_bytes) in line
    # the model's own 2-output head prices another figure, so the note could have said it
    two = kbit.totals(replace(plan, model=replace(plan.model, num_labels=2)))
    assert format_bytes(two[1]) != format_bytes(without.estimate.total_bytes)
    assert format_bytes(two[1]) not in line
