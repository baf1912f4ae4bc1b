"""The pure parts of benchmarks/rank_regret_long.py on hand-made 160-step runs: which rows are the sweep, when a
task's sweep is complete, and the report's knee, ladder rows (replayed and trained) and overall hit rates."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import rank_regret_long as rl  # noqa: E402
import rank_regret_probes as rpp  # noqa: E402
import rank_regret_replay as rp  # noqa: E402
import rank_regret_tasks as rt  # noqa: E402

TASK = rt.Task("toy-lm", "causal-lm", "tiny-llama", ("q_proj",), rl.STEPS, 8, 64, 20, 32, (1e-3, 3e-3, 1e-2), "toy")
BASE = 5.0
# final eval loss per rank at 3e-3 (1e-3 worse by 0.1, 1e-2 by 0.05): the knee is rank 4
FINAL = {1: 4.50, 2: 4.20, 4: 4.04, 8: 4.02, 16: 4.01, 32: 4.00, 64: 4.00}


def curve(final: float, n: int) -> list[list[float]]:
    """Eval points every 20 steps from BASE at step 0 to `final` at step n, falling like a + b·t^-0.5."""
    b = (BASE - final) / (1 - n ** -0.5)
    return [[0, BASE]] + [[t, round(final - b * n ** -0.5 + b * t ** -0.5, 6)] for t in range(20, n + 1, 20)]


def extra(lr: float) -> float:
    return 0.10 if lr < 2e-3 else (0.05 if lr > 5e-3 else 0.0)


def runs(steps: int = rl.STEPS) -> list[dict]:
    """knee_length-style rows (kind "length") of the toy task at `steps`."""
    return [{"task": TASK.name, "kind": "length", "alpha": 32, "rank": rank, "lr": lr, "seed": seed, "steps": steps,
             "curve": curve(loss + extra(lr) + 0.004 * (seed - 1), steps), "trainable": 100 * rank,
             "train_items": 500, "trained_tokens": 30000}
            for lr in TASK.lrs for rank, loss in FINAL.items() for seed in rp.SEEDS]


def toy_probe(job: dict) -> dict:
    if job["rank"] == 0:
        return {**job, "curve": [[0, BASE]], "wall_s": 1.0}
    final = FINAL[job["rank"]] + extra(job["lr"]) + 0.004 * (job["seed"] - 1)
    return {**job, "curve": curve(final, job["steps"]), "trainable": 100 * job["rank"], "wall_s": 2.0}


@pytest.fixture
def toy_sizes(monkeypatch):
    monkeypatch.setattr(rp, "adapter_of", lambda task: {"model": "toy", "targets": "q_proj", "per_rank": 100,
                                                        "fixed": 0, "min_dim": 64})
    monkeypatch.setattr(rp, "data_size", lambda rows, task: {"task": "causal-lm", "trained_tokens": 30000,
                                                             "examples": 500})


def test_the_sweep_is_the_160_step_runs_with_a_classifiers_head_as_its_base():
    rows = rl.sweep_rows(runs() + runs(80) + [{**runs()[0], "rank": 0}])
    assert {r["steps"] for r in rows} == {rl.STEPS} and len(rows) == 7 * 3 * 3 + 1
    assert [r["kind"] for r in rows if r["rank"] == 0] == ["base"]
    assert {r["kind"] for r in rows if r["rank"] > 0} == {"sweep"}
    assert rl.complete(rows, TASK)
    # one learning rate short at one rank and seed: not complete
    assert not rl.complete([r for r in rows if (r["rank"], r["lr"], r["seed"]) != (8, 1e-3, 2)], TASK)
    # a classifier also needs its head alone at every rate and seed
    cls = rt.Task("toy-cls", "sequence-classification", "minilm", ("query",), rl.STEPS, 8, 32, 20, 48,
                  TASK.lrs, "toy")
    assert not rl.complete([{**r, "task": "toy-cls"} for r in rows if r["rank"] > 0], cls)
    heads = [{**r, "task": "toy-cls", "rank": 0, "kind": "base"} for r in rows if r["rank"] == 1]
    assert rl.complete([{**r, "task": "toy-cls"} for r in rows if r["rank"] > 0] + heads, cls)


def test_report_on_a_complete_sweep_and_a_half_trained_ladder(toy_sizes):
    probes: list[dict] = []
    rows = rl.sweep_rows(runs())
    rpp.trained_ladder(rows, [], TASK, seed=0, train=lambda job: probes.append(toy_probe(job)) or probes[-1])
    assert {p["steps"] for p in probes if p["rank"] > 0} == {rl.STEPS // 2}  # probes half the planned length
    text = rl.report(runs(), probes, [TASK])
    assert "KNEE = rank 4 (band" in text
    lines = text.splitlines()

    def row(name: str) -> list[str]:
        # | recommender | rank | hit | eval loss | regret | compute | note |
        return [c.strip() for c in next(x for x in lines if x.startswith(f"| {name} |")).strip("|").split("|")]

    for seed in rp.SEEDS:
        # seed 2's ladder (+0.004) checks its ranks with seed 0 (-0.004, the next recorded seed): the spread puts
        # rank 4 near the threshold and the ladder takes 8, in [knee, 2 × knee] either way
        assert row(f"lorplan prior + ladder (replay, seed {seed})")[1:3] == ["8" if seed == 2 else "4", "yes"]
        assert row(f"ablation: ladder without its second-seed pass (seed {seed})")[1:3] == ["4", "yes"]
        # regret: rank 4's loss (3e-3, mean over seeds) above the best rank's (32 and 64 at 4.00)
        assert row(f"reference: the whole sweep, one seed (seed {seed})")[1:3] == ["4", "yes"]
        assert row(f"reference: the whole sweep, one seed (seed {seed})")[4:6] == ["+0.0400", "33.3%"]
    trained = row("lorplan prior + ladder (trained probes, seed 0)")
    compute = sum(p["steps"] for p in probes) / rp.sweep_steps(TASK)
    assert trained[1:3] == ["4", "yes"] and trained[4:6] == ["+0.0400", f"{compute:.1%}"]
    for seed in (1, 2):  # never trained: no rank, no hit, no figure
        assert row(f"lorplan prior + ladder (trained probes, seed {seed})")[1:6] == ["-", "-", "-", "-", "-"]
    assert row("fixed r=16 α=32")[1:3] == ["16", "no"] and row("fixed r=16 α=32")[4] == "+0.0100"
    three = row("the ladder, probes 3/4 of the planned length (--probe-steps) (seed 0)")
    half = row("lorplan prior + ladder (replay, seed 0)")
    assert three[1:3] == ["4", "yes"] and "cut at step 120" in three[6]
    assert float(half[5].rstrip("%")) < float(three[5].rstrip("%"))
    # rows nothing trained at 160 steps are left out, not shown as "not run"
    assert not any(x.startswith(f"| {name} |") for name in rl.NOT_TRAINED for x in lines)
    every = "[every seed]"
    assert f"| the ladder, probes 3/4 of the planned length (--probe-steps) {every} | 100% (3/3) |" in text
    assert f"| lorplan prior + ladder (trained probes) {every} | 100% (1/1) |" in text
    assert f"| lorplan prior + ladder (replay) {every} | 100% (3/3) |" in text
    assert f"| reference: the whole sweep, one seed {every} | 100% (3/3) | +0.0400 | 33.3% | 3 |" in text
    assert "| fixed r=16 α=32 | 0% (0/1) | +0.0100 | - | 1 |" in text


def test_an_incomplete_sweep_is_said_and_gets_no_figures(toy_sizes):
    partial = [r for r in runs() if r["lr"] != 1e-3]
    text = rl.report(partial, [], [TASK])
    assert "The 160-step sweep is not complete yet." in text and "KNEE" not in text
    assert "| lorplan prior" not in text


def test_the_overall_table_is_also_split_by_task_kind(toy_sizes):
    cls = rt.Task("toy-cls", "sequence-classification", "minilm", ("query",), rl.STEPS, 8, 32, 20, 48, TASK.lrs,
                  "toy")
    rows = runs() + [{**r, "task": cls.name} for r in runs()]
    rows += [{**r, "task": cls.name, "rank": 0, "curve": [[0, BASE], [rl.STEPS, BASE - 0.2]]}
             for r in runs() if r["rank"] == 1]  # the head alone: a base 0.2 below the untrained loss
    text = rl.report(rows, [], [TASK, cls])
    assert "KNEE" in text.split("## toy-cls")[1]  # the classifier's sweep is complete with its heads
    overall = text.split("## Overall")[1]
    assert "sequence-classification tasks only:" in overall and "causal-lm tasks only:" in overall
    # the LM one-seed sweep is a third of its sweep, the classifier's 7/24 (its head alone is the eighth kind)
    assert "| reference: the whole sweep, one seed [every seed] | 100% (6/6) | +0.0367 | 31.3% | 6 |" in overall
    lm = overall.split("causal-lm tasks only:")[1]
    assert "| reference: the whole sweep, one seed [every seed] | 100% (3/3) | +0.0400 | 33.3% | 3 |" in lm


def test_the_second_seed_pass_is_scored_against_an_independent_seed_group(toy_sizes):
    """knee_length also trained seeds 3-5 at lr 1e-2 on the language-model tasks: their three-seed knee shares no
    seed with a ladder (its own seed and its second seed are among 0-2), so the report scores the pass there."""
    group = [{**r, "seed": s, "curve": curve(FINAL[r["rank"]] + extra(r["lr"]), rl.STEPS)}
             for r in runs() if r["lr"] == 1e-2 and r["seed"] == 0 for s in rl.HELD_SEEDS]  # no jitter: knee 4
    rows = rl.sweep_rows(runs() + group)
    assert rp.sweep_knee([r for r in rows if r["seed"] in rl.HELD_SEEDS], TASK.name).rank == 4
    # with the pass seed 2's ladder says 8 (test above), the others 4; without it every ladder says 4: all in [4, 8]
    line = rl.independent_seed_group(rows, [TASK])
    assert line is not None and line.endswith("the replayed ladder hits 3/3 with its second-seed pass, 3/3 without.")
    assert rl.independent_seed_group(rl.sweep_rows(runs()), [TASK]) is None  # no seeds 3-5: no line
    assert "Against a knee measured with other seeds" in rl.report(runs() + group, [], [TASK])
