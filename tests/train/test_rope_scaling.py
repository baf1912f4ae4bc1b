"""A plan with model.rope_scaling (lorplan plan --rope-scaling) loads the model with linear RoPE scaling."""

from __future__ import annotations

from dataclasses import replace

from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from lorplan.train.model import build_model

from .test_train import tiny_plan


def _inv_freq(model):
    rotary = next(m for name, m in model.named_modules() if name.endswith("rotary_emb"))
    return rotary.inv_freq.clone(), rotary.rope_type


def test_rope_scaling_reaches_the_loaded_model(tmp_path, tiny_llama):
    plan = read_plan(tiny_plan(tmp_path, tiny_llama))
    spec = load_spec(str(tiny_llama))
    notes: list[str] = []
    plain = build_model(plan, tiny_llama, spec, "cpu", 0, notes)
    scaled = build_model(replace(plan, model=replace(plan.model, rope_scaling=4.0)), tiny_llama, spec, "cpu", 0,
                         notes)
    (f0, kind0), (f1, kind1) = _inv_freq(plain), _inv_freq(scaled)
    assert kind0 == "default" and kind1 == "linear"
    assert scaled.config.rope_parameters["factor"] == 4.0
    assert (f1 * 4 - f0).abs().max() < 1e-6  # positions / 4: every frequency divided by the factor
    assert any("RoPE scaled linearly by 4" in n for n in notes)


def test_rows_reach_the_scaled_context(tmp_path, tiny_llama):
    """A plan whose seq_len is beyond the model's positions but within its rope scaling trains rows of seq_len
    (the engine used to cut them to the unscaled positions, so the scaling bought nothing); without the scaling
    they are cut to the positions, with a note."""
    from lorplan.train.engine import build_engine

    ctx = load_spec(str(tiny_llama)).max_position_embeddings
    plan = read_plan(tiny_plan(tmp_path, tiny_llama, seq_len=2 * ctx, max_steps=1))
    scaled = build_engine(replace(plan, model=replace(plan.model, rope_scaling=2.0)), max_eval=4)
    assert scaled.seq_len == 2 * ctx
    assert not any("cut to the model" in n for n in scaled.notes)
    plain = build_engine(plan, max_eval=4)
    assert plain.seq_len == ctx
    assert any(f"seq_len {2 * ctx} cut to the model's {ctx} positions" in n for n in plain.notes)
