"""Whether a sequence classifier pools its last token that is not padding, as a decoder's does: the one rule that
the fallback's child reports for the class it builds (ModelSpec.pools_last_token, which the memory model reads to
price a decoder's classifier as its causal LM) and lorplan train asks of the model it loads (train.model), so plan
and train judge a class alike. It reads the class's source and config only: no torch or transformers import."""

from __future__ import annotations

import inspect


def pools_last_token(model) -> bool:
    """Whether a sequence classifier (or a peft model of one) pools each row's last token that is not its
    pad_token_id: a decoder's (transformers' GenericForSequenceClassification: Llama, Qwen, Gemma 3...; GPT-2's,
    OPT's, CTRL's, ModernBertDecoder's... and remote code copied from them), whose forward reads the pad id. An
    encoder pools its first token and reads none after it is built (RoBERTa's embeddings count positions from the
    one they were built with: the checkpoint's stays); an encoder-decoder (T5, T5Gemma) reads it to shift its
    decoder's inputs and pools the EOS."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model's
    if getattr(base.config, "is_encoder_decoder", False):
        return False
    for cls in type(base).__mro__:
        if _transformers_base(cls):  # PreTrainedModel and what it derives from read no pad id of a classifier
            break
        forward = cls.__dict__.get("forward")
        try:
            if forward is not None and "pad_token_id" in inspect.getsource(forward):
                return True
        except (OSError, TypeError):  # no source (a compiled class): judged by the next one
            continue
    return False


def _transformers_base(cls) -> bool:
    """Whether `cls` is transformers' PreTrainedModel (modeling_utils), known by name and module so core imports
    no transformers."""
    return cls.__name__ == "PreTrainedModel" and cls.__module__.startswith("transformers.")
