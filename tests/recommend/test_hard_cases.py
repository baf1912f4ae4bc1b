"""`lorplan recommend` on hard cases a user meets: each gets exit 2 and one line naming the input, or exit 0 with
a recommendation whose words say what happened; never a traceback."""

from __future__ import annotations

import pytest

from lorplan.cli import main


def recommend(capsys, *argv):
    rc = main(["recommend", *argv])
    return rc, capsys.readouterr()


@pytest.mark.parametrize("minutes", ["1e308", "1e300", "20000"])
def test_huge_budget_is_refused_in_one_line(minutes, tiny_llama, lm_data, state_home, capsys):
    # 1e308 minutes is inf seconds: plan_ladder's int(inf // s) raised ValueError (a traceback); 1e300 started a
    # ladder whose probes note named a budget of 60,000,...,000 s
    rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(lm_data), "--budget-minutes", minutes,
                        "--json")
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "--budget-minutes" in lines[0] and "10,080 minutes" in lines[0], cap.err
    assert "Traceback" not in cap.err and cap.out == ""
    assert not state_home.exists() or not any(state_home.iterdir())  # no ladder was started


def test_a_week_is_still_a_budget():
    from lorplan.recommend.launch import MAX_BUDGET_MINUTES

    assert MAX_BUDGET_MINUTES == 10_080


def test_a_ladder_whose_probes_all_fail_says_why(tiny_llama, lm_data, state_home, capsys, monkeypatch):
    """Every rank probe raises at its first step (a real ladder, real probe processes): the recommendation is
    the prior's and says so in the header, the evidence names how the probes ended and the first error, and each
    failed probe's progress line carries its error. Before: 'band 1-2' (as if measured), 'no rank probe measured
    an eval loss' (not why), and 'failed at step 1, eval loss ...' (no error anywhere in the output)."""
    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad
    from lorplan.recommend.table import render_ladder

    # each probe costs ~6 s of process start and model load whether it fails or not: the first estimate of a
    # probe's time as for a 2-core CPU at load 20 makes the 4-minute budget buy the base and ranks 1, 4 (3
    # probes, the fewest a ladder starts with) instead of the idle machine's rate-first ladder (7 probes); the
    # real probes end far inside the budget, so none is cancelled by it. The rate pass with nothing finished:
    # test_rate_first.py.
    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(2, 20.0))
    monkeypatch.setenv("LORPLAN_PROBE_INJECT", "raise@1")
    rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(lm_data), "--probe-steps", "4",
                        "--budget-minutes", "4", "--json")
    assert rc == 0, cap.err
    assert "Traceback" not in cap.err
    import json

    obj = json.loads(cap.out)
    ranks = [r for r in obj["ladder"] if r["rank"] > 0]
    assert ranks and all(r["state"] == "failed" and r["eval_loss"] is None for r in ranks)
    assert sorted(r["rank"] for r in ranks) == [1, 4]  # every rank the ladder planned ran, and failed
    why = next(e["explanation"] for e in obj["evidence"] if e["source"] == "ladder"
               and e["explanation"].startswith("no rank probe measured"))
    assert "failed" in why and "the first error: RuntimeError: injected failure at step 1" in why, why
    assert obj["rank"] == obj["capacity"]["rank"] and obj["confidence"] == {"low": obj["capacity"]["low"], "high": obj["capacity"]["high"]}
    text = render_ladder(obj)
    assert "(capacity prior only)" in text.splitlines()[2], text.splitlines()[2]
    assert "±" not in text  # no cell has an interval, so no legend for one
    failed = [ln for ln in cap.err.splitlines() if ": failed at step" in ln]
    assert failed and all("RuntimeError: injected failure at step 1" in ln for ln in failed), cap.err


def test_a_failed_probe_line_names_its_error():
    from lorplan.cli.recommend import _probe_line

    p = {"id": "r4", "rank": 4, "lr": 1e-3, "seed": 42, "state": "oom", "step": 3, "curve": [[2, 9.5]],
         "train_seconds": 1.25, "message": "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\nmore"}
    line = _probe_line(p, {"probes": [p], "learning_rate": 1e-3, "seeds": [42]})
    assert line == ("  rank 4: oom at step 3, eval loss 9.5000, 1.2 s training: OutOfMemoryError: CUDA out of "
                    "memory. Tried to allocate 2.00 GiB")
    done = {**p, "state": "finished", "message": None}
    assert _probe_line(done, {"probes": [done], "learning_rate": 1e-3, "seeds": [42]}).endswith("1.2 s training")


@pytest.mark.parametrize("how, words", [("failed", "failed"), ("oom", "ran out of memory")])
def test_a_learning_rate_whose_probe_failed_is_named_in_the_rate_evidence(how, words):
    """The learning-rate pass at rank 4: the policy's rate LR ends without a result, LO and HI finish. The rate
    evidence named only the two compared ('0.000333: 2.6, 0.003: 2.03 ... the highest rate tried'), as if LR had
    never been tried; now it says LR ended without a result there (the real case: a ladder whose rank-4
    probe at 0.001 raised, LORPLAN_PROBE_INJECT=raise@2:r4-lr0.001)."""
    from dataclasses import replace

    from test_rate_first import HI, LO, LR, _run_lr_pass, probe, spec

    from lorplan.recommend import measured
    from lorplan.recommend.decide import next_pass

    s = spec()
    state, obs = _run_lr_pass(s, {LO: 2.6, LR: 2.3, HI: 2.03})
    obs = [replace(o, state=how, curve=((0, 3.0),), step=3) if o.rank == 4 and o.lr == LR else o for o in obs]
    nxt = next_pass(s, state, obs, None, now=0.0)
    state = state.with_pass(nxt)
    obs += [probe(d, {64: 2.0, 16: 2.0, 1: 2.6}[d["rank"]]) for d in nxt.specs]
    rec, _ = measured.recommendation(s, obs, state)
    lr_words = next(e.explanation for e in rec.evidence if e.source == "learning rate")
    assert f"; {LR:g} ({words}) ended without a result there, so it is not compared" in lr_words, lr_words
    assert f"{LO:g}" in lr_words and f"{HI:g}" in lr_words
    # a rate that finished is not named as lost
    state2, obs2 = _run_lr_pass(s, {LO: 2.6, LR: 2.3, HI: 2.03})
    nxt2 = next_pass(s, state2, obs2, None, now=0.0)
    obs2 += [probe(d, {64: 2.0, 16: 2.0, 1: 2.6}[d["rank"]]) for d in nxt2.specs]
    rec2, _ = measured.recommendation(s, obs2, state2.with_pass(nxt2))
    assert "ended without a result" not in next(e.explanation for e in rec2.evidence if e.source == "learning rate")


def test_write_into_a_folder_that_takes_no_file_is_refused_before_the_ladder(tiny_llama, lm_data, state_home,
                                                                            capsys):
    """--write /proc/plan.toml (a folder that exists and takes no file; a read-only folder for a user) passed the
    early check, started a ladder of minutes and failed only when the plan was written, the recommendation
    unprinted; now it is refused at once, one line naming --write, and no ladder starts."""
    rc, cap = recommend(capsys, "--model", str(tiny_llama), "--data", str(lm_data), "--write", "/proc/plan.toml",
                        "--probe-steps", "4", "--json")
    assert rc == 2 and cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lorplan recommend: error: --write /proc/plan.toml: cannot write "
                                                   "in folder /proc"), cap.err
    assert not state_home.exists() or not any(state_home.rglob("ladder.json"))


def test_write_check_leaves_no_file_behind(tmp_path, capsys):
    out = tmp_path / "plan.toml"
    rc, cap = recommend(capsys, "--model", "sentence-transformers/all-MiniLM-L6-v2", "--examples", "500",
                        "--write", str(out))
    assert rc == 0, cap.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]


def _lr_pass_ended(how: dict, **state_kw):
    """The rate-first learning-rate pass (test_rate_first's ladder: rank 4 at LO, LR, HI, and the base) with
    each rate's probe ending as `how` says (a final loss: finished; a state: ended without a result), and the
    ladder done with `state_kw` (budget_spent=..., cancelled=...)."""
    from dataclasses import replace

    from test_rate_first import _run_lr_pass, spec

    from lorplan.recommend import measured

    s = spec(budget_seconds=60.0)
    state, obs = _run_lr_pass(s, {lr: v for lr, v in how.items() if not isinstance(v, str)})
    obs = [replace(o, state=how[o.lr], curve=(), step=0) if o.rank and isinstance(how[o.lr], str) else o
           for o in obs]
    rec, _ = measured.recommendation(s, obs, replace(state, done=True, **state_kw))
    return {e.source: e.explanation for e in rec.evidence if e.source in ("budget", "learning rate")}


def test_a_spent_budget_with_no_rank_finished_does_not_claim_a_wider_band():
    """The budget ran out before any rank probe finished (a real ladder: LORPLAN_PROBE_INJECT=hang@3,
    --budget-minutes 1): the budget evidence said 'the recommendation rests on what finished and its band is
    wider', where nothing finished and the band is the prior's own."""
    from test_rate_first import HI, LO, LR

    words = _lr_pass_ended({LO: "cancelled", LR: "cancelled", HI: "cancelled"}, budget_spent=60.0)
    assert "no rank probe finished and the recommendation is the capacity prior's" in words["budget"], words
    assert "wider" not in words["budget"]
    some = _lr_pass_ended({LO: 2.6, LR: "cancelled", HI: "cancelled"}, budget_spent=60.0)
    assert "rests on what finished and its band is wider" in some["budget"], some


def test_the_only_rate_measured_is_not_called_the_only_one_tried():
    """The user cancelled the ladder while rank 4 ran at its three rates, and only LO finished (a real ladder,
    `lorplan probe cancel RUN` after 30 s): the rate evidence said 'the one the ladder used at rank 4 (only one
    was tried there)'; LR and HI were tried and cancelled."""
    from test_rate_first import HI, LO, LR

    words = _lr_pass_ended({LO: 2.6, LR: "cancelled", HI: "cancelled"}, cancelled=29.0)["learning rate"]
    assert "only one was tried" not in words and "(the only one measured there)" in words, words
    assert words.endswith(f"; {LR:g} (was cancelled) and {HI:g} (was cancelled) ended without a result there, so "
                          "they are not compared"), words


def test_a_budget_under_a_second_is_not_rounded_up():
    """--budget-minutes 0.01 is 0.6 s; the ladder's words said 'the budget (1 s) buys 0 probe(s)'."""
    from lorplan.recommend.ladder import plan_ladder

    lp = plan_ladder(0.6, 8.0, prior_rank=1, high=16, base_probe=True)
    assert lp.ranks == () and "the budget (0.6 s) buys 0 probes of about 8 s" in lp.explanation, lp.explanation
    assert "the budget (600 s)" in plan_ladder(600, 800.0, prior_rank=1, high=16).explanation


@pytest.mark.parametrize("minutes", [1e308, float("nan"), 0.0, 20_000.0])
def test_the_ladder_refuses_a_budget_the_cli_would(minutes):
    """The planner's minutes field reaches recommend.launch.data_ladder without the CLI's check: 1e308 minutes
    raised ValueError in plan_ladder (int(inf // s)) inside the planner's worker, which shows no error; now
    BadInput, which the Recommend tab shows as a warning."""
    from lorplan.core.errors import BadInput
    from lorplan.recommend.launch import data_ladder

    with pytest.raises(BadInput, match=r"^ladder budget: .* minutes is not between 0 and 10,080"):
        data_ladder(None, None, None, None, None, None, None, None, target_modules=(), learning_rate=(1e-3, ""),
                    epochs=1.0, budget_minutes=minutes, budget_bytes=None, gpu=None)


def test_one_rank_cut_short_several_times_reads_in_the_singular():
    """The budget ran out while rank 4 ran at its three rates (a real ladder: hang@3, --budget-minutes 1): the
    evidence said 'rank 4 were cancelled (3 probes)'."""
    from lorplan.recommend.combine import unfinished_words
    from lorplan.recommend.types import LadderRow

    rows = [LadderRow(4, lr, None, state="cancelled") for lr in (3e-4, 1e-3, 3e-3)]
    assert unfinished_words(rows) == "rank 4 was cancelled (3 probes)"
    assert unfinished_words(rows + [LadderRow(8, 1e-3, None, state="cancelled")]) == "ranks 4 (3 probes), 8 were cancelled"


@pytest.mark.parametrize("content, why", [('{"x": 1}', "it lacks kind, model, spec_source"),
                                          ("[1, 2]", "not a JSON object"), ("{", "not a JSON object")])
def test_a_damaged_ladder_json_is_one_line(content, why, state_home, capsys):
    """A run folder whose ladder.json was damaged (cut short by a full disk, edited by hand): `--run RUN` printed
    a TypeError traceback (LadderSpec.__init__() missing 10 required positional arguments), and a file that is
    not JSON said 'not a recommend run (no ladder.json ...)' though the file is there; now one line each."""
    import time

    from lorplan.probe.runs import ProbeSpec, RunPlan, create_run

    run = create_run(RunPlan(run="damaged", created=time.time(), eval_every=10, steps=10,
                             probes=(ProbeSpec("r4", 4, 1e-3, 0),)), state_home)
    (run.path / "ladder.json").write_text(content, encoding="utf-8")
    rc, cap = recommend(capsys, "--run", run.id, "--json")
    assert rc == 2 and cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and f"--run {run.id}: its ladder.json is damaged" in lines[0] and why in lines[0], cap.err


@pytest.mark.parametrize("content", ['{"x": 1}', "{"])
@pytest.mark.parametrize("flags", [(), ("--json",), ("--wait",)])
def test_a_done_ladder_with_a_damaged_recommendation_is_one_line(content, flags, state_home, capsys):
    """A done ladder whose recommendation.json was damaged: `--run RUN` printed a KeyError traceback ({"x": 1}),
    --json printed the damaged object with exit 0, --wait waited forever (no driver writes a done ladder's file
    again), and an unreadable file said 'the ladder has written no recommendation yet' after 10 s; now one line
    naming --run, at once."""
    import time

    from test_ladder_decide import spec

    from lorplan.probe.runs import ProbeSpec, RunPlan, atomic_write_json, create_run
    from lorplan.recommend.ladder_spec import LadderFiles, LadderState

    run = create_run(RunPlan(run="damaged-rec", created=time.time(), eval_every=10, steps=10,
                             probes=(ProbeSpec("r4", 4, 1e-3, 0),)), state_home)
    files = LadderFiles(run)
    files.write_spec(spec())
    files.write_state(LadderState(done=True))
    # its probe ended, as a done ladder's have: left queued, `--run` started a scheduler for it, whose probe
    # process outlived the test (the teardown found no lock held yet) and loaded torch beside the next tests
    atomic_write_json(run.result_path("r4"), {"probe": "r4", "rank": 4, "lr": 1e-3, "state": "finished", "step": 10,
                                              "eval_loss": 2.0, "wall_seconds": 5.0, "train_seconds": 1.0,
                                              "trainable_params": 400, "seed": 0})
    files.recommendation_path.write_text(content, encoding="utf-8")
    t0 = time.monotonic()
    rc, cap = recommend(capsys, "--run", run.id, *flags)
    assert rc == 2 and cap.out == "" and time.monotonic() - t0 < 8
    assert not run.scheduler_log.exists()  # nothing of the ended ladder was started again
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and f"--run {run.id}: its recommendation.json is damaged" in lines[0], cap.err
