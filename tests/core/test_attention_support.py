"""lorplan.core.model.attention's table (which attentions a planned class lacks) against the installed
transformers, for every architecture the catalog plans: the class transformers builds for the catalog config and
the plan's task must be the spec's architecture, and its _supports_sdpa / _supports_flash_attn flags must say
what the table says, so the table cannot silently go stale when transformers changes (the check lorplan train
makes, train.model._check_attention, asks the same flags)."""

from __future__ import annotations

import pytest

from lorplan.core.model import load_spec, resolve_model
from lorplan.core.model.archs import FAST_PATH_TYPES
from lorplan.core.model.attention import UNSUPPORTED, class_flags, default_attention, supported_attention
from lorplan.core.model.catalog import ENTRIES
from lorplan.core.vocab import Attention, Task


def _specs():
    return [load_spec(resolve_model(e.id)) for e in ENTRIES]


def _transformers_class(spec):
    import transformers
    from transformers.models.auto.auto_factory import _get_model_class

    config = transformers.AutoConfig.for_model(**dict(spec.config))
    auto = (transformers.AutoModelForSequenceClassification if spec.task == Task.SEQUENCE_CLASSIFICATION
            else transformers.AutoModelForCausalLM)
    return _get_model_class(config, auto._model_mapping)


def _flags(cls) -> tuple[Attention, ...]:
    """What the class implements by the rule the fallback's child and lorplan train read (class_flags)."""
    return class_flags(cls).supported_attention


def test_the_catalog_covers_every_fast_path_architecture():
    assert {s.model_type for s in _specs()} == set(FAST_PATH_TYPES)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_the_table_says_what_transformers_implements(entry):
    spec = load_spec(resolve_model(entry.id))
    cls = _transformers_class(spec)
    assert cls.__name__ == spec.architecture, (cls.__name__, spec.architecture)
    assert supported_attention(spec) == _flags(cls), (spec.architecture, supported_attention(spec), _flags(cls))


def test_every_table_entry_is_a_class_lorplan_plans():
    planned = {s.architecture for s in _specs()}
    assert set(UNSUPPORTED) <= planned, set(UNSUPPORTED) - planned


def test_gemma2_defaults_to_eager_and_the_others_to_sdpa():
    for spec in _specs():
        expected = Attention.EAGER if spec.model_type == "gemma2" else Attention.SDPA
        assert default_attention(spec) == expected, spec.id
