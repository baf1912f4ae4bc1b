"""The Recommend tab on a ladder whose budget bought one rank (recommend.decide._one_rank_only): it says so, and
the budget that buys the ranks pass, as `lorplan recommend` does (a "budget" line and the table's "<- recommended
(the only rank measured)"), instead of calling the one rank measured a knee."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import pytest
from textual.widgets import Static
from tui_helpers import wait_until

from lorplan.probe import runner
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.recommend import measured
from lorplan.recommend.decide import first_pass, next_pass
from lorplan.recommend.ladder_spec import LadderSpec, LadderState
from lorplan.recommend.observe import ProbeObs
from lorplan.recommend.table import render_ladder
from lorplan.tui.panels.recommend_panel import RecommendPanel

pytestmark = pytest.mark.anyio

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"  # conftest's model
LR = 1e-3


def one_rank_ladder() -> dict:
    """A done ladder whose 100 s budget bought the learning-rate pass alone: rank 4 at three rates, each probe
    10 s of wall time; the ranks pass (3 probes) needed 95 + 30 s, so --budget-minutes 3."""
    spec = LadderSpec(kind="data", model=LLAMA, spec_source="/nowhere", task="causal-lm", target_modules=("q_proj",),
                      data={"task": "causal-lm", "trained_tokens": 50_000, "examples": 500},
                      adapter={"model": LLAMA, "targets": "q_proj", "per_rank": 1000, "fixed": 0, "min_dim": 64},
                      learning_rate=LR, learning_rate_why="test rate", planned_steps=400, probe_steps=80,
                      seeds=(0,), ranks=(1, 4, 16, 64), max_rank=64, budget_seconds=100.0, started=0.0,
                      rate_first=True)
    first = first_pass(spec)
    finals = {round(LR / 3, 12): 2.5, LR: 2.2, round(LR * 3, 12): 2.1}
    obs = []
    for d in first.specs:
        final = finals[d["lr"]] if d["rank"] else None
        curve = (tuple((s, final + (3.0 - final) * math.exp(-0.05 * s)) for s in range(10, 81, 10))
                 if final is not None else ((0, 3.0),))
        obs.append(ProbeObs(id=d["id"], rank=d["rank"], lr=d["lr"], seed=0, state="finished", step=curve[-1][0],
                            curve=curve, train_seconds=5.0, wall_seconds=10.0, trainable_params=1000 * d["rank"]))
    state = LadderState(passes=(first,))
    skipped = next_pass(spec, state, obs, knee_rank=None, now=95.0)
    assert skipped.budget_minutes == 3 and not skipped.specs
    obj = measured.recommendation_json(spec, obs, replace(state.with_pass(skipped), done=True), run_id="R")
    assert "--budget-minutes 3 buys the ranks pass" in " ".join(render_ladder(obj).split())  # what the CLI says
    return obj


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_a_ladder_whose_budget_bought_one_rank_says_so_and_the_budget_that_buys_the_ranks(make_app,
                                                                                              isolated_home):
    run = create_run(runner.make_plan((4,), steps=20, device="cpu", run="20261205-100000-onea"),
                     isolated_home / "state" / "lorplan" / "runs").path
    path = run / "recommendation.json"
    atomic_write_json(path, one_rank_ladder())
    os.utime(path, ns=(path.stat().st_mtime_ns + 1_000_000,) * 2)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.plan is not None)
        await pilot.press("f8")
        await pilot.pause()
        panel = app.screen.query_one(RecommendPanel)
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None)
        await pilot.pause()
        head = " ".join(_text(app, "#rec-head").split())
        assert head.startswith("rank 4 "), head
        # the budget line of `lorplan recommend`, its flag in the planner's words (the tab's minutes field)
        assert ("budget: the 1.67-minute budget bought rank 4 alone (the learning-rate pass); a ladder budget of 3 "
                "minutes (the minutes field) buys the ranks pass, at the probes' measured time") in head, head
        assert "--budget-minutes" not in head
        # the one rank is the recommendation, not a knee: nothing was compared with it
        assert "rank 4 recommended (the only rank measured)" in head and "knee decides" not in head, head
        note = " ".join(_text(app, "#rec-plot-note").split())
        assert "green: rank 4 recommended (the only rank measured)" in note and "green: the knee" not in note, note
        evidence = " ".join(_text(app, "#rec-evidence").split())
        assert "a ladder budget of 3 minutes (the minutes field) would buy them" in evidence, evidence
        assert "--budget-minutes" not in evidence
