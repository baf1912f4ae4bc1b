"""A probe's first step trains at the schedule's warmup rate, 0: its step event says lr 0.0, and `lorplan probe
status` read that as a damaged field ('an event of type 'step' read as missing: lr 0.0 (not a positive number)'),
one warning per probe on every status, wait and re-attach (real probe processes on a tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

from lorplan.cli import main
from lorplan.probe.result import checked_fields
from lorplan.probe.runs import RunDir


def test_a_warmup_step_at_rate_0_reads_without_a_warning(state_home, capsys, tiny_llama, tmp_path):
    data = tmp_path / "pc.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(30)))
    assert main(["probe", "start", "--model", str(tiny_llama), "--data", str(data), "--ranks", "4", "--steps", "2",
                 "--device", "cpu", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    run = RunDir(Path(started["path"]))
    assert main(["probe", "wait", run.id, "--json"]) == 0
    capsys.readouterr()
    (probe,) = run.plan().probes
    steps = [json.loads(line) for line in run.events_path(probe.id).read_text().splitlines()]
    steps = [e for e in steps if e.get("type") == "step"]
    assert steps[0]["lr"] == 0.0 and steps[-1]["lr"] > 0  # the warmup step, then the planned rate
    assert main(["probe", "status", run.id]) == 0
    got = capsys.readouterr()
    assert "finished" in got.out and "warning" not in got.err and "read as missing" not in got.err
    # a rate that is no rate still reads as missing
    assert checked_fields({"lr": -0.001})[1] == ["lr -0.001 (not a number of at least 0)"]
    assert checked_fields({"lr": 0.0}) == ({"lr": 0.0}, [])
