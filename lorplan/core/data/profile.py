"""The data profile: how many examples and tokens a dataset holds, how many are trained, and what is wrong with it.

`profile_dataset` streams the file once. Memory stays flat in the file size: lengths live in a histogram, each
example leaves an 8-byte hash (for exact duplicates), and at most two chunks of examples are in flight.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from array import array
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace

from lorplan.core.data.counting import make_counter
from lorplan.core.data.example import Example
from lorplan.core.data.records import open_records
from lorplan.core.data.stats import (
    Lengths,
    Padding,
    Split,
    interval,
    lengths_of,
    padding,
    suggest_seq_len,
    suggest_split,
    truncated_tokens,
)
from lorplan.core.data.tokenizer import model_max_length, resolve_tokenizer
from lorplan.core.errors import BadInput

DEFAULT_SEQ_LEN = 2048
MAX_PROBLEMS = 1000  # problems listed; `skipped` counts all of them
CHUNK = 2048  # examples per tokenizer batch

Progress = Callable[[int, int, str], None]  # (done, total, unit "bytes" | "rows")


@dataclass(frozen=True)
class Problem:
    """A skipped row: its 1-based line (or row number) and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class SampleInfo:
    """--sample: `size` examples drawn at random (reservoir, seed) out of `population`; token totals are scaled
    from the sample, each with a 95% interval (low, high)."""

    size: int
    population: int
    seed: int
    tokens_interval: tuple[int, int]
    trained_interval: tuple[int, int]
    truncated_interval: tuple[int, int]


@dataclass(frozen=True)
class DataProfile:
    """Everything `lorplan profile` reports. Token counts are integers; `estimated` marks every token figure as
    an estimate (no tokenizer: characters / ratio; or a sample scaled up)."""

    path: str
    format: str
    schema: str
    examples: int
    skipped: int
    tokens: int
    trained_tokens: int
    truncated_tokens: int
    estimated: bool
    lengths: Lengths
    problems: tuple[Problem, ...]
    duplicates: int
    seq_len: int
    padding: Padding
    suggested_seq_len: int
    split: Split
    tokenizer: str
    notes: tuple[str, ...] = ()
    sample: SampleInfo | None = None
    length_hist: tuple[tuple[int, int], ...] = ()  # (tokens, examples), sorted; for histograms

    def at_seq_len(self, seq_len: int) -> DataProfile:
        """The same profile at another sequence length: truncation and padding recomputed from the length
        histogram, no re-tokenizing (a sample's figures scaled as in profile_dataset)."""
        sampled = self.sample is not None and self.sample.size < self.sample.population
        scale = self.examples / self.sample.size if sampled else 1
        cut, pad = _cut(dict(self.length_hist), seq_len, scale)
        return replace(self, seq_len=seq_len, truncated_tokens=cut, padding=pad)

    def to_json(self) -> dict:
        """The JSON shape of shared/DESIGN.md plus extra keys (schema, duplicates, padding, suggestions...)."""
        out = {
            "examples": self.examples,
            "skipped": self.skipped,
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "truncated_tokens": self.truncated_tokens,
            "estimated": self.estimated,
            "lengths": asdict(self.lengths),
            "problems": [asdict(p) for p in self.problems],
            "path": self.path,
            "format": self.format,
            "schema": self.schema,
            "tokenizer": self.tokenizer,
            "seq_len": self.seq_len,
            "duplicates": self.duplicates,
            "duplicate_rate": round(self.duplicates / self.examples, 4) if self.examples else 0.0,
            "padding": asdict(self.padding),
            "suggested_seq_len": self.suggested_seq_len,
            "split": asdict(self.split),
            "notes": list(self.notes),
        }
        if self.sample is not None:
            out["sample"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.sample).items()}
        return out


def _cut(hist: Counter[int] | dict[int, int], seq_len: int, scale: float) -> tuple[int, Padding]:
    """Truncated tokens and padding at seq_len; a sample's figures scaled by population / sample size."""
    pad = padding(hist, seq_len)
    cut = truncated_tokens(hist, seq_len)
    if scale == 1:
        return cut, pad
    return round(cut * scale), replace(pad, pad_tokens=round(pad.pad_tokens * scale),
                                       packed_sequences=max(1, round(pad.packed_sequences * scale)))


def _digest(ex: Example) -> int:
    return int.from_bytes(hashlib.blake2b(ex.key().encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def _count_duplicates(hashes: array) -> int:
    """Examples whose 64-bit hash equals an earlier one's. Sorts the hashes in place (no copy: memory stays at
    8 bytes per example plus one byte per example for the comparison)."""
    if len(hashes) < 2:
        return 0
    import numpy as np

    values = np.frombuffer(hashes, dtype=np.uint64)  # a writable view of the array's buffer
    values.sort()
    return int(np.count_nonzero(values[1:] == values[:-1]))


def profile_dataset(
    path: str | os.PathLike[str],
    *,
    model: str | None = None,
    tokenizer: str | None = None,
    schema: str | None = None,
    seq_len: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    mask: bool = True,
    progress: Progress | None = None,
) -> DataProfile:
    """Profile a dataset file or folder (see readers.py for formats, counting.py for what a token counts as).

    model / tokenizer: where the tokenizer comes from (tokenizer.resolve_tokenizer); none -> estimates.
    seq_len: the training sequence length in tokens (default 2048, capped at the model's maximum: the tokenizer's
    model_max_length, else max_position_embeddings of the model's config).
    sample: profile a seeded uniform random sample of this many examples and scale the totals (95% intervals).
    mask: loss masked to completions / assistant turns (True) or every token trained (False).
    progress(done, total, unit) is called a few times a second; it may raise to stop the profile.
    Raises BadInput (one line naming the file) when the file is unreadable or has no usable row.
    """
    if sample is not None and sample < 1:
        raise BadInput(f"--sample {sample}: must be at least 1")
    if seq_len is not None and seq_len < 1:
        raise BadInput(f"--seq-len {seq_len}: must be at least 1")
    choice = resolve_tokenizer(model, tokenizer)
    counter = make_counter(choice, mask=mask)
    source, schema, records = open_records(path, schema=schema)
    model_max = counter.model_max_length or model_max_length(model)
    if seq_len is None:
        seq_len = min(DEFAULT_SEQ_LEN, model_max) if model_max else DEFAULT_SEQ_LEN

    hist: Counter[int] = Counter()
    trained_sum = 0
    hashes = array("Q")
    problems: list[Problem] = []
    skipped = 0
    examples = 0
    reservoir: list[Example] = []
    rng = random.Random(seed)
    chunk: list[Example] = []
    pending: Future | None = None
    last_report = 0.0

    def absorb(results: list[tuple[int, int]]) -> None:
        nonlocal trained_sum
        for total, trained in results:
            hist[total] += 1
            trained_sum += trained

    with ThreadPoolExecutor(max_workers=1) as pool:
        for line, rec in records:
            if isinstance(rec, Example):
                examples += 1
                hashes.append(_digest(rec))
                if sample is not None:
                    if len(reservoir) < sample:
                        reservoir.append(rec)
                    else:
                        j = rng.randint(0, examples - 1)
                        if j < sample:
                            reservoir[j] = rec
                    continue
                chunk.append(rec)
                if len(chunk) >= CHUNK:
                    if pending is not None:
                        absorb(pending.result())
                    pending, chunk = pool.submit(counter.count, chunk), []
            else:
                skipped += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append(Problem(line, rec.reason))
            if progress is not None and (now := time.monotonic()) - last_report > 0.1:
                last_report = now
                progress(source.done, source.total, source.unit)
        if pending is not None:
            absorb(pending.result())
        if chunk:
            absorb(counter.count(chunk))
    if progress is not None:
        progress(source.total, source.total, source.unit)

    if examples == 0:
        first = f"; line {problems[0].line}: {problems[0].reason}" if problems else ""
        raise BadInput(f"--data {path}: no usable row ({skipped} skipped{first})")

    exact_ids = schema == "tokenized"  # pre-tokenized rows are counted exactly without a tokenizer
    notes = [n for n in (None if exact_ids else choice.note, source.note) if n]
    sample_info = None
    if sample is not None:
        counts = []
        for i in range(0, len(reservoir), CHUNK):
            counts.extend(counter.count(reservoir[i : i + CHUNK]))
        absorb(counts)
        totals = [t for t, _ in counts]
        tok = interval(totals, examples)
        trn = interval([t for _, t in counts], examples)
        cut = interval([max(t - seq_len, 0) for t in totals], examples)
        tokens, trained_sum, truncated = (round(x[0]) for x in (tok, trn, cut))
        sample_info = SampleInfo(
            len(reservoir), examples, seed, *((round(x[1]), round(x[2])) for x in (tok, trn, cut))
        )
        if len(reservoir) < examples:
            notes.append(
                f"sampled {len(reservoir)} of {examples} examples (seed {seed}): token totals and padding "
                "scaled to the whole file, length percentiles from the sample"
            )
    else:
        tokens = sum(length * count for length, count in hist.items())
        truncated = truncated_tokens(hist, seq_len)
    if model_max and seq_len > model_max:
        notes.append(f"--seq-len {seq_len} is beyond the model's maximum of {model_max}")
    lengths = lengths_of(hist)
    sampled = sample_info is not None and sample_info.size < sample_info.population
    _, pad = _cut(hist, seq_len, examples / len(reservoir) if sampled else 1)
    return DataProfile(
        path=str(path), format=source.format, schema=schema, examples=examples, skipped=skipped, tokens=tokens,
        trained_tokens=trained_sum, truncated_tokens=truncated, estimated=(counter.estimated and not exact_ids) or sampled,
        lengths=lengths, problems=tuple(problems), duplicates=_count_duplicates(hashes), seq_len=seq_len,
        padding=pad, suggested_seq_len=suggest_seq_len(lengths, model_max),
        split=suggest_split(examples), tokenizer=choice.path or f"estimate ({choice.chars_per_token:g} chars/token)",
        notes=tuple(notes), sample=sample_info, length_hist=tuple(sorted(hist.items())),
    )
