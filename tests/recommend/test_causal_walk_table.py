"""A causal LM's ladder table, as `lorplan recommend` printed it for a 3-layer Llama on the shipped arithmetic
data: two seeds whose training times differ put train s's interval below 0, and the legend that explains the
clipped cell named accuracy (a classifier's column this table does not have) and loss, not train s."""

from __future__ import annotations

from lorplan.recommend.ladder_spec import LadderSpec, LadderState
from lorplan.recommend.measured import recommendation_json
from lorplan.recommend.observe import ProbeObs
from lorplan.recommend.table import ladder_table

LR = 3e-3
# rank: (eval loss, train seconds) per seed; rank 16's 0.3 s and 3.7 s give 2.0 ± 10.8 s, clipped at 0
RUNS = {0: [(6.40, 0.0)], 4: [(6.13, 3.0), (6.19, 2.8)], 8: [(6.16, 2.9), (6.18, 2.5)],
        16: [(6.10, 0.3), (6.23, 3.7)]}


def causal_ladder(runs: dict) -> dict:
    spec = LadderSpec(kind="data", model="/tmp/smol", spec_source="/tmp/smol", task="causal-lm",
                      target_modules=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                      data={"task": "causal-lm", "examples": 200, "trained_tokens": 600},
                      adapter={"model": "m", "targets": "all-linear", "per_rank": 5_088, "fixed": 0, "min_dim": 32},
                      learning_rate=LR, learning_rate_why="test", planned_steps=180, probe_steps=100, seeds=(42, 43),
                      ranks=(4, 8, 16), refine=False, extra_learning_rates=False, halving=False)
    obs = []
    for rank, seeds in runs.items():
        for seed, (loss, seconds) in zip((42, 43), seeds, strict=False):
            obs.append(ProbeObs(id=f"r{rank}-s{seed}", rank=rank, lr=LR, seed=seed, state="finished",
                                step=100 if rank else 0, curve=((50, loss + 0.1), (100, loss)) if rank else ((0, loss),),
                                eval_accuracy=None, train_seconds=seconds, wall_seconds=15.0,
                                trainable_params=5_088 * rank, peak_memory_bytes=470_000_000 + rank * 1_000))
    return recommendation_json(spec, obs, LadderState(done=True), run_id="walk")


def test_a_clipped_train_time_is_named_in_the_legend_and_no_accuracy_is_spoken_of():
    lines = ladder_table(causal_ladder(RUNS))
    row16 = next(ln for ln in lines if ln.split()[0] == "16")
    assert "[0.0, " in row16  # train s clipped at 0; eval loss within range keeps its ±
    legend = next(ln for ln in lines if ln.strip().startswith("[low, high]"))
    assert legend.endswith("(train s at least 0)")
    assert not any("accuracy" in ln for ln in lines)


def test_no_clipping_legend_when_every_interval_is_within_range():
    steady = {rank: [(loss, 2.0 + i * 0.01) for i, (loss, _) in enumerate(seeds)] for rank, seeds in RUNS.items()}
    assert not any("[low, high]" in ln for ln in ladder_table(causal_ladder(steady)))
