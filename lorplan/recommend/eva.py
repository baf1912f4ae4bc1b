"""peft's EVA allocation for a plan, at the same rank budget, as a rank_pattern; and two patterns compared.

EVA (Paischer et al., "Parameter Efficient Fine-tuning via Explained Variance Adaptation", arXiv 2410.07170;
peft src/peft/tuners/lora/eva.py `get_eva_state_dict`) runs before training: an incremental PCA of each
adapted layer's inputs (tokens under the attention mask, and the label mask for a causal LM) on batches of the
user's data until the top components converge (cosine similarity ≥ tau between steps), then ranks every
(layer, component) pair by its explained-variance ratio *within its layer* and keeps the top Σ r_layer of them
(the budget of uniform rank r in rank units: n_modules·r), each layer capped at round(r·rho) components. A
layer can get 0 (peft then drops its adapter). EVA never looks at the loss, and its budget counts ranks, not
parameters: a module with larger d_in + d_out costs more per rank, so EVA's parameter count can differ from
uniform rank's. Both counts are reported.

The model, targets and data path are lorplan's engine (lorplan.train.engine.build_engine) on a sample of the
examples: the model EVA sees is the one the plan trains.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from types import MappingProxyType

from lorplan.core.errors import BadInput
from lorplan.core.lora import model_path
from lorplan.core.units import counted
from lorplan.recommend.types import RankPattern

EVA_EXAMPLES = 256  # examples whose layer inputs EVA's PCA reads (cycled until it converges)
EVA_MAX_BATCHES = 300  # forward passes after which the components are taken as they are (peft has no limit)


def _sample(examples: Sequence, n: int, seed: int) -> list:
    examples = list(examples)
    if len(examples) <= n:
        return examples
    return random.Random(seed).sample(examples, n)


def _layer_inputs(layer_input, model_input, layer_name):
    """peft's prepare_layer_inputs_fn_language_modeling (the masked tokens of a (batch, seq, dim) input), and
    2-D inputs as they are: a BERT pooler's dense layer reads one vector per row (the first token's), which
    peft's default cannot index."""
    x = layer_input[0] if isinstance(layer_input, (tuple, list)) else layer_input
    if x.dim() == 3:
        return x[model_input.T.unbind()]
    return x.reshape(-1, x.shape[-1]).contiguous()


def eva_ranks(plan, examples: Sequence, rank: int, *, rho: float = 2.0, tau: float = 0.99,
              max_examples: int = EVA_EXAMPLES, seed: int = 0,
              max_batches: int = EVA_MAX_BATCHES) -> tuple[dict[str, int], dict[str, int], bool]:
    """(EVA's rank per adapted module, d_in + d_out per module, whether max_batches cut the convergence short)
    for `plan` at uniform `rank` (its own rank_pattern ignored), on a seeded sample of `examples` through
    lorplan's engine.

    Two departures from peft's defaults, both so that EVA ends: a classifier's batches hold at least
    round(rank·rho) examples, since a 2-D input (BERT's pooler reads one vector per example) gives one row per
    example and peft skips a batch with fewer rows than components, forever; and after max_batches forward
    passes every component is taken as converged (peft cycles the data until all reach tau, with no limit)."""
    import torch
    from peft.tuners.lora import EvaConfig
    from peft.tuners.lora.eva import get_eva_state_dict

    from lorplan.train import data as D
    from lorplan.train.engine import build_engine

    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise BadInput(f"eva: rank must be an integer of at least 1, not {rank!r}")
    sample = _sample(examples, max_examples, seed)
    lora = replace(plan.lora, r=rank, rank_pattern=MappingProxyType({}), alpha_pattern=MappingProxyType({}))
    eva_plan = replace(plan, lora=lora, training=replace(plan.training, max_steps=1, epochs=None))
    engine = build_engine(eva_plan, examples=sample, max_steps=1, max_eval=1)
    model = engine.accelerator.unwrap_model(engine.model)
    causal = not engine.classification
    config = model.peft_config["default"]
    # a classifier's labels are one class id per row, not a token mask: EVA's label mask is for causal LMs
    config.eva_config = EvaConfig(rho=rho, tau=tau, use_label_mask=causal)
    mb = max(1, eva_plan.training.micro_batch)
    if engine.classification:
        mb = max(mb, round(rank * rho))
    items = engine.train_items
    batches = [D.collate(items[k : k + mb], engine.pad_id) for k in range(0, len(items), mb)]
    if not batches:
        raise BadInput("eva: no examples to read the layer inputs from")
    from peft.tuners.lora.eva import SVDHook

    calls, capped = [0], [False]

    def forward(m, inputs):
        out = m(**inputs)
        calls[0] += 1
        if calls[0] > max_batches:  # after the hooks ran: their own cosine test would overwrite the mark
            for module in m.modules():
                for hook in module._forward_hooks.values():
                    if isinstance(hook, SVDHook) and hasattr(hook.svd, "components_"):
                        hook.converged = torch.ones_like(hook.converged)
                        capped[0] = True
        return out

    with torch.no_grad():
        state = get_eva_state_dict(model, batches, forward_fn=forward, prepare_layer_inputs_fn=_layer_inputs,
                                   show_progress_bar=False)
    ranks, costs = {}, {}
    for name, module in model.named_modules():
        if not hasattr(module, "base_layer") or not hasattr(module, "lora_A"):
            continue
        short = model_path(name)
        base = module.base_layer
        costs[short] = int(base.in_features + base.out_features)
        comp = state.get(name)
        ranks[short] = int(comp.shape[0]) if comp is not None else 0
    return ranks, costs, capped[0]


def eva_pattern(plan, examples: Sequence, rank: int, *, rho: float = 2.0, tau: float = 0.99,
                max_examples: int = EVA_EXAMPLES, seed: int = 0, max_batches: int = EVA_MAX_BATCHES) -> RankPattern:
    """EVA's per-module ranks for `plan` at uniform `rank`'s budget (n_modules·rank in rank units), as a
    RankPattern (source "eva"). A module EVA gives rank 0 (peft removes its adapter) is kept at rank 1 in the
    pattern, since a rank_pattern cannot drop a module; the explanation says how many."""
    from lorplan.recommend.allocate import compress, short_kind

    ranks, costs, capped = eva_ranks(plan, examples, rank, rho=rho, tau=tau, max_examples=max_examples, seed=seed,
                                     max_batches=max_batches)
    zero = [n for n, r in ranks.items() if r == 0]
    kept = {n: max(1, r) for n, r in ranks.items()}
    used = sum(kept[n] * costs[n] for n in kept)
    uniform = rank * sum(costs.values())
    kinds: dict[str, list[int]] = {}
    for n, r in ranks.items():
        kinds.setdefault(short_kind(n), []).append(r)
    words = "; ".join(f"{k} {min(v)}-{max(v)} (mean {sum(v) / len(v):.1f})" if min(v) != max(v) else f"{k} {v[0]}"
                      for k, v in sorted(kinds.items(), key=lambda kv: -sum(kv[1]) / len(kv[1])))
    text = (f"EVA (peft get_eva_state_dict, rho {rho:g}, tau {tau:g}) on the layer inputs of "
            f"{min(len(examples), max_examples)} examples: {sum(ranks.values())} rank units over {len(ranks)} "
            f"modules (uniform rank {rank}: {rank * len(ranks)}), given by each layer's explained-variance ratios, "
            f"not the loss; {used:,} adapter parameters against uniform rank {rank}'s {uniform:,}: {words}")
    if zero:
        text += f"; EVA gives {counted(len(zero), 'module')} rank 0 (no adapter), kept at rank 1 here"
    if capped:
        text += f"; stopped after {max_batches} batches before every component reached tau {tau:g}"
    return RankPattern(compress(kept, rank), "eva", text, kept, used, uniform)


def _by_kind(p: RankPattern) -> dict[str, float]:
    from lorplan.recommend.allocate import short_kind

    kinds: dict[str, list[int]] = {}
    for n, r in p.ranks.items():
        kinds.setdefault(short_kind(n), []).append(r)
    return {k: sum(v) / len(v) for k, v in kinds.items()}


def compare_patterns(a: RankPattern, b: RankPattern) -> str:
    """Where two patterns agree and differ, in words: per module kind, the mean rank each gives (from their
    per-module ranks), and their parameter counts; from the pattern keys alone when ranks are not known."""
    na, nb = a.source, b.source if b.source != a.source else f"{b.source} (2)"
    if not a.ranks or not b.ranks:
        keys = list(dict.fromkeys([*a.pattern, *b.pattern]))
        same = [k for k in keys if a.pattern.get(k) == b.pattern.get(k)]
        diff = [f"{k}: {a.pattern.get(k, 'default')} vs {b.pattern.get(k, 'default')}" for k in keys if k not in same]
        return (f"{na} and {nb}: " + (f"agree on {', '.join(same)}; " if same else "")
                + (f"differ on {'; '.join(diff)}" if diff else "the same pattern"))
    ka, kb = _by_kind(a), _by_kind(b)
    kinds = sorted(set(ka) | set(kb), key=lambda k: -(ka.get(k, 0) + kb.get(k, 0)))
    agree = [k for k in kinds if k in ka and k in kb and abs(ka[k] - kb[k]) < 0.5]
    differ = [k for k in kinds if k not in agree]
    parts = []
    if agree:
        parts.append("agree on " + ", ".join(f"{k} ({ka[k]:g})" for k in agree))
    if differ:
        parts.append("differ on " + ", ".join(f"{k} ({ka.get(k, '-'):g} vs {kb.get(k, '-'):g})"
                                              if k in ka and k in kb else f"{k} (only in one)" for k in differ))
    up = [k for k in differ if k in ka and k in kb and ka[k] > kb[k]]
    if up:
        parts.append(f"{na} gives more to {', '.join(up)}")
    down = [k for k in differ if k in ka and k in kb and ka[k] < kb[k]]
    if down:
        parts.append(f"{nb} gives more to {', '.join(down)}")
    same_modules = sum(1 for n in a.ranks if b.ranks.get(n) == a.ranks[n])
    parts.append(f"{same_modules} of {len(a.ranks)} modules get the same rank")
    if a.parameters is not None and b.parameters is not None:
        parts.append(f"adapter parameters {a.parameters:,} ({na}) vs {b.parameters:,} ({nb})")
    return f"{na} vs {nb} (mean rank per module kind): " + "; ".join(parts)
