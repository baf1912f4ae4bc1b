"""Counting tokens and trained tokens per example, with a real tokenizer or a character estimate.

Definitions (what a trainer such as TRL's SFTTrainer sees; the tests recompute them with the tokenizer):
- text: tokens = len(tokenizer(text)["input_ids"]) with the tokenizer's special tokens; every token trained.
- prompt-completion and alpaca: tokens = len(tokenizer(prompt + completion)) with special tokens; trained
  (loss masked to the completion) = len(tok(prompt + completion)) - len(tok(prompt)), both without special tokens.
- messages: the conversation is rendered with the tokenizer's chat template (tokenize=False) and tokenized
  without adding special tokens (the template writes its own). Trained (masked to the assistant) = for each
  assistant turn i, len(tok(render(m[:i+1]))) - len(tok(render(m[:i], add_generation_prompt=True))): the tokens
  the turn adds, its end-of-turn marker included. Without a template, turns are rendered as "<|role|>\\ncontent\\n".
- tokenized: tokens = len(input_ids); trained = labels that are not -100 (all tokens without labels). Exact even
  without a tokenizer.
- mask=False trains every token (trained = tokens).
Lengths come from one batched call per chunk to the Rust tokenizer (`encode_batch_fast`, parallel over the batch
with rayon), which releases the GIL, so reading the next chunk overlaps with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lorplan.core.data.example import Example
from lorplan.core.data.tokenizer import TokenizerChoice
from lorplan.core.errors import BadInput

IGNORE_INDEX = -100  # transformers' CrossEntropyLoss ignore_index
_FALLBACK_GEN = "<|assistant|>\n"


def _plain_render(messages: Sequence[tuple[str, str]], generation_prompt: bool = False) -> str:
    text = "".join(f"<|{role}|>\n{content}\n" for role, content in messages)
    return text + (_FALLBACK_GEN if generation_prompt else "")


class CharEstimate:
    """Tokens estimated as ceil(characters / chars_per_token) for each counted string."""

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
            if ex.messages is not None:
                total = self._n(_plain_render(ex.messages))
                trained = sum(self._n(c) for r, c in ex.messages if r == "assistant")
            elif ex.prompt is not None:
                total = self._n(ex.prompt + (ex.completion or ""))
                trained = self._n(ex.completion or "")
            else:
                total = trained = self._n(ex.text or "")
            out.append((total, trained if self.mask else total))
        return out


def _tokenized(ex: Example) -> tuple[int, int]:
    total = len(ex.input_ids or ())
    if ex.labels is None:
        return total, total
    return total, sum(1 for v in ex.labels if v != IGNORE_INDEX)


class RealTokenizer:
    """Counts with a Hugging Face fast tokenizer loaded from a local folder (local_files_only=True)."""

    estimated = False

    def __init__(self, choice: TokenizerChoice, *, mask: bool = True):
        from transformers import AutoTokenizer

        try:
            self.tok = AutoTokenizer.from_pretrained(choice.path, local_files_only=True)
        except Exception as exc:  # transformers raises OSError, ValueError, JSON errors... for a broken folder
            raise BadInput(f"tokenizer at {choice.path}: cannot load ({str(exc).splitlines()[0]})") from None
        self.mask = mask
        self.has_chat_template = bool(getattr(self.tok, "chat_template", None))
        limit = getattr(self.tok, "model_max_length", None)
        self.model_max_length = int(limit) if isinstance(limit, int) and 0 < limit < 10**7 else None
        self.n_special = self.tok.num_special_tokens_to_add(pair=False)
        backend = getattr(self.tok, "backend_tokenizer", None)
        if backend is not None:
            from tokenizers import Tokenizer

            backend = Tokenizer.from_str(backend.to_str())  # a copy without truncation or padding
            backend.no_truncation()
            backend.no_padding()
        self.backend = backend

    def lengths(self, texts: list[str]) -> list[int]:
        """Token counts of each text without special tokens."""
        if not texts:
            return []
        if self.backend is not None:
            # encode_batch_fast (tokenizers >= 0.21) skips offsets, which only lengths do not need.
            encode = getattr(self.backend, "encode_batch_fast", self.backend.encode_batch)
            return [len(e) for e in encode(texts, add_special_tokens=False)]
        ids = self.tok(texts, add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def render(self, messages: Sequence[tuple[str, str]], generation_prompt: bool = False) -> str:
        if not self.has_chat_template:
            return _plain_render(messages, generation_prompt)
        if not messages:
            return ""
        conv = [{"role": r, "content": c} for r, c in messages]
        return self.tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=generation_prompt)

    def count(self, examples: Sequence[Example]) -> list[tuple[int, int]]:
        # Plan: every example contributes strings to one batch; each plan entry says how to read them back.
        texts: list[str] = []
        plans: list[tuple] = []
        for ex in examples:
            if ex.input_ids is not None:
                plans.append(("exact", _tokenized(ex)))
            elif ex.messages is not None:
                specials = 0 if self.has_chat_template else self.n_special
                start = len(texts)
                texts.append(self.render(ex.messages))
                pairs = 0
                if self.mask:
                    for i, (role, _) in enumerate(ex.messages):
                        if role == "assistant":
                            texts.append(self.render(ex.messages[: i + 1]))
                            texts.append(self.render(ex.messages[:i], generation_prompt=True))
                            pairs += 1
                plans.append(("chat", start, pairs, specials))
            elif ex.prompt is not None:
                start = len(texts)
                texts.append(ex.prompt + (ex.completion or ""))
                texts.append(ex.prompt)
                plans.append(("pc", start))
            else:
                plans.append(("text", len(texts)))
                texts.append(ex.text or "")
        n = self.lengths(texts)
        out = []
        for plan in plans:
            kind = plan[0]
            if kind == "exact":
                out.append(plan[1])
                continue
            if kind == "text":
                total = n[plan[1]] + self.n_special
                out.append((total, total))
            elif kind == "pc":
                full, prompt = n[plan[1]], n[plan[1] + 1]
                total = full + self.n_special
                out.append((total, max(full - prompt, 0) if self.mask else total))
            else:
                _, start, pairs, specials = plan
                total = n[start] + specials
                trained = sum(max(n[start + 1 + 2 * k] - n[start + 2 + 2 * k], 0) for k in range(pairs))
                out.append((total, trained if self.mask else total))
        return out


def make_counter(choice: TokenizerChoice, *, mask: bool = True) -> CharEstimate | RealTokenizer:
    """A counter for `choice`: the real tokenizer when it has a folder, else the character estimate."""
    if choice.estimated:
        return CharEstimate(choice, mask=mask)
    return RealTokenizer(choice, mask=mask)
