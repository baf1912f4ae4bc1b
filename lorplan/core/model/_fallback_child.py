"""Child process of the fallback: build a config's model on the meta device and print its modules as JSON.

Usage: python -m lorplan.core.model._fallback_child CONFIG_JSON [--trust-remote-code]
       python -m lorplan.core.model._fallback_child --serve IDLE_SECONDS (one build per request: serve())
Prints one JSON line: {"class", "task", "named_other": the class config.json's architectures names when lorplan
plans another (its words, _named_other) or null, "linears": [{path, in, out, bias, tied}], "tensors": [{path, shape,
kind}], "output_embeddings", "classifier": a sequence classifier's output linear (_classifier_name), "norm_classes",
"moe_style", "unsupported_attention": ["sdpa"|"flash"], "supports_gradient_checkpointing", "context": [key, tokens,
config class, attribute] or null, "mlp_width": the first dense MLP's up-projection width or null, "gated_mlp":
whether that MLP is gated, "text_config": the scalar settings of the language model's config when it is a part of
the config (a multimodal model's text_config, as config.get_text_config() finds it; the part the built model holds:
an encoder-only T5Gemma's encoder), else null, "text_model": then the module path of its language model
(model.get_decoder()), or null, "pools_last_token": whether the sequence classifier built pools its last token that
is not padding, as a decoder's does (core.model.pooling, the rule lorplan train asks of the model it loads, with
pools_by_pad for an encoder-decoder); false for a causal LM}. Errors: one line on stderr, exit 2 (exit 1 when reading the built model fails);
a config transformers builds as neither a causal LM nor a sequence classifier: "OtherTask: <what it is>" (see
_other_task).
"""

from __future__ import annotations

import json
import os
import sys
import warnings

from lorplan.core.model.attention import class_flags
from lorplan.core.model.head import task_words as _task_words  # the notes' words (pure Python)
from lorplan.core.model.pooling import pools_last_token


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    if argv[:1] == ["--serve"]:
        return serve(float(argv[1]))
    code, text = answer(argv[0], trust="--trust-remote-code" in argv[1:])
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def answer(path: str, trust: bool) -> tuple[int, str]:
    """report()'s answer, or (1, the one-line reason) when reading the built model fails (an exception outside
    _build): one answer whether a child of its own (main) or the build server (serve) builds the config."""
    try:
        return report(path, trust)
    except Exception as exc:
        return 1, _one_line(exc)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def serve(idle_s: float) -> int:
    """Build one config per request, for as long as the parent asks (core.model.fallback._Server): a request is a
    line {"path": an absolute config path} on stdin, the answer a line {"code": 0 or the exit code a child of its
    own would have ended with, "text": answer()'s JSON or one-line reason} on stdout. The models' own printing
    goes to stderr (stdout is the answers' alone). Ends on end of input (the parent closed the pipe or died) or
    after idle_s seconds without a request, so an idle planner does not hold torch's memory. Builds that may run
    a model's own code never come here: each of those has a child of its own."""
    import select

    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    while select.select([sys.stdin], [], [], idle_s)[0]:
        line = sys.stdin.readline()
        if not line:
            break
        code, text = answer(json.loads(line)["path"], trust=False)
        answers.write(json.dumps({"code": code, "text": text}) + "\n")
        answers.flush()
    return 0


def report(path: str, trust: bool) -> tuple[int, str]:
    """(0, the JSON line the module's docstring describes) for the config at `path`, or (2, the one-line reason
    transformers could not build it)."""
    try:
        config, model, task = _build(path, trust)
    except Exception as exc:  # one line for the parent
        return 2, _one_line(exc)
    linears, owned, norm_classes = _linears(model)
    flags = class_flags(type(model))  # what lorplan train asks of the class it loads (train.model), one rule
    return 0, json.dumps({
        "class": type(model).__name__,
        "task": task,
        "named_other": _named_other(config, type(model).__name__),
        "linears": linears,
        "tensors": _tensors(model, owned),
        "output_embeddings": _output_embeddings_name(model),
        "classifier": _classifier_name(model) if task == "sequence-classification" else None,
        "norm_classes": sorted(norm_classes),
        "moe_style": _moe_style(config.model_type),
        "unsupported_attention": [a.value for a in flags.unsupported_attention],
        "supports_gradient_checkpointing": flags.gradient_checkpointing,
        "context": _context(config),
        "mlp_width": (dense := _dense_mlp(model, config))[0],
        "gated_mlp": dense[1],
        "text_config": _text_config(config, model),
        # an encoder-decoder's other part is its encoder (T5Gemma's reads text), not a vision tower
        "text_model": _text_model(model) if _text_config(config, model) is not None
        and not getattr(config, "is_encoder_decoder", False) else None,
        # a decoder's classifier, whatever its head is named (CTRL's classifier, ModernBertDecoder's head, drop and
        # classifier): the memory model prices it as its causal LM (core.memory.activations.decoder_classifier)
        "pools_last_token": task == "sequence-classification" and pools_last_token(model),
    })


def _build(path: str, trust: bool):
    """(config, model on the meta device, task): the sequence classifier when config.json's architectures names
    it (_names_class: a cross-encoder's XLMRobertaForSequenceClassification, whose checkpoint holds no causal LM)
    or names an encoder's masked LM (_names_masked_lm: roberta-base's RobertaForMaskedLM, planned as the fast path
    plans a BERT), else a causal LM when transformers has one for the config, else a sequence classifier. A file named
    config.json is read with its folder (so remote code can be found)."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) == "config.json":
        config = transformers.AutoConfig.from_pretrained(folder, trust_remote_code=trust)
    else:
        model_type = cfg.pop("model_type")
        config = transformers.AutoConfig.for_model(model_type, **cfg)
    causal, classifier = transformers.AutoModelForCausalLM, transformers.AutoModelForSequenceClassification
    with torch.device("meta"):
        if _names_class(config, classifier, causal) or (_names_masked_lm(config) and _maps(classifier, config)):
            return config, classifier.from_config(config, trust_remote_code=trust), "sequence-classification"
        try:
            return config, causal.from_config(config, trust_remote_code=trust), "causal-lm"
        except ValueError as exc:
            if _maps(causal, config):  # the causal LM's own failure, not "no such class"
                raise
            causal_error = exc
        try:
            return config, classifier.from_config(config, trust_remote_code=trust), "sequence-classification"
        except ValueError:
            if _maps(classifier, config):
                raise
            other = _other_task(config)
            if other is None:
                raise causal_error from None
            raise OtherTask(other) from None


class OtherTask(Exception):
    """A config transformers builds as neither a causal LM nor a sequence classifier (the parent's own refusal,
    fallback.run_child)."""


def _maps(auto, config) -> bool:
    """Whether the auto class `auto` has a class for `config`: transformers' own, or the model's code its auto_map
    names (which from_config refuses or runs as trust_remote_code says)."""
    return type(config) in auto._model_mapping or auto.__name__ in (getattr(config, "auto_map", None) or {})


def _names_class(config, auto, *others) -> bool:
    """Whether config.json's architectures names the class `auto` builds for `config` before a class one of
    `others` builds: transformers' own for its model type, or the class its auto_map gives the auto class. Any
    other name (a masked LM, a token classifier, another model type's class, a class transformers does not have)
    decides nothing."""
    names = getattr(config, "architectures", None)
    for name in names if isinstance(names, list) else ():
        for candidate in (auto, *others):
            if name in _class_names(candidate, config):
                return candidate is auto
    return False


def _names_masked_lm(config) -> bool:
    """Whether config.json's architectures names the config's masked LM (transformers' AutoModelForMaskedLM class
    for its model type: an encoder's pretraining head, roberta-base's RobertaForMaskedLM) and no causal or
    sequence-to-sequence LM (BartForConditionalGeneration and XLMWithLMHeadModel are in the masked-LM table too).
    Such an encoder is planned as a sequence classifier, as the fast path plans a BERT: its causal LM
    (RobertaForCausalLM) attends both ways, so each token sees the one it predicts, and lorplan export and train
    refuse a causal-LM plan of a masked LM."""
    import transformers

    names = getattr(config, "architectures", None)
    names = names if isinstance(names, list) else []
    lm = {*_class_names(transformers.AutoModelForCausalLM, config),
          *_class_names(transformers.AutoModelForSeq2SeqLM, config)}
    masked = _class_names(transformers.AutoModelForMaskedLM, config)
    return not lm & set(names) and any(n in masked for n in names)


def _class_names(auto, config) -> tuple[str, ...]:
    """The names of the classes `auto` builds for `config`: its table's for the config's model type (one name, or
    several in transformers 4's tuples) and the class config.json's auto_map names for it ("modeling.MyClass" or
    "org/repo--modeling.MyClass")."""
    table = getattr(auto._model_mapping, "_model_mapping", None) or {}
    own = table.get(getattr(config, "model_type", None), ())
    names = (own,) if isinstance(own, str) else tuple(own)
    code = (getattr(config, "auto_map", None) or {}).get(auto.__name__)
    return names + ((code.rsplit(".", 1)[-1],) if isinstance(code, str) else ())


# the auto classes that say nothing of a model's task (every model type is a base model): named only when no
# other maps the config
_GENERIC_AUTO = ("AutoModel", "AutoModelForPreTraining", "AutoModelForMultimodalLM", "AutoModelForTextEncoding")


def _autos() -> list:
    """transformers' auto model classes (AutoModelFor..., in the order transformers exports them)."""
    import transformers

    autos = [getattr(transformers, n) for n in dir(transformers) if n.startswith("AutoModel")]
    return [a for a in autos if hasattr(a, "_model_mapping")]


def _first_task(names: list[str]) -> str:
    """The auto class of `names` that names a task, before _GENERIC_AUTO's; AutoModelForMaskedLM only when no
    other task's maps it: transformers' masked-LM table also holds the sequence-to-sequence LMs of BART's kin
    (BART, mBART, MVP: they fill masks), which its seq2seq table names as what they are."""
    def rank(n: str) -> tuple[int, int]:
        return (2, _GENERIC_AUTO.index(n)) if n in _GENERIC_AUTO else (int(n == "AutoModelForMaskedLM"), 0)

    return min(names, key=rank)


def _other_task(config) -> str | None:
    """"an image-text-to-text model transformers builds with AutoModelForImageTextToText": the first of
    transformers' auto classes (_autos) that maps the config, one naming a task before _GENERIC_AUTO's; None when
    none maps it."""
    found = [a.__name__ for a in _autos() if _maps(a, config)]
    return _task_words(_first_task(found)) if found else None


def _named_other(config, built: str) -> str | None:
    """"RobertaForTokenClassification, a token-classification model transformers builds with
    AutoModelForTokenClassification": the first class config.json's architectures names that one of transformers'
    auto classes builds for the config (_class_names), when it names a task lorplan does not plan (a base model,
    RobertaModel, names none; a causal LM or a sequence classifier is what _build builds, its auto_map class
    without --trust-remote-code as transformers' own); None otherwise, and None when the class built (`built`) is
    named anywhere in the list."""
    names = getattr(config, "architectures", None)
    names = names if isinstance(names, list) else []
    autos = _autos()
    for name in () if built in names else names:
        found = [a.__name__ for a in autos if name in _class_names(a, config)]
        if found:
            auto = _first_task(found)
            planned = any(n in _PLANNED_AUTO for n in found)
            return None if planned or auto in _GENERIC_AUTO else f"{name}, {_task_words(auto)}"
    return None


# the auto classes _build builds with: a class one of them maps is planned, never a head lorplan does not plan
_PLANNED_AUTO = ("AutoModelForCausalLM", "AutoModelForSequenceClassification")


def _text_model(model) -> str | None:
    """The module path of a multimodal model's language model ("model.language_model"): model.get_decoder(),
    found among its modules; None when it has none of its own."""
    try:
        decoder = model.get_decoder()
    except Exception:  # a class of the model's own code without one
        return None
    return next((name for name, mod in model.named_modules() if mod is decoder and name), None)


def _text_config(config, model) -> dict | None:
    """The scalar settings (numbers, strings, booleans, nulls) of the language model's config when it is a part
    of `config` (config.get_text_config(decoder=True): a multimodal config's text_config, an encoder-decoder's
    decoder config, with its class's defaults, which a hub config.json leaves out), for the spec's sizes; None
    when the config is its own text config. A part the built `model` does not hold gives way to the one it does
    (_built_part: an encoder-only T5Gemma classifier's encoder)."""
    text = _text_part(config, model)
    if text is None:
        return None
    return {k: v for k, v in text.to_dict().items() if v is None or isinstance(v, (bool, int, float, str))}


def _text_part(config, model):
    """The language model's config object when it is a part of `config` (_text_config's), else None."""
    try:
        text = config.get_text_config(decoder=True)
    except (AttributeError, ValueError):  # no such method (a config of its own code), or more than one text part
        return None
    if text is None or not any(part is text for part in vars(config).values()):
        # the config itself, or the decoder's copy of a flat encoder-decoder config (T5's, BART's: transformers
        # renames decoder_layers to num_hidden_layers), whose top level already holds the sizes
        return None
    return _built_part(config, model, text)


def _built_part(config, model, text):
    """`text`, the config part get_text_config names; its encoder part instead when `text` is config.decoder and
    the built `model` holds config.encoder but not it: T5GemmaForSequenceClassification with is_encoder_decoder
    false builds its encoder alone (T5GemmaEncoderModel, which holds config.encoder), and its decoder config may
    give other sizes (t5gemma-9b-2b's encoder is the 9B's). Only that part: a multimodal model whose language
    model holds a copy of its text_config still holds its vision_config, which is no text part."""
    held = {id(c) for m in model.modules() if (c := getattr(m, "config", None)) is not None}
    encoder = getattr(config, "encoder", None)
    if text is getattr(config, "decoder", None) and id(text) not in held and id(encoder) in held:
        return encoder
    return text


def _context(config) -> list | None:
    """[key, tokens, configuration class, attribute] of the context the built model has: the first of
    fallback.CONTEXT_KEYS the config object holds as a whole number, at its top level and then in its text_config
    (as fallback.config_context reads config.json), its class's default where config.json gives none; None when
    none does. attribute: the name the class keeps it under (its attribute_map's: RwkvConfig's context_length),
    which config.json may hold instead of the key."""
    from lorplan.core.model.fallback import CONTEXT_KEYS

    for part in (config, getattr(config, "text_config", None)):
        if part is None:
            continue
        for key in CONTEXT_KEYS:
            value = getattr(part, key, None)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return [key, value, type(part).__name__, (getattr(part, "attribute_map", None) or {}).get(key, key)]
    return None


_MLP_NAMES = ("mlp", "ffn", "feed_forward", "feedforward", "ff")
# looked for only when no module named as _MLP_NAMES holds a dense MLP: T5's (T5LayerFF.DenseReluDense)
_OTHER_MLP_NAMES = ("densereludense",)


def _dense_mlp(model, config) -> tuple[int | None, bool]:
    """(width, gated) of the first dense MLP: width, the out_features of the first Linear / Conv1D reading the
    hidden size inside the first dense MLP module (a module named as _MLP_NAMES under a numbered layer): the width
    the built block has, which BLOOM and MPT hard-code (4 x hidden, expansion_ratio x d_model) and GPT-J / GPT-Neo
    take as 4 x hidden when n_inner / intermediate_size is None. A mixture-of-experts block (one holding experts)
    is passed over: the first such Linear there is its router or a shared expert, and the spec's width prices the
    dense layers only. When no module so named holds one, the first of the MLPs other families build
    (_other_mlps): T5's DenseReluDense (d_ff), XLM's and Flaubert's ffns.N (4 x emb_dim, which no config key
    says), BART's kin's fc1 / fc2 straight under the layer (decoder_ffn_dim for the decoder their causal LM is).
    None when no dense MLP is found. gated: down(act(gate(x)) * up(x)), which the fast path prices as gated
    (archs' gated_mlp): two projections of the down projection's input width read the hidden state (Llama's and
    Gemma's MLP, mT5's wi_0 / wi_1), or one of twice that width, a fused gate_up_proj (Phi-3's, GLM's, Moshi's;
    the width is then the down projection's input, its half). The down projection (the last linear writing the
    hidden size) is told apart from them, so an MLP as wide as the hidden state is judged right too (fc1 and fc2
    both hidden x hidden are not a gate and an up)."""
    # T5Gemma's config names its hidden sizes in its encoder and decoder parts only (_text_part: the built one's)
    parts = (config, getattr(config, "text_config", None), _text_part(config, model))
    hidden = next((getattr(part, "hidden_size", None) for part in parts
                   if isinstance(getattr(part, "hidden_size", None), int)), None)
    if hidden is None:
        return None, False
    for name, mod in model.named_modules():
        parts = name.split(".")
        if parts[-1].lower() not in _MLP_NAMES or not any(p.isdigit() for p in parts[:-1]):
            continue
        if _holds_experts(mod):  # a mixture of experts, not a dense MLP
            continue
        found = _judge(_shapes(mod.modules()), hidden)
        if found is not None:
            return found
    for shapes in _other_mlps(model):
        found = _judge(shapes, hidden, strict=True)
        if found is not None:
            return found
    return None, False


def _holds_experts(mod) -> bool:
    return any("expert" in p for p, _ in mod.named_parameters())


def _shapes(modules) -> list[tuple[int, int]]:
    """(in, out) of each Linear / Conv1D among `modules`, in their order."""
    import torch
    from transformers.pytorch_utils import Conv1D

    shapes = []
    for sub in modules:
        if isinstance(sub, (torch.nn.Linear, Conv1D)):
            w = sub.weight
            shapes.append((int(w.shape[0]), int(w.shape[1])) if isinstance(sub, Conv1D)
                          else (int(w.shape[1]), int(w.shape[0])))
    return shapes


def _other_mlps(model):
    """The (in, out) shapes of each MLP that no module named as _MLP_NAMES holds: first the modules named as one
    (a module named as _OTHER_MLP_NAMES under a numbered layer, T5's DenseReluDense; a numbered entry of a list
    named as _MLP_NAMES with an s, XLM's ffns.0), in the model's order; then the Linears a numbered layer holds as
    its own children (BART's fc1 and fc2: its attention's Linears are its attention's children, not its own; a
    list of attentions, XLM's, is no layer). Mixtures of experts are passed over."""
    named, layers = [], []
    for name, mod in model.named_modules():
        parts = name.split(".")
        if len(parts) < 2 or not any(p.isdigit() for p in parts) or _holds_experts(mod):
            continue
        last, parent = parts[-1].lower(), parts[-2].lower()
        if last in _OTHER_MLP_NAMES or (last.isdigit() and parent.removesuffix("s") in _MLP_NAMES):
            named.append(mod)
        elif last.isdigit() and "att" not in parent:
            layers.append(mod)
    yield from (_shapes(mod.modules()) for mod in named)
    yield from (_shapes(mod.children()) for mod in layers)


def _judge(shapes: list[tuple[int, int]], hidden: int, strict: bool = False) -> tuple[int, bool] | None:
    """(width, gated) of the MLP whose Linears have these (in, out) shapes; None when none reads the hidden size
    (or, `strict`, Linears found by their place and not a name, when no up-projection of the down projection's
    input width reads it)."""
    if not any(fin == hidden for fin, _ in shapes):
        return None
    down = next((i for i in reversed(range(len(shapes))) if shapes[i][1] == hidden), None)
    widths = [fout for i, (fin, fout) in enumerate(shapes) if fin == hidden and i != down]
    if down is None or not widths:
        return None if strict else ((widths or [hidden])[0], False)
    inner = shapes[down][0]
    if strict and inner not in widths and 2 * inner not in widths:  # no up-projection feeds the down one
        return None
    if widths.count(inner) == 2:
        return widths[0], True
    if widths.count(2 * inner) == 1 and inner not in widths:  # a fused gate_up_proj
        return inner, True
    return widths[0], False


def _output_embeddings_name(model) -> str | None:
    out_emb = model.get_output_embeddings()
    if out_emb is None:
        return None
    return next((n for n, m in model.named_modules() if m is out_emb), None)


def _classifier_name(model) -> str | None:
    """The output linear of the head transformers' sequence classifiers add (peft trains the head in full): the
    module named score or classifier when it is a linear (Llama's score, BERT's classifier), else the one linear in
    it with num_labels outputs (T5Gemma's score.out_proj, RoBERTa's classifier.out_proj), else the module's name.
    fallback._spec gives it the role "head". Transformers 5's 4-bit load quantizes it when it has a bias
    (quantizers/base.py get_keys_to_not_convert names the model's last parameter, then a bias, which no module's
    name matches), though core.memory prices a role-"head" linear in 16 bits."""
    import torch
    from transformers.pytorch_utils import Conv1D

    name = next((name for name in ("score", "classifier") if getattr(model, name, None) is not None), None)
    if name is None or isinstance(head := getattr(model, name), (torch.nn.Linear, Conv1D)):
        return name
    labels = getattr(model.config, "num_labels", None)
    out = [f"{name}.{path}" for path, mod in head.named_modules() if isinstance(mod, torch.nn.Linear)
           and mod.out_features == labels]
    return out[0] if len(out) == 1 else name


def _linears(model) -> tuple[list[dict], set[str], set[str]]:
    """Every nn.Linear / Conv1D as {path, in, out, bias, tied}, the parameter names they own, and the class
    names of the norm modules. A weight is tied when named_parameters lists it first under another module."""
    import torch
    from transformers.pytorch_utils import Conv1D

    first_name: dict[int, str] = {}
    for name, p in model.named_parameters():
        first_name.setdefault(id(p), name)
    linears, owned, norm_classes = [], set(), set()
    for name, mod in model.named_modules():
        if "norm" in type(mod).__name__.lower():
            norm_classes.add(type(mod).__name__)
        if not isinstance(mod, (torch.nn.Linear, Conv1D)):
            continue
        w = mod.weight
        fin, fout = (w.shape[0], w.shape[1]) if isinstance(mod, Conv1D) else (w.shape[1], w.shape[0])
        tied = first_name.get(id(w)) != f"{name}.weight"
        bias = mod.bias is not None
        linears.append({"path": name, "in": int(fin), "out": int(fout), "bias": bias, "tied": tied})
        owned.add(f"{name}.weight")
        if bias:
            owned.add(f"{name}.bias")
    return linears, owned, norm_classes


def _tensors(model, owned: set[str]) -> list[dict]:
    """Every parameter no linear owns, as {path, shape, kind}."""
    modules = dict(model.named_modules())
    out = []
    for name, p in model.named_parameters():
        if name in owned:
            continue
        owner = modules.get(name.rsplit(".", 1)[0]) if "." in name else model
        out.append({"path": name, "shape": list(p.shape), "kind": _tensor_kind(model, owner, name, p)})
    return out


def _tensor_kind(model, owner, name: str, p) -> str:
    """experts (a fused 3D expert parameter), router, embedding, position (any other embedding table), norm,
    bias or other."""
    import torch

    if p.dim() == 3 and ".experts." in f".{name}":
        return "experts"
    if name.endswith(".gate.weight") and p.dim() == 2 and not isinstance(owner, torch.nn.Linear):
        return "router"
    if isinstance(owner, torch.nn.Embedding):
        return "embedding" if owner is model.get_input_embeddings() else "position"
    if "norm" in type(owner).__name__.lower() or "norm" in name.lower():
        return "norm"
    if name.endswith("bias"):
        return "bias"
    return "other"


def _moe_style(model_type: str) -> str:
    """"mixtral" or "qwen2_moe" when peft 0.21 renames the v4 expert targets of this family
    (peft/utils/transformers_weight_conversion.py, from transformers' conversion mapping), else ""."""
    try:
        from transformers.conversion_mapping import _MODEL_TO_CONVERSION_PATTERN
    except Exception:
        return ""
    style = {**_MODEL_TO_CONVERSION_PATTERN, "mixtral": "mixtral"}.get(model_type, "")
    return style if style in ("mixtral", "qwen2_moe") else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
