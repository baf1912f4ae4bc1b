"""The exports' RoPE scaling reaches Gemma 3's language model as lorplan train's does (tests/train/
test_rope_scaling_gemma3.py): transformers 5 keeps Gemma 3's RoPE per layer type in the text config's
rope_parameters ({"full_attention": {...}, "sliding_attention": {...}}) and puts a config's rope_scaling on the
full-attention layers alone; a multimodal Gemma 3's language model reads text_config, never the top config.

Each export is checked by building what the tool would build, from a real transformers config of a tiny Gemma 3:
axolotl's overrides_of_model_config set by setattr on the loaded config (its loaders/utils.py load_model_config),
the config.json edits the TRL, axolotl and LLaMA-Factory warnings name, the steps the peft warning names, and
Unsloth's own rope_scaling code (where its sources are here). The full-attention layers' inv_freq must be divided
by the factor, the sliding ones left as they were. Plain (one-RoPE-for-every-layer) models keep their exports."""

from __future__ import annotations

import ast
import copy
import json
import os
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.export import export_plan
from lorplan.core.export.rope import PER_LAYER_TYPE_BASES
from lorplan.core.memory.bounds import ROPE_SCALING_EVERY_LAYER_TYPE
from lorplan.core.model import catalog
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
GEMMA3_1B = "google/gemma-3-1b-it"  # Gemma3ForCausalLM, hub config: rope_theta, rope_local_base_freq, no scaling
GEMMA3_4B = "google/gemma-3-4b-it"  # Gemma3ForConditionalGeneration: its language model's config is text_config
FACTOR = 2.0
SCALING = {"rope_type": "linear", "factor": FACTOR}
# a tiny language model of Gemma 3's shape (6 layers: 5 sliding-window, 1 full attention)
SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=6, num_attention_heads=2, num_key_value_heads=1,
             head_dim=16, vocab_size=128)
VISION = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=16,
              patch_size=8, vision_use_head=False)


def _plan(model: str, factor: float | None = FACTOR):
    """The sample SmolLM2 plan for `model` (a catalog id, or a folder), scaling RoPE by `factor`."""
    plan = read_plan(SAMPLES / "smollm2-135m-cpu.toml")
    folder = Path(model).is_dir()
    return replace(plan, model=replace(plan.model, id=None if folder else model, path=model if folder else None,
                                       rope_scaling=factor))


def _files(plan, fmt: str):
    result = export_plan(plan, fmt)
    return result, result.files


def _axolotl(plan) -> tuple[dict, tuple[str, ...]]:
    result, files = _files(plan, "axolotl")
    (text,) = files.values()
    return yaml.safe_load(text), result.warnings


def _hub_text_config() -> dict:
    """gemma-3-1b-it's config.json as the hub ships it, with a tiny model's sizes."""
    raw = copy.deepcopy(catalog.config(catalog.find(GEMMA3_1B)))
    raw.update(SMALL)
    raw.pop("layer_types", None)
    return raw


def _config(raw: dict):
    import transformers

    raw = copy.deepcopy(raw)
    return transformers.AutoConfig.for_model(raw.pop("model_type"), **raw)


def _frequencies(config) -> dict:
    """The rotary embedding's inv_freq per layer type of the model transformers builds from `config`."""
    import torch
    import transformers

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rope_scaling's FutureWarning, as axolotl's setattr raises it
        if getattr(config, "text_config", None) is not None:
            model = transformers.Gemma3ForConditionalGeneration(config)
        else:
            model = transformers.AutoModelForCausalLM.from_config(config)
    rotary = next(m for name, m in model.named_modules() if name.endswith("rotary_emb"))
    return {kind: getattr(rotary, f"{kind}_inv_freq").clone() for kind in ("full_attention", "sliding_attention")}


def _scaled_full_attention_only(plain: dict, scaled: dict, factor: float = FACTOR) -> None:
    assert (scaled["full_attention"] * factor - plain["full_attention"]).abs().max() < 1e-6  # positions / factor
    assert (scaled["sliding_attention"] - plain["sliding_attention"]).abs().max() == 0


def _set_overrides(config, overrides: dict):
    """axolotl's load_model_config: setattr(model_config, key, value) for each override, in the file's order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, value in copy.deepcopy(overrides).items():
            setattr(config, key, value)
    return config


@pytest.mark.parametrize("model_type", PER_LAYER_TYPE_BASES)
def test_per_layer_type_models_are_transformers(model_type):
    """The exporter's table of text configs with RoPE per layer type: transformers' own classes build them so from
    the hub's flat keys, each layer type's base from the key the table names (the class default, whatever the
    config says, where it names none: Olmo 3's sliding-window layers), the defaults its, and a flat rope_scaling
    on the full-attention layers alone (every layer type for ModernBERT)."""
    import transformers

    keys = PER_LAYER_TYPE_BASES[model_type]
    values: dict[str, float] = {}  # a base per key, none the default
    for key, _ in keys.values():
        if key is not None:
            values.setdefault(key, 7.0 + len(values))
    if model_type == "olmo3":
        values.setdefault("rope_theta", 7.0)  # set, and still not read for the sliding-window layers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = transformers.AutoConfig.for_model(model_type).rope_parameters
        given = transformers.AutoConfig.for_model(model_type, rope_scaling=dict(SCALING), **values).rope_parameters
    assert {kind: default[kind]["rope_theta"] for kind in keys} == {kind: d for kind, (_, d) in keys.items()}
    assert {kind: given[kind]["rope_theta"] for kind in keys} == \
        {kind: values[key] if key is not None else d for kind, (key, d) in keys.items()}
    assert given["full_attention"]["factor"] == FACTOR
    # on the full-attention layers alone, but on every layer type for ModernBERT (ModernBertConfig)
    assert ("factor" in given["sliding_attention"]) is (model_type in ROPE_SCALING_EVERY_LAYER_TYPE)


def test_every_catalog_model_with_rope_per_layer_type_is_in_the_table():
    """Each catalog model's language model (text_config's for a multimodal one) whose transformers config keeps
    RoPE per layer type is one the exporter knows from the hub's flat keys."""
    import transformers

    seen = set()
    for entry in catalog.ENTRIES:
        cfg = catalog.config(entry)
        text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
        model_type = text.get("model_type")
        if model_type in seen or model_type not in transformers.CONFIG_MAPPING:
            continue
        seen.add(model_type)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params = getattr(transformers.AutoConfig.for_model(model_type), "rope_parameters", None) or {}
        nested = bool(params) and all(isinstance(v, dict) for v in params.values())
        assert nested is (model_type in PER_LAYER_TYPE_BASES), model_type
    assert "gemma3_text" in seen


def test_axolotl_gemma3_overrides_scale_the_full_attention_layers():
    """A flat rope_parameters replaced Gemma 3's per-layer-type one: building the model failed with KeyError
    'full_attention'. Now rope_parameters is written per layer type, each with its base (the hub's rope_theta
    and rope_local_base_freq)."""
    cfg, _ = _axolotl(_plan(GEMMA3_1B))
    params = cfg["overrides_of_model_config"]["rope_parameters"]
    raw = _hub_text_config()
    assert params == {"full_attention": {**SCALING, "rope_theta": float(raw["rope_theta"])},
                      "sliding_attention": {"rope_type": "default", "rope_theta": float(raw["rope_local_base_freq"])}}
    plain = _frequencies(_config(raw))
    scaled = _frequencies(_set_overrides(_config(raw), cfg["overrides_of_model_config"]))
    _scaled_full_attention_only(plain, scaled)


def test_axolotl_gemma3_saved_by_transformers5_keeps_its_own_bases(tmp_path):
    """A config.json transformers 5 saved (rope_parameters per layer type, no rope_theta beside them): the
    override keeps each layer type's base, here not transformers' defaults."""
    from transformers import Gemma3TextConfig

    Gemma3TextConfig(**SMALL, rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 50_000.0},
                                               "sliding_attention": {"rope_type": "default", "rope_theta": 500.0}}
                     ).save_pretrained(tmp_path)
    cfg, _ = _axolotl(_plan(str(tmp_path), factor=4.0))
    overrides = cfg["overrides_of_model_config"]
    assert overrides["rope_parameters"]["sliding_attention"]["rope_theta"] == 500.0
    assert overrides["rope_parameters"]["full_attention"] == {"rope_type": "linear", "factor": 4.0,
                                                              "rope_theta": 50_000.0}
    raw = json.loads((tmp_path / "config.json").read_text())
    _scaled_full_attention_only(_frequencies(_config(raw)), _frequencies(_set_overrides(_config(raw), overrides)),
                                factor=4.0)


def _multimodal_folder(folder: Path) -> Path:
    """gemma-3-4b-it's config.json as the hub ships it, less its text_config's own rope_scaling (so the plan may
    scale RoPE), with a tiny model's sizes."""
    raw = json.loads(json.dumps(catalog.config(catalog.find(GEMMA3_4B))))
    del raw["text_config"]["rope_scaling"]
    raw["text_config"].update(SMALL)
    raw["vision_config"].update(VISION)
    raw.update(mm_tokens_per_image=4, image_token_index=100, boi_token_index=101, eoi_token_index=102)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(raw))
    return folder


def _text_folder(folder: Path) -> Path:
    """gemma-3-1b-it's config.json as the hub ships it, with a tiny model's sizes (_hub_text_config)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(_hub_text_config()))
    return folder


def _gemma3_folder(tmp_path: Path, multimodal: bool) -> Path:
    """Gemma3ForConditionalGeneration's folder (_multimodal_folder) or Gemma3ForCausalLM's (_text_folder)."""
    return _multimodal_folder(tmp_path / "gemma3") if multimodal else _text_folder(tmp_path / "gemma3-1b")


def _from_folder(folder: Path):
    import transformers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.AutoConfig.from_pretrained(folder)


EDIT_TEXT_CONFIG = f'add "rope_scaling": {json.dumps(SCALING)} to text_config in the model\'s config.json'


def _edited(folder: Path, where: str | None) -> Path:
    """The config.json edit the warnings name: rope_scaling added at `where` (None: the top level)."""
    raw = json.loads((folder / "config.json").read_text())
    (raw[where] if where else raw)["rope_scaling"] = dict(SCALING)
    copy_ = folder.parent / f"{folder.name}-edited"
    copy_.mkdir()
    (copy_ / "config.json").write_text(json.dumps(raw))
    return copy_


def test_multimodal_gemma3_axolotl_and_llamafactory_say_to_edit_text_config(tmp_path):
    """axolotl sets overrides on the top config and LLaMA-Factory its rope_scaling (configure_rope on the config
    AutoConfig loads): Gemma3ForConditionalGeneration's language model reads neither. Both exports leave the key
    out and say what to edit in config.json, and that edit scales the full-attention layers."""
    folder = _multimodal_folder(tmp_path / "gemma3")
    plan = _plan(str(folder))
    cfg, said = _axolotl(plan)
    assert "overrides_of_model_config" not in cfg
    assert any(w.startswith("overrides_of_model_config") and EDIT_TEXT_CONFIG in w for w in said)
    factory, files = _files(plan, "llamafactory")
    main = next(text for name, text in files.items() if name.endswith(".yaml"))
    assert "rope_scaling" not in yaml.safe_load(main)
    assert any(EDIT_TEXT_CONFIG in w for w in factory.warnings)
    assert not any("fails to load the model with rope_scaling" in w for w in factory.warnings)
    plain = _from_folder(folder)
    # what axolotl would have done with the flat override: the text model's RoPE is untouched
    ignored = _set_overrides(_from_folder(folder), {"rope_parameters": {**SCALING, "rope_theta": 1e6}})
    assert ignored.get_text_config().rope_parameters == plain.get_text_config().rope_parameters
    _scaled_full_attention_only(_frequencies(plain), _frequencies(_from_folder(_edited(folder, "text_config"))))


def test_trl_warning_names_the_config_edit_that_scales_gemma3(tmp_path):
    """TRL's YAML has no RoPE key; its warning said to write "the scaling" into config.json, where a flat
    rope_parameters breaks Gemma 3. It now names the edit: rope_scaling, which transformers puts on the
    full-attention layers (text_config's for the multimodal model)."""
    result, _ = _files(_plan(GEMMA3_1B), "trl")
    edit = f'add "rope_scaling": {json.dumps(SCALING)} to the model\'s config.json'
    assert any(w.startswith("TRL:") and edit in w for w in result.warnings)
    folder = _text_folder(tmp_path / "gemma3-1b")
    _scaled_full_attention_only(_frequencies(_from_folder(folder)), _frequencies(_from_folder(_edited(folder, None))))

    multimodal = _multimodal_folder(tmp_path / "gemma3-4b")
    result, _ = _files(_plan(str(multimodal)), "trl")
    assert any(w.startswith("TRL:") and EDIT_TEXT_CONFIG in w for w in result.warnings)


@pytest.mark.parametrize("multimodal", [False, True], ids=["Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"])
def test_peft_warning_names_the_full_attention_entry(tmp_path, multimodal):
    """peft's warning said to add rope_parameters={rope_type, factor} to the config: on Gemma 3 those keys sat
    beside the per-layer-type entries and nothing was scaled. It now names rope_parameters['full_attention'] (of
    the text config, config.get_text_config(), for the multimodal model); doing that scales the model."""
    folder = _gemma3_folder(tmp_path, multimodal)
    result, _ = _files(_plan(str(folder)), "peft")
    (line,) = [w for w in result.warnings if w.startswith("peft: the plan extends RoPE")]
    assert f"{SCALING!r} added to rope_parameters['full_attention'] of" in line
    assert ("config.get_text_config()" in line) is multimodal
    config = _from_folder(folder)
    config.get_text_config().rope_parameters["full_attention"].update(SCALING)  # what the line says
    _scaled_full_attention_only(_frequencies(_from_folder(folder)), _frequencies(config))


def _unsloth_sources() -> Path | None:
    src = os.environ.get("UNSLOTH_SRC")
    if not src:
        return None
    path = Path(src)
    return path / "unsloth" if (path / "unsloth").is_dir() else path


def _unsloth_rope_code(root: Path) -> dict:
    """Unsloth's own functions that put from_pretrained's rope_scaling on the config FastModel builds (Gemma 3
    goes there, FastLanguageModel hands it on): vision.py's _apply_user_rope_scaling with what it calls from
    llama.py, taken from the sources (importing unsloth needs a GPU)."""
    wanted = {"llama.py": ("_get_rope_theta", "_rope_scaling_as_dict", "_user_rope_scaling"),
              "vision.py": ("_ROPE_LAYOUT_KEYS", "_apply_user_rope_scaling")}
    code = []
    for name, names in wanted.items():
        tree = ast.parse((root / "models" / name).read_text())
        for node in tree.body:
            defined = [node.name] if isinstance(node, ast.FunctionDef) else \
                [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            if any(n in names for n in defined):
                code.append(ast.get_source_segment((root / "models" / name).read_text(), node))
    source = "\n\n".join(code).replace("from .llama import _rope_scaling_as_dict, _user_rope_scaling", "pass")
    namespace: dict = {}
    exec(compile(source, "unsloth-rope", "exec"), namespace)  # noqa: S102 - Unsloth's own code, from its wheel
    return namespace


@pytest.mark.parametrize("multimodal", [False, True], ids=["Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"])
def test_unsloth_rope_scaling_reaches_gemma3_full_attention(tmp_path, multimodal):
    """The script passes rope_scaling={rope_type: linear, factor} to FastLanguageModel.from_pretrained; for Gemma
    3 Unsloth (2026.10.9) puts a flat one on the text config's full-attention layers, so the export is unchanged.
    Checked with Unsloth's own code where UNSLOTH_SRC names its unpacked wheel."""
    root = _unsloth_sources()
    if root is None:
        pytest.skip("no unsloth sources here (set UNSLOTH_SRC to an unpacked unsloth wheel)")
    apply = _unsloth_rope_code(root)["_apply_user_rope_scaling"]
    folder = _gemma3_folder(tmp_path, multimodal)
    (script,) = _files(_plan(str(folder)), "unsloth")[1].values()
    call = next(n for n in ast.walk(ast.parse(script)) if isinstance(n, ast.Call)
                and ast.unparse(n.func) == "FastLanguageModel.from_pretrained")
    rope_scaling = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "rope_scaling"))
    assert rope_scaling == SCALING
    config = _from_folder(folder)
    apply(config, rope_scaling)
    _scaled_full_attention_only(_frequencies(_from_folder(folder)), _frequencies(config))


def _all_exports(plan) -> dict:
    out = {}
    for fmt in ("peft", "axolotl", "llamafactory", "accelerate", "trl", "unsloth"):
        result = export_plan(plan, fmt)
        out[fmt] = (dict(result.files), tuple(result.warnings))
    return out


def test_plain_models_exports_name_no_layer_type_or_text_config():
    """A model with one RoPE for every layer (SmolLM2, a llama) is written as before: a flat rope_parameters for
    axolotl, no per-layer-type or text_config words anywhere."""
    exports = _all_exports(_plan("HuggingFaceTB/SmolLM2-135M"))
    text = json.dumps(exports)
    assert "full_attention" not in text and "text_config" not in text and "get_text_config" not in text
    (axolotl,) = exports["axolotl"][0].values()
    assert yaml.safe_load(axolotl)["overrides_of_model_config"]["rope_parameters"]["rope_type"] == "linear"


# Olmo 3's config.json as the hub's files write it (flat rope_theta; transformers 5 builds RoPE per layer type
# from it, the plan's scaling on the full-attention layers), with a tiny model's sizes and no scaling of its own
OLMO3 = dict(model_type="olmo3", architectures=["Olmo3ForCausalLM"], hidden_size=32, intermediate_size=64,
             num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=2, vocab_size=128,
             max_position_embeddings=4096, rope_theta=500_000, rope_scaling=None, sliding_window=16,
             layer_types=["sliding_attention"] * 3 + ["full_attention"])


def test_axolotl_olmo3_overrides_scale_the_full_attention_layers(tmp_path):
    """Gemma 3 is not the only model transformers 5 keeps RoPE per layer type from the hub's flat keys: a flat
    rope_parameters failed Olmo 3's build the same way (KeyError 'full_attention'). Its override is written per
    layer type, each with the config's rope_theta, and scales the full-attention layers alone."""
    (tmp_path / "config.json").write_text(json.dumps(OLMO3))
    cfg, _ = _axolotl(_plan(str(tmp_path)))
    overrides = cfg["overrides_of_model_config"]
    assert overrides["rope_parameters"] == {"full_attention": {**SCALING, "rope_theta": 500_000.0},
                                            "sliding_attention": {"rope_type": "default", "rope_theta": 500_000.0}}
    _scaled_full_attention_only(_frequencies(_from_folder(tmp_path)),
                                _frequencies(_set_overrides(_from_folder(tmp_path), overrides)))


def _trained_frequencies(folder: Path, factor: float = FACTOR) -> dict:
    """The inv_freq per layer type lorplan train builds for the plan scaling `folder`'s model by `factor`
    (lorplan.train.model.rope_scaled_config on the config transformers loads)."""
    from lorplan.train.model import rope_scaled_config

    config = rope_scaled_config(_plan(str(folder), factor), folder, {}, _from_folder(folder))
    return _frequencies(config)


def _same(built: dict, trained: dict) -> bool:
    return all(built[kind].shape == trained[kind].shape and (built[kind] - trained[kind]).abs().max() == 0
               for kind in ("full_attention", "sliding_attention"))


@pytest.mark.parametrize("rope_theta", [500_000, 10_000])
def test_axolotl_olmo3_keeps_the_sliding_layers_base_transformers_gives_them(tmp_path, rope_theta):
    """Olmo3Config (transformers 5.25, convert_rope_params_to_dict) gives the full-attention layers config.json's
    rope_theta and the sliding-window ones its class default, 500,000, whatever rope_theta says; lorplan train
    scales the config so loaded. The override wrote rope_theta on the sliding layers too: for a model whose
    rope_theta is not 500,000 those layers trained on another base than lorplan train's."""
    (tmp_path / "config.json").write_text(json.dumps({**OLMO3, "rope_theta": rope_theta}))
    cfg, _ = _axolotl(_plan(str(tmp_path)))
    overrides = cfg["overrides_of_model_config"]
    assert overrides["rope_parameters"]["sliding_attention"] == {"rope_type": "default", "rope_theta": 500_000.0}
    assert overrides["rope_parameters"]["full_attention"] == {**SCALING, "rope_theta": float(rope_theta)}
    assert _same(_frequencies(_set_overrides(_from_folder(tmp_path), overrides)), _trained_frequencies(tmp_path))
