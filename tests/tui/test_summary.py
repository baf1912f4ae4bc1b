"""The hint under the table for a rank that does not fit, from the fit solver's answers."""

from __future__ import annotations

from types import SimpleNamespace

from lorplan.core.memory import TrainingSetup
from lorplan.tui.panels.plan_view import _what_would_fit


def row(max_micro_batch, max_seq_len):
    return SimpleNamespace(max_micro_batch=max_micro_batch, max_seq_len=max_seq_len)


def test_smaller_micro_batch_first():
    assert "micro-batch 2" in _what_would_fit(row(2, 9000), TrainingSetup(micro_batch=8))


def test_shorter_sequences_when_one_sequence_is_too_long():
    assert "at most 870 tokens" in _what_would_fit(row(0, 870), TrainingSetup())


def test_weights_alone_suggest_quantization_then_sharding():
    assert "NF4" in _what_would_fit(row(0, 0), TrainingSetup())
    hint = _what_would_fit(row(0, 0), TrainingSetup(quant="nf4"))
    assert "NF4" not in hint and "ZeRO-3" in hint
