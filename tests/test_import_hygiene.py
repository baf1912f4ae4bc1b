"""A fresh interpreter proves that the core and the CLI entry do not load torch, transformers or peft."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import lorplan.core

HEAVY = ("torch", "transformers", "peft")


def core_modules() -> list[str]:
    """Every module under lorplan.core (the fallback child imports torch only inside main())."""
    return [info.name for info in pkgutil.walk_packages(lorplan.core.__path__, "lorplan.core.")]


def loaded_after(code: str) -> list[str]:
    probe = code + f"\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_lorplan_and_core():
    assert loaded_after("import lorplan, lorplan.core") == []


def test_every_recommend_module():
    """The recommender's arithmetic (prior, knee, curves, ladder, fit) is pure: the TUI shows it at once."""
    import lorplan.recommend

    mods = [info.name for info in pkgutil.walk_packages(lorplan.recommend.__path__, "lorplan.recommend.")]
    assert "lorplan.recommend.knee" in mods and "lorplan.recommend.capacity" in mods
    assert loaded_after("\n".join(f"import {m}" for m in ["lorplan.recommend", *mods])) == []


def test_every_core_module():
    mods = core_modules()
    assert "lorplan.core.model.spec" in mods and "lorplan.core.gpu" in mods
    assert loaded_after("\n".join(f"import {m}" for m in mods)) == []


def test_help_and_plan_stay_light():
    code = (
        "import io, contextlib\n"
        "from lorplan.cli import main, build_parser\n"
        "build_parser().format_help()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['plan', '--model', 'HuggingFaceTB/SmolLM2-135M-Instruct', '--json'])\n"
        "    main(['models', '--json'])\n"
        "    main(['gpus', '--json'])\n"
    )
    assert loaded_after(code) == []


def test_help_lists_commands():
    proc = subprocess.run([sys.executable, "-m", "lorplan", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for cmd in ("models", "gpus", "plan"):
        assert cmd in proc.stdout
