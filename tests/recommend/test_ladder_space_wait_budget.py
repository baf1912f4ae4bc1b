"""A ladder whose run waits for disk space (its queued probes stay queued: lorplan.probe.status.space_short) with
no probe running spent its budget all the same: the driver's clock counted the wait, so a ladder left on a full
disk for longer than its --budget-minutes cancelled every queued probe ('the 600 s budget was spent') before the
user could free space. The budget counts the time the ladder ran (test_budget_counts_running_time); a wait for
space with nothing running is not, as a machine that was down is not. The full disk is simulated at the OS
boundary: os.statvfs answers 64 KiB free, under the 128 KiB a probe needs."""

from __future__ import annotations

import time

from test_budget_counts_running_time import _ladder

from lorplan.probe.status import run_status
from lorplan.recommend.driver import Driver


def test_a_wait_for_disk_space_does_not_spend_the_budget(state_home, nearly_full, capsys):
    run, files = _ladder(state_home, started=time.time())
    driver = Driver(run)
    t0 = driver._t0
    assert driver.step(now=t0 + 10.0) is False  # the driver sees the run wait for space
    assert run_status(run).space_wait is not None
    out = capsys.readouterr().out
    assert f"run {run.id} waits for disk space" in out and "the budget's clock stops" in out, out

    assert driver.step(now=t0 + 700.0) is False  # 690 s of waiting: past the 600 s budget in wall time
    assert files.state().budget_spent is None
    assert {p.id: p.state for p in run_status(run).probes} == {"r4": "queued", "r8": "queued"}
    assert driver.ran(t0 + 700.0) == 10.0
    assert capsys.readouterr().out == ""  # said once

    nearly_full()  # space freed: the clock goes on from where it stopped
    assert driver.step(now=t0 + 710.0) is False
    assert driver.ran(t0 + 720.0) == 30.0 - 10.0
    assert files.state().budget_spent is None


def test_the_clock_counts_while_the_disk_has_room(state_home):
    run, files = _ladder(state_home, started=time.time())
    driver = Driver(run)
    t0 = driver._t0
    assert driver.step(now=t0 + 10.0) is False
    assert driver.step(now=t0 + 700.0) is True  # nothing waits for space: 700 s spend the 600 s budget
    assert files.state().budget_spent is not None


def test_recommend_run_says_the_ladder_waits_for_space(state_home, nearly_full, capsys):
    # `lorplan recommend --run RUN` on such a ladder printed its table with the probes queued and no word of why:
    # only ladder.log said it waits for disk space
    from lorplan.cli import main
    from lorplan.probe.runner import mark_driver_launched

    run, _ = _ladder(state_home, started=time.time())
    Driver(run).step()  # its recommendation.json, as the driver writes it
    mark_driver_launched(run)  # a driver on its way: --run starts none
    capsys.readouterr()
    assert main(["recommend", "--run", run.id]) == 0
    err = capsys.readouterr().err
    assert f"note: run {run.id} waits for disk space" in err and "free space there" in err, err
    # said once while it waits (a --wait polls it every 5 s), and again if it waits again after space came back
    from lorplan.cli.recommend import space_notes

    notes = space_notes()
    notes.see(run_status(run))
    notes.see(run_status(run))
    assert capsys.readouterr().err.count("waits for disk space") == 1
    nearly_full()
    notes.see(run_status(run))
    assert notes.waiting is False and capsys.readouterr().err == ""
