"""`lorplan recommend --run PREFIX` matching several runs: the line listed them ("ambiguous, matches A, B") and
said nothing of what to do; it now says to give more of the run id."""

from __future__ import annotations

from lorplan.cli import main


def test_an_ambiguous_run_prefix_says_what_to_give(state_home, capsys):
    """`--run PREFIX` matching several runs listed them and stopped there; the line now says to give more of
    the id (the runs are real folders, made by lorplan.probe.runs.create_run)."""
    import time

    from lorplan.probe.runs import ProbeSpec, RunPlan, create_run

    ids = ["20260101-000000-aaaa", "20260101-000000-bbbb"]
    for run_id in ids:
        create_run(RunPlan(run=run_id, created=time.time(), steps=10, model="m",
                           probes=(ProbeSpec("r1", 1, 1e-3, 0),)), state_home)
    prefix = "2026"
    assert all(i.startswith(prefix) for i in ids)
    rc = main(["recommend", "--run", prefix])
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == ""
    line = cap.err.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"lorplan recommend: error: --run {prefix}: ambiguous")
    assert all(i in line for i in ids) and "give more of the run id" in line, line
