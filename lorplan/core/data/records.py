"""Reading a dataset as Examples: the entry points other parts of lorplan use (probes, recommend, the TUI)."""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain

from lorplan.core.data.example import Example
from lorplan.core.data.labels import by_id, class_ids
from lorplan.core.data.labels import unlabelled as no_label
from lorplan.core.data.readers import Bad, Progress, RowSource
from lorplan.core.data.schema import DETECT_ROWS, check_schema, detect_from_file, detect_from_rows, to_example
from lorplan.core.errors import BadInput


def open_records(
    path: str | os.PathLike[str], *, schema: str | None = None, progress: Progress | None = None,
    limit: int | None = None,
) -> tuple[RowSource, str, Iterator[tuple[int, Example | Bad]]]:
    """Open `path` and return (source, schema, records): records yields (line, Example or Bad) lazily.

    schema None or "auto" detects it from the first rows (which are then replayed, not read twice).
    progress: RowSource's, told of the first pass over a large JSON file (an array, or an object whose list holds
    the rows), in unit json_array.CHECKING ("bytes checked"), which comes before the first row (so here, when the
    schema is detected); what it raises comes out as raised.
    limit: no more than this many rows, for a caller that stops there (RowSource.first: the head of such a file
    is read without its first pass over the whole file).
    Raises BadInput naming the file when it is missing, empty, binary or has no known schema.
    """
    source = RowSource(path, progress=progress)
    rows = source.rows() if limit is None else source.first(limit)
    if schema in (None, "auto"):
        head = []
        for item in rows:
            head.append(item)
            if len(head) >= DETECT_ROWS:
                break
        schema = detect_from_rows(head, str(path))
        rows = chain(head, rows)
    else:
        schema = check_schema(schema)
    text_cells = source.format in ("csv", "tsv")  # every cell is text: a label "1.0" is the number 1
    return source, schema, ((line, to_example(line, row, schema, text_cells=text_cells)) for line, row in rows)


def detect_schema(path: str | os.PathLike[str]) -> str:
    """The schema of a dataset ("text", "prompt-completion", "alpaca", "messages" or "tokenized"),
    from the columns of its first rows (a JSON array, or an object of readers._STREAM_BYTES and up whose list holds
    the rows, is not read past them). Raises BadInput when none fits."""
    return detect_from_file(path)


def iter_examples(path: str | os.PathLike[str], *, schema: str | None = None) -> Iterator[Example]:
    """The usable examples of a dataset, streamed in file order (unusable rows are skipped silently;
    `lorplan.core.data.profile_dataset` reports them)."""
    _, _, records = open_records(path, schema=schema)
    for _, rec in records:
        if isinstance(rec, Example):
            yield rec


@dataclass(frozen=True)
class DataPeek:
    """What the first rows of a dataset hold: its schema, the usable examples and skipped rows among them, and
    how many of those examples carry each `label` value. complete: every row of the file was read. bad_label: the
    first label that is no class label (2.5, NaN, true) as "line N: why", else None."""

    schema: str
    examples: int
    skipped: int
    labels: Counter
    complete: bool
    bad_label: str | None = None
    first_skipped: str = ""  # the first skipped row as `line N: reason`
    unlabelled: int = 0  # usable examples with no label (null or missing: a classifier trains without them)
    first_unlabelled: int | None = None  # the line of the first of them

    @property
    def labelled(self) -> int:
        """Examples with a class label among the rows read."""
        return sum(self.labels.values())

    @property
    def rows_read(self) -> int:
        """Rows the peek read: usable examples and skipped rows."""
        return self.examples + self.skipped

    def uses(self, subject: str) -> str:
        """What goes on without some rows, for a note on them: `subject` ("training uses") when the peek read the
        whole file, else `subject` "the rest", beside the counts of the rows read."""
        return subject if self.complete else f"{subject} the rest; the first {self.rows_read:,} rows hold"


def peek_examples(path: str | os.PathLike[str], *, schema: str | None = None, rows: int = 20_000) -> DataPeek:
    """Read up to `rows` rows of a dataset without tokenizing: enough to accept or refuse it before work starts.

    Raises BadInput, one line naming the file, as profile_dataset does: a missing, unreadable, empty or binary
    file, columns of no known schema, or no usable example among the rows read (with the first row's reason).
    A JSON file of readers._STREAM_BYTES and up (an array, or an object whose list holds the rows) is read no
    further than its first rows (RowSource.first), so a break past them is found when the whole file is read, not
    here.
    """
    # one row past `rows` says whether there are more (and the schema is read from as many rows as ever): the rest
    # of a large JSON file (an array, or an object holding the rows) is not read
    _, schema, records = open_records(path, schema=schema, limit=max(rows + 1, DETECT_ROWS))
    examples = skipped = 0
    tally = LabelTally()
    first_bad = ""
    complete = True
    for line, rec in records:
        if examples + skipped >= rows:
            complete = False
            break
        if isinstance(rec, Example):
            examples += 1
            tally(rec)
        else:
            skipped += 1
            first_bad = first_bad or f"line {line}: {rec.reason}"
    if examples == 0:
        where = "" if complete else f" in its first {rows:,} rows"
        first = f"; {first_bad}" if first_bad else ""
        raise BadInput(f"--data {path}: no usable row{where} ({skipped} skipped{first})")
    return DataPeek(schema, examples, skipped, tally.counts, complete, tally.problem, first_bad, tally.unlabelled,
                    tally.first_unlabelled)


class Reservoir:
    """A seeded uniform sample of `size` examples from a stream of unknown length, in one pass (reservoir
    sampling, Algorithm R: Vitter, "Random sampling with a reservoir", ACM TOMS 11(1), 1985)."""

    def __init__(self, size: int, seed: int):
        self.size = size
        self.items: list[Example] = []
        self._rng = random.Random(seed)
        self._seen = 0

    def offer(self, item: Example) -> None:
        """The n-th item offered replaces a random kept one with probability size / n."""
        self._seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        j = self._rng.randint(0, self._seen - 1)
        if j < self.size:
            self.items[j] = item


def data_classes(path: str | os.PathLike[str], *, schema: str | None = None, where: str | None = None) -> dict:
    """Class id -> the label as the data writes it, for every `label` value of the file, in id order: the
    head `lorplan train` builds from it (lorplan.core.data.labels.class_ids), and what its result.json calls
    `classes`. Streams the file once, without tokenizing. BadInput, one line starting with `where` (the data as
    the command names it) when given: a row whose label is no class label (its line), ambiguous labels, no
    label at all, or what open_records refuses. One label alone is not refused here (`lorplan train` checks it
    apart: labels.check_classes)."""
    return by_id(class_ids(label_counts(path, schema=schema, where=where), where))


def label_counts(path: str | os.PathLike[str], *, schema: str | None = None, where: str | None = None) -> Counter:
    """Label -> the usable examples that carry it, over every row of the file, streamed once without tokenizing
    (rows without a label left out): the row loop of data_classes and of every start of probes that classify
    (lorplan.probe.runner.read_labels). BadInput, one line starting with `where` when given, at the first row
    whose label is no class label (2.5, NaN, true), named by its line: the rest of the file is not read. Neither
    the labels' kinds nor their number is judged here (labels.class_ids, labels.check_classes)."""
    tally = LabelTally()
    for ex in iter_examples(path, schema=schema):
        tally(ex)
        if tally.problem is not None:  # refused at that row: the rest of the file is not read
            raise BadInput(f"{where + ': ' if where else ''}{tally.problem}")
    return tally.counts


def load_examples(
    path: str | os.PathLike[str], *, schema: str | None = None, limit: int | None = None, seed: int | None = None,
    each: Callable[[Example], None] | None = None,
) -> list[Example]:
    """Usable examples as a list, in file order.

    limit: at most this many; with `seed`, a uniform random sample (reservoir sampling, Vitter's Algorithm R,
    so the file is streamed once); without a seed, the first `limit`. Raises BadInput when none is usable.
    each: called with every usable example read, in file order, before it is sampled: with a seed that is every
    usable example of the file (the reservoir streams it whole), so a caller can note what every row says in the
    same pass (LabelTally: a probe's classes); without one, the rows up to the `limit`-th.
    """
    if limit is not None and limit < 1:
        raise BadInput(f"limit {limit}: must be at least 1")
    examples = iter_examples(path, schema=schema)
    if each is not None:
        examples = _tapped(examples, each)
    out: list[Example] = []
    if limit is None or seed is None:
        for ex in examples:
            out.append(ex)
            if limit is not None and len(out) >= limit:
                break
    else:
        reservoir = Reservoir(limit, seed)
        for ex in examples:
            reservoir.offer(ex)
        out = sorted(reservoir.items, key=lambda e: e.line)
    if not out:
        raise BadInput(f"--data {path}: no usable example")
    return out


def _tapped(examples: Iterator[Example], each: Callable[[Example], None]) -> Iterator[Example]:
    """`examples`, each handed to `each` as it is read (before the caller sees it)."""
    for ex in examples:
        each(ex)
        yield ex


class LabelTally:
    """A load_examples `each` hook: how many of the examples it is called with carry each class label (`counts`, a
    Counter; `labels`, their distinct values), and `problem`, "line N: why" for the first whose label is no class
    label (2.5, NaN, true), else None; `unlabelled`, the examples without a label (null, blank or missing:
    labels.unlabelled, which a classifier trains without), the first at line `first_unlabelled`. The one rule of
    a probe's sample (lorplan.probe.worker.sample), of the start checks' peek (peek_examples) and of label_counts
    (data_classes, lorplan.probe.runner.read_labels), which refuses at the problem."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.problem: str | None = None
        self.unlabelled = 0
        self.first_unlabelled: int | None = None

    @property
    def labels(self) -> set:
        """The distinct class labels: a classifier's classes, not a value per row."""
        return set(self.counts)

    def __call__(self, ex: Example) -> None:
        if ex.label is not None:
            self.counts[ex.label] += 1
        elif no_label(ex):  # train's rule (train.data.tokenize) and the profile's
            self.unlabelled += 1
            if self.first_unlabelled is None:
                self.first_unlabelled = ex.line
        elif self.problem is None:
            self.problem = f"line {ex.line}: {ex.label_problem}"
