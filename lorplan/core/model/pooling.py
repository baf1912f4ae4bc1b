"""Whether a sequence classifier pools its last token that is not padding, as a decoder's does: the one rule that
the fallback's child reports for the class it builds (ModelSpec.pools_last_token, which the memory model reads to
price a decoder's classifier as its causal LM) and lorplan train asks of the model it loads (train.model, through
pools_by_pad, which an encoder-decoder T5Gemma's meets too), so plan and train judge a class alike. It reads the
class's source and config only: no torch or transformers import."""

from __future__ import annotations

import ast
import inspect
import textwrap


def pools_last_token(model) -> bool:
    """Whether a sequence classifier (or a peft model of one) pools each row's last token that is not its
    pad_token_id, as a decoder's does: a decoder's (transformers' GenericForSequenceClassification: Llama, Qwen,
    Gemma 3...; GPT-2's, OPT's, CTRL's, ModernBertDecoder's, an encoder-only T5Gemma's... and remote code copied from
    them), which pools_by_pad. An encoder pools its first token and reads none after it is built (RoBERTa's
    embeddings count positions from the one they were built with: the checkpoint's stays); an encoder-decoder is
    False, as for an encoder (priced as one, with a note), though T5Gemma's and T5Gemma 2's pool by the pad id too
    (pools_by_pad: the decoder position after the last token that is not padding; T5 pools the EOS)."""
    base = _base(model)
    if getattr(base.config, "is_encoder_decoder", False):
        return False
    return pools_by_pad(base)


def pools_by_pad(model) -> bool:
    """Whether a sequence classifier (or a peft model of one) pools each row by where its config's pad_token_id
    ends it, an encoder-decoder's too (T5Gemma's, T5Gemma 2's): its forward's code reads the pad id (its docstring
    aside: T5's names it and pools the EOS). lorplan train makes such a classifier pool by the id it pads batches
    with (train.model.pad_classifier), which the adapter's classifier_config.json carries."""
    return _pad_forward(type(_base(model))) is not None


def pools_by_text_config(model) -> bool:
    """Whether a classifier that pools_last_token reads the pad id of its text config
    (config.get_text_config().pad_token_id: GenericForSequenceClassification's, so Gemma 3's text_config), not
    that of its config itself (self.config.pad_token_id: GPT-2's, CTRL's, T5Gemma's, whose get_text_config() is
    its decoder's config, a part its encoder-only classifier does not build). The two are one config for most."""
    source = _pad_forward(type(_base(model)))
    return source is not None and "get_text_config()" in source


def _base(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model's


def _pad_forward(cls) -> str | None:
    """The source of the first forward in `cls`'s MRO whose code reads pad_token_id (_reads_pad), None when none
    does (below transformers' PreTrainedModel)."""
    for klass in cls.__mro__:
        if _transformers_base(klass):  # PreTrainedModel and what it derives from read no pad id of a classifier
            break
        forward = klass.__dict__.get("forward")
        try:
            source = inspect.getsource(forward) if forward is not None else ""
        except (OSError, TypeError):  # no source (a compiled class): judged by the next one
            continue
        if _reads_pad(source):
            return source
    return None


def _reads_pad(source: str) -> bool:
    """Whether the code of `source` reads pad_token_id (self.config.pad_token_id, getattr(config, "pad_token_id")),
    not its docstring or a comment alone (T5ForSequenceClassification's docstring names it; its code pools the
    EOS); source that does not parse is judged by its text."""
    if "pad_token_id" not in source:
        return False
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return True
    return any(isinstance(node, ast.Attribute) and node.attr == "pad_token_id"
               or isinstance(node, ast.Name) and node.id == "pad_token_id"
               or isinstance(node, ast.Constant) and node.value == "pad_token_id" for node in ast.walk(tree))


def _transformers_base(cls) -> bool:
    """Whether `cls` is transformers' PreTrainedModel (modeling_utils), known by name and module so core imports
    no transformers."""
    return cls.__name__ == "PreTrainedModel" and cls.__module__.startswith("transformers.")
