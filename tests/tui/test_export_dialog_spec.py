"""The planner's export dialog prices its notes on a quantized base's fp32 up-cast on the spec `lorplan export`
reads (core.export.model_spec.read_model_spec, through the bridge), so the dialog's figures are the command's. Catalog
and folder configs; a model outside the fast path is read from the build kept of it (core.model.buildcache), stored
here: no model built, no child process."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.cli.export import check_context
from lorplan.core.export import PRICES_ON_SPEC, export_plan
from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup
from lorplan.core.model import buildcache, catalog, fallback, load_spec
from lorplan.core.plan import plan_from_setup, read_plan, write_plan
from lorplan.core.plan.build import priced_anew
from lorplan.core.units import format_bytes
from lorplan.tui import bridge

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
QLORA = SAMPLES / "llama-3.1-8b-qlora-24gb.toml"


def upcast_lines(warnings) -> list[str]:
    return [w for w in warnings if "prepare_model_for_kbit_training" in w or "unquantized weights" in w]


def priced(line: str) -> bool:
    """The note gives the memory model's figure (kbit's; a note priced on no spec says the up-cast without it)."""
    return re.search(r"at [\d.]+ [KMG]iB per GPU", line) is not None


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


# a model outside lorplan's fast path (OPT), and the report the fallback's child gives of it (its modules, on the
# meta device), as the planner's worker keeps it when it loads the model (core.model.buildcache): the tests below
# store it by hand, so that no child (seconds of torch) runs
OPT = {"model_type": "opt", "architectures": ["OPTForCausalLM"], "hidden_size": 32, "ffn_dim": 128,
       "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 96, "max_position_embeddings": 64,
       "word_embed_proj_dim": 32, "do_layer_norm_before": True}


def opt_report() -> dict:
    h, ffn, vocab, layers = OPT["hidden_size"], OPT["ffn_dim"], OPT["vocab_size"], OPT["num_hidden_layers"]
    linears, tensors = [], [{"kind": "embedding", "path": "model.decoder.embed_tokens.weight", "shape": [vocab, h]},
                            {"kind": "position", "path": "model.decoder.embed_positions.weight",
                             "shape": [OPT["max_position_embeddings"] + 2, h]}]
    for n in range(layers):
        at = f"model.decoder.layers.{n}"
        linears += [{"bias": True, "in": h, "out": h, "path": f"{at}.self_attn.{p}", "tied": False}
                    for p in ("k_proj", "v_proj", "q_proj", "out_proj")]
        linears += [{"bias": True, "in": h, "out": ffn, "path": f"{at}.fc1", "tied": False},
                    {"bias": True, "in": ffn, "out": h, "path": f"{at}.fc2", "tied": False}]
        tensors += [{"kind": "norm", "path": f"{at}.{norm}.{p}", "shape": [h]}
                    for norm in ("self_attn_layer_norm", "final_layer_norm") for p in ("weight", "bias")]
    linears.append({"bias": False, "in": h, "out": vocab, "path": "lm_head", "tied": True})
    tensors += [{"kind": "norm", "path": f"model.decoder.final_layer_norm.{p}", "shape": [h]} for p in ("weight", "bias")]
    return {"class": "OPTForCausalLM", "classifier": None, "gated_mlp": False, "linears": linears, "mlp_width": ffn,
            "context": ["max_position_embeddings", OPT["max_position_embeddings"], "OPTConfig",
                        "max_position_embeddings"],
            "moe_style": "", "norm_classes": ["LayerNorm"], "output_embeddings": "lm_head",
            "supports_gradient_checkpointing": True, "task": "causal-lm", "tensors": tensors, "text_config": None,
            "text_model": None, "unsupported_attention": []}


def keep_build(folder: Path) -> None:
    buildcache.store(fallback.cache_key(folder / "config.json"), opt_report())


@pytest.fixture
def opt_plan(tmp_path, monkeypatch):
    """(plan of a quantized OPT folder, named from the working folder as the planner's is, its folder): the
    report of its build kept; the child refused (a test fails if it starts)."""
    def no_child(*args, **kwargs):
        raise AssertionError("the fallback's child was started")

    monkeypatch.setattr(fallback, "run_child", no_child)
    monkeypatch.chdir(tmp_path)
    # the planner loaded the model from another folder of the same config.json (its spec is not in this
    # process's cache of the plan's folder: the reading under test is the build kept, or the child)
    for name in ("loaded", "opt"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(OPT))
    keep_build(tmp_path / "loaded")
    setup = TrainingSetup(targets=LoraTargets(modules=("q_proj", "v_proj")), quant="nf4", micro_batch=1, seq_len=64)
    return plan_from_setup(load_spec(str(tmp_path / "loaded")), setup, 8, source="opt"), tmp_path / "opt"


@pytest.mark.own_builds
def test_a_model_outside_the_fast_path_is_priced_as_lorplan_export_prices_it(opt_plan, tmp_path):
    """What the planner's worker kept when it loaded the model prices the dialog's notes, with the command's
    figures (the dialog read the fast path alone, and said none)."""
    plan, _ = opt_plan
    assert plan.model.path == "opt" and load_spec("opt").source == "fallback"
    write_plan(plan, tmp_path / "plan.toml")
    for fmt in sorted(PRICES_ON_SPEC):
        _, spec = check_context(plan, str(tmp_path / "plan.toml"), [fmt])
        cli = upcast_lines(export_plan(plan, fmt, spec=spec).warnings)
        dialog = upcast_lines(bridge.export_messages(plan, fmt)[0])
        assert dialog == cli and any(map(priced, dialog)), fmt


@pytest.mark.own_builds
def test_the_dialog_never_starts_the_child(opt_plan):
    """The dialog reads on the UI thread: a build not kept is not run there (a planner trusting the model's own
    code kept none, and the dialog froze for the child's seconds); its notes go without figures, and once the build
    is kept the next export has them."""
    plan, folder = opt_plan
    for entry in buildcache.cache_dir().glob("*.json"):
        entry.unlink()
    (line,) = upcast_lines(bridge.export_messages(plan, "trl")[0])
    assert "prepare_model_for_kbit_training" in line and not priced(line)
    keep_build(folder)
    (line,) = upcast_lines(bridge.export_messages(plan, "trl")[0])
    assert priced(line)
