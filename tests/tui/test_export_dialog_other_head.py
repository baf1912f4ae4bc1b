"""The planner's export dialog for a checkpoint whose config.json names a head lorplan does not train (a token
classifier, a question-answering model): it wrote the plan file and TRL, axolotl, LLaMA-Factory, Unsloth, peft and
accelerate configs of the causal LM (or sequence classifier) the plan priced from that checkpoint, another model
than the one it holds, which `lorplan train` and `lorplan export` refuse. Now every format, the plan file too, is
refused in their one line (core.model.head.other_head_refusal), shown as the dialog shows a format's refusal, and
nothing is written. Fast path only: no child is started, no torch imported."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static
from tui_helpers import click_button, paste_into

from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.tui import bridge
from lorplan.tui.screens.export_dialog import FORMATS, OUTPUT_NAMES

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 2, "vocab_size": 1000, "num_labels": 5}
WORDS = ("config.json names LlamaForTokenClassification, a token-classification model transformers builds with "
         "AutoModelForTokenClassification, a head lorplan does not train")


def _plan(tmp_path: Path, architectures: list[str]):
    """The planner's plan of a folder whose config.json names `architectures` (the sample's settings)."""
    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA, "architectures": architectures}))
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    plan = replace(plan, model=replace(plan.model, id=None, path=str(folder)),
                   training=replace(plan.training, seq_len=64))
    return plan, folder


def test_every_format_and_the_plan_file_are_refused(tmp_path):
    plan, folder = _plan(tmp_path, ["LlamaForTokenClassification"])
    out = tmp_path / "out"
    for fmt in FORMATS:
        why = bridge.export_refusal(plan, fmt)
        assert why is not None and why.startswith(f"{folder}: {WORDS}"), (fmt, why)
        assert "\n" not in why
        assert bridge.export_messages(plan, fmt) == ((f"not written: {why}",), ())
        assert bridge.export_paths(plan, fmt, out / OUTPUT_NAMES[fmt]) == []
        with pytest.raises(BadInput, match="a head lorplan does not train"):
            bridge.write_exports(plan, {fmt: out / OUTPUT_NAMES[fmt]}, force=False)
    assert not out.exists()


def test_the_same_folder_naming_its_causal_lm_first_is_written(tmp_path):
    """The refusal reads the head named first, not the model type: the causal LM named first exports as before."""
    plan, _ = _plan(tmp_path, ["LlamaForCausalLM", "LlamaForTokenClassification"])
    assert all(bridge.export_refusal(plan, fmt) is None for fmt in ("plan", "peft", "trl"))
    written = bridge.write_exports(plan, {"plan": tmp_path / "out" / "plan.toml", "trl": tmp_path / "out" / "trl.yaml"},
                                   force=False)
    assert {p.name for p in written} == {"plan.toml", "trl.yaml"}


@pytest.mark.anyio
async def test_the_dialog_says_it_once_and_writes_nothing(tmp_path):
    """The dialog's default choice (the plan file and peft): the warnings say it for each, the status once for
    both, and Write writes nothing."""
    from test_export_dialog import SIZE, Host

    plan, folder = _plan(tmp_path, ["LlamaForQuestionAnswering"])
    app = Host(plan)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert dialog.chosen() == ["plan", "peft"]
        warnings = str(dialog.query_one("#export-warnings", Static).render())
        assert f"peft adapter_config.json: not written: {folder}: config.json names LlamaForQuestionAnswering" \
            in warnings
        await paste_into(pilot, "#export-folder", str(tmp_path / "out"))
        await click_button(pilot, "#export-write")
        status = str(dialog.query_one("#export-status", Static).render())
        assert status.startswith(f"Not written: lorplan plan file (plan.toml), peft adapter_config.json: {folder}: "
                                 "config.json names LlamaForQuestionAnswering, a question-answering model"), status
        assert status.count("config.json names") == 1
    assert app.result == "not dismissed" and not (tmp_path / "out").exists()
