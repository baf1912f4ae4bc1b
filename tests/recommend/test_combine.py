"""Combining the evidence, and the memory verdict of the recommended rank."""

from __future__ import annotations

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets
from lorplan.core.memory import TrainingSetup, rank_table
from lorplan.core.memory.report import fit_hints
from lorplan.core.model import load_spec
from lorplan.recommend import (
    DataSize,
    LadderRow,
    RankPattern,
    adapter_size,
    capacity_prior,
    combine,
    default_learning_rate,
    price_fit,
)

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
CONTRACT = ("rank", "alpha", "use_rslora", "learning_rate", "target_modules", "rank_pattern", "tolerance",
            "confidence", "cost_seconds", "fits", "ladder", "evidence")


def prior(tokens: int = 2_000_000, examples: int | None = 5000):
    size = adapter_size(load_spec(QWEN), LoraTargets())
    return capacity_prior(DataSize("causal-lm", trained_tokens=tokens, examples=examples), size)


LR = (1e-3, "learning rate 0.001: the default")


def ladder(losses: dict[int, float], lr: float = 1e-3, seconds: float = 10.0) -> list[LadderRow]:
    return [LadderRow(r, lr, loss, train_seconds=seconds, steps=100) for r, loss in losses.items()]


def test_prior_alone():
    p = prior()
    rec = combine(p, default_lr=LR)
    assert (rec.rank, rec.confidence) == (4, (2, 8)) and rec.rank == p.rank
    assert rec.alpha == 32 and rec.use_rslora is False and rec.learning_rate == 1e-3
    assert rec.cost_seconds == 0 and rec.ladder == () and rec.tolerance == 0.05
    sources = [e.source for e in rec.evidence]
    assert sources[:2] == ["token rule", "capacity prior"] and "scaling" in sources and "learning rate" in sources
    out = rec.to_json()
    assert tuple(out)[: len(CONTRACT)] == CONTRACT
    assert out["confidence"] == {"low": 2, "high": 8} and out["capacity"]["params_per_rank"] == 549_888


def test_ladder_decides_and_the_disagreement_is_said():
    rows = ladder({4: 2.5, 16: 2.02, 64: 2.0})
    rec = combine(prior(), default_lr=LR, ladder=rows, base_loss=3.0)
    assert rec.rank == 16 and rec.confidence == (8, 16)
    assert rec.cost_seconds == 30.0 and len(rec.ladder) == 3
    (dis,) = [e for e in rec.evidence if e.source == "disagreement"]
    assert dis.explanation == ("the prior says 4, the ladder's knee is 16: the ladder measured your data; the prior "
                               "is a rule of thumb")
    assert rec.evidence[0].source == "ladder" and rec.evidence[0].rank == 16


def test_agreement_says_no_disagreement():
    rec = combine(prior(), default_lr=LR, ladder=ladder({1: 2.6, 4: 2.03, 16: 2.0}), base_loss=3.0)
    assert rec.rank == 4 and not [e for e in rec.evidence if e.source == "disagreement"]


def test_learning_rate_from_the_ladder_when_it_tried_several():
    rows = ladder({4: 2.5, 16: 2.05, 64: 2.0}, lr=1e-3) + ladder({16: 2.02}, lr=3e-4)
    rec = combine(prior(), default_lr=LR, ladder=rows, base_loss=3.0)
    assert rec.rank == 16 and rec.learning_rate == 3e-4
    (lr,) = [e for e in rec.evidence if e.source == "learning rate"]
    assert "the lowest mean eval loss (2.02) of 0.0003, 0.001 at rank 16" in lr.explanation


def test_too_small_dataset_uses_the_prior_alone():
    p = prior(tokens=5000, examples=20)
    rec = combine(p, default_lr=LR, ladder=ladder({4: 2.5, 16: 2.0}), base_loss=3.0)
    assert rec.rank == p.rank == 1 and rec.confidence == (p.low, p.high)
    data = [e for e in rec.evidence if e.source == "data"]
    assert data and "20 examples are too few" in data[0].explanation
    assert any(e.source == "ladder" and "were not used" in e.explanation for e in rec.evidence)


def test_unfinished_probes_widen_the_band():
    rows = ladder({4: 2.5, 16: 2.02}) + [LadderRow(64, 1e-3, None, state="oom")]
    rec = combine(prior(), default_lr=LR, ladder=rows, base_loss=3.0)
    assert rec.rank == 16 and rec.confidence == (8, 64)
    (lost,) = [e for e in rec.evidence if e.source == "ladder" and "did not finish" in e.explanation]
    assert "rank 64 ran out of memory" in lost.explanation and "band reaches up to it" in lost.explanation


def test_unfinished_probes_name_each_rank_once():
    """A ladder cut short with two seeds per rank (as gpu_recommend_check's demo was on the H200) names each rank
    once, not "rank 4 was cancelled, rank 4 was cancelled, …"."""
    lost = [LadderRow(r, 1e-3, None, seed=s, state="cancelled") for s in (1, 2) for r in (4, 8, 16, 32)]
    rows = ladder({4: 2.5, 16: 2.02}) + lost + [LadderRow(64, 1e-3, None, state="oom"),
                                                 LadderRow(64, 1e-3, None, seed=1, state="oom"),
                                                 LadderRow(2, 1e-3, None, state="failed")]
    rec = combine(prior(), default_lr=LR, ladder=rows, base_loss=3.0)
    (words,) = [e.explanation for e in rec.evidence if e.source == "ladder" and "did not finish" in e.explanation]
    assert ("11 probes did not finish (ranks 4, 8, 16 and 32 were cancelled (2 probes each); rank 64 ran out of "
            "memory (2 probes); rank 2 failed)") in words
    uneven = [LadderRow(4, 1e-3, None, state="cancelled"), LadderRow(8, 1e-3, None, state="cancelled"),
              LadderRow(8, 1e-3, None, seed=1, state="cancelled")]
    rec = combine(prior(), default_lr=LR, ladder=ladder({4: 2.5, 16: 2.02}) + uneven, base_loss=3.0)
    assert any("ranks 4, 8 (2 probes) were cancelled" in e.explanation for e in rec.evidence)


def test_pattern_and_price_are_carried():
    spec = load_spec(QWEN)
    setup = TrainingSetup(seq_len=512)
    pattern = RankPattern({"down_proj": 8}, "pattern", "down_proj carries most of the signal")
    rec = combine(prior(), default_lr=LR, pattern=pattern, price=lambda r: price_fit(spec, setup, r, 80 * 1024**3))
    assert rec.rank_pattern == {"down_proj": 8}
    assert rec.fits.fits is True and rec.fits.total_bytes == rank_table(spec, setup, (4,)).rows[0].memory.total
    assert any(e.source == "memory" and e.rank == 4 for e in rec.evidence)
    assert rec.to_json()["fits"]["fits"] is True


def test_ladder_without_base_loss_is_bad_input():
    with pytest.raises(BadInput, match="base model's eval loss"):
        combine(prior(), default_lr=LR, ladder=ladder({4: 2.0}))


def test_price_fit_names_what_would_fit_and_which_rank_fits():
    spec = load_spec(QWEN)
    setup = TrainingSetup(seq_len=2048, micro_batch=8)
    rows = {r.rank: r for r in rank_table(spec, setup, (1, 2, 4, 8, 16, 32, 64), 24 * 1024**3).rows}
    budget = rows[64].memory.total - 1  # rank 64 misses by one byte; lower ranks need less
    fit = price_fit(spec, setup, 64, budget, "test GPU")
    assert fit.fits is False and fit.rank_that_fits == 32
    changes = {r.change: r for r in fit.remedies}
    assert changes["--grad-checkpointing"].fits and changes["--grad-checkpointing"].total_bytes < budget
    assert "--micro-batch 7" in changes  # the largest micro-batch that fits at rank 64
    assert "rank 32 fits as set up" in fit.explanation and "test GPU" in fit.explanation
    none = price_fit(spec, setup, 4, None)
    assert none.fits is None and none.remedies == () and "no GPU budget" in none.explanation


def test_default_learning_rates():
    assert default_learning_rate("meta-llama/Llama-3.1-8B-Instruct", "causal-lm", 8_000_000_000)[0] == 3e-4
    assert default_learning_rate("meta-llama/Llama-3.2-1B-Instruct", "causal-lm", 1_200_000_000)[0] == 1e-3
    assert default_learning_rate("Qwen/Qwen2.5-72B", "causal-lm", 72_000_000_000)[0] == 3e-4
    lr, why = default_learning_rate("x", "sequence-classification", 22_000_000)
    assert lr == 1e-3 and "BERT" in why


def test_price_fit_finds_the_smallest_combination_when_no_single_change_is_enough():
    from dataclasses import replace

    from lorplan.core.memory import estimate

    spec = load_spec(QWEN)
    setup = TrainingSetup(seq_len=2048, micro_batch=4)
    singles = [estimate(spec, replace(setup, **c), 32).total for c in
               ({"micro_batch": 1}, {"grad_checkpointing": True}, {"optimizer": "adamw-8bit"},
                {"quant": "nf4", "double_quant": True})]
    pair = estimate(spec, replace(setup, micro_batch=1, grad_checkpointing=True), 32).total
    assert pair < min(singles)  # the premise: together they need less than any one alone
    fit = price_fit(spec, setup, 32, pair)
    row = rank_table(spec, setup, (32,), pair).rows[0]
    # the plan table's hints (core.memory.report.fit_hints), spelled as flags: one rule for both screens
    assert [(r.change, r.total_bytes, r.fits) for r in fit.remedies] == [
        (h.flags, h.total, h.fits) for h in fit_hints(spec, setup, row, pair)]
    singles = [r for r in fit.remedies if r.change.count("--") == 1 and not r.change.startswith("--seq-len")]
    assert singles and not any(r.fits for r in singles)  # no single change of how it trains is enough
    assert fit.remedies[-1].change.startswith("--seq-len")  # last: shorter sequences change what is trained
    works = [r.change for r in fit.remedies if r.fits]
    assert "--micro-batch 1 --grad-checkpointing" in works
    assert "it fits with --micro-batch 1 --grad-checkpointing" in fit.explanation


def test_a_recommendation_reads_back_what_to_json_wrote():
    import json

    from lorplan.recommend import Recommendation

    spec = load_spec(QWEN)
    setup = TrainingSetup(seq_len=2048, micro_batch=8)
    budget = rank_table(spec, setup, (16,), None).rows[0].memory.total - 1  # the knee's rank 16 misses by a byte
    rec = combine(prior(), default_lr=LR, ladder=ladder({4: 2.0, 16: 1.6, 64: 1.58}), base_loss=3.0,
                  price=lambda r: price_fit(spec, setup, r, budget, "test GPU"))
    assert rec.fits is not None and rec.fits.remedies and rec.ladder and rec.evidence  # every nested part present
    back = Recommendation.from_json(json.loads(json.dumps(rec.to_json())))
    assert back == rec
    newer = rec.to_json()
    newer["ladder"][0]["from_a_newer_lorplan"] = 1  # an unknown row key is left out, not an error
    assert Recommendation.from_json(newer).ladder == rec.ladder
