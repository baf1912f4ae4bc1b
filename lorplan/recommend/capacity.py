"""The capacity prior: how much the data has to teach against what one rank unit of the chosen targets holds.

Free (no training). Adapter parameters are exact: lorplan.core.lora.trainable_params counts what peft's
get_nb_trainable_parameters reports, and for LoRA it is affine in the rank, params(r) = r·C + S (S: modules
trained in full, DoRA magnitudes, modules with a fixed rank_pattern rank), so two ranks give C and S.

Two published rules turn data size into a number of adapter parameters; each gives a rank:
- token rule: "as long as the number of LoRA parameters is at least the number of completion tokens
  (weight = 1 tokens), LoRA works well" (Tinker docs, LoRA primer, tinker-docs.thinkingmachines.ai/lora-primer;
  Schulman et al. 2025, "LoRA Without Regret", thinkingmachines.ai/blog/lora). tinker-cookbook counts LoRA
  parameters as rank × Σ(d_in + d_out) over the target weights (hyperparam_utils.get_lora_param_count), i.e.
  the r·C here, without S. For classification each example trains one label, its only "completion token".
- bits rule: language models store about 2 bits of knowledge per parameter (Allen-Zhu & Li 2024, "Physics of
  Language Models: Part 3.3, Knowledge Capacity Scaling Laws", arXiv 2404.05405), so holding I bits needs at
  least I / 2 parameters. For classification I = unique examples × label entropy; for a causal LM it needs the
  bits per trained token the base model does not already know (its loss on the data), which only a probe
  measures, so the rule is applied to a causal LM only when that figure is given.
The prior takes the larger rank (neither rule then says the adapter is too small), rounds it up to a power of
two within [min_rank, max_rank], and clamps it at the smallest dimension of an adapted module (a rank above
min(d_in, d_out) adds nothing to that module).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lorplan.core.errors import BadInput
from lorplan.core.model.names import model_name
from lorplan.core.units import counted
from lorplan.recommend.datasize import DataSize

BITS_PER_PARAM = 2.0  # arXiv 2404.05405
# The knees lorplan's benchmarks measured on text classification where both rules said rank 1: all-MiniLM-L6-v2,
# 800-960 examples, 5-6 labels (benchmarks/results/rank_regret.md: knees 64, 32, 16 and 64 at 32 steps on four
# tasks, the last two added to test the prior on tasks it had not been looked at against; rank_regret_long.md:
# 64 and 8 at 160 steps on the first two). The label bits bound what the labels can teach, not how far the
# encoder's features have to move, so for a classifier the prior's band reaches up to the highest; no rule from
# the data's size predicted where in 8-64 a task's knee lies, so the rank stays the rules'.
CLASSIFIER_KNEES_SEEN = (8, 64)
MIN_RANK = 1
MAX_RANK = 256


@dataclass(frozen=True)
class AdapterSize:
    """Trainable parameters of the chosen targets as an affine function of the rank: params(r) = r·C + S.

    per_rank: C, LoRA parameters per rank unit. fixed: S, trained parameters that do not grow with the rank.
    min_dim: the smallest min(d_in, d_out) over the adapted modules. targets: the targets in words.
    """

    model: str
    targets: str
    per_rank: int
    fixed: int
    min_dim: int

    def params(self, rank: int) -> int:
        """Trainable parameters at this rank (equals lorplan.core.lora.trainable_params)."""
        return rank * self.per_rank + self.fixed


def adapter_size(spec, targets) -> AdapterSize:
    """C and S for a model spec and LoraTargets, from trainable_params at ranks 1 and 2 (exact, as peft)."""
    from lorplan.core.lora import (
        resolve_embedding_targets,
        resolve_param_targets,
        resolve_targets,
        trainable_params,
    )

    p1, p2 = trainable_params(spec, targets, 1), trainable_params(spec, targets, 2)
    dims = [min(m.in_features, m.out_features) for m in resolve_targets(spec, targets)]
    dims += [min(t.shape) for t in resolve_embedding_targets(spec, targets)]
    dims += [min(pt.tensor.shape[-2:]) for pt in resolve_param_targets(spec, targets)]
    names = ", ".join(targets.modules)
    if targets.layers_to_transform is not None:
        names += f" (layers {', '.join(map(str, targets.layers_to_transform))})"
    return AdapterSize(model=spec.id, targets=names, per_rank=p2 - p1, fixed=2 * p1 - p2,
                       min_dim=min(dims) if dims else MAX_RANK)


@dataclass(frozen=True)
class RuleResult:
    """What one rule asks for: `need` adapter parameters, i.e. need / C rank units, and the rank it gives."""

    name: str  # "token rule" | "bits rule"
    need: int
    units: float
    rank: int
    explanation: str


@dataclass(frozen=True)
class CapacityPrior:
    """The prior's rank, its band (low, high), each rule's arithmetic and the sentence that sums it up."""

    rank: int
    low: int
    high: int
    rules: tuple[RuleResult, ...]
    adapter: AdapterSize
    data: DataSize
    explanation: str
    min_rank: int = MIN_RANK
    max_rank: int = MAX_RANK

    def to_json(self) -> dict:
        """The arithmetic behind the prior, for scripts (recommendation JSON's "capacity")."""
        return {
            "rank": self.rank, "low": self.low, "high": self.high,
            "params_per_rank": self.adapter.per_rank, "fixed_params": self.adapter.fixed,
            "min_target_dim": self.adapter.min_dim, "trained_tokens": self.data.trained_tokens,
            "unique_trained_tokens": self.data.unique_trained_tokens, "examples": self.data.examples,
            "label_bits": self.data.label_bits, "epochs": self.data.epochs, "data_source": self.data.source,
            "rules": [{"name": r.name, "need_params": r.need, "rank_units": round(r.units, 4), "rank": r.rank}
                      for r in self.rules],
        }


def power_of_two_at_least(x: float, low: int = MIN_RANK, high: int = MAX_RANK) -> int:
    """The smallest power of two ≥ x, kept within [low, high] (both powers of two or not: the result is
    clipped to them)."""
    r = 1 if x <= 1 else 1 << math.ceil(math.log2(x) - 1e-12)
    return max(low, min(high, r))


def largest_power_of_two_at_most(x: int) -> int:
    """The largest power of two ≤ x (x ≥ 1)."""
    return 1 << (int(x).bit_length() - 1)


def _rule_sentence(what: str, need: int, adapter: AdapterSize, units: float, raw: int, rank: int,
                   rule: str, limit: str) -> str:
    """"12,400 trained tokens; all-linear on M holds C LoRA parameters per rank unit; ... → rank R by the rule"."""
    c = adapter.per_rank
    head = (f"{what}; {adapter.targets} on {model_name(adapter.model)} holds {counted(c, 'LoRA parameter')} per "
            "rank unit")
    if need <= c:
        body = (f"one rank unit already covers the {counted(need, 'parameter')} this asks for → rank {rank} by the "
                f"{rule}")
        if rank > 1:
            body = body.replace(f"→ rank {rank}", f"→ rank {rank} (the smallest rank considered)")
        return f"{head}; {body}"
    pow2 = power_of_two_at_least(raw, 1, 1 << 30)
    body = f"{counted(need, 'parameter')} / {c:,} = {units:,.2f} rank units"
    body += f" → rank {pow2:,}" if pow2 == raw else f", rounded up to the power of two {pow2:,}"
    if rank != pow2:
        body += f", kept at rank {rank} ({limit})"
    return f"{head}; {body} by the {rule}"


def capacity_prior(
    data: DataSize,
    adapter: AdapterSize,
    *,
    min_rank: int = MIN_RANK,
    max_rank: int = MAX_RANK,
    bits_per_token: float | None = None,
) -> CapacityPrior:
    """The prior rank from the data size and the adapter's parameters per rank (see the module docstring).

    bits_per_token: for a causal LM, the information per trained token in bits (e.g. the base model's eval
    loss in bits minus what the data cannot teach); without it only the token rule applies to a causal LM.
    The band spans one power of two either side of the rules' ranks: they are rules of thumb, never
    validated against a sweep (no tool has), so the prior cannot tell those ranks apart.
    """
    if not 1 <= min_rank <= max_rank:
        raise BadInput(f"ranks: the range {min_rank}-{max_rank} is empty")
    if adapter.per_rank <= 0:
        raise BadInput(f"--targets: {adapter.targets} adds no LoRA parameter per rank on {adapter.model}")
    top = min(max_rank, largest_power_of_two_at_most(max(1, adapter.min_dim)))
    top = max(top, min_rank)
    c = adapter.per_rank
    rules: list[RuleResult] = []

    def rule(name: str, need: int, what: str) -> None:
        units = need / c
        raw = max(1, math.ceil(units - 1e-12))
        rank = power_of_two_at_least(raw, min_rank, top)
        pow2 = power_of_two_at_least(raw, 1, 1 << 30)
        limit = (f"an adapted module has only {adapter.min_dim} dimensions" if top < max_rank and pow2 > top
                 else f"ranks are kept within {min_rank}-{max_rank}")
        rules.append(RuleResult(name, need, units, rank, _rule_sentence(what, need, adapter, units, raw, rank,
                                                                          name, limit)))

    d = data

    def counted_once(unit: str) -> str:
        if d.epochs == 1:  # "epochs (1) add" reads as a slip: there is nothing to repeat
            return f"repeating the data over epochs adds no information, so each {unit} counts once"
        return f"epochs ({d.epochs:g}) add no information, so each {unit} counts once"

    dup = f", {counted(d.duplicates, 'exact duplicate')} left out" if d.duplicates else ""
    if d.task == "causal-lm":
        tokens = d.unique_trained_tokens
        est = " (estimated)" if d.estimated else ""
        cut = (f" ({counted(d.truncated_tokens, 'token')} {'lies' if d.truncated_tokens == 1 else 'lie'} beyond "
               "the sequence length; truncation may drop trained ones)" if d.truncated_tokens else "")
        rule("token rule", tokens, f"{counted(tokens, 'trained token')}{est}{dup}{cut}; {counted_once('token')}")
        if bits_per_token is not None:
            if not bits_per_token >= 0:
                raise BadInput(f"bits per token: {bits_per_token!r} must be at least 0")
            bits = tokens * bits_per_token
            rule("bits rule", math.ceil(bits / BITS_PER_PARAM),
                 f"{counted(tokens, 'trained token')} × {counted(bits_per_token, 'bit', '.3g')} = "
                 f"{counted(bits, 'bit', ',.0f')} at "
                 f"{BITS_PER_PARAM:g} bits per parameter")
    else:
        n = d.unique_examples
        how = "measured from the labels" if d.entropy_counted else f"assumed uniform over {d.num_labels} labels"
        rule("token rule", n, f"{counted(n, 'labelled example')}{dup} (one trained label each; "
                              f"{counted_once('example')})")
        bits = d.label_bits
        rule("bits rule", math.ceil(bits / BITS_PER_PARAM),
             f"{counted(n, 'example')} × {counted(d.label_entropy_bits, 'bit', '.3g')} of label entropy ({how}) = "
             f"{counted(bits, 'bit', ',.0f')} "
             f"at {BITS_PER_PARAM:g} bits per parameter")
    ranks = [r.rank for r in rules]
    rank = max(ranks)
    low = max(min_rank, min(ranks) // 2)
    high = min(top, max(ranks) * 2)
    decider = max(rules, key=lambda r: (r.rank, r.need))
    if len(rules) == 1:
        why = f"rank {rank} by the {decider.name}"
    elif len(set(ranks)) == 1:
        why = f"rank {rank}: both rules agree"
    else:
        why = f"rank {rank}: the {decider.name} asks for more, and the prior takes the larger rank"
    explanation = f"{why}; the rules are rules of thumb, so the prior cannot tell ranks {low}-{high} apart"
    seen_low, seen_high = CLASSIFIER_KNEES_SEEN
    if d.task != "causal-lm" and high < min(top, seen_high):
        high = min(top, seen_high)
        explanation = (f"{why}; the rules bound what the labels can teach, not how far the model's features have "
                       f"to move: on lorplan's text-classification benchmarks (all-MiniLM-L6-v2, 800-960 examples, "
                       f"5-6 labels) the measured knees were ranks {seen_low}-{seen_high} where both rules said 1, "
                       f"so the prior cannot tell ranks {low}-{high} apart; probes on your data measure it")
    return CapacityPrior(rank=rank, low=low, high=high, rules=tuple(rules), adapter=adapter, data=data,
                         explanation=explanation, min_rank=min_rank, max_rank=max_rank)
