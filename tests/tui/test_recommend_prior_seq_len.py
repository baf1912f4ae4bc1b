"""The Recommend tab's capacity prior weighs the Data tab's profile at the plan's sequence length. The profile is
cut at the length the plan had when it was made (the Data tab re-cuts its own figures on a change, but the
PlanData it handed up keeps that cut), and recommend_bridge.data_size read its truncated tokens as they were: a
plan changed from 16 to 256 tokens still read '1,510 tokens lie beyond the sequence length' of data whose longest
example fits in 256. `lorplan recommend --data` profiles at the plan's length; the tab now re-cuts the profile to
it (DataProfile.at_seq_len, from the length histogram, as the Data tab does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_builders import tiny_llama

from lorplan.tui import bridge, recommend_bridge
from lorplan.tui.state import PlanData, PlanSnapshot


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return str(tiny_llama(tmp_path_factory.mktemp("m") / "llama", context=256))


def _snapshot(model: str, seq_len: int) -> PlanSnapshot:
    spec = bridge.load_spec(model)
    setup = bridge.training_setup(targets=("q_proj", "v_proj"), dora=False, seq_len=seq_len)
    return PlanSnapshot(model, spec, setup, 8, bridge.rank_table(spec, setup, None))


def _token_rule(plan: PlanSnapshot, data: PlanData) -> str:
    read = recommend_bridge.prior(plan, data)
    rec = read.recommendation
    assert rec is not None, read.needs
    return next(e.explanation for e in rec.evidence if e.source == "token rule")


def test_the_prior_counts_truncation_at_the_plans_seq_len(tmp_path: Path, model: str):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(f'{{"prompt": "question {i} ", "completion": "{"answer " * (1 + 9 * (i % 9))}"}}\n'
                            for i in range(60)))
    profile = bridge.profile_dataset(str(path), model=model, schema=None, seq_len=16, mask=True,
                                     progress=lambda *args: None)
    assert profile.truncated_tokens > 0 and profile.lengths.max <= 256
    data = PlanData(path=str(path), schema=profile.schema, train_on="completion", eval_split=0.1, profile=profile)

    at_16 = _token_rule(_snapshot(model, 16), data)
    assert f"{profile.truncated_tokens:,} tokens lie beyond the sequence length" in at_16, at_16
    at_256 = _token_rule(_snapshot(model, 256), data)  # the plan's length changed after the profile
    assert "beyond the sequence length" not in at_256, at_256
    at_48 = _token_rule(_snapshot(model, 48), data)
    cut = profile.at_seq_len(48).truncated_tokens
    assert 0 < cut < profile.truncated_tokens and f"{cut:,} tokens lie beyond" in at_48, at_48
    # the same words the profile made at that length gives
    again = bridge.profile_dataset(str(path), model=model, schema=None, seq_len=48, mask=True,
                                   progress=lambda *args: None)
    assert again.truncated_tokens == cut
