"""The LLaMA-Factory export of a plan with linear RoPE scaling, for a model whose RoPE transformers keeps per layer
type (Gemma 3, Olmo 3, ModernBERT): what LLaMA-Factory does with the YAML's `rope_scaling: linear` is reproduced
here (configure_rope, below) on a real transformers config, and the model transformers builds from the result is
compared with the one lorplan train builds for the same plan (lorplan.train.model.rope_scaled_config).

LLaMA-Factory 0.9.5 (its newest; it takes transformers 4.55 to 5.6) sets config.max_position_embeddings to a float,
which transformers 5's typed configs refuse, so on transformers 5 `rope_scaling: linear` fails to load any model.
On transformers 4 it loads with configure_rope's own factor, ceil(cutoff_len / max_position_embeddings), not the
plan's (3 for a packed plan here, where the plan scales by 2), and ModernBERT's configs have no rope_scaling
attribute there: configure_rope logs "Current model does not support RoPE scaling." and ModernBERT trains unscaled.
So the export leaves the option out and names the config.json edit, which LLaMA-Factory leaves alone (no
rope_scaling in the YAML) and transformers reads as lorplan train scales the model: the installed one (5.25) for
every model here; 4.57.6 and 5.6.0 (checked outside this suite) for Gemma 3 as the hub writes it; 4.57.6 alone for
Olmo 3, as transformers 5 up to 5.6 gives every Olmo 3 layer one RoPE. On 4 Olmo 3's sliding-window layers take
config.json's rope_theta, where transformers 5.25 (lorplan train) gives them 500,000: for an Olmo 3 whose
rope_theta differs the export says so.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from rope_exports import FACTOR, quiet, scaled_plan

from lorplan.core.export import export_plan
from lorplan.core.model import catalog

KINDS = ("full_attention", "sliding_attention")
# tiny models of each shape: 3 sliding-window layers, then a full-attention one; max_position_embeddings 256, so
# LLaMA-Factory's factor, ceil(cutoff_len / 256) for the sample plan's seq_len 512, is the plan's (2)
SMALL = dict(hidden_size=64, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2, vocab_size=64,
             max_position_embeddings=256, pad_token_id=0, bos_token_id=1, eos_token_id=2)
LAYER_TYPES = ["sliding_attention"] * 3 + ["full_attention"]
MODERNBERT = dict(model_type="modernbert", architectures=["ModernBertForMaskedLM"], global_rope_theta=80_000.0,
                  local_rope_theta=500.0, global_attn_every_n_layers=4, local_attention=16, cls_token_id=1,
                  sep_token_id=2, **SMALL)
MODERNBERT_DECODER = dict(MODERNBERT, model_type="modernbert-decoder", architectures=["ModernBertDecoderForCausalLM"])
OLMO3 = dict(model_type="olmo3", architectures=["Olmo3ForCausalLM"], rope_theta=500_000, num_key_value_heads=1,
             head_dim=32, layer_types=LAYER_TYPES, sliding_window=16, **SMALL)
EDIT = re.compile(r'add "rope_scaling": (\{.*?\}) to the model\'s config\.json')


def configure_rope(config, rope_scaling: str | None, model_max_length: int | None) -> None:
    """LLaMA-Factory 0.9.5's configure_rope (llamafactory/model/model_utils/rope.py in the llamafactory 0.9.5 wheel
    on PyPI, called by model/patcher.py patch_config on the config AutoConfig loads; hiyouga/LLaMA-Factory at
    75c529b425f3319045afc86258d4d10d289706f4 holds an older form writing {"type", "factor"}), for a RoPE type other
    than dynamic, yarn and llama3. model_max_length is the YAML's cutoff_len (hparams/parser.py)."""
    if rope_scaling is None:
        return
    if not hasattr(config, "rope_scaling"):  # logs "Current model does not support RoPE scaling."
        return
    current = getattr(config, "rope_scaling", None)
    if isinstance(current, dict) and "original_max_position_embeddings" in current:
        old_max_length = current["original_max_position_embeddings"]
    elif hasattr(config, "max_position_embeddings"):
        old_max_length = config.max_position_embeddings
    else:
        return
    if model_max_length is not None:
        if model_max_length <= old_max_length:  # "Disabling rope scaling."
            return
        factor = float(math.ceil(model_max_length / old_max_length))
    else:
        factor = 2.0
    config.max_position_embeddings = old_max_length * factor
    config.rope_scaling = {"rope_type": rope_scaling, "factor": factor}


def _folder(tmp_path: Path, name: str, raw: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(raw))
    return folder


def _gemma3(tmp_path: Path) -> Path:
    """gemma-3-1b-it's config.json as the hub ships it (rope_theta, rope_local_base_freq), with a tiny model's
    sizes."""
    raw = copy.deepcopy(catalog.config(catalog.find("google/gemma-3-1b-it")))
    raw.update(SMALL, num_key_value_heads=1, head_dim=32, layer_types=LAYER_TYPES, sliding_window=16)
    return _folder(tmp_path, "gemma3", raw)


def _export(plan) -> tuple[dict, tuple[str, ...]]:
    result = export_plan(plan, "llamafactory")
    text = next(text for name, text in result.files.items() if name.endswith(".yaml"))
    return yaml.safe_load(text), result.warnings


def _loaded(folder: Path):
    import transformers

    quiet()
    return transformers.AutoConfig.from_pretrained(folder)


def _frequencies(config) -> dict:
    """inv_freq and attention scaling per layer type of the model transformers builds from `config`."""
    import torch
    import transformers

    quiet()
    torch.manual_seed(0)
    rotary = transformers.AutoModel.from_config(config).rotary_emb
    return {kind: (getattr(rotary, f"{kind}_inv_freq").clone(), float(getattr(rotary, f"{kind}_attention_scaling")))
            for kind in KINDS}


def _trained(plan, folder: Path) -> dict:
    """What lorplan train builds for the plan: rope_scaled_config on the config transformers loads."""
    from lorplan.train.model import rope_scaled_config

    return _frequencies(rope_scaled_config(plan, folder, {}, _loaded(folder)))


def _same(built: dict, trained: dict) -> bool:
    return all(built[k][0].shape == trained[k][0].shape and bool((built[k][0] == trained[k][0]).all())
               and built[k][1] == trained[k][1] for k in KINDS)


def _factory_config(cfg: dict, folder: Path):
    """The config LLaMA-Factory hands the model: AutoConfig's, through configure_rope with the YAML's keys."""
    config = _loaded(folder)
    configure_rope(config, cfg.get("rope_scaling"), cfg["cutoff_len"])
    return config


@pytest.mark.parametrize("raw", [MODERNBERT_DECODER], ids=lambda raw: raw["model_type"])
def test_modernbert_leaves_rope_scaling_out_and_names_the_config_edit(tmp_path, raw):
    """ModernBERT's decoder: `rope_scaling: linear` fails to load on transformers 5 and is dropped on transformers 4
    (no rope_scaling attribute there: it trained unscaled), and the export's advice, transformers < 5, trained
    nothing of the plan's scaling. The option is left out; the config.json edit the warning names, with the YAML as
    written, builds what lorplan train builds (every layer type scaled). (ModernBERT's masked LM is refused:
    test_masked_lm_plan_is_refused.)"""
    folder = _folder(tmp_path, raw["model_type"], raw)
    plan = scaled_plan(folder)
    cfg, said = _export(plan)
    assert "rope_scaling" not in cfg
    assert not any("fails to load the model with rope_scaling" in w for w in said)
    (line,) = [w for w in said if w.startswith("rope_scaling left out")]
    assert "Current model does not support RoPE scaling." in line
    (edit,) = EDIT.findall(line)
    edited = _folder(tmp_path, "edited", {**raw, "rope_scaling": json.loads(edit)})
    built = _frequencies(_factory_config(cfg, edited))
    trained = _trained(plan, folder)
    assert _same(built, trained)
    unscaled = _frequencies(_loaded(folder))
    assert not any(bool((unscaled[k][0] == trained[k][0]).all()) for k in KINDS)  # both layer types scaled


def _packed(plan, packing: bool):
    return replace(plan, training=replace(plan.training, packing=packing))


@pytest.mark.parametrize("packing", [False, True])
def test_gemma3_as_the_hub_writes_it_gets_the_config_edit_not_the_option(tmp_path, packing):
    """A text-only Gemma 3 as the hub writes it (rope_theta, rope_local_base_freq) kept `rope_scaling: linear` with
    the advice to train on transformers < 5, where configure_rope sets its own factor, ceil(cutoff_len /
    max_position_embeddings): 3 for a packed plan (cutoff_len seq_len + 1) where the plan scales by 2, as for a
    plain model. The option is left out and the warning names the config.json edit, which LLaMA-Factory leaves
    alone and transformers builds as lorplan train does: here (5.25), and on 4.57.6 and 5.6.0 (checked outside
    this suite: both layer types' inv_freq equal lorplan train's), so the line names no transformers 5 alone."""
    folder = _gemma3(tmp_path)
    plan = _packed(scaled_plan(folder), packing)
    cfg, said = _export(plan)
    assert "rope_scaling" not in cfg
    assert not any("transformers < 5" in w or w.startswith("LLaMA-Factory: the plan extends RoPE") for w in said)
    (line,) = [w for w in said if w.startswith("rope_scaling left out")]
    assert "sets the factor itself" in line and "any transformers LLaMA-Factory 0.9.5 takes" in line
    (edit,) = EDIT.findall(line)
    raw = json.loads((folder / "config.json").read_text())
    edited = _folder(tmp_path, "edited", {**raw, "rope_scaling": json.loads(edit)})
    trained = _trained(plan, folder)
    assert _same(_frequencies(_factory_config(cfg, edited)), trained)
    assert not _same(_frequencies(_loaded(folder)), trained)  # it scales
    from huggingface_hub.errors import StrictDataclassFieldValidationError

    assert "fails to load" in line
    with pytest.raises(StrictDataclassFieldValidationError, match="max_position_embeddings"):
        _factory_config({**cfg, "rope_scaling": "linear"}, folder)  # the option, on transformers 5


@pytest.mark.parametrize("packing", [False, True])
def test_olmo3_as_the_hub_writes_it_gets_the_config_edit_for_transformers_4(tmp_path, packing):
    """Olmo 3 as the hub writes it (rope_theta 500,000) kept the option too, with configure_rope's own factor. The
    config.json edit trains the plan's factor on transformers 4.57.6 (Olmo3Model.rotary_embs: the sliding-window
    layers default RoPE on rope_theta, the full-attention ones config.json's rope_scaling; checked outside this
    suite: lorplan train's inv_freq), not on transformers 5 up to 5.6 (LLaMA-Factory's newest), which gives every
    Olmo 3 layer one RoPE and so scales the sliding-window layers too (checked on 5.6.0). The line says so."""
    folder = _folder(tmp_path, "olmo3", OLMO3)
    plan = _packed(scaled_plan(folder), packing)
    cfg, said = _export(plan)
    assert "rope_scaling" not in cfg
    assert not any("transformers < 5" in w or w.startswith("LLaMA-Factory: the plan extends RoPE") for w in said)
    (line,) = [w for w in said if w.startswith("rope_scaling left out")]
    assert "sets the factor itself" in line and EDIT.search(line)
    assert "with transformers 4 " in line and "scales the sliding-window layers too" in line
    assert not any("train on other frequencies" in w for w in said)  # its bases are lorplan train's there


def test_olmo3_whose_rope_theta_is_not_transformers_sliding_base_is_told(tmp_path):
    """Olmo 3 with rope_theta 10,000: on transformers 4 (where its config.json edit trains the plan's scaling) its
    sliding-window layers take 10,000, where lorplan train's (transformers 5) take 500,000; and transformers 5 up to
    5.6 keeps one RoPE for every Olmo 3 layer, so the edit helps there neither. The export says so."""
    folder = _folder(tmp_path, "olmo3", {**OLMO3, "rope_theta": 10_000})
    plan = scaled_plan(folder)
    cfg, said = _export(plan)
    assert "rope_scaling" not in cfg
    (line,) = [w for w in said if "sliding-window layers train" in w]
    assert "10,000" in line and "500,000" in line
    trained = _trained(plan, folder)
    assert trained["sliding_attention"][0][-1] == pytest.approx(500_000.0 ** (-30 / 32))  # lorplan train's base


def test_gemma3_saved_by_transformers5_with_its_own_bases_gets_the_config_edit(tmp_path):
    """A Gemma 3 config.json transformers 5 wrote (rope_parameters per layer type, bases not the class defaults):
    transformers 4 reads the bases from rope_theta and rope_local_base_freq, not there, so the option would train
    other frequencies; the export names the config.json edit instead, which builds what lorplan train builds."""
    from transformers import Gemma3TextConfig

    folder = tmp_path / "gemma3-saved"
    params = {"full_attention": {"rope_type": "default", "rope_theta": 50_000.0},
              "sliding_attention": {"rope_type": "default", "rope_theta": 500.0}}
    Gemma3TextConfig(**{**SMALL, "num_key_value_heads": 1, "head_dim": 32, "layer_types": LAYER_TYPES,
                        "sliding_window": 16}, rope_parameters=params).save_pretrained(folder)
    plan = scaled_plan(folder)
    cfg, said = _export(plan)
    assert "rope_scaling" not in cfg
    (line,) = [w for w in said if w.startswith("rope_scaling left out")]
    (edit,) = EDIT.findall(line)
    raw = json.loads((folder / "config.json").read_text())
    edited = _folder(tmp_path, "edited", {**raw, "rope_scaling": json.loads(edit)})
    assert _same(_frequencies(_factory_config(cfg, edited)), _trained(plan, folder))


def test_configure_rope_reproduction_reads_the_yaml_keys():
    """The reproduction's branches: no option, no rope_scaling attribute, a cutoff within the model's length."""
    config = SimpleNamespace(max_position_embeddings=256)
    configure_rope(config, "linear", 1024)
    assert not hasattr(config, "rope_scaling")
    config.rope_scaling = None
    configure_rope(config, "linear", 256)
    assert config.rope_scaling is None
    configure_rope(config, "linear", 1000)
    assert config.rope_scaling == {"rope_type": "linear", "factor": 4.0} and config.max_position_embeddings == 1024.0


def test_olmo3_saved_by_transformers5_names_every_layer_type_on_other_frequencies(tmp_path):
    """An Olmo 3 config.json transformers 5 wrote keeps its bases in rope_parameters alone (no rope_theta):
    transformers 4.57 (checked outside this suite) builds both layer types on its default 10,000, where lorplan
    train's take 500,000, so the full-attention layers, not the sliding-window ones alone, train on other
    frequencies; the line said the sliding-window ones."""
    from transformers import Olmo3Config

    folder = tmp_path / "olmo3-saved"
    Olmo3Config(**{k: v for k, v in OLMO3.items() if k not in ("model_type", "architectures")}).save_pretrained(folder)
    assert "rope_theta" not in json.loads((folder / "config.json").read_text())
    plan = scaled_plan(folder)
    cfg, said = _export(plan)
    assert "rope_scaling" not in cfg
    (line,) = [w for w in said if "train on other frequencies" in w]
    assert "the full-attention and sliding-window layers train on other frequencies" in line
    trained = _trained(plan, folder)
    assert trained["full_attention"][0][-1] == pytest.approx(500_000.0 ** (-30 / 32) / FACTOR)  # scaled, base 500,000


def test_olmo3_whose_rope_theta_matches_the_full_attention_layers_names_the_sliding_ones_alone(tmp_path):
    folder = _folder(tmp_path, "olmo3", {**OLMO3, "rope_theta": 10_000})
    _, said = _export(scaled_plan(folder))
    (line,) = [w for w in said if "train on other frequencies" in w]
    assert ": the sliding-window layers train on other frequencies" in line


OLMO3_BASE = re.compile(r'add "rope_theta": ([0-9.e+]+) to the model\'s config\.json \(a local copy\)')


def test_olmo3_saved_by_transformers5_is_told_the_rope_theta_that_trains_lorplans_bases_on_transformers_4(tmp_path):
    """The line on an Olmo 3 config.json transformers 5 saved (no rope_theta) named the other frequencies and no fix.
    transformers 4.57 gives both of Olmo 3's layer types config.json's rope_theta (Olmo3Model.rotary_embs: the
    sliding-window one default RoPE, the full-attention one with the rope_scaling configure_rope sets; checked
    there, outside this suite), so a rope_theta of lorplan train's one base builds lorplan train's frequencies."""
    from transformers import Olmo3Config

    folder = tmp_path / "olmo3-saved"
    Olmo3Config(**{k: v for k, v in OLMO3.items() if k not in ("model_type", "architectures")}).save_pretrained(folder)
    plan = scaled_plan(folder)
    _, said = _export(plan)
    (line,) = [w for w in said if "train on other frequencies" in w]
    (base,) = OLMO3_BASE.findall(line)
    trained = _trained(plan, folder)
    powers = -torch_arange(32) / 32
    assert _close(trained["sliding_attention"][0], float(base) ** powers)  # transformers 4: rope_theta, unscaled
    assert _close(trained["full_attention"][0], float(base) ** powers / FACTOR)  # rope_theta, scaled


def test_olmo3_whose_bases_differ_gets_no_rope_theta_line(tmp_path):
    """No one rope_theta gives transformers 4 two bases (config.json rope_theta 10,000: lorplan train's full-attention
    layers 10,000, its sliding-window ones 500,000)."""
    folder = _folder(tmp_path, "olmo3", {**OLMO3, "rope_theta": 10_000})
    _, said = _export(scaled_plan(folder))
    assert not any(OLMO3_BASE.search(w) for w in said)


def torch_arange(n: int):
    import torch

    return torch.arange(0, n, 2, dtype=torch.float64)


def _close(got, want) -> bool:
    return got.shape == want.shape and bool(((got.double() - want).abs() <= 1e-6 * want.abs()).all())


LLAMA = dict(model_type="llama", architectures=["LlamaForCausalLM"], rope_theta=50_000.0, num_key_value_heads=1,
             **SMALL)


def _llama_frequencies(config):
    import torch
    import transformers

    quiet()
    torch.manual_seed(0)
    rotary = transformers.AutoModel.from_config(config).rotary_emb
    return rotary.inv_freq.clone(), float(rotary.attention_scaling)


@pytest.mark.parametrize("packing", [False, True])
def test_plain_model_gets_the_config_edit_not_transformers_4(tmp_path, packing):
    """A model with one RoPE for every layer (Llama): the YAML's rope_scaling fails to load on transformers 5, and the
    export said to train with transformers < 5, where configure_rope sets its own factor, ceil(cutoff_len /
    max_position_embeddings): 3, not the plan's 2, for a packed plan (cutoff_len seq_len + 1). The option is left
    out and the warning names the config.json edit (as for the per-layer models), which LLaMA-Factory leaves alone
    (no rope_scaling in the YAML) and transformers reads as lorplan train scales the model (4.57 and 5.6 read it
    the same, checked outside this suite)."""
    folder = _folder(tmp_path, "llama", LLAMA)
    plan = scaled_plan(folder)
    plan = replace(plan, training=replace(plan.training, packing=packing))
    cfg, said = _export(plan)
    assert "rope_scaling" not in cfg
    assert not any("transformers < 5" in w or w.startswith("LLaMA-Factory: the plan extends RoPE") for w in said)
    (line,) = [w for w in said if w.startswith("rope_scaling left out")]
    (edit,) = EDIT.findall(line)
    edited = _folder(tmp_path, "edited", {**LLAMA, "rope_scaling": json.loads(edit)})
    from lorplan.train.model import rope_scaled_config

    built = _llama_frequencies(_factory_config(cfg, edited))
    trained = _llama_frequencies(rope_scaled_config(plan, folder, {}, _loaded(folder)))
    assert built[1] == trained[1] and bool((built[0] == trained[0]).all())
    assert not bool((_llama_frequencies(_loaded(folder))[0] == trained[0]).all())  # it scales


def test_masked_lm_plan_is_refused(tmp_path):
    """ModernBertForMaskedLM: every LLaMA-Factory stage (pt, sft, rm, ppo, dpo, kto) trains a causal LM, loaded with
    AutoModelForCausalLM (model/loader.py), which has no ModernBERT class: the export is refused in one line, as a
    sequence classifier's is."""
    from lorplan.core.errors import BadInput

    folder = _folder(tmp_path, "modernbert", MODERNBERT)
    with pytest.raises(BadInput) as err:
        _export(scaled_plan(folder))
    line = str(err.value)
    assert line.startswith("--to llamafactory: ") and "ModernBertForMaskedLM" in line and "\n" not in line
    assert "masked" in line and "sequence-classification" in line
    decoder = _folder(tmp_path, "decoder", MODERNBERT_DECODER)
    _export(scaled_plan(decoder))  # a causal LM: exported
