"""Starting a probe ladder from the Recommend tab looks the model up on disk once.

recommend_bridge.start_ladder resolved the plan's model three times (probe_blocker, the run's published name,
the probes' plan) and data_ladder a fourth: for a hub id each lookup walks the Hugging Face cache (refs/main, the
snapshots). It now resolves once and passes the ModelSource on. Counted with a real side effect: the opens of the
cached model's refs/main file, seen by an audit hook in a child Python (nothing is replaced or mocked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from model_builders import tiny_llama

# What both child scripts do first: the plan and the profiled data of the tab (argv: model, data, then each
# script's own), an audit hook counting the opens of a refs/main file, and `once`: the opens of one lookup.
SETUP = r"""
import json, sys
from lorplan.tui import bridge, recommend_bridge
from lorplan.tui.state import PlanData, PlanSnapshot

model, data_path = sys.argv[1:3]
spec = bridge.load_spec(model)
setup = bridge.training_setup(targets=("q_proj", "v_proj"), dora=False, seq_len=64)
snapshot = PlanSnapshot(model, spec, setup, 8, bridge.rank_table(spec, setup, None))
profile = bridge.profile_dataset(data_path, model=model, schema=None, seq_len=64, mask=True,
                                 progress=lambda *args: None)
data = PlanData(path=data_path, schema=profile.schema, train_on="completion", eval_split=0.1, profile=profile)

opened = []
sys.addaudithook(lambda event, args: opened.append(args[0]) if event == "open" and
                 str(args[0]).endswith("refs/main") else None)
bridge.model_source(model)
once = len(opened)
"""

SCRIPT = SETUP + r"""
from pathlib import Path
from lorplan.core.errors import BadInput

runs = sys.argv[3]
opened.clear()
said = None
for budget in (0.001, None):  # too short for one probe (BadInput after the prior), then the whole start
    try:
        recommend_bridge.start_ladder(snapshot, data, runs_dir=Path(runs), budget_minutes=budget, probe_steps=2)
    except BadInput as exc:
        said = str(exc)
    print(json.dumps({"once": once, "opened": len(opened), "said": said}), flush=True)
    opened.clear()
    said = None
"""


def test_a_ladder_started_from_the_tab_looks_the_model_up_once(tmp_path, state_home):
    hub = tmp_path / "hub"
    repo = hub / "models--tiny--llama"
    tiny_llama(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    data = tmp_path / "sums.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Question {i}: what is {i} plus {i}?",
                                        "completion": f" It is {2 * i}."}) + "\n" for i in range(150)))
    env = {**os.environ, "HF_HUB_CACHE": str(hub)}  # state_home's XDG_STATE_HOME: the fixture reaps the ladder
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "tiny/llama", str(data), str(state_home)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    short, started = (json.loads(line) for line in proc.stdout.splitlines())
    assert short["once"] >= 1  # one lookup of a cached hub id reads its refs/main
    assert short["said"].startswith("No probe ladder: "), short  # refused as before, after the lookup
    assert short["opened"] == short["once"], short  # was three lookups
    assert started["said"] is None and started["opened"] == started["once"], started  # was four
    (run,) = (spec.parent for spec in state_home.glob("*/ladder.json"))
    assert json.loads((run / "ladder.json").read_text())["spec_source"] == str(repo / "snapshots" / "abc123")
    assert json.loads((run / "plan.json").read_text())["model"] == "tiny/llama"  # the published name


STEPS_SCRIPT = SETUP + r"""
from dataclasses import replace

folder = sys.argv[3]

def count(calls):
    opened.clear()
    steps = [call() for call in calls]
    return {"opened": len(opened), "steps": steps}

# the steps field typed into and the plan changed (another rank), the model field the same
typed = [(snapshot, None), (snapshot, 1), (snapshot, 12), (replace(snapshot, rank=16), 12), (snapshot, 500)]
names = recommend_bridge.ModelNames()
out = {"once": once,
       "without": count([lambda p=p, a=a: recommend_bridge.probe_steps(p, data, a) for p, a in typed]),
       "with": count([lambda p=p, a=a: recommend_bridge.probe_steps(p, data, a, names=names) for p, a in typed])}
# the model field changed to the model's folder and back: the hub id is looked up again, once
moved = replace(snapshot, source=folder)
out["changed"] = count([lambda p=p: recommend_bridge.probe_steps(p, data, 12, names=names)
                        for p in (moved, moved, snapshot, snapshot)])
print(json.dumps(out), flush=True)
"""


def test_the_steps_note_looks_the_model_up_once_per_model_field(tmp_path):
    """recommend_bridge.probe_steps runs each time the Recommend tab's steps field is typed into or the plan
    changes, and each call looked the model up on disk (for a hub id a walk of the Hugging Face cache: its
    refs/main opened each time). With the tab's ModelNames the lookup is made once per model field and made again
    when the model field changes. Counted as above, in a child Python; the steps are the same either way."""
    hub = tmp_path / "hub"
    repo = hub / "models--tiny--llama"
    snapshot = repo / "snapshots" / "abc123"
    tiny_llama(snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    data = tmp_path / "sums.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Question {i}: what is {i} plus {i}?",
                                        "completion": f" It is {2 * i}."}) + "\n" for i in range(150)))
    env = {**os.environ, "HF_HUB_CACHE": str(hub)}
    proc = subprocess.run([sys.executable, "-c", STEPS_SCRIPT, "tiny/llama", str(data), str(snapshot)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    once = out["once"]
    assert once >= 1  # one lookup of a cached hub id reads its refs/main
    assert out["without"]["opened"] == 5 * once  # the before: a lookup per call
    assert out["with"]["opened"] == once, out  # one lookup for the five
    assert out["with"]["steps"] == out["without"]["steps"]  # the same answers
    assert out["with"]["steps"][1][0] == 1 and out["with"]["steps"][2][0] == 12  # the steps typed were used
    assert out["changed"]["opened"] == once, out  # the folder needs no cache walk; back to the hub id: once
