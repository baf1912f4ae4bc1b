"""Without a tokenizer the profile estimates tokens at characters / 4 (counting.CharEstimate). An assistant turn
of OpenAI's "weight": 0 is never trained by lorplan train (encode.Encoder, test_chat_weight_openai), but the
estimate counted it as trained, and the EOS after it when it was the last turn, under train_on "assistant" and
"all" alike."""

from __future__ import annotations

import math

import pytest
from data_formats import write

from lorplan.core.data import profile_dataset

ROWS = [{"messages": [{"role": "user", "content": "Who wrote Hamlet?"},
                      {"role": "assistant", "content": "Shakespeare, obviously."},
                      {"role": "user", "content": "And Macbeth?"},
                      {"role": "assistant", "content": "Marlowe was it not", "weight": 0}]}]


def _unweighted(rows):
    return [{"messages": [{k: v for k, v in m.items() if k != "weight"} for m in r["messages"]]} for r in rows]


@pytest.mark.parametrize("mask", [True, False])
def test_the_estimate_leaves_a_weight_0_turn_and_its_eos_untrained(tmp_path, mask):
    weighted = profile_dataset(write(ROWS, tmp_path / "w", "jsonl"), mask=mask)
    plain = profile_dataset(write(_unweighted(ROWS), tmp_path / "p", "jsonl"), mask=mask)
    assert weighted.estimated and plain.estimated
    assert weighted.tokens == plain.tokens  # the turn is still in the rendered row, as context
    eos = 1  # counting.EOS_TOKENS, trained after a final assistant turn
    assert plain.trained_tokens - weighted.trained_tokens == math.ceil(len("Marlowe was it not") / 4) + eos
