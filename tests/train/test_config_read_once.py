"""A run reads the model's config with AutoConfig once before the weights (train.model.load_config): the engine
hands it to load_tokenizer (AutoTokenizer's config=), the attention check and a RoPE-scaled load, where each used
to read it again (4 reads before the weights, 207a811); from_pretrained's own read is the other one, and a
RoPE-scaled load replaces it. rope_scaled_config scales a copy of the config it is given, never the run's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lorplan.core.plan import read_plan

from .test_train import tiny_plan


@pytest.fixture
def config_reads(monkeypatch) -> list[tuple[str, object]]:
    """Every AutoConfig.from_pretrained call (the real one, counted): the folder it read, and the
    trust_remote_code it was given."""
    import transformers

    real = transformers.AutoConfig.from_pretrained.__func__
    reads: list[tuple[str, object]] = []

    def counted(cls, name, *args, **kwargs):
        reads.append((str(name), kwargs.get("trust_remote_code")))
        return real(cls, name, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", classmethod(counted))
    return reads


@pytest.mark.parametrize(("rope_scaling", "reads"), [(None, 2), (2.0, 1)])
def test_a_run_reads_the_config_once_before_the_weights(tmp_path, tiny_llama, config_reads, rope_scaling, reads):
    from lorplan.train.engine import build_engine

    path = tiny_plan(tmp_path, tiny_llama, max_steps=1)
    plan = read_plan(path)
    plan = replace(plan, model=replace(plan.model, rope_scaling=rope_scaling))
    engine = build_engine(plan, plan_path=str(path))
    assert engine.model is not None
    # the plan's trust_remote_code (false): the model's own code is never run unless the plan asks for it
    assert config_reads == [(str(tiny_llama), False)] * reads, config_reads


def test_rope_scaled_config_leaves_the_config_it_is_given_as_it_was(tmp_path, tiny_llama):
    from lorplan.train.model import load_config, rope_scaled_config

    plan = read_plan(tiny_plan(tmp_path, tiny_llama))
    plan = replace(plan, model=replace(plan.model, rope_scaling=4.0))
    config = load_config(plan, tiny_llama)
    before = config.to_dict()
    kwargs = {"revision": None, "trust_remote_code": False, "num_labels": 3}
    scaled = rope_scaled_config(plan, tiny_llama, kwargs, config)
    assert scaled.rope_parameters["rope_type"] == "linear" and scaled.rope_parameters["factor"] == 4.0
    assert scaled.num_labels == 3 and "num_labels" not in kwargs
    assert config.to_dict() == before  # the run's config: no scaling, no labels
