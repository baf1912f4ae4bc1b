"""A new user's first session, read off the screen at 120×40 and 80×24 (textshot.screen_text): what got in the
way of reading the Recommend tab, the GPU budget and the first key pressed."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, type_into, wait_until

from lorplan.tui.textshot import screen_text

pytestmark = pytest.mark.anyio


async def test_the_recommend_tab_s_evidence_never_runs_into_the_plot_beside_it(make_app):
    """At 120×40 the evidence column and the plot column met with no blank column between them, so an evidence
    line that filled its column read on into the plot's note: '9.64 GiB of 12.00no probe has finished yet'."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await wait_until(pilot, lambda: bool(app.screen.query("#rec-size")))
        await paste_into(pilot, "#rec-size", "2,000,000", submit=True)
        await wait_until(pilot, lambda: "token rule" in screen_text(app))
        evidence = app.screen.query_one("#rec-evidence-box").region
        plot = app.screen.query_one("#rec-right").region
        assert evidence.right < plot.x, (evidence, plot)
        rows = screen_text(app).splitlines()
        gap = plot.x - 1
        assert all(len(rows[y]) <= gap or rows[y][gap] == " " for y in range(plot.y, plot.bottom)), "\n".join(
            rows[plot.y:plot.bottom])


def gpu_rows(app) -> str:
    panel = app.screen.query_one("#gpu-panel").region
    rows = screen_text(app).splitlines()[panel.y:panel.bottom]
    return "\n".join(row[panel.x:panel.right] for row in rows)


def summary(app) -> str:
    return " ".join(str(app.screen.query_one("#plan-summary").render()).split())


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_a_typed_gpu_budget_is_not_shown_beside_a_preset_it_replaced(make_app, size):
    """Without a GPU, typing 12GiB planned against 12 GiB while the preset's line still read "RTX-3090
    (24 GiB)" beside it: which of the two the table used could not be told. The preset shows its prompt while a
    budget is typed, and its card again once the field is emptied."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        app.screen.query_one("#gpu-budget").focus()  # at 80×24 the panel is below the table until then
        await pilot.pause()
        assert "RTX-3090 (24 GiB)" in gpu_rows(app), screen_text(app)
        await type_into(pilot, "#gpu-budget", "12GiB")
        await wait_until(pilot, lambda: "fits in 12.00 GiB" in summary(app) or "in 12.00 GiB" in summary(app))
        shown = gpu_rows(app)
        assert "RTX-3090" not in shown and "preset GPU" in shown and "12GiB" in shown, shown
        await type_into(pilot, "#gpu-budget", "")
        await wait_until(pilot, lambda: "24.00 GiB (RTX-3090)" in summary(app))
        assert "RTX-3090 (24 GiB)" in gpu_rows(app), gpu_rows(app)
        await type_into(pilot, "#gpu-budget", "80GB")  # a preset picked after typing still wins
        app.screen.query_one("#gpu-panel").select_preset("RTX-4090")
        await wait_until(pilot, lambda: "(RTX-4090)" in summary(app))
        assert app.screen.query_one("#gpu-budget").value == ""
        assert "RTX-4090" in gpu_rows(app)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_first_key_a_new_user_presses_moves_through_the_ranks(make_app, size):
    """The planner opened with the focus on the tab bar, where ↑ and ↓ do nothing and ← → leave the Plan tab:
    a user reading the table had to find F4 (or Tab twice) first. It opens on the rank table, as F5 shows it."""
    from lorplan.tui.widgets.rank_table import RankTable

    app = make_app()
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(RankTable)
        assert app.focused is table
        assert summary(app).startswith("rank 16:")
        await pilot.press("down")
        await wait_until(pilot, lambda: summary(app).startswith("rank 32:"))
        assert app.screen.active_tab == "plan"


async def test_the_export_dialog_says_plain_text_trains_every_token(make_app, tmp_path):
    """sample_configs/data/sentiment.jsonl (a "text" column) profiled for a causal LM: the Data tab counted every
    token as trained (plain text has no prompt to mask), and the export dialog said 'text · loss on completions'.
    It says 'loss on every token' now; a prompt-completion file still says completions."""
    import json

    from textual.widgets import Static

    from lorplan.tui.panels.data_panel import DataPanel
    from lorplan.tui.screens.export_dialog import ExportDialog

    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({"text": f"the review number {i} was fine"}) + "\n" for i in range(40)))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"say {i}", "completion": f"{i}"}) + "\n" for i in range(40)))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for data, schema, said in ((plain, "text", "loss on every token"), (pairs, "prompt-completion",
                                                                            "loss on completions")):
            await pilot.press("f6")
            await wait_until(pilot, lambda: bool(app.screen.query(DataPanel)))
            panel = app.screen.query_one(DataPanel)
            await paste_into(pilot, "#data-path", str(data), submit=True)
            await wait_until(pilot, lambda panel=panel, data=data: (
                panel.profile is not None and panel.profile.path == str(data) and not panel.has_class("-running")
                and app.main.data is not None and app.main.data.path == str(data)))
            assert (panel.profile.trained_tokens == panel.profile.tokens) == (schema == "text")
            await pilot.press("f5", "ctrl+e")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
            text = " ".join(str(app.screen.query_one("#export-summary", Static).content).split())
            assert f"· {schema} · {said} ·" in text, text
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, ExportDialog))


async def test_the_length_histogram_names_its_unit_at_120x40(make_app):
    """sample_configs/data/sentiment.jsonl at 120×40, its examples all far under the plan's 2,048 tokens: the
    histogram's title was the shortest one, "seq len 2,048: beyond every example", so the numbers under its
    axis (0 … 30) said nothing of what they count. A title that keeps "length (tokens)" fits that width."""
    from pathlib import Path

    from lorplan.tui.panels.data_panel import DataPanel

    sentiment = Path(__file__).resolve().parents[2] / "sample_configs" / "data" / "sentiment.jsonl"
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await wait_until(pilot, lambda: bool(app.screen.query(DataPanel)))
        panel = app.screen.query_one(DataPanel)
        await paste_into(pilot, "#data-path", str(sentiment), submit=True)
        await wait_until(pilot, lambda: panel.profile is not None and not panel.has_class("-running"))
        plot = app.screen.query_one("#data-hist").region
        await wait_until(pilot, lambda: "seq len 2,048" in screen_text(app).splitlines()[plot.y])
        title = screen_text(app).splitlines()[plot.y][plot.x:plot.right]
        assert "length (tokens)" in title and "seq len 2,048" in title, title
