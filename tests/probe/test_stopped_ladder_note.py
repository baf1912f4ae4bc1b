"""`probe status` and `probe wait` on a ladder whose driver is dead (a reboot, kill -9) restart at most its
scheduler: no rank is stopped early, no budget kept, no next pass started until `lorplan recommend --run RUN`
starts the driver again. They say so in one line naming that command; for a ladder that asks for its model's
own code the command carries --trust-remote-code (the driver runs only with it): the line named
`lorplan recommend --run RUN --wait` without the flag, which refuses such a ladder."""

from __future__ import annotations

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.runs import create_run
from lorplan.recommend.decide import probe_specs
from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState, Pass


def _stopped_ladder(state_home):
    """A ladder's run asking for its model's code, its first pass queued, no driver or scheduler (all killed)."""
    run = create_run(runner.make_plan((2, 4), steps=10, device="cpu", model="/models/remote-code-model",
                                      trust_remote_code=True), state_home)
    spec = LadderSpec(kind="data", model="/models/remote-code-model", spec_source="/models/remote-code-model",
                      task="causal-lm", target_modules=("q_proj",),
                      data={"task": "causal-lm", "trained_tokens": 750, "examples": 48},
                      adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0, "min_dim": 16},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=40, probe_steps=10, seeds=(0,),
                      ranks=(2, 4), max_rank=16, refine=False, extra_learning_rates=False, halving=False,
                      trust_remote_code=True)
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(Pass("first", probe_specs((2, 4), spec), (2, 4)),)))
    return run


def _note(run, command: str) -> str:
    return (f"note: run {run.id} is a probe ladder whose driver has stopped (the machine restarted, or its process "
            "was killed): no rank is stopped early, no budget kept and no next pass started until "
            f"`{command}` starts it again")


def test_status_and_wait_name_the_command_that_resumes_a_stopped_ladder(state_home, capsys):
    run = _stopped_ladder(state_home)
    resume = f"lorplan recommend --run {run.id} --trust-remote-code"

    assert main(["probe", "status", run.id]) == 0
    out, err = capsys.readouterr()
    assert _note(run, resume) in out.splitlines()  # one line
    assert f"lorplan probe status {run.id} --trust-remote-code" in err  # the refusal to restart its probes
    assert not run.scheduler_log.exists()  # nothing started

    # wait says it before waiting, not only when the probes have ended (here: refused at once, exit 2)
    assert main(["probe", "wait", run.id, "--timeout", "5"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == _note(run, resume)


def test_a_ladder_without_remote_code_names_plain_recommend(state_home, capsys):
    run = _stopped_ladder(state_home)
    spec = LadderFiles(run).spec()
    from dataclasses import replace

    LadderFiles(run).write_spec(replace(spec, trust_remote_code=False))
    plan = run.plan()
    from lorplan.probe.runs import atomic_write_json

    atomic_write_json(run.plan_path, {**plan.to_json(), "trust_remote_code": False})
    run.scheduler_log.write_text("")  # a scheduler was just asked for: status starts none (a test boundary)
    assert main(["probe", "status", run.id]) == 0
    assert _note(run, f"lorplan recommend --run {run.id}") in capsys.readouterr().out.splitlines()


def test_json_of_a_stopped_ladder_carries_the_command_that_resumes_it(state_home, capsys):
    """status/wait/list --json said only {"state": "stopped"}: a script had no way to the command the text's
    note names; "resume" carries it, with --trust-remote-code for a ladder that asks for its model's code."""
    import json

    run = _stopped_ladder(state_home)
    resume = f"lorplan recommend --run {run.id} --trust-remote-code"
    assert main(["probe", "status", run.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ladder"] == {"state": "stopped", "resume": resume}

    for probe in ("r2", "r4"):  # the probes ended (cancelled one by one): wait returns at once, the driver gone
        run.cancel_marker(probe).write_text("")
    assert main(["probe", "wait", run.id, "--json", "--timeout", "5"]) == 1
    assert json.loads(capsys.readouterr().out)["ladder"] == {"state": "stopped", "resume": resume}
    assert main(["probe", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["runs"]
    assert row["ladder"] == {"state": "stopped", "resume": resume}


def test_json_of_a_ladder_that_is_not_stopped_has_no_resume(state_home, capsys):
    import json

    run = _stopped_ladder(state_home)
    LadderFiles(run).write_state(LadderState(passes=LadderFiles(run).state().passes, done=True))
    assert main(["probe", "status", run.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ladder"] == {"state": "done"}
