"""Which tokens of an example are trained: the one rule shared by `lorplan profile`, `lorplan train` and probes.

The rule (TRL SFTTrainer's defaults: completion-only loss, assistant-only loss for chats):
- text: the text tokenized with the tokenizer's special tokens, then EOS; every token trained.
- prompt-completion and alpaca: prompt + completion tokenized as one string with special tokens, then EOS.
  Trained: the completion's tokens (len(tok(prompt + completion)) - len(tok(prompt)), both without special
  tokens), the special tokens after them and the EOS. The prompt and leading special tokens (BOS/CLS) are masked.
- messages with a chat template: the conversation rendered by the template (tokenize=False) and tokenized without
  special tokens (the template writes its own); no EOS is added (the template ends turns). Trained: for each
  assistant turn i, the tokens it adds, len(tok(render(m[:i+1]))) - len(tok(render(m[:i],
  add_generation_prompt=True))), its end-of-turn marker included (TRL's assistant_only_loss).
- messages without a template: turns rendered as "<|role|>\\ncontent\\n", tokenized with special tokens, then
  EOS; trained as above, the generation prompt being "<|assistant|>\\n"; the closing special tokens and EOS
  are trained when the last turn is the assistant's.
- tokenized (input_ids): kept as given; trained = labels != -100 (every token without labels). No EOS.
mask_prompt=False trains every token (pre-tokenized labels are still kept). EOS is the tokenizer's eos token,
else its SEP token; it is not added twice when the sequence already ends with it (BERT-style tokenizers end
with [SEP]).

Counts are before the causal shift: `trained` is the number of labels != -100 in the sequence as built;
transformers shifts labels by one inside the loss, so a trained first position (e.g. BOS of a text row) is
never a prediction target. No tokenizer library is imported here: the tokenizer object is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

IGNORE_INDEX = -100  # transformers' CrossEntropyLoss ignore_index
FALLBACK_GENERATION = "<|assistant|>\n"


@dataclass(frozen=True)
class EncodedExample:
    """One example as token ids and labels (labels[i] = input_ids[i] where trained, IGNORE_INDEX elsewhere)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    @property
    def trained(self) -> int:
        """Positions with a label (before the causal shift)."""
        return sum(1 for v in self.labels if v != IGNORE_INDEX)


def plain_render(messages: Sequence[tuple[str, str]], generation_prompt: bool = False) -> str:
    """A conversation without a chat template: "<|role|>\\ncontent\\n" per turn."""
    text = "".join(f"<|{role}|>\n{content}\n" for role, content in messages)
    return text + (FALLBACK_GENERATION if generation_prompt else "")


def eos_id(tokenizer) -> int | None:
    """The id that ends a sequence: EOS, else SEP, else None (then nothing is appended)."""
    for tid in (getattr(tokenizer, "eos_token_id", None), getattr(tokenizer, "sep_token_id", None)):
        if tid is not None:
            return int(tid)
    return None


class Encoder:
    """Encodes examples with one tokenizer by the module's rule. Strings of a batch are tokenized in one call.

    fast=True tokenizes through a copy of the Rust backend (`encode_batch_fast`: no offsets, GIL released),
    which gives the same ids as tokenizer(texts) for a fast tokenizer; the profile uses it for throughput.
    """

    def __init__(self, tokenizer, *, mask_prompt: bool = True, add_eos: bool = True, fast: bool = False):
        self.tok = tokenizer
        self.mask_prompt = mask_prompt
        self.eos = eos_id(tokenizer) if add_eos else None
        self.has_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.backend = None
        if fast and getattr(tokenizer, "backend_tokenizer", None) is not None:
            from tokenizers import Tokenizer

            backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # no truncation, no padding
            backend.no_truncation()
            backend.no_padding()
            self.backend = backend
        self.pre, self.post = self._special_frame()

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text without special tokens."""
        if not texts:
            return []
        if self.backend is not None:
            encode = getattr(self.backend, "encode_batch_fast", self.backend.encode_batch)
            return [e.ids for e in encode(texts, add_special_tokens=False)]
        return [list(x) for x in self.tok(texts, add_special_tokens=False)["input_ids"]]

    def _special_frame(self) -> tuple[list[int], list[int]]:
        """The special tokens the tokenizer puts before and after one sequence (e.g. [CLS] / [SEP], BOS / -)."""
        probe = "a"
        full = list(self.tok(probe, add_special_tokens=True)["input_ids"])
        bare = list(self.tok(probe, add_special_tokens=False)["input_ids"])
        for lead in range(len(full) - len(bare) + 1):
            if bare and full[lead : lead + len(bare)] == bare:
                return full[:lead], full[lead + len(bare) :]
        return full if not bare else [], []

    def render(self, messages: Sequence[tuple[str, str]], generation_prompt: bool = False) -> str:
        if not self.has_chat_template:
            return plain_render(messages, generation_prompt)
        if not messages:
            return ""
        conv = [{"role": r, "content": c} for r, c in messages]
        return self.tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=generation_prompt)

    def encode(self, example) -> EncodedExample:
        return self.encode_many([example])[0]

    def encode_many(self, examples: Sequence) -> list[EncodedExample]:
        """Every example of `examples` encoded; their strings are tokenized in one batch."""
        texts: list[str] = []
        plans: list[tuple] = []
        for ex in examples:
            if ex.input_ids is not None:
                plans.append(("ids", ex))
            elif ex.messages is not None:
                start = len(texts)
                texts.append(self.render(ex.messages))
                turns = [i for i, (role, _) in enumerate(ex.messages) if role == "assistant"]
                for i in turns if self.mask_prompt else ():
                    texts.append(self.render(ex.messages[: i + 1]))
                    texts.append(self.render(ex.messages[:i], generation_prompt=True))
                last_is_assistant = bool(ex.messages) and ex.messages[-1][0] == "assistant"
                plans.append(("chat", start, len(turns) if self.mask_prompt else 0, last_is_assistant))
            elif ex.prompt is not None:
                plans.append(("pc", len(texts)))
                texts.append(ex.prompt + (ex.completion or ""))
                texts.append(ex.prompt)
            else:
                plans.append(("text", len(texts)))
                texts.append(ex.text or "")
        ids = self.ids(texts)
        return [self._assemble(plan, ids) for plan in plans]

    def _assemble(self, plan: tuple, ids: list[list[int]]) -> EncodedExample:
        kind = plan[0]
        if kind == "ids":
            ex = plan[1]
            labels = ex.labels if ex.labels is not None else ex.input_ids
            return EncodedExample(tuple(ex.input_ids), tuple(labels))
        if kind == "chat" and self.has_chat_template:
            _, start, pairs, _ = plan
            seq = list(ids[start])
            if not self.mask_prompt:
                return self._labelled(seq, [True] * len(seq))
            return self._labelled(seq, self._turns(len(seq), ids, start, pairs, offset=0))
        body = ids[plan[1]]
        seq = self.pre + list(body) + self.post
        if self.eos is not None and (not seq or seq[-1] != self.eos):
            seq.append(self.eos)
        if not self.mask_prompt or kind == "text":
            return self._labelled(seq, [True] * len(seq))
        tail = [True] * (len(seq) - len(self.pre) - len(body))  # closing specials and EOS
        if kind == "pc":
            n_prompt = min(len(ids[plan[1] + 1]), len(body))
            trained = [False] * (len(self.pre) + n_prompt) + [True] * (len(body) - n_prompt) + tail
            return self._labelled(seq, trained)
        _, start, pairs, last_is_assistant = plan  # chat without a template
        trained = self._turns(len(self.pre) + len(body), ids, start, pairs, offset=len(self.pre))
        return self._labelled(seq, trained + [t and last_is_assistant for t in tail])

    @staticmethod
    def _turns(length: int, ids: list[list[int]], start: int, pairs: int, offset: int) -> list[bool]:
        """Trained flags over `length` positions: each assistant turn's added tokens (prefix differences)."""
        trained = [False] * length
        for k in range(pairs):
            end = min(len(ids[start + 1 + 2 * k]) + offset, length)
            begin = min(len(ids[start + 2 + 2 * k]) + offset, end)
            trained[begin:end] = [True] * (end - begin)
        return trained

    @staticmethod
    def _labelled(seq: list[int], trained: list[bool]) -> EncodedExample:
        labels = tuple(t if keep else IGNORE_INDEX for t, keep in zip(seq, trained, strict=True))
        return EncodedExample(tuple(seq), labels)


def encode_example(tokenizer, example, *, mask_prompt: bool = True, add_eos: bool = True) -> EncodedExample:
    """`example` (a lorplan.core.data.Example) as input_ids and labels by the module's rule.

    tokenizer: a Hugging Face tokenizer object (not imported here). mask_prompt=False trains every token;
    add_eos=False leaves out the EOS appended to text, prompt/completion and template-less chats.
    For many examples, build one `Encoder` and call `encode_many` (one batched tokenizer call)."""
    return Encoder(tokenizer, mask_prompt=mask_prompt, add_eos=add_eos).encode(example)
