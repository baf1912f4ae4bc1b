"""The export dialog writes every chosen format, or none. It wrote them one by one, so when a later one could not
be written (here peft's folder is there as a plain file) the plan file before it was already written, or already
replaced after Overwrite, while the status line said only "Not written: …peft/adapter_config.json: cannot write
there (File exists)". Now the formats are one atomic write: the status line is true of them all, and names the file
in the way."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from tui_helpers import paste_into

from lorplan.core.plan import read_plan
from lorplan.tui.screens.export_dialog import ExportDialog
from tests.tui.test_export_dialog import SIZE, Host, click, plan_of

pytestmark = pytest.mark.anyio


async def test_a_second_format_that_cannot_be_written_leaves_the_first_unwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "peft").write_text("mine")  # where the peft export's folder must go
    plan = plan_of("smollm2-135m-cpu")
    app = Host(plan)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog) and dialog.chosen() == ["plan", "peft"]
        await paste_into(pilot, "#export-folder", str(out))
        await click(pilot, "#export-write")
        assert app.is_running and app.screen is dialog
        assert str(dialog.query_one("#export-status", Static).render()) == (
            f"Not written: {out / 'peft' / 'adapter_config.json'}: cannot write there: {out / 'peft'} is a file, "
            "not a folder")
        assert sorted(p.name for p in out.iterdir()) == ["peft"]  # was: plan.toml written beside it
        assert (out / "peft").read_text() == "mine"
        (out / "peft").unlink()  # the user moves the file away: the same Write writes both
        await click(pilot, "#export-write")
    assert sorted(p.relative_to(out).as_posix() for p in app.result) == ["peft/adapter_config.json", "plan.toml"]
    assert read_plan(out / "plan.toml") == plan


async def test_overwrite_replaces_nothing_when_a_later_format_fails(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.toml").write_text("mine")
    (out / "peft").write_text("mine")
    app = Host(plan_of("smollm2-135m-cpu"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        await paste_into(pilot, "#export-folder", str(out))
        await click(pilot, "#export-write")
        assert "would be replaced" in str(dialog.query_one("#export-status", Static).render())
        await click(pilot, "#export-overwrite")
        assert app.screen is dialog
        assert str(dialog.query_one("#export-status", Static).render()).endswith(
            f"{out / 'peft'} is a file, not a folder")
    assert app.result == "not dismissed"
    assert (out / "plan.toml").read_text() == "mine"  # was: replaced by the new plan file
    assert sorted(p.name for p in out.iterdir()) == ["peft", "plan.toml"]  # no temporary file left
