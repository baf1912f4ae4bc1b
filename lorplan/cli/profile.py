"""`lorplan profile`: count what a dataset holds and what will be trained on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lorplan.cli._common import add_rope_scaling, parse_rope_scaling, positive_int, print_json, seed
from lorplan.cli.paths import nonempty_path
from lorplan.core.units import counted
from lorplan.core.vocab import HELP, DataSchema


def register(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="profile a dataset: examples, tokens, trained tokens, lengths, problems",
        description="Profile a dataset (JSONL/JSON, CSV/TSV, Parquet, a folder of .txt files, a .txt file (one "
        "example per line), a `datasets` save_to_disk folder): examples, tokens, trained tokens, length percentiles, truncation at --seq-len, "
        "padding vs packing, duplicates, skipped rows with line numbers, a suggested sequence length and split.",
    )
    p.add_argument("--data", required=True, metavar="FILE", type=nonempty_path("--data"),
                   help="dataset file or folder")
    p.add_argument("--model", metavar="M", help="catalog id, model folder or cached hub id (for its tokenizer)")
    p.add_argument("--tokenizer", metavar="PATH", type=nonempty_path("--tokenizer"), help="a folder with tokenizer files (overrides --model's)")
    p.add_argument("--schema", choices=DataSchema.values(), default=DataSchema.AUTO.value,
                   help=f"{HELP[DataSchema]} (default: detect)")
    p.add_argument("--seq-len", type=positive_int("--seq-len"), metavar="N",
                   help="training sequence length in tokens (default 2048, capped at the model's context; "
                        "beyond --model's context it is refused, as lorplan plan refuses it)")
    add_rope_scaling(p, "as `lorplan plan --rope-scaling` trains it: lengths are counted against that reach")
    p.add_argument("--sample", type=positive_int("--sample"), metavar="N",
                   help="tokenize a random sample of N examples and scale the totals (with 95%% intervals)")
    p.add_argument("--seed", type=seed("--seed"), default=0, metavar="N",
                   help="seed of --sample, 0 to 2^32 - 1 as a probe's (default 0)")
    p.add_argument("--train-on-all", action="store_true",
                   help="count every token as trained (no loss masking of prompts / non-assistant turns; a "
                   "causal LM's)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="count with a tokenizer, and judge a --model as lorplan plan does, that needs its own "
                   "Python code (auto_map in its folder), running that code; without it such a tokenizer or "
                   "model is refused")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


class _Bar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal. Its label names the pass: a large
    JSON file is read twice, "checking FILE" (its bytes: json_array.CHECKING) and then "reading rows"; other
    files once, "profiling"."""

    WIDTH = 30

    def __init__(self, data: str | Path = "") -> None:
        from lorplan.core.data.json_array import CHECKING

        self.checking = CHECKING
        self.on = sys.stderr.isatty()
        self.last = -1
        self.name = Path(data).name
        if len(self.name) > 24:
            self.name = self.name[:10] + "..." + self.name[-11:]
        self.label = "profiling"
        self.drawn = 0  # the width of the line on screen

    def __call__(self, done: int, total: int, unit: str) -> None:
        if not self.on or total <= 0:
            return
        if unit == self.checking:
            label = f"checking {self.name}"
        else:
            label = "reading rows" if self.label != "profiling" else "profiling"
        pct = min(100, done * 100 // total)
        if pct != self.last or label != self.label:
            self.last, self.label = pct, label
            filled = pct * self.WIDTH // 100
            line = f"{label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {pct:3d}%"
            sys.stderr.write("\r" + line.ljust(self.drawn))
            self.drawn = max(self.drawn, len(line))
            sys.stderr.flush()

    def close(self) -> None:
        if self.on and self.last >= 0:
            sys.stderr.write("\r" + " " * self.drawn + "\r")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from lorplan.core.data import UnknownSchema, profile_dataset
    from lorplan.core.errors import BadInput

    rope_scaling = parse_rope_scaling(args.rope_scaling)
    if rope_scaling is not None and args.model is None:
        raise BadInput("--rope-scaling: only with --model (it extends that model's context)")
    # the spec `lorplan plan` loads (one fallback build at most), for the --seq-len check and the task
    spec = model_spec(args.model, args.trust_remote_code) if args.model is not None else None
    if spec is not None and (args.seq_len is not None or rope_scaling is not None):
        check_seq_len(spec, args.seq_len, rope_scaling)
    classifier = is_classifier(spec)
    if classifier and args.train_on_all:  # the report leaves trained tokens out for a classifier
        raise BadInput(f"--train-on-all: {args.model} is a sequence classifier, which trains one label per example; "
                       "--train-on-all counts the tokens a causal LM trains")
    bar = _Bar(args.data)
    try:
        profile = profile_dataset(
            args.data, model=args.model, tokenizer=args.tokenizer,
            schema=None if args.schema == DataSchema.AUTO else args.schema, seq_len=args.seq_len, sample=args.sample,
            seed=args.seed, mask=not args.train_on_all, progress=bar, rope_scaling=rope_scaling,
            trust_remote_code=args.trust_remote_code, task=task_of(spec), spec=spec,
        )
    except UnknownSchema as exc:
        raise BadInput(f"{exc} (or pass --schema)") from None
    finally:
        bar.close()
    unused = _labels_unused(profile, args.data, spec)
    if args.json:
        out = profile.to_json()
        out["notes"] += [unused] if unused else []
        print_json(out)
    else:
        from lorplan.core.units import terminal_limit

        print(render_text(profile, classifier=classifier, limit=terminal_limit(), unused=unused))
    return 0


def _labels_unused(profile, data, spec) -> str | None:
    """For labelled data profiled with a causal LM's --model (`spec`), the line saying that its plan never sees
    the labels (DataProfile.labels_unused_note); None without a model lorplan has a config for."""
    if spec is None:
        return None
    from lorplan.core.model.names import model_name

    return profile.labels_unused_note(f"--data {data}", model_name(spec.id), spec.task)


def model_spec(model: str, trust_remote_code: bool = False):
    """The ModelSpec `lorplan plan --model` loads for `model`, or None for a tokenizer without a config (a
    folder of tokenizer files alone, a hub id cached with its tokenizer files alone: resolve_model refuses it,
    and the profile counts with that tokenizer). A model plan accepts whose tokenizer is not on disk (a catalog
    id not cached) gets its spec, and the profile estimates at 4 characters per token with a note. An
    architecture the fast path does not know is judged as plan judges it, by the fallback's build (kept on disk
    across runs; run once per process), the model's own code (auto_map) run only with --trust-remote-code.
    BadInput, plan's line, for every other model plan refuses (a name nothing matches included, with or without
    a slash, and a build the fallback cannot do): a profile against it would count for a model no command
    trains."""
    from lorplan.core.errors import BadInput
    from lorplan.core.model import load_spec, resolve_model

    try:
        source = resolve_model(model)
    except BadInput:
        if _tokenizer_alone(model):
            return None
        raise
    return load_spec(source, trust_remote_code=trust_remote_code)


def _tokenizer_alone(model: str) -> bool:
    """Whether `model`, which resolve_model refuses, names tokenizer files on disk, as the profile's tokenizer
    (core.data.tokenizer.resolve_tokenizer) finds them: a folder (or a file in one) holding them, or a hub id
    whose cache snapshot does."""
    from lorplan.core.data.tokenizer import cached_snapshot, has_tokenizer_files

    if not model.strip():  # Path("") is the current folder
        return False
    path = Path(model).expanduser()
    if path.is_dir() or path.is_file():
        return has_tokenizer_files(path if path.is_dir() else path.parent)
    return cached_snapshot(model) is not None


def task_of(spec) -> str:
    """What the data trains for `spec` (core.vocab.Task): its task, a causal LM's without a spec (no config: the
    profile's own default)."""
    from lorplan.core.vocab import Task

    return spec.task if spec is not None else Task.CAUSAL_LM


def is_classifier(spec) -> bool:
    """Whether lorplan plans the model of `spec` (model_spec) as a sequence classifier (an encoder such as BERT,
    DistilBERT: its spec's task); False for None (no config)."""
    from lorplan.core.vocab import Task

    return task_of(spec) == Task.SEQUENCE_CLASSIFICATION


def check_seq_len(spec, seq_len: int | None, rope_scaling: float | None = None) -> None:
    """Refuse a --seq-len beyond the context of the model of `spec` (model_spec; times --rope-scaling), and a
    --rope-scaling the model cannot take, with the line `lorplan plan` and `lorplan recommend` print
    (core.memory.bounds.check_context; a RoPE model's line points to --rope-scaling, which profile takes too):
    truncation and padding figures at a length the model cannot train would mean nothing. A --model lorplan has
    no config for (spec None) is left to the profile, which notes a tokenizer's own maximum."""
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.memory.bounds import check_context, default_seq_len

    check_context(spec, TrainingSetup(seq_len=seq_len or default_seq_len(spec), rope_scaling=rope_scaling))


def render_text(p, *, classifier: bool = False, limit: int | None = None, unused: str | None = None) -> str:
    """The profile as a short human-readable report. classifier: the data is for a sequence classifier (one
    label per example, each example its own right-padded sequence): the lines that only mean something for a
    causal LM (trained tokens, packing) are left out. limit: the columns of a narrower terminal, where a longer
    line continues under its value (None: a file, a pipe or a wide terminal, which get each line whole). unused:
    the note that a causal LM's plan never sees the data's labels (_labels_unused), printed under the labels in
    place of what only a classifier needs to hear of them (an imbalance, the ids names take, a refusal); without
    a model (no task known) those are printed."""
    from lorplan.core.columns import fit_line
    from lorplan.core.data.stats import label_count

    est = " (estimated)" if p.estimated else ""
    packing = (f", packing into {counted(p.padding.packed_sequences, 'sequence')} wastes "
               f"{counted(p.padding.packing_waste_tokens, 'token')}")
    rows = [
        f"{p.path}: {p.format}, schema {p.schema}, tokenizer {p.tokenizer}",
        f"examples         {p.examples:,}  (skipped {p.skipped_figure()}, exact duplicates {p.duplicates:,})",
        f"tokens           {p.tokens:,}{est}",
        *([] if classifier else [f"trained tokens   {p.trained_tokens:,}{est}"]),
        f"lengths          p50 {p.lengths.p50:,}  p90 {p.lengths.p90:,}  p95 {p.lengths.p95:,}  "
        f"p99 {p.lengths.p99:,}  max {p.lengths.max:,}",
        f"at seq len {p.seq_len:,}: {counted(p.truncated_tokens, 'token')} truncated; padding wastes "
        f"{p.padding.pad_fraction:.1%}{'' if classifier else packing}",
        f"suggested        seq len {p.suggested_seq_len:,}; split {p.split.train:,} train / {p.split.eval:,} eval "
        f"({p.split.reason})",
    ]
    if p.sample is not None:
        s = p.sample
        trained = "" if classifier else f", trained {s.trained_interval[0]:,}-{s.trained_interval[1]:,}"
        rows.append(f"sample           {s.size:,} of {s.population:,} (seed {s.seed}); 95% intervals: tokens "
                    f"{s.tokens_interval[0]:,}-{s.tokens_interval[1]:,}{trained}")
    if p.labels is not None:
        total = sum(n for _, n in p.labels.counts)
        shown = ", ".join(f"{label_count(label, n)} ({n / total:.0%})" for label, n in p.labels.counts[:10])
        more = f", ... {len(p.labels.counts) - 10} more" if len(p.labels.counts) > 10 else ""
        n = len(p.labels.counts)
        rows.append(f"labels           {n} class{'' if n == 1 else 'es'}: {shown}{more}")
        # a classifier's words (an imbalance, the ids names take): a causal LM never sees the labels (`unused`)
        if p.labels.warning and not unused:
            rows.append(f"warning: {p.labels.warning}")
        if p.labels.note and not unused:
            rows.append(f"note: {p.labels.note}")
    if unused:  # under the labels; a column of labels that are no class (0.3) has no labels line
        rows.append(f"note: {unused}")
    if classifier and (line := p.unlabelled_line()) is not None:  # train trains on the labelled rows alone
        rows.append(f"{line[0]}: {line[1]}")
    if not unused and (refusal := p.label_refusal()) is not None:  # the note names a causal LM's first such label
        rows.append(f"warning: {refusal}; lorplan plan and train refuse these labels for a classifier")
    notes = p.notes
    if classifier:  # a classifier packs nothing: the sample note names only what it scales for one
        notes = tuple(n.replace("token totals, padding and packing scaled", "token totals and padding scaled")
                      for n in notes)
    rows += [f"note: {n}" for n in notes]
    for prob in p.problems[:20]:
        rows.append(f"skipped line {prob.line}: {prob.reason}")
    if p.skipped > 20:
        rows.append(f"... and {p.skipped - 20:,} more skipped rows (see --json)")
    # a figure's row ("examples         1,000 ...") continues under its value; the others indent by two
    return "\n".join(part for row in rows for part in fit_line(row, limit, " " * 17 if "  " in row[:17] else "  "))

