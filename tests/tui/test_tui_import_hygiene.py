"""Opening the planner must not load torch, transformers or peft (a fresh interpreter proves it)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "datasets")

CHILD = """
import json, sys, asyncio
import lorplan.tui.app
after_import = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
from lorplan.tui import bridge
from lorplan.tui.app import LorplanApp

async def run():
    app = LorplanApp(gpu_source=bridge.no_gpu("test"), save_settings=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#rank-table").row_count
print(json.dumps(after_import))
asyncio.run(run())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)))
"""


def test_tui_app_and_first_screen_import_no_heavy_library(tmp_path):
    code = f"HEAVY = {HEAVY!r}\n" + CHILD
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"XDG_CONFIG_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    after_import, after_first_screen = (json.loads(line) for line in result.stdout.splitlines()[-2:])
    assert after_import == []
    assert after_first_screen == []


def test_launch_is_lazy():
    result = subprocess.run([sys.executable, "-c", "import lorplan.tui, sys; print('textual' in sys.modules)"],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False"
