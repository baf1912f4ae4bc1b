"""Which tokens of an example are trained: the one rule shared by `lorplan profile`, `lorplan train` and probes.

The rule (completion-only loss, assistant-only loss for chats: axolotl's and LLaMA-Factory's defaults; TRL's
SFTTrainer masks the prompts of prompt-completion data by default, and chats only with assistant_only_loss=True):
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
- messages whose assistant turn carries OpenAI's "weight": 0 (Example.untrained_turns): that turn is rendered as
  context and never trained; its span (measured as above) is left out, and the closing special tokens and EOS with
  it when it is the last turn.
- tokenized (input_ids): kept as given; trained = labels != -100 (every token without labels). No EOS.
mask_prompt=False trains every token (pre-tokenized labels and weight-0 turns are still kept masked: the data's own
marks are more specific than a plan-wide setting); a plan's data.train_on = "all". EOS is the tokenizer's eos token,
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
        has_eos = getattr(tokenizer, "eos_token_id", None) is not None
        self.eos_text = str(getattr(tokenizer, "eos_token" if has_eos else "sep_token", None) or "")
        self.has_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.backend = None
        if fast and getattr(tokenizer, "backend_tokenizer", None) is not None:
            from tokenizers import Tokenizer

            backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # no truncation, no padding
            backend.no_truncation()
            backend.no_padding()
            self.backend = backend
        self.pre, self.post = self._special_frame()

    def _tokenize(self, texts: list[str]) -> list:
        """Each text without special tokens: Rust `Encoding`s (fast) or id lists; len() of either is its length."""
        if not texts:
            return []
        if self.backend is not None:
            encode = getattr(self.backend, "encode_batch_fast", self.backend.encode_batch)
            return encode(texts, add_special_tokens=False)
        return [list(x) for x in self.tok(texts, add_special_tokens=False)["input_ids"]]

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text without special tokens."""
        return [e.ids if hasattr(e, "ids") else e for e in self._tokenize(texts)]

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

    def _plan(self, examples: Sequence) -> tuple[list[str], list[tuple]]:
        """The strings to tokenize for `examples` and, per example, how to read their lengths back."""
        texts: list[str] = []
        plans: list[tuple] = []
        for ex in examples:
            if ex.input_ids is not None:
                plans.append(("ids", ex))
            elif ex.messages is not None:
                start = len(texts)
                texts.append(self.render(ex.messages))
                # the turns whose spans are measured: the trained ones, or under mask_prompt=False the weight-0
                # ones, masked out of the whole (a turn the data marks untrained stays so whatever train_on says,
                # as a tokenized row's labels are kept)
                untrained = set(getattr(ex, "untrained_turns", ()))
                turns = [i for i, (role, _) in enumerate(ex.messages)
                         if role == "assistant" and (i in untrained) != self.mask_prompt]
                for i in turns:
                    texts.append(self.render(ex.messages[: i + 1]))
                    texts.append(self.render(ex.messages[:i], generation_prompt=True))
                # the closing special tokens and EOS after a final assistant turn go with that turn
                closes = bool(turns) and turns[-1] == len(ex.messages) - 1
                plans.append(("chat", start, len(turns), closes))
            elif ex.prompt is not None:
                plans.append(("pc", len(texts)))
                texts.append(ex.prompt + (ex.completion or ""))
                texts.append(ex.prompt)
            else:
                plans.append(("text", len(texts)))
                texts.append(ex.text or "")
        return texts, plans

    def encode_many(self, examples: Sequence) -> list[EncodedExample]:
        """Every example of `examples` encoded; their strings are tokenized in one batch."""
        texts, plans = self._plan(examples)
        ids = self.ids(texts)
        lens = [len(x) for x in ids]
        out = []
        for plan in plans:
            if plan[0] == "ids":
                ex = plan[1]
                labels = ex.labels if ex.labels is not None else ex.input_ids
                out.append(EncodedExample(tuple(ex.input_ids), tuple(labels)))
                continue
            framed = plan[0] != "chat" or not self.has_chat_template
            seq = self.pre + list(ids[plan[1]]) + self.post if framed else list(ids[plan[1]])
            if framed and self._adds_eos(seq):
                seq.append(self.eos)
            trained = [False] * len(seq)
            for begin, end in self._spans(plan, lens, len(seq)):
                trained[begin:end] = [True] * (end - begin)
            labels = tuple(t if keep else IGNORE_INDEX for t, keep in zip(seq, trained, strict=True))
            out.append(EncodedExample(tuple(seq), labels))
        return out

    def count_many(self, examples: Sequence) -> list[tuple[int, int]]:
        """(len(input_ids), trained) of each example, equal to encode_many's (tests compare them on every schema),
        without building sequences: from token counts, and a text's last id only when the EOS check needs it
        (no closing special token, and the EOS token's text occurs in the string)."""
        texts, plans = self._plan(examples)
        encs = self._tokenize(texts)
        lens = [len(x) for x in encs]
        out = []
        for plan in plans:
            if plan[0] == "ids":
                ex = plan[1]
                total = len(ex.input_ids)
                out.append((total, total if ex.labels is None else sum(1 for v in ex.labels if v != IGNORE_INDEX)))
                continue
            n = lens[plan[1]]
            total = n
            if plan[0] != "chat" or not self.has_chat_template:
                total = len(self.pre) + n + len(self.post)
                if self.eos is not None:
                    if self.post:
                        last = self.post[-1]
                    elif n:
                        last = self._last_id(encs[plan[1]], texts[plan[1]])
                    else:
                        last = self.pre[-1] if self.pre else None
                    total += last != self.eos
            out.append((total, sum(end - begin for begin, end in self._spans(plan, lens, total))))
        return out

    def _last_id(self, encoding, text: str) -> int | None:
        """A text's last token id, or None when it provably is not the EOS (the EOS token's text, an added
        special token, does not occur in the string, case ignored)."""
        if self.eos_text and self.eos_text.lower() not in text.lower():
            return None
        ids = encoding.ids if hasattr(encoding, "ids") else encoding
        return ids[-1]

    def _adds_eos(self, seq: list[int]) -> bool:
        return self.eos is not None and (not seq or seq[-1] != self.eos)

    def _spans(self, plan: tuple, lens: list[int], total: int) -> list[tuple[int, int]]:
        """The trained positions of a planned example as sorted, disjoint [begin, end) spans over `total`."""
        kind = plan[0]
        whole = [(0, total)] if total else []
        if kind == "text" or (not self.mask_prompt and (kind != "chat" or not plan[2])):
            return whole
        if kind == "pc":
            body = lens[plan[1]]
            begin = len(self.pre) + min(lens[plan[1] + 1], body)
            return [(begin, total)] if begin < total else []
        _, start, pairs, closes = plan
        framed = not self.has_chat_template
        offset = len(self.pre) if framed else 0
        limit = offset + lens[start] if framed else total
        spans = []
        for k in range(pairs):
            end = min(lens[start + 1 + 2 * k] + offset, limit)
            begin = min(lens[start + 2 + 2 * k] + offset, end)
            if begin < end:
                spans.append((begin, end))
        if framed and closes and limit < total:
            spans.append((limit, total))  # closing special tokens and EOS after a final assistant turn
        merged: list[tuple[int, int]] = []
        for begin, end in sorted(spans):
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((begin, end))
        if self.mask_prompt:
            return merged
        # every token but the weight-0 turns'
        bounds = [0] + [b for span in merged for b in span] + [total]
        return [(bounds[k], bounds[k + 1]) for k in range(0, len(bounds), 2) if bounds[k] < bounds[k + 1]]


def encode_example(tokenizer, example, *, mask_prompt: bool = True, add_eos: bool = True) -> EncodedExample:
    """`example` (a lorplan.core.data.Example) as input_ids and labels by the module's rule.

    tokenizer: a Hugging Face tokenizer object (not imported here). mask_prompt=False trains every token;
    add_eos=False leaves out the EOS appended to text, prompt/completion and template-less chats.
    For many examples, build one `Encoder` and call `encode_many` (one batched tokenizer call)."""
    return Encoder(tokenizer, mask_prompt=mask_prompt, add_eos=add_eos).encode(example)
