"""Export dialog: choose formats and a folder, see the warnings, confirm before overwriting, files written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from textual.app import App
from textual.widgets import Button, Checkbox, Input, Static
from tui_helpers import click_button, paste_into, type_into

from lorplan.core.plan import read_plan
from lorplan.tui.screens.export_dialog import ExportDialog, default_folder

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SIZE = (100, 40)


class Host(App):
    def __init__(self, plan) -> None:
        super().__init__()
        self.plan = plan
        self.result = "not dismissed"
        self.said: list[str] = []

    def notify(self, message, **kwargs) -> None:  # what the user is told on the way out, kept for the tests
        self.said.append(str(message))
        super().notify(message, **kwargs)

    def on_mount(self) -> None:
        self.push_screen(ExportDialog(self.plan), self._done)

    def _done(self, result) -> None:
        self.result = result


def plan_of(name: str):
    return read_plan(SAMPLES / f"{name}.toml")


async def click(pilot, selector: str) -> None:
    """Click a button (pressed once, even soon after its last press) or a checkbox (ticked or unticked by it)."""
    widget = pilot.app.screen.query_one(selector)
    if isinstance(widget, Button):
        await click_button(pilot, selector)
        return
    before = widget.value
    await pilot.click(selector)
    await pilot.pause()
    assert widget.value is not before, f"{selector}: the click left it {before}"


async def open_export(app, pilot) -> ExportDialog:
    """Wait for the planner's first plan, press ctrl+e and return the export dialog it opens."""
    for _ in range(50):
        await pilot.pause(0.1)
        if app.main.plan is not None:
            break
    await pilot.press("ctrl+e")
    await pilot.pause()
    assert isinstance(app.screen, ExportDialog)
    return app.screen


@pytest.mark.anyio
async def test_writes_chosen_formats_and_shows_warnings(tmp_path):
    plan = plan_of("qwen3-8b-qlora-rank-pattern-24gb")
    app = Host(plan)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        assert dialog.chosen() == ["plan", "peft"]
        await click(pilot, "#fmt-llamafactory")
        assert dialog.chosen() == ["plan", "peft", "llamafactory"]
        warnings = str(dialog.query_one("#export-warnings", Static).render())
        assert "LLaMA-Factory has no rank_pattern" in warnings
        await paste_into(pilot, "#export-folder", str(tmp_path / "out"))
        await click(pilot, "#export-write")
    written = app.result
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "llamafactory.yaml", "peft/adapter_config.json", "peft/bnb_config.json", "plan.toml"]
    assert app.said == [f"Wrote 4 files to {tmp_path / 'out'}"]  # the folder chosen, not the first file's
    assert read_plan(tmp_path / "out" / "plan.toml") == plan
    text = (tmp_path / "out" / "llamafactory.yaml").read_text()
    assert "# lorplan: WARNING: LLaMA-Factory has no rank_pattern" in text
    assert yaml.safe_load(text)["lora_rank"] == plan.lora.r


@pytest.mark.anyio
async def test_asks_before_overwriting(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.toml").write_text("mine")
    app = Host(plan_of("smollm2-135m-cpu"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        await paste_into(pilot, "#export-folder", str(out))
        await click(pilot, "#export-write")
        status = str(dialog.query_one("#export-status", Static).render())
        assert "would be replaced" in status and "plan.toml" in status
        assert (out / "plan.toml").read_text() == "mine"  # nothing written yet
        assert not (out / "peft").exists()  # not even the files that did not exist
        assert not dialog.query_one("#export-overwrite").has_class("-hidden")
        await click(pilot, "#export-overwrite")
    assert app.result and (out / "plan.toml").read_text() != "mine"
    assert read_plan(out / "plan.toml").lora.r == 8


@pytest.mark.anyio
async def test_cancel_writes_nothing_and_empty_choice_is_refused(tmp_path):
    app = Host(plan_of("mistral-7b-fsdp-2gpu"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert dialog.query_one("#fmt-accelerate", Checkbox).value is True  # several GPUs
        for fmt in ("plan", "peft", "accelerate"):
            dialog.query_one(f"#fmt-{fmt}", Checkbox).value = False
        await pilot.pause()
        dialog.query_one("#export-folder", Input).value = str(tmp_path / "x")
        await click(pilot, "#export-write")
        assert "at least one format" in str(dialog.query_one("#export-status", Static).render())
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None
    assert not (tmp_path / "x").exists()


@pytest.mark.anyio
async def test_enter_writes_the_files_and_space_ticks_a_format(tmp_path):
    """Enter on the first format's checkbox (where the focus starts) writes; it once unticked that box."""
    plan = plan_of("smollm2-135m-cpu")
    app = Host(plan)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#export-folder", Input).value = str(tmp_path / "out")
        first = dialog.query_one("#fmt-plan", Checkbox)
        first.focus()
        await pilot.press("tab", "space", "shift+tab")  # Space still ticks: peft off
        await pilot.pause()
        assert app.focused is first and dialog.chosen() == ["plan"]
        await pilot.press("enter")
        await pilot.pause()
    assert first.value is True
    assert [p.relative_to(tmp_path / "out").as_posix() for p in app.result] == ["plan.toml"]
    assert read_plan(tmp_path / "out" / "plan.toml") == plan


@pytest.mark.anyio
async def test_enter_in_the_folder_field_writes(tmp_path):
    app = Host(plan_of("smollm2-135m-cpu"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await paste_into(pilot, "#export-folder", str(tmp_path / "typed"), submit=True)  # Enter writes
    assert app.result and (tmp_path / "typed" / "plan.toml").exists()


@pytest.mark.anyio
async def test_app_export_binding_opens_the_dialog(make_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        plan = (await open_export(app, pilot)).plan
        await click(pilot, "#export-write")
    assert read_plan(tmp_path / default_folder(plan) / "plan.toml") == plan
    assert (tmp_path / default_folder(plan) / "peft" / "adapter_config.json").exists()


def test_dialog_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys, lorplan.tui.screens.export_dialog\n"
            "print(','.join(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.anyio
async def test_the_plan_takes_the_dataset_profiled_in_the_data_tab(make_app, tmp_path, monkeypatch):
    import json

    from lorplan.core.data import profile_dataset
    from lorplan.tui.panels.data_panel import DataPanel

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "chat.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"question {i}"},
                          {"role": "assistant", "content": "answer " * (1 + i % 5)}]} for i in range(60)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+e")  # nothing profiled yet: the plan names a placeholder and says so
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        assert app.screen.plan.data.path == "data/train.jsonl"
        assert "a placeholder" in str(app.screen.query_one("#export-summary", Static).content)
        await pilot.press("escape")
        await pilot.press("f6")  # the Data tab
        await pilot.pause()
        panel = app.screen.query_one(DataPanel)

        async def profiled(train_all: bool) -> None:
            for _ in range(400):
                await pilot.pause(0.05)
                if (panel.profile is not None and not panel.has_class("-running")
                        and panel.plan_data().train_on == ("all" if train_all else "completion")):
                    return
            raise AssertionError("the profile never finished")

        await paste_into(pilot, "#data-path", str(data), submit=True)
        await profiled(False)
        masked = panel.profile.trained_tokens
        await pilot.click("#data-train-all")  # every token trained: the profile is taken again
        await profiled(True)
        assert panel.profile.trained_tokens > masked
        assert panel.profile.trained_tokens == profile_dataset(data, seq_len=panel.profile.seq_len,
                                                               mask=False).trained_tokens
        await pilot.press("f5", "ctrl+e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        d = dialog.plan.data
        # 60 examples: the profile suggests holding out 20 (at least 20, 10% of larger sets); 0.3334, since
        # lorplan train holds out the whole part of 60 × 0.3333, 19
        assert (d.path, d.schema, d.train_on, d.eval_split) == (str(data), "messages", "all", 0.3334)
        assert "loss on every token" in str(dialog.query_one("#export-summary", Static).content)
        await click(pilot, "#export-write")
    written = read_plan(tmp_path / default_folder(dialog.plan) / "plan.toml")
    assert written.data == d


@pytest.mark.anyio
async def test_a_classifier_is_not_offered_the_choice_of_trained_tokens(make_app, tmp_path, monkeypatch):
    """The Data tab offered "train on prompts too" for the MiniLM classifier, and its export wrote data.train_on =
    "all" (or "completion"), which lorplan train ignores for one label per example and now refuses: the checkbox
    is hidden for a classifier, shown again for a causal LM, and a classifier's export writes no train_on."""
    import json

    from lorplan.tui.panels.data_panel import DataPanel

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "labels.jsonl"
    data.write_text("".join(json.dumps({"text": f"review {i}", "label": i % 2}) + "\n" for i in range(60)))
    app = make_app(model="all-MiniLM-L6-v2")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")  # the Data tab
        await pilot.pause()
        panel = app.screen.query_one(DataPanel)
        box = panel.query_one("#data-train-all", Checkbox)
        assert panel.classifier and not box.display
        box.value = True  # ticked for a causal LM before: a classifier still trains no tokens
        await paste_into(pilot, "#data-path", str(data), submit=True)
        for _ in range(400):
            await pilot.pause(0.05)
            if panel.profile is not None and not panel.has_class("-running"):
                break
        assert panel.profile is not None and panel.train_all is False
        await pilot.press("f5", "ctrl+e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        assert dialog.plan.model.task == "sequence-classification" and dialog.plan.data.train_on is None
        assert "one label per example" in str(dialog.query_one("#export-summary", Static).content)
        await click(pilot, "#export-write")
        await pilot.pause()
        panel.set_context(None, 512, False)  # no classifier (a causal LM's context): the choice is offered again
        assert box.display and panel.train_all is True
        await app.workers.wait_for_complete()
    written = tmp_path / default_folder(dialog.plan) / "plan.toml"
    assert "train_on" not in written.read_text() and read_plan(written).data.train_on is None


@pytest.mark.anyio
async def test_export_refuses_while_the_form_shows_errors(make_app, tmp_path, monkeypatch):
    """The plan kept while a field is bad is the last valid one: ctrl+e says which fields to fix and writes
    nothing, instead of writing that older setup without a word; once fixed it exports again."""
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async def fill_and_export(micro_batch: str, seq_len: str, budget: str) -> None:
        # pasted: every key typed is a re-plan (~0.3 s under Pilot), and the keys' own states are not the subject
        await paste_into(pilot, "#f-micro_batch", micro_batch)
        await paste_into(pilot, "#f-seq_len", seq_len)
        await paste_into(pilot, "#gpu-budget", budget)
        app.set_focus(None)
        await pilot.press("ctrl+e")
        await pilot.pause()

    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "#f-micro_batch", "8")
        await fill_and_export("x8", "-1", "lots")
        assert not isinstance(app.screen, ExportDialog)
        notes = [n.message for n in app._notifications]
        # the fields in the form's order, top to bottom (the GPU budget is above the setup grid: 2ac67a2)
        assert notes and notes[-1] == ("Not exported: fix GPU budget, micro-batch, seq len first "
                                       "(the table shown is the last valid one).")
        assert "\n" not in notes[-1]
        await fill_and_export("8", "2048", "24GiB")
        assert isinstance(app.screen, ExportDialog)
        assert app.screen.plan.training.micro_batch == 8
    assert not list(tmp_path.glob("*/plan.toml"))  # nothing was written


@pytest.mark.anyio
async def test_a_classifier_is_not_written_for_a_trainer_that_trains_no_classifier(tmp_path):
    """axolotl ticked for the MiniLM classifier: the dialog said a warning and wrote a YAML that trains a causal
    LM; it now says the refusal and writes nothing (not even the other formats) until axolotl is unticked."""
    app = Host(plan_of("minilm-classification"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        await click(pilot, "#fmt-axolotl")
        warnings = str(dialog.query_one("#export-warnings", Static).render())
        assert "axolotl YAML: not written: axolotl trains no sequence classifier" in warnings
        await paste_into(pilot, "#export-folder", str(tmp_path / "out"))
        await click(pilot, "#export-write")
        status = str(dialog.query_one("#export-status", Static).render())
        assert status.startswith("Not written: axolotl YAML: axolotl trains no sequence classifier"), status
        assert not (tmp_path / "out").exists()
        await click(pilot, "#fmt-axolotl")
        await click(pilot, "#export-write")
    assert {p.name for p in app.result} >= {"adapter_config.json", "classifier_config.json", "plan.toml"}


@pytest.mark.anyio
async def test_a_relative_model_folder_is_exported_where_the_tools_find_it(make_app, tmp_path, monkeypatch):
    """The planner opened on `models/smol` (a folder in the working folder) exported `base_model: models/smol`,
    which axolotl, LLaMA-Factory and peft read from the folder they run in, while `lorplan export` writes the
    path lorplan reads, absolute, with a note. The dialog's export now does the same and shows the note."""
    import json
    import shutil

    from lorplan.tui.screens.export_dialog import TITLES

    catalog = Path(__file__).resolve().parents[2] / "lorplan" / "core" / "model" / "catalog"
    folder = tmp_path / "models" / "smol"
    folder.mkdir(parents=True)
    shutil.copy(catalog / "HuggingFaceTB__SmolLM2-135M-Instruct.json", folder / "config.json")
    monkeypatch.chdir(tmp_path)
    note = f"model.path models/smol is written as {folder}, the one lorplan reads"
    app = make_app(model="models/smol")
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await open_export(app, pilot)
        assert dialog.plan.model.path == "models/smol"  # the plan keeps the folder as typed
        await click(pilot, "#fmt-axolotl")
        shown = str(dialog.query_one("#export-warnings", Static).render())
        assert f"• {TITLES['peft']}: note: {note}" in shown and f"• {TITLES['axolotl']}: note: {note}" in shown
        assert "data.path" not in shown  # the placeholder data path, which the summary names as one
        out = tmp_path / "out"
        await paste_into(pilot, "#export-folder", str(out))
        await click(pilot, "#export-write")
    text = (out / "axolotl.yaml").read_text()
    axolotl = yaml.safe_load(text)
    assert axolotl["base_model"] == str(folder) and f"# lorplan: NOTE: {note}" in text
    assert axolotl["datasets"][0]["path"] == "data/train.jsonl"  # a placeholder, left as it is
    assert json.loads((out / "peft" / "adapter_config.json").read_text())["base_model_name_or_path"] == str(folder)
    assert f"NOTE: {note}" in (out / "peft" / "LORPLAN_WARNINGS.txt").read_text()
    assert read_plan(out / "plan.toml").model.path == "models/smol"  # lorplan's own file, read as lorplan reads it
