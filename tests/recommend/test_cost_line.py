"""The ladder's cost line says what its figure is: each probe's time summed over the probes ("probe time"), not
wall time, which with several probes at a time is less; the wall time is given beside it when the command that
started the ladder measured it, else how many probes ran at a time."""

from __future__ import annotations

from test_ladder_table import demo_like

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


# a real ladder's cost line (its wall time, and how many ran at a time once re-attached): checked on the
# classifier ladder test_ladder_run.py runs anyway (test_classifier_ladder_compares_ranks_with_the_head_alone),
# the same ladder this file ran again, ~12 s of CI time


def test_the_demo_ladder_records_the_probes_it_runs_at_a_time():
    # the demo's run plan runs max_parallel probes at once (one per core on a CPU); its LadderSpec said 1, so the
    # finished demo's cost line left out "2 at a time" and `--run DEMO` said "one probe at a time"
    from lorplan.probe.backend import device_slots
    from lorplan.probe.demo import demo_examples
    from lorplan.recommend.launch import demo_ladder

    ladder = demo_ladder(demo_examples())
    slots = device_slots(ladder.plan.device, ladder.plan.max_parallel)  # what the scheduler starts (scheduler.py)
    assert ladder.spec.parallel == len(slots)
