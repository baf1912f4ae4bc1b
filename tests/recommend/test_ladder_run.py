"""The probe ladder end to end on CPU with real probes (transformers + peft on tiny random-weight models): the
JSON contract and recommendation.json, the base (a causal LM before training; a classifier's head alone),
halving acting through lorplan.probe.runner.cancel, re-attaching after the driver is killed, bad input."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from model_builders import tiny_llama as tiny_llama_folder
from pinned_load import lorplan_argv

from lorplan.cli import main
from lorplan.core.lora import LoraTargets, trainable_params
from lorplan.core.model import load_spec
from lorplan.probe.backend import lock_held
from lorplan.probe.events import append_event
from lorplan.probe.runs import atomic_write_json, create_run, find_run
from lorplan.recommend import measured
from lorplan.recommend.driver import Driver, price_for
from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState
from lorplan.recommend.observe import observe

CONTRACT = ("rank", "alpha", "use_rslora", "learning_rate", "target_modules", "rank_pattern", "tolerance",
            "confidence", "cost_seconds", "fits", "ladder", "evidence")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def recommend(capsys, *argv):
    rc = main(["recommend", *argv])
    return rc, capsys.readouterr()


def busy_cpu(monkeypatch, load: float) -> None:
    """Size the ladder's first pass as for a 2-core CPU at `load` (recommend.launch.cpu_load; tests/conftest.py
    makes it idle): a busy CPU makes a probe's estimate longer, so the budget buys a smaller ladder of the same
    kind. For the classifier tests, whose checks hold for any ladder: an idle CPU's ladder there is 12-16 probes
    in four passes (about 2 minutes each of CI time); the probes themselves take seconds, far inside the budget."""
    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad

    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(2, load))


def _check_done(out: dict, runs) -> dict:
    """What every finished ladder must satisfy; returns the run's recommendation.json."""
    assert all(k in out for k in CONTRACT)
    assert out["state"] == "done" and out["alpha"] == 32 and out["use_rslora"] is False
    assert out["confidence"]["low"] <= out["rank"] <= out["confidence"]["high"]
    run = find_run(out["run"], runs)
    on_disk = LadderFiles(run).recommendation()
    assert {k: v for k, v in on_disk.items() if k != "updated"} == {k: v for k, v in out.items() if k != "updated"}
    ids = [p.id for p in run.plan().probes]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(p["id"] for p in out["probes"])
    assert all(p["state"] in ("finished", "cancelled") for p in out["probes"])
    state = LadderFiles(run).state()
    names = [p.name for p in state.passes]
    # a rate_first ladder tries the rates at the reference rank first; one without starts with its ranks
    assert state.done and names[:1] == (["learning rate"] if LadderFiles(run).spec().rate_first else ["first"])
    first = next((p for p in state.passes if p.name == "first"), None)
    if first is not None and first.learning_rate is not None:  # every rank at the rate the first pass chose
        assert out["ladder_learning_rate"] == pytest.approx(first.learning_rate)
        assert all(d["lr"] == pytest.approx(first.learning_rate) for d in first.specs)
    added = [i for p in state.passes for i in p.probes]
    assert sorted(added) == sorted(ids)  # every probe came from a recorded pass, once
    return on_disk


@pytest.fixture(scope="module")
def narrow_llama(tmp_path_factory):
    """tiny_llama at hidden 8 (its value projection 4 wide, so a probe's rank stops at 4): the whole causal-LM
    ladder (rank 1 at three rates, rank 4 and its second pattern seed, the refinement at rank 2, the second seeds)
    is 9 probes where hidden 32's ranks 1, 4, 16 made it 12; each probe is mostly process start and model load."""
    return tiny_llama_folder(tmp_path_factory.mktemp("narrow") / "narrow-llama", hidden=8)


@pytest.mark.slow
def test_causal_lm_ladder_end_to_end(state_home, narrow_llama, lm_data, tmp_path, capsys):
    rc, cap = recommend(capsys, "--model", str(narrow_llama), "--data", str(lm_data), "--targets", "q_proj,v_proj",
                        "--probe-steps", "60", "--json", "--write", str(tmp_path / "plan.toml"))
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    assert out.pop("plan_file") == str(tmp_path / "plan.toml")
    _check_done(out, state_home)
    # the plan re-attaching writes from the run folder (after a dropped session) is the one this command wrote
    rc, cap2 = recommend(capsys, "--run", out["run"], "--write", str(tmp_path / "again.toml"))
    assert rc == 0, cap2.err
    assert (tmp_path / "again.toml").read_text() == (tmp_path / "plan.toml").read_text()
    assert f"--run {out['run']} --wait" in cap.err  # how to re-attach is said at the start
    # every probe trained the asked 60 steps of the planned run (one halving stops early), and the note says so
    assert {r["steps"] for r in out["ladder"] if r["state"] == "finished"} == {60}
    note = next(e for e in out["evidence"] if e["source"] == "probes")["explanation"]
    assert "each probe trains 60 steps of the planned" in note and "--probe-steps up to" in note
    # the base is the random-weight model before training: about ln(vocabulary) per token
    assert abs(out["base_loss"] - math.log(30522)) < 0.5 and out["base"]["probes"] == 1
    rows = [r for r in out["ladder"] if r["state"] == "finished"]
    assert len({r["rank"] for r in rows}) >= 2 and all(r["eval_loss"] < out["base_loss"] for r in rows)
    spec = load_spec(str(narrow_llama))
    for r in rows:  # the probes' trainable parameters are what lorplan plans for that rank, exactly
        assert r["trainable_params"] == trainable_params(spec, LoraTargets(modules=("q_proj", "v_proj")), r["rank"])
    sources = {e["source"] for e in out["evidence"]}
    assert {"ladder", "base", "probes", "capacity prior", "learning rate"} <= sources
    knee = next(e for e in out["evidence"] if e["source"] == "ladder" and e["rank"] is not None)
    assert "at least 95% of the best rank's improvement" in knee["explanation"]
    # the rank is the knee's, or the next measured rank up when the knee's noise made that one likelier to lie in
    # [knee, 2 x knee] (recommend.knee.likely_rank), which its own evidence then says
    moved = [e for e in out["evidence"] if e["source"] == "knee noise"]
    assert out["rank"] == (moved[0]["rank"] if moved else knee["rank"])
    assert knee["rank"] <= out["rank"] and out["confidence"]["low"] <= out["rank"] <= out["confidence"]["high"]
    # the learning rates were tried at the reference rank first, or the pass says why not
    passes = {p["name"]: p for p in out["passes"]}
    assert "learning rate" in passes and "refine" in passes and "first" in passes
    lr_pass = passes["learning rate"]
    if not lr_pass["skipped"]:
        assert len({r["learning_rate"] for r in out["ladder"] if r["rank"] == lr_pass["ranks"][0]}) == 3
    # one seed per probe: the last pass trains the ranks that can still be the knee again with the seed after the
    # plan's (43), or says why not
    spec_l = LadderFiles(find_run(out["run"], state_home)).spec()
    assert spec_l.ranks == (1, 4) and spec_l.max_rank == 4  # narrow_llama's ladder
    assert spec_l.second_seed == out["second_seed"] == 43 and out["seeds"] == [42]
    second = passes["second seed"]
    if second["skipped"]:
        assert any(e["explanation"].startswith("no second seed pass: ") for e in out["evidence"])
    else:
        assert second["ranks"] and all(d["seed"] == 43 and d["id"].endswith("-s1") for d in second["specs"])
        assert set(second["ranks"]) <= {r["rank"] for r in out["ladder"] if r["seed"] == 43}


@pytest.mark.slow
def test_classifier_ladder_compares_ranks_with_the_head_alone(state_home, tiny_bert, cls_data, capsys, monkeypatch):
    """A classifier's ladder as a user runs it (text), and re-attached with --json. Its cost line says what its
    figure is (test_cost_line.py): each probe's time summed over the probes ("probe time"), with the wall time
    the command that started the ladder measured, and how many probes ran at a time once re-attached."""
    import re

    # one pass of the fewest probes a ladder starts with, the base and ranks 1, 4 (each probe is ~6 s of process
    # start and load; the passes after it: the causal LM's test)
    busy_cpu(monkeypatch, 20.0)
    t0 = time.monotonic()
    rc, cap = recommend(capsys, "--model", str(tiny_bert), "--data", str(cls_data), "--budget-minutes", "4")
    elapsed = time.monotonic() - t0
    assert rc == 0, cap.err
    found = re.search(r"probes cost ([\d,]+) s of probe time \(([\d,]+) s of wall time(, \d+ at a time)?\)", cap.out)
    assert found, cap.out
    probe_s, wall_s = (float(found.group(i).replace(",", "")) for i in (1, 2))
    assert 0 < wall_s <= elapsed + 0.5, (wall_s, elapsed)
    run_id = re.search(r"probe ladder (\S+):", cap.err).group(1)
    rc, cap = recommend(capsys, "--run", run_id, "--json")
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    _check_done(out, state_home)
    assert probe_s == pytest.approx(out["cost_seconds"], abs=0.5)
    assert out["cost_seconds"] == pytest.approx(sum(p["wall_seconds"] or 0 for p in out["probes"]), abs=0.01)
    assert [p["rank"] for p in out["probes"]] == [0, 4, 1]  # the one pass the budget bought
    base = next(p for p in out["probes"] if p["rank"] == 0)
    assert base["state"] == "finished" and base["trainable_params"] == 32 * 2 + 2  # the head alone: 2 × 32 + 2
    assert base["step"] > 0 and base["eval_accuracy"] is not None
    assert out["seeds"] == [base["seed"]] == [42]  # one seed: the plan's training.seed, which the probes train with
    rows = [r for r in out["ladder"] if r["eval_loss"] is not None]
    assert rows and all(r["eval_accuracy"] is not None and r["trainable_params"] > 66 for r in rows)
    assert "head trained alone" in out["base"]["explanation"]
    assert out["learning_rate"] in {r["learning_rate"] for r in rows} and out["task"] == "sequence-classification"
    rc, cap = recommend(capsys, "--run", run_id)  # re-attached: the wall time is not known, the parallelism is
    assert rc == 0, cap.err
    assert re.search(r"probes cost [\d,]+ s of probe time \((one probe at a time|summed over probes, \d+ at a "
                     r"time)\)", cap.out), cap.out
    assert "of wall time" not in cap.out


@pytest.mark.slow
def test_a_seeded_ladder_trains_every_probe_with_each_seed(state_home, tiny_bert, cls_data, capsys, monkeypatch):
    busy_cpu(monkeypatch, 11.0)  # the base and ranks 1 and 4, each with both seeds (checked: spec.ranks)
    rc, cap = recommend(capsys, "--model", str(tiny_bert), "--data", str(cls_data), "--budget-minutes", "4",
                        "--seeds", "2", "--json")
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    _check_done(out, state_home)
    spec = LadderFiles(find_run(out["run"], state_home)).spec()
    assert len(spec.seeds) == 2 and spec.seeds[1] == spec.seeds[0] + 1 and spec.ranks == (1, 4)
    # every probe the ladder started ran with both seeds, and their ids say which
    by = {}
    for p in out["probes"]:
        if p["pattern"]:  # the pattern check: one probe beside the one-rank probe it is compared with
            assert p["id"].endswith(f"-pattern-s{spec.seeds[0]}")
            continue
        by.setdefault((p["rank"], round(p["lr"], 12)), set()).add(p["id"].rsplit("-s", 1)[1])
    assert by and all(v == {str(s) for s in spec.seeds} for v in by.values()), by
    # the per-module pattern compares the top rank's two seeds: no extra probe for it
    top = max(spec.ranks)
    assert spec.pattern_probes == (f"r{top}-s{spec.seeds[0]}", f"r{top}-s{spec.seeds[1]}")
    assert spec.pattern_seed is None
    assert spec.second_seed is None and out["second_seed"] is None  # the pass is for one-seed ladders
    probes_note = next(e for e in out["evidence"] if e["source"] == "probes")
    assert "with 2 training seeds" in probes_note["explanation"]
    knee = next(e for e in out["evidence"] if e["source"] == "ladder" and e["rank"] is not None)
    assert "One seed per rank" not in knee["explanation"]
    finished = [r for r in out["ladder"] if r["eval_loss"] is not None]
    assert {r["seed"] for r in finished} == set(spec.seeds)


def _finished(run, pid: str, rank: int, curve, seed: int) -> None:
    """A probe's files as the worker leaves them when it finishes (events, then result.json)."""
    run.probe_dir(pid).mkdir(parents=True, exist_ok=True)
    ev = run.events_path(pid)
    append_event(ev, {"type": "started", "probe": pid, "rank": rank, "lr": 1e-3, "trainable_params": 100 * rank})
    for step, loss in curve:
        append_event(ev, {"type": "step", "step": step, "loss": loss, "lr": 1e-3, "tokens": 10,
                          "tokens_per_second": 100.0, "seconds": 0.1, "epoch": 0})
        append_event(ev, {"type": "eval", "step": step, "eval_loss": loss, "eval_accuracy": None})
    atomic_write_json(run.result_path(pid), {"probe": pid, "rank": rank, "lr": 1e-3, "state": "finished",
                                             "step": curve[-1][0], "eval_loss": curve[-1][1], "wall_seconds": 5.0,
                                             "train_seconds": 1.0, "trainable_params": 100 * rank, "seed": seed})


def _played_ladder(state_home, model, name: str, **kw):
    """A ladder's run folder as `lorplan recommend` leaves it at the start, but with no scheduler (the test plays
    the probes): a tiny causal LM at 1e-3, probes of 80 steps of a planned 400, ranks up to 16 (`kw` overrides
    LadderSpec fields). Returns the run, its LadderFiles and the first pass."""
    from lorplan.probe.runs import ProbeSpec, RunPlan
    from lorplan.recommend.decide import first_pass

    spec = LadderSpec(**{**dict(kind="data", model="tiny", spec_source=str(model), task="causal-lm",
                                target_modules=("q_proj",), data={"task": "causal-lm", "trained_tokens": 50_000,
                                                                   "examples": 500},
                                adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0,
                                         "min_dim": 16},
                                learning_rate=1e-3, learning_rate_why="test", planned_steps=400, probe_steps=80,
                                seeds=(0,), ranks=(1, 16), max_rank=16), **kw})
    first = first_pass(spec)
    plan = RunPlan(run=name, created=time.time(), eval_every=10, steps=80,
                   probes=tuple(ProbeSpec(d["id"], d["rank"], d["lr"], d["seed"]) for d in first.specs))
    run = create_run(plan, state_home)
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(first,)))
    return run, files, first


def test_halving_stops_a_rank_through_the_runner(state_home, tiny_llama):
    """Seed 0 of every rank has finished; rank 1's curve cannot reach the knee, so the driver stops rank 1: its
    queued seed-1 probe is cancelled through lorplan.probe.runner.cancel and never starts."""

    run, files, _ = _played_ladder(state_home, tiny_llama, "halving", seeds=(0, 1), ranks=(1, 16), refine=False,
                                   extra_learning_rates=False, halving=True)
    for pid, rank, seed, final in (("base-s0", 0, 0, None), ("base-s1", 0, 1, None), ("r16-s0", 16, 0, 2.0),
                                   ("r1-s0", 1, 0, 2.9)):
        pts = [(0, 3.0)] if final is None else [(s, final + (3.0 - final) * math.exp(-0.05 * s))
                                                for s in range(10, 81, 10)]
        _finished(run, pid, rank, pts, seed)
    # r16-s1 "runs" (a process holds its alive.lock), so the ladder is not over; r1-s1 is still queued
    run.probe_dir("r16-s1").mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               f"fd = os.open({str(run.alive_lock('r16-s1'))!r}, os.O_RDWR | os.O_CREAT)\n"
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == b"held"
        atomic_write_json(run.proc_path("r16-s1"), {"pid": holder.pid, "pgid": holder.pid, "slot": 0})
        assert Driver(run).step() is False
        state = files.state()
        assert [s.rank for s in state.stops] == [1] and "cannot reach the knee" in state.stops[0].reason
        result = json.loads(run.result_path("r1-s1").read_text())
        assert result["state"] == "cancelled" and not run.proc_path("r1-s1").exists()
        assert "successive halving" in result["message"]  # not "cancelled by the user": the ladder stopped it
        rec = files.recommendation()
        assert rec["state"] == "running" and any(e["source"] == "halving" and e["rank"] == 1 for e in rec["evidence"])
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()


def _driver_pid(run) -> int | None:
    lock = LadderFiles(run).lock_path
    if not lock_held(lock):
        return None
    text = lock.read_text().strip()
    return int(text) if text.isdigit() else None


def test_bad_input_is_one_line(state_home, tiny_llama, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(empty))
    assert rc == 2 and "empty" in cap.err and len(cap.err.strip().splitlines()) == 1, cap.err
    # a folder with a config but no weights cannot be probed
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((tiny_llama / "config.json").read_text())
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "q", "completion": " a"}] * 100)
    rc, cap = recommend(capsys, "--model", str(bare), "--data", str(data), "--probes", "auto")
    assert rc == 2 and "--probes auto:" in cap.err and "no weights" in cap.err, cap.err
    assert len(cap.err.strip().splitlines()) == 1
    # without --probes the same model gets the prior alone, saying why
    rc, cap = recommend(capsys, "--model", str(bare), "--data", str(data), "--json")
    assert rc == 0, cap.err
    probes = next(e for e in json.loads(cap.out)["evidence"] if e["source"] == "probes")
    assert "no probes were run" in probes["explanation"] and "no weights" in probes["explanation"]
    # a plain probe run is not a ladder
    rc, cap = recommend(capsys, "--run", "nope")
    assert rc == 2 and len(cap.err.strip().splitlines()) == 1
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was started


def test_cancelling_the_whole_run_ends_the_ladder_without_a_next_pass(state_home, tiny_llama):
    """`lorplan probe cancel RUN` on a ladder's run: every probe ends cancelled, and the driver marks the ladder
    done (cancelled) instead of starting its next pass on the evidence that is left."""
    from lorplan.probe import runner

    run, files, first = _played_ladder(state_home, tiny_llama, "cancelled", ranks=(1, 4, 16), halving=False,
                                       rate_first=True)
    _finished(run, "base", 0, [(0, 3.0)], 0)
    _finished(run, first.specs[1]["id"], 4, [(s, 2.5) for s in range(10, 81, 10)], 0)
    assert runner.cancel(run) == [d["id"] for d in first.specs[2:]]  # the two probes not yet ended
    assert run.run_cancel_marker.exists()
    assert Driver(run).step() is True
    state = files.state()
    assert state.done and state.cancelled is not None and [p.name for p in state.passes] == ["learning rate"]
    assert [p.id for p in run.plan().probes] == [d["id"] for d in first.specs]  # no probe was added
    rec = files.recommendation()
    assert rec["state"] == "cancelled" and rec["cancelled_after"] == state.cancelled  # as `probe status` says it
    assert any("cancelled by the user" in e["explanation"] for e in rec["evidence"])


def test_run_write_writes_the_ladders_plan_after_the_terminal_is_gone(state_home, tiny_llama, lm_data, tmp_path,
                                                                      capsys):
    """`lorplan recommend --run RUN --write PLAN.toml`: after a dropped SSH session the ladder's plan is written
    from its run folder (the base plan its probes were short runs of) at the recommended rank, alpha and rate,
    priced anew, as `--write` on the command that started it would have written it; refused while the ladder
    runs (without --wait), for the demo, and over an existing file without --force."""
    from dataclasses import replace

    from lorplan.core.plan import plan_from_setup, plan_to_setup, read_plan
    from lorplan.probe.plans import plan_settings
    from lorplan.probe.runs import ProbeSpec, RunPlan
    from lorplan.recommend.decide import first_pass

    # the plan the ladder's probes are short runs of: what `lorplan recommend --write` writes at the prior's rank
    prior = tmp_path / "prior.toml"
    rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(lm_data), "--targets", "q_proj",
                        "--probes", "none", "--write", str(prior))
    assert rc == 0, cap.err
    base = read_plan(prior)
    spec = LadderSpec(kind="data", model="tiny", spec_source=str(tiny_llama), task="causal-lm",
                      target_modules=("q_proj",), data={"task": "causal-lm", "trained_tokens": 50_000,
                                                        "examples": 500},
                      adapter={"model": "tiny", "targets": "q_proj", "per_rank": 64, "fixed": 0, "min_dim": 16},
                      learning_rate=1e-3, learning_rate_why="test", planned_steps=400, probe_steps=80, seeds=(0,),
                      ranks=(1, 4, 16), max_rank=16, halving=False, refine=False, extra_learning_rates=False,
                      budget_bytes=base.estimate.budget_bytes)
    first = first_pass(spec)
    plan = RunPlan(run="written", created=time.time(), eval_every=10, steps=80,
                   probes=tuple(ProbeSpec(d["id"], d["rank"], d["lr"], d["seed"]) for d in first.specs),
                   **{k: v for k, v in plan_settings(base).items() if v is not None})
    run = create_run(plan, state_home)
    files = LadderFiles(run)
    files.write_spec(spec)
    files.write_state(LadderState(passes=(first,)))
    target = tmp_path / "plan.toml"
    rc, cap = recommend(capsys, "--run", run.id, "--write", str(target))  # still running: refused, nothing written
    assert rc == 2 and "still running" in cap.err and "--wait" in cap.err and not target.exists()
    loss = {0: 3.0, 1: 2.6, 4: 2.0, 16: 1.98}  # rank 4 is the knee: 98% of rank 16's gain over the base
    assert sorted(d["rank"] for d in first.specs) == sorted(loss)
    for d in first.specs:
        _finished(run, d["id"], d["rank"], [(s, loss[d["rank"]]) for s in range(10, 81, 10)], 0)
    driver = Driver(run)
    for _ in range(5):
        if driver.step():
            break
    final = files.recommendation()
    assert final["state"] == "done" and final["rank"] == 4, final["rank"]
    rc, cap = recommend(capsys, "--run", run.id, "--write", str(target), "--json")
    assert rc == 0, cap.err
    out = json.loads(cap.out)
    assert out["plan_file"] == str(target) and out["rank"] == 4
    written = read_plan(target)
    assert (written.lora.r, written.lora.alpha, written.training.learning_rate) == (
        final["rank"], final["alpha"], final["learning_rate"])
    assert written.training.output_dir.endswith("-r4") and written.data == base.data and written.model == base.model
    # priced anew: the [estimate] is the one plan_from_setup makes for the same setup at rank 4
    _, setup, _ = plan_to_setup(base)
    fresh = plan_from_setup(load_spec(str(tiny_llama)), setup, 4, final["alpha"],
                            budget_bytes=base.estimate.budget_bytes).estimate
    assert replace(written.estimate, lorplan_version="") == replace(fresh, lorplan_version="")
    assert written.estimate.trainable_params == trainable_params(load_spec(str(tiny_llama)),
                                                                 LoraTargets(modules=("q_proj",)), 4)
    # an existing file needs --force, checked before the run is read
    rc, cap = recommend(capsys, "--run", run.id, "--write", str(target))
    assert rc == 2 and "--force" in cap.err and len(cap.err.strip().splitlines()) == 1
    rc, cap = recommend(capsys, "--run", run.id, "--write", str(target), "--force")
    assert rc == 0 and f"wrote {target}" in cap.out


def test_run_write_refuses_the_demo(state_home, tmp_path, capsys):
    from lorplan.probe.demo import demo_examples
    from lorplan.recommend.launch import demo_ladder

    ladder = demo_ladder(demo_examples())
    run = create_run(ladder.plan, state_home)
    LadderFiles(run).write_spec(ladder.spec)
    LadderFiles(run).write_state(LadderState(passes=(ladder.first,)))
    rc, cap = recommend(capsys, "--run", run.id, "--wait", "--write", str(tmp_path / "p.toml"))
    assert rc == 2 and "demo" in cap.err and len(cap.err.strip().splitlines()) == 1
    assert not (tmp_path / "p.toml").exists()


@pytest.mark.slow
def test_reattach_after_the_terminal_and_the_driver_are_killed(state_home, tiny_llama, lm_data, tmp_path, capsys):
    """`lorplan recommend --model M --data D --write PLAN.toml` prints how to pick the ladder up again; its terminal
    is then killed (SIGKILL, its detached ladder lives on), and its driver too once a probe has finished. The
    command it printed, run as printed, starts the driver again, waits for the ladder and writes PLAN.toml (the
    hint carries --write: it used to say `--run RUN --wait`, which writes nothing), and the ladder ends with the
    recommendation the evidence on disk gives. (One ladder for both kills: each ladder is three probes of ~4 s of
    process start and load.)"""
    import shlex

    target = tmp_path / "my plan.toml"  # a space: the hint must quote it
    # the command in a process of its own, which is killed, its first estimate of a probe's time sized as for a
    # 2-core CPU at load 4 (busy_cpu's idiom, which a monkeypatch cannot do in another process:
    # tests/pinned_load.py): the base and two ranks in one pass, whatever the machine's load (the real load average
    # made a busy CI machine's budget of 1 minute buy no ladder, and no hint was printed; an idle one's bought a
    # rate-first ladder that spent the whole minute)
    cli = subprocess.Popen(lorplan_argv("recommend", "--model", str(tiny_llama), "--data", str(lm_data), "--targets",
                                        "q_proj", "--probe-steps", "10", "--budget-minutes", "1", "--write",
                                        str(target), "--force", cores=2, load=4.0),
                           stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    said = []
    try:
        line = cli.stderr.readline()
        while line and not line.startswith("probe ladder "):
            said.append(line)
            line = cli.stderr.readline()
    finally:
        cli.kill()  # the terminal goes away; the ladder's driver and scheduler are not its children to wait for
        cli.wait()
    assert line.startswith("probe ladder ") and "3 probes to start with" in line, "".join(said)
    hint = line.split("`")[1]
    assert hint.startswith("lorplan recommend --run ") and shlex.quote(str(target)) in hint, line
    words = shlex.split(hint)
    assert words[4:] == ["--wait", "--write", str(target), "--force"]
    # the driver is SIGKILLed once a probe has finished
    run = find_run(words[3], state_home)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        obj = LadderFiles(run).recommendation() or {}
        if any(p["state"] == "finished" for p in obj.get("probes", ())):
            break
        time.sleep(0.2)
    pid = _driver_pid(run)
    assert pid is not None and obj.get("state") == "running"
    os.killpg(pid, signal.SIGKILL)
    for _ in range(50):
        if _driver_pid(run) is None:
            break
        time.sleep(0.1)
    assert _driver_pid(run) is None
    rc, cap = recommend(capsys, *words[2:])  # the hint, as printed
    assert rc == 0, cap.err
    assert "its driver had stopped; started it again" in cap.err
    written = __import__("lorplan.core.plan", fromlist=["read_plan"]).read_plan(target)
    assert f"wrote {target}" in cap.out and "run " + words[3] in cap.out
    assert written.lora.target_modules == ("q_proj",) and written.data.path == str(lm_data)
    # re-attaching to the finished ladder prints its recommendation.json (_check_done), and starts nothing
    rc, cap = recommend(capsys, "--run", run.id, "--json")
    assert rc == 0 and "started it again" not in cap.err
    final = _check_done(json.loads(cap.out), state_home)
    spec, state = LadderFiles(run).spec(), LadderFiles(run).state()
    assert len(spec.ranks) == 2 and [r["rank"] for r in final["ladder"]] == list(spec.ranks)  # both ranks ran
    assert final["base_loss"] > 0 and written.lora.r == final["rank"]
    # the same result as the evidence on disk gives: recomputed from the run folder, without the driver
    again, base = measured.recommendation(spec, observe(run, spec.learning_rate), state, price_for(spec, run))
    assert again.rank == final["rank"] and list(again.confidence) == [final["confidence"]["low"],
                                                                       final["confidence"]["high"]]
    assert [r.to_json() for r in again.ladder] == final["ladder"] and base.loss == final["base_loss"]
