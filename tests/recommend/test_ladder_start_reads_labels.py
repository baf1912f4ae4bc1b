"""Every start of probes on a classifier's data reads its labels by `lorplan probe start`'s one rule
(lorplan.probe.runner.read_labels) and keeps them in the run folder (labels.json) for the probes.

`lorplan probe start` read a classifier's file past its 20,000-row peek, refused a late bad label in one line and
wrote labels.json (tests/probe/test_start_records_labels.py). `lorplan recommend --data` (a probe ladder), the
planner's probe ladder (Recommend tab) and the planner's probes (Probes tab) wrote no labels.json: each probe
collected the labels again, and the label rule had other copies (recommend's count_labels and check_classes; the
planner's checks read the Data tab's profile, so a file changed since it was profiled started probes that each
failed). Now each goes through read_labels: the ladder's run keeps the labels, and a late bad label (here "2.5"
in a CSV cell: not a whole number, no class label, as the JSONL number 2.5 is) is refused before anything
starts, with probe start's line.

Real CSV files of 20,050 rows in tmp_path, a real tiny BERT classifier, the real CLI and the planner's bridges;
the boundary is the launch of the scheduler (tests/ladder_folders.CountingBackend) and of the ladder's driver,
which are counted instead of run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from ladder_folders import CountingBackend

from lorplan.cli import main
from lorplan.cli import recommend as cli
from lorplan.core.errors import BadInput
from lorplan.probe import backend as probe_backend
from lorplan.probe.runs import RunDir, list_runs, recorded_labels
from lorplan.recommend import driver, launch
from lorplan.recommend.ladder import CpuLoad
from lorplan.tui import bridge, probe_bridge, recommend_bridge
from lorplan.tui.state import PlanData, PlanSnapshot

ROWS = 20_050  # beyond the start checks' 20,000-row peek
LATE = ROWS - 1
NOT_AN_ID = (f"line {LATE + 2}: label 2.5 is not a whole number; a class label is a whole number (its class id) "
             "or a name")  # the header is line 1


def _csv(path: Path, labels, rows: int = ROWS) -> Path:
    """A CSV of `rows` rows (text, label), the label of row i labels(i): as tests/probe's _rows builds JSONL."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        out.writerows([f"row {i} reads {'well' if i % 2 else 'badly'}", labels(i)] for i in range(rows))
    return path


def _late_third(i: int):
    return 2 if i == LATE else i % 2  # a class only the last row has: past the peek


def _late_bad(i: int):
    return "2.5" if i == LATE else i % 2


@pytest.fixture
def counted(monkeypatch):
    """(the scheduler launches, the driver launches) asked for: counted, nothing runs."""
    backend, drivers = CountingBackend(), []
    monkeypatch.setattr(probe_backend, "get_backend", lambda *args, **kwargs: backend)
    monkeypatch.setattr(driver, "launch_driver", lambda run, trust_remote_code=False: drivers.append(run.id))
    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(2, 4.0))  # a ladder sized as on a busy 2-core machine
    return backend, drivers


LADDER = ("--budget-minutes", "2", "--probe-steps", "4")


def _recommend(data: Path, model: Path, *flags: str) -> list[str]:
    return ["recommend", "--model", str(model), "--data", str(data), "--seq-len", "16", *flags]


def test_recommend_keeps_the_labels_it_read_for_the_ladders_probes(tiny_bert, tmp_path, state_home, counted,
                                                                   capsys, monkeypatch):
    data = _csv(tmp_path / "late.csv", _late_third)
    monkeypatch.setattr(cli, "_wait", lambda *args, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(_recommend(data, tiny_bert, *LADDER)) == 130, capsys.readouterr().err  # started; stopped waiting
    (run,) = list_runs(state_home)
    assert counted[0].launches == 1 and counted[1] == [run.id]
    recorded = json.loads(run.labels_path.read_text())
    assert recorded["labels"] == [0, 1, 2] and recorded["path"] == str(data.resolve())
    assert recorded_labels(run, run.plan().base["data"]["path"]) == {0, 1, 2}  # what its probes will read


def test_recommend_refuses_a_late_bad_label_with_probe_starts_line(tiny_bert, tmp_path, state_home, counted,
                                                                   capsys):
    data = _csv(tmp_path / "late_bad.csv", _late_bad)
    assert main(["probe", "start", "--model", str(tiny_bert), "--data", str(data), "--ranks", "4", "--steps",
                 "2"]) == 2
    started = capsys.readouterr().err
    assert started == f"lorplan probe start: error: --data {data}: {NOT_AN_ID}\n"
    for flags in (LADDER, ("--probes", "none")):
        assert main(_recommend(data, tiny_bert, *flags)) == 2
        assert capsys.readouterr().err.splitlines()[-1] == started.strip().replace("probe start", "recommend")
    assert counted[0].launches == 0 and counted[1] == [] and not list_runs(state_home)


def _tab(model: Path, path: Path) -> tuple[PlanSnapshot, PlanData]:
    spec = bridge.load_spec(str(model))
    setup = bridge.training_setup(targets=("all-linear",), dora=False, seq_len=16)
    snapshot = PlanSnapshot(str(model), spec, setup, 8, bridge.rank_table(spec, setup, None))
    profile = bridge.profile_dataset(str(path), model=str(model), schema=None, seq_len=16, mask=True,
                                     progress=lambda *args: None, classifier=True)
    return snapshot, PlanData(path=str(path), schema=profile.schema, train_on="all", eval_split=0.1,
                              profile=profile)


def test_the_planners_ladder_and_probes_keep_the_labels(tiny_bert, tmp_path, state_home, counted):
    data = _csv(tmp_path / "late.csv", _late_third)
    snapshot, tab = _tab(tiny_bert, data)
    ladder = RunDir(state_home / recommend_bridge.start_ladder(snapshot, tab, runs_dir=state_home, probe_steps=4))
    plan = bridge.plan_from_setup(snapshot, tab)
    ranks, _ = probe_bridge.check_start(plan, snapshot.rank, (4, 8), profile=tab.profile)
    probes = probe_bridge.start_plan(ranks, plan, runs_dir=state_home, backend=counted[0])
    assert counted[0].launches == 2 and counted[1] == [ladder.id]
    for run in (ladder, probes):
        assert json.loads(run.labels_path.read_text())["labels"] == [0, 1, 2]
        assert recorded_labels(run, data) == {0, 1, 2}


def test_the_planner_refuses_a_bad_label_written_after_the_profile(tiny_bert, tmp_path, state_home, counted):
    """The Data tab's profile read a good file; its last row was then rewritten with "2.5": the planner's ladder
    and probes, which checked the profile only, started runs whose every probe failed. Now refused in the
    planner's words, nothing started."""
    data = _csv(tmp_path / "changed.csv", _late_third)
    snapshot, tab = _tab(tiny_bert, data)
    plan = bridge.plan_from_setup(snapshot, tab)
    ranks, _ = probe_bridge.check_start(plan, snapshot.rank, (4, 8), profile=tab.profile)
    _csv(data, _late_bad)
    refusal = f"Dataset {data}: {NOT_AN_ID}"
    with pytest.raises(BadInput) as ladder:
        recommend_bridge.start_ladder(snapshot, tab, runs_dir=state_home, probe_steps=4)
    with pytest.raises(BadInput) as probes:
        probe_bridge.start_plan(ranks, plan, runs_dir=state_home, backend=counted[0])
    assert str(ladder.value) == str(probes.value) == refusal
    assert counted[0].launches == 0 and counted[1] == [] and not list_runs(state_home)
