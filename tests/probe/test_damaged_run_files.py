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


# The plan's problem in the user's words, naming the key: the message was Python's own ("ProbeSpec() argument
# after ** must be a mapping, not str", "TypeError: '<' not supported between instances of 'str' and 'int'").
@pytest.mark.parametrize(("content", "says"), [
    ('{"run": "R", "created": 0, "probes": "r8"}', 'not a probe run\'s plan: probes is "r8", not a list of probes'),
    ('{"run": "R", "created": 0, "probes": ["r8"]}',
     "not a probe run's plan: probes[0] is a string, not a probe (an object with an id and a rank)"),
    ('{"run": "R", "created": 0, "probes": [{"id": "r8", "rank": "8"}]}',
     'not a probe run\'s plan: probes[0].rank is "8", not a whole number'),
    ('{"run": "R", "created": 0, "probes": [{"id": "r8", "rank": -3}]}',
     "not a probe run's plan: probes[0].rank is -3, not a rank (0 for the base, else at least 1)"),
    ('{"run": "R", "created": 0, "probes": [], "targets": 5}', "not a probe run's plan: targets is 5, not a list of text"),
    ('{"run": "R", "created": 0, "probes": [], "steps": true}', "not a probe run's plan: steps is true, not a whole number"),
    ('{"created": 0, "probes": []}', "not a probe run's plan: run is missing"),
    ("[" * 100_000 + "]" * 100_000, "plan.json is missing or unreadable"),
], ids=["probes-a-string", "probe-a-string", "rank-a-string", "rank-negative", "targets-a-number", "steps-a-bool",
        "no-run", "deep"])
def test_a_damaged_plan_json_is_one_line_and_list_goes_on(state_home, capsys, content, says):
    good = _run(state_home, "20200101-000000-good")
    bad = _run(state_home, "20200101-000001-bad")
    bad.plan_path.write_text(content)
    rc = main(["probe", "status", bad.id])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert f"run {bad.id}: {bad.plan_path if 'unreadable' not in says else ''}" in err and says in err, err
    assert "argument" not in err and "Error" not in err and "--ranks" not in err, err
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


# A result.json or event whose fields have the wrong type (a string eval loss or step, a string peak memory,
# "notes": 5, a list for the whole file) was a ValueError or TypeError in `probe status`/`wait` and, through
# it, in `probe list` for every run and the TUI's Probes tab: now a wrong field reads as missing, with one
# warning naming the file, and a file that is no JSON object is a damaged result (the probe ended without one).
WRONG_FIELDS = {
    "eval-loss-text": ({"eval_loss": "x"}, "eval_loss 'x' (not a number)"),
    "step-text": ({"step": "five"}, "step 'five' (not a whole number of at least 0)"),
    "peak-text": ({"peak_memory_bytes": "lots"}, "peak_memory_bytes 'lots'"),
    "notes-number": ({"notes": 5}, "notes 5 (not a list of text)"),
    "lr-text": ({"lr": "fast"}, "lr 'fast' (not a number)"),
    "huge-int-loss": ({"eval_loss": 10**400}, "eval_loss 1000"),
}


def _finished(run, **fields) -> None:
    result = {"state": "finished", "step": 7, "eval_loss": 0.5, "eval_accuracy": 0.75, "peak_memory_bytes": 1024,
              "notes": ["a note"], "lr": 0.001}
    result.update(fields)
    run.result_path("r8").write_text(json.dumps(result))


@pytest.mark.parametrize("case", list(WRONG_FIELDS), ids=list(WRONG_FIELDS))
def test_a_wrong_typed_result_field_reads_as_missing_with_a_warning(state_home, capsys, case):
    fields, says = WRONG_FIELDS[case]
    good = _run(state_home, "20200101-000010-good")
    _finished(good)
    bad = _run(state_home, "20200101-000011-bad")
    _finished(bad, **fields)
    for cmd in (["probe", "status", bad.id, "--json"], ["probe", "wait", bad.id, "--json", "--timeout", "5"]):
        assert main(cmd) == 0
        captured = capsys.readouterr()
        probe = json.loads(captured.out)["probes"][0]
        assert probe["state"] == "finished" and "Traceback" not in captured.err
        assert len(probe["warnings"]) == 1, probe["warnings"]
        assert probe["warnings"][0].startswith(f"{bad.result_path('r8')}: read as missing: ")
        assert says in probe["warnings"][0]
        key = next(iter(fields))
        if key == "step":
            assert probe["step"] == 0  # no step event: the step the events reached
        elif key == "notes":
            assert probe["notes"] == []
        else:
            assert probe[key] is None
        others = {k: v for k, v in {"eval_loss": 0.5, "eval_accuracy": 0.75, "peak_memory_bytes": 1024}.items()
                  if k != key}
        assert {k: probe[k] for k in others} == others  # the fields that read right are kept
    assert main(["probe", "status", bad.id]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"warning: {bad.result_path('r8')}: read as missing: "), err
    assert main(["probe", "list", "--json"]) == 0
    listed = {r["run"]: r["counts"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert listed == {good.id: {"finished": 1}, bad.id: {"finished": 1}}


def test_a_wrong_state_in_result_json_reads_as_failed(state_home, capsys):
    run = _run(state_home, "20200101-000012-state")
    _finished(run, state=5)
    assert main(["probe", "status", run.id, "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)["probes"][0]
    assert probe["state"] == "failed" and "state 5 (not one of finished" in probe["warnings"][0]


@pytest.mark.parametrize(("content", "says"), [
    ("[1]", "is damaged (an array, not a JSON object)"),
    ('"done"', "is damaged (a string, not a JSON object)"),
    ("{", "is damaged (not JSON: "),
], ids=["array", "string", "cut-short"])
def test_a_result_json_that_is_no_object_is_a_damaged_result_not_a_queued_probe(state_home, capsys, content, says):
    # read as no result, a probe never launched stayed "queued": `probe wait` restarted its scheduler and hung
    run = _run(state_home, "20200101-000013-nores")
    run.result_path("r8").write_text(content)
    assert main(["probe", "wait", run.id, "--json", "--timeout", "5"]) == 1  # ended, not finished
    captured = capsys.readouterr()
    assert "timed out" not in captured.err and "scheduler" not in captured.err, captured.err
    probe = json.loads(captured.out)["probes"][0]
    assert probe["state"] == "died"
    assert probe["message"].startswith(f"ended at step 0, but its result {run.result_path('r8')} {says}")


def test_wrong_typed_event_fields_read_as_missing(state_home, capsys):
    run = _run(state_home, "20200101-000014-events")
    run.probe_dir("r8").mkdir(parents=True, exist_ok=True)
    run.proc_path("r8").write_text('{"launched": "noon", "device": 3}')
    run.events_path("r8").write_text("\n".join(json.dumps(e) for e in (
        {"type": "started", "lr": "fast", "notes": 5, "device": "cpu", "t": 1.0},
        {"type": "step", "step": 1, "loss": "x", "tokens_per_second": "many", "t": 2.0},
        {"type": "step", "step": 2, "loss": 0.5, "t": 3.0},
        {"type": "eval", "step": 2, "eval_loss": [1], "eval_accuracy": 0.5, "t": "later"},
    )) + "\n")
    assert main(["probe", "status", run.id, "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)["probes"][0]
    assert (probe["state"], probe["step"], probe["loss"], probe["eval_accuracy"]) == ("died", 2, 0.5, 0.5)
    assert probe["lr"] is None and probe["notes"] == [] and probe["device"] == "cpu"
    assert len(probe["warnings"]) == 1 and probe["warnings"][0].startswith(f"{run.events_path('r8')}: an event")


def test_the_tuis_probe_feed_reads_a_run_with_a_damaged_result(state_home):
    from lorplan.tui.probe_bridge import ProbeFeed

    run = _run(state_home, "20200101-000015-tui")
    _finished(run, eval_loss="x", notes=5, peak_memory_bytes="lots")
    read = ProbeFeed(state_home).read(run.id)
    probe = read.status.probes[0]
    assert (probe.state, probe.eval_loss, probe.notes, probe.peak_memory_bytes) == ("finished", None, (), None)
    assert [(row.rank, row.eval_accuracy) for row in read.ranks] == [(8, 0.75)]
