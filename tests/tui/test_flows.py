"""Pilot tests of the real flows; the table must show the numbers `lorplan plan --json` gives for the setup."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tui_helpers import choose, model_settled, paste_into, table_rows, type_into, wait_until

from lorplan.core.lora import LoraTargets
from lorplan.core.memory import DEFAULT_RANKS, TrainingSetup, plan_json, rank_table
from lorplan.core.model import load_spec
from lorplan.core.units import format_bytes, format_count
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.widgets.rank_table import COLUMNS, compact_bytes

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def view_errors(app) -> dict[str, str]:
    return app.screen.query_one(PlanView).state.errors


def expected_rows(model: str, setup: TrainingSetup, budget: int | None, ranks=DEFAULT_RANKS) -> dict[int, dict]:
    spec = load_spec(model)
    return {row["rank"]: row for row in plan_json(spec, rank_table(spec, setup, ranks, budget))["rows"]}


def assert_table_matches(app, expected: dict[int, dict]) -> None:
    shown = table_rows(app)
    assert set(shown) == set(expected)
    for rank, row in expected.items():
        cells = shown[rank]
        assert cells["trainable"] == format_count(row["trainable_params"])
        # grads and activ are shown at the rank's peak moment, as `lorplan plan` prints them and its JSON holds them
        for key in ("weights", "adapter", "gradients", "optimizer", "activations", "overhead", "total"):
            assert cells[key] == compact_bytes(row["memory"][key]), (rank, key)
        assert cells["fits"].endswith("yes" if row["fits"] else "no")
        assert cells["max_mb"] == str(row["max_micro_batch"])


async def test_catalog_pick_quant_seq_targets_and_gpu_preset_match_the_core(make_app):
    app = make_app(model="meta-llama/Llama-3.1-8B-Instruct")
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PlanView)
        # pick a catalog model by searching as a user would
        await type_into(pilot, "#model-input", "qwen2.5 0.5b", submit=True)
        await pilot.pause()
        assert view.state.source == "Qwen/Qwen2.5-0.5B-Instruct"
        assert app.screen.query_one("#target-q_proj")  # checkboxes rebuilt from the real module names
        # quantization, double quant, sequence length
        await choose(pilot, "#f-quant", "nf4")
        await pilot.click("#f-double_quant")
        await type_into(pilot, "#f-seq_len", "4096")
        await pilot.click("#f-grad_checkpointing")
        # targets: attention shortcut, then untick k_proj and o_proj by mouse
        await pilot.click("#shortcut-attention")
        await pilot.click("#target-k_proj")
        await pilot.click("#target-o_proj")
        await pilot.pause()
        # GPU preset
        await choose(pilot, "#gpu-preset", list(app.screen.query_one("#gpu-panel").presets).index(("T4", 15360 * 1024**2)))
        await pilot.pause()
        setup = TrainingSetup(
            targets=LoraTargets(modules=("q_proj", "v_proj")), quant="nf4", double_quant=True, seq_len=4096,
            grad_checkpointing=True,
        )
        assert view.state.setup == setup
        assert view.state.budget_bytes == 15360 * 1024**2
        assert_table_matches(app, expected_rows("Qwen/Qwen2.5-0.5B-Instruct", setup, 15360 * 1024**2))
        assert "T4" in str(app.screen.query_one("#plan-summary").render())


async def test_table_equals_the_cli_json(make_app):
    """Same setup typed in the TUI and given to `lorplan plan --json`: same numbers."""
    model = "Qwen/Qwen3-0.6B"
    app = make_app(model=model)
    async with app.run_test(size=SIZE) as pilot:
        await choose(pilot, "#f-optimizer", "adamw-8bit")
        await type_into(pilot, "#f-micro_batch", "4")
        await type_into(pilot, "#f-seq_len", "1024")
        await pilot.click("#f-padding_mask")
        await type_into(pilot, "#gpu-budget", "12GiB")
        await pilot.pause()
        shown = table_rows(app)
        table = app.screen.query_one("#rank-table")
        full = {key: table.reference_text(key) for key, _label in COLUMNS}
        summary = str(app.screen.query_one("#plan-summary").render())
    cli = subprocess.run(
        [sys.executable, "-m", "lorplan", "plan", "--model", model, "--optimizer", "adamw-8bit",
         "--micro-batch", "4", "--seq-len", "1024", "--padding-mask", "--gpu-memory", "12GiB",
         "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert cli.returncode in (0, 1), cli.stderr
    rows = {row["rank"]: row for row in json.loads(cli.stdout)["rows"]}
    assert set(shown) == set(rows)
    for rank, row in rows.items():
        assert shown[rank]["total"] == compact_bytes(row["memory"]["total"])
        assert shown[rank]["activations"] == compact_bytes(row["memory"]["activations"])  # at the peak moment
        assert shown[rank]["max_mb"] == str(row["max_micro_batch"])
    # the full fine-tuning reference row under the ranks: the figures of the JSON's full_finetune
    ref = json.loads(cli.stdout)["full_finetune"]
    assert full["rank"] == "full" and full["trainable"] == format_count(ref["trainable_params"])
    for key in ("weights", "gradients", "optimizer", "activations", "overhead", "total"):
        assert full[key] == compact_bytes(ref[key]), key
    assert full["fits"].endswith("yes" if ref["fits"] else "no") and full["adapter"] == "—"
    # and the summary says what the selected rank saves, as `lorplan plan` does under its table
    r16 = rows[16]["memory"]["total"]
    assert (f"peak {format_bytes(r16)} per GPU, {ref['total'] / r16:.1f}x less than full fine-tuning "
            f"({format_bytes(ref['total'])}, the last row)") in summary
    text = subprocess.run(cli.args[:-1], capture_output=True, text=True, timeout=120).stdout
    assert f"{format_bytes(ref['total'])}" in text and f"{ref['total'] / r16:.1f}x less" in " ".join(text.split())


async def test_custom_rank_row_and_selection_survive_recompute(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-custom_rank", "12")
        rows = table_rows(app)
        assert rows[12]["rank"] == "12*"
        table = app.screen.query_one("#rank-table")
        assert table.selected_rank == 12  # the typed rank's row
        table.focus()
        await pilot.press("up", "up")  # 12* -> 8 -> 4
        await pilot.pause()
        assert table.selected_rank == 4
        await type_into(pilot, "#f-seq_len", "512")  # another field: the user's selection stays
        assert table.selected_rank == 4
        assert "rank 4:" in str(app.screen.query_one("#plan-summary").render())


async def test_a_typed_custom_rank_selects_its_row_and_keeps_the_focus(make_app):
    """Selecting a row set the rank, but typing a rank left the selection where it was (the summary, the export
    and the other tabs kept rank 16): the typed rank's row is selected, while the cursor stays in the field."""
    from lorplan.tui.state import PlanSnapshot

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#rank-table")
        summary = app.screen.query_one("#plan-summary")
        assert table.selected_rank == 16
        await type_into(pilot, "#f-custom_rank", "64")  # a rank the table already has
        field = app.screen.query_one("#f-custom_rank")
        assert table.selected_rank == 64 and app.focused is field and field.value == "64"
        assert "rank 64:" in str(summary.render())
        snapshot = app.screen.plan
        assert isinstance(snapshot, PlanSnapshot) and snapshot.rank == 64  # what the export and other tabs get
        await pilot.press("backspace", "backspace", "1", "2")  # 6, (empty), 1, 12 as typed
        await pilot.pause()
        assert table.selected_rank == 12 and table.ranks.count(12) == 1 and app.focused is field
        assert "rank 12:" in str(summary.render())
        await type_into(pilot, "#f-custom_rank", "5000")  # 5, 50, 500, then refused: the last valid row stays
        assert table.selected_rank == 500 and "custom_rank" in view_errors(app) and app.focused is field
        await type_into(pilot, "#f-custom_rank", "")  # no custom row any more: the default selection
        assert 12 not in table.ranks and table.selected_rank == 16


async def test_local_folder_loads_in_a_worker_and_missing_path_is_inline(make_app, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    from lorplan.core.model.catalog import ENTRIES, config

    entry = next(e for e in ENTRIES if e.id == "HuggingFaceTB/SmolLM2-135M-Instruct")
    (folder / "config.json").write_text(json.dumps(config(entry)))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PlanView)
        before = table_rows(app)
        await paste_into(pilot, "#model-input", str(tmp_path / "does-not-exist"), submit=True)
        await wait_until(pilot, lambda: model_settled(app))
        await pilot.pause()
        assert app.screen.query_one("#model-picker").has_class("-error")
        assert table_rows(app) == before  # the last valid table stays
        await paste_into(pilot, "#model-input", str(folder), submit=True)
        await wait_until(pilot, lambda: model_settled(app))
        await pilot.pause()
        assert view.state.source == str(folder)
        assert not app.screen.query_one("#model-picker").has_class("-error")
        assert table_rows(app) != before


async def test_gpu_list_when_nvml_sees_devices(make_app):
    from lorplan.tui.bridge import GpuReport, GpuView

    gib = 1024**3
    report = GpuReport((GpuView(0, "NVIDIA RTX A6000", 48 * gib, 2 * gib, 46 * gib),
                        GpuView(1, "NVIDIA RTX A6000", 48 * gib, 40 * gib, 8 * gib)))
    app = make_app(gpu_source=lambda: report)
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PlanView)
        assert view.state.budget_bytes == 48 * gib
        assert not app.screen.query_one("#gpu-panel").has_class("-no-gpu")
        assert "40.0 GiB used" in str(app.screen.query_one("#gpu-usage").render())
        # pick the second GPU too: the GPUs field follows, DDP is chosen, and the busy GPU is pointed out
        app.screen.query_one("#gpu-list").select(1)
        await pilot.pause()
        assert app.screen.query_one("#f-gpus").value == "2"
        assert app.screen.query_one("#f-sharding").value == "ddp"
        assert view.state.setup.gpus == 2 and not view.state.stale
        assert "8.00 GiB is free now" in str(app.screen.query_one("#plan-summary").render())


async def test_gpu_panel_says_when_cuda_may_number_the_gpus_otherwise(make_app):
    """The report's note (lorplan.core.gpu.order_note, as `lorplan gpus` prints it): one muted line under the
    usage, the whole note in its tooltip; gone when the next report has none."""
    from lorplan.tui.bridge import GpuReport, GpuView

    gib = 1024**3
    note = ("note: these GPUs differ and CUDA_DEVICE_ORDER is not PCI_BUS_ID, so CUDA programs number them fastest "
            "first; export CUDA_DEVICE_ORDER=PCI_BUS_ID to number them alike everywhere")
    gpus = (GpuView(0, "NVIDIA GeForce RTX 3060", 12 * gib, 1 * gib, 11 * gib),
            GpuView(1, "NVIDIA GeForce RTX 4090", 24 * gib, 2 * gib, 22 * gib))
    reports = [GpuReport(gpus, "", note)]
    app = make_app(gpu_source=lambda: reports[-1])
    async with app.run_test(size=SIZE) as pilot:
        shown = app.screen.query_one("#gpu-note")
        usage = app.screen.query_one("#gpu-usage")
        assert shown.display and shown.region.height == 1 and shown.region.y > usage.region.y
        assert str(shown.render()).startswith("note: these GPUs differ") and shown.tooltip == note
        assert app.screen.query_one("#gpu-panel").region.contains_region(shown.region)
        reports.append(GpuReport(gpus))
        app.screen.query_one("#gpu-panel").refresh_gpus()
        await wait_until(pilot, lambda: not shown.display)
        assert shown.region.height == 0


async def test_typing_several_gpus_picks_ddp_as_the_cli_does_and_one_gpu_puts_none_back(make_app):
    """`lorplan plan --gpus 2` defaults sharding to ddp: the form does the same instead of an error, and undoes
    it on one GPU; a sharding chosen by hand is left alone."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PlanView)
        sharding = app.screen.query_one("#f-sharding")
        await type_into(pilot, "#f-gpus", "2")
        await wait_until(pilot, lambda: view.state.setup.gpus == 2)
        assert sharding.value == "ddp"
        assert view.state.setup.sharding == "ddp" and not view.state.stale
        assert not app.screen.query_one("#f-sharding").has_class("-invalid")
        await type_into(pilot, "#f-gpus", "1")
        await wait_until(pilot, lambda: view.state.setup.gpus == 1)
        assert sharding.value == "none" and view.state.setup.sharding == "none"
        # chosen by hand: kept whatever the GPU count
        await type_into(pilot, "#f-gpus", "4")
        await choose(pilot, "#f-sharding", "fsdp")
        await type_into(pilot, "#f-gpus", "2")
        await wait_until(pilot, lambda: view.state.setup.gpus == 2)
        assert sharding.value == "fsdp"


async def test_mouse_selects_a_rank_row(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#rank-table")
        await pilot.click("#rank-table", offset=(5, 1 + table.ranks.index(64)))  # header is line 0
        await pilot.pause()
        assert table.selected_rank == 64
        assert "rank 64:" in str(app.screen.query_one("#plan-summary").render())


async def test_gpu_usage_is_polled_in_a_worker(make_app):
    from lorplan.tui.bridge import GpuReport, GpuView

    gib = 1024**3
    used = iter(range(1, 100))

    def source():
        u = next(used)
        return GpuReport((GpuView(0, "NVIDIA H100 80GB HBM3", 80 * gib, u * gib, (80 - u) * gib),))

    app = make_app(gpu_source=source)
    async with app.run_test(size=SIZE) as pilot:
        usage = app.screen.query_one("#gpu-usage")
        first = str(usage.render())
        app.screen.query_one("#gpu-panel").refresh_gpus()
        for _ in range(200):  # the interval timer may poll too (exclusive workers replace each other)
            await pilot.pause(0.02)
            if str(usage.render()) != first:
                break
        assert str(usage.render()) != first
        assert "free" in str(usage.render())


async def test_cached_hub_id_is_listed_and_loads(make_app, isolated_home):
    # the local Hugging Face cache layout: hub/models--ORG--NAME/{refs/main, snapshots/<hash>/config.json}
    from lorplan.core.model.catalog import ENTRIES, config

    entry = next(e for e in ENTRIES if e.id == "HuggingFaceTB/SmolLM2-135M-Instruct")
    repo = isolated_home / "hf" / "hub" / "models--acme--tiny-chat"
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123" / "config.json").write_text(json.dumps(config(entry)))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#model-input", "acme")
        matches = app.screen.query_one("#model-matches")
        assert matches.option_count == 1
        assert "in your HF cache" in str(matches.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_until(pilot, lambda: model_settled(app))
        view = app.screen.query_one(PlanView)
        assert view.state.source == "acme/tiny-chat"
        assert view.state.spec.source == "cache"
        assert table_rows(app)[16]["trainable"] == format_count(
            expected_rows("HuggingFaceTB/SmolLM2-135M-Instruct", TrainingSetup(), None)[16]["trainable_params"])
