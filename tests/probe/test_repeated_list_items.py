"""`probe start --seeds 1,1` (and --ranks 8,8, --lr 1e-4,1e-4) named a value twice: --ranks and --seeds were
de-duplicated without a word, so two seeds asked for were one probe, and a repeated --lr made two probes of one id
(r4-lr0.0001 twice). Each list is now probed once per value, and a note names the repeated values and the flag."""

from __future__ import annotations

import json
from pathlib import Path

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.runs import RunDir


def test_repeated_values_are_probed_once_with_a_note_naming_the_flag(state_home, capsys):
    assert main(["probe", "start", "--ranks", "4,8,4", "--seeds", "1,1,2", "--lr", "1e-4,1e-4", "--steps", "2",
                 "--device", "cpu", "--json"]) == 0
    captured = capsys.readouterr()
    started = json.loads(captured.out)
    try:
        plan = RunDir(Path(started["path"])).plan()
        assert [(p.rank, p.lr, p.seed) for p in plan.probes] == [(4, 1e-4, 1), (4, 1e-4, 2), (8, 1e-4, 1),
                                                                   (8, 1e-4, 2)]
        assert len({p.id for p in plan.probes}) == 4
    finally:
        assert main(["probe", "cancel", started["run"]]) == 0
    notes = [line for line in captured.err.splitlines() if line.startswith("note: --")]
    assert notes == ["note: --ranks: 4 given more than once; each rank is probed once",
                     "note: --lr: 0.0001 given more than once; each rate is probed once",
                     "note: --seeds: 1 given more than once; each seed is probed once"], captured.err


def test_two_seeds_named_alike_are_one_seed():
    plan = runner.make_plan((8,), (1e-4, 1e-4), seeds=(1, 1), steps=10, device="cpu", run="20260101-000000-dddd")
    assert [(p.id, p.seed) for p in plan.probes] == [("r8", None)] and plan.seed == 1
