"""The layers of lorplan, enforced: the import-linter contracts in pyproject.toml hold, and they catch a breach.

The contracts (pyproject.toml, [tool.importlinter]): cli and tui are front ends side by side (the TUI never
imports the CLI), then recommend, probe, train, core; the core never imports a UI library; the core and the TUI
never import the training stack; inside the TUI only bridge.py reaches the core and only probe_bridge.py the probes. The fresh-interpreter tests (tests/test_import_hygiene.py) check what is
loaded at run time; these check every import statement, including those inside functions.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the project at `cwd` (its pyproject.toml, its lorplan/ first on the path)."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_tui_reaches_no_cli_module():
    graph = grimp.build_graph("lorplan")
    chains = graph.find_shortest_chains(importer="lorplan.tui", imported="lorplan.cli", as_packages=True)
    assert chains == set()


def test_core_reaches_no_front_end_or_engine():
    graph = grimp.build_graph("lorplan")
    for upper in ("lorplan.tui", "lorplan.cli", "lorplan.probe", "lorplan.train"):
        assert graph.find_shortest_chains(importer="lorplan.core", imported=upper, as_packages=True) == set()


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("lorplan/tui/app.py", "from lorplan.cli import plan_args  # noqa", "Layers point down"),
        ("lorplan/core/units.py", "import textual  # noqa", "never imports a UI library"),
        ("lorplan/tui/bridge.py", "def _heavy():\n    import torch  # noqa\n", "never import the training stack"),
        ("lorplan/tui/panels/plan_view.py", "from lorplan.core import lora  # noqa", "only bridge reaches the core"),
        ("lorplan/tui/panels/probes_panel.py", "from lorplan.probe import runner  # noqa", "only probe_bridge"),
        ("lorplan/tui/panels/recommend_panel.py", "from lorplan.recommend import knee  # noqa", "only bridge"),
    ],
)
def test_a_breach_is_caught(tmp_path, module, line, contract):
    """Copy the package, add one forbidden import, and the same contracts fail naming it."""
    shutil.copytree(ROOT / "lorplan", tmp_path / "lorplan", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and contract in result.stdout
