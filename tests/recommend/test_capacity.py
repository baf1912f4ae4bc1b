"""The capacity prior's arithmetic against hand-computed numbers on catalog models."""

from __future__ import annotations

import json
import math

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets, trainable_params
from lorplan.core.model import load_spec
from lorplan.probe.runner import read_labels
from lorplan.recommend.capacity import adapter_size, capacity_prior, power_of_two_at_least
from lorplan.recommend.datasize import DataSize, label_entropy

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# Qwen2.5-0.5B: hidden 896, intermediate 4864, 24 layers, 2 KV heads of 64 -> k/v project 896 -> 128.
# Per layer, r·(d_in + d_out) summed: q 896+896, k 896+128, v 896+128, o 896+896, gate/up 896+4864, down 4864+896.
QWEN_PER_RANK = 24 * ((896 + 896) + 2 * (896 + 128) + (896 + 896) + 3 * (896 + 4864))
# MiniLM-L6 (BERT, hidden 384, intermediate 1536, 6 layers): query/key/value/attention.output.dense 384+384 each,
# intermediate 384+1536, output 1536+384; plus the pooler (384+384), which all-linear adapts too.
MINILM_PER_RANK = 6 * (4 * (384 + 384) + 2 * (384 + 1536)) + (384 + 384)
MINILM_HEAD = 384 * 2 + 2  # the classifier (2 labels), trained in full


def test_params_per_rank_by_hand_and_from_trainable_params():
    assert QWEN_PER_RANK == 549_888 and MINILM_PER_RANK == 42_240
    qwen = adapter_size(load_spec(QWEN), LoraTargets())
    assert (qwen.per_rank, qwen.fixed, qwen.min_dim) == (QWEN_PER_RANK, 0, 128)
    mini = adapter_size(load_spec(MINILM), LoraTargets())
    assert (mini.per_rank, mini.fixed, mini.min_dim) == (MINILM_PER_RANK, MINILM_HEAD, 384)
    for spec, size in ((load_spec(QWEN), qwen), (load_spec(MINILM), mini)):
        for rank in (1, 3, 64, 256):
            assert size.params(rank) == trainable_params(spec, LoraTargets(), rank)


def test_affine_with_rank_pattern_and_dora():
    spec = load_spec(QWEN)
    targets = LoraTargets(modules=("q_proj", "v_proj"), rank_pattern={"v_proj": 4}, use_dora=True)
    size = adapter_size(spec, targets)
    # q_proj grows with r; v_proj stays at rank 4; DoRA adds out_features per module
    assert size.per_rank == 24 * (896 + 896)
    assert size.fixed == 24 * (4 * (896 + 128) + 896 + 128)
    for rank in (1, 8, 32):
        assert size.params(rank) == trainable_params(spec, targets, rank)


def test_token_rule_by_hand():
    size = adapter_size(load_spec(QWEN), LoraTargets())
    prior = capacity_prior(DataSize("causal-lm", trained_tokens=2_000_000, epochs=3), size)
    (rule,) = prior.rules
    assert rule.name == "token rule" and rule.need == 2_000_000
    assert rule.units == pytest.approx(2_000_000 / 549_888)  # 3.64 rank units
    assert rule.rank == prior.rank == 4 and (prior.low, prior.high) == (2, 8)
    assert "2,000,000 trained tokens" in rule.explanation and "549,888 LoRA parameters per rank unit" in rule.explanation
    assert "3.64 rank units → rank 4 by the token rule" in rule.explanation
    assert "epochs (3) add no information" in rule.explanation


def test_epochs_add_nothing_and_duplicates_are_left_out():
    size = adapter_size(load_spec(QWEN), LoraTargets())
    one = capacity_prior(DataSize("causal-lm", trained_tokens=5_000_000, epochs=1), size)
    ten = capacity_prior(DataSize("causal-lm", trained_tokens=5_000_000, epochs=10), size)
    assert one.rank == ten.rank == 16 and one.rules[0].need == ten.rules[0].need == 5_000_000
    dup = capacity_prior(DataSize("causal-lm", trained_tokens=5_000_000, examples=1000, duplicates=600), size)
    assert dup.rules[0].need == 2_000_000 and dup.rank == 4
    assert "600 exact duplicates left out" in dup.rules[0].explanation


def test_one_rank_unit_covers_a_small_dataset():
    size = adapter_size(load_spec(QWEN), LoraTargets())
    prior = capacity_prior(DataSize("causal-lm", trained_tokens=12_400), size)
    assert prior.rank == 1 and (prior.low, prior.high) == (1, 2)
    assert "one rank unit already covers the 12,400 parameters this asks for → rank 1 by the token rule" in \
        prior.rules[0].explanation


def test_rank_is_clamped_by_the_smallest_target_dimension_and_the_range():
    size = adapter_size(load_spec(QWEN), LoraTargets())
    prior = capacity_prior(DataSize("causal-lm", trained_tokens=900_000_000), size)
    assert prior.rank == 128  # k_proj / v_proj have 128 output dimensions
    assert "kept at rank 128 (an adapted module has only 128 dimensions)" in prior.rules[0].explanation
    mini = adapter_size(load_spec(MINILM), LoraTargets())
    big = capacity_prior(DataSize("sequence-classification", examples=50_000_000, num_labels=2), mini)
    assert big.rank == 256  # the largest rank considered (MiniLM's modules have 384 dimensions)
    small = capacity_prior(DataSize("causal-lm", trained_tokens=10), size, min_rank=4, max_rank=64)
    assert small.rank == 4


def test_classification_bits_rule_by_hand():
    size = adapter_size(load_spec(MINILM), LoraTargets())
    data = DataSize("sequence-classification", examples=200_000, num_labels=20)
    prior = capacity_prior(data, size)
    token, bits = prior.rules
    assert token.need == 200_000 and token.rank == 8  # 4.73 units -> 8
    assert bits.need == math.ceil(200_000 * math.log2(20) / 2)  # 432,193 parameters at 2 bits each
    assert bits.rank == 16  # 10.23 units -> 16
    assert prior.rank == 16 and (prior.low, prior.high) == (4, 64)  # up to the classifier knees measured
    assert "the bits rule asks for more" in prior.explanation


def test_a_classifiers_band_reaches_the_knees_lorplans_benchmarks_measured():
    """Both rules say rank 1 for ~900 examples of 6 labels on MiniLM, where rank_regret measured knees of
    32-64: the band says the prior cannot rule those out (the rank stays the rules')."""
    size = adapter_size(load_spec(MINILM), LoraTargets())
    prior = capacity_prior(DataSize("sequence-classification", examples=938, num_labels=6), size)
    assert prior.rank == 1 and (prior.low, prior.high) == (1, 64)
    assert "measured knees were ranks 8-64 where both rules said 1" in prior.explanation
    lm = capacity_prior(DataSize("causal-lm", trained_tokens=12_400), size)
    assert (lm.low, lm.high) == (1, 2) and "measured knees" not in lm.explanation  # LMs: within a doubling


def test_bits_rule_for_causal_lm_only_with_bits_per_token():
    size = adapter_size(load_spec(QWEN), LoraTargets())
    data = DataSize("causal-lm", trained_tokens=10_000_000)
    assert [r.name for r in capacity_prior(data, size).rules] == ["token rule"]
    prior = capacity_prior(data, size, bits_per_token=0.5)
    assert prior.rules[1].need == 2_500_000 and prior.rules[1].rank == 8
    assert prior.rank == 32  # the token rule: 10M / 549,888 = 18.2 -> 32


def test_label_entropy_and_counting(tmp_path):
    assert label_entropy({"a": 5, "b": 5}) == pytest.approx(1.0)
    assert label_entropy({"a": 1, "b": 1, "c": 1, "d": 1}) == pytest.approx(2.0)
    assert label_entropy({"a": 10}) == 0.0
    path = tmp_path / "cls.jsonl"
    rows = [{"text": f"t{i}", "label": "pos" if i % 4 else "neg"} for i in range(40)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    counts = read_labels(path, f"--data {path}").counts  # what lorplan recommend --data counts
    assert counts == {"pos": 30, "neg": 10}
    p = 0.75
    assert label_entropy(counts) == pytest.approx(-(p * math.log2(p) + (1 - p) * math.log2(1 - p)))
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"text": "no label"}\n', encoding="utf-8")
    with pytest.raises(BadInput) as err:
        read_labels(plain, f"--data {plain}")
    assert str(err.value) == f"--data {plain}: sequence classification needs a label column in the data"


def test_mixed_labels_size_the_head_and_keep_the_entropy_of_their_classes(tmp_path):
    """Labels 0, 5 and "spam": a head of 7 outputs (ids 0 to 5, then "spam" at 6, as lorplan train numbers
    them), but the entropy the capacity prior counts is over the 3 classes the file holds."""
    from lorplan.core.data import profile_dataset
    from lorplan.recommend.datasize import data_size_from_profile

    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}", "label": [0, 5, "spam"][i % 3]}) + "\n"
                            for i in range(90)), encoding="utf-8")
    counts = read_labels(path, f"--data {path}").counts
    assert counts == {0: 30, 5: 30, "spam": 30}
    size = data_size_from_profile(profile_dataset(path), task="sequence-classification", label_counts=counts)
    assert size.num_labels == 7  # was 3: the distinct labels, a head lorplan train cannot use
    assert size.label_entropy_bits == pytest.approx(math.log2(3)) and size.entropy_counted
    assert size.label_bits == pytest.approx(90 * math.log2(3))


def test_power_of_two_rounding():
    assert [power_of_two_at_least(x) for x in (0.2, 1, 1.01, 3, 4, 5, 300)] == [1, 1, 2, 4, 4, 8, 256]


def test_bad_data_sizes():
    with pytest.raises(BadInput, match="--trained-tokens"):
        DataSize("causal-lm")
    with pytest.raises(BadInput, match="--examples"):
        DataSize("sequence-classification", num_labels=2)
    with pytest.raises(BadInput, match="--num-labels"):
        DataSize("sequence-classification", examples=10, num_labels=1)
    with pytest.raises(BadInput, match="--task"):
        DataSize("regression", trained_tokens=5)
    with pytest.raises(BadInput, match="--epochs"):
        DataSize("causal-lm", trained_tokens=5, epochs=0)
