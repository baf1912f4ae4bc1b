"""`lorplan plan … --write`: the padding mask lorplan train's right-padded batches cost, said and printed."""

from __future__ import annotations

import json
from dataclasses import replace

from lorplan.cli import main
from lorplan.core.memory import estimate
from lorplan.core.model import load_spec
from lorplan.core.plan import plan_to_setup, read_plan
from lorplan.core.units import format_bytes

LLAMA = ["--model", "meta-llama/Llama-3.2-1B", "--rank", "8", "--seq-len", "1024"]


def _notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if "--padding-mask" in line]


def test_a_causal_lm_plan_of_several_rows_says_what_the_padding_mask_lorplan_train_adds_costs(tmp_path, capsys,
                                                                                               monkeypatch):
    """`--micro-batch 4 --write` priced no mask (the --json table's default) while lorplan train right-pads those
    rows, and nothing said so: the measured peak was above the plan by the mask. The plan stays the --json
    table's; one note gives the difference the mask makes and the flag that prices it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "p.toml"
    assert main(["plan", *LLAMA, "--micro-batch", "4", "--write", str(path)]) == 0
    (note,) = _notes(capsys.readouterr().err)
    plan = read_plan(path)
    assert plan.estimate.padding_mask is False  # the plan is what `lorplan plan --json` prints for these flags
    source, setup, rank = plan_to_setup(plan)
    masked = estimate(load_spec(source), replace(setup, padding_mask=True), rank).total
    assert masked > plan.estimate.total_bytes
    assert note.startswith("note: lorplan train right-pads batches of several sequences")
    assert f"+{format_bytes(masked - plan.estimate.total_bytes)} per GPU with --padding-mask" in note, note

    for name, flags in (("masked", ["--micro-batch", "4", "--padding-mask"]), ("one", ["--micro-batch", "1"]),
                        ("flash", ["--micro-batch", "4", "--attention", "flash"])):
        assert main(["plan", *LLAMA, *flags, "--write", str(tmp_path / f"{name}.toml")]) == 0
        assert _notes(capsys.readouterr().err) == [], name  # priced already, nothing padded, or no mask kept
    flash = read_plan(tmp_path / "flash.toml")
    source, setup, rank = plan_to_setup(flash)  # flash-attention keeps no mask: the difference is none
    assert estimate(load_spec(source), replace(setup, padding_mask=True), rank).total == flash.estimate.total_bytes


def test_a_classifier_plan_prints_the_figures_it_writes(tmp_path, capsys, monkeypatch):
    """`--json --write` for a classifier printed the table for 1 row without the mask while the plan written
    trains 16 rows and prices the mask: the printed figures were not the written ones."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "cls.toml"
    assert main(["plan", "--model", "all-MiniLM-L6-v2", "--rank", "8", "--gpu-memory", "8GiB", "--json",
                 "--write", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    plan = read_plan(path)
    (row,) = out["rows"]
    assert (out["setup"]["micro_batch"], out["setup"]["padding_mask"]) == (16, True)
    assert (plan.training.micro_batch, plan.estimate.padding_mask) == (16, True)
    assert row["trainable_params"] == plan.estimate.trainable_params
    for c in ("weights", "adapter", "gradients", "optimizer", "activations", "overhead", "total"):
        assert row["memory"][c] == getattr(plan.estimate, f"{c}_bytes"), c
    assert row["fits"] == plan.estimate.fits
