"""`probe status` and `probe list` name a run's model folder by its short name (lorplan.recommend.capacity
.model_name, as the planner does): the shipped all-MiniLM-L6-v2 by its published id, not its path inside
site-packages, which made each `list` line 130 columns and wrapped the status header; a hub cache snapshot by
its hub id; another folder by its name. --json keeps the full path, which a script opens."""

from __future__ import annotations

import json

from lorplan.cli import main
from lorplan.core.model.resolve import shipped_folder
from lorplan.probe import runner
from lorplan.probe.runs import create_run


def _run(state_home, model: str, run: str):
    created = create_run(runner.make_plan((2,), steps=2, device="cpu", model=model, run=run), state_home)
    created.scheduler_log.write_text("")  # a scheduler was just asked for: status starts none (a test boundary)
    return created


def test_status_and_list_name_the_shipped_folder_by_its_id(state_home, capsys):
    folder = str(shipped_folder())
    run = _run(state_home, folder, "20261205-070000-aaaa")
    assert main(["probe", "status", run.id]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.endswith("model sentence-transformers/all-MiniLM-L6-v2") and folder not in header
    assert main(["probe", "list"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith("  sentence-transformers/all-MiniLM-L6-v2")
    assert main(["probe", "status", run.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == folder
    assert main(["probe", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["model"] == folder


def test_a_cache_snapshot_by_its_hub_id_and_a_folder_by_its_name(state_home, tmp_path, capsys):
    snapshot = str(tmp_path / "models--acme--tiny-llama" / "snapshots" / ("a" * 40))
    _run(state_home, snapshot, "20261205-070000-bbbb")
    _run(state_home, str(tmp_path / "my-model"), "20261205-070000-cccc")
    assert main(["probe", "list"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("  acme/tiny-llama") and second.endswith("  my-model")
    assert main(["probe", "status", "20261205-070000-bbbb"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("model acme/tiny-llama")
