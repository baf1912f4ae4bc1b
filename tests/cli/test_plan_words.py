"""What `lorplan plan` says around its numbers agrees with them: the terms alive at the peak add up to the total,
columns mean the same on every row, notes explain surprising figures with priced alternatives, hints propose only
changes not already made, each priced."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lorplan.cli import main
from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup, estimate, rank_table
from lorplan.core.memory.report import fit_hints, setup_notes
from lorplan.core.memory.sweep import peak_moment
from lorplan.core.model import load_spec
from lorplan.core.units import format_bytes

QWEN = "Qwen/Qwen2.5-7B"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
MOE = "Qwen/Qwen3-30B-A3B"
GiB = 1024**3


@pytest.mark.parametrize("gc", [True, False])
@pytest.mark.parametrize("quant", ["none", "nf4"])
def test_terms_at_the_peak_add_up_to_the_total(gc, quant):
    spec = load_spec(QWEN)
    setup = TrainingSetup(quant=quant, seq_len=4096, grad_checkpointing=gc)
    for rank in (8, 64):
        m, pm = estimate(spec, setup, rank), peak_moment(spec, setup, rank)
        assert sum(v for _, v in pm.terms) == m.total
        assert pm.in_step == m.details["in_step_peak"] and f"peak_phase_{pm.phase}" in m.details
        assert all(v <= m.total - m.weights for k, v in pm.terms if k != "base weights")
    if gc:  # only one layer input per block is alive: no sum over every layer's saved tensors
        terms = dict(peak_moment(spec, setup, 16).terms)
        assert "saved activations" not in terms or terms["saved activations"] < terms["checkpointed layer inputs"]


def test_activ_column_means_the_same_on_every_row(capsys):
    assert main(["plan", "--model", LLAMA, "--ranks", "8,16,64", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert {r["peak"]["phase"] for r in rows} == {"loss"}
    # at the loss no gradient exists yet: activ is what is alive then, and it grows (never falls) with the rank
    # memory.gradients / memory.activations are that split on every row (the table's grads and activ columns)
    acts = [r["memory"]["activations"] for r in rows]
    assert all(r["memory"]["gradients"] == 0 for r in rows) and acts == sorted(acts)
    # the size of every adapter gradient is kept, named as such; it grows with the rank
    alls = [r["memory"]["details"]["all_gradients"] for r in rows]
    assert alls == sorted(alls) and alls[0] > 0
    for r in rows:
        mem = r["memory"]
        assert mem["total"] == sum(mem[k] for k in ("weights", "adapter", "gradients", "optimizer", "activations",
                                                    "overhead"))
        assert sum(r["peak"]["terms"].values()) == mem["total"]
    assert main(["plan", "--model", LLAMA, "--ranks", "8,64"]) == 0
    text = capsys.readouterr().out
    assert "peak at" in text and "alive at the step's peak moment" in text
    # the printed columns add up to the printed total (to rounding) on every row
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] in ("8", "64"):
            numbers = [float(c) for c in cells[2:9]]
            assert abs(sum(numbers[:6]) - numbers[6]) < 0.05, line


def test_optimizer_step_peak_holds_every_gradient():
    spec = load_spec("HuggingFaceTB/SmolLM2-135M-Instruct")
    setup = TrainingSetup(seq_len=8, grad_checkpointing=True, targets=LoraTargets(modules=("all-linear",)))
    pm = peak_moment(spec, setup, 256)
    assert pm.phase == "optimizer" and pm.gradients == estimate(spec, setup, 256).gradients


def test_kbit_note_explains_the_growth_with_numbers(capsys):
    spec = load_spec(QWEN)
    setup = TrainingSetup(quant="nf4", seq_len=4096, grad_checkpointing=True)
    assert setup_notes(spec, replace(setup, quant="none"), 16) == []
    notes = setup_notes(spec, setup, 16)
    assert len(notes) == 1 and "prepare_model_for_kbit_training" in notes[0]
    no_prep = estimate(spec, replace(setup, prepare_kbit=False), 16)
    assert format_bytes(no_prep.total) in notes[0] and "--no-prepare-kbit" in notes[0]
    here = estimate(spec, setup, 16)
    assert format_bytes(here.gradients + here.activations) in notes[0]
    assert main(["plan", "--model", QWEN, "--quant", "nf4", "--seq-len", "4096", "--grad-checkpointing",
                 "--ranks", "16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == notes


def test_unquantized_fused_experts_are_explained():
    spec = load_spec(MOE)
    setup = TrainingSetup(quant="nf4", targets=LoraTargets(modules=("attention",)))
    here, plain = estimate(spec, setup, 16), estimate(spec, replace(setup, quant="none"), 16)
    assert here.weights > 1.9 * plain.weights  # 3-D experts: not quantized, then up-cast to fp32
    notes = setup_notes(spec, setup, 16)
    expert_note = next(n for n in notes if "fused 3-D parameters" in n)
    assert format_bytes(here.weights) in expert_note and format_bytes(plain.weights) in expert_note
    no_prep = estimate(spec, replace(setup, prepare_kbit=False), 16)
    assert "--no-prepare-kbit" in expert_note and format_bytes(no_prep.weights) in expert_note
    assert all("outweigh the smaller weights" not in n for n in notes)  # its weights are not smaller


@pytest.mark.parametrize("setup", [
    TrainingSetup(quant="nf4", seq_len=8192),
    TrainingSetup(quant="nf4", double_quant=True, grad_checkpointing=True, seq_len=16384, micro_batch=4),
    TrainingSetup(seq_len=4096, micro_batch=8, optimizer="adamw-8bit"),
    TrainingSetup(),
])
def test_hints_propose_only_changes_not_made_each_priced(setup):
    spec = load_spec(LLAMA)
    budget = 24 * GiB
    row = rank_table(spec, setup, (16,), budget).rows[0]
    hints = fit_hints(spec, setup, row, budget)
    assert row.fits is False and hints
    for h in hints:
        if setup.grad_checkpointing:
            assert "--grad-checkpointing" not in h.flags
        if setup.quant == "nf4":
            assert "--quant" not in h.flags
        if setup.optimizer != "adamw":
            assert "--optimizer" not in h.flags
        assert h.total < row.memory.total and h.fits == (h.total <= budget)
    single = {"--grad-checkpointing": {"grad_checkpointing": True}, "--optimizer adamw-8bit": {"optimizer": "adamw-8bit"},
              "--quant nf4 --double-quant": {"quant": "nf4", "double_quant": True}}
    for h in hints:
        if h.flags in single:
            assert h.total == estimate(spec, replace(setup, **single[h.flags]), 16).total


def test_no_hints_when_it_fits_or_without_budget():
    spec = load_spec(LLAMA)
    setup = TrainingSetup(quant="nf4", grad_checkpointing=True)
    row = rank_table(spec, setup, (16,), 80 * GiB).rows[0]
    assert row.fits and fit_hints(spec, setup, row, 80 * GiB) == []
    row = rank_table(spec, setup, (16,)).rows[0]
    assert fit_hints(spec, setup, row, None) == []
