"""Rank recommendation: the rank, alpha, learning rate and per-module ranks from the user's own data.

Evidence, each usable alone: the capacity prior (`capacity`, free), the probe ladder (`knee`, `curves`,
`ladder`: the knee of measured eval losses, successive halving, curve extrapolation, ladder planning) and a
per-module pattern; `combine` turns what is at hand into a `Recommendation` with the evidence in words.
Everything imported here is pure Python (no torch): the CLI and the TUI may import it freely.

The running ladder: `launch` (what a ladder trains: its LadderSpec, the probe run, the first pass),
`driver` (the detached process that decides and acts: halving, passes, budget), `decide` (those decisions,
pure), `observe` (the probes as read from the run folder), `measured` (the Recommendation from them),
`ladder_spec` (the ladder's files in the run folder) and `table` (the text). None imports torch.
"""

from lorplan.recommend.capacity import AdapterSize, CapacityPrior, RuleResult, adapter_size, capacity_prior
from lorplan.recommend.combine import MIN_EXAMPLES, combine, too_small
from lorplan.recommend.curves import CurveFit, Extrapolation, extrapolate
from lorplan.recommend.datasize import DataSize, data_size_from_profile, label_entropy
from lorplan.recommend.fit import price_fit
from lorplan.recommend.knee import (
    KNEE_FRACTION,
    Knee,
    RankSummary,
    band_note,
    find_knee,
    seeds_per_rank,
    summarize,
)
from lorplan.recommend.ladder import (
    HalvingDecision,
    LadderPlan,
    coarse_ladder,
    halving_rungs,
    halving_step,
    plan_ladder,
    planned_steps,
    refine_ladder,
)
from lorplan.recommend.policy import Scaling, default_learning_rate, scaling_policy
from lorplan.recommend.types import Evidence, Fit, LadderRow, RankPattern, Recommendation, Remedy

__all__ = [
    "KNEE_FRACTION", "MIN_EXAMPLES", "AdapterSize", "CapacityPrior", "CurveFit", "DataSize", "Evidence",
    "Extrapolation", "Fit", "HalvingDecision", "Knee", "LadderPlan", "LadderRow", "RankPattern", "RankSummary",
    "Recommendation", "Remedy", "RuleResult", "Scaling", "adapter_size", "band_note", "capacity_prior", "coarse_ladder",
    "combine", "data_size_from_profile", "default_learning_rate", "extrapolate", "find_knee",
    "halving_rungs", "halving_step", "label_entropy", "plan_ladder", "planned_steps", "price_fit",
    "refine_ladder", "scaling_policy", "seeds_per_rank", "summarize", "too_small",
]
