"""Ladder planning and successive halving on synthetic curves with known parameters."""

from __future__ import annotations

import random

import pytest

from lorplan.core.errors import BadInput
from lorplan.recommend.ladder import (
    coarse_ladder,
    halving_rungs,
    halving_step,
    plan_ladder,
    planned_steps,
    refine_ladder,
)

FINAL = 1000
# eval loss of rank r at step t: A[r] + 3·t^-0.5 (the floor A[r] falls with rank and flattens from rank 16)
A = {1: 2.5, 4: 2.1, 16: 2.0, 64: 1.99, 256: 1.985}
BASE = 3.0


def curves(upto: int, noise: float = 0.0, seed: int = 0) -> dict[int, list[tuple[int, float]]]:
    rng = random.Random(seed)
    return {r: [(t, a + 3.0 * t ** -0.5 + rng.gauss(0, noise)) for t in range(10, upto + 1, 10)] for r, a in A.items()}


def test_coarse_and_refined_ladders():
    assert coarse_ladder() == (1, 4, 16, 64, 256)
    assert coarse_ladder(8) == (2, 8, 32, 128)
    assert coarse_ladder(256) == (1, 4, 16, 64, 256)
    assert coarse_ladder(16, low=4, high=64) == (4, 16, 64)
    assert refine_ladder(16, [4, 16, 64]) == (8, 32)
    assert refine_ladder(1, [1, 4]) == (2,)
    assert refine_ladder(256, [64, 256]) == (128,)
    assert refine_ladder(16, [8, 16, 32]) == ()
    # the best rank is the largest measured: the best may lie above it, so rank 64 is tried too
    assert refine_ladder(8, [2, 8, 32], high=64, best=32) == (4, 16, 64)
    assert refine_ladder(8, [2, 8, 32], high=64, best=8) == (4, 16)  # a best inside the ladder: nothing above
    assert refine_ladder(8, [2, 8, 32], high=32, best=32) == (4, 16)  # nothing above the range
    assert refine_ladder(32, [2, 8, 32], high=64, best=32) == (16, 64)  # knee × 2 is the same rank


def test_planned_steps_and_rungs():
    assert planned_steps(1000, 3, 16) == 188  # ceil(3000 / 16)
    assert halving_rungs(800, eta=2, min_steps=50) == (50, 100, 200, 400)
    assert halving_rungs(800, eta=4, min_steps=10) == (12, 50, 200)
    with pytest.raises(BadInput):
        planned_steps(0, 1, 1)
    with pytest.raises(BadInput):
        halving_rungs(100, eta=1)


def test_budget_buys_probes_in_order():
    full = plan_ladder(600, 60)
    assert full.ranks == (1, 4, 16, 64, 256) and (full.refine, full.extra_learning_rates) == (2, 2)
    # 10 probes: 5 ranks, 2 more rates, 2 refinements, and the one left for a second seed (up to 4)
    assert full.probes == 10 and full.seconds == 600 and full.second_seed == 1
    assert "then up to 1 with a second seed at the ranks that can still be the knee" in full.explanation
    roomy = plan_ladder(1200, 60)  # 20 probes: the second seeds take 4, the rest is not spent
    assert roomy.probes == 13 and roomy.second_seed == 4
    short = plan_ladder(150, 60, prior_rank=8)  # 2 probes: the prior and its nearest neighbour
    assert short.ranks == (2, 8) and short.probes == 2 and short.refine == 0
    parallel = plan_ladder(300, 60, parallel=2)  # 10 probe slots on 2 GPUs
    assert parallel.probes == 10 and parallel.seconds == 300
    with_base = plan_ladder(180, 60, base_probe=True)
    assert with_base.ranks == (4, 16) and with_base.probes == 3
    none = plan_ladder(60, 60)
    assert none.probes == 0 and none.ranks == () and "capacity prior alone" in none.explanation
    with pytest.raises(BadInput):
        plan_ladder(100, 0)


def test_seeds_multiply_every_probe_the_budget_buys():
    one = plan_ladder(600, 60)
    three = plan_ladder(1800, 60, seeds=3)  # three times the budget buys the same ladder, each probe thrice
    assert (three.ranks, three.refine, three.extra_learning_rates) == (one.ranks, one.refine, one.extra_learning_rates)
    # with several seeds there is no second-seed pass: one seed's ladder spends one probe more on it
    assert three.probes == 3 * (one.probes - one.second_seed) == 27 and three.seconds == 1620
    assert three.second_seed == 0 and "second seed" not in three.explanation
    assert "27 probes" in three.explanation and "each of the following with 3 training seeds" in three.explanation
    thin = plan_ladder(600, 60, seeds=3)  # 10 probes buy 3 of one seed: fewer ranks, no other rates
    assert len(thin.ranks) == 3 and thin.extra_learning_rates == 0 and thin.probes == 9
    none = plan_ladder(300, 60, seeds=3, base_probe=True)  # 5 probes: 1 of one seed, not base + 2 ranks
    assert none.probes == 0 and "buys 5 probes" in none.explanation and "each with 3 seeds" in none.explanation
    with pytest.raises(BadInput):
        plan_ladder(600, 60, seeds=0)


def test_halving_stops_ranks_that_can_be_neither_knee_nor_best():
    # exact curves: predictions at step 1000 are A[r] + 3/sqrt(1000); best rank 256, threshold 2.126
    d = halving_step(curves(200), BASE, final_step=FINAL)
    assert d.keep == (16, 256) and d.stop == (1, 4, 64)
    verdict = {v.rank: v for v in d.verdicts}
    assert verdict[16].predicted == pytest.approx(2.0 + 3 * FINAL ** -0.5, rel=1e-6)
    assert "cannot reach the knee" in verdict[4].reason
    assert "rank 16 already reaches the knee for certain" in verdict[64].reason
    assert d.step == 200


def test_halving_under_noise_keeps_the_knee():
    for seed in range(5):
        d = halving_step(curves(200, noise=0.01, seed=seed), BASE, final_step=FINAL)
        assert 16 in d.keep and 1 in d.stop  # rank 1 is far off; the true knee is never stopped


def test_halving_keeps_everything_before_any_sure_improvement():
    d = halving_step(curves(200), 1.0, final_step=FINAL)
    assert d.stop == () and set(d.keep) == set(A)


def test_probe_length_is_asked_or_the_default_and_never_beyond_the_planned_run():
    from lorplan.recommend.launch import PROBE_STEPS, probe_length

    steps, note = probe_length(1000)
    assert steps == PROBE_STEPS == 100 and "--probe-steps up to 1,000" in note and "knee low" in note
    assert probe_length(1000, 400)[0] == 400
    assert probe_length(60) == (60, "")  # a short planned run: probes as long as it, nothing to say
    assert probe_length(400, 400) == (400, "")
    steps, note = probe_length(300, 500)
    assert steps == 300 and note == "--probe-steps 500 is more than the planned run's 300 steps, so probes train 300"


def test_spare_budget_lengthens_probes_up_to_the_planned_run_within_half_the_budget():
    from lorplan.recommend.ladder import SPARE_SHARE, lengthen_probes

    def seconds_at(steps):  # 10 s to start, 1 s a step
        return 10.0 + steps

    # 10 probes, 2 at a time: 5 rounds of (10 + steps) s must stay within half of 2,000 s -> steps ≤ 190
    assert SPARE_SHARE == 0.5
    assert lengthen_probes(100, 1000, 2000, 10, 2, seconds_at) == 190
    assert lengthen_probes(100, 150, 2000, 10, 2, seconds_at) == 150  # never beyond the planned run
    assert lengthen_probes(100, 1000, 2000, 10, 1, seconds_at) == 100  # 10 rounds of 110 s: no room at all
    assert lengthen_probes(100, 1000, 1000, 10, 2, seconds_at) == 100  # 5 × 110 s > 500 s: as asked
    assert lengthen_probes(100, 100, 10**6, 10, 2, seconds_at) == 100  # already the planned length
    assert lengthen_probes(100, 1000, 2060, 10, 2, seconds_at) == 190  # 196 fits; rounded down to a tenth


def test_probe_seconds_small_model_on_gpu_is_bound_by_steps_not_flops():
    """A 157M-parameter probe of 100 steps at 4 x 82 tokens: FLOPs alone say 0.03 s of training on a GPU, but the
    H200 run took 6.5-8.5 s (kernel launches and Python); the estimate keeps GPU_STEP_SECONDS a step. An 8B model
    is bound by its FLOPs, and the CPU estimate has no floor."""
    from lorplan.recommend.ladder import (
        CPU_START_SECONDS,
        GPU_STEP_SECONDS,
        START_SECONDS,
        estimate_probe_seconds,
    )

    small = estimate_probe_seconds(157_000_000, 4 * 82, 100, gpu=True)
    load = START_SECONDS + 157_000_000 * 2 / 5e8
    assert small == pytest.approx(load + 100 * GPU_STEP_SECONDS)
    assert 20 < small < 30  # the probes' wall time there was 20-26 s each (load 10-14 s + training)
    big = estimate_probe_seconds(8_000_000_000, 4 * 2048, 100, gpu=True)
    # a LoRA step: 2N forward + 2N backward through the frozen weights (no weight gradient for them)
    flops_only = START_SECONDS + 8e9 * 2 / 5e8 + 4 * 8e9 * 4 * 2048 * 100 / 1e14
    assert big == pytest.approx(flops_only)
    # gradient checkpointing recomputes the forward: 6N
    assert estimate_probe_seconds(8_000_000_000, 4 * 2048, 100, gpu=True, recompute=True) == pytest.approx(
        START_SECONDS + 8e9 * 2 / 5e8 + 6 * 8e9 * 4 * 2048 * 100 / 1e14)
    cpu = estimate_probe_seconds(157_000_000, 4 * 82, 100, gpu=False)
    assert cpu == pytest.approx(CPU_START_SECONDS + 157_000_000 * 4 / 5e8 + 4 * 157e6 * 4 * 82 * 100 / 5e10)
    # only the weights a token multiplies through cost FLOPs; loading reads them all
    lean = estimate_probe_seconds(157_000_000, 4 * 82, 100, gpu=False, matmul_params=100_000_000, eval_tokens=50,
                                  evals=10)
    assert lean == pytest.approx(CPU_START_SECONDS + 157_000_000 * 4 / 5e8 + 4 * 1e8 * 4 * 82 * 100 / 5e10
                                 + 2 * 1e8 * 50 * 10 / 5e10)


def test_matmul_params_leave_out_embedding_lookups_and_count_the_experts_a_token_uses():
    from lorplan.core.model import load_spec

    minilm = load_spec("all-MiniLM-L6-v2")  # BERT: half its parameters are the word embeddings, a lookup
    assert minilm.matmul_params == sum(m.params for m in minilm.linears) == 10_786_178
    assert minilm.total_params - minilm.matmul_params >= minilm.vocab_size * minilm.hidden_size
    qwen = load_spec("Qwen/Qwen2.5-0.5B-Instruct")  # tied: the head's matmul uses the embedding's weight
    assert qwen.tie_word_embeddings and qwen.matmul_params == sum(m.params for m in (*qwen.linears,
                                                                                    *qwen.tied_linears))
    llama = load_spec("meta-llama/Llama-3.1-8B-Instruct")  # untied: the head counts, the input embedding not
    assert llama.total_params - llama.matmul_params == llama.vocab_size * llama.hidden_size + sum(
        t.numel for t in llama.tensors if t.kind == "norm")
    mixtral = load_spec("mistralai/Mixtral-8x7B-v0.1")  # 2 of 8 experts a token: about 12.9B of 46.7B
    assert 12.5e9 < mixtral.matmul_params < 13.0e9 < mixtral.total_params


def test_a_busy_cpu_slows_the_estimated_probe_and_the_plan_says_it_allowed_for_it():
    """On a busy 2-core machine (load 5.1) a 4-minute ladder planned 11 probes of about 20 s from the idle
    estimate; they took about 54 s, so only the learning-rate pass ran. The estimate now allows for the load
    (a rough model: one more runnable task among the load's, CpuLoad.slowdown) and the plan says so."""
    from lorplan.recommend.ladder import CpuLoad

    assert CpuLoad(2, 0.0).slowdown() == 1.0 and CpuLoad(2, 1.0).slowdown() == 1.0  # a core to itself
    assert CpuLoad(2, 5.1).slowdown() == pytest.approx(3.05)  # 20 s -> 61 s (54 s measured)
    assert CpuLoad(2, 1.5).slowdown() == pytest.approx(1.25)  # 20 s -> 25 s (29-30 s measured)
    assert CpuLoad(2, 5.1).slowdown(2) == pytest.approx(3.55)  # two probes at once share the cores too
    busy = CpuLoad(2, 5.1)
    plan = plan_ladder(240, 20 * busy.slowdown(), base_probe=True, load=busy.words())
    assert plan.explanation.startswith("3 probes of about 61 s each (allowing for the load: 2 cores, load 5.1; "
                                       "183 s of the 240 s budget)"), plan.explanation
    assert "allowing for the load" not in plan_ladder(240, 20, base_probe=True).explanation
    short = plan_ladder(130, 61, base_probe=True, load=busy.words())
    assert "buys 2 probes of about 61 s (allowing for the load: 2 cores, load 5.1)" in short.explanation


def test_halving_reasons_show_a_stopped_rank_s_loss_above_the_threshold_it_missed():
    """The reasons compare a rank's predicted loss with the knee's threshold: at 4 digits a rank 4 predicted at
    10.2936, stopped for missing a threshold of 10.29075, read 'predicted 10.29 ..., above the most lenient
    threshold 10.29' (knee.loss_digits, the knee's evidence's rule, gives the digits that tell them apart)."""
    import re

    # one eval point each: the prediction is that loss, ± 0
    d = halving_step({4: [(10, 10.2936)], 16: [(10, 10.2900)]}, 10.305, final_step=FINAL)
    assert d.stop == (4,) and d.keep == (16,)
    reason = {v.rank: v.reason for v in d.verdicts}[4]
    shown = re.search(r"predicted ([0-9.]+) .* threshold ([0-9.]+)$", reason)
    assert shown, reason
    assert float(shown.group(1)) > float(shown.group(2)), reason
    # a sweep that 4 digits already separate reads as before
    d = halving_step(curves(200), BASE, final_step=FINAL)
    assert re.search(r"predicted 2\.\d{3} ± ", {v.rank: v.reason for v in d.verdicts}[4]), d.verdicts
