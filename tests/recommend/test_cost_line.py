"""The ladder's cost line says what its figure is: each probe's time summed over the probes ("probe time"), not
wall time, which with several probes at a time is less; the wall time is given beside it when the command that
started the ladder measured it, else how many probes ran at a time."""

from __future__ import annotations

import json
import re
import time

import pytest
from test_ladder_table import demo_like

from lorplan.cli import main
from lorplan.recommend.table import cost_text, render_ladder


def test_the_cost_is_probe_time_with_the_wall_time_and_probes_at_a_time_when_known():
    assert cost_text(133.4, parallel=2, wall_seconds=87.2) == "probes cost 133 s of probe time (87 s of wall time, 2 at a time)"
    assert cost_text(133.4, parallel=1, wall_seconds=140.0) == "probes cost 133 s of probe time (140 s of wall time)"
    assert cost_text(133.4, parallel=2) == "probes cost 133 s of probe time (summed over probes, 2 at a time)"
    assert cost_text(133.4, parallel=1) == "probes cost 133 s of probe time (one probe at a time)"
    assert cost_text(1234.0) == "probes cost 1,234 s of probe time (summed over probes)"


def test_the_ladder_text_never_calls_the_summed_probe_time_wall_time():
    obj = demo_like()  # 15 probes of 20 s each
    assert obj["cost_seconds"] == 300
    line = render_ladder(obj).splitlines()[4]
    assert line.startswith("  learning rate") and line.endswith("probes cost 300 s of probe time (summed over probes)")
    line = render_ladder(obj, parallel=2, wall_seconds=161.0).splitlines()[4]
    assert line.endswith("probes cost 300 s of probe time (161 s of wall time, 2 at a time)")


def recommend(capsys, *argv):
    rc = main(["recommend", *argv])
    return rc, capsys.readouterr()


@pytest.mark.slow
def test_a_ladder_run_prints_its_wall_time_and_a_reattach_how_many_ran_at_once(state_home, tiny_bert, cls_data,
                                                                                capsys, monkeypatch):
    # the cost line is the same for any ladder: a loaded CPU (load 20 on 2 cores: probes of about 64 s by the
    # estimate) makes the 4-minute budget buy one pass of 3 probes, the base and ranks 1, 4 (the fewest a ladder
    # starts with; an idle one buys 12 in four passes, about 2 minutes of CI time; each probe costs ~6 s of
    # process start and load); the probes themselves take seconds, far inside the budget
    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad

    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(2, 20.0))
    t0 = time.monotonic()
    rc, cap = recommend(capsys, "--model", str(tiny_bert), "--data", str(cls_data), "--budget-minutes", "4")
    elapsed = time.monotonic() - t0
    assert rc == 0, cap.err
    found = re.search(r"probes cost ([\d,]+) s of probe time \(([\d,]+) s of wall time(, \d+ at a time)?\)", cap.out)
    assert found, cap.out
    probe_s, wall_s = (float(found.group(i).replace(",", "")) for i in (1, 2))
    assert 0 < wall_s <= elapsed + 0.5, (wall_s, elapsed)
    run_id = re.search(r"probe ladder (\S+):", cap.err).group(1)
    rc, cap = recommend(capsys, "--run", run_id, "--json")
    assert rc == 0, cap.err
    obj = json.loads(cap.out)
    assert probe_s == pytest.approx(obj["cost_seconds"], abs=0.5)
    assert [p["rank"] for p in obj["probes"]] == [0, 4, 1]  # the one pass the budget bought
    assert obj["cost_seconds"] == pytest.approx(sum(p["wall_seconds"] or 0 for p in obj["probes"]), abs=0.01)
    rc, cap = recommend(capsys, "--run", run_id)  # re-attached: the wall time is not known, the parallelism is
    assert rc == 0, cap.err
    assert re.search(r"probes cost [\d,]+ s of probe time \((one probe at a time|summed over probes, \d+ at a "
                     r"time)\)", cap.out), cap.out
    assert "of wall time" not in cap.out


def test_the_demo_ladder_records_the_probes_it_runs_at_a_time():
    # the demo's run plan runs max_parallel probes at once (one per core on a CPU); its LadderSpec said 1, so the
    # finished demo's cost line left out "2 at a time" and `--run DEMO` said "one probe at a time"
    from lorplan.probe.backend import device_slots
    from lorplan.probe.demo import demo_examples
    from lorplan.recommend.launch import demo_ladder

    ladder = demo_ladder(demo_examples())
    slots = device_slots(ladder.plan.device, ladder.plan.max_parallel)  # what the scheduler starts (scheduler.py)
    assert ladder.spec.parallel == len(slots)
