"""What `lorplan probe status` and `wait` show of a run prepared on disk: the newest run by default for both,
training and loading time apart, the ranks compared (with 95% intervals over seeds), and a stalled run's
scheduler restarted by status itself."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import statistics
import threading
import time

from lorplan.cli import main
from lorplan.probe import runner
from lorplan.probe.backend import LocalProcessBackend
from lorplan.probe.compare import T975, t_interval
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run


def _finish(run, pid, *, eval_loss, acc, load=4.0, train=2.5, peak=100 * 2**20, steps=10):
    append_event(run.events_path(pid), {"type": "loading", "pid": 1})
    append_event(run.events_path(pid), {"type": "started", "load_seconds": load, "device": "cpu"})
    for s in range(1, steps + 1):
        append_event(run.events_path(pid), {"type": "step", "step": s, "loss": 1.0, "tokens_per_second": 50.0,
                                            "seconds": train / steps})
    atomic_write_json(run.result_path(pid), {
        "state": "finished", "step": steps, "eval_loss": eval_loss, "eval_accuracy": acc,
        "tokens_per_second": 50.0, "peak_memory_bytes": peak, "wall_seconds": load + train + 0.5,
        "load_seconds": load, "train_seconds": train})


def test_wait_defaults_to_the_newest_run_as_status_does(state_home, capsys):
    old = create_run(runner.make_plan((4,), steps=10, device="cpu", run="20260101-000000-aaaa"), state_home)
    new = create_run(runner.make_plan((8,), steps=10, device="cpu", run="20260102-000000-bbbb"), state_home)
    _finish(old, "r4", eval_loss=0.5, acc=0.8)
    _finish(new, "r8", eval_loss=0.4, acc=0.9)
    assert main(["probe", "wait", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == new.id
    assert main(["probe", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == new.id


def test_status_shows_loading_and_training_time_apart(state_home, capsys):
    run = create_run(runner.make_plan((4,), steps=10, device="cpu"), state_home)
    _finish(run, "r4", eval_loss=0.5, acc=0.8, load=9.5, train=2.5)
    assert main(["probe", "status", run.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[1].split()
    row = dict(zip(header[:2] + ["step", "loss", "eval", "acc", "tok/s", "load", "train", "peak"],
                   lines[2].split(), strict=False))
    assert "load s" in lines[1] and "train s" in lines[1] and " time " not in lines[1]
    assert (row["load"], row["train"]) == ("9.5", "2.5")
    assert main(["probe", "status", run.id, "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)["probes"][0]
    assert (probe["load_seconds"], probe["train_seconds"], probe["wall_seconds"]) == (9.5, 2.5, 12.5)


def test_status_writes_peak_memory_as_the_planner_does(state_home, capsys):
    """One probe's memory reads the same everywhere: `probe status` wrote "400.00 MiB" and "1600.00 MiB" where
    the Probes tab wrote "400 MiB" and "1.56 GiB" (core.units.memory_text), in the probe table and by rank."""
    run = create_run(runner.make_plan((4, 16), steps=10, device="cpu"), state_home)
    _finish(run, "r4", eval_loss=0.5, acc=0.8, peak=400 * 2**20)
    _finish(run, "r16", eval_loss=0.4, acc=0.9, peak=1600 * 2**20)
    assert main(["probe", "status", run.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_rank = lines.index("by rank:")
    probes = {ln.split()[0]: ln for ln in lines[:by_rank] if ln.startswith("r")}
    ranks = {ln.split()[0]: ln for ln in lines[by_rank + 2:] if ln.strip()}
    assert probes["r4"].endswith(" 400 MiB") and probes["r16"].endswith(" 1.56 GiB"), probes
    assert ranks["4"].endswith(" 400 MiB") and ranks["16"].endswith(" 1.56 GiB"), ranks
    assert main(["probe", "status", run.id, "--json"]) == 0  # the numbers stay bytes
    peaks = [p["peak_memory_bytes"] for p in json.loads(capsys.readouterr().out)["probes"]]
    assert peaks == [400 * 2**20, 1600 * 2**20]


def test_a_running_probe_reports_load_seconds_and_its_steps_time(state_home):
    run = create_run(runner.make_plan((4,), steps=10, device="cpu"), state_home)
    append_event(run.events_path("r4"), {"type": "started", "load_seconds": 7.25})
    for s in (1, 2, 3):
        append_event(run.events_path("r4"), {"type": "step", "step": s, "loss": 1.0, "seconds": 0.5})
    atomic_write_json(run.proc_path("r4"), {"pid": 1, "pgid": 1, "slot": 0})
    p = runner.status(run).probes[0]  # launched, no lock: died at step 3, with its times so far
    assert (p.state, p.load_seconds, p.train_seconds) == ("died", 7.25, 1.5)


def test_ranks_compared_with_intervals_over_seeds(state_home, capsys):
    run = create_run(runner.make_plan((4, 16), seeds=(0, 1, 2), steps=10, device="cpu"), state_home)
    assert [p.id for p in run.plan().probes] == ["r4-s0", "r4-s1", "r4-s2", "r16-s0", "r16-s1", "r16-s2"]
    assert [p.seed for p in run.plan().probes] == [0, 1, 2, 0, 1, 2]
    losses = {4: [0.50, 0.56, 0.47], 16: [0.30, 0.31, 0.35]}
    for rank, values in losses.items():
        for seed, loss in enumerate(values):
            _finish(run, f"r{rank}-s{seed}", eval_loss=loss, acc=0.9 - loss / 10, train=1.0 + seed,
                    peak=(rank + seed) * 2**20)
    assert main(["probe", "status", run.id, "--json"]) == 0
    ranks = {r["rank"]: r for r in json.loads(capsys.readouterr().out)["ranks"]}
    for rank, values in losses.items():
        mean = statistics.fmean(values)
        half = T975[1] * statistics.stdev(values) / math.sqrt(3)  # t(0.975, 2) = 4.303
        r = ranks[rank]
        assert r["seeds"] == 3 and r["probes"] == [f"r{rank}-s{s}" for s in range(3)]
        assert math.isclose(r["eval_loss"], mean)
        assert [round(x, 4) for x in r["eval_loss_interval"]] == [round(mean - half, 4), round(mean + half, 4)]
        assert math.isclose(r["train_seconds"], 2.0) and r["peak_memory_bytes"] == (rank + 2) * 2**20
    assert main(["probe", "status", run.id]) == 0
    text = capsys.readouterr().out
    assert "by rank (mean [95% interval] over seeds):" in text
    r4 = next(line for line in text.splitlines() if line.strip().startswith("4 ") and "[" in line)
    lo, hi = t_interval(losses[4])
    assert f"{statistics.fmean(losses[4]):.4f} [{lo:.4f}, {hi:.4f}]" in r4


def test_one_seed_has_no_interval_and_unfinished_probes_are_left_out(state_home, capsys):
    run = create_run(runner.make_plan((4, 8), steps=10, device="cpu"), state_home)
    _finish(run, "r4", eval_loss=0.5, acc=0.75)
    assert main(["probe", "status", run.id, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["ranks"]
    assert (row["rank"], row["seeds"], row["eval_loss_interval"], row["eval_accuracy"]) == (4, 1, None, 0.75)


def test_status_restarts_a_stalled_scheduler_after_the_grace_time(state_home, capsys):
    run = runner.start(runner.make_plan((4,), steps=2, micro_batch=4, eval_every=2, eval_examples=8,
                                        device="cpu"), state_home)
    backend = LocalProcessBackend()
    try:
        deadline = time.monotonic() + 60
        while not (run.proc_path("r4").exists() or backend.scheduler_alive(run)) and time.monotonic() < deadline:
            time.sleep(0.1)
        runner.cancel(run)  # the first scheduler ends once nothing is queued
        while backend.scheduler_alive(run) and time.monotonic() < deadline:
            time.sleep(0.1)
        # queue the probe again, as if its scheduler had been killed before launching it
        runner_retry_without_submit(run, "r4")
        assert runner.status(run).stalled
        os.utime(run.scheduler_log)  # a scheduler was asked for just now: status leaves it to start
        assert main(["probe", "status", run.id]) == 0
        out = capsys.readouterr()
        assert "scheduler stopped" in out.out and "started a new one" not in out.err
        past = time.time() - 60
        os.utime(run.scheduler_log, (past, past))
        assert main(["probe", "status", run.id]) == 0
        out = capsys.readouterr()
        assert "scheduler restarted" in out.out
        assert "the run's scheduler had stopped with 1 probe queued: started a new one" in out.err
        while not (run.proc_path("r4").exists() or backend.scheduler_alive(run)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run.proc_path("r4").exists() or backend.scheduler_alive(run)
    finally:
        runner.cancel(run)


def runner_retry_without_submit(run, probe_id):
    """Move the probe's files aside so it is queued again (what runner.retry does before it submits)."""
    pdir = run.probe_dir(probe_id)
    dest = pdir / "attempt-1"
    dest.mkdir()
    for name in ("events.jsonl", "result.json", "proc.json", "cancel", "stdout.log", "stderr.log"):
        if (pdir / name).exists():
            (pdir / name).rename(dest / name)


def test_status_prints_each_note_once_naming_the_probes_when_not_all_gave_it(state_home, capsys):
    run = create_run(runner.make_plan((4, 8, 16), steps=10, device="cpu"), state_home)
    for pid in ("r4", "r8", "r16"):
        _finish(run, pid, eval_loss=0.5, acc=0.8)
    for pid, notes in (("r4", ["CPU run: quantization skipped", "seq_len 512 cut"]),
                       ("r8", ["CPU run: quantization skipped"]), ("r16", ["CPU run: quantization skipped"])):
        result = json.loads(run.result_path(pid).read_text())
        atomic_write_json(run.result_path(pid), {**result, "notes": notes})
    assert main(["probe", "status", run.id]) == 0
    notes = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("note: ")]
    assert notes == ["note: CPU run: quantization skipped", "note: seq_len 512 cut (r4)"]


def test_intervals_are_clipped_to_what_accuracy_and_loss_can_take(state_home, capsys):
    """The demo's ranks 4 and 8: accuracy 0.943 [0.849, 1.037] and eval loss 0.0601 [-0.0195, 0.1398] were
    shown; an accuracy is at most 1 and a loss at least 0 (lorplan.probe.compare)."""
    run = create_run(runner.make_plan((4, 8), seeds=(0, 1, 2), steps=10, device="cpu"), state_home)
    figures = {4: [(0.1944, 0.96), (0.2337, 0.90), (0.1355, 0.97)], 8: [(0.0873, 0.98), (0.0248, 1.0),
                                                                      (0.0683, 0.98)]}
    for rank, values in figures.items():
        for seed, (loss, acc) in enumerate(values):
            _finish(run, f"r{rank}-s{seed}", eval_loss=loss, acc=acc)
    assert main(["probe", "status", run.id]) == 0
    rows = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.strip()[:1] in ("4", "8")}
    assert "0.1879 [0.0651, 0.3107]" in rows["4"] and "0.943 [0.849, 1.000]" in rows["4"]
    assert "0.0601 [0.0000, 0.1397]" in rows["8"] and "0.987 [0.958, 1.000]" in rows["8"]
    assert main(["probe", "status", run.id, "--json"]) == 0
    ranks = {r["rank"]: r for r in json.loads(capsys.readouterr().out)["ranks"]}
    assert ranks[4]["eval_accuracy_interval"][1] == 1.0 and ranks[8]["eval_loss_interval"][0] == 0.0
    assert t_interval([0.96, 0.90, 0.97])[1] > 1  # unclipped without bounds: the statistic itself is unchanged


def _ladder_run(state_home, run_id="20261204-100000-1add"):
    """A probe ladder's run on disk after its first pass (the base and rank 4 finished), not done; no driver."""
    from dataclasses import replace

    from lorplan.probe.runs import ProbeSpec
    from lorplan.recommend.decide import probe_specs
    from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState, Pass

    plan = runner.make_plan((4,), steps=10, device="cpu", run=run_id)
    run = create_run(replace(plan, probes=(ProbeSpec("base", 0), *plan.probes)), state_home)
    spec = LadderSpec(kind="data", model="tiny", spec_source="tiny", task="causal-lm", target_modules=("q_proj",),
                      data={"task": "causal-lm", "trained_tokens": 750, "examples": 150},
                      adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0, "min_dim": 32},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=40, probe_steps=10, seeds=(0,),
                      ranks=(4, 16), max_rank=16, refine=False, extra_learning_rates=False, halving=False)
    first = Pass("first", probe_specs((0, 4), spec), (4,))
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(first,)))
    _finish(run, "base", eval_loss=2.0, acc=None)
    _finish(run, "r4", eval_loss=1.5, acc=None)
    return run, files, first


@contextlib.contextmanager
def _driver_lock(files):
    """Hold the ladder's lock as a live driver does (lorplan.recommend.driver.drive), so driver_alive is True."""
    fd = os.open(files.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_a_ladder_run_names_its_base_and_where_its_recommendation_is(state_home, capsys):
    """A probe ladder's run (lorplan recommend, the Recommend tab) is a probe run too, so `lorplan probe list`,
    `status` and `wait` show it; its rank 0 is the base (no adapter), named `base`, and they say that the
    ladder's driver adds probes as passes end and that `lorplan recommend --run RUN` has the recommendation.
    A ladder whose driver is gone before it was done: `probe wait` returns once its probes ended, with exit 1."""
    from lorplan.recommend.ladder_spec import LadderState

    run, files, first = _ladder_run(state_home)
    assert main(["probe", "status", run.id]) == 0
    out = capsys.readouterr().out
    ranks = out[out.index("by rank:"):].splitlines()
    assert [line.split()[0] for line in ranks[2:4]] == ["base", "4"]
    # no driver runs here: the note says so, what does not happen without it, and the command that resumes it
    said = (f"run {run.id} is a probe ladder whose driver has stopped (the machine restarted, or its process was "
            "killed): no rank is stopped early, no budget kept and no next pass started until "
            f"`lorplan recommend --run {run.id}` starts it again")
    assert said in out.replace("\n  ", " ")
    assert main(["probe", "wait", run.id, "--timeout", "5"]) == 1  # the ladder was not done
    assert said in capsys.readouterr().out.replace("\n  ", " ")
    assert main(["probe", "list"]) == 0
    assert f"{run.id}  stopped   ladder, ranks base,4  2 finished" in capsys.readouterr().out
    files.write_state(LadderState(passes=(first,), done=True))
    assert main(["probe", "status", run.id]) == 0
    assert (f"run {run.id} is a probe ladder (done): `lorplan recommend --run {run.id}` prints its recommendation"
            in capsys.readouterr().out.replace("\n  ", " "))
    assert main(["probe", "status", run.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == run.id  # the JSON stays the run's


def test_probe_wait_on_a_ladder_waits_for_the_ladder_not_the_probes_started_so_far(state_home, capsys):
    """Every probe of the first pass has ended but the driver is alive (it is about to add the next pass):
    `probe wait` goes on waiting until the ladder is done, then exits 0; with --timeout it gives up (exit 1)
    naming the ladder."""
    from lorplan.recommend.ladder_spec import LadderState

    run, files, first = _ladder_run(state_home)
    with _driver_lock(files):
        t0 = time.monotonic()
        assert main(["probe", "wait", run.id, "--timeout", "1.5"]) == 1
        assert time.monotonic() - t0 >= 1.5
        err = capsys.readouterr().err
        assert f"run {run.id}: timed out after 1.5 s (the probe ladder is still running" in err

        def finish_later():
            time.sleep(2.0)
            files.write_state(LadderState(passes=(first,), done=True))

        thread = threading.Thread(target=finish_later)
        thread.start()
        t0 = time.monotonic()
        try:
            assert main(["probe", "wait", run.id, "--json", "--timeout", "30"]) == 0
        finally:
            thread.join()
        assert time.monotonic() - t0 >= 2.0  # not at once: the ladder was done only then
    obj = json.loads(capsys.readouterr().out)
    assert obj["run"] == run.id and obj["ladder"] == {"state": "done"}


def test_list_and_status_json_mark_a_ladder_run_with_its_state(state_home, capsys):
    """The state the text shows (running, done, stopped) is in --json too: "ladder": {"state": ...}, and
    null for a plain probe run."""
    from lorplan.recommend.ladder_spec import LadderState

    plain = create_run(runner.make_plan((8,), steps=10, device="cpu", run="20261204-090000-aaaa"), state_home)
    _finish(plain, "r8", eval_loss=0.4, acc=None)
    run, files, first = _ladder_run(state_home)

    def ladders() -> tuple[dict, dict]:
        assert main(["probe", "list", "--json"]) == 0
        rows = {r["run"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
        assert rows[plain.id]["ladder"] is None
        assert main(["probe", "status", run.id, "--json"]) == 0
        return rows[run.id]["ladder"], json.loads(capsys.readouterr().out)["ladder"]

    stopped = {"state": "stopped", "resume": f"lorplan recommend --run {run.id}"}  # what starts its driver again
    assert ladders() == (stopped, stopped)
    with _driver_lock(files):
        assert ladders() == ({"state": "running"}, {"state": "running"})
    files.write_state(LadderState(passes=(first,), done=True))
    assert ladders() == ({"state": "done"}, {"state": "done"})
    assert main(["probe", "status", plain.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ladder"] is None
