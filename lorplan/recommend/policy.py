"""The alpha / scaling convention and the default learning rate a recommendation carries.

Rank cannot be chosen apart from these: with peft's standard scaling (scale = lora_alpha / r), changing r at a
fixed alpha changes the size of every update, so a rank sweep at one learning rate partly measures effective
learning rate. The policy here keeps alpha fixed so that the best learning rate stays put across ranks; the
rank-regret sweeps (benchmarks) are where that claim is tested, and this module is the one place to change
if they say otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from lorplan.core.plan import defaults

# Fixed alpha with scale = alpha / r, and the learning rates calibrated at it: lorplan.core.plan.defaults (the one
# place per-task training defaults live; plans, probes and recommendations all take them from there).
ALPHA = defaults.ALPHA
TINKER_LORA_LR = defaults.TINKER_LORA_LR
LARGE_MODEL_PARAMS = defaults.LARGE_MODEL_PARAMS
CLASSIFICATION_LR = defaults.CLASSIFICATION_LR


@dataclass(frozen=True)
class Scaling:
    """lora_alpha and whether peft's rsLoRA scaling (alpha / sqrt(r)) is used, with the reason in words."""

    alpha: float
    use_rslora: bool
    explanation: str


def scaling_policy(rank: int) -> Scaling:
    """lora_alpha = 32 at every rank, standard scaling alpha / r (use_rslora = False).

    Why: LoRA's B starts at zero (Hu et al. 2021, arXiv 2106.09685), so early in training the update
    scale·B·A grows with the number of rank directions Adam moves at once (about r of them, each by ~lr);
    scale = alpha / r cancels that growth, which is why LoRA Without Regret finds the optimal learning rate
    nearly rank-independent at fixed alpha = 32 and why QLoRA (Dettmers et al. 2023, arXiv 2305.14314) notes
    "LoRA alpha is always proportional to the learning rate". Alternatives left out on purpose: alpha = 2r
    (folklore; Biderman et al. 2024, arXiv 2405.09673) keeps the scale at 2 so the effective step grows with r;
    rsLoRA (Kalajdzievski 2023, arXiv 2312.03732; peft `use_rslora`) helps large ranks keep learning but moves
    the best learning rate with r; EVA's alpha·new_r/r per module (peft src/peft/tuners/lora/eva.py,
    adjust_scaling_factors) keeps alpha/r constant, which the fixed-alpha evidence contradicts. Per-module
    ranks (rank_pattern) keep the same alpha, so no alpha_pattern is needed.
    """
    scale = ALPHA / rank
    return Scaling(
        alpha=ALPHA,
        use_rslora=False,
        explanation=(f"alpha {ALPHA:g} at every rank with peft's standard scaling alpha/r (here {scale:g}): at a "
                     "fixed alpha the best learning rate stays about the same across ranks (LoRA Without "
                     "Regret, Thinking Machines 2025), so a learning rate found at one rank transfers to "
                     "another"),
    )


def default_learning_rate(model_id: str, task: str, total_params: int) -> tuple[float, str]:
    """A starting learning rate for LoRA at alpha = 32 with alpha/r scaling, and where it comes from
    (lorplan.core.plan.defaults.learning_rate). A probe ladder tries it, a third of it and three times it at
    its reference rank before it compares ranks (recommend.decide)."""
    return defaults.learning_rate(model_id, task, total_params)
