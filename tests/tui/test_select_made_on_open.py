"""The Plan tab's drop-downs (lorplan.tui.widgets.select.Select) make their list on first open, and the GPU
list is mounted on NVML's first report of GPUs: these pin what a user sees and what the plan receives to what
Textual's own Select and an always-mounted list gave (each checked against the tree before the change, the same
pilot steps on both: the same Changed messages in the same order, the same highlighted option, label and
budget). Lists opened here were never opened before the step, so each goes through the first-open path."""

from __future__ import annotations

import pytest
from textual.widgets import Select as TextualSelect
from textual.widgets._select import SelectCurrent, SelectOverlay
from tui_helpers import type_into, wait_until

from lorplan.tui.bridge import GpuReport, GpuView
from lorplan.tui.panels.plan_view import PlanView

pytestmark = pytest.mark.anyio

SIZE = (120, 40)
GIB = 1024**3


def _record_changed(monkeypatch) -> list[tuple[str, object]]:
    """(select id, value) of every Select.Changed posted, in order."""
    posted: list[tuple[str, object]] = []
    original = TextualSelect.Changed.__init__

    def init(self, select, value):
        posted.append((select.id, value))
        original(self, select, value)

    monkeypatch.setattr(TextualSelect.Changed, "__init__", init)
    return posted


def _highlighted_value(select):
    overlay = select.query_one(SelectOverlay)
    return select._options[overlay.highlighted][1]


async def test_values_set_before_the_list_exists_are_the_ones_highlighted_when_it_opens(make_app, monkeypatch):
    posted = _record_changed(monkeypatch)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        # one Changed per Select at mount, in DOM order, with the values shown (as Textual's Select posted them)
        assert posted == [("f-quant", "none"), ("f-optimizer", "adamw"), ("f-attention", "sdpa"),
                          ("f-sharding", "none"), ("gpu-preset", 3)]
        sharding = screen.query_one("#f-sharding")
        await type_into(pilot, "#f-gpus", "2")  # the form sets sharding to ddp from code, its list not made
        assert sharding.value == "ddp" and not sharding.query(SelectOverlay)
        assert str(sharding.query_one(SelectCurrent).query_one("#label").render()) == "DDP"
        sharding.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert sharding.expanded and app.focused is sharding.query_one(SelectOverlay)
        assert _highlighted_value(sharding) == "ddp"
        await pilot.press("down", "enter")
        await pilot.pause()
        assert sharding.value == "fsdp" and not sharding.expanded and app.focused is sharding
        assert posted[-1] == ("f-sharding", "fsdp")
        assert screen.query_one(PlanView).state.form.sharding == "fsdp"


async def test_the_blank_preset_of_a_never_opened_list_and_typing_to_search(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        view = screen.query_one(PlanView)
        preset = screen.query_one("#gpu-preset")
        assert view.state.budget_bytes == 24 * GIB
        preset.focus()
        await pilot.press("space", "home", "enter")  # opened with space: the blank option is the first one
        await pilot.pause()
        current = preset.query_one(SelectCurrent)
        assert preset.value is TextualSelect.NULL
        assert str(current.query_one("#label").render()) == "preset GPU" and not current.has_class("-has-value")
        assert view.state.budget_bytes is None
        await pilot.press("enter")  # open again: the blank is highlighted, the line marked as Textual marks it
        await pilot.pause()
        assert preset.expanded  # the list made by the first opening stays: only this says Enter opened it again
        assert preset.query_one(SelectOverlay).highlighted == 0 and not current.has_class("-has-value")
        await pilot.press("escape")
        attention = screen.query_one("#f-attention")
        attention.focus()
        await pilot.press("enter", "f", "l")  # typed while the list is new: jumps to flash-attn 2
        await pilot.pause()
        assert _highlighted_value(attention) == "flash"
        await pilot.press("enter")
        await pilot.pause()
        assert attention.value == "flash" and view.state.form.attention == "flash"
        optimizer = screen.query_one("#f-optimizer")  # opened and picked with the mouse
        await pilot.click("#f-optimizer")
        await pilot.pause()
        overlay = optimizer.query_one(SelectOverlay)
        assert optimizer.expanded and overlay.display
        await pilot.click(overlay, offset=(2, 1))
        await pilot.pause()
        assert optimizer.value == optimizer._options[1][1] and not optimizer.expanded
        assert view.state.form.optimizer == optimizer.value


async def test_the_gpu_list_appears_with_the_first_gpus_and_follows_later_reports(make_app):
    """No GPU first (no list mounted), then a source that fails, then two GPUs (the list is mounted and the first
    one picked), then none again (hidden, the preset budget back), then GPUs again (the same list)."""
    gpus = (GpuView(0, "NVIDIA RTX A6000", 48 * GIB, 2 * GIB, 46 * GIB),
            GpuView(1, "NVIDIA RTX A6000", 48 * GIB, 40 * GIB, 8 * GIB))
    mode = ["none"]

    def source():
        if mode[0] == "fail":
            raise RuntimeError("NVML broke")
        return GpuReport(gpus if mode[0] == "gpus" else (), "" if mode[0] == "gpus" else "no driver")

    app = make_app(gpu_source=source)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        panel = screen.query_one("#gpu-panel")
        view = screen.query_one(PlanView)
        assert not panel.query("#gpu-list") and view.state.budget_bytes == 24 * GIB
        mode[0] = "fail"
        panel.refresh_gpus()
        await pilot.pause(0.3)
        assert not panel.query("#gpu-list") and not panel.has_gpu and view.state.budget_bytes == 24 * GIB
        mode[0] = "gpus"
        panel.refresh_gpus()
        await wait_until(pilot, lambda: view.state.budget_bytes == 48 * GIB)
        listed = panel.query_one("#gpu-list")
        children = [child.id for child in panel.children]
        assert children.index("gpu-list") == children.index("gpu-banner") + 1
        assert listed.selected == [0] and listed.option_count == 2 and listed.display
        assert listed.region.height == 2 and listed.tooltip
        listed.select(1)
        await pilot.pause()
        assert screen.query_one("#f-gpus").value == "2" and screen.query_one("#f-sharding").value == "ddp"
        mode[0] = "none"
        panel.refresh_gpus()
        await wait_until(pilot, lambda: not panel.has_gpu)
        await pilot.pause()
        assert listed.region.height == 0 and view.state.budget_bytes == 24 * GIB
        mode[0] = "gpus"
        panel.refresh_gpus()
        await wait_until(pilot, lambda: panel.has_gpu)
        await pilot.pause()
        assert list(panel.query("#gpu-list")) == [listed] and listed.region.height == 2


def test_another_textual_minor_gets_textuals_own_select():
    # the subclass re-implements Textual 8.2's private Select code: on another 8.x it must not be used (a fresh
    # interpreter, so this process's classes stay the ones its widgets were made with)
    import subprocess
    import sys

    code = ("import textual; from textual.widgets import Select as T; real = textual.__version__; "
            "textual.__version__ = '{}'; from lorplan.tui.widgets.select import Select; "
            "print(real, Select is T)")
    for version, textuals in (("8.2.8", "False"), ("8.3.0", "True")):
        out = subprocess.run([sys.executable, "-c", code.format(version)], capture_output=True, text=True, check=True)
        assert out.stdout.split()[1] == textuals, (version, out.stdout, out.stderr)
