"""Child process of the fallback: build a config's model on the meta device and print its modules as JSON.

Usage: python -m lorplan.core.model._fallback_child CONFIG_JSON [--trust-remote-code]
Prints one JSON line: {"class", "task", "linears": [{path, in, out, bias, tied}], "tensors": [{path, shape,
kind}], "output_embeddings", "classifier", "norm_classes"}. Errors: one line on stderr, exit 2.
"""

from __future__ import annotations

import json
import os
import sys
import warnings


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    path = argv[0]
    trust = "--trust-remote-code" in argv[1:]
    try:
        import torch
        import transformers
        from transformers.pytorch_utils import Conv1D

        transformers.logging.set_verbosity_error()
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.basename(path) == "config.json":
            config = transformers.AutoConfig.from_pretrained(folder, trust_remote_code=trust)
        else:
            model_type = cfg.pop("model_type")
            config = transformers.AutoConfig.for_model(model_type, **cfg)
        task = "causal-lm"
        with torch.device("meta"):
            try:
                model = transformers.AutoModelForCausalLM.from_config(config, trust_remote_code=trust)
            except ValueError:
                model = transformers.AutoModelForSequenceClassification.from_config(config, trust_remote_code=trust)
                task = "sequence-classification"
    except Exception as exc:  # one line for the parent
        print(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 2
    out_emb = model.get_output_embeddings()
    out_name = next((n for n, m in model.named_modules() if m is out_emb), None) if out_emb is not None else None
    cls_name = None
    if task == "sequence-classification":
        for name in ("score", "classifier"):
            if getattr(model, name, None) is not None:
                cls_name = name
                break
    seen: dict[int, str] = {}
    for name, p in model.named_parameters():
        seen.setdefault(id(p), name)
    linears, owned = [], set()
    norm_classes = set()
    for name, mod in model.named_modules():
        if "norm" in type(mod).__name__.lower():
            norm_classes.add(type(mod).__name__)
        if isinstance(mod, (torch.nn.Linear, Conv1D)):
            w = mod.weight
            fin, fout = (w.shape[0], w.shape[1]) if isinstance(mod, Conv1D) else (w.shape[1], w.shape[0])
            tied = seen.get(id(w)) != f"{name}.weight"
            linears.append({"path": name, "in": int(fin), "out": int(fout), "bias": mod.bias is not None, "tied": tied})
            owned.add(f"{name}.weight")
            if mod.bias is not None:
                owned.add(f"{name}.bias")
    modules = dict(model.named_modules())
    tensors = []
    for name, p in model.named_parameters():
        if name in owned:
            continue
        owner = modules.get(name.rsplit(".", 1)[0]) if "." in name else model
        cls = type(owner).__name__.lower()
        leaf = name.rsplit(".", 1)[-1]
        if p.dim() == 3 and ".experts." in f".{name}":
            kind = "experts"
        elif leaf == "weight" and name.endswith(".gate.weight") and p.dim() == 2 and not isinstance(
            owner, torch.nn.Linear
        ):
            kind = "router"
        elif isinstance(owner, torch.nn.Embedding):
            kind = "embedding" if owner is model.get_input_embeddings() else "position"
        elif "norm" in cls or "norm" in name.lower():
            kind = "norm"
        elif name.endswith("bias"):
            kind = "bias"
        else:
            kind = "other"
        tensors.append({"path": name, "shape": list(p.shape), "kind": kind})
    moe_style = ""
    try:  # peft 0.21 renames v4 expert targets for these families (transformers_weight_conversion)
        from transformers.conversion_mapping import _MODEL_TO_CONVERSION_PATTERN

        moe_style = {**_MODEL_TO_CONVERSION_PATTERN, "mixtral": "mixtral"}.get(config.model_type, "")
    except Exception:
        pass
    print(json.dumps({
        "class": type(model).__name__,
        "task": task,
        "linears": linears,
        "tensors": tensors,
        "output_embeddings": out_name,
        "classifier": cls_name,
        "norm_classes": sorted(norm_classes),
        "moe_style": moe_style if moe_style in ("mixtral", "qwen2_moe") else "",
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
