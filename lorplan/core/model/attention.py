"""Which attention implementations the transformers class lorplan plans for a model implements, known from the
spec alone: the planner prices from configs and never imports transformers, yet a plan must name an attention
the model can train with (transformers 5's Gemma 2 has no SDPA, lorplan's default, and from_pretrained refuses
it). `lorplan plan` and the planner default such a model to eager, what transformers itself recommends there,
and refuse an explicit choice it lacks, as plan files are refused (core.plan.context.check_plan_context).

The table is data, checked against the installed transformers by tests/core/test_attention_support.py for every
architecture lorplan's catalog plans; a model outside the catalog is judged by the flags of the class the
fallback's child built (ModelSpec.unsupported_attention). lorplan train asks transformers itself as well
(train.model), for plans written elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lorplan.core.errors import BadInput
from lorplan.core.model.spec import ModelSpec
from lorplan.core.vocab import Attention

# The attentions a class lorplan plans (ModelSpec.architecture) does NOT implement in transformers 5.25: its
# `_supports_sdpa` / `_supports_flash_attn` is False (eager is always implemented). Every other class implements
# all three as far as lorplan knows; a model built through the fallback says what its class lacks itself
# (ModelSpec.unsupported_attention, from the fallback's child).
UNSUPPORTED: Mapping[str, frozenset[Attention]] = MappingProxyType({
    # models/gemma2/modeling_gemma2.py Gemma2PreTrainedModel: _supports_sdpa = False (SDPA has no attention-logit
    # softcapping); transformers warns to train Gemma 2 with eager
    "Gemma2ForCausalLM": frozenset({Attention.SDPA}),
    # models/gemma3/modeling_gemma3.py Gemma3ForConditionalGeneration (the multimodal gemma3): _supports_flash_attn
    # = False (its image tokens attend bidirectionally)
    "Gemma3ForConditionalGeneration": frozenset({Attention.FLASH}),
})

# The attention lorplan plans with when the user chose none and the model implements it (transformers' own default).
PREFERRED = Attention.SDPA


@dataclass(frozen=True)
class ClassFlags:
    """What a transformers model class says it implements (class_flags): the attentions it lacks, in vocabulary
    order, and whether it can checkpoint its activations (gradient checkpointing)."""

    unsupported_attention: tuple[Attention, ...]
    gradient_checkpointing: bool

    @property
    def supported_attention(self) -> tuple[Attention, ...]:
        """The attentions it implements, in vocabulary order (eager always)."""
        return tuple(a for a in Attention if a not in self.unsupported_attention)


def class_flags(cls) -> ClassFlags:
    """The one rule for what a transformers model class implements, read from its attributes alone (core imports
    no transformers): `_supports_sdpa`, `_supports_flash_attn` (`_supports_flash_attn_2` in transformers 4, where
    the newer name is absent) and `supports_gradient_checkpointing`, each False where the class lacks it (an
    absent flag: implemented). The fallback's child reports it for the class it builds (ModelSpec.
    unsupported_attention, supports_gradient_checkpointing) and lorplan train asks it of the class it loads
    (train.model.class_attentions), so plan and train judge a class alike."""
    flash = getattr(cls, "_supports_flash_attn", getattr(cls, "_supports_flash_attn_2", True))
    flags = {Attention.SDPA: getattr(cls, "_supports_sdpa", True), Attention.FLASH: flash}
    return ClassFlags(tuple(a for a in Attention if flags.get(a, True) is False),
                      getattr(cls, "supports_gradient_checkpointing", True) is not False)


def supported_attention(spec: ModelSpec) -> tuple[Attention, ...]:
    """The attentions the model's class implements, in vocabulary order (eager always): the table's word for a
    class lorplan plans, and for a model built through the fallback what its child read from the class itself
    (ModelSpec.unsupported_attention: GPT-Neo and BLOOM have no SDPA either)."""
    missing = UNSUPPORTED.get(spec.architecture, frozenset()).union(
        Attention(a) for a in spec.unsupported_attention if a in Attention.values())
    return tuple(a for a in Attention if a not in missing)


def preferred_among(supported: Iterable[Attention]) -> Attention:
    """The attention to plan with among those a class implements: SDPA (lorplan's default, no seq-len × seq-len
    probabilities kept), else eager, which every class implements. default_attention's rule on this table, and
    lorplan train's on transformers' class flags for the fix it names (train.model.suggested_attention)."""
    return PREFERRED if PREFERRED in tuple(supported) else Attention.EAGER


def default_attention(spec: ModelSpec) -> Attention:
    """The attention a plan takes when the user chose none: SDPA, or eager for a model without it (Gemma 2)."""
    return preferred_among(supported_attention(spec))


def _model(spec: ModelSpec) -> str:
    return spec.architecture if spec.id == spec.architecture else f"{spec.id} ({spec.architecture})"


def attention_refusal(spec: ModelSpec, attention: str) -> str | None:
    """Why `attention` cannot train this model ("google/gemma-2-9b (Gemma2ForCausalLM) does not implement sdpa
    attention in transformers; it supports eager, flash"), None when it can (or is no attention lorplan knows:
    TrainingSetup and the plan reader name that)."""
    if attention not in Attention.values() or Attention(attention) in supported_attention(spec):
        return None
    ok = ", ".join(a.value for a in supported_attention(spec))
    return f"{_model(spec)} does not implement {attention} attention in transformers; it supports {ok}"


def check_attention(spec: ModelSpec, attention: str, flag: str = "--attention") -> None:
    """BadInput "--attention sdpa: google/gemma-2-9b (Gemma2ForCausalLM) does not implement sdpa attention in
    transformers; it supports eager, flash" when the model's class lacks the attention asked for."""
    why = attention_refusal(spec, attention)
    if why is not None:
        raise BadInput(f"{flag} {attention}: {why}")


def default_attention_note(spec: ModelSpec, priced: bool = True, flag: bool = True) -> str | None:
    """What `lorplan plan` (priced) and `lorplan probe start` (not priced) say when they take another attention
    than SDPA for a model because the user chose none; None when the model takes SDPA. flag=False: words for a
    command without --attention (`lorplan recommend`), naming no flag. None as well for a model with no attention
    (Mamba, Mamba2: no heads, no attention module), which keeps no attention probabilities whichever it names."""
    chosen = default_attention(spec)
    if chosen == PREFERRED or (not spec.num_attention_heads and not any(m.role == "attention" for m in spec.linears)):
        return None
    flash = ""
    if Attention.FLASH in supported_attention(spec):
        flash = "--attention flash keeps none" if flag else "flash attention keeps none"
    why = "; ".join(x for x in ("priced here" if priced else "", flash) if x)
    lead = f"--attention {chosen}" if flag else f"{chosen} attention"
    return (f"{lead}: {_model(spec)} does not implement {PREFERRED} attention (lorplan's default) "
            f"in transformers; {chosen} attention keeps the seq-len × seq-len attention probabilities"
            + (f" ({why})" if why else ""))
