"""The planner's export dialog prices its notes on a quantized base's fp32 up-cast on the spec `lorplan export`
reads (core.export.model_spec.read_model_spec, through the bridge), so the dialog's figures are the command's. Catalog
and folder configs on lorplan's fast path only: no model built, no child process."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lorplan.cli.export import check_context
from lorplan.core.export import PRICES_ON_SPEC, export_plan
from lorplan.core.model import catalog, load_spec
from lorplan.core.plan import read_plan, write_plan
from lorplan.core.plan.build import priced_anew
from lorplan.core.units import format_bytes
from lorplan.tui import bridge

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
QLORA = SAMPLES / "llama-3.1-8b-qlora-24gb.toml"


def upcast_lines(warnings) -> list[str]:
    return [w for w in warnings if "prepare_model_for_kbit_training" in w or "unquantized weights" in w]


def test_dialog_says_what_lorplan_export_says():
    plan = read_plan(QLORA)
    for fmt in sorted(PRICES_ON_SPEC):
        _, spec = check_context(plan, str(QLORA), [fmt])
        cli = upcast_lines(export_plan(plan, fmt, spec=spec).warnings)
        dialog = upcast_lines(bridge.export_messages(plan, fmt)[0])
        assert cli and dialog == cli, fmt
    # the figures are the memory model's for this plan: its own total in the note
    (line,) = upcast_lines(bridge.export_messages(plan, "llamafactory")[0])
    assert format_bytes(priced_anew(plan, load_spec(plan.model.source)).total_bytes) in line


def test_a_folder_model_edited_is_read_anew(tmp_path, monkeypatch):
    # the bridge reads the spec once per config file version: an edited config.json prices the notes anew
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "llama"
    folder.mkdir()
    cfg = catalog.config(catalog.find("meta-llama/Llama-3.1-8B"))
    (folder / "config.json").write_text(json.dumps(cfg))
    plan = read_plan(QLORA)
    plan = replace(plan, model=replace(plan.model, id=None, path="llama"))
    plan = replace(plan, estimate=priced_anew(plan, load_spec("llama")))
    write_plan(plan, tmp_path / "plan.toml")
    before = upcast_lines(bridge.export_messages(plan, "unsloth")[0])
    cfg["num_hidden_layers"] = 8
    (folder / "config.json").write_text(json.dumps(cfg, indent=1))  # another size: another file version
    after = upcast_lines(bridge.export_messages(plan, "unsloth")[0])
    assert before and after and before != after
    _, spec = check_context(plan, str(tmp_path / "plan.toml"), ["unsloth"])
    assert after == upcast_lines(export_plan(plan, "unsloth", spec=spec).warnings)
