"""A run folder whose files were damaged (a plan.json of the wrong shape, JSON nested deeper than the json
module recurses, a folder where result.json should be): `probe status` says which run and file in one line
(exit 2) and `probe list` still lists the other runs; each was a traceback (TypeError, RecursionError,
IsADirectoryError) that also broke `probe list` for every run."""

from __future__ import annotations

import json

import pytest

from lorplan.cli import main
from lorplan.probe.runs import ProbeSpec, RunPlan, create_run, probe_id_for


def _run(root, run_id: str):
    plan = RunPlan(run=run_id, created=0.0, probes=(ProbeSpec(probe_id_for(8), 8),))
    return create_run(plan, root)


@pytest.mark.parametrize(("content", "says"), [
    ('{"run": "R", "created": 0, "probes": "r8"}', "plan.json is not a probe run's plan"),
    ('{"run": "R", "created": 0, "probes": [{"id": "r8", "rank": "8"}]}', "plan.json is not a probe run's plan"),
    ('{"run": "R", "created": 0, "probes": [], "targets": 5}', "plan.json is not a probe run's plan"),
    ("[" * 100_000 + "]" * 100_000, "is missing or unreadable"),
], ids=["probes-a-string", "rank-a-string", "targets-a-number", "deep"])
def test_a_damaged_plan_json_is_one_line_and_list_goes_on(state_home, capsys, content, says):
    good = _run(state_home, "20200101-000000-good")
    bad = _run(state_home, "20200101-000001-bad")
    bad.plan_path.write_text(content)
    rc = main(["probe", "status", bad.id])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert f"run {bad.id}: " in err and says in err, err
    assert main(["probe", "list", "--json"]) == 0
    listed = [r["run"] for r in json.loads(capsys.readouterr().out)["runs"]]
    assert good.id in listed


def test_a_folder_or_deep_json_for_result_json_reads_as_no_result(state_home, capsys):
    run = _run(state_home, "20200101-000002-res")
    run.probe_dir("r8").mkdir(parents=True, exist_ok=True)
    run.result_path("r8").mkdir()
    (run.probe_dir("r8") / "proc.json").write_text("[" * 100_000)
    assert main(["probe", "status", run.id, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["state"] for p in out["probes"]] == ["died"]


def test_an_event_line_nested_too_deeply_is_skipped(tmp_path):
    # a RecursionError from json.loads ended `probe status` (and the TUI's refresh) in a traceback
    from lorplan.probe.events import EventTail

    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "step", "step": 1}\n' + "[" * 100_000 + "\n")
    tail = EventTail(path)
    assert [e["step"] for e in tail.poll(final=True)] == [1]
    assert len(tail.problems) == 1 and "ignored a corrupt event line" in tail.problems[0]
