"""`lorplan probe status` of a probe whose files hold a loss that is no number: a result.json an older lorplan
wrote for a diverged probe (`"eval_loss": NaN`: its json.dumps allowed it), a hand-edited one (Infinity), and an
event log whose last step and eval hold a null loss (a damaged or edited line). status --json printed `NaN` for
each, which a strict reader (jq, JavaScript) refuses. Now a result's field that is no finite number reads as
missing, with one warning line naming the file (the last eval its events hold shows, as a new worker's result of a
diverged probe keeps the last eval that measured one), and a null loss in the events shows as none (null, "-")."""

from __future__ import annotations

import json

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run


def _strict(text: str):
    """The JSON in text, refusing NaN, Infinity and -Infinity as a strict reader does."""
    def refuse(word):
        raise ValueError(f"{word} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_status_of_nan_losses_is_strict_json_and_reads_as_no_loss(state_home, capsys):
    run = create_run(runner.make_plan((4, 8, 16), steps=10, device="cpu", run="20260101-000000-nnnn"), state_home)
    for pid in ("r4", "r8", "r16"):
        atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
        append_event(run.events_path(pid), {"type": "step", "step": 1, "loss": 2.9})
        append_event(run.events_path(pid), {"type": "eval", "step": 1, "eval_loss": 2.95})
    # as an older worker wrote a diverged probe's result
    run.result_path("r4").write_text('{"state": "failed", "step": 2, "loss": 2.8, "eval_loss": NaN, "message": '
                                     '"ValueError: Out of range float values are not JSON compliant: nan"}')
    run.result_path("r8").write_text('{"state": "finished", "step": 10, "loss": NaN, "eval_loss": Infinity, '
                                     '"eval_accuracy": -Infinity}')
    append_event(run.events_path("r16"), {"type": "step", "step": 2, "loss": None})  # r16 died after these
    append_event(run.events_path("r16"), {"type": "eval", "step": 2, "eval_loss": None})

    assert main(["probe", "status", run.id, "--json"]) == 0
    out = capsys.readouterr().out
    by = {p["id"]: p for p in _strict(out)["probes"]}  # was: NaN is not JSON
    # a result's loss that is no number reads as missing, so the last eval its events hold shows, as a new
    # worker's result of a diverged probe keeps the last eval that measured one; a null loss in the events is none
    assert (by["r4"]["state"], by["r4"]["step"], by["r4"]["loss"], by["r4"]["eval_loss"]) == ("failed", 2, 2.9, 2.95)
    assert (by["r8"]["state"], by["r8"]["eval_loss"], by["r8"]["eval_accuracy"]) == ("finished", 2.95, None)
    assert (by["r16"]["state"], by["r16"]["step"], by["r16"]["loss"], by["r16"]["eval_loss"]) == ("died", 2, None, None)
    # the older worker's words for it named no loss and no cause: said as a newer worker says a diverged probe
    assert by["r4"]["message"] == ("Diverged: a loss became nan or inf: the training diverged (a lower learning "
                                   "rate may hold it) or the model's numbers overflow its dtype (the lorplan that "
                                   "ran it said: ValueError: Out of range float values are not JSON compliant: nan)")
    assert by["r4"]["warnings"] == [f"{run.result_path('r4')}: read as missing: eval_loss nan (not a finite number)"]
    assert by["r8"]["warnings"] == [f"{run.result_path('r8')}: read as missing: loss nan (not a finite number), "
                                    "eval_loss inf (not a finite number), eval_accuracy -inf (not a finite number)"]

    assert main(["probe", "status", run.id]) == 0
    text = capsys.readouterr()
    rows = {ln.split()[0]: ln.split() for ln in text.out.splitlines() if ln.startswith("r")}
    assert not any(c in ("nan", "inf", "-inf") for row in rows.values() for c in row), text.out
    assert rows["r4"][1:5] == ["failed", "2/10", "2.9000", "2.9500"], text.out
    assert rows["r16"][1:5] == ["died", "2/10", "-", "-"], text.out
    assert text.err.count("read as missing") == 2 and "eval_loss nan (not a finite number)" in text.err
