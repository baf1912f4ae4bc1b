"""A CPU `lorplan train` hides bitsandbytes from peft and transformers in its own process
(lorplan.train.model.hide_bitsandbytes, as a CPU probe's worker does): peft imported it at every run's start
though a CPU run uses none of it (1.1-1.4 s of CPU on 2 cores). Which checkpoints keep it is checked in
tests/probe/test_worker_bitsandbytes.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .test_train import tiny_plan

pytestmark = pytest.mark.slow

# the command as the `lorplan` script runs it (main() reads sys.argv), then what the process had imported
CHILD = """
import json, sys
from lorplan.cli import main
sys.argv = ["lorplan", "train", *sys.argv[1:]]
rc = main()
loaded = [name for name, module in sys.modules.items() if module is not None]
print(json.dumps({"rc": rc, "peft": "peft" in loaded,
                  "bitsandbytes": [name for name in loaded if name.split(".")[0] == "bitsandbytes"]}))
"""


def test_a_cpu_train_process_never_imports_bitsandbytes(tmp_path, tiny_llama):
    plan = tiny_plan(tmp_path, tiny_llama)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(plan), "--max-steps", "1", "--no-progress"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"rc": 0, "peft": True, "bitsandbytes": []}, proc.stderr
    assert (tmp_path / "out" / "adapter" / "adapter_model.safetensors").exists()


def test_a_train_run_inside_another_process_hides_nothing(tmp_path, tiny_llama, capsys):
    """Only the command's own process hides it: a caller of main(argv) (a test, a script) keeps its modules."""
    from lorplan.cli import main

    plan: Path = tiny_plan(tmp_path, tiny_llama)
    assert main(["train", str(plan), "--max-steps", "1", "--no-progress"]) == 0
    capsys.readouterr()
    assert sys.modules.get("bitsandbytes", "not imported") is not None
