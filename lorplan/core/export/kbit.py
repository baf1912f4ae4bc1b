"""What each tool does with a quantized base's unquantized weights, against what the plan priced.

lorplan prices a quantized plan with peft's prepare_model_for_kbit_training (its fp32 up-cast of every parameter
bitsandbytes leaves unquantized: embeddings, norms, biases, the head, fused experts, and the fp32 residual stream
that follows) or, priced with --no-prepare-kbit ([quantization] prepare_kbit = false), without it; lorplan train
runs what the plan says (lorplan.core.plan.build.prepares_kbit, the one rule). The tools each do one thing whatever
their config says, so an export whose tool does the other says so, with the memory model's figure for what it does.

The figures are priced on the spec the plan is priced on (lorplan.core.plan.build.priced_spec: a sequence
classifier's with the head the plan trains, as the planner priced it), from the plan's model's spec, which the caller
passes when it has loaded it (`lorplan export` has, to check the plan against the model); None: it is read here,
offline (_spec), as the planner's export dialog reads it.
"""

from __future__ import annotations

from dataclasses import replace

from lorplan.core.memory.types import DTYPE_BYTES
from lorplan.core.units import format_bytes
from lorplan.core.vocab import DType


def upcast_matters(plan) -> bool:
    """A quantized base trained in a 16-bit precision on GPUs: the up-cast changes a dtype (an fp32 base is fp32
    either way, and peft casts fp16/bf16 parameters alone; a CPU plan loads no bitsandbytes in lorplan train)."""
    q = plan.quantization
    return (q.load_in_4bit or q.load_in_8bit) and plan.training.precision != DType.FP32 and plan.hardware.gpus > 0


def _spec(plan, spec=None):
    """The spec the plan is priced on (priced_spec: a classifier re-headed for its labels) from `spec` when given,
    else from the plan's model's spec read offline (the catalog and the fast path: no child process, no model code);
    None when this machine cannot read it (the warnings then go without figures)."""
    from lorplan.core.plan.build import priced_spec

    if spec is not None:
        return priced_spec(plan, spec)
    from lorplan.core.errors import BadInput
    from lorplan.core.model import load_spec, resolve_model

    try:
        return priced_spec(plan, load_spec(resolve_model(plan.model.source), allow_fallback=False))
    except (BadInput, OSError, ValueError):
        return None


def totals(plan, spec=None) -> tuple[int, int] | None:
    """(total bytes per GPU priced with peft's prepare_model_for_kbit_training, priced without), the plan's setup
    otherwise as plan_to_setup reads it; None when lorplan cannot read the model's config here or cannot price
    the plan on it (lorplan export refuses such a plan before it reaches an exporter)."""
    from lorplan.core.errors import BadInput
    from lorplan.core.memory import estimate
    from lorplan.core.plan.build import plan_to_setup

    spec = _spec(plan, spec)
    if spec is None:
        return None
    _, setup, rank = plan_to_setup(plan)
    try:
        return (estimate(spec, replace(setup, prepare_kbit=True), rank).total,
                estimate(spec, replace(setup, prepare_kbit=False), rank).total)
    except BadInput:  # a plan the memory model refuses on this model (its targets match nothing): no figures
        return None


def left_in_fp32(plan, spec=None) -> int | None:
    """Parameters prepare_model_for_kbit_training up-casts that axolotl does not cast back: it casts every module
    named "norm" and the embedding layers (embed_tokens, lm_head, position embeddings) back to the training dtype
    after the call, so its biases, MoE routers, fused experts and any other unquantized tensor stay fp32.
    None when lorplan cannot read the model here."""
    spec = _spec(plan, spec)
    if spec is None:
        return None
    tensors = sum(t.numel for t in spec.tensors if t.kind in ("bias", "experts", "router", "other"))
    biases = sum(lin.out_features for lin in spec.linears if lin.bias and lin.role != "head")
    return tensors + biases


def priced_less_note(plan, lead: str, kept_fp32: int = 0, tool: str = "", spec=None) -> list[str]:
    """The line for a plan priced with peft's fp32 up-cast exported to a tool that does not keep it (`lead`: what
    the tool does, with the file that does it): it needs less memory than the plan says. `kept_fp32`: parameters
    the tool still leaves in fp32 (`tool` names it), added to the figure without the up-cast (axolotl's biases,
    routers and fused experts). Nothing for a plan priced without it, or one whose up-cast changes no dtype."""
    from lorplan.core.plan.build import prepares_kbit

    if not (prepares_kbit(plan) and upcast_matters(plan)):
        return []
    line = (f"{lead}, where the plan was priced with peft's fp32 up-cast of the base's unquantized weights "
            f"(embeddings, norms, LM head), so it needs less memory than the plan says")
    figures = totals(plan, spec)
    if figures is not None:
        line += (f": the memory model prices the plan without that up-cast at {format_bytes(figures[1])} per GPU, "
                 f"against its {format_bytes(figures[0])} (lorplan plan --no-prepare-kbit prices it so)")
        kept = min(figures[1] + extra_fp32_bytes(plan, kept_fp32), figures[0])
        if format_bytes(kept) != format_bytes(figures[1]):  # said only where it shows
            line += f"; {tool}, with the weights it leaves in fp32, needs about {format_bytes(kept)} per GPU"
    return [line]


def extra_fp32_bytes(plan, params: int) -> int:
    """Bytes `params` 16-bit parameters take more in fp32."""
    return params * (4 - DTYPE_BYTES[plan.training.precision])
