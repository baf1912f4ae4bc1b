"""The model of a plan, ready to train: tokenizer, base model (precision, bitsandbytes quantization, attention,
gradient checkpointing) and the LoRA adapter, with target modules resolved by lorplan.core.lora against the
model's spec, so "attention" or "mlp" means here what the planner priced.

Adapters and fully trained modules (a classification head, modules_to_save) are kept in fp32 whatever the
base dtype, as the memory model assumes (peft's autocast_adapter_dtype does it for LoRA weights only).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.core.export.peft import classifier_kwargs  # the head the peft export's classifier file describes
from lorplan.core.model.pooling import (  # the rule the fallback's child reports (ModelSpec)
    pools_by_pad,
    pools_by_text_config,
)
from lorplan.core.plan.build import prepares_kbit  # the rule lorplan train shares with the exports
from lorplan.core.units import counted
from lorplan.core.vocab import ATTN_IMPLEMENTATION, TORCH_DTYPE, WEIGHT_SHARDED, Attention, DType
from lorplan.train.paths import resolve_path


def _quiet_library_noise() -> None:
    """Silence what the libraries print on every lorplan training or probe though nothing is wrong:
    bitsandbytes' CPU backend asks the hub (through the `kernels` package transformers installs) for a 4-bit
    kernel when it is imported, and lorplan keeps the hub offline, so both packages warn ("Skipping publisher
    trust check", "Failed to load CPU gemm_4bit_forward") and bitsandbytes uses its own kernel anyway; peft
    warns that base_model_name_or_path was "renamed" because lorplan loads the model from its local folder;
    peft reads transformers' deprecated is_gradient_checkpointing (a FutureWarning from the libraries, not
    from lorplan). Everything else they say is left as it is."""
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    logging.getLogger("kernels._internals.hf_hub").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r"The PEFT config's `base_model_name_or_path` was renamed",
                            category=UserWarning)
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)


_quiet_library_noise()


def model_folder(model, plan_path: str | None = None) -> Path:
    """The local folder with the weights and tokenizer of `model`: a plan's [model] table (a ModelSection; a
    relative path is found as data paths are) or a name. The one model lookup of `lorplan train` and probes,
    through lorplan.core.model.model_folder: offline, never downloads; BadInput naming the model otherwise."""
    from lorplan.core.model import model_folder as find_folder

    if isinstance(model, str):
        return find_folder(model)
    if model.path is not None:
        return find_folder(str(resolve_path(model.path, plan_path)))
    return find_folder(model.id or "")


def hide_bitsandbytes(plan, modules: dict, plan_path: str | None = None) -> bool:
    """Make bitsandbytes unimportable in this process (modules["bitsandbytes"] = None: `import` raises
    ImportError and importlib.util.find_spec says None, which is how peft, transformers and accelerate ask) when
    `plan` trains on the CPU from a checkpoint that is not quantized; the caller says it trains on the CPU, and
    calls it only in a process of its own (a CPU probe's worker, a CPU `lorplan train`), never in one that may
    want bitsandbytes later. There lorplan.train uses none of it (its quantization and 8-bit optimizers are
    skipped on the CPU), but peft imports it whenever it is installed: about 1.1-1.4 s of CPU at every process's
    start on 2 cores (more when they are busy), a ladder's probes each paying it. A checkpoint whose config.json
    has a quantization_config keeps it (transformers loads those with bitsandbytes' CPU backend); so does a
    process that has imported it already. `plan_path` finds a relative model.path (as model_folder). True when
    it was hidden."""

    if "bitsandbytes" in modules:
        return False
    try:
        path = model_folder(plan.model, plan_path) / "config.json"
        # not a regular file (a pipe's read would wait for ever): the engine's own load says what is wrong
        config = json.loads(path.read_text()) if path.is_file() else None
    except Exception:  # the engine's own load says what is wrong with the model
        return False
    if not isinstance(config, dict) or "quantization_config" in config:
        return False
    modules["bitsandbytes"] = None
    return True


def lora_targets(plan):
    """The plan's LoRA targets in lorplan.core.lora's terms (what the planner priced)."""
    from lorplan.core.plan import plan_to_setup

    return plan_to_setup(plan)[1].targets


def lora_config(plan, spec):
    """peft.LoraConfig for the plan: every field from the plan (lorplan.core.export.peft), target_modules
    resolved by lorplan.core.lora.peft_target_modules against `spec`."""
    from peft import LoraConfig

    from lorplan.core.export.peft import lora_config_kwargs
    from lorplan.core.lora import peft_target_modules

    kwargs = lora_config_kwargs(plan)
    kwargs["target_modules"] = peft_target_modules(spec, lora_targets(plan))
    return LoraConfig(**kwargs)


def load_config(plan, folder: Path):
    """The model's config as transformers reads it (AutoConfig), read once for a run: load_tokenizer and
    build_model (its attention check and a RoPE-scaled load) take it. A JSON file of the folder's tokenizer and
    config that is there but no JSON object (empty, not UTF-8, nested too deeply...) is one line naming the file
    (fast_tokenizer's read_json_files, before transformers reads them); so is a config value of a type
    transformers does not take (a traceback from AutoConfig)."""
    from transformers import AutoConfig

    from lorplan.core.data.fast_tokenizer import read_json_files

    read_json_files(folder, tokenizer_json=False)
    try:
        return AutoConfig.from_pretrained(str(folder), revision=plan.model.revision, local_files_only=True,
                                          trust_remote_code=plan.model.trust_remote_code)
    except (OSError, *_CONFIG_ERRORS) as exc:
        raise BadInput(f"model {plan.model.source!r}: transformers cannot load it from {folder / 'config.json'} "
                       f"({_cause(exc)})") from None


def load_tokenizer(plan, folder: Path, config=None):
    """The model's tokenizer, with a pad token (EOS, else UNK) when it has none; `config` is load_config's (read
    here when not given: its errors first). tokenizer.json (megabytes) that is no JSON object is named only when
    transformers failed on the folder; transformers' own errors name no file, or are a RecursionError."""
    from transformers import AutoTokenizer

    from lorplan.core.data.fast_tokenizer import read_json_files

    if config is None:
        config = load_config(plan, folder)
    try:  # AutoTokenizer takes the config read above, as it would read it (AutoConfig)
        tok = AutoTokenizer.from_pretrained(str(folder), config=config, local_files_only=True,
                                            trust_remote_code=plan.model.trust_remote_code)
    except Exception as exc:
        read_json_files(folder)  # tokenizer.json nested too deeply, a list...: BadInput naming it
        if not isinstance(exc, (OSError, ValueError)):
            raise
        raise BadInput(f"model {plan.model.source!r}: no usable tokenizer in {folder} "
                       f"({str(exc).splitlines()[0]})") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def _config_errors() -> tuple[type[Exception], ...]:
    try:
        from huggingface_hub.errors import StrictDataclassError  # transformers 5's config field checks
    except ImportError:
        return ()
    return (StrictDataclassError,)


# what transformers raises for a config.json value of a type or range it does not take ("tie_word_embeddings":
# "yes", "hidden_act": 5 or "nope", "rope_parameters": "x", "head_dim": 0, "dtype": "nope", a pad_token_id beyond
# the vocabulary: torch asserts it...)
_CONFIG_ERRORS = (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError, AssertionError,
                  *_config_errors())


def _built_from_config(exc: BaseException) -> bool:
    """Whether from_pretrained raised `exc` while building the model from its config: inside a module's
    __init__ (the model's own code, torch's layers, the generation config made from it: "hidden_act": "nope",
    "head_dim": 0, a pad_token_id beyond the vocabulary), and not in transformers' modeling_utils.py, whose checks
    there are of the load's arguments (an attention implementation the model does not support); a ValueError
    reading the weights, or one of lorplan's own, is not the config's."""
    import torch

    inside, last, tb = False, None, exc.__traceback__
    while tb is not None:
        last = tb.tb_frame
        inside = inside or (last.f_code.co_name == "__init__" and isinstance(last.f_locals.get("self"), torch.nn.Module))
        tb = tb.tb_next
    return inside and last is not None and Path(last.f_code.co_filename).name != "modeling_utils.py"


def _generation_config(path: Path) -> None:
    """BadInput naming generation_config.json when transformers' read of it would be a traceback: nested too
    deeply, a number too long for json, not a JSON object. transformers skips one it finds no JSON in (empty, not
    UTF-8, a byte-order mark, not JSON: OSError, then a generation config made from config.json), and the model
    loads: that is left to it."""
    from lorplan.core.jsontext import loads_json

    try:
        obj = loads_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return
    except ValueError as exc:
        raise BadInput(f"generation_config.json at {path} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadInput(f"generation_config.json at {path} is not a JSON object")


def _cause(exc: BaseException) -> str:
    """The innermost cause of `exc` as "Type: its first line" (huggingface_hub's field error wraps the
    TypeError that says what the field holds)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    first = (str(exc).strip().splitlines() or [""])[0].strip()
    return f"{type(exc).__name__}: {first[:300]}"


def class_attentions(model_cls) -> tuple[Attention, ...]:
    """The attentions a transformers model class implements by its own flags (core.model.attention.class_flags,
    the rule the fallback's child reports to lorplan plan: _supports_sdpa, _supports_flash_attn or transformers
    4's _supports_flash_attn_2; eager always), eager first as lorplan train's messages list them. They cover every
    class, those outside core.model.attention's table too (the fallback's models, plans written elsewhere)."""
    from lorplan.core.model.attention import class_flags

    supported = class_flags(model_cls).supported_attention
    return tuple(a for a in (Attention.EAGER, Attention.SDPA, Attention.FLASH) if a in supported)


def suggested_attention(model_cls) -> Attention:
    """The attention lorplan train tells a plan to set for this class: the nearest it runs, by core's rule
    (core.model.attention.preferred_among: SDPA, no s x s scores kept, as flash, when the class has it, else eager)
    on the class's flags; default_attention's answer for every class in core's table
    (tests/train/test_attention_fix_named.py)."""
    from lorplan.core.model.attention import preferred_among

    return preferred_among(class_attentions(model_cls))


def _check_attention(plan, folder: Path, auto_cls, kwargs: dict, config=None) -> None:
    """BadInput when the model's transformers class does not implement the attention this run asks for (Gemma 2
    has no SDPA, lorplan plan's default: from_pretrained's ValueError, which is no config.json value's, was a
    traceback): one line naming training.attention and what the class supports. `config`: load_config's (read
    here when not given). A config transformers cannot read, or a class it finds only through the model's own
    code (auto_map), is left to the load."""
    import transformers

    impl = kwargs["attn_implementation"]
    try:
        from transformers.models.auto.auto_factory import _get_model_class

        if config is None:
            config = transformers.AutoConfig.from_pretrained(str(folder), revision=kwargs["revision"],
                                                             local_files_only=True,
                                                             trust_remote_code=kwargs["trust_remote_code"])
        model_cls = _get_model_class(config, auto_cls._model_mapping)
    except Exception:  # the load below says what is wrong
        return
    supported = class_attentions(model_cls)
    asked = next((a for a, name in ATTN_IMPLEMENTATION.items() if name == impl), None)
    if asked is None or asked in supported:
        return
    ok = ", ".join(a.value for a in supported)
    setting = Attention(plan.training.attention)
    cpu = f" ({asked.value} on the CPU)" if setting != asked else ""
    fix = suggested_attention(model_cls)
    raise BadInput(f'training.attention = "{setting.value}"{cpu}: transformers {transformers.__version__}\'s '
                   f"{model_cls.__name__} does not implement {asked.value} attention; it supports {ok}: set "
                   f'training.attention = "{fix.value}" in the plan (or lorplan plan --attention {fix.value})')


def _quantization_config(plan):
    import torch
    import transformers

    from lorplan.core.lora import quantization_skip_modules

    q = plan.quantization
    # sharded 4-bit weights are stored in the compute dtype, so FSDP / ZeRO-3 can flatten them with the rest
    storage = q.bnb_4bit_compute_dtype if plan.hardware.sharding in WEIGHT_SHARDED else "uint8"
    return transformers.BitsAndBytesConfig(
        load_in_4bit=q.load_in_4bit,
        load_in_8bit=q.load_in_8bit,
        bnb_4bit_quant_type=q.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=q.bnb_4bit_use_double_quant,
        bnb_4bit_compute_dtype=getattr(torch, q.bnb_4bit_compute_dtype),
        bnb_4bit_quant_storage=getattr(torch, storage),
        llm_int8_skip_modules=quantization_skip_modules(plan.model.task),  # a classifier's head in 16 bits
    )


def load_kwargs(plan, device: str, notes: list[str]) -> dict:
    """from_pretrained arguments for the plan on `device` ("cuda" or "cpu"); CPU changes go into notes."""
    import torch

    t, q = plan.training, plan.quantization
    kwargs: dict = {"revision": plan.model.revision, "trust_remote_code": plan.model.trust_remote_code,
                    "local_files_only": True, "attn_implementation": ATTN_IMPLEMENTATION[Attention(t.attention)]}
    if device == "cuda":
        kwargs["dtype"] = getattr(torch, TORCH_DTYPE[DType(t.precision)])
        if q.load_in_4bit or q.load_in_8bit:
            kwargs["quantization_config"] = _quantization_config(plan)
        if plan.hardware.sharding not in WEIGHT_SHARDED:  # sharded runs load on CPU, then shard
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
        return kwargs
    kwargs["dtype"] = torch.float32
    if t.precision != DType.FP32:
        notes.append(f"CPU run: weights and compute in fp32 ({t.precision} autocast is a GPU setting)")
    if q.load_in_4bit or q.load_in_8bit:
        notes.append("CPU run: bitsandbytes quantization skipped (it needs CUDA here)")
    if t.attention == Attention.FLASH:
        kwargs["attn_implementation"] = ATTN_IMPLEMENTATION[Attention.SDPA]
        notes.append("CPU run: flash-attention replaced by SDPA")
    return kwargs


def _enable_checkpointing(model, prepare: bool, enabled: bool):
    """Gradient checkpointing (use_reentrant=False) when `enabled`, through peft's prepare_model_for_kbit_training
    when `prepare` (a quantized base the plan priced with it: prepares_kbit), which also freezes the base and
    up-casts its 16-bit parameters to fp32; else directly, with input gradients on so checkpointed blocks still
    send gradients to the adapters (get_peft_model freezes the base either way)."""
    from peft import prepare_model_for_kbit_training

    gc_kwargs = {"use_reentrant": False}
    if prepare:
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=enabled,
                                               gradient_checkpointing_kwargs=gc_kwargs)
    if enabled:
        if hasattr(model, "activation_checkpointing_enable"):  # gradient_checkpointing_enable is deprecated
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=gc_kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
        model.enable_input_require_grads()
    return model


def rope_scaled_config(plan, folder: Path, kwargs: dict, config=None):
    """The model's config with the plan's linear RoPE scaling (model.rope_scaling) in transformers' rope_parameters
    (positions divided by the factor, Chen et al. 2023, arXiv 2306.15595); from_pretrained then takes it as
    `config`, with num_labels and problem_type moved onto it. `config`: load_config's, copied (read here when not
    given).
    The text model's config takes it (a multimodal config's text_config: Gemma 3's language model reads its own);
    RoPE parameters per layer type (Gemma 3: full_attention, sliding_attention) are scaled where transformers puts
    a config's rope_scaling (core.memory.bounds.rope_scaled_labels): Gemma 3's full-attention layers
    (Gemma3TextConfig.convert_rope_params_to_dict; a sliding layer sees no more than its window), every layer
    type of ModernBERT and dots3 Note, DeepSeek-V4's compress, Ergo's sliding_attention, so a config.json given
    the same rope_scaling loads as trained (a null Gemma 3 entry in config.json is filled with default RoPE when
    transformers loads it, and scaled here; so is DeepSeek-V4's null or missing compress or main, both rebuilt as
    default RoPE: core.memory.bounds.ROPE_LABELS_REBUILT). Parameters kept per label without that entry, or with it
    null (a remote-code model's own labels; a loaded config whose compress was set to None) are refused, BadInput
    naming model.rope_scaling (core.memory.bounds.unscalable_rope's words, as the plan's refusal): flat keys written
    beside the labels are read by no layer, so nothing would be scaled."""
    import copy

    import transformers

    from lorplan.core.memory.bounds import rope_per_layer, rope_scaled_labels, unscalable_rope

    if config is None:
        config = transformers.AutoConfig.from_pretrained(str(folder), revision=kwargs["revision"],
                                                         local_files_only=True,
                                                         trust_remote_code=kwargs["trust_remote_code"])
    else:
        config = copy.deepcopy(config)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    params = dict(getattr(text, "rope_parameters", None) or {})
    scaling = {"rope_type": "linear", "factor": float(plan.model.rope_scaling)}
    if rope_per_layer(params):
        model_type = getattr(text, "model_type", None)
        scaled = rope_scaled_labels(model_type, params)
        if not scaled:
            raise BadInput(f"model.rope_scaling: {plan.model.source!r} {unscalable_rope(model_type, params)}; remove "
                           "model.rope_scaling")
        for label in scaled:
            params[label] = {**params[label], **scaling}
    else:
        params.setdefault("rope_theta", getattr(text, "rope_theta", 10000.0))
        params.update(scaling)
    text.rope_parameters = params
    for key in ("num_labels", "problem_type"):  # in this order: a single-label problem needs 2 labels or more
        if key in kwargs:
            setattr(config, key, kwargs.pop(key))
    return config


def build_model(plan, folder: Path, spec, device: str, pad_id: int, notes: list[str], load_bar: bool = False,
                config=None):
    """The peft model of the plan, loaded from `folder` onto `device`, adapters in fp32. Seed first.
    transformers' load report is replaced by lorplan's lines in `notes` (load_notes); load_bar: show its
    "Loading weights" bar. `config`: load_config's, which the attention check and a RoPE-scaled load take (each
    reads it when not given); from_pretrained reads the folder's itself, as it always did."""
    import torch
    import transformers
    from peft import get_peft_model

    kwargs = load_kwargs(plan, device, notes)
    if plan.model.task == "sequence-classification":
        # num_labels, and problem_type: lorplan trains class ids with cross-entropy (its eval counts argmax hits); a
        # checkpoint's own problem_type would choose another loss: "regression" (a cross-encoder's 1-output head)
        # MSE on the new head's logits. The same arguments classifier_config.json gives a user (peft export, the
        # adapter folder), so what they load is what was trained
        kwargs.update(classifier_kwargs(plan, None))
        cls = transformers.AutoModelForSequenceClassification
    else:
        cls = transformers.AutoModelForCausalLM
    generation = folder / "generation_config.json"
    if cls is transformers.AutoModelForCausalLM and generation.is_file():  # a model that generates reads it
        _generation_config(generation)
    _check_attention(plan, folder, cls, kwargs, config)
    # shapes are checked below, against what the adapter trains: a checkpoint's head of another size is replaced
    kwargs.update(output_loading_info=True, ignore_mismatched_sizes=True)
    try:
        if getattr(plan.model, "rope_scaling", None) is not None:  # lorplan plan --rope-scaling
            kwargs["config"] = rope_scaled_config(plan, folder, kwargs, config)
            notes.append(f"RoPE scaled linearly by {plan.model.rope_scaling:g} (rope_parameters)")
        with quiet_loading(load_bar):
            model, info = cls.from_pretrained(str(folder), **kwargs)
    except OSError as exc:
        raise BadInput(f"model {plan.model.source!r}: cannot load it ({str(exc).splitlines()[0]})") from None
    except _CONFIG_ERRORS as exc:
        if not _built_from_config(exc):
            raise
        # a config.json value transformers does not take, which lorplan's planner does not read
        raise BadInput(f"model {plan.model.source!r}: transformers cannot load it from {folder / 'config.json'} "
                       f"({_cause(exc)})") from None
    except pickle.UnpicklingError:  # transformers reads a .bin checkpoint weights-only: it named other objects
        raise BadInput(f"model {plan.model.source!r}: its PyTorch .bin weights hold more than tensors, which lorplan "
                       "does not load (unpickling it could run any code); a model.safetensors copy loads") from None
    notes.extend(pad_classifier(model, pad_id, plan.model.task))
    # train without the KV cache, as transformers' Trainer does (trainer.py: model.config.use_cache =
    # args.use_cache, False by default) and so the trainers lorplan exports to: with it on, every training
    # forward without checkpointing builds a DynamicCache whose copies of k and v live until the loss for
    # nothing. The memory model prices the step without it; the saved adapter leaves the base config alone.
    # Each module's own config: a multimodal causal LM's text model reads text_config's use_cache
    # (merge_with_config_defaults reads self.config; Gemma3ForConditionalGeneration has none at the top), as
    # LLaMA-Factory turns both off and TRL's SFTTrainer passes use_cache=False to the forward
    for config in {id(m.config): m.config for m in model.modules() if hasattr(m, "config")}.values():
        if hasattr(config, "use_cache"):
            config.use_cache = False
    model = _enable_checkpointing(model, "quantization_config" in kwargs and prepares_kbit(plan),
                                  plan.training.gradient_checkpointing)
    model = get_peft_model(model, lora_config(plan, spec))
    notes.extend(load_notes(plan, info, saved_modules(model)))
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return model


def pad_classifier(model, pad_id: int, task: str) -> list[str]:
    """The pad id of a model lorplan trains, and the notes it gives: a sequence classifier that pools by its pad id
    (pools_by_pad: a decoder's, an encoder-decoder T5Gemma's, which lorplan prices as an encoder) pools by `pad_id`
    (_pool_by_pad); another model keeps config.json's, or takes `pad_id` where it names none."""
    if task == "sequence-classification" and pools_by_pad(model):
        return _pool_by_pad(model, pad_id)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = pad_id
    return []


def _pool_by_pad(model, pad_id: int) -> list[str]:
    """Make a classifier that pools by its pad id (pools_by_pad) pool by `pad_id`, the id lorplan pads its batches
    with (the tokenizer's pad token: data.collate), and say so when its config.json named another, or named none
    where the adapter's classifier_config.json cannot carry it (a note). It pools each row's last token that is not
    the pad_token_id of the config its forward reads (_pooled_config: Gemma 3's text_config, else the config itself)
    and refuses a batch of more than one without one: another id than the batches' pools a padding position of
    every shorter right-padded row, silently."""
    top = model.config
    pooled = _pooled_config(model)
    had = getattr(pooled, "pad_token_id", None)
    for config in {id(c): c for c in (pooled, _text_config(top), top)}.values():
        if config is pooled or hasattr(config, "pad_token_id"):  # Gemma3Config has none of its own
            config.pad_token_id = pad_id
    carried = pooled is top  # what classifier_pad_kwargs writes of a decoder classifier with an int pad id
    if had == pad_id or (had is None and carried):  # none named: the id lorplan pads with, carried, says nothing new
        return []
    nested = "config.json's text_config" if pooled is not top else "config.json"
    was = f"{nested} names no pad_token_id" if had is None else \
        f"{nested}'s pad_token_id {had} is not the tokenizer's pad token"
    if carried:
        kept = "the adapter's classifier_config.json carries it"
    else:  # Gemma3Config takes no pad_token_id: from_pretrained would pass it to the model's __init__
        kept = (f"classifier_config.json cannot carry a text config's: after loading the base with it, set "
                f"model.config.get_text_config().pad_token_id = {pad_id}")
    where = "its text config's pad_token_id" if pooled is not top else "pad_token_id"
    return [f"sequence classifier: {was}: {where} set to {pad_id}, the one lorplan pads batches with, so the head "
            f"(it pools each row's last token that is not padding) pools no padding position; {kept}"]


def classifier_pad_kwargs(model) -> dict:
    """{"pad_token_id": id} for the classifier_config.json of a classifier that pools by its pad id (pools_by_pad:
    a decoder's, an encoder-decoder T5Gemma's): the id it pools by (set by build_model to the one lorplan padded
    with), when from_pretrained's keyword sets it: on a config whose own pad_token_id its forward reads (Llama, GPT-2, Qwen2...; T5Gemma's encoder-only classifier, whose
    get_text_config() is its decoder's config); {} for one that reads a nested text config's (Gemma 3:
    Gemma3Config takes no pad_token_id, which from_pretrained would pass to the model's __init__, a TypeError),
    with none, or an encoder (its base is built with config.json's, as lorplan trained it)."""
    if not pools_by_pad(model):
        return {}
    pooled = _pooled_config(model)
    pad = getattr(pooled, "pad_token_id", None)
    return {"pad_token_id": pad} if pooled is getattr(model, "config", None) and isinstance(pad, int) else {}


def _pooled_config(model):
    """The config whose pad_token_id a classifier that pools by its pad id (pools_by_pad) pools by: its text config
    (config.get_text_config(): Gemma 3's text_config) when its forward reads that one
    (GenericForSequenceClassification), else the config itself (T5Gemma's reads self.config.pad_token_id, while
    its get_text_config() is its decoder's config)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return _text_config(base.config) if pools_by_text_config(base) else base.config


def _text_config(config):
    """A config's text config (config.get_text_config(): Gemma 3's text_config), else the config itself."""
    return config.get_text_config() if hasattr(config, "get_text_config") else config


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KEYS_SHOWN = 4  # weight names a load note lists before "… (N in all)"


class _Held(logging.Handler):
    """Keeps transformers' log records while a model loads."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _is_load_report(record: logging.LogRecord) -> bool:
    # and the config's warning that the plan's num_labels is not its id2label's count: load_notes says which head
    # the checkpoint has and which the plan trains (a cross-encoder's 1 output, a new 2-class head)
    msg = str(record.msg)
    return " LOAD REPORT" in msg or "which is incompatible to the `id2label` map" in msg


@contextlib.contextmanager
def quiet_loading(load_bar: bool = False) -> Iterator[None]:
    """Load a model without transformers' chatter. transformers 5 logs a "LOAD REPORT" table (as a warning,
    with ANSI bold whether or not the output is a terminal, transformers/utils/loading_report.py) of every
    missing, unexpected or resized weight, which for LoRA classification always lists the head that is
    trained from scratch as MISSING; lorplan says that in plain words instead (load_notes). The report is
    dropped; anything else transformers logs meanwhile is passed on afterwards, without terminal escape codes.
    If loading fails, the report is written to stderr (plain) before the error, since transformers' error
    points at it. The "Loading weights" bar is shown only with load_bar. TRANSFORMERS_VERBOSITY set in the
    environment leaves transformers' logging as it is."""
    from transformers.utils import logging as hf_logging

    hide_bar = hf_logging.is_progress_bar_enabled() and not load_bar
    if hide_bar:
        hf_logging.disable_progress_bar()
    try:
        if os.environ.get("TRANSFORMERS_VERBOSITY"):
            yield
        else:
            with _held_log(hf_logging.get_logger()):
                yield
    finally:
        if hide_bar:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _held_log(root: logging.Logger) -> Iterator[None]:
    """quiet_loading's logging: `root` (transformers' library logger, configured: its stderr handler added)
    holds its records while the block runs; then the load report is dropped (kept when the block failed) and
    the rest passed on without terminal escape codes."""
    held = _Held()
    handlers, propagate = root.handlers[:], root.propagate
    root.handlers, root.propagate = [held], False
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        root.handlers, root.propagate = handlers, propagate
        for record in held.records:
            if _is_load_report(record) and not failed:
                continue
            record.msg, record.args = _ANSI.sub("", record.getMessage()), None
            root.handle(record)


def _under(key: str, modules: tuple[str, ...]) -> bool:
    return any(key == m or key.startswith(m + ".") for m in modules)


def _keys(keys) -> str:
    """Weight names, layer indices folded (`layers.*.mlp.up_proj.weight (24)`), at most KEYS_SHOWN of them."""
    groups: dict[str, list[str]] = {}
    for k in sorted(keys):
        groups.setdefault(re.sub(r"(?<=\.)\d+(?=\.|$)", "*", k), []).append(k)
    shown = [f"{p} ({len(ks)})" if len(ks) > 1 else ks[0] for p, ks in list(groups.items())[:KEYS_SHOWN]]
    more = f", … ({len(keys):,} in all)" if len(groups) > KEYS_SHOWN else ""
    return ", ".join(shown) + more


def saved_modules(model) -> tuple[str, ...]:
    """Names (in the base model's terms) of the modules peft trains in full (modules_to_save, the head)."""
    from peft.utils.other import ModulesToSaveWrapper

    from lorplan.core.lora import model_path

    return tuple(sorted(model_path(n) for n, m in model.named_modules() if isinstance(m, ModulesToSaveWrapper)))


def load_notes(plan, info: dict, saved: tuple[str, ...]) -> list[str]:
    """What loading the checkpoint means for this run, in plain lines (transformers' load report, read from
    from_pretrained's output_loading_info): the classifier head, new or from the checkpoint; weights in modules
    peft trains in full (`saved`) that the checkpoint lacks or has in another shape, trained from scratch;
    weights the checkpoint lacks elsewhere (left at random and frozen); checkpoint weights the model
    has no place for. BadInput when a weight that is not trained has another shape in the checkpoint."""
    from lorplan.core.lora import SEQ_CLS_HEADS

    missing = set(info.get("missing_keys") or ())
    resized = {k: (tuple(a), tuple(b)) for k, a, b in info.get("mismatched_keys") or ()}
    unexpected = set(info.get("unexpected_keys") or ())
    broken = {k: v for k, v in resized.items() if not _under(k, saved)}
    if broken:
        k, (ckpt, model) = sorted(broken.items())[0]
        more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
        raise BadInput(f"model {plan.model.source!r}: the checkpoint's {k} has shape {list(ckpt)} where the model "
                       f"needs {list(model)}{more}; only a trained module (the classifier head, modules_to_save) "
                       "may differ")
    notes = []
    head = tuple(m for m in saved if m.rsplit(".", 1)[-1] in SEQ_CLS_HEADS) \
        if plan.model.task == "sequence-classification" else ()
    new = sorted((k for k in missing | set(resized) if _under(k, saved)),
                 key=lambda k: (k.rsplit(".", 1)[0], k.endswith(".bias"), k))  # a module's weight before its bias
    new_head = [k for k in new if _under(k, head)]
    if head:
        if new_head:
            why = ""
            for k in new_head:
                if k in resized:
                    had = resized[k][0][0]  # a 1-output head is a regression or score head (a cross-encoder's)
                    had = "1 output, a regression or score head;" if had == 1 else f"{had} outputs,"
                    why = f" (the checkpoint's has {had} the plan's num_labels is {resized[k][1][0]})"
                    break
            notes.append(f"classifier head ({', '.join(new_head)}): new{why}, trained from scratch with the adapter "
                         "(modules_to_save)")
        else:
            notes.append(f"classifier head ({', '.join(head)}): from the checkpoint, trained further with the adapter "
                         "(modules_to_save)")
    other_new = [k for k in new if k not in new_head]
    if other_new:
        notes.append(f"not in the checkpoint, trained from scratch with the adapter (modules_to_save): "
                     f"{_keys(other_new)}")
    frozen = sorted(k for k in missing if not _under(k, saved))
    if frozen:
        notes.append(f"{counted(len(frozen), 'weight')} not in the checkpoint stay at their random initial values and "
                     f"are not trained: {_keys(frozen)}")
    if unexpected:
        notes.append(f"{counted(len(unexpected), 'checkpoint weight')} unused by {plan.model.task} (left out): "
                     f"{_keys(unexpected)}")
    return notes


def adapted_modules(model) -> list[str]:
    """Names (in the base model's terms) of the modules that carry a LoRA adapter."""
    from peft.tuners.lora import LoraLayer

    from lorplan.core.lora import model_path

    return sorted(model_path(n) for n, m in model.named_modules() if isinstance(m, LoraLayer))
