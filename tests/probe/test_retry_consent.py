"""Retrying an ended probe of a run that asks for its model's own code, without the user's consent: refused, in
one line that names what works. It said "start again only from a command given --trust-remote-code", which
names no command: the TUI's retry key passes no flag, there is no `lorplan probe retry`, and `lorplan probe
status RUN --trust-remote-code` restarts only queued probes, never an ended one."""

from __future__ import annotations

import pytest

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.consent import RemoteCodeRefused
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.probe.status import run_status


class NoSpawnBackend(LocalProcessBackend):
    """The local backend minus the scheduler's launch (a test boundary): records submit calls."""

    def __init__(self, trust_remote_code: bool = False) -> None:
        super().__init__(trust_remote_code)
        self.submitted: list[str] = []

    def submit(self, run) -> None:
        self.submitted.append(run.id)


def _failed_run(state_home):
    run = create_run(runner.make_plan((4,), steps=10, device="cpu", model="/models/remote-code-model",
                                      trust_remote_code=True), state_home)
    atomic_write_json(run.proc_path("r4"), {"pid": 999999, "pgid": 999999, "device": "cpu", "slot": 0})
    atomic_write_json(run.result_path("r4"), {"state": "failed", "step": 2, "traceback": "Boom"})
    return run


def test_retry_without_consent_names_a_command_that_works(state_home, capsys):
    run = _failed_run(state_home)
    backend = NoSpawnBackend()
    with pytest.raises(RemoteCodeRefused) as refused:
        runner.retry(run, "r4", backend=backend)
    line = str(refused.value)
    assert "\n" not in line and f"run {run.id}" in line and "/models/remote-code-model" in line
    assert "probe r4 cannot be queued again" in line
    assert "`lorplan probe start --model /models/remote-code-model ... --trust-remote-code`" in line
    assert "only from a command given" not in line
    assert backend.submitted == [] and runner.attempts(run, "r4") == 0  # nothing moved

    # what the old line pointed at does not take an ended probe up again: `probe status` with the flag
    assert main(["probe", "status", run.id, "--trust-remote-code"]) == 0
    capsys.readouterr()
    assert run_status(run).probes[0].state == "failed" and runner.attempts(run, "r4") == 0

    trusted = NoSpawnBackend(trust_remote_code=True)  # with the consent the retry goes ahead
    runner.retry(run, "r4", backend=trusted)
    assert trusted.submitted == [run.id] and run_status(run).probes[0].state == "queued"


def test_retry_without_submit_queues_and_starts_nothing(state_home):
    run = _failed_run(state_home)
    backend = NoSpawnBackend(trust_remote_code=True)
    runner.retry(run, "r4", backend=backend, submit=False)
    assert backend.submitted == [] and run_status(run).probes[0].state == "queued"
