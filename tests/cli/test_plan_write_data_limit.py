"""`lorplan plan --write P --data F` profiled F without the model: no length limit applied to that profile (its
seq len the 2048 default, its suggested seq len beyond GPT-2's 1,024 positions), where `lorplan profile --model`
and `lorplan recommend` hand profile_dataset the spec they planned with (spec=). plan now does too, at the plan's
seq len and RoPE factor. Real catalog spec, real data file."""

from __future__ import annotations

import json

from lorplan.cli.plan import _profile
from lorplan.core.data import profile_dataset
from lorplan.core.memory import TrainingSetup
from lorplan.core.model import load_spec


def test_the_profile_plan_writes_from_is_limited_to_the_model(tmp_path):
    data = tmp_path / "long.jsonl"  # ~3,000 estimated tokens an example: beyond GPT-2's context
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": "word " * 2400}) + "\n"
                            for i in range(60)))
    spec = load_spec("openai-community/gpt2")
    setup = TrainingSetup(seq_len=1024)
    profile = _profile(str(data), spec, setup)
    assert profile.seq_len == 1024 and profile.suggested_seq_len <= 1024
    assert profile == profile_dataset(data, task=spec.task, spec=spec, seq_len=1024)  # lorplan profile's figures
    assert profile_dataset(data, task=spec.task).suggested_seq_len > 1024  # what no limit gave
