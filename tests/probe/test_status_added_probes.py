"""RunWatcher follows a run whose plan grows: a probe ladder's driver adds probes to plan.json as its passes
start (lorplan.probe.runs.add_probes), and a watcher made before that read the plan only once (the Probes tab
stayed on the first pass's probes until the app was opened again)."""

from __future__ import annotations

from dataclasses import replace

from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.events import append_event
from lorplan.probe.runs import ProbeSpec, add_probes, atomic_write_json, create_run
from lorplan.probe.status import RunWatcher


class NoSpawnBackend(LocalProcessBackend):
    """The local backend minus the process launch (a test boundary)."""

    def submit(self, run):
        pass


def _finished(run, pid, eval_loss):
    atomic_write_json(run.proc_path(pid), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    for s in range(1, 4):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": eval_loss + 0.1, "seconds": 0.1})
    atomic_write_json(run.result_path(pid), {"state": "finished", "step": 3, "eval_loss": eval_loss})


def test_a_watcher_shows_probes_added_to_the_plan_after_it_read_it(state_home):
    plan = runner.make_plan((16,), seeds=(0, 1, 2), steps=3, device="cpu")
    run = create_run(replace(plan, probes=(ProbeSpec("base", 0), *plan.probes)), state_home)
    for pid in ("base", "r16-s0", "r16-s1", "r16-s2"):
        _finished(run, pid, 0.5)
    watcher = RunWatcher(run, NoSpawnBackend())
    first = watcher.refresh()
    assert [p.rank for p in first.probes] == [0, 16, 16, 16] and first.done

    # the driver's next pass, as lorplan.recommend.driver adds it (driver._specs -> runs.add_probes)
    later = [ProbeSpec(f"r{r}-s0", r, None, 0) for r in (1, 4, 64, 256)]
    assert add_probes(run, later) == ["r1-s0", "r4-s0", "r64-s0", "r256-s0"]
    st = watcher.refresh()
    assert [p.rank for p in st.probes] == [0, 16, 16, 16, 1, 4, 64, 256]
    assert st.counts() == {"finished": 4, "queued": 4} and not st.done and st.stalled
    assert [p.rank for p in st.plan.probes][-4:] == [1, 4, 64, 256]

    _finished(run, "r64-s0", 0.2)
    st = watcher.refresh()
    assert {p.id: p.state for p in st.probes}["r64-s0"] == "finished"
    assert watcher.curves["r64-s0"].steps == [1, 2, 3]  # the added probe's log is read like the others'
    assert len(watcher.curves["base"].steps) == 3  # and the first ones' readers were kept, not read twice
