"""App-level behaviour: tabs, export, help, themes, palette, keymap from the user config, quit."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.binding import Binding
from tui_helpers import paste_into, type_into, wait_until

from lorplan.core.errors import BadInput
from lorplan.tui.config import UserConfig, load_config, save_config
from lorplan.tui.screens.help_screen import HelpScreen

pytestmark = pytest.mark.anyio
SIZE = (120, 40)


def written_config(tmp_path, text: str):
    """A config.toml holding `text`, in a folder of its own."""
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


async def test_data_and_probes_tabs_mount_their_panels_and_get_the_context(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        data = app.screen.query_one("#data").children[0]
        assert type(data).__name__ == "DataPanel"
        assert (data.model_source, data.seq_len) == ("meta-llama/Llama-3.1-8B-Instruct", 2048)
        await pilot.press("f5")
        await type_into(pilot, "#f-seq_len", "4096")
        assert data.seq_len == 4096
        await pilot.press("f7")
        await pilot.pause()
        assert type(app.screen.query_one("#probes").children[0]).__name__ == "ProbesPanel"


async def test_export_binding_opens_the_export_dialog_for_the_selected_rank(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#f-seq_len").focus()  # works from inside a text field too
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert type(app.screen).__name__ == "ExportDialog"
        await pilot.press("ctrl+e")  # not a second dialog on top
        await pilot.pause()
        assert sum(type(s).__name__ == "ExportDialog" for s in app.screen_stack) == 1


async def test_help_opens_on_the_focused_field_and_closes_with_escape(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#f-seq_len").focus()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        current = app.screen.query_one(".-current")
        assert current.id == "help-seq_len"
        text = str(current.render())
        assert "activations" in text and "square" in text
        topics = {w.id for w in app.screen.query(".help-topic")}
        assert {"help-rank", "help-double_quant", "help-seq_len", "help-keys"} <= topics
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_help_key_list_comes_from_every_binding_including_the_tabs_keys(make_app):
    """The help's key list is built from the real bindings: the Probes and Recommend tabs' keys are in it."""
    from lorplan.tui.panels.probes_panel import ProbesPanel
    from lorplan.tui.panels.recommend_panel import RecommendPanel

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        keys = str(app.screen.query_one("#help-keys").render())
        for panel in (ProbesPanel, RecommendPanel):
            for binding in panel.BINDINGS:
                assert f"[{binding.id}]" in keys
                assert binding.description in keys
        for key in ("p", "s", "c", "C", "t", "v", "a", "l"):
            assert any(line.split()[:1] == [key] for line in keys.splitlines()), key


async def test_help_on_the_plan_tab_lists_the_rank_table_s_own_keys(make_app, tmp_path):
    """F1 from the rank table opens "Reading the table" with the table's keys, read from RankTable.BINDINGS (and
    the key that focuses the table, from the user's keymap); the Keys section lists them too."""
    from lorplan.tui.widgets.rank_table import RankTable

    config_path = tmp_path / "cfg" / "config.toml"
    save_config(UserConfig(keymap={"focus-table": "f9"}), config_path)
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#tabs").active == "plan")
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.focused, RankTable))
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        current = app.screen.query_one(".-current")
        assert current.id == "help-table"
        lines = str(current.render()).splitlines()
        assert "Keys when the table has the focus (f9;" in "\n".join(lines)
        bindings = [b for b in RankTable.BINDINGS if isinstance(b, Binding)]
        assert len(bindings) >= 6
        for binding in bindings:
            assert any(line.split() == [binding.key, *binding.description.split()] for line in lines), binding
        keys = str(app.screen.query_one("#help-keys").render()).splitlines()
        for binding in bindings:
            assert any(line.split()[:1] == [binding.key] and f"{binding.description} (Plan tab, rank table)" in line
                       for line in keys), binding


def test_micro_batch_help_names_the_max_mb_column():
    from lorplan.tui.help_topics import BY_ID

    text = BY_ID["micro_batch"].text
    assert "last table column" not in text
    assert "max mb" in text


async def test_help_on_a_tab_opens_that_tab_s_topic(make_app):
    """F1 on each tab, in one app: the help is closed (Esc) before the next tab's key."""
    from tui_helpers import wait_until

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for key, topic in (("f6", "data"), ("f7", "probes"), ("f8", "recommend")):
            await pilot.press(key)
            await wait_until(pilot, lambda topic=topic: app.screen.query_one("#tabs").active == topic)
            await pilot.pause()
            await pilot.press("f1")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen), topic
            assert app.screen.query_one(".-current").id == f"help-{topic}"
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_every_field_has_a_tooltip(make_app):
    app = make_app()
    async with app.run_test(size=SIZE):
        fields = list(app.screen.query("Input, Select, Checkbox"))
        assert len(fields) >= 15
        missing = [w.id for w in fields if not w.tooltip and w.id != "data-path"]
        assert missing == []


async def test_theme_from_palette_is_applied_and_remembered(make_app, tmp_path):
    config_path = tmp_path / "cfg" / "config.toml"
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "dark"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"theme: high", "enter")
        await pilot.pause()
        assert app.theme == "high-contrast"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "dark"
        await pilot.press("ctrl+t")
        await pilot.pause()
    assert load_config(config_path)[0].theme == "light"


async def test_model_choice_is_remembered_and_reopened(make_app, tmp_path):
    config_path = tmp_path / "cfg" / "config.toml"
    app = make_app(config_path=config_path, model=None)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#model-input", "gpt2", submit=True)
        await pilot.pause()
    assert load_config(config_path)[0].last_model == "openai-community/gpt2"
    again = make_app(config_path=config_path, model=None)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.screen.query_one("#plan-view").state.source == "openai-community/gpt2"
        assert again.screen.query_one("#target-c_attn")


async def test_keymap_from_config_remaps_bindings(make_app, tmp_path):
    config_path = tmp_path / "cfg" / "config.toml"
    save_config(UserConfig(keymap={"help": "f9", "next-theme": "f10"}), config_path)
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "f10")
        await pilot.pause()
        assert app.theme == "light"


async def test_a_keymap_that_would_take_typed_text_is_refused(make_app, tmp_path):
    """`quit = "q"` would make quit a priority key (checked before the focused field): typing "qwen" in the model
    search would quit. It is refused at start, naming the file and the key, and ctrl+q stays."""
    config_path = written_config(tmp_path, '[keymap]\nquit = "q"\nnext-theme = "f10"\n')
    app = make_app(config_path=config_path, model=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(m.startswith(f"{config_path}: keymap.quit: 'q' types 'q' in text fields") and
                   m.endswith("ignored, ctrl+q kept") for m in messages), messages
        await type_into(pilot, "#model-input", "qwen")
        assert app.is_running and app.screen.query_one("#model-input").value == "qwen"
        await pilot.press("f10")  # the other remap applies
        await pilot.pause()
        assert app.theme == "light"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


def test_late_binding_ids_are_the_panels_and_dialogs_own():
    """The keymap knows the ids of the bindings of the panels and the export dialog before they are imported:
    the list must be theirs exactly (a binding added to a panel and not here could not be remapped)."""
    from lorplan.tui.app import LATE_BINDING_IDS
    from lorplan.tui.panels.probes_panel import ProbesPanel
    from lorplan.tui.panels.recommend_panel import RecommendPanel
    from lorplan.tui.screens.export_dialog import ExportDialog

    ids = {b.id for cls in (ProbesPanel, RecommendPanel, ExportDialog) for b in cls.BINDINGS if b.id}
    assert set(LATE_BINDING_IDS) == ids


async def test_a_panels_binding_remapped_in_the_keymap_works_once_the_panel_is_shown(make_app, tmp_path):
    config_path = tmp_path / "cfg" / "config.toml"
    save_config(UserConfig(keymap={"probes.compare": "x"}), config_path)
    app = make_app(config_path=config_path)
    assert app.config_problems == []  # it was "keymap.probes.compare is not a binding id"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        panel = None

        def shown():
            nonlocal panel
            panel = next(iter(app.screen.query("ProbesPanel")), None)
            return panel is not None and panel.is_mounted

        await wait_until(pilot, shown)
        panel.focus()
        await wait_until(pilot, lambda: panel.has_focus_within)
        # no run yet: compare is not offered; once a run is shown, x toggles the comparison and v does not
        assert not any(a.binding.id == "probes.compare" for a in app.screen.active_bindings.values())
        from lorplan.probe import runner
        from lorplan.probe.runs import create_run

        create_run(runner.make_plan((4, 8), steps=3, device="cpu", run="20261205-100000-ab12"), panel.runs_dir)
        await wait_until(pilot, lambda: not panel.has_class("-empty"))
        await wait_until(pilot, lambda: app.screen.active_bindings.get("x") is not None)
        assert app.screen.active_bindings["x"].binding.id == "probes.compare"
        panel.focus()
        await pilot.press("v")  # the default key no longer
        await pilot.pause()
        assert not panel.has_class("-compare")
        await pilot.press("x")
        await wait_until(pilot, lambda: panel.has_class("-compare"))


@pytest.mark.parametrize(("keymap", "refused"), [
    ({"quit": "Q"}, "'Q' types 'Q'"),
    ({"export": "ctrl+x,space"}, "'space' types ' '"),
    ({"help": "?"}, "'question_mark' types '?'"),
    ({"tab-plan": "shift+p"}, "'shift+p' types 'P'"),
    ({"tab-data": "1"}, "'1' types '1'"),
    ({"quit": "ctrl+x", "tab-data": "alt+d", "help": "f9", "quit-q": "x", "focus-model": "m"}, None),
])
def test_text_keys_are_refused_only_for_priority_bindings(tmp_path, keymap, refused):
    """Bindings without priority (quit-q, focus-model…) see a key only after a text field declines it, so a
    printable key is theirs to take; priority ones (quit, help, export, the tabs) are checked before the field."""
    from lorplan.tui import bridge
    from lorplan.tui.app import LorplanApp

    config_path = tmp_path / "config.toml"
    save_config(UserConfig(keymap=keymap), config_path)
    app = LorplanApp(config_path=config_path, gpu_source=bridge.no_gpu("test"), save_settings=False)
    if refused is None:
        assert app.config_problems == [] and set(app._keymap) == set(keymap)
    else:
        (binding_id,) = keymap
        assert len(app.config_problems) == 1 and refused in app.config_problems[0]
        assert app.config_problems[0].startswith(f"{config_path}: keymap.{binding_id}: ")
        assert binding_id not in app._keymap  # the default binding stays


async def test_a_config_with_a_syntax_error_is_reported_and_kept_through_the_session(make_app, tmp_path):
    config_path = tmp_path / "cfg" / "config.toml"
    config_path.parent.mkdir(parents=True)
    broken = 'theme = "light"\n[keymap]\nhelp = "f9"\n[setup\n'
    config_path.write_text(broken)
    app = make_app(config_path=config_path, model=None)
    # every notification as it is posted: the app's list drops them after their timeout (10 s), which the key
    # presses below can outlast on a loaded machine
    messages: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        messages.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recording
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-seq_len", "4096")  # a setup to remember
        await type_into(pilot, "#model-input", "gpt2", submit=True)  # a model to remember
        await pilot.pause()
        await pilot.press("ctrl+t")  # a theme to remember
        await pilot.pause()
        assert sum("not valid TOML" in m and "leaves the file as it is" in m for m in messages) == 1
        assert not any("settings not saved" in m for m in messages)  # said once, at start
    assert config_path.read_text() == broken


async def test_config_problems_are_notified_not_fatal(make_app, tmp_path):
    config_path = written_config(tmp_path, 'theme = "nope"\ncolour = 1\n[keymap]\nfly = "f8"\n')
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = "\n".join(n.message for n in app._notifications)
        assert "colour" in messages and "keymap.fly" in messages and "'nope' is not installed" in messages
        assert app.theme == "dark"


async def test_a_theme_change_keeps_the_settings_lorplan_could_not_use(make_app, tmp_path):
    """The problems said at start are the user's to fix: saving the theme keeps them in the file as written."""
    import tomllib

    config_path = written_config(tmp_path, 'theme = "nope"\ncolour = 1\n[keymap]\nfly = "f8"\nhelp = 5\n')
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: 'theme = "light"' in config_path.read_text())
    saved = tomllib.loads(config_path.read_text())
    saved.pop("setup")  # the form's, remembered at exit
    assert saved == {"theme": "light", "colour": 1, "keymap": {"fly": "f8", "help": 5},
                     "last_model": "meta-llama/Llama-3.1-8B-Instruct"}


@pytest.mark.parametrize("key", ["ctrl+q", "q"])
async def test_quit_is_one_key(make_app, key):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#rank-table").focus()
        await pilot.press(key)
        await pilot.pause()
        assert not app.is_running


async def test_ctrl_q_quits_even_while_typing(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#f-seq_len").focus()
        await pilot.press("q")  # typed into nothing numeric: an inline error, not a quit
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


def test_unknown_theme_is_bad_input(make_app):
    with pytest.raises(BadInput, match="--theme: unknown theme 'nope'"):
        make_app(theme="nope")


def test_cli_unknown_theme_exits_2_with_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lorplan", "--theme", "nope"], capture_output=True, text=True,
                            timeout=60, env={"XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown theme 'nope'" in result.stderr


async def test_plan_fits_120x40_without_scrolling_and_stacks_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        view = app.screen.query_one("#plan-view")
        assert view.max_scroll_y == 0 and view.max_scroll_x == 0
        table = app.screen.query_one("#rank-table")
        assert table.region.height == len(table.ranks) + 2  # every rank visible, and the full fine-tuning row
        assert table.reference_text("rank") == "full"
    narrow = make_app()
    async with narrow.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = narrow.screen.query_one("#plan-view")
        assert view.has_class("-narrow")
        assert view.children[0].id == "plan-table-box"  # the answer first
        assert view.max_scroll_y > 0  # the rest is reachable by scrolling
        await pilot.press("f2")  # jumping to the model search scrolls it into view
        await pilot.pause()
        model_input = narrow.screen.query_one("#model-input")
        assert narrow.focused is model_input
        assert view.region.contains_region(model_input.region)


async def test_a_failing_gpu_query_is_reported_not_fatal(make_app):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("NVML exploded")
        from lorplan.tui.bridge import GpuReport

        return GpuReport((), "no driver")

    app = make_app(gpu_source=flaky)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#gpu-panel").refresh_gpus()
        for _ in range(100):
            await pilot.pause(0.02)
            if app._notifications:
                break
        assert app.is_running
        assert "NVML exploded" in "\n".join(n.message for n in app._notifications)


async def test_dataset_is_remembered_and_offered_next_time(make_app, tmp_path):
    import json

    from textual.widgets import Input, Static

    from lorplan.tui.panels.data_panel import DataPanel

    config_path = tmp_path / "cfg" / "config.toml"
    data = tmp_path / "pc.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i} ", "completion": "a b"}) + "\n" for i in range(10)))
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        panel = app.screen.query_one(DataPanel)
        assert panel.query_one("#data-path", Input).value == ""  # nothing remembered yet
        await paste_into(pilot, "#data-path", str(data), submit=True)  # typed: ~80 ms a key, ~6 s
        for _ in range(200):
            await pilot.pause(0.05)
            if load_config(config_path)[0].last_data:
                break
    assert load_config(config_path)[0].last_data == str(data.resolve())
    again = make_app(config_path=config_path)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        panel = again.screen.query_one(DataPanel)
        assert panel.query_one("#data-path", Input).value == str(data.resolve())
        assert panel.profile is None  # offered, not profiled until asked
        assert "Last time:" in str(panel.query_one("#data-status", Static).content)


async def test_copy_as_command_gives_the_cli_line_of_the_table_on_screen(make_app, capsys):
    import json
    import shlex

    from tui_helpers import choose

    from lorplan.cli import main
    from lorplan.core.memory import plan_json
    from lorplan.tui.panels.plan_view import PlanView

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await choose(pilot, "#f-quant", "nf4")
        await type_into(pilot, "#f-seq_len", "4096")
        await type_into(pilot, "#f-custom_rank", "12")
        view = app.screen.query_one(PlanView)
        app.action_copy_command()
        await pilot.pause()
        command = app.clipboard
        assert command.startswith("lorplan plan --model ") and "--quant nf4" in command
        assert "--seq-len 4096" in command and ",12," in command and "--gpu-memory 24GiB" in command
        assert any(n.message == command and n.title.endswith("OSC 52 on)") for n in app._notifications)
        shown = plan_json(view.state.spec, view.state.table)
        await type_into(pilot, "#f-micro_batch", "x8")  # a bad field: the command is the last valid table's
        app.action_copy_command()
        await pilot.pause()
        assert app.clipboard == command
        assert list(app._notifications)[-1].title == ("Copied the command of the last valid table (if your terminal "
                                                      "passes OSC 52 on); micro-batch is not valid yet: fix it to "
                                                      "copy the form's setup")
    capsys.readouterr()
    assert main([*shlex.split(command)[1:], "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["rows"] == shown["rows"]


async def test_tab_keys_work_from_every_panel_and_the_footer_lists_them(make_app):
    """F5/F6/F7 from a setup field, the model search or the GPU panel (they once worked from the table only). One
    app goes round the fields (the first round mounts the Data and Probes tabs; a round is the same keys after)."""
    from textual.widgets import TabbedContent

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.screen.query_one(TabbedContent)
        for field in ("#f-seq_len", "#f-quant", "#f-dora", "#model-input", "#model-matches", "#gpu-preset",
                      "#rank-table"):
            app.screen.query_one(field).focus()
            await pilot.pause()
            assert app.focused is app.screen.query_one(field) and tabs.active == "plan", field
            await pilot.press("f6")
            await pilot.pause()
            assert tabs.active == "data", field
            await pilot.press("f7")
            await pilot.pause()
            assert tabs.active == "probes", field
            await pilot.press("f5")
            await pilot.pause()
            assert tabs.active == "plan", field
            assert app.focused is app.screen.query_one("#rank-table"), field  # the tab's answer has the focus
            footer = " ".join(str(key.render()) for key in app.screen.query("FooterKey, FooterLabel"))
            assert all(key in footer.lower() for key in ("f5", "f6", "f7")) and "Tabs" in footer, field


def _run_offering_every_key(runs_root, model: str) -> None:
    """A ladder run for `model` with every tab key in use: one probe ended (t), one queued (c), a run to
    compare (v), and a recommendation with a per-module pattern (p, u)."""
    from lorplan.core.lora import LoraTargets
    from lorplan.core.model import load_spec
    from lorplan.probe import runner
    from lorplan.probe.runs import atomic_write_json, create_run
    from lorplan.recommend import DataSize, LadderRow, RankPattern, adapter_size, capacity_prior, combine

    run = create_run(runner.make_plan((4, 8), steps=3, device="cpu", run="20261205-100000-f00d"), runs_root)
    atomic_write_json(run.result_path("r4"), {"state": "finished", "step": 3, "eval_loss": 1.2, "train_seconds": 1.0})
    prior = capacity_prior(DataSize(task="causal-lm", trained_tokens=2_000_000),
                           adapter_size(load_spec(model), LoraTargets()))
    rows = [LadderRow(rank=r, learning_rate=1e-3, eval_loss=loss, state="finished", train_seconds=3.0,
                      trainable_params=r * 1000, steps=3) for r, loss in ((4, 1.2), (8, 1.1))]
    rec = combine(prior, default_lr=(1e-3, "the default"), ladder=rows, base_loss=2.4,
                  pattern=RankPattern({"q_proj": 8}, "pattern", "q_proj's signal rank is twice the others'"))
    atomic_write_json(run.path / "recommendation.json", {**rec.to_json(), "base_loss": 2.4, "state": "done"})


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_footer_fits_on_every_tab(make_app, size, tmp_path):
    """On the Probes and Recommend tabs the footer's keys ran off the screen: at 80 columns Quit and Help were
    gone, at 120 an entry was cut in half. Every entry shown is whole now, with the tab's own keys and Help (in
    a state where each of them can act: a key that cannot is not offered)."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey
    from tui_helpers import wait_until

    from lorplan.tui.textshot import screen_text

    own = {"plan": (), "data": (), "probes": ("Cancel probe", "Retry probe", "Probe this plan", "Compare ranks"),
           "recommend": ("Apply to plan", "With pattern", "One rank", "Probe ladder")}
    panels = {"probes": "ProbesPanel", "recommend": "RecommendPanel"}
    # make_app's model, in isolated_home's state folder
    _run_offering_every_key(tmp_path / "state" / "lorplan" / "runs", "meta-llama/Llama-3.1-8B-Instruct")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        footer = app.screen.query_one(Footer)

        def whole() -> list[str]:
            """The problems with the footer on screen (none: every entry shown whole, the tab's keys, Help)."""
            line = screen_text(app).splitlines()[-1]
            shown = [k for k in footer.query(FooterKey) if k.display and k.parent.display and k.region.width]
            problems = [f"{k.key_display} {k.description}" for k in shown
                        if f"{k.key_display} {k.description}".strip() not in line
                        or k.region.right > footer.region.right]
            return problems + [d for d in (*own[tab], "f1 Help") if d not in line]

        for tab in own:
            app.action_show_tab(tab)
            if tab in panels:  # the footer shows a tab's own keys while the focus is in its panel
                await wait_until(pilot, lambda name=panels[tab]: any(p.is_mounted for p in app.screen.query(name)))
                panel = app.screen.query_one(panels[tab])
                try:
                    await wait_until(pilot, lambda panel=panel: panel.has_focus_within, timeout=5.0)
                except AssertionError:  # under load the focus F7 gives can get lost (a separate bug): a click
                    panel.focus()
            try:
                await wait_until(pilot, lambda: not whole())
            except AssertionError:
                raise AssertionError(f"{tab} at {size}: {whole()} in {screen_text(app).splitlines()[-1]!r}, "
                                     f"focus {app.focused!r}") from None
        if size[0] >= 120:  # room for the tab keys on every tab
            assert "f5 f6 f7 f8 Tabs" in screen_text(app).splitlines()[-1]


async def test_a_field_left_bad_is_remembered_as_it_was_before_it_was_typed(make_app, tmp_path):
    """Typing 99999999 into Micro-batch: 999999, after the sixth key, was the last valid plan, and the app saved
    it, so the next start opened on a 16,000 TiB table with no red field. A field left bad is remembered as it
    was before its typing began; the other fields' valid changes are kept."""
    config_path = tmp_path / "cfg" / "config.toml"
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        before = app.screen.query_one("#f-micro_batch").value
        await type_into(pilot, "#f-seq_len", "1024")
        await type_into(pilot, "#f-micro_batch", "99999999")
        assert app.screen.query_one("#f-micro_batch").has_class("-invalid")
        await pilot.press("ctrl+q")
    saved = load_config(config_path)[0].setup
    assert saved.micro_batch == before != "999999" and saved.seq_len == "1024"
    # a value typed and left valid is remembered as typed
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#f-micro_batch", "12")
        await pilot.press("ctrl+q")
    assert load_config(config_path)[0].setup.micro_batch == "12"


async def test_the_setup_is_remembered_and_a_bad_saved_value_is_dropped_with_a_note(make_app, tmp_path):
    from tui_helpers import choose

    from lorplan.tui.panels.plan_view import PlanView

    config_path = tmp_path / "cfg" / "config.toml"
    app = make_app(config_path=config_path)
    async with app.run_test(size=SIZE) as pilot:
        await choose(pilot, "#f-quant", "nf4")
        await type_into(pilot, "#f-seq_len", "4096")
        await type_into(pilot, "#f-lora_dropout", "0.1")
        app.screen.query_one("#f-grad_checkpointing").focus()
        await pilot.press("space")
        await pilot.pause()
        planned = app.screen.query_one(PlanView).state.setup
        await pilot.press("ctrl+q")  # quitting within the save delay still saves
    saved = load_config(config_path)[0].setup
    assert (saved.quant, saved.seq_len, saved.lora_dropout) == ("nf4", "4096", "0.1")
    assert saved.grad_checkpointing is True
    again = make_app(config_path=config_path)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.screen.query_one("#f-seq_len").value == "4096"
        assert again.screen.query_one("#f-quant").value == "nf4"
        assert again.screen.query_one("#f-grad_checkpointing").value is True
        assert again.screen.query_one(PlanView).state.setup == planned  # the same plan as before the restart
    text = config_path.read_text().replace('quant = "nf4"', 'quant = "nf9"')
    config_path.write_text(text)
    third = make_app(config_path=config_path)
    async with third.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert third.screen.query_one("#f-quant").value == "none"  # dropped: the default
        assert third.screen.query_one("#f-seq_len").value == "4096"  # the rest kept
        notes = "\n".join(n.message for n in third._notifications)
        assert "setup.quant" in notes and "'nf9'" in notes


async def test_screenshots_for_the_docs_ignore_the_remembered_setup(isolated_home):
    """textshot renders the README's screen: the same for everyone, whatever setup their config remembers."""
    from lorplan.tui.config import default_config_path
    from lorplan.tui.panels.setup_form import FormValues
    from lorplan.tui.textshot import _render

    save_config(UserConfig(setup=FormValues(seq_len="4096")), default_config_path())
    text = await _render(120, 40, "dark", "meta-llama/Llama-3.1-8B-Instruct")
    assert "Seq length    2048" in text and "4096" not in text


async def test_the_full_finetune_row_is_a_reference_not_a_choice(make_app, monkeypatch):
    from lorplan.tui.textshot import screen_text
    from lorplan.tui.widgets.rank_table import RankTable

    # the click on the full fine-tuning row changes nothing on screen, so the rows the table was clicked on are
    # counted: a click that missed it (or never came) would pass the same assertions
    clicked: list[int] = []
    real = RankTable.on_click
    monkeypatch.setattr(RankTable, "on_click", lambda self, event: (
        clicked.append(event.get_content_offset(self).y + self.scroll_offset.y), real(self, event))[-1])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#rank-table")
        table.focus()
        await pilot.press("end", "down")  # the cursor stops at the largest rank
        await pilot.pause()
        last = table.ranks[-1]
        assert table.selected_rank == last
        await pilot.click("#rank-table", offset=(3, 2))  # a rank row: selected
        await pilot.pause()
        assert table.selected_rank == table.ranks[1]
        reference = len(table.ranks) + 1  # the header, the ranks, then the full fine-tuning row
        line = screen_text(app).splitlines()[table.content_region.y + reference]
        assert line[table.content_region.x:].split()[0] == "full", line
        await pilot.click("#rank-table", offset=(3, reference))  # the full fine-tuning row: not
        await pilot.pause()
        assert clicked == [2, reference]
        assert table.selected_rank == table.ranks[1]
        assert f"rank {table.ranks[1]}:" in str(app.screen.query_one("#plan-summary").render())


async def test_a_probes_read_landing_as_the_tab_changes_does_not_pull_the_tabs_back(make_app):
    """Switching tabs drops the focus and changes the active tab before the screen is redrawn. The Probes panel
    takes back a focus lost while its tab is shown; judged by what the last redraw showed, a read landing just
    after F5 took the focus and the tabs followed it back to Probes (a CI run of the F5/F6/F7 test failed so)."""
    from textual.widgets import TabbedContent
    from tui_helpers import wait_until

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.screen.query_one(TabbedContent)
        app.action_show_tab("probes")
        await wait_until(pilot, lambda: any(p.is_mounted for p in app.screen.query("ProbesPanel")))
        panel = app.screen.query_one("ProbesPanel")
        await wait_until(pilot, lambda: panel.has_focus_within)
        app.action_show_tab("plan")
        panel._focus_what_is_shown()  # the read's handler, before any redraw
        await pilot.pause()
        assert tabs.active == "plan" and not panel.has_focus_within
        await wait_until(pilot, lambda: app.focused is app.screen.query_one("#rank-table"))
        # and on its own tab a lost focus still comes back
        app.action_show_tab("probes")
        await wait_until(pilot, lambda: panel.has_focus_within)
        app.screen.set_focus(None)
        panel._focus_what_is_shown()
        assert panel.has_focus_within and tabs.active == "probes"


async def test_a_stale_tab_focus_message_does_not_switch_tabs(make_app):
    """Textual shows the tab of a focused widget through messages (Focus, DescendantFocus, TabPane.Focused). A
    focus set in the Probes tab just before F5 had its message arrive after the switch, under load, and the
    tabs went back to Probes; the message now switches tabs only while its pane still holds the focus."""
    from textual.widgets import TabbedContent, TabPane
    from tui_helpers import wait_until

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.screen.query_one(TabbedContent)
        app.action_show_tab("probes")
        await wait_until(pilot, lambda: any(p.is_mounted for p in app.screen.query("ProbesPanel")))
        app.action_show_tab("plan")
        await wait_until(pilot, lambda: app.focused is app.screen.query_one("#rank-table"))
        probes = app.screen.query_one("#probes", TabPane)
        probes.post_message(TabPane.Focused(probes))  # what a focus set there before the switch sends late
        await pilot.pause()
        await pilot.pause()
        assert tabs.active == "plan" and app.focused is app.screen.query_one("#rank-table")
        # a focus that is really in the pane still shows its tab
        app.screen.set_focus(app.screen.query_one("ProbesPanel"))
        await wait_until(pilot, lambda: tabs.active == "probes")
