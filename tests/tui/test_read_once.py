"""What the planner reads once: the export dialog's folder field per write, and the setup form's typed number
(parse_int), with the same results and messages as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import paste_into

from lorplan.core.errors import BadInput
from lorplan.core.plan import read_plan
from lorplan.tui.panels.setup_form import parse_int
from lorplan.tui.screens.export_dialog import ExportDialog

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


@pytest.mark.anyio
@pytest.mark.parametrize("existing", [False, True])
async def test_a_write_reads_the_folder_field_once(tmp_path, monkeypatch, existing):
    """One write reads the folder once: the files checked for overwriting are the files written (a write with
    nothing to replace read it twice, targets() and _do_write each)."""
    from textual.app import App

    reads = []
    real = ExportDialog._folder_path
    monkeypatch.setattr(ExportDialog, "_folder_path", lambda self: reads.append(1) or real(self))
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "plan.toml").write_text("mine")

    class Host(App):
        result = None

        def on_mount(self) -> None:
            self.push_screen(ExportDialog(read_plan(SAMPLES / "smollm2-135m-cpu.toml")),
                             lambda r: setattr(self, "result", r))

    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await paste_into(pilot, "#export-folder", str(out))
        reads.clear()
        await pilot.click("#export-write")
        await pilot.pause()
        if existing:
            assert reads == [1]  # the check, which names the files to replace
            reads.clear()
            await pilot.click("#export-overwrite")
            await pilot.pause()
        assert reads == [1], reads
    assert app.result and read_plan(out / "plan.toml").lora.r == 8


@pytest.mark.parametrize("text, result", [
    ("12", 12), (" 1_024 ", 1024), ("4,096", 4096), ("1e3", 1000), ("2.0", 2), ("16777216", 16777216),
    ("", "Sequence length: type a whole number"), ("_", "Sequence length: type a whole number"),
    ("abc", "Sequence length: 'abc' is not a number"), ("nan", "Sequence length: 'nan' is not a number"),
    ("1.5", "Sequence length: '1.5' must be a whole number"),
    ("0.5", "Sequence length: '0.5' must be a whole number"),
    ("0", "Sequence length: 0 must be at least 1"), ("-inf", "Sequence length: -inf must be at least 1"),
    ("1e9", "Sequence length: 1e9 must be at most 16,777,216"),
    ("1e999", "Sequence length: 1e999 must be at most 16,777,216"),
    ("123456789012345678901234567890",
     "Sequence length: 123456789012345678901234567890 must be at most 16,777,216"),  # echoed whole to 40 characters
    ("1" * 41, "Sequence length: 1111111111… (41 digits) must be at most 16,777,216"),
])
def test_parse_int_reads_the_text_once_with_the_same_answers(text, result):
    if isinstance(result, int):
        assert parse_int(text, "Sequence length", 1, 1 << 24) == result
    else:
        with pytest.raises(BadInput) as err:
            parse_int(text, "Sequence length", 1, 1 << 24)
        assert str(err.value) == result
