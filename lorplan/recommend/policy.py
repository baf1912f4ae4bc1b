"""The alpha / scaling convention and the default learning rate a recommendation carries.

Rank cannot be chosen apart from these: with peft's standard scaling (scale = lora_alpha / r), changing r at a
fixed alpha changes the size of every update, so a rank sweep at one learning rate partly measures effective
learning rate. The policy here keeps alpha fixed so that the best learning rate stays put across ranks; the
rank-regret sweeps (benchmarks) are where that claim is tested, and this module is the one place to change
if they say otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

# Fixed alpha with scale = alpha / r: LoRA Without Regret (Schulman et al., Thinking Machines, 2025,
# thinkingmachines.ai/blog/lora) trains ranks 1-512 with alpha = 32 and finds the optimal learning rate
# approximately independent of rank; tinker-cookbook's LoRA learning rates (tinker_cookbook/hyperparam_utils.py
# get_lr, get_lora_lr_over_full_finetune_lr(lora_alpha=32)) are calibrated in that convention.
ALPHA = 32  # an integer: peft's LoraConfig and the exporters' schemas type lora_alpha as int

# Empirical best LoRA learning rates at alpha = 32 from tinker-cookbook's SFT sweep (tulu3, batch 128,
# 780 steps): tinker_cookbook/hyperparam_utils.py `get_lr`. Only models of lorplan's catalog (or their base
# versions) are listed.
TINKER_LORA_LR = {
    "meta-llama/Llama-3.1-8B": 3e-4,
    "meta-llama/Llama-3.1-70B": 3e-4,
    "meta-llama/Llama-3.2-1B": 1e-3,
    "meta-llama/Llama-3.2-3B": 1e-3,
    "meta-llama/Llama-3.3-70B": 3e-4,
    "Qwen/Qwen3-8B": 1e-3,
    "Qwen/Qwen3-30B-A3B": 1e-3,
    "Qwen/Qwen3-32B": 3e-4,
}
# The same table's pattern for other causal LMs: 1e-3 for models up to ~8B parameters, 3e-4 above
# (Llama-3.1-8B is the exception the table lists itself).
LARGE_MODEL_PARAMS = 10_000_000_000
# Sequence classification: BERT's fine-tuning learning rates are {5e-5, 3e-5, 2e-5} (Devlin et al. 2019,
# arXiv 1810.04805, appendix A.3); LoRA's is about 10x full fine-tuning at alpha = 32
# (get_lora_lr_over_full_finetune_lr returns 10.0; LoRA Without Regret) -> 3e-4 from the middle value.
CLASSIFICATION_LR = 3e-4


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


def _base_id(model_id: str) -> str:
    for suffix in ("-Instruct", "-Base"):
        if model_id.endswith(suffix):
            return model_id[: -len(suffix)]
    return model_id


def default_learning_rate(model_id: str, task: str, total_params: int) -> tuple[float, str]:
    """A starting learning rate for LoRA at alpha = 32 with alpha/r scaling, and where it comes from.

    Causal LM: tinker-cookbook's empirical table (get_lr) for the model or its base version, else 1e-3 up to
    10B parameters and 3e-4 above, the table's own pattern. Sequence classification: 3e-4 (10x BERT's
    middle fine-tuning rate). A probe ladder with two learning rates at the leading rank checks it.
    """
    if task == "sequence-classification":
        return CLASSIFICATION_LR, (f"learning rate {CLASSIFICATION_LR:g}: about 10x the full fine-tuning rate of "
                                   "BERT-style encoders (3e-5; Devlin et al. 2019), the LoRA factor LoRA Without "
                                   "Regret measured at alpha 32")
    for key in (model_id, _base_id(model_id)):
        if key in TINKER_LORA_LR:
            lr = TINKER_LORA_LR[key]
            return lr, (f"learning rate {lr:g}: the best LoRA rate tinker-cookbook measured for {key} "
                        "(SFT sweep at alpha 32; hyperparam_utils.get_lr)")
    lr = 3e-4 if total_params >= LARGE_MODEL_PARAMS else 1e-3
    size = "10B parameters or more" if lr == 3e-4 else "under 10B parameters"
    return lr, (f"learning rate {lr:g}: tinker-cookbook's measured LoRA rates at alpha 32 are 1e-3 for most "
                f"models up to 8B and 3e-4 for larger ones; this model has {size}")
