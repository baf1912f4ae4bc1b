"""One training example as lorplan reads it, whatever the file format and schema."""

from __future__ import annotations

from dataclasses import dataclass

from lorplan.core.vocab import ROW_SCHEMAS, spellings

SCHEMAS = spellings(ROW_SCHEMAS)  # every data schema but auto

ALPACA_PROMPT = (
    "Below is an instruction that describes a task{with_input}. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n{input_block}### Response:"
)


@dataclass(frozen=True)
class Example:
    """A usable row of a dataset, normalised by schema.

    line: 1-based line of the row in its file (JSONL, CSV, a single .txt), or its 1-based row number where a
          format has no lines (JSON array, Parquet, a `datasets` folder, the n-th file of a .txt folder).
    schema: one of SCHEMAS.
    text: the whole text ("text" schema only).
    prompt / completion: "prompt-completion", and "alpaca" (prompt rendered with the Alpaca template,
          completion = output).
    messages: "messages": a tuple of (role, content) pairs; roles are "system", "user", "assistant" (ShareGPT
          "human"/"gpt" are mapped to "user"/"assistant", OpenAI's "developer" to "system"); content is a string
          (a content given as a list of text parts is their texts joined with nothing between).
    input_ids / labels: "tokenized"; labels may be None (every token is trained); -100 marks a masked token.
    label: a classification label when the row has a `label` column (int or str), else None.
    label_problem: why the row's `label` is no class label (2.5, NaN, true, a list), else None; the row is still
          an example (a causal LM ignores the column), but a classifier refuses it, naming the line.
    untrained_turns: "messages": the indices (into messages) of the assistant turns marked "weight": 0 (OpenAI's
          "do not train on this turn"): rendered as context, never trained, whatever the plan's train_on.
    """

    line: int
    schema: str
    text: str | None = None
    prompt: str | None = None
    completion: str | None = None
    messages: tuple | None = None
    input_ids: tuple[int, ...] | None = None
    labels: tuple[int, ...] | None = None
    label: int | str | None = None
    label_problem: str | None = None
    untrained_turns: tuple[int, ...] = ()

    def plain_text(self) -> str:
        """The example as one plain string (no chat template): what a character-based estimate counts."""
        if self.text is not None:
            return self.text
        if self.prompt is not None:
            return self.prompt + (self.completion or "")
        if self.messages is not None:
            return "".join(f"<|{role}|>\n{content}\n" for role, content in self.messages)
        return ""

    def key(self) -> str:
        """A normalised form for exact-duplicate detection (whitespace collapsed, case kept)."""
        if self.input_ids is not None:
            return "ids:" + ",".join(map(str, self.input_ids)) + "|" + ",".join(map(str, self.labels or ()))
        if self.messages is not None:
            body = "\x1e".join(f"{r}\x1f{' '.join(c.split())}" for r, c in self.messages)
        elif self.prompt is not None:
            body = " ".join(self.prompt.split()) + "\x1e" + " ".join((self.completion or "").split())
        else:
            body = " ".join((self.text or "").split())
        return f"{self.schema}:{body}"


def alpaca_prompt(instruction: str, input_text: str | None) -> str:
    """The Stanford Alpaca prompt (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT) for one row."""
    if input_text:
        return ALPACA_PROMPT.format(
            with_input=", paired with an input that provides further context",
            instruction=instruction,
            input_block=f"### Input:\n{input_text}\n\n",
        )
    return ALPACA_PROMPT.format(with_input="", instruction=instruction, input_block="")
