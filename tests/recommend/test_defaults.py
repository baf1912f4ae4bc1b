"""Per-task training defaults (lorplan.core.plan.defaults): one place, and recommend's policy reads it."""

from lorplan.core.plan import defaults
from lorplan.recommend import default_learning_rate, scaling_policy


def test_task_defaults_differ_by_task_and_carry_their_source():
    cls = defaults.task_defaults("sequence-classification", "sentence-transformers/all-MiniLM-L6-v2", 22_700_000)
    lm = defaults.task_defaults("causal-lm", "meta-llama/Llama-3.2-1B-Instruct", 1_200_000_000)
    assert (cls.learning_rate, cls.micro_batch) == (1e-3, 16)
    assert (lm.learning_rate, lm.micro_batch) == (1e-3, 1)
    assert cls.alpha == lm.alpha == 32 and isinstance(cls.alpha, int) and not cls.use_rslora
    assert "tinker-cookbook" in lm.why and "Llama-3.2-1B" in lm.why
    assert defaults.task_defaults("causal-lm", "some/unknown-70b", 70_000_000_000).learning_rate == 3e-4
    assert 0 < cls.warmup_ratio < 1 and 0 < cls.eval_split < 1


def test_recommend_policy_reads_the_same_defaults():
    for task, model, params in (("sequence-classification", "x", 22_000_000), ("causal-lm", "Qwen/Qwen3-8B", 8e9),
                                ("causal-lm", "y", 2e10)):
        assert default_learning_rate(model, task, int(params)) == defaults.learning_rate(model, task, int(params))
    assert scaling_policy(8).alpha == defaults.ALPHA
