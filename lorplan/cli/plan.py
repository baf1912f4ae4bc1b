"""`lorplan plan --model M [...] [--json]`: trainable parameters and training memory per LoRA rank.

Every value is validated here or by TrainingSetup / LoraTargets, and bad input raises BadInput (exit 2, one
line). Choices are checked by TrainingSetup, not argparse, so that errors stay one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lorplan.cli._common import (
    add_rope_scaling,
    commands_in,
    first_skipped,
    parse_int,
    say,
    skipped_note,
    train_on_help,
)
from lorplan.cli._common import vocab_metavar as _names
from lorplan.cli.paths import nonempty_path
from lorplan.cli.plan_args import (
    add_budget,
    add_checkpointing_optimizer,
    add_gpus_sharding,
    add_prepare_kbit,
    add_quant,
    add_targets,
)
from lorplan.core.errors import BadInput
from lorplan.core.vocab import (
    HELP,
    Attention,
    DType,
    Kernels,
    LossKernel,
    Task,
    TrainOn,
)

# The micro-batch `lorplan plan` prices without --micro-batch (a written plan takes its task's instead).
TABLE_MICRO_BATCH = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="per-rank trainable parameters and training memory for a model and setup",
        description="Price a LoRA/QLoRA training step for each rank: exact trainable parameters and memory "
        "(weights, adapter, gradients, optimizer, activations, overhead). With --gpu or --gpu-memory it also "
        "says what fits and the largest micro-batch / sequence length. Exit 1 when a budget was given and no "
        "rank fits; exit 2 on bad input.",
    )
    a = p.add_argument
    a("--model", required=True, metavar="M", help="catalog id (a short or misspelled one resolves when "
      "unambiguous), folder or config.json path, or a cached hub id")
    a("--trust-remote-code", action="store_true", help="allow the fallback to run the model's own code")
    g = p.add_argument_group("LoRA")
    g.add_argument("--ranks", metavar="4,8,16", help="ranks to price (default 1,2,4,...,256, up to the largest "
                   "rank an adapted module can use)")
    g.add_argument("--rank", metavar="R", help="one rank (for --write); priced alone, or added to --ranks")
    add_targets(g)
    g.add_argument("--layers", metavar="0-3,8", help="layers_to_transform: block indices or ranges")
    g.add_argument("--rank-pattern", metavar="q_proj=16,...", help="per-module rank overrides (peft rank_pattern)")
    g.add_argument("--dora", action="store_true", help="DoRA (adds a magnitude vector per adapted module)")
    g.add_argument("--modules-to-save", metavar="M1,M2", help="modules trained in full (e.g. lm_head,embed_tokens)")
    g.add_argument("--alpha", metavar="N", help="lora_alpha (written to the plan; does not change memory)")
    g.add_argument("--lora-dropout", metavar="P", default="0", help="LoRA dropout probability (default 0)")
    t = p.add_argument_group("training step")
    add_quant(t)
    t.add_argument("--base-dtype", default=DType.BF16.value, metavar=_names(DType), help="base weight dtype")
    t.add_argument("--adapter-dtype", default=DType.FP32.value, metavar=_names(DType), help="adapter weight dtype")
    t.add_argument("--micro-batch", metavar="N", help="sequences per step (default 1; a plan --write writes for "
                   "a sequence classifier: 16, the task's default)")
    t.add_argument("--seq-len", metavar="N",
                   help="tokens per sequence (default 2048, or the model's context when shorter; at most the context)")
    add_rope_scaling(t, "the plan and its exports carry it")
    add_checkpointing_optimizer(t)
    t.add_argument("--attention", default=None, metavar=_names(Attention),
                   help=f"{HELP[Attention]} (default {Attention.SDPA.value}; {Attention.EAGER.value} for a model "
                   "whose transformers class has no SDPA, such as Gemma 2)")
    t.add_argument("--no-autocast", action="store_true", help="pure low-precision training (no torch.autocast)")
    add_prepare_kbit(t)
    t.add_argument("--no-foreach", action="store_true", help="optimizer without the multi-tensor (foreach) step")
    t.add_argument("--kernels", default=Kernels.CUDA.value, metavar=_names(Kernels),
                   help=f"{HELP[Kernels]} (default cuda)")
    t.add_argument("--loss", default=LossKernel.STANDARD.value, metavar=_names(LossKernel),
                   help=f"{HELP[LossKernel]}: transformers' fp32 logits (default), Liger's fused linear "
                   "cross-entropy or Apple's cut cross-entropy (a causal LM's; not for a sequence classifier)")
    t.add_argument("--padding-mask", action="store_true",
                   help="batches are padded (a padding collator): SDPA keeps K/V repeated and a mask per layer")
    h = p.add_argument_group("hardware")
    add_gpus_sharding(h)
    add_budget(h)
    h.add_argument("--cuda-context", metavar="SIZE|measure",
                   help="CUDA context per GPU: a size (500M = 500MiB; 0 prices none), or 'measure' to measure this machine's GPU through NVML "
                   "(cached per GPU, driver and torch; used from then on); default: a cached measurement, else 750MiB")
    h.add_argument("--reserve-fraction", metavar="F", help="allocator reserve: 512MiB plus F times the allocated peak (default 0.05)")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print the plan as JSON (shape in the README)")
    # --write: write_plan_from_cli below builds the plan and writes it atomically
    o.add_argument("--write", metavar="PLAN.toml", help="write the plan for --rank to a TOML plan file")
    o.add_argument("--force", action="store_true", help="with --write: replace an existing file")
    o.add_argument("--data", metavar="FILE", type=nonempty_path("--data"),
                   help="with --write: the training data path recorded in the plan")
    o.add_argument("--train-on", choices=TrainOn.values(),
                   help=f"with --write, a causal LM: {train_on_help()} (a sequence classifier trains one label per "
                   "example and takes none)")
    p.set_defaults(run=run)


# The flags that only say something about the plan --write writes, and what each does there.
_WRITE_ONLY = (("--data", "data", "it names the training data of the written plan"),
               ("--train-on", "train_on", "it says which tokens the written plan trains"),
               ("--force", "force", "it lets --write replace an existing file"))


def _check_flags(args) -> None:
    """Flag combinations, checked before anything is loaded (as `lorplan recommend` checks --apply-pattern)."""
    if args.write is not None:
        from lorplan.cli._common import check_write_target

        # before the model is read and the data profiled; an empty name is no file name, not "no --write"
        check_write_target(args.write, bool(args.force), args.data)
        return
    for flag, key, what in _WRITE_ONLY:
        if getattr(args, key):
            raise BadInput(f"{flag}: only with --write PLAN.toml ({what})")


def _check_task_flags(args, spec) -> None:
    """The flags only a causal LM trains by, refused for a sequence classifier before anything is priced (--loss
    by core.memory.bounds.check_loss, with the setup)."""
    from lorplan.core.plan import plan_train_on

    plan_train_on(spec.task, args.train_on, spec.id)


def run(args) -> int:
    from lorplan.cli._common import print_json
    from lorplan.cli.plan_args import (
        attention_from_args,
        budget_from_args,
        cuda_context_from_args,
        ranks_from_args,
        setup_from_args,
    )
    from lorplan.core.memory import plan_json, rank_table
    from lorplan.core.model import load_spec, resolve_model

    _check_flags(args)
    source = resolve_model(args.model)
    spec = load_spec(source, trust_remote_code=args.trust_remote_code)
    if args.write:  # a token classifier's checkpoint: priced with a note, but no plan that train refuses is written
        from lorplan.core.model.head import other_head_refusal

        if (other := other_head_refusal(spec, f"--model {args.model}")) is not None:
            raise BadInput(other)
    if source.kind != "folder":
        args.model = source.id  # a written plan names the model by its published id, not the name typed
    _check_task_flags(args, spec)
    notes: list[str] = []
    args.seq_len_given = args.seq_len is not None
    if args.seq_len is None:
        from lorplan.core.memory.bounds import DEFAULT_SEQ_LEN, default_seq_len

        args.seq_len = str(default_seq_len(spec))
        if int(args.seq_len) < DEFAULT_SEQ_LEN:
            notes.append(f"--seq-len {args.seq_len}: {spec.id}'s context (the default {DEFAULT_SEQ_LEN} is "
                         "beyond it)")
    attention_note = attention_from_args(args, spec)
    if attention_note:
        notes.append(attention_note)
    args.micro_batch_given = args.micro_batch is not None
    if not args.micro_batch_given:
        args.micro_batch = str(TABLE_MICRO_BATCH)
    setup = setup_from_args(args)
    setup, context = cuda_context_from_args(args, setup)
    ranks = ranks_from_args(args, spec, setup)
    budget, gpu_name = budget_from_args(args)
    profile = head_note = None
    if args.write and args.data is not None:
        profile = _profile(args.data, spec, setup)
    if args.write and spec.task == Task.SEQUENCE_CLASSIFICATION:
        from lorplan.core.model.head import regression_head_note, trained_labels, with_labels
        from lorplan.core.plan import classifier_spec

        # the head the plan trains, which the table (--json) and the written plan price: the one --data's labels
        # need, else the model's own (a 1-output regression head's: a new 2-class one, head_note says so)
        headed = (classifier_spec(spec, profile, data=args.data, model=f"--model {args.model}")
                  if profile is not None else with_labels(spec, trained_labels(spec)))
        head_note = regression_head_note(spec, trained_labels(headed), f"--model {args.model}",
                                         None if profile is None else f"--data {args.data}")
        spec = headed
    if args.write:  # the table printed is the plan written: its micro-batch and padding mask
        setup, _ = written_setup(args, spec, setup)
    table = rank_table(spec, setup, ranks, budget)
    if args.write:
        path, data_line, said = write_plan_from_cli(args, spec, setup, table, profile)
        if not args.json:
            print(f"wrote {path}")
            if data_line:
                print(data_line)
            sys.stdout.flush()  # what was written before the notes about it, also when both go to one pipe
        head = [f"note: {head_note}"] if head_note else []
        for note in ([f"note: {attention_note}"] if attention_note else []) + said + head:
            say(note, whole=commands_in(note))
    if args.json:
        out = plan_json(spec, table, context)
        out["notes"] = notes + out["notes"]
        # the budget's card beside budget_bytes: a --gpu preset or device, null with --gpu-memory (a size is no
        # card's) or without a budget; always present, so a script reads one shape
        out["gpu"] = gpu_name or None
        print_json(out)
    elif not args.write:
        from lorplan.cli.plan_table import print_table

        print_table(spec, table, gpu_name, (*notes, context.note))
    if budget is not None and not any(r.fits for r in table.rows):
        return 1
    return 0


def write_plan_from_cli(args, spec, setup, table, profile=None) -> tuple[Path, str | None, list[str]]:
    """`lorplan plan … --rank R --write PLAN.toml`: build the plan for args.rank and write it atomically.

    Reads args.rank, args.alpha, args.write, args.force, and when present args.model (the source the user
    typed), args.data, args.train_on, args.micro_batch_given (False: the task's micro-batch, 16 for a sequence
    classifier, replaces the table's default of 1). The budget is the table's (from --gpu-memory or the GPU).
    With --data the file is profiled (or `profile`, its profile, is used) and the plan's [data] table comes from
    the profile (lorplan.core.plan.with_profile: schema, held-out fraction, train_on); a classifier's head, its
    num_labels and the estimate, is the one its labels need (lorplan.core.plan.classifier_spec). Returns the path
    written, the lines saying what the plan took from the task's defaults and the profile (None when nothing),
    and the `note:` lines for stderr, which the caller prints after `wrote PATH`: the data rows skipped, and for a
    causal LM's plan of several rows priced without the padding mask what the mask lorplan train keeps would add.
    The setup is written_setup's (run() prices its table with the same).
    """
    from lorplan.core.plan import (
        PLACEHOLDER_DATA_PATH,
        classifier_spec,
        plan_from_setup,
        with_profile,
        write_plan,
    )
    from lorplan.core.units import counted

    rank = getattr(args, "rank", None)
    if rank is not None and not isinstance(rank, int):  # as ranks_from_args read it for the table: 8.0 is 8
        rank = parse_int("--rank", rank)
    if rank is None:
        raise BadInput("--write needs --rank R (the rank to write the plan for)")
    source = getattr(args, "model", None)
    data = getattr(args, "data", None)
    train_on = getattr(args, "train_on", None)  # None: the task's (completion; a classifier has none)
    lines, notes = [], []
    if isinstance(data, str):
        profile = profile if profile is not None else _profile(data, spec, setup)
        if profile.skipped:
            notes.append(skipped_note(f"--data {data}", data, profile.skipped, profile.examples,
                                      first_skipped(profile), "the plan counts"))
        if (note := profile.unlabelled_note(f"--data {data}", "the plan counts")) is not None:
            notes.append(note)  # a classifier's rows without a label, which it trains without
        # the spec itself when run() has re-headed it
        spec = classifier_spec(spec, profile, data=data, model=f"--model {source}" if source else None)
        from lorplan.core.model.names import model_name

        if (note := profile.labels_unused_note(f"--data {data}", model_name(spec.id), spec.task)) is not None:
            notes.append(f"note: {note}")  # a causal LM's plan never sees a label column
        if spec.task == Task.SEQUENCE_CLASSIFICATION and profile.labels is not None:
            profile.labels.check_classes(f"--data {data}")  # one class teaches nothing: no plan is written
    setup, said = written_setup(args, spec, setup)
    lines += said
    plan = plan_from_setup(
        spec,
        setup,
        rank,
        _number(getattr(args, "alpha", None), "--alpha"),
        source=source if isinstance(source, str) else None,
        budget_bytes=getattr(table, "budget_bytes", None),
        data_path=PLACEHOLDER_DATA_PATH,
        train_on=train_on,
        trust_remote_code=bool(getattr(args, "trust_remote_code", False)),
    )
    if isinstance(data, str):
        plan = with_profile(plan, profile, train_on, path=data)  # the path as typed: found beside the plan too
        d = plan.data
        # a classifier trains one label per example (data.train_on chooses no tokens there): its head instead
        what = (f"num_labels {plan.model.num_labels}" if plan.model.num_labels is not None
                else f"train_on {d.train_on}")
        lines.append(f"data {data}: schema {d.schema}, {counted(profile.examples, 'example')}, eval_split "
                     f"{d.eval_split:g} ({profile.split.reason}), {what}")
        note = _seq_len_note(args, spec, setup, profile, data)
        if note:
            notes.append(note)
    path = write_plan(plan, args.write, force=bool(getattr(args, "force", False)))
    note = _padding_note(spec, setup, rank, plan.estimate.total_bytes)
    if note:
        notes.append(note)
    return path, "\n".join(lines) or None, notes


def _seq_len_note(args, spec, setup, profile, data: str) -> str | None:
    """For a plan at the default sequence length (no --seq-len: args.seq_len_given False; a causal LM's or a
    sequence classifier's, whose profile suggests a seq len by the same rule), when --data's profile suggests a
    shorter one: that seq len, which lorplan recommend --write writes (the plan is priced at the default's
    activations, and a causal LM's logits). None otherwise."""
    from lorplan.core.units import counted

    suggested = profile.suggested_seq_len
    if getattr(args, "seq_len_given", True) or suggested >= setup.seq_len:
        return None
    how = " (estimated at 4 characters per token)" if profile.estimated else ""
    return (f"note: seq len {setup.seq_len:,} is the default; --data {data}'s longest example is "
            f"{counted(profile.lengths.max, 'token')}{how}: --seq-len {suggested} (its suggested seq len, p99 "
            "rounded up to a multiple of 64) prices the plan for this data, as lorplan recommend --write does")


def written_setup(args, spec, setup):
    """The setup a plan written by `lorplan plan --write` trains and prices, and the lines saying what it took
    from the task's defaults: without --micro-batch (args.micro_batch_given False) the task's micro-batch (16 for
    a sequence classifier; lorplan.core.plan.defaults), and the padding mask for the rows lorplan train right-pads
    (a classifier's at any micro-batch above 1, a causal LM's at a defaulted one; --padding-mask chooses
    otherwise). The same for a setup it has already made, so run() prices the table it prints with it."""
    from dataclasses import replace

    from lorplan.core.plan.defaults import micro_batch

    task_batch = micro_batch(spec.task)
    defaulted = not getattr(args, "micro_batch_given", True) and task_batch != TABLE_MICRO_BATCH
    lines = []
    if defaulted:  # a plan trains at its task's micro-batch (lorplan.core.plan.defaults) unless --micro-batch was given
        setup = replace(setup, micro_batch=task_batch)
        lines.append(f"micro-batch {task_batch}: the default for {spec.task} (--micro-batch N to choose)")
    if setup.micro_batch > 1 and (defaulted or spec.task == Task.SEQUENCE_CLASSIFICATION):
        # lorplan train right-pads the rows of a step, and never packs a classifier's: the estimate prices the
        # padding mask, the same for the task's micro-batch and for one given with --micro-batch
        setup = replace(setup, padding_mask=True)
    return setup, lines


def _padding_note(spec, setup, rank: int, total_bytes: int) -> str | None:
    """The note for a causal LM's plan of several rows priced without the padding mask (the --json table's
    default): lorplan train right-pads those rows, and this is what the mask adds per GPU. None when the mask is
    priced, a step has one row, or the mask costs nothing (flash-attention keeps none)."""
    from dataclasses import replace

    from lorplan.core.memory import estimate
    from lorplan.core.units import format_bytes

    if spec.task != Task.CAUSAL_LM or setup.micro_batch <= 1 or setup.padding_mask:
        return None
    more = estimate(spec, replace(setup, padding_mask=True), rank).total - total_bytes
    if more <= 0:
        return None
    return (f"note: lorplan train right-pads batches of several sequences (micro-batch {setup.micro_batch}); "
            f"this plan is priced without the padding mask: +{format_bytes(more)} per GPU with --padding-mask "
            "(pass it to price the mask lorplan train keeps)")


def _profile(data: str, spec, setup):
    """The data's profile for a plan's [data] table: schema, examples (for the held-out split) and labels; for
    a sequence classifier (spec.task), of the labelled rows it trains on. Token counts are estimated (no tokenizer
    is loaded): the table needs none of them. Its lengths are counted against `spec`'s context at the setup's seq
    len and RoPE factor, as `lorplan profile --model` and `lorplan recommend` count them (profile_dataset(spec=)):
    the suggested seq len is one the plan can take."""
    from lorplan.core.data import profile_dataset

    if not Path(data).expanduser().exists():
        raise BadInput(f"--data {data}: no such file or folder")
    return profile_dataset(Path(data).expanduser(), task=spec.task, spec=spec, seq_len=setup.seq_len,
                           rope_scaling=setup.rope_scaling)


def _number(value, flag: str) -> int | float | None:
    """A CLI value (string or number) as int, or a positive float when not integral (--alpha; --rank is
    parse_int's); None stays None. Separators
    by core.units.without_commas' rule, as plan_args read the same text for the table (--rank 1,024 was priced,
    then "not a number" here)."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    from lorplan.core.units import without_commas

    text = str(value).strip()
    typed = without_commas(text, flag, "2.5")
    try:
        return int(typed)
    except ValueError:
        pass
    try:
        number = float(typed)
    except ValueError:
        raise BadInput(f"{flag}: {text!r} is not a number") from None
    if not number > 0:
        raise BadInput(f"{flag}: {text!r} must be a positive number")
    return number
