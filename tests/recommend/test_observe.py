"""The ladder's view of its run (recommend.observe.RunObserver) follows the probes its driver adds with one
status reader. Before: each pass made a new RunWatcher, which read every probe's event log again from the
start, and observe read plan.json apart from the watcher (a plan rewritten between the two reads named probes
the other did not have)."""

from __future__ import annotations

from lorplan.probe import runner, status
from lorplan.probe.events import append_event
from lorplan.probe.runs import ProbeSpec, add_probes, atomic_write_json, create_run
from lorplan.recommend.observe import RunObserver


def _finished(run, pid, losses):
    for step, loss in losses:
        append_event(run.events_path(pid), {"type": "eval", "step": step, "eval_loss": loss})
    atomic_write_json(run.result_path(pid), {"state": "finished", "step": losses[-1][0], "eval_loss": losses[-1][1]})


def test_added_probes_are_observed_with_the_same_reader(state_home, monkeypatch):
    made = []

    class CountedWatcher(status.RunWatcher):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(status, "RunWatcher", CountedWatcher)
    run = create_run(runner.make_plan((0, 4), steps=20, device="cpu", run="20261205-050000-aaaa"), state_home)
    _finished(run, "r0", [(0, 3.0), (20, 3.0)])
    _finished(run, "r4", [(0, 3.0), (10, 2.6), (20, 2.4)])
    observer = RunObserver(run, default_lr=1e-3)
    first = observer.observe()
    assert [(o.id, o.state, o.curve) for o in first] == [("r0", "finished", ((0, 3.0), (20, 3.0))),
                                                          ("r4", "finished", ((0, 3.0), (10, 2.6), (20, 2.4)))]
    assert add_probes(run, [ProbeSpec("r16-s1", 16, 3e-3, 1)]) == ["r16-s1"]  # the driver's next pass
    second = observer.observe()
    assert [o.id for o in second] == ["r0", "r4", "r16-s1"]
    added = second[2]
    assert (added.rank, added.lr, added.seed, added.state, added.curve) == (16, 3e-3, 1, "queued", ())
    assert second[:2] == first  # the logs read before were not read again (nor their points doubled)
    assert len(made) == 1
