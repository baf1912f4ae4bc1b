"""Counting tokens and trained tokens per example, with a real tokenizer or a character estimate.

With a tokenizer, the counts are those of lorplan.core.data.encode (the rule `lorplan train` and probes share;
see its docstring): text -> every token plus EOS; prompt-completion and alpaca -> the completion, closing
special tokens and EOS trained; messages -> each assistant turn's tokens; tokenized -> labels != IGNORE_INDEX.
mask=False trains every token. Trained tokens are counted before the causal shift.
Without a tokenizer, CharEstimate estimates tokens as characters / ratio, plus the one EOS the rule appends to
every causal-LM row but pre-tokenized ones and chat-template conversations (the estimate renders chats without a
template, so they get it too); trained = the completion's or assistant turns' characters / ratio, plus that EOS
where the rule trains it (text, completions, a chat whose last turn is the assistant's). The tokenizer's leading
special tokens (BOS, [CLS]) are left out: whether there are any depends on the tokenizer (a BERT-style closing
[SEP] is the EOS itself, counted once).
Ids come from one batched call per chunk to the Rust tokenizer (`encode_batch_fast`, parallel over the batch
with rayon), which releases the GIL, so reading the next chunk overlaps with it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence

from lorplan.core.data.encode import IGNORE_INDEX, Encoder, plain_render
from lorplan.core.data.example import Example
from lorplan.core.data.tokenizer import TokenizerChoice
from lorplan.core.errors import BadInput, own_code_refusal

# The EOS (else SEP) encode.Encoder appends: `lorplan train` refuses a tokenizer without one (train/data.py), so
# every trained row has it, unlike a BOS / [CLS], and the estimate can count it without knowing the tokenizer.
EOS_TOKENS = 1


class CharEstimate:
    """Tokens estimated as ceil(characters / chars_per_token) for each counted string, plus the EOS the training
    rows end with (EOS_TOKENS; module docstring)."""

    estimated = True
    has_chat_template = False
    model_max_length: int | None = None

    def __init__(self, choice: TokenizerChoice, *, mask: bool = True):
        self.ratio = choice.chars_per_token
        self.mask = mask

    def _n(self, text: str) -> int:
        return math.ceil(len(text) / self.ratio)

    def count(self, examples: Sequence[Example]) -> list[tuple[int, int]]:
        out = []
        for ex in examples:
            if ex.input_ids is not None:
                out.append(_tokenized(ex))
                continue
            # encode.Encoder appends EOS to each of these three kinds (a chat only without a chat template, as
            # the estimate renders it) and trains it after a text, a completion or a final assistant turn
            if ex.messages is not None:
                # an assistant turn of "weight" 0 (Example.untrained_turns) is never trained, under "all" too,
                # and when it is the last turn the EOS after it goes untrained with it (encode.Encoder)
                skip = set(ex.untrained_turns)
                last = len(ex.messages) - 1
                total = self._n(plain_render(ex.messages)) + EOS_TOKENS
                last_is_assistant = bool(ex.messages) and ex.messages[-1][0] == "assistant"
                trained = sum(self._n(c) for i, (r, c) in enumerate(ex.messages) if r == "assistant"
                              and i not in skip) + (EOS_TOKENS if last_is_assistant and last not in skip else 0)
                untrained = sum(self._n(ex.messages[i][1]) for i in skip) + (EOS_TOKENS if last in skip else 0)
                out.append((total, trained if self.mask else total - untrained))
                continue
            elif ex.prompt is not None:
                total = self._n(ex.prompt + (ex.completion or "")) + EOS_TOKENS
                trained = self._n(ex.completion or "") + EOS_TOKENS
            else:
                total = trained = self._n(ex.text or "") + EOS_TOKENS
            out.append((total, trained if self.mask else total))
        return out


def _tokenized(ex: Example) -> tuple[int, int]:
    total = len(ex.input_ids or ())
    if ex.labels is None:
        return total, total
    return total, sum(1 for v in ex.labels if v != IGNORE_INDEX)


class RealTokenizer:
    """Counts with a local folder's fast tokenizer: its tokenizer.json through the tokenizers library when that
    tokenizes as transformers would (fast_tokenizer.load_fast), else transformers' AutoTokenizer
    (local_files_only=True). The counts are the lengths and trained positions of lorplan.core.data.encode.Encoder,
    the rule `lorplan train` and probes use.
    trust_remote_code: the user typed --trust-remote-code, so a tokenizer with its own Python code (auto_map)
    may run it; without it such a tokenizer is refused (BadInput)."""

    estimated = False

    def __init__(self, choice: TokenizerChoice, *, mask: bool = True, trust_remote_code: bool = False):
        from lorplan.core.data.fast_tokenizer import load_fast

        # tokenizer.json read by the tokenizers library alone where transformers would tokenize exactly as it
        # does (fast_tokenizer's docstring lists what goes to transformers): no transformers and torch import,
        # about 3 s of every profile
        self.tok = load_fast(choice.path)
        if self.tok is None:
            self.tok = self._auto_tokenizer(choice, trust_remote_code)
        self.mask = mask
        self.encoder = Encoder(self.tok, mask_prompt=mask, fast=True)
        self.has_chat_template = self.encoder.has_chat_template
        limit = getattr(self.tok, "model_max_length", None)
        self.model_max_length = int(limit) if isinstance(limit, int) and 0 < limit < 10**7 else None

    @staticmethod
    def _auto_tokenizer(choice: TokenizerChoice, trust_remote_code: bool):
        from transformers import AutoTokenizer

        try:
            # True or False, never transformers' None: None asks "Do you wish to run the custom code?" on a
            # terminal, and a "y" (typed, or piped in) runs the folder's Python files
            with _logs_held():
                return AutoTokenizer.from_pretrained(choice.path, local_files_only=True,
                                                     trust_remote_code=trust_remote_code is True)
        except Exception as exc:  # transformers raises OSError, ValueError, JSON errors... for a broken folder
            from pathlib import Path

            from lorplan.core.data.fast_tokenizer import read_json_files
            from lorplan.core.model.sources import check_auto_map

            folder = Path(choice.path)
            config, model, _, _ = read_json_files(folder)  # a damaged JSON file of it: BadInput naming the file
            # an auto_map that is no object of class paths ("auto_map": 5): BadInput naming the file and the key
            if config is not None:
                check_auto_map(config, f"tokenizer_config.json at {folder / 'tokenizer_config.json'}",
                               tokenizer=True, class_read=_class_read(model, trust_remote_code),
                               trusted=trust_remote_code is True)
            if model is not None:
                check_auto_map(model, f"config.json at {folder / 'config.json'}")
            reason = str(exc).splitlines()[0]
            if "contains custom code" in reason:
                reason = own_code_refusal("its config.json or tokenizer_config.json names Python code of its own "
                                          "(auto_map)")
            raise BadInput(f"tokenizer at {choice.path}: cannot load ({reason})") from None

    def count(self, examples: Sequence[Example]) -> list[tuple[int, int]]:
        """(tokens, trained tokens) of each example, trained counted before the causal shift."""
        return self.encoder.count_many(examples)


def _class_read(model: dict | None, trust_remote_code: bool) -> bool:
    """Whether transformers' AutoTokenizer reads the tokenizer's classes from tokenizer_config.json's auto_map:
    not for a config.json model_type the installed transformers loads its own tokenizer class for
    (MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS: qwen2, phi3...) when the folder's code is not trusted (it drops
    the entry unread), else it does."""
    from transformers.models.auto import tokenization_auto

    overridden = getattr(tokenization_auto, "MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS", ())
    model_type = (model or {}).get("model_type")
    return trust_remote_code is True or not (isinstance(model_type, str) and model_type in overridden)


# _logs_held's state, shared by the threads that load tokenizers at once (the planner's profile workers: a
# superseded one runs on): transformers' library logger has one holder while any of them holds
_HOLD_LOCK = threading.Lock()
_HELD: dict[int, list[logging.LogRecord]] = {}  # a holding thread's id -> the records it logged
_AS_IT_WAS: list[logging.Logger] = []  # the library logger as it was (its handlers, propagate) while held


class _Holder(logging.Handler):
    """The library logger's one handler while some thread holds: a holding thread's record is kept for it, any
    other thread's goes where the logger sent it before (its handlers, then its parents' if it propagated). It
    keeps that logger itself: a record the library logger handed it just before the last hold ended reaches emit
    after _AS_IT_WAS is cleared, and goes there too (not an IndexError in the logging thread)."""

    def __init__(self, was: logging.Logger) -> None:
        super().__init__()
        self.was = was

    def emit(self, record: logging.LogRecord) -> None:
        with _HOLD_LOCK:
            held = _HELD.get(threading.get_ident())  # emit runs in the thread that logged
            if held is not None:
                held.append(record)
                return
        self.was.callHandlers(record)


@contextlib.contextmanager
def _logs_held() -> Iterator[None]:
    """transformers' log records held while the block runs (a tokenizer loading): dropped when it fails, where
    lorplan's one line says why (transformers warned "You are using a model of type `evil_llama` to instantiate
    a model of type ``" before refusing a folder's own code, a line before the error), passed on when it ends
    well. Only this thread's records: loads in several threads hold their own, and the library logger gets its
    handlers back when the last ends. TRANSFORMERS_VERBOSITY set in the environment leaves transformers'
    logging as it is."""
    me = threading.get_ident()
    if os.environ.get("TRANSFORMERS_VERBOSITY") or me in _HELD:  # (_HELD[me]: this thread holds already)
        yield
        return
    from transformers.utils import logging as hf_logging

    root = hf_logging.get_logger()  # the library's logger, its stderr handler configured
    with _HOLD_LOCK:
        if not _HELD:
            was = logging.Logger(root.name)  # outside logging's registry: the library logger as it was
            was.handlers, was.propagate, was.parent = root.handlers[:], root.propagate, root.parent
            _AS_IT_WAS[:] = [was]
            root.handlers, root.propagate = [_Holder(was)], False
        held = _HELD[me] = []
    try:
        yield
    except BaseException:
        held.clear()
        raise
    finally:
        with _HOLD_LOCK:
            del _HELD[me]
            was = _AS_IT_WAS[0]
            if not _HELD:
                root.handlers, root.propagate = was.handlers, was.propagate
                _AS_IT_WAS.clear()
        for record in held:
            was.callHandlers(record)


def make_counter(choice: TokenizerChoice, *, mask: bool = True,
                 trust_remote_code: bool = False) -> CharEstimate | RealTokenizer:
    """A counter for `choice`: the real tokenizer when it has a folder (trust_remote_code: RealTokenizer's),
    else the character estimate."""
    if choice.estimated:
        return CharEstimate(choice, mask=mask)
    return RealTokenizer(choice, mask=mask, trust_remote_code=trust_remote_code)
