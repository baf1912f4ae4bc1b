"""model_name (how notes name a model: a folder by its short name) lives in lorplan.core.model.names. The CLI's
plan, profile, probe and train commands imported it from lorplan.recommend.capacity, a re-export, which loaded the
recommender (lorplan.recommend's package and the modules it imports, 130-330 ms) for a core function whenever
`lorplan plan --data` or `lorplan profile --model` named a model in a note."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# `from lorplan.recommend.capacity import ...`, on one line or in parentheses (read as text: parsing every file
# took seconds)
FROM_CAPACITY = re.compile(r"from\s+lorplan\.recommend\.capacity\s+import\s+(\([^)]*\)|[^\n]*)")


def test_nothing_imports_model_name_from_the_recommender():
    found = []
    for folder in ("lorplan", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for m in FROM_CAPACITY.finditer(text):
                if re.search(r"\bmodel_name\b", m.group(1)):
                    found.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}")
    assert found == [], found


def test_plan_and_profile_name_the_model_without_the_recommender(tmp_path):
    """Labelled data with a causal LM: both commands say, naming the model, that its plan never sees the labels
    (the note that called model_name), in a fresh interpreter that loads no lorplan.recommend module."""
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": f"item {i}", "label": i % 2}) + "\n" for i in range(40)),
                    encoding="utf-8")
    model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    code = (
        "import io, contextlib, json, sys\n"
        "from lorplan.cli import main\n"
        "said = []\n"
        f"for argv in ({['plan', '--model', model, '--data', str(data), '--rank', '8', '--write', str(tmp_path / 'p.toml')]!r},\n"
        f"             {['profile', '--data', str(data), '--model', model]!r}):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):\n"
        "        rc = main(argv)\n"
        "    said.append([rc, err.getvalue()])\n"
        "print(json.dumps([said, sorted(m for m in sys.modules if m.startswith('lorplan.recommend'))]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    said, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert said[0][0] == 0 and f"{model} is a causal LM" in said[0][1], said[0]
    assert said[1][0] == 0, said[1]
    assert loaded == [], loaded
