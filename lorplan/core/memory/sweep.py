"""Pricing: estimate one rank, sweep ranks, solve the largest micro-batch and sequence length, JSON.

Speed: everything that does not depend on the rank (weights, the activation coefficients, the adapted modules
grouped by shape) is prepared once per (spec, setup) and cached; a rank then costs a loop over a handful of
shape groups, and the fit limits are solved in closed form from the step's phases (each is affine in the
micro-batch, and quadratic in the sequence length at most).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import NamedTuple

from lorplan.core.errors import BadInput
from lorplan.core.memory import weights as _weights
from lorplan.core.memory.activations import ActivationModel, activation_model
from lorplan.core.memory.adapter import adapter_bytes, adapter_tensors, gradient_bytes
from lorplan.core.memory.bounds import context_tokens
from lorplan.core.memory.lora_saved import LoraSaved, lora_saved, lora_saved_at
from lorplan.core.memory.optimizer import optimizer_states, states_affine_in_rank
from lorplan.core.memory.overhead import (
    allocatable_room,
    allocator_reserve_bytes,
    cublas_workspace_bytes,
    cuda_context_bytes,
    reserve_base_bytes,
    shard,
)
from lorplan.core.memory.phases import GRADIENTS, phase_coeffs, phase_details, phase_pieces
from lorplan.core.memory.precision import unquantized_param_bytes
from lorplan.core.memory.targets import MemoryTargets, memory_targets
from lorplan.core.memory.types import (
    DEFAULT_RANKS,
    DTYPE_BYTES,
    MemoryBreakdown,
    RankRow,
    RankTable,
    TrainingSetup,
)
from lorplan.core.model.spec import ModelSpec

_MAX_BATCH = 1 << 20


@dataclass(frozen=True)
class _Prepared:
    spec: ModelSpec
    targets: MemoryTargets
    weights: dict
    act: ActivationModel
    extra_trainable: int  # modules_to_save / task heads, rank-independent
    lora0: int  # LoRA parameters at swept rank 0 (fixed-rank modules, DoRA magnitudes)
    lora_per_rank: int
    saved0: LoraSaved
    saved1: LoraSaved
    n_tensors: int
    coeffs: tuple  # PhaseCoeffs per phase
    pbytes: int
    extra_bytes: int  # bytes per parameter of modules_to_save / task heads (peft copies them in their dtype)
    weight_total: int
    context: int
    workspace: int  # cuBLAS workspaces (overhead.cublas_workspace_bytes)
    reserve: float
    reserve_base: int  # overhead.reserve_base_bytes
    layer_weight_bytes: int  # one block's weights (FSDP / ZeRO-3 all-gather unit)
    opt_affine: tuple[int, int, int] | None  # (allocated at rank 0, per rank, step counters) when affine


_CACHE: dict[tuple, _Prepared] = {}


def _setup_key(setup: TrainingSetup) -> tuple:
    t = setup.targets
    tk = (t.modules, t.layers_to_transform, tuple(sorted(t.rank_pattern.items())),
          tuple(sorted(t.alpha_pattern.items())), t.use_dora, t.modules_to_save)
    rest = tuple(getattr(setup, f.name) for f in fields(setup) if f.name not in ("targets", "micro_batch", "seq_len"))
    return (tk, rest)


_TARGETS: dict[tuple, tuple] = {}


def _targets(spec: ModelSpec, setup: TrainingSetup) -> MemoryTargets:
    """peft's trainable tensors and adapted modules (targets.memory_targets); cached per (spec, targets), so that
    changing quantization, batch or optimizer does not resolve the targets again."""
    key = (id(spec), _setup_key(setup)[0])
    hit = _TARGETS.get(key)
    if hit is not None and hit[0] is spec:
        return hit[1]
    mt = memory_targets(spec, setup.targets)
    if len(_TARGETS) > 64:
        _TARGETS.clear()
    _TARGETS[key] = (spec, mt)
    return mt


def clear_caches() -> None:
    """Forget every prepared (spec, setup); for benchmarks and tests."""
    _CACHE.clear()
    _TARGETS.clear()
    _weights.clear_caches()


def _prepare(spec: ModelSpec, setup: TrainingSetup) -> _Prepared:
    key = (id(spec), _setup_key(setup))
    hit = _CACHE.get(key)
    if hit is not None and hit.spec is spec:
        return hit
    mt = _targets(spec, setup)
    if mt.moe.merged and setup.lora_dropout > 0:  # peft lora.ParamWrapper raises for lora_dropout != 0
        raise BadInput(f"--lora-dropout: peft cannot apply dropout to the fused MoE experts of {spec.id}; "
                       "use --lora-dropout 0, or target attention only")
    w = _weights.weight_bytes(spec, setup)
    layer_w = _weights.largest_block_params(spec) * DTYPE_BYTES[setup.base_dtype]
    act = activation_model(spec, setup)
    ls0 = lora_saved(mt, 0, setup, act.act_bytes)
    ls1 = lora_saved(mt, 1, setup, act.act_bytes)
    lora = [g for g in mt.tensors if not g.full_copy]
    t0 = sum(g.const * g.count for g in lora)
    t1 = sum(g.per_rank * g.count for g in lora)
    extra = sum(g.const * g.count for g in mt.tensors if g.full_copy)
    n_tensors = sum(g.count for g in mt.tensors)
    pbytes, extra_bytes = DTYPE_BYTES[setup.adapter_dtype], unquantized_param_bytes(setup)
    opt_affine = None
    if states_affine_in_rank(setup.optimizer):  # read the coefficients off ranks 0 and 1, as phase_coeffs does
        o0, o1 = (optimizer_states(setup.optimizer, adapter_tensors(mt.tensors, r, pbytes, extra_bytes),
                                   counters_on_device=setup.kernels == "cpu") for r in (0, 1))
        opt_affine = (o0.allocated, o1.allocated - o0.allocated, o0.step_counters)
    prep = _Prepared(spec=spec, targets=mt, weights=w, act=act, extra_trainable=extra,
                     layer_weight_bytes=layer_w, lora0=t0, lora_per_rank=t1,
                     saved0=ls0, saved1=ls1, n_tensors=n_tensors, coeffs=tuple(phase_coeffs(act, ls0, ls1, setup)),
                     pbytes=pbytes, weight_total=sum(w.values()), extra_bytes=extra_bytes,
                     context=cuda_context_bytes(setup), workspace=cublas_workspace_bytes(setup),
                     reserve=float(setup.reserve_fraction), reserve_base=reserve_base_bytes(setup), opt_affine=opt_affine)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = prep
    return prep


class _Priced(NamedTuple):
    trainable: int
    static: int  # weights + adapter + optimizer (allocator + paged) + cuBLAS workspaces, per GPU
    breakdown_parts: tuple[int, int, int, int]  # weights, adapter, gradients, optimizer
    phases: tuple  # (name, const, per_token, per_bs2) per phase
    details: tuple  # (prepared, lora saved, paged, step counters, ddp buckets, gathered weights): see _Details
    context: int
    reserve_fraction: float
    workspace: int
    reserve_base: int


def _price(prep: _Prepared, setup: TrainingSetup, rank: int) -> _Priced:
    """Static bytes per GPU and the step's phases for one rank. Phases are plain (name, const, per_token,
    per_bs2) tuples evaluated from prep.coeffs: this runs once per rank of a sweep, so it stays lean."""
    if rank.__class__ is not int or rank < 1:
        raise BadInput(f"--ranks: rank must be an integer ≥ 1, got {rank!r}")
    trainable = prep.lora0 + rank * prep.lora_per_rank + prep.extra_trainable
    adapter = adapter_bytes(trainable - prep.extra_trainable, prep.pbytes, prep.extra_trainable, prep.extra_bytes)
    if prep.opt_affine is not None:
        a0, da, steps = prep.opt_affine
        opt_alloc, opt_paged = a0 + rank * da, 0
    else:
        tensors = adapter_tensors(prep.targets.tensors, rank, prep.pbytes, prep.extra_bytes)
        opt_alloc, opt_paged, steps = optimizer_states(setup.optimizer, tensors, setup.kernels == "cpu")
    grads = gradient_bytes(adapter)
    weights, gathered, buckets = prep.weight_total, 0, 0
    if setup.sharding != "none":
        weights, adapter, grads, opt_alloc, opt_paged, gathered, buckets = shard(
            setup, weights, adapter, grads, opt_alloc, opt_paged, prep.layer_weight_bytes)
    extra = gathered + buckets
    phases = tuple([(name, c0 + rank * dc + grads * dg + extra, t0 + rank * dt, q)
                    for name, c0, dc, dg, t0, dt, q in prep.coeffs])
    optimizer = opt_alloc + opt_paged
    return _Priced(trainable, weights + adapter + optimizer + prep.workspace, (weights, adapter, grads, optimizer),
                   phases, (prep, rank, opt_paged, steps, buckets, gathered), prep.context, prep.reserve,
                   prep.workspace, prep.reserve_base)


def _at(phase: tuple, b: int, s: int) -> int:
    """Bytes of one phase at micro-batch b and sequence length s (Phase.at for the sweep's plain tuples)."""
    t = b * s
    return int(phase[1] + phase[2] * t + phase[3] * t * s)


class _Details(Mapping):
    """The named detail terms of one breakdown, computed on first access (a sweep of 512 ranks builds
    512 breakdowns; the UI reads the details of one)."""

    __slots__ = ("_p", "_b", "_s", "_d")

    def __init__(self, p: _Priced, micro_batch: int, seq_len: int) -> None:
        self._p, self._b, self._s, self._d = p, micro_batch, seq_len, None

    def _dict(self) -> dict[str, int]:
        if self._d is None:
            p, b, s = self._p, self._b, self._s
            t = b * s
            d: dict[str, int] = {}
            peak, best = -1, ""
            for ph in p.phases:
                v = _at(ph, b, s)
                d["phase_" + ph[0]] = v
                if v > peak:
                    peak, best = v, ph[0]
            prep, rank, paged, steps, bucket, gathered = p.details
            ls = lora_saved_at(prep.saved0, prep.saved1, rank)
            terms = dict(prep.weights)
            terms.update(phase_details(prep.act, ls))
            terms.update({"optimizer_paged": paged, "optimizer_step_counters": steps, "ddp_buckets": bucket,
                          "sharding_gathered_weights": gathered})
            for k, v in terms.items():
                if k.endswith("_per_token"):
                    d[k[:-10]] = int(v * t)
                else:
                    d[k] = int(v)
            allocated = p.static + peak
            d["in_step_peak"] = peak
            d["allocated"] = allocated
            d["cuda_context"] = p.context
            d["cublas_workspace"] = p.workspace
            d["allocator_reserve"] = allocator_reserve_bytes(allocated, p.reserve_fraction, p.reserve_base)
            d["peak_phase_" + best] = peak
            self._d = d
        return self._d

    def __getitem__(self, key: str) -> int:
        return self._dict()[key]

    def __iter__(self):
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return repr(self._dict())


def _breakdown(p: _Priced, micro_batch: int, seq_len: int) -> MemoryBreakdown:
    weights, adapter, grads, optimizer = p.breakdown_parts
    t = micro_batch * seq_len
    ts = t * seq_len
    peak = 0
    for _, c, pt, pb in p.phases:  # Phase.at, inlined: this runs once per rank in a sweep
        v = int(c + pt * t + pb * ts)
        if v > peak:
            peak = v
    reserve = allocator_reserve_bytes(p.static + peak, p.reserve_fraction, p.reserve_base)
    return MemoryBreakdown(weights, adapter, grads, optimizer, peak - grads, p.context + p.workspace + reserve,
                           _Details(p, micro_batch, seq_len))


def estimate(spec: ModelSpec, setup: TrainingSetup, rank: int) -> MemoryBreakdown:
    """Peak memory of one training step at this rank, per GPU, in bytes.

    weights/adapter/optimizer: static state (weights.py, adapter.py, optimizer.py). gradients: the adapter
    gradients. activations: the rest of the in-step peak (phases.py over activations.py and lora_saved.py), so
    that gradients + activations is the predicted in-step peak. overhead: CUDA context + cuBLAS workspaces +
    allocator reserve (overhead.py). Sharding divides the static state (overhead.shard).
    """
    return _breakdown(_price(_prepare(spec, setup), setup, rank), setup.micro_batch, setup.seq_len)


class PeakMoment(NamedTuple):
    """What one rank's step holds at its peak moment, per GPU.

    phase: the phase that peaks (phases.PHASE_WORDS says it in words). terms: (label, bytes) of everything
    allocated then (static state, the phase's named pieces, cuBLAS workspaces, CUDA context, allocator reserve); they add up to
    MemoryBreakdown.total exactly. gradients: the adapter gradients alive then (none at the loss, all of them in
    the optimizer step); in_step: the in-step peak (gradients + the rest)."""

    phase: str
    terms: tuple[tuple[str, int], ...]
    gradients: int
    in_step: int


def peak_moment(spec: ModelSpec, setup: TrainingSetup, rank: int) -> PeakMoment:
    """The peak moment of one rank's step and the named bytes alive then (see PeakMoment)."""
    prep = _prepare(spec, setup)
    p = _price(prep, setup, rank)
    b, s = setup.micro_batch, setup.seq_len
    values = [_at(ph, b, s) for ph in p.phases]
    best = max(range(len(values)), key=lambda i: (values[i], -i))  # the first of equal phases, as _Details
    peak = values[best]
    weights, adapter, grads, optimizer = p.breakdown_parts
    ls = lora_saved_at(prep.saved0, prep.saved1, rank)
    name, pieces = phase_pieces(prep.act, ls, setup, grads)[best]
    t = b * s
    moment: dict[str, float] = {}
    for piece in pieces:
        moment[piece.label] = moment.get(piece.label, 0.0) + piece.const + piece.per_token * t + piece.per_bs2 * t * s
    _prep, _rank, _paged, _steps, buckets, gathered = p.details
    moment["DDP gradient buckets"] = buckets
    moment["gathered weights (sharding)"] = gathered
    named = {k: int(round(v)) for k, v in moment.items() if round(v) > 0}
    if named:  # the pieces are evaluated directly, the phase from its rank coefficients: fold the rounding in
        largest = max(named, key=named.get)
        named[largest] += peak - sum(named.values())
    reserve = allocator_reserve_bytes(p.static + peak, p.reserve_fraction, p.reserve_base)
    terms = [("base weights", weights), ("adapter weights", adapter), ("optimizer states", optimizer),
             *named.items(), ("cuBLAS workspaces", p.workspace), ("CUDA context", p.context),
             ("allocator reserve", reserve)]
    return PeakMoment(name, tuple((k, int(v)) for k, v in terms if v > 0), named.get(GRADIENTS, 0), peak)


def _room(p: _Priced, budget: int) -> float:
    return allocatable_room(budget, p.context, p.reserve_fraction, p.reserve_base) - p.static


def _fits(p: _Priced, budget: int, b: int, s: int) -> bool:
    room = _room(p, budget)
    return all(_at(ph, b, s) <= room for ph in p.phases)


def _max_batch(p: _Priced, budget: int, s: int) -> int:
    room = _room(p, budget)
    best = _MAX_BATCH
    for _, const, per_token, per_bs2 in p.phases:
        per_b = per_token * s + per_bs2 * s * s
        left = room - const
        if left < 0:
            return 0
        if per_b > 0:
            best = min(best, int(left // per_b))
    while best > 0 and not _fits(p, budget, best, s):
        best -= 1
    return best


def _max_seq(p: _Priced, budget: int, b: int, cap: int) -> int:
    room = _room(p, budget)
    best = float(cap)
    for _, const, per_token, per_bs2 in p.phases:
        left = room - const
        if left < 0:
            return 0
        qa, qb = per_bs2 * b, per_token * b
        if qa > 0:
            s = (-qb + math.sqrt(qb * qb + 4 * qa * left)) / (2 * qa)
        elif qb > 0:
            s = left / qb
        else:
            continue
        best = min(best, s)
    s = int(best)
    while s > 0 and not _fits(p, budget, b, s):
        s -= 1
    return s


def rank_table(
    spec: ModelSpec,
    setup: TrainingSetup,
    ranks: tuple[int, ...] = DEFAULT_RANKS,
    budget_bytes: int | None = None,
) -> RankTable:
    """Price every rank; with a budget, also fits / max micro-batch / max sequence length.

    max_micro_batch is 0 when not even one sequence of --seq-len fits; max_seq_len is 0 when not even one
    token fits at the chosen micro-batch, and is capped at the model's context (bounds.context_tokens).
    """
    if budget_bytes is not None and (isinstance(budget_bytes, bool) or budget_bytes <= 0):
        raise BadInput(f"--gpu-memory must be a positive size, got {budget_bytes!r}")
    if not ranks:
        raise BadInput("--ranks: give at least one rank")
    prep = _prepare(spec, setup)
    cap = context_tokens(spec, setup) or 1 << 24  # the model's context (× --rope-scaling)
    rows = []
    for r in ranks:
        p = _price(prep, setup, r)
        mem = _breakdown(p, setup.micro_batch, setup.seq_len)
        if budget_bytes is None:
            rows.append(RankRow(r, p.trainable, mem, None, None, None))
            continue
        fits = mem.total <= budget_bytes
        rows.append(RankRow(r, p.trainable, mem, fits, _max_batch(p, budget_bytes, setup.seq_len),
                            _max_seq(p, budget_bytes, setup.micro_batch, cap)))
    return RankTable(spec.id, setup, budget_bytes, tuple(rows))
