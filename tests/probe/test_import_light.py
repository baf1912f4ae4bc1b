"""The probe side the CLI, the TUI and the scheduler use never loads torch, transformers or peft."""

from __future__ import annotations

import json
import subprocess
import sys

LIGHT = ("lorplan.probe", "lorplan.probe.runs", "lorplan.probe.events", "lorplan.probe.status",
         "lorplan.probe.backend", "lorplan.probe.scheduler", "lorplan.probe.runner", "lorplan.probe.demo",
         "lorplan.probe.plans",
         "lorplan.cli.probe", "lorplan.tui.panels.probes_panel")


def test_light_modules_do_not_import_torch():
    code = "\n".join(f"import {m}" for m in LIGHT)
    code += "\nimport sys, json\nprint(json.dumps([m for m in ('torch', 'transformers', 'peft') if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
