"""The export dialog's format choices name the file each writes in the output folder: the Unsloth choice said
"Unsloth training script" and no file, though it writes a Python script, unsloth_train.py, beside the YAML files;
each choice now shows its name, whole on its line at 120x40 and at 80x24."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Checkbox

from lorplan.core.plan import read_plan
from lorplan.tui.screens.export_dialog import FORMATS, ExportDialog

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
NAMES = {"plan": "plan.toml", "peft": "peft/", "axolotl": "axolotl.yaml", "llamafactory": "llamafactory.yaml",
         "accelerate": "accelerate.yaml", "trl": "trl.yaml", "unsloth": "unsloth_train.py"}


class Host(App):
    def on_mount(self) -> None:
        self.push_screen(ExportDialog(read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")))


@pytest.mark.anyio
@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_each_choice_names_its_file(size):
    assert set(NAMES) == set(FORMATS)
    app = Host()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        for fmt, name in NAMES.items():
            box = dialog.query_one(f"#fmt-{fmt}", Checkbox)
            label = str(box.label)
            assert label.count(name) == 1, (fmt, label)
            assert box.region.height == 1  # one line: the name is not wrapped onto another
            shown = "".join(s.text for s in box.render_line(0)) if box.region.width else ""
            assert name in shown, (fmt, shown)  # on screen whole, not cut at the box's edge
        assert str(dialog.query_one("#fmt-unsloth", Checkbox).label) == "Unsloth training script (unsloth_train.py)"
