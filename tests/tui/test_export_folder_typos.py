"""An output folder no file can be written under is refused in the dialog's status line, and the dialog stays
open for another. Before, a folder holding a NUL character (pasted) stopped the planner with "ValueError: embedded
null byte" from mkdir, and "~nobody/plans" (a user with no home folder) with "RuntimeError: Could not determine
home directory." from Path.expanduser."""

from __future__ import annotations

import pytest
from test_export_dialog import SIZE, Host, plan_of
from textual.widgets import Input, Static

from lorplan.tui.screens.export_dialog import ExportDialog

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("typed", "said"), [
    ("plans\x00x", "Not written: Output folder: a path cannot hold a NUL character"),
    ("~no-such-user-h134/plans",
     "Not written: Output folder: '~no-such-user-h134/plans' starts with the home folder of an unknown user"),
])
async def test_an_unusable_folder_is_one_line_in_the_dialog(tmp_path, monkeypatch, typed, said):
    monkeypatch.chdir(tmp_path)
    app = Host(plan_of("mistral-7b-fsdp-2gpu"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        field = dialog.query_one("#export-folder", Input)
        field.value = typed  # pasted (a key press types no NUL)
        field.focus()
        await pilot.press("enter")  # Enter in the folder field writes
        await pilot.pause()
        assert app.is_running and app.screen is dialog and isinstance(dialog, ExportDialog)
        assert str(dialog.query_one("#export-status", Static).render()) == said
        # the dialog still writes once the folder is fixed
        field.value = str(tmp_path / "out")
        await pilot.press("enter")
        await pilot.pause()
    assert app.result and all(p.exists() and p.is_relative_to(tmp_path / "out") for p in app.result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


async def test_a_folder_whose_name_is_too_long_is_one_line_in_the_dialog(tmp_path, monkeypatch):
    # Path.exists() raises for a name over 255 bytes (ENAMETOOLONG) and for a folder that may not be looked in:
    # the check for files to replace stopped the planner with "OSError: [Errno 36] File name too long"
    monkeypatch.chdir(tmp_path)
    typed = "p" * 300
    app = Host(plan_of("mistral-7b-fsdp-2gpu"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        field = dialog.query_one("#export-folder", Input)
        field.value = typed
        field.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running and app.screen is dialog
        assert str(dialog.query_one("#export-status", Static).render()) == (
            f"Not written: Output folder: cannot look in {typed} (File name too long)")
        field.value = str(tmp_path / "out")
        await pilot.press("enter")
        await pilot.pause()
    assert app.result and all(p.exists() and p.is_relative_to(tmp_path / "out") for p in app.result)
