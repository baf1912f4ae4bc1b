"""The pure parts of benchmarks/knee_ceiling.py: the second sweep's runs joined to the sweep's (its own run wins,
a classifier's head alone is the base), the knee of each seed group, and the simulated oracle (no noise: it always
hits; more seeds in the ground truth: it hits more; whole seeds that move every rank and the base alike never move
the knee, while the same spread drawn run by run does)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import knee_ceiling as kc  # noqa: E402

HEAD = 1.6  # a classifier's head trained alone
LRS = (0.001, 0.003, 0.01)
# share of the best improvement per rank: seeds 0-2 put the knee at 4, seeds 3-5 at 16
SHARE_A = {1: 0.2, 2: 0.6, 4: 0.97, 8: 0.99, 16: 1.0, 32: 1.0, 64: 1.0}
SHARE_B = {1: 0.1, 2: 0.3, 4: 0.5, 8: 0.8, 16: 0.97, 32: 0.99, 64: 1.0}


def _run(rank: int, lr: float, seed: int, loss: float, kind: str) -> dict:
    return {"task": "cls-x", "kind": kind, "variant": "", "alpha": 32, "rank": rank, "lr": lr, "seed": seed,
            "steps": 32, "curve": [[0, 1.79], [32, loss]]}


def _loss(share: float, lr: float) -> float:
    return HEAD - share * 0.8 + (0.0 if lr == 0.003 else 0.3)  # 3e-3 the best rate at every rank


def _sweep() -> list[dict]:
    rows = [_run(r, lr, s, _loss(SHARE_A[r], lr), "sweep") for r in SHARE_A for lr in LRS for s in (0, 1, 2)]
    return rows + [_run(0, lr, s, HEAD + (0.0 if lr == 0.003 else 0.1), "base") for lr in LRS for s in (0, 1, 2)]


def _second() -> list[dict]:
    rows = [_run(r, lr, s, _loss(SHARE_B[r], lr), "length") for r in SHARE_B for lr in LRS for s in (3, 4, 5)]
    rows += [_run(0, lr, s, HEAD + (0.0 if lr == 0.003 else 0.1), "length") for lr in LRS for s in (3, 4, 5)]
    # a retrained sweep run (seed 0) with another loss: the sweep's own row must win
    return rows + [_run(16, 0.003, 0, 9.0, "length")]


def test_each_seed_group_has_its_own_knee_from_its_own_runs_and_base():
    sweep, runs = _sweep(), _second()
    ranks, base = kc.planned_runs(sweep, runs, "cls-x", (3, 4, 5))
    assert len(ranks) == 7 * 3 * 3 and len(base) == 3 * 3
    assert {r["seed"] for r in ranks + base} == {3, 4, 5} and all(r["rank"] == 0 for r in base)
    assert kc.group_knee(sweep, runs, "cls-x", (0, 1, 2)).rank == 4
    assert kc.group_knee(sweep, runs, "cls-x", (3, 4, 5)).rank == 16
    # seed 0's rank 16 is the sweep's run, not the retrained row's 9.0
    own = [r for r in kc.planned_runs(sweep, runs, "cls-x", (0,))[0] if r["rank"] == 16 and r["lr"] == 0.003]
    assert [r["kind"] for r in own] == ["sweep"]
    assert kc.complete(sweep, runs, "cls-x", (3, 4, 5)) and kc.complete(sweep, runs, "cls-x", (0, 1, 2))
    short = [r for r in runs if not (r["seed"] == 4 and r["rank"] == 0 and r["lr"] == 0.01)]
    assert not kc.complete(sweep, short, "cls-x", (3, 4, 5))  # a head alone missing at one rate
    shorter = [r for r in runs if not (r["seed"] == 5 and r["rank"] == 64 and r["lr"] == 0.001)]
    assert not kc.complete(sweep, shorter, "cls-x", (3, 4, 5))


def _truth(deviation: dict, base_deviation: list[float]) -> kc.Truth:
    """A classifier's truth at one rate with knee 4 (rank 4 just over 95%); deviation[rank] per seed."""
    means = {(r, 0.003): HEAD - SHARE_A[r] * 0.8 for r in SHARE_A}
    return kc.Truth(means, {(r, 0.003): deviation[r] for r in SHARE_A}, {0.003: HEAD}, {0.003: base_deviation}, None)


def test_an_oracle_without_noise_always_hits_its_knee():
    truth = _truth({r: [0.0, 0.0, 0.0] for r in SHARE_A}, [0.0, 0.0, 0.0])
    for model in ("independent", "seeds"):
        c = kc.oracle(truth, 3, model, draws=200)
        assert c.true_knee == 4 and c.best == 4 and c.ceiling == 1.0
        assert c.hits[2] == 0.0 and c.hits[8] == 1.0 and c.hits[16] == 0.0


def test_more_seeds_in_the_ground_truth_raise_the_ceiling():
    # rank 4 sits 0.016 under the bar; seed 0 lifts it and lowers the best ranks, seed 1 the other way round
    dev = {1: [0.0] * 3, 2: [0.0] * 3, 4: [0.06, -0.03, -0.03], 8: [0.0] * 3,
           **{r: [-0.05, 0.05, 0.0] for r in (16, 32, 64)}}
    noisy = _truth(dev, [0.0, 0.0, 0.0])
    for model in ("independent", "seeds"):
        few, many = kc.oracle(noisy, 3, model, draws=400), kc.oracle(noisy, 20_000, model, draws=400)
        assert few.ceiling < 0.9 < 0.99 <= many.ceiling and many.best in (4, 8), (model, few, many)


def test_whole_seeds_keep_a_shift_shared_by_every_rank_and_the_base():
    shift = [0.1, 0.0, -0.1]  # each seed moves every rank and the head alone by the same amount
    truth = _truth({r: shift for r in SHARE_A}, shift)
    assert kc.oracle(truth, 3, "seeds", draws=400).hits[4] == 1.0  # improvements unchanged: the knee never moves
    assert kc.oracle(truth, 3, "independent", draws=400).hits[4] < 0.9  # the same spread drawn run by run moves it


def test_the_recommenders_rows_are_read_from_rank_regret_names():
    assert kc._row_of("lorplan prior") == "lorplan prior"
    assert kc._row_of("lorplan prior + ladder (replay, seed 2)") == "lorplan prior + ladder (replay)"
    assert kc._row_of("lorplan prior + ladder (trained probes, seed 0)") == "lorplan prior + ladder (trained probes)"
    assert kc._row_of("reference: the whole sweep, one seed (seed 1)") == "reference: the whole sweep, one seed"
    assert kc._row_of("the ladder given a budget of 10% of the sweep (trained probes, seed 1)") == \
        "the ladder given a budget of 10% of the sweep (trained probes)"
    assert kc._row_of("ablation: ladder without the rate pass (seed 0)") is None
    assert kc._row_of("lorplan + pattern") is None


def test_the_ablation_recommends_the_measured_knee_where_the_redraws_move_it_and_restores_them():
    from lorplan.core.lora import LoraTargets
    from lorplan.core.model import load_spec
    from lorplan.recommend import DataSize, LadderRow, adapter_size, capacity_prior, combine

    # one seed per rank: rank 8 barely reaches the bar, and rank 64's rise says the noise could put the knee at 16
    losses = {1: 1.5, 2: 1.4, 4: 1.2, 8: 1.045, 16: 1.03, 32: 1.0, 64: 1.03}
    rows = [LadderRow(r, 3e-3, v, seed=0, steps=10) for r, v in losses.items()]
    prior = capacity_prior(DataSize("causal-lm", trained_tokens=2_000_000),
                           adapter_size(load_spec("Qwen/Qwen2.5-0.5B-Instruct"), LoraTargets()))

    def rank() -> int:
        return combine(prior, default_lr=(3e-3, "test"), ladder=rows, base_loss=2.0).rank

    assert rank() == 16  # knee.likely_rank moves the knee's 8 up
    with kc.measured_knee_only():
        assert rank() == 8
    assert rank() == 16  # restored


def test_the_second_sweep_replays_as_a_sweep_of_its_own_seeds_renumbered():
    rows = kc.second_sweep(_sweep(), _second(), "cls-x")
    assert {r["seed"] for r in rows} == {0, 1, 2} and {r["kind"] for r in rows} == {"sweep", "base"}
    assert all(r["rank"] == 0 for r in rows if r["kind"] == "base") and len(rows) == 7 * 3 * 3 + 3 * 3
    # rank_regret's own knee on it is the second sweep's (16), not the first's (4)
    assert kc.replay.sweep_knee(rows, "cls-x").rank == 16


def test_a_redrawn_mean_of_n_seeds_varies_as_the_measured_spread_over_n():
    """Both noise models give a redrawn cell the variance of a mean of n seeds, s²/n, s² the measured seeds'
    sample variance (n − 1 in its denominator). Whole seeds: every ordered draw of n seeds from the m measured
    ones, equally likely, enumerated (exact); the deviations alone would give (m − 1)/m of it, which the
    √(m/(m−1)) scale restores. Independent: 20,000 seeded draws."""
    import itertools
    import math
    import random

    devs = {"cell": [0.3, -0.1, -0.2]}  # a cell's three measured seeds about their mean 1.0
    s2 = sum(d * d for d in devs["cell"]) / (len(devs["cell"]) - 1)
    for n in (1, 2, 4):
        values = []
        for draw in itertools.product(range(3), repeat=n):
            counts = [draw.count(j) for j in range(3)]
            values.append(kc._redraw({"cell": 1.0}, devs, n, "seeds", random.Random(0), counts)["cell"])
        mean = sum(values) / len(values)
        assert math.isclose(mean, 1.0)
        assert math.isclose(sum((v - 1.0) ** 2 for v in values) / len(values), s2 / n), n
    rng = random.Random(0)
    values = [kc._redraw({"cell": 1.0}, devs, 4, "independent", rng, [0, 0, 0])["cell"] for _ in range(20_000)]
    assert abs(sum((v - 1.0) ** 2 for v in values) / len(values) / (s2 / 4) - 1) < 0.05


def test_each_seed_group_is_read_as_the_sweep_rank_regret_replays():
    sweep, runs = _sweep(), _second()
    assert kc.group_rows(sweep, runs, "cls-x", (0, 1, 2)) == sweep  # the sweep itself, with its other rows
    assert kc.group_rows(sweep, runs, "cls-x", (3, 4, 5)) == kc.second_sweep(sweep, runs, "cls-x")
    later = [{**r, "seed": r["seed"] + 6} for r in runs if r["seed"] in (3, 4, 5)]  # seeds 9-11
    rows = kc.group_rows(sweep, runs + later, "cls-x", (9, 10, 11))
    assert {r["seed"] for r in rows} == {0, 1, 2} and len(rows) == 7 * 3 * 3 + 3 * 3
    assert kc.replay.sweep_knee(rows, "cls-x").rank == 16


def test_the_held_out_table_needs_three_complete_seed_groups():
    from rank_regret_tasks import TASKS

    task = next(t for t in TASKS if t.kind == "sequence-classification")
    sweep = [{**r, "task": task.name} for r in _sweep()]
    runs = [{**r, "task": task.name} for r in _second()]
    assert kc.held_out_lines(sweep, runs, (), [task]) == []  # two groups: nothing to hold out against yet


def test_a_recommended_rank_scores_its_hit_and_its_share_of_the_held_out_improvement():
    sweep, runs = _sweep(), _second()
    held = kc.group_knee(sweep, runs, "cls-x", (3, 4, 5))  # knee 16; rank 4 reaches half the best improvement
    c = [0, 0, 0, [], []]
    kc._score(c, 4, held, 4)
    kc._score(c, 16, held, 4)
    assert c[:3] == [1, 1, 2]  # 16 hits the held-out knee, 4 the every-seed knee
    assert abs(c[3][0] - 0.5) < 1e-9 and abs(c[3][1] - 0.97) < 1e-9
    assert c[4] == [2.0, 4.0]


def test_the_deferring_experiment_takes_16_only_where_the_ladder_cannot_tell_it_from_the_knee():
    assert kc.deferring(64, (2, 64)) == 16
    assert kc.deferring(4, (4, 16)) == 16
    assert kc.deferring(64, (32, 64)) == 64  # 16 lies below the band: the ladder's rank stands
    assert kc.deferring(2, (1, 8)) == 2
