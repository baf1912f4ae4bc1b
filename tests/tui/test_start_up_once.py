"""Start-up work the planner does once or not at all before its first frame (benchmarks/tui_latency.py): modules
the first frame never uses, stylesheets parsed twice, the first model's target modules worked out twice."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from importlib.metadata import version

import pytest
import textual
from textual.css import stylesheet
from tui_helpers import wait_until

from lorplan.tui import bridge
from lorplan.tui.app import HERE, LorplanApp

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def test_importing_the_planner_loads_neither_importlib_metadata_nor_the_data_table():
    # importlib.metadata (email, zipfile, csv, ...) was loaded only to read Textual's version, and Textual's
    # DataTable only for the pure column functions the rank table shares with the Probes tab: ~20 ms together
    code = ("import sys; import lorplan.tui.app; "
            "print(*(name in sys.modules for name in ('importlib.metadata', 'textual.widgets._data_table')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_textuals_version_is_the_name_of_its_one_metadata_folder(tmp_path, monkeypatch):
    from lorplan.tui.widgets.select import textual_version

    assert textual_version() == version("textual")
    package = tmp_path / "textual"
    package.mkdir()
    monkeypatch.setattr(textual, "__file__", str(package / "__init__.py"))
    (tmp_path / "textual-9.1.0.dist-info").mkdir()
    assert textual_version() == "9.1.0"
    # two folders, or a name that is another distribution's: Textual's own answer (importlib.metadata)
    (tmp_path / "textual-9.2.0.dist-info").mkdir()
    assert textual_version() == version("textual")
    for name in ("textual-9.1.0.dist-info", "textual-9.2.0.dist-info"):
        (tmp_path / name).rmdir()
    (tmp_path / "textual-dev-1.0.dist-info").mkdir()
    assert textual_version() == version("textual")
    # a version set on the module (as tests/tui/test_select_made_on_open.py tells a fresh interpreter) wins
    monkeypatch.setattr(textual, "__version__", "8.3.0", raising=False)
    assert textual_version() == "8.3.0"


def _count_parses(monkeypatch) -> Counter:
    """How often each stylesheet source (its file, or its class's DEFAULT_CSS) is parsed from here on."""
    parsed: Counter = Counter()
    original = stylesheet.parse

    def parse(scope, css, read_from, *args, **kwargs):
        parsed[read_from] += 1
        return original(scope, css, read_from, *args, **kwargs)

    monkeypatch.setattr(stylesheet, "parse", parse)
    return parsed


async def test_the_planners_stylesheets_are_parsed_once_at_start_up(make_app, monkeypatch):
    """Setting the theme in __init__ made Textual parse every stylesheet into a copy it then dropped with its
    parse cache, so the first widget registered parsed them all again (about 8 ms). A later change of theme
    parses them again, with the new theme's colours."""
    parsed = _count_parses(monkeypatch)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        files = [str(path) for path in LorplanApp.CSS_PATH]
        assert str(HERE / "app.tcss") in files and len(files) > 5
        assert {path: parsed[(path, "")] for path in files} == dict.fromkeys(files, 1)
        background = app.screen.styles.background
        app.theme = "light"
        await pilot.pause()
        assert all(parsed[(path, "")] >= 2 for path in files)
        assert app.screen.styles.background != background  # the light theme's colours


async def test_the_first_models_target_modules_are_worked_out_once(make_app, monkeypatch):
    """The model read before compose composes its target boxes, and applying it asked core for the same spec's
    preset members again."""
    calls = []
    original = bridge.preset_members

    def preset_members(spec):
        calls.append(spec)
        return original(spec)

    monkeypatch.setattr(bridge, "preset_members", preset_members)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert len(app.screen.query(".target")) == 7  # Llama: q, k, v, o, gate, up, down
        assert len(calls) == 1
        app.main.query_one("#plan-view").choose_model("Qwen/Qwen2.5-0.5B-Instruct")
        await wait_until(pilot, lambda: len(calls) > 1)
        assert len(calls) == 2 and calls[1] is not calls[0]  # another model: worked out for it
