"""The data profile: how many examples and tokens a dataset holds, how many are trained, and what is wrong with it.

`profile_dataset` streams the file once. Memory stays flat in the file size: lengths live in a histogram, each
example leaves an 8-byte hash (for exact duplicates), and at most two chunks of examples are in flight.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from array import array
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

from lorplan.core.data.counting import CharEstimate, RealTokenizer, make_counter
from lorplan.core.data.example import Example
from lorplan.core.data.labels import unlabelled as no_label
from lorplan.core.data.readers import Progress  # (done, total, unit "bytes" | "rows")
from lorplan.core.data.records import Reservoir, open_records
from lorplan.core.data.stats import (
    LabelBalance,
    Lengths,
    Padding,
    Split,
    interval,
    label_balance,
    lengths_of,
    padding,
    suggest_seq_len,
    suggest_split,
    truncated_tokens,
)
from lorplan.core.data.tokenizer import TokenizerChoice, resolve_tokenizer
from lorplan.core.errors import BadInput, LorplanError

if TYPE_CHECKING:
    from lorplan.core.model.spec import ModelSpec

DEFAULT_SEQ_LEN = 2048
MAX_PROBLEMS = 1000  # problems listed; `skipped` counts all of them
CHUNK = 2048  # examples per tokenizer batch
EXACT_IDS = "none (counts from the data's own token ids)"  # `tokenizer` of pre-tokenized rows without one

TokenCounter = CharEstimate | RealTokenizer


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
    labels: LabelBalance | None = None  # examples per `label` value (classification data), else None
    bad_labels: int = 0  # examples whose `label` is no class label (2.5, NaN, true): counted, not in `labels`
    label_problems: tuple[Problem, ...] = ()  # the first MAX_PROBLEMS of them: line and why
    # profiled for a sequence classifier: rows without a label (null, empty or missing), which it trains without
    # (labels.unlabelled), left out of every figure above, and the first one's line (a note says both). 0 when
    # no row has a label: the figures then count every example, and unlabelled_line warns.
    unlabelled: int = 0
    first_unlabelled: int | None = None
    # profiled for a sequence classifier: the rows among bad_labels left out of every figure above (all of them,
    # or 0 when no row has a class label). A classifier does not train on such a row: lorplan train refuses the
    # file at its line (label_refusal says it), so the figures count the labelled rows alone, as the note says.
    refused_rows: int = 0

    def label_refusal(self) -> str | None:
        """Why a classifier cannot train on these labels, in one line, else None: the first row whose label is
        no class label (its line, and how many such rows), or a name that reads as a number beside integer ids."""
        if self.label_problems:
            first = self.label_problems[0]
            rows = f"{self.bad_labels:,} rows have a label that is no class label, the first " \
                if self.bad_labels > 1 else ""
            return f"{rows}line {first.line}: {first.reason}"
        return self.labels.refused if self.labels is not None else None

    @property
    def labelled(self) -> int:
        """Examples with a class label."""
        return sum(n for _, n in self.labels.counts) if self.labels is not None else 0

    def skipped_figure(self) -> str:
        """The skipped figure `lorplan profile` and the planner's Data tab print: the broken rows (`skipped`) and
        a classifier's rows left out for having no label, which it trains without, named as such ("2 (2
        unlabelled)"). Rows whose label is no class are not among them: training refuses them, not skips them
        (label_refusal)."""
        total = f"{self.skipped + self.unlabelled:,}"
        return f"{total} ({self.unlabelled:,} unlabelled)" if self.unlabelled else total

    def unlabelled_note(self, what: str, uses: str) -> str | None:
        """For a profile counted for a sequence classifier, the `note:` line a command prints on the rows the
        profile left out for having no label (labels.unlabelled_note: `what` names the data as the command does,
        `uses` says what counts without them, "the plan counts"); None when it left none out."""
        if not self.unlabelled:
            return None
        from lorplan.core.data.labels import unlabelled_note

        return "note: " + unlabelled_note(what, self.unlabelled, self.first_unlabelled, self.labelled, uses)

    def labels_unused_note(self, what: str, model: str, task: str) -> str | None:
        """For labelled data profiled for a causal LM (`task`), the line saying that its plan trains on the rows
        and never sees the labels (labels.labels_unused_note: `what` names the data as the command does, `model`
        the model as the recommender's evidence names it), without "note: "; labels that are no class label
        (0.3: regression targets, say) are labels too, named by the first one's line. None for a classifier or
        data without labels. Where it is said, `lorplan profile` and the planner's Data tab leave out what only a
        classifier needs to hear of the labels (an imbalance, the ids names take, a refusal)."""
        from lorplan.core.data.labels import labels_unused_note

        first = self.label_problems[0] if self.label_problems else None
        counts = self.labels.counts if self.labels is not None else ()
        return labels_unused_note(what, model, (label for label, _ in counts), task, self.schema,
                                  no_class=f"line {first.line}: {first.reason}" if first else None,
                                  no_class_rows=self.bad_labels if first else None)

    def unlabelled_line(self) -> tuple[str, str] | None:
        """For a sequence classifier, which `lorplan train` trains on the labelled rows alone and refuses data
        without any: ("warning", line) when no row has a label (the class is read from "label" alone: "labels"
        or "class" is none), ("note", line) naming the rows without one (null, empty or no column) when the
        profile counted them (it was not profiled for a classifier), else None: a profile for a classifier left
        them out and its notes say so. None too when no row is labelled but some label is refused:
        label_refusal says it, and training stops. The line has no "warning: " / "note: " prefix; `lorplan
        profile` and the planner's Data tab show it."""
        from lorplan.core.units import counted

        labelled = self.labelled
        unlabelled = self.examples - labelled - (self.bad_labels - self.refused_rows)  # counted without a label
        if labelled == 0 and not self.bad_labels:
            return ("warning", 'no row has a label; a sequence classifier reads its class from a column named '
                    '"label", and lorplan train refuses this data')
        if unlabelled and labelled:
            return ("note", f"{counted(unlabelled, 'example')} without a label (null, empty or no column), which a "
                    f"classifier does not train on: it trains on the {labelled:,} labelled (the figures above "
                    "count every example)")
        return None

    def at_seq_len(self, seq_len: int) -> DataProfile:
        """The same profile at another sequence length: truncation and padding recomputed from the length
        histogram, no re-tokenizing (a sample's figures scaled as in profile_dataset)."""
        sampled = self.sample is not None and self.sample.size < self.sample.population
        scale = self.examples / self.sample.size if sampled else 1
        cut, pad = _cut(dict(self.length_hist), seq_len, scale)
        return replace(self, seq_len=seq_len, truncated_tokens=cut, padding=pad)

    def to_json(self) -> dict:
        """What `lorplan profile --json` prints: the counts (examples, skipped, tokens, trained_tokens,
        truncated_tokens, estimated, lengths, problems) and the details (schema, duplicates, padding,
        suggestions...)."""
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
            "labels": self.labels.to_json() if self.labels is not None else None,
            "bad_labels": self.bad_labels,
            "label_problems": [asdict(p) for p in self.label_problems],
            "unlabelled": self.unlabelled,
            "first_unlabelled": self.first_unlabelled,
            "refused_rows": self.refused_rows,
        }
        if self.sample is not None:
            out["sample"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.sample).items()}
        return out


def _cut(hist: Counter[int] | dict[int, int], seq_len: int, scale: float) -> tuple[int, Padding]:
    """Truncated tokens and padding at seq_len; a sample's figures scaled by population / sample size. Packing
    is worked out again from the scaled tokens kept (the sample's sequence count times the scale would count its
    last, part-filled sequence that many times, and disagree with the waste)."""
    pad = padding(hist, seq_len)
    cut = truncated_tokens(hist, seq_len)
    if scale == 1:
        return cut, pad
    kept = round((pad.packed_sequences * seq_len - pad.packing_waste_tokens) * scale)
    packed = math.ceil(kept / seq_len)
    return round(cut * scale), replace(pad, pad_tokens=round(pad.pad_tokens * scale), packed_sequences=packed,
                                       packing_waste_tokens=packed * seq_len - kept)


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


@dataclass(frozen=True)
class ModelLimit:
    """The longest sequence a profile counts against, and where it comes from (named in the profile's note)."""

    tokens: int
    source: str


def model_limit(model: str | None, rope_scaling: float | None = None,
                tokenizer_max: int | None = None, spec: ModelSpec | None = None) -> ModelLimit | None:
    """The model's maximum sequence length as the planner counts it, so that the profile's truncation and
    suggestions use the limit `lorplan plan`, probes and `lorplan train` check (core.memory.bounds.check_context):
    the context of `spec` (the ModelSpec the caller loaded as plan loads it: lorplan profile's) or, without one,
    of the spec lorplan loads for `model` (its config's context key), scaled as context_tokens scales it
    (bounds.scaled_context). An architecture the fast path does not know, without `spec`: the context its
    config.json names (fallback.config_context), without building the model; none there, no limit, though the
    fallback spec plan builds has its configuration class's default (fallback._class_context: lorplan profile
    hands that spec over). Only when lorplan has no config for `model` (no `model`, a tokenizer-only folder, a
    name not on disk): `tokenizer_max`, the tokenizer's model_max_length, which is often a placeholder or
    another figure than the config's (MiniLM's 512 beside a tiny Llama's 128). None when none of these says.
    BadInput, `lorplan plan`'s line, for a config.json plan refuses (sources.config_spec): a profile against it
    would count for a model no command trains."""
    from lorplan.core.memory.bounds import context_default, context_key, scaled_context

    scaled = f" × --rope-scaling {rope_scaling:g}" if rope_scaling else ""
    if spec is None and model:
        from lorplan.core.model import resolve_model
        from lorplan.core.model.fallback import config_context, config_context_key
        from lorplan.core.model.sources import config_spec, read_config

        spec = config_spec(model)  # no fallback build: it imports torch in a child process and takes seconds
        if spec is None:  # an unsupported architecture (or no config at all: then read_config fails too)
            try:
                cfg = read_config(resolve_model(model).config_path)
            except (LorplanError, OSError):
                cfg = None
            if cfg is not None:  # the fallback spec's context (build_spec reads it so), without the build
                tokens = scaled_context(config_context(cfg), rope_scaling)
                where = f"{config_context_key(cfg)} of the model's config"
                return ModelLimit(tokens, f"{where}{scaled}") if tokens is not None else None
    if spec is not None:
        tokens = scaled_context(spec.max_position_embeddings, rope_scaling)  # = bounds.context_tokens
        if tokens is None:  # plan checks no length against it either
            return None
        # config.json without a context key: its configuration class's default, named as one
        where = context_default(spec) or f"{context_key(spec)} of the model's config"
        return ModelLimit(tokens, f"{where}{scaled}")
    tokens = scaled_context(tokenizer_max or 0, rope_scaling)
    return ModelLimit(tokens, f"the tokenizer's model_max_length{scaled}") if tokens is not None else None


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
    rope_scaling: float | None = None,
    trust_remote_code: bool = False,
    task: str | None = None,
    spec: ModelSpec | None = None,
) -> DataProfile:
    """Profile a dataset file or folder (see readers.py for formats, counting.py for what a token counts as).

    model / tokenizer: where the tokenizer comes from (tokenizer.resolve_tokenizer); none -> estimates.
    seq_len: the training sequence length in tokens (default 2048, capped at the model's maximum: model_limit,
    the context a plan of `model` has, else the tokenizer's model_max_length).
    spec: the ModelSpec the caller loaded for `model` as lorplan plan loads it (the fallback build's included),
    whose context is the limit; None: the spec config.json alone gives (model_limit, no build).
    sample: profile a seeded uniform random sample of this many examples and scale the totals (95% intervals).
    mask: loss masked to completions / assistant turns (True) or every token trained (False).
    rope_scaling: the linear RoPE scaling the training will use (--rope-scaling): the model's maximum is then
    factor × it, the reach core.memory.bounds.context_tokens gives a plan (the default and suggested lengths
    may go that far, and only a --seq-len beyond it gets a note naming the limit and where it comes from).
    progress(done, total, unit) is called a few times a second; it may raise to stop the profile. A large JSON
    file (an array, or an object whose list holds the rows) is read twice: first checked and counted (the file's
    bytes, unit json_array.CHECKING, "bytes checked", which a bar labels as that pass), then its rows (unit
    "rows"); other files once, in "bytes" or "rows".
    trust_remote_code: the user's --trust-remote-code: a tokenizer with its own Python code (auto_map) runs it
    (else it is refused).
    task: what the data trains (core.vocab.Task; `lorplan plan`, `profile`, `recommend` and the planner pass their
    spec's, the fallback build's included); None: the task its config.json alone gives (sources.config_spec: no
    fallback build, so an encoder only transformers builds, e.g. DistilBERT, counts as a causal LM), a causal LM
    without one. For a sequence classifier the rows without a label, which
    `lorplan train` trains without (labels.unlabelled), are left out of every figure and named in a note
    (DataProfile.unlabelled), and so are the rows whose label is no class (2.5, NaN, true), on which it trains
    nothing either: it refuses the file at the first one's line (DataProfile.refused_rows; label_refusal says
    it), unless no row has a class label: then every example is counted (unlabelled_line warns).
    Raises BadInput (one line naming the file) when the file is unreadable or has no usable row.
    """
    if sample is not None and sample < 1:
        raise BadInput(f"--sample {sample}: must be at least 1")
    if seq_len is not None and seq_len < 1:
        raise BadInput(f"--seq-len {seq_len}: must be at least 1")
    choice = resolve_tokenizer(model, tokenizer)
    counter = make_counter(choice, mask=mask, trust_remote_code=trust_remote_code)
    source, schema, records = open_records(path, schema=schema, progress=progress)  # the first pass of a large JSON array
    limit = model_limit(model, rope_scaling, counter.model_max_length, spec)
    model_max = limit.tokens if limit is not None else None
    if seq_len is None:
        seq_len = min(DEFAULT_SEQ_LEN, model_max) if model_max else DEFAULT_SEQ_LEN

    tally = _Tally()
    reservoir = Reservoir(sample, seed) if sample is not None else None
    # a classifier's rows without a class label (none, or one that is no class) are tallied aside: left out,
    # unless no row has a class label
    aside = _Aside(_Tally(), Reservoir(sample, seed) if sample is not None else None) \
        if _classifier(model, task) else None
    _read(records, source, counter, tally, reservoir, progress, aside)
    if aside is not None and not tally.labels:  # nothing to train on: count every example, and warn
        if reservoir is not None:
            reservoir.items = _merged_sample(reservoir.items, tally.examples, aside.reservoir.items,
                                             aside.tally.examples, sample, seed)
        tally.merge(aside.tally)
        aside = None
    if tally.examples == 0:
        first = f"; line {tally.problems[0].line}: {tally.problems[0].reason}" if tally.problems else ""
        raise BadInput(f"--data {path}: no usable row ({tally.skipped} skipped{first})")

    exact_ids = schema == "tokenized"  # pre-tokenized rows are counted exactly without a tokenizer
    notes = [n for n in (None if exact_ids else choice.note, source.note) if n]
    if reservoir is None:
        totals = _Totals(sum(n * count for n, count in tally.hist.items()), tally.trained,
                         truncated_tokens(tally.hist, seq_len))
    else:
        totals = _sampled_totals(tally, reservoir.items, counter, seq_len, seed)
        if totals.sample.size < tally.examples:
            notes.append(
                f"sampled {totals.sample.size:,} of {tally.examples:,} examples (seed {seed}): token totals, "
                "padding and packing scaled to the whole file, length percentiles from the sample"
            )
    if limit is not None and seq_len > limit.tokens:
        notes.append(f"--seq-len {seq_len} is beyond the model's maximum of {limit.tokens} ({limit.source})")
    left_out = aside.tally if aside is not None and aside.tally.examples else None
    if left_out is not None:
        notes.append(_left_out_note(left_out, sum(tally.labels.values())))
        # the refused rows' labels are still reported (label_refusal warns with the first one's line)
        tally.bad_labels += left_out.bad_labels
        tally.label_problems = sorted(tally.label_problems + left_out.label_problems,
                                      key=lambda p: p.line)[:MAX_PROBLEMS]
    profile = _profile(path, source.format, schema, tally, totals, seq_len, model_max, choice, notes,
                       estimated=counter.estimated and not exact_ids, exact_ids=exact_ids)
    if left_out is not None:
        profile = replace(profile, unlabelled=left_out.unlabelled, first_unlabelled=left_out.first_unlabelled,
                          refused_rows=left_out.bad_labels)
    return profile


def _left_out_note(left_out: _Tally, labelled: int) -> str:
    """The note on the rows a classifier's profile left out: those without a label, which lorplan train skips
    (labels.unlabelled_note, the line other commands print), and those whose label is no class, which it refuses;
    each with the first one's line."""
    from lorplan.core.data.labels import unlabelled_note
    from lorplan.core.units import counted

    uses = "the figures count what a sequence classifier trains on,"
    refused = left_out.bad_labels
    if refused:
        first = left_out.label_problems[0].line
        it = "it" if refused == 1 else "them"
        where = f"line {first}" if refused == 1 else f"the first, line {first}"
        rows = f"{refused:,} whose label is no class" if left_out.unlabelled else \
            f"{counted(refused, 'row')} whose label is no class"
        refused_part = f"{rows} left out ({where}: lorplan train refuses {it})"
        if not left_out.unlabelled:
            return f"{refused_part}; {uses} the {labelled:,} labelled examples"
        head, _, tail = unlabelled_note(None, left_out.unlabelled, left_out.first_unlabelled, labelled,
                                        uses).partition("; ")
        return f"{head} and {refused_part}; {tail}"
    return unlabelled_note(None, left_out.unlabelled, left_out.first_unlabelled, labelled, uses)


def _classifier(model: str | None, task: str | None) -> bool:
    """Whether the profile counts for a sequence classifier: `task`, else the task config.json alone gives
    (sources.config_spec, no fallback build; no config: not one)."""
    from lorplan.core.vocab import Task

    if task is None and model:
        from lorplan.core.model.sources import config_spec

        spec = config_spec(model)
        task = spec.task if spec is not None else None
    return task == Task.SEQUENCE_CLASSIFICATION


def _merged_sample(a: list[Example], in_a: int, b: list[Example], in_b: int, size: int, seed: int) -> list[Example]:
    """A uniform sample of `size` out of two populations, from a uniform sample of each (of min(size, in_a) out
    of in_a, and of in_b): how many come from the first is drawn as `size` draws without replacement from the
    union would split (hypergeometric), then that many are taken at random from each sample."""
    rng = random.Random(seed)
    size = min(size, in_a + in_b)
    from_a, left_a, left = 0, in_a, in_a + in_b
    for _ in range(size):
        if rng.randrange(left) < left_a:
            from_a += 1
            left_a -= 1
        left -= 1
    return rng.sample(a, from_a) + rng.sample(b, size - from_a)


@dataclass
class _Tally:
    """What the pass over the rows collects: every example's length (histogram) and hash, trained tokens, and
    the skipped rows (the first MAX_PROBLEMS of them with their reasons)."""

    hist: Counter[int] = field(default_factory=Counter)
    trained: int = 0
    hashes: array = field(default_factory=lambda: array("Q"))
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0
    examples: int = 0
    labels: Counter = field(default_factory=Counter)  # examples per `label` value
    bad_labels: int = 0  # examples whose `label` is no class label
    label_problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS of them
    unlabelled: int = 0  # examples without a label (labels.unlabelled)
    first_unlabelled: int | None = None  # the line of the first of them

    def take(self, line: int, rec: Example) -> None:
        """Count an example (its tokens come later, by absorb): hash and label."""
        self.examples += 1
        self.hashes.append(_digest(rec))
        if no_label(rec):
            self.unlabelled += 1
            if self.first_unlabelled is None:
                self.first_unlabelled = line
        elif rec.label is not None:
            self.labels[rec.label] += 1
        elif rec.label_problem is not None:
            self.bad_labels += 1
            if len(self.label_problems) < MAX_PROBLEMS:
                self.label_problems.append(Problem(line, rec.label_problem))

    def merge(self, other: _Tally) -> None:
        """Add another tally's examples (no skipped rows: those stay with the tally that read them)."""
        self.hist.update(other.hist)
        self.trained += other.trained
        self.hashes.extend(other.hashes)
        self.examples += other.examples
        self.labels.update(other.labels)
        self.bad_labels += other.bad_labels
        self.label_problems = sorted(self.label_problems + other.label_problems, key=lambda p: p.line)[:MAX_PROBLEMS]
        self.unlabelled += other.unlabelled
        if other.first_unlabelled is not None and (self.first_unlabelled is None
                                                   or other.first_unlabelled < self.first_unlabelled):
            self.first_unlabelled = other.first_unlabelled

    def absorb(self, counts: list[tuple[int, int]]) -> None:
        """Add (tokens, trained tokens) pairs from counter.count."""
        for total, trained in counts:
            self.hist[total] += 1
            self.trained += trained

    def skip(self, line: int, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(line, reason))


class _ChunkedCount:
    """Counts examples CHUNK at a time on one worker thread while the reader goes on: at most two chunks are
    in flight (the one being counted and the one being filled)."""

    def __init__(self, pool: ThreadPoolExecutor, counter: TokenCounter, tally: _Tally):
        self._pool, self._counter, self._tally = pool, counter, tally
        self._chunk: list[Example] = []
        self._pending: Future | None = None

    def add(self, ex: Example) -> None:
        self._chunk.append(ex)
        if len(self._chunk) >= CHUNK:
            self._collect()
            self._pending, self._chunk = self._pool.submit(self._counter.count, self._chunk), []

    def finish(self) -> None:
        self._collect()
        if self._chunk:
            self._tally.absorb(self._counter.count(self._chunk))

    def _collect(self) -> None:
        if self._pending is not None:
            self._tally.absorb(self._pending.result())
            self._pending = None


@dataclass
class _Aside:
    """A classifier's rows without a class label (none: labels.unlabelled; or one that is no class, which lorplan
    train refuses), tallied (and sampled) apart from the rest."""

    tally: _Tally
    reservoir: Reservoir | None


def _read(records, source, counter: TokenCounter, tally: _Tally, reservoir: Reservoir | None,
          progress: Progress | None, aside: _Aside | None = None) -> None:
    """One pass over the rows into `tally`, a classifier's rows without a class label (labels.unlabelled, or a
    label that is no class) into `aside` when given. Every example is hashed; without a reservoir each is counted, with one only the sample is
    kept (counted later by _sampled_totals)."""
    last_report = 0.0
    with ThreadPoolExecutor(max_workers=1) as pool:
        counting = _ChunkedCount(pool, counter, tally)
        keep = reservoir.offer if reservoir is not None else counting.add
        if aside is not None:
            aside_counting = _ChunkedCount(pool, counter, aside.tally)
            keep_aside = aside.reservoir.offer if aside.reservoir is not None else aside_counting.add
        for line, rec in records:
            if isinstance(rec, Example):
                if aside is not None and rec.label is None:  # no label, or one that is no class
                    aside.tally.take(line, rec)
                    keep_aside(rec)
                else:
                    tally.take(line, rec)
                    keep(rec)
            else:
                tally.skip(line, rec.reason)
            if progress is not None and (now := time.monotonic()) - last_report > 0.1:
                last_report = now
                progress(source.done, source.total, source.unit)
        counting.finish()
        if aside is not None:
            aside_counting.finish()
    if progress is not None:
        progress(source.total, source.total, source.unit)


@dataclass(frozen=True)
class _Totals:
    """Token figures for the whole file: counted, or scaled from a sample (then `sample` says how)."""

    tokens: int
    trained: int
    truncated: int
    sample: SampleInfo | None = None


def _sampled_totals(tally: _Tally, sample: list[Example], counter: TokenCounter, seq_len: int,
                    seed: int) -> _Totals:
    """Count the sample (its lengths go into tally.hist) and scale its totals to tally.examples, each the
    centre of a 95% interval (stats.interval)."""
    counts: list[tuple[int, int]] = []
    for i in range(0, len(sample), CHUNK):
        counts.extend(counter.count(sample[i : i + CHUNK]))
    tally.absorb(counts)
    lengths = [t for t, _ in counts]
    tok = interval(lengths, tally.examples)
    trn = interval([t for _, t in counts], tally.examples)
    cut = interval([max(t - seq_len, 0) for t in lengths], tally.examples)
    bounds = ((round(x[1]), round(x[2])) for x in (tok, trn, cut))
    info = SampleInfo(len(sample), tally.examples, seed, *bounds)
    return _Totals(round(tok[0]), round(trn[0]), round(cut[0]), info)


def _profile(path, fmt: str, schema: str, tally: _Tally, totals: _Totals, seq_len: int, model_max: int | None,
             choice: TokenizerChoice, notes: list[str], *, estimated: bool, exact_ids: bool = False) -> DataProfile:
    """The DataProfile of a finished pass. Padding comes from the length histogram, scaled by population /
    sample size when a sample stood for more examples than it held. exact_ids: the rows carry their own token
    ids (no tokenizer counted them), which `tokenizer` says when no tokenizer folder was given."""
    sample = totals.sample
    sampled = sample is not None and sample.size < sample.population
    _, pad = _cut(tally.hist, seq_len, tally.examples / sample.size if sampled else 1)
    lengths = lengths_of(tally.hist)
    return DataProfile(
        path=str(path), format=fmt, schema=schema, examples=tally.examples, skipped=tally.skipped,
        tokens=totals.tokens, trained_tokens=totals.trained, truncated_tokens=totals.truncated,
        estimated=estimated or sampled, lengths=lengths, problems=tuple(tally.problems),
        duplicates=_count_duplicates(tally.hashes), seq_len=seq_len, padding=pad,
        suggested_seq_len=suggest_seq_len(lengths, model_max), split=suggest_split(tally.examples),
        tokenizer=choice.path or (EXACT_IDS if exact_ids else f"estimate ({choice.chars_per_token:g} chars/token)"),
        notes=tuple(notes), sample=sample, length_hist=tuple(sorted(tally.hist.items())),
        labels=label_balance(tally.labels) if tally.labels else None,
        bad_labels=tally.bad_labels, label_problems=tuple(tally.label_problems),
    )
