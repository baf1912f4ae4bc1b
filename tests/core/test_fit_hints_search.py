"""The planner's "to fit rank R" hints (core.memory.report.fit_hints) search the changes it can price and offer
the ones that fit on the user's own GPUs before asking for more of them:

- an 8-GPU DDP plan of Mixtral was told `--gpus 16 --sharding zero3` while `--sharding zero3` on its own 8 GPUs
  fits (and, without checkpointing, was offered nothing that fits though checkpointing + ZeRO-3 does);
- an MoE NF4 plan (Mixtral, Qwen3-30B-A3B: fused experts bitsandbytes leaves unquantized, up-cast to fp32 by
  peft's prepare_model_for_kbit_training) was offered no change that fits, not even --no-prepare-kbit.

Every hint's figure is what `lorplan plan` prints with the hint's flags added (checked through the CLI here)."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.core.memory import TrainingSetup, rank_table
from lorplan.core.memory.report import fit_hints
from lorplan.core.model import load_spec

MIXTRAL = "mistralai/Mixtral-8x7B-v0.1"
QWEN_MOE = "Qwen/Qwen3-30B-A3B"
GiB = 1024**3
A100 = 80 * GiB


def _plan_json(capsys, argv: list[str]) -> dict:
    try:
        main(["plan", *argv, "--json"])
    except SystemExit as exc:  # pragma: no cover - a refused hint fails the test with argparse's words
        raise AssertionError(f"lorplan plan {' '.join(argv)} was refused: {capsys.readouterr().err}") from exc
    out = capsys.readouterr()
    assert out.out, out.err
    return json.loads(out.out)


def _hints(capsys, argv: list[str]) -> tuple[dict, list[dict]]:
    """The plan's one row and its hints (the `--json` spelling of the "to fit rank R" line)."""
    row = _plan_json(capsys, argv)["rows"][0]
    assert row["fits"] is False, row
    return row, row["hints"]


def _fitting(hints: list[dict]) -> list[str]:
    return [h["change"] for h in hints if h["fits"]]


def test_zero3_on_the_users_gpus_before_more_gpus(capsys):
    base = ["--model", MIXTRAL, "--ranks", "16", "--gpu", "A100-80GB", "--gpus", "8"]
    _, hints = _hints(capsys, [*base, "--grad-checkpointing"])
    assert "--sharding zero3" in _fitting(hints), hints
    assert not any("--gpus" in h["change"] for h in hints), hints  # it fits on the 8 GPUs the user has
    assert hints[0]["fits"], hints  # what fits comes first
    # without checkpointing neither change alone fits, the two together do (on the same 8 GPUs)
    _, hints = _hints(capsys, base)
    works = _fitting(hints)
    assert any(set(w.split()) == {"--grad-checkpointing", "--sharding", "zero3"} for w in works), hints
    assert not any("--gpus" in w for w in works), hints


@pytest.mark.parametrize("model", [QWEN_MOE, MIXTRAL])
def test_an_moe_nf4_plan_gets_a_hint_that_fits(capsys, model):
    _, hints = _hints(capsys, ["--model", model, "--ranks", "16", "--quant", "nf4", "--gpu", "A100-80GB"])
    works = _fitting(hints)
    assert works, hints
    if model == QWEN_MOE:  # fits one A100 once the experts stay bf16 and activations are checkpointed
        assert any(set(w.split()) == {"--grad-checkpointing", "--no-prepare-kbit"} for w in works), hints
        assert not any("--gpus" in w for w in works), hints
    else:  # Mixtral's weights alone are 85 GiB in nf4: only more GPUs hold it, and then without the fp32 up-cast
        assert all("--gpus" in w and "--sharding zero3" in w for w in works), hints


def test_more_gpus_only_when_nothing_fits_on_the_users_own():
    spec = load_spec(MIXTRAL)
    setup = TrainingSetup(grad_checkpointing=True)
    row = rank_table(spec, setup, (16,), A100).rows[0]
    hints = fit_hints(spec, setup, row, A100)
    works = [h for h in hints if h.fits]
    assert works and all(h.flags.startswith("--gpus ") and "--sharding zero3" in h.flags for h in works), hints
    fewest = min(int(h.flags.split()[1]) for h in works)
    assert all(int(h.flags.split()[1]) == fewest for h in works), hints
    assert fewest == 2, hints  # ZeRO-3 over 2 GPUs holds 87 GiB of bf16 weights with checkpointing on


def test_attention_only_when_no_change_of_how_it_trains_fits(capsys):
    """Qwen3-30B-A3B in nf4 on 70 GiB: checkpointing without the fp32 up-cast needs 79 GiB with every linear
    module adapted (the adapter, its gradients and AdamW states of the experts' LoRA); on the attention
    projections alone it fits, and that comes after the changes of how it trains, which do not."""
    _, hints = _hints(capsys, ["--model", QWEN_MOE, "--ranks", "16", "--quant", "nf4", "--gpu-memory", "70"])
    works = _fitting(hints)
    assert works and all(w.startswith("--targets attention") for w in works), hints
    assert hints[0]["change"] == works[0] and len(works) == 1, hints  # what fits first
    assert not any("--gpus" in h["change"] for h in hints), hints


CASES = [
    ["--model", QWEN_MOE, "--ranks", "16", "--quant", "nf4", "--gpu-memory", "70"],
    ["--model", QWEN_MOE, "--ranks", "16", "--gpu", "RTX-4090", "--gpus", "2", "--sharding", "zero3"],
    ["--model", "meta-llama/Llama-3.1-70B-Instruct", "--ranks", "8", "--gpu", "RTX-4090"],
    ["--model", MIXTRAL, "--ranks", "16", "--gpu", "A100-80GB", "--gpus", "8", "--grad-checkpointing"],
    ["--model", MIXTRAL, "--ranks", "16", "--gpu", "A100-80GB", "--gpus", "8"],
    ["--model", MIXTRAL, "--ranks", "16", "--quant", "nf4", "--gpu", "A100-80GB"],
    ["--model", MIXTRAL, "--ranks", "16", "--quant", "nf4", "--double-quant", "--gpu", "A100-80GB"],
    ["--model", QWEN_MOE, "--ranks", "16", "--quant", "nf4", "--gpu", "A100-80GB"],
    ["--model", QWEN_MOE, "--ranks", "16", "--gpu", "RTX-4090"],
    ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--ranks", "16", "--seq-len", "8192", "--micro-batch", "4",
     "--gpu", "RTX-4090"],
    ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--ranks", "64", "--quant", "int8", "--gpus", "2",
     "--gpu-memory", "12"],
]


@pytest.mark.parametrize("argv", CASES, ids=lambda a: " ".join(a[1:2] + a[4:]))
def test_every_hint_is_what_plan_prints_with_its_flags(capsys, argv):
    """Each hint's total equals `lorplan plan` with the hint's flags added to the same command, and its verdict is
    that plan's: one memory model for the table and its hints."""
    _, hints = _hints(capsys, argv)
    assert hints
    for h in hints:
        row = _plan_json(capsys, [*argv, *h["change"].split()])["rows"][0]
        assert row["memory"]["total"] == h["total"], (h, row["memory"]["total"])
        assert row["fits"] is h["fits"], h
