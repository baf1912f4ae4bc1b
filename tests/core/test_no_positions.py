"""Models with no RoPE and no position embedding of any kind (RWKV, Mamba, xLSTM: recurrent or state-space layers;
Jamba, Zamba, Nemotron-H, Kimi Linear: attention without positions beside them). check_context took every model
with a context and no learned, sinusoidal or ALiBi positions for a RoPE model: `lorplan plan --model <rwkv folder>
--seq-len 99999` was refused with advice to use `--rope-scaling`, which does nothing for RWKV, and `--rope-scaling 2`
was accepted for RWKV and Mamba. The table of such model types (bounds.NO_POSITIONS) is checked against the
transformers installed here; the refusals from real configs saved by transformers, real fallback builds."""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest

from lorplan.core.memory.bounds import NO_POSITIONS
from tests.cli.test_plan_bounds import refused

# what a modelling or configuration file names when the model positions its tokens somehow: a rotary embedding or
# its parameters, ALiBi, a table or bias of positions (absolute, relative, sinusoidal, axial)
_POSITIONS = re.compile(
    r"RotaryEmbedding|rope_parameters|alibi|Position(al)?(Embedding|Encoding|Bias)|position_(embed|bias|enc)"
    r"|embed_positions|positions?_embed|pos_(emb|enc|bias)|rel_(pos|emb)|relative_(position|attention)|n_positions",
    re.I)
# names that say nothing of positions: the context's config key, and apply_rotary_pos_emb, which Jamba's, Zamba's
# and Nemotron-H's files copy in (decorating their attention) but never call (no rotary embedding computes cos/sin)
_NOT_POSITIONS = re.compile(r"\w*apply_rotary_pos_emb\w*|\"rotary_pos_emb\"|\w*max_position_embeddings")


@pytest.fixture(autouse=True)
def private(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_the_table_is_transformers():
    """Every model type transformers builds as a causal LM or a sequence classifier whose modelling and
    configuration files name no positions at all is in NO_POSITIONS, and no other. A config with sub-configs
    (a text_config) is left out: its language model is another type's, checked under that type."""
    import transformers
    from transformers.models.auto import configuration_auto, modeling_auto

    maps = (modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES)
    found = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model_type in set().union(*maps):
            try:
                classes = [getattr(transformers, m[model_type]) for m in maps if model_type in m]
            except (AttributeError, ImportError):  # a class this install cannot import: lorplan cannot build it
                continue
            config = configuration_auto.CONFIG_MAPPING[model_type]
            if config.sub_configs:
                continue
            modules = {c.__module__ for c in classes} | {config.__module__}
            text = "".join(inspect.getsource(importlib.import_module(m)) for m in modules)
            if not _POSITIONS.search(_NOT_POSITIONS.sub("", text)):
                found.add(model_type)
    assert found == set(NO_POSITIONS)
    assert {"rwkv", "mamba", "mamba2", "jamba"} <= found  # the scan finds what it is for


def _saved(folder: Path, config) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config.save_pretrained(folder)
    return str(folder)


def test_rwkv_is_refused_beyond_its_context_without_rope_advice(tmp_path, capsys):
    """RWKV's context_length is the longest sequence its WKV kernel takes in one pass (modeling_rwkv: 'Cannot
    process a batch with ... tokens'): beyond it is refused, with no --rope-scaling to offer; --rope-scaling
    itself is refused as having nothing to scale."""
    from transformers import RwkvConfig

    folder = _saved(tmp_path / "rwkv", RwkvConfig(vocab_size=128, hidden_size=64, num_hidden_layers=2,
                                                  context_length=256))
    line = refused(capsys, "--model", folder, "--seq-len", "99999")
    assert line == (f"lorplan plan: error: --seq-len 99999 is beyond {folder}'s context of 256 tokens "
                    "(context_length of the model's config; no position embeddings, no RoPE); use sequences of "
                    "at most that length")
    line = refused(capsys, "--model", folder, "--rope-scaling", "2")
    assert line == (f"lorplan plan: error: --rope-scaling: {folder} has no RoPE to scale: it has no position "
                    "embeddings (recurrent or state-space layers, attention without positions)")


def test_mamba_is_refused_rope_scaling(tmp_path, capsys):
    """Mamba has no context at all (no limit on --seq-len) and nothing for --rope-scaling to scale."""
    from transformers import MambaConfig

    folder = _saved(tmp_path / "mamba", MambaConfig(vocab_size=128, hidden_size=64, num_hidden_layers=2))
    line = refused(capsys, "--model", folder, "--rope-scaling", "2")
    assert "has no RoPE to scale: it has no position embeddings" in line and folder in line
