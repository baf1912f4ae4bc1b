"""`lorplan recommend`: the LoRA rank, alpha and learning rate for a model and a dataset, with the evidence.

Evidence: the capacity prior (free; from a data file profiled with the model's tokenizer, or from sizes the
user gives: `--trained-tokens N [--examples N]`) and the probe ladder (`--probes auto`, the default when the
model's weights are on this machine and a data file is given): short trainings, first a reference rank at three
learning rates, then ranks ×4 apart at the best of them, stopped by successive halving when they cannot win,
refined ×2 around the knee, and with one seed per probe a second seed at the ranks that can still be the knee,
as an ordinary probe run whose driver writes recommendation.json into the run folder; `--run RUN`
re-attaches to it. With no model and no data: the embedded demo ladder on MiniLM. Exit 0 with a
recommendation, 2 for bad input (one line naming the flag). Heavy imports happen inside run().
"""

from __future__ import annotations

import textwrap

from lorplan.cli._common import (
    add_rope_scaling,
    check_write_target,
    commands_in,
    count,
    first_skipped,
    option_words,
    parse_int,
    positive_float,
    positive_int,
    say,
    skipped_note,
    step_count,
    train_on_help,
)
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
from lorplan.core.limits import MAX_EPOCHS
from lorplan.core.units import and_list, counted
from lorplan.core.vocab import Task, TrainOn

TASKS = Task.values()


def register(sub) -> None:
    p = sub.add_parser(
        "recommend",
        help="recommend a LoRA rank, alpha and learning rate from your data, with the evidence",
        description="Recommend rank, alpha, scaling and learning rate for a model and a dataset, and say why: "
        "the capacity prior weighs what the data has to teach (trained tokens; examples × label entropy for "
        "classification) against the adapter parameters one rank unit adds on the chosen targets. With --gpu "
        "or --gpu-memory the recommended rank is priced against that memory. Exit 2 on bad input.",
    )
    a = p.add_argument
    a("--model", metavar="M", help="catalog id, folder or config.json path, or a cached hub id")
    a("--run", dest="run_id", metavar="RUN", help="re-attach to a probe ladder started earlier (its run id, or a unique prefix): "
      "print what it knows (--write: its plan, once the ladder is done); restarts its driver if it was killed")
    a("--wait", action="store_true", help="with --run: wait until the ladder ends (done or cancelled)")
    a("--trust-remote-code", action="store_true",
      help="allow the model's own code (its auto_map): to read its config, count tokens with its tokenizer and "
      "train the probes; with --run, to start again a ladder that asks for it (its driver and probes)")
    d = p.add_argument_group("data (a file, or its size)")
    d.add_argument("--data", metavar="FILE", type=nonempty_path("--data"),
                   help="the training data (profiled with the model's tokenizer)")
    d.add_argument("--train-on", choices=TrainOn.values(),
                   help=f"with --data, a causal LM: {train_on_help()} (a sequence classifier trains one label per "
                   "example and takes none)")
    d.add_argument("--trained-tokens", type=count("--trained-tokens"), metavar="N",
                   help="instead of --data: tokens with a loss, counted once over the dataset (250000, 250k, 2.5M, "
                   "1e6)")
    d.add_argument("--examples", type=count("--examples"), metavar="N", help="instead of --data: examples")
    d.add_argument("--task", choices=TASKS, help="causal-lm or sequence-classification (default: the model's)")
    d.add_argument("--num-labels", type=positive_int("--num-labels", 2), metavar="K",
                   help="classification: number of labels (default: counted from --data, else the model's head's, "
                        "at least 2)")
    d.add_argument("--epochs", type=positive_float("--epochs", MAX_EPOCHS), default=1.0, metavar="N",
                   help="planned passes over the data (default 1; written to the plan, adds no information)")
    t = p.add_argument_group("training setup (for the memory check and --write)")
    add_targets(t)
    add_quant(t)
    t.add_argument("--micro-batch", metavar="N", help="sequences per step (default: 16 for classification, 1 for "
                   "a causal LM; lorplan.core.plan.defaults)")
    t.add_argument("--seq-len", metavar="N", help="tokens per sequence (default: the profile's suggestion, else 2048 or the model's context when shorter)")
    add_rope_scaling(t, "the written plan and the probes carry it")
    add_checkpointing_optimizer(t)
    add_prepare_kbit(t, " (priced without it; the written plan records it, and lorplan train and the probes "
                        "skip that call)")
    add_gpus_sharding(t, ": the planned training's, for the memory check and the written plan; the probe ladder's "
                      "probes each train on one GPU, at the plan's micro-batch")
    add_budget(t)
    r = p.add_argument_group("evidence")
    r.add_argument("--probes", choices=("auto", "none"),
                   help="auto: run the probe ladder (the default with --data and a model whose weights are on this "
                   "machine); none: the capacity prior only")
    r.add_argument("--budget-minutes", type=positive_float("--budget-minutes"), metavar="N",
                   help="wall-clock time the probe ladder may spend (default 15)")
    r.add_argument("--seeds", type=positive_int("--seeds"), metavar="N",
                   help="training seeds per probe (default 1, at most 5): each multiplies the probes, so "
                        "the budget buys fewer ranks, but the knee compares means and its band is the seeds' "
                        "measured noise (with 1, the ladder ends with a second seed at the ranks that can still "
                        "be the knee, as the budget allows)")
    r.add_argument("--probe-steps", type=step_count("--probe-steps"), metavar="N",
                   help="optimizer steps per probe, at least 2 (default 100, or the planned run when shorter; "
                        "longer, up to the planned run, when the budget buys the whole ladder in half its time): "
                        "longer probes cost proportionally more time, but a probe measures the knee at its own "
                        "length and shorter ones tend to put it low")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print the recommendation as one JSON object")
    o.add_argument("--write", metavar="PLAN.toml",
                   help="write a plan with the recommended rank, alpha and rate, and the per-module rank_pattern "
                        "when the ladder checked it on your data")
    o.add_argument("--force", action="store_true", help="with --write: replace an existing file")
    pat = o.add_mutually_exclusive_group()
    pat.add_argument("--apply-pattern", action="store_true",
                     help="with --write: also write a per-module rank_pattern the ladder offers unchecked (one it "
                          "checked and kept is written anyway; an unchecked one never clearly beat one rank for "
                          "every module on the real-text benchmarks)")
    pat.add_argument("--no-pattern", action="store_true",
                     help="with --write: one rank for every module, even when the ladder's check kept a "
                          "per-module rank_pattern")
    # flags of `lorplan plan` this command does not offer, at plan's defaults (setup_from_args reads them)
    p.set_defaults(run=run, layers=None, rank_pattern=None, dora=False, modules_to_save=None, base_dtype="bf16",
                   adapter_dtype="fp32", attention=None, lora_dropout="0",
                   no_autocast=False, kernels="cuda", no_foreach=False, padding_mask=False,
                   cuda_context=None, reserve_fraction=None)


# The setup flags with a default that `--run RUN` refuses when set away from it, in the order it names them.
_DEFAULTED_SETUP = ("epochs", "targets", "quant", "double_quant", "grad_checkpointing", "optimizer",
                    "no_prepare_kbit", "gpus")


def _setup_defaults() -> dict[str, object]:
    """The defaults of _DEFAULTED_SETUP as recommend's parser has them, read from a parser register() builds:
    one source (--epochs here, the rest cli.plan_args' definitions shared with `lorplan plan`), not copies that a
    changed default leaves behind. Built only for --run RUN (a few milliseconds). Read as a parse without flags
    gives them: argparse converts a string default through the flag's type, which get_default does not."""
    import argparse

    sub = argparse.ArgumentParser(add_help=False).add_subparsers()
    register(sub)
    parsed = vars(sub.choices["recommend"].parse_args([]))
    return {dest: parsed[dest] for dest in _DEFAULTED_SETUP}


def _check_flags(args) -> None:
    """Flag combinations, checked before anything is loaded."""
    if args.wait and args.run_id is None:
        raise BadInput("--wait: only with --run RUN")
    for flag, given in (("--apply-pattern", args.apply_pattern), ("--no-pattern", args.no_pattern)):
        if given and args.write is None:
            raise BadInput(f"{flag}: only with --write PLAN.toml (it says what the written plan holds)")
    if args.force and args.write is None:
        raise BadInput("--force: only with --write PLAN.toml (it lets --write replace an existing file)")
    # here, not at import: every command builds this parser
    from lorplan.recommend.launch import MAX_SEEDS, check_budget_minutes

    if args.seeds is not None and args.seeds > MAX_SEEDS:
        raise BadInput(f"--seeds: {args.seeds} is more than {MAX_SEEDS} (each seed trains every probe again)")
    if args.budget_minutes is not None:  # before the profile, which may take a while on a large file
        check_budget_minutes(args.budget_minutes, "--budget-minutes")
    from lorplan.core.limits import MAX_NUM_LABELS

    if args.num_labels is not None and args.num_labels > MAX_NUM_LABELS:
        raise BadInput(f"--num-labels: {args.num_labels} is more than {MAX_NUM_LABELS:,} classes (lorplan's limit: "
                       "a head that large is a typo, not a classifier)")
    if args.run_id is not None:
        given = [f for f, v in (("--model", args.model), ("--data", args.data), ("--train-on", args.train_on),
                                ("--seeds", args.seeds),
                                ("--probe-steps", args.probe_steps), ("--budget-minutes", args.budget_minutes))
                 if v is not None]
        # the data's size and the training setup: the ladder's own are used, so these were taken and ignored
        # (`--run R --gpu-memory 24G --quant nf4` printed the ladder's recommendation, exit 0)
        given += [f for f, v in (("--trained-tokens", args.trained_tokens), ("--examples", args.examples),
                                 ("--task", args.task), ("--num-labels", args.num_labels),
                                 ("--micro-batch", args.micro_batch), ("--seq-len", args.seq_len),
                                 ("--rope-scaling", args.rope_scaling), ("--gpu", args.gpu),
                                 ("--gpu-memory", args.gpu_memory), ("--sharding", args.sharding),
                                 ("--probes", args.probes))
                  if v is not None]
        # the flags with a default: set away from it (compared with the parser's own, _setup_defaults)
        defaults = _setup_defaults()
        given += ["--" + dest.replace("_", "-") for dest in _DEFAULTED_SETUP if getattr(args, dest) != defaults[dest]]
        if given:
            raise BadInput(f"{given[0]}: --run RUN re-attaches to a ladder, which already has its model, data and "
                           "settings")
        check_write_target(args.write, bool(args.force))  # --write: the plan the ladder recommends
        _check_writable(args.write)
        return
    if args.model is None:
        if args.data is not None or args.trained_tokens is not None or args.examples is not None:
            raise BadInput("--model: give a model (catalog id, folder or cached hub id) with --data or the data's "
                           "size; with neither, lorplan recommend runs the embedded demo")
        if args.train_on is not None:
            raise BadInput(f"--train-on {args.train_on}: the demo is a classification task, which trains one label "
                           "per example; --train-on chooses the tokens a causal LM trains")
        if args.probes == "none":
            raise BadInput("--probes none: the demo (no model and no data) is a probe ladder; give --model and "
                           "--data for the capacity prior alone")
        if args.seeds is not None:
            raise BadInput("--seeds: the demo trains its own 3 seeds per rank; --seeds is for a ladder on --data")
        if args.probe_steps is not None:
            raise BadInput("--probe-steps: the demo trains its own length; --probe-steps is for a ladder on --data")
        if args.budget_minutes is not None:
            raise BadInput("--budget-minutes: the demo trains a fixed ladder (4 ranks and the head, 3 seeds each); "
                           "--budget-minutes is for a ladder on --data")
        return
    if args.data is not None and (args.trained_tokens is not None or args.examples is not None):
        flag = "--trained-tokens" if args.trained_tokens is not None else "--examples"
        raise BadInput(f"{flag}: give either --data or the data's size, not both")
    if args.data is None and args.trained_tokens is None and args.examples is None:
        raise BadInput("--data: give --data FILE, or --trained-tokens N (--examples N for classification)")
    if args.probes == "auto" and args.data is None:
        raise BadInput("--probes auto: probes train on your data; give --data FILE")
    for flag, value in (("--seeds", args.seeds), ("--probe-steps", args.probe_steps),
                        ("--budget-minutes", args.budget_minutes)):
        if value is not None and (args.data is None or args.probes == "none"):
            raise BadInput(f"{flag}: it is for the probe ladder, which needs --data FILE (and not --probes none)")
    from lorplan.recommend.launch import check_default_probe_steps

    # a length no plan of recommend's trains with (every one warms up: 1 step trains nothing), before the profile,
    # which may take a while on a large file; data_ladder checks the plan it builds again
    check_default_probe_steps(args.probe_steps, "--probe-steps")
    # here, not when the plan is written: a ladder's plan is written after minutes of probes
    check_write_target(args.write, bool(args.force), args.data)
    _check_writable(args.write)


def _check_writable(text: str | None) -> None:
    """--write's folder takes a file (BadInput naming --write when not: a read-only folder, /proc): tried with a
    file created and removed there, since a ladder writes its plan after minutes of probes and would otherwise
    fail only then, its recommendation unprinted. check_write_target has checked the folder exists."""
    if text is None:
        return
    import os
    import tempfile
    from pathlib import Path

    folder = Path(text).parent
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".lorplan-write-check-")
    except OSError as exc:
        raise BadInput(f"--write {text}: cannot write in folder {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def _spec_for(args):
    from lorplan.core.model import load_spec, resolve_model
    from lorplan.core.plan import plan_train_on

    source = resolve_model(args.model)
    spec = load_spec(source, trust_remote_code=args.trust_remote_code)
    if source.kind != "folder":
        args.model = source.id  # a written plan names the model by its published id, not the name typed
    if source.note:
        say(f"note: {source.note}")
    task = args.task or spec.task
    if task != spec.task:
        if task == Task.SEQUENCE_CLASSIFICATION.value:
            why, fix = ("lorplan plans sequence classification only for encoders (BERT's kin) and for models whose "
                        "config.json names their sequence classifier", "drop --task, or give such a model")
        else:  # an encoder, or a decoder whose config.json names its classifier (a reward model): not only BERT's
            why, fix = "lorplan plans it as a sequence classifier, not as a causal LM", "drop --task, or give a causal LM"
        raise BadInput(f"--task {task}: {spec.id} is planned as {spec.task} ({spec.architecture}); {why}: {fix}")
    if args.num_labels is not None and task != "sequence-classification":
        raise BadInput("--num-labels: only with --task sequence-classification")
    plan_train_on(task, args.train_on, spec.id)  # --train-on: a causal LM's; refused for a classifier
    if args.train_on is not None and args.data is None and args.write is None:
        # as `lorplan plan` refuses it (after a classifier's refusal, which says more): --trained-tokens is the
        # count already, and no plan is written to carry it
        raise BadInput("--train-on: only with --data FILE or --write PLAN.toml (it says which tokens the data's "
                       "profile counts and the written plan trains; --trained-tokens N is already a count of trained "
                       "tokens)")
    if args.trained_tokens is not None and args.examples is not None and task == "sequence-classification":
        # the rules count one trained label per example: the figure would be printed and change nothing (alone,
        # DataSize asks for --examples)
        raise BadInput(f"--trained-tokens: {spec.id} is a sequence classifier; its rules count the labelled "
                       "examples (--examples) and the tokens would change nothing")
    if (task == Task.CAUSAL_LM.value and args.trained_tokens is not None and args.examples is not None
            and args.trained_tokens < args.examples):
        # lorplan train drops a row left with no trained token (its loss would be 0/0), so every example it trains
        # has one at least: an empty completion still trains its EOS
        raise BadInput(f"--trained-tokens {args.trained_tokens:,} is fewer than --examples {args.examples:,}: every "
                       "example lorplan trains has at least one trained token (a row with none is dropped), so one "
                       "of the two sizes is wrong")
    return spec, task, source


def _data_size(args, spec, task, seq_len: int | None, rope_scaling: float | None = None):
    """(DataSize, profile or None, spec, labels); rope_scaling: the setup's, whose reach caps the profile's
    suggested length. With --data, a classifier's spec has the head its labels need (or --num-labels), and
    `labels` its file's labels as `lorplan probe start` reads them (lorplan.probe.runner.read_labels), which the
    ladder's run keeps for its probes (labels.json); else None."""
    from lorplan.recommend import DataSize, data_size_from_profile

    labels = args.num_labels
    if args.data is None:
        if task == "sequence-classification" and labels is None:
            from lorplan.core.model.head import trained_labels

            # the head a written plan trains and prices (plan_from_setup): the model's own, and a new 2-class one
            # for a 1-output regression or score head (a cross-encoder's), which lorplan does not train
            labels = trained_labels(spec)
        return DataSize(task=task, trained_tokens=args.trained_tokens, examples=args.examples,
                        num_labels=labels if task == "sequence-classification" else None,
                        epochs=args.epochs), None, spec, None
    from lorplan.core.data import profile_dataset

    # the task the spec was loaded as (a classifier built by the fallback, DistilBERT, is one its config alone
    # cannot tell): a classifier's profile counts the labelled rows, as lorplan plan --write --data's does; its
    # limit is the spec's context, as lorplan profile's (a fallback spec's class default, which config.json alone
    # does not give)
    profile = profile_dataset(args.data, model=args.model, seq_len=seq_len, mask=args.train_on != "all",
                              rope_scaling=rope_scaling, trust_remote_code=bool(args.trust_remote_code), task=task,
                              spec=spec)
    counts = recorded = None
    if task == "sequence-classification":
        from lorplan.core.model.head import head_labels
        from lorplan.core.plan import classifier_spec
        from lorplan.probe.runner import read_labels

        # every row's label read once, by probe start's rule: a label that is no class label (by its line), labels
        # of no one kind, or one class alone (it teaches nothing) is refused before a plan is written or a ladder
        # starts; the ladder's run keeps them for its probes
        try:
            read = read_labels(args.data, f"--data {args.data}")
        except BadInput as exc:
            from lorplan.core.model.head import regression_words

            # float labels (0.3) for a model whose head has 1 output: said as lorplan plan --write --data says it
            more = regression_words(spec, f"--model {args.model}") if profile.label_problems else None
            if more is None:
                raise
            raise BadInput(f"{exc}; {more}") from None
        counts, recorded = read.counts, read.recorded
        # the head the estimate, the written plan and the probes train (core.plan.classifier_spec, as lorplan
        # plan --write --data and the planner): integer labels are their own class ids, so labels 0 and 5 need 6
        # outputs; --num-labels may add classes this file lacks, not drop any
        spec = classifier_spec(spec, profile, labels, data=args.data, model=f"--model {args.model}")
        labels = head_labels(spec) or labels
    return data_size_from_profile(profile, task=task, epochs=args.epochs, label_counts=counts,
                                  num_labels=labels), profile, spec, recorded


def run(args) -> int:
    _check_flags(args)
    if args.run_id is not None:
        return _attach(args)
    if args.model is None:
        return _demo(args)
    return _recommend(args)


def _recommend(args) -> int:
    from dataclasses import replace

    from lorplan.cli._common import print_json
    from lorplan.cli.plan_args import attention_from_args, budget_from_args, setup_from_args
    from lorplan.core.lora import peft_target_modules
    from lorplan.core.model.head import head_labels, other_head_refusal, with_labels
    from lorplan.core.model.names import model_name
    from lorplan.core.plan.defaults import ALPHA, micro_batch
    from lorplan.recommend import (
        Evidence,
        adapter_size,
        capacity_prior,
        combine,
        default_learning_rate,
        price_fit,
    )
    from lorplan.recommend.combine import too_small
    from lorplan.recommend.launch import data_ladder, probe_blocker

    budget, gpu = budget_from_args(args)
    spec, task, source = _spec_for(args)
    # a token classifier's checkpoint: the ladder's probes and a --write plan would train another model from it (the
    # causal LM or classifier planned of its config), which lorplan train and export refuse; and a rank without
    # probes is advice for that other model too, which the model it was fine-tuned from gets as well
    if (other := other_head_refusal(spec, f"--model {args.model}")) is not None:
        raise BadInput(other)
    seq_len = parse_int("--seq-len", args.seq_len) if args.seq_len is not None else None
    from lorplan.core.memory.bounds import check_context, default_seq_len

    args.seq_len = str(seq_len or default_seq_len(spec))  # 2048, or the model's context when shorter
    if args.micro_batch is None:
        args.micro_batch = str(micro_batch(task))
    if attention_from_args(args, spec) is not None:  # the model's: SDPA, eager for one without it (Gemma 2)
        from lorplan.core.model.attention import default_attention_note

        # said: the probes and a --write plan train it, and the fit prices it (recommend has no --attention)
        say(f"note: {default_attention_note(spec, flag=False)}; the probes and a written plan use it")
    setup = setup_from_args(args)  # every setup flag is checked before the data is read
    from lorplan.core.model.fallback import check_gradient_checkpointing

    # as plan's check_plannable: a class that cannot checkpoint (CTRL) failed every probe and the written plan
    check_gradient_checkpointing(spec, setup.grad_checkpointing, fix="recommend without --grad-checkpointing")
    # lorplan train right-pads several sequences per step (no packing here), so the plan is priced with the
    # padding mask, as `lorplan plan --write` prices a classifier's 16 rows
    setup = replace(setup, padding_mask=setup.micro_batch > 1)
    check_context(spec, setup)  # and --seq-len / --rope-scaling against the model's positions
    adapter_size(spec, setup.targets)  # and so are the targets
    blocked = None
    if args.data is not None and args.probes != "none":
        blocked = probe_blocker(spec, source)
        if blocked is not None and args.probes == "auto" and blocked.not_on_disk:
            raise BadInput(f"--probes auto: {blocked.reason}")
    model_spec = spec  # the model's own head (_data_size's spec has the head the labels need)
    data, profile, spec, labels = _data_size(args, spec, task, seq_len, setup.rope_scaling)
    if task == "sequence-classification":
        from lorplan.core.model.head import regression_head_note

        # the model's head has 1 output (a regression or score head): the recommendation, its probes and a written
        # plan train a new class head, as lorplan plan --write says
        note = regression_head_note(model_spec, data.num_labels, f"--model {args.model}",
                                    f"--data {args.data}" if args.data is not None else None,
                                    classes=f"--num-labels {args.num_labels}" if args.num_labels else None)
        if note is not None:
            say(f"note: {note}", whole=commands_in(note))
    if profile is not None and profile.skipped:
        note = skipped_note(f"--data {args.data}", args.data, profile.skipped, profile.examples,
                            first_skipped(profile), "the recommendation counts")
        say(note, whole=commands_in(note))
    if profile is not None and (note := profile.unlabelled_note(f"--data {args.data}", "the recommendation counts")):
        say(note)  # a classifier's rows without a label, which its profile (and training) leaves out
    if task == "sequence-classification" and profile is not None and profile.labels is not None:
        # what `lorplan profile` says of the labels (imbalance, one class, which ids names take), since the
        # ladder's losses and accuracies are read against them
        for kind, text in (("warning", profile.labels.warning), ("note", profile.labels.note)):
            if text:
                say(f"{kind}: --data {args.data}: {text}")
    # a causal LM's plan trains on the rows and never sees a label column: a `data` entry of the evidence, which
    # the text prints; said on stderr too where that text is not printed now (--json; a ladder: before its probes)
    unused = profile.labels_unused_note(f"--data {args.data}", model_name(spec.id), task) if profile else None
    if unused is not None and args.json:
        say(f"note: {unused}")
    data_notes = (Evidence("data", None, unused),) if unused is not None else ()
    if task == "sequence-classification" and data.num_labels != head_labels(spec):
        spec = with_labels(spec, data.num_labels)  # without --data: --num-labels, else the model's own head
    if seq_len is None and profile is not None:  # the profile's suggestion (p99 length, model maximum)
        setup = replace(setup, seq_len=profile.suggested_seq_len)
    check_context(spec, setup)  # a --seq-len beyond the context, which a written plan could not train
    adapter = adapter_size(spec, setup.targets)
    prior = capacity_prior(data, adapter)
    targets = peft_target_modules(spec, setup.targets)
    target_modules = (targets,) if isinstance(targets, str) else tuple(targets)
    lr = default_learning_rate(spec.id, task, spec.total_params)
    why = None
    if args.probes == "none":
        why = ("no probes were run (--probes none): the rank rests on the capacity prior, a rule of thumb that has "
               "not measured your data")
    elif args.data is None:
        why = "no data file was given, only its size: nothing was measured, so the rank rests on the capacity prior"
    elif blocked is not None:
        why = f"no probes were run: {blocked.reason}; the rank rests on the capacity prior"
        _unused_probe_flags(args, "the model's weights are not on this machine (see probes)" if blocked.not_on_disk
                            else "the model is too large to probe here (see probes)")
    elif too_small(data) is not None:
        why = "no probes were run: the dataset is too small to measure (see data); the rank rests on the capacity prior"
        _unused_probe_flags(args, f"{counted(data.examples, 'example')} {'is' if data.examples == 1 else 'are'} too "
                                  "few to measure (see data)")
    else:
        plan = _plan(args, spec, setup, prior.rank, ALPHA, lr[0], budget, profile)
        ladder = data_ladder(spec, source, setup, plan, profile, data, prior, adapter, target_modules=target_modules,
                             learning_rate=lr, epochs=float(args.epochs), budget_minutes=args.budget_minutes,
                             budget_bytes=budget, gpu=gpu, trust_remote_code=bool(args.trust_remote_code),
                             seeds=args.seeds or 1, probe_steps=args.probe_steps,
                             probe_steps_label="--probe-steps")
        if ladder.spec is not None:
            if data_notes:  # the ladder's recommendation carries it too (LadderSpec.notes: Evidence as JSON)
                if not args.json:  # said before the probes' minutes, as well as in the recommendation after them
                    say(f"note: {unused}")
                ladder = replace(ladder, spec=replace(ladder.spec, notes=(*ladder.spec.notes,
                                                                           *(e.to_json() for e in data_notes))))
            return _run_ladder(args, ladder, labels=labels, spec=spec, setup=setup, budget=budget, profile=profile)
        why = f"no probes were run: {ladder.blocked}" + (f"; {ladder.remedy}" if ladder.remedy else "")
        if ladder.unused:  # a planned training too short to probe: the ladder's flags played no part
            _unused_probe_flags(args, ladder.unused)
    rec = combine(prior, default_lr=lr, target_modules=target_modules,
                  price=lambda rank: price_fit(spec, setup, rank, budget, gpu),
                  notes=(Evidence("probes", None, why), *data_notes))
    written = None
    if args.write:
        written = _write_plan(args, spec, setup, rec, budget, profile)
    if args.json:
        out = rec.to_json()
        if written is not None:
            out["plan_file"] = str(written)
        print_json(out)
    else:
        print(render_text(rec, spec, setup, data))
        if written is not None:
            print(f"\nwrote {written}")
    return 0


def _unused_probe_flags(args, reason: str) -> None:
    """The probe ladder's flags given for an answer no probe runs for, which only the profile could tell (a
    dataset too small to measure, a model too large for the hardware, a planned training too short to probe:
    Ladder.unused): one note naming them and why, since the answer is the prior's all the same. Where it is known
    before the profile (no --data, --probes none) they are refused in _check_flags."""
    given = [f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}"
             for flag, value in (("--probes", args.probes), ("--budget-minutes", args.budget_minutes),
                                 ("--seeds", args.seeds), ("--probe-steps", args.probe_steps)) if value is not None]
    if given:
        flags = and_list(given)
        say(f"note: {flags} {'is' if len(given) == 1 else 'are'} not used: no probe runs, since {reason}")


def _demo(args) -> int:
    from lorplan.probe.demo import demo_examples
    from lorplan.recommend.launch import demo_ladder

    if args.write is not None:
        raise BadInput("--write: the demo's plan is not yours to train; give --model and --data")
    return _run_ladder(args, demo_ladder(demo_examples()))


def _run_ladder(args, ladder, labels=None, **plan_args) -> int:
    """Start the ladder (detached), say how to re-attach, wait for it, print the recommendation. `labels`: a
    classifier's data labels as _data_size read them (runs.DataLabels), kept in the run folder for the probes."""
    import time

    from lorplan.recommend.driver import start_ladder

    t0 = time.monotonic()  # the ladder's wall time, which its cost (summed over probes run at once) is not
    run = start_ladder(ladder.spec, ladder.plan, ladder.first, labels=labels)
    command = reattach_command(args, run.id)
    try:  # from here on the ladder runs: a Ctrl-C even while this line prints says how to pick it up again
        say(f"probe ladder {run.id}: {counted(len(ladder.first.specs), 'probe')} to start with, in the background; if this "
            f"terminal goes away, `{command}` picks it up again", whole=(command,))
        obj = _wait(run, args=args)
    except KeyboardInterrupt:
        return _stopped_waiting(args, run)
    return _print_ladder(args, obj, parallel=ladder.spec.parallel, wall_seconds=time.monotonic() - t0, **plan_args)


def _stopped_waiting(args, run) -> int:
    """Ctrl-C while waiting for a ladder: this command stops, the ladder does not (it runs in its own
    processes); say so, and how to pick it up again or stop it. Exit 130, as an interrupted command."""
    import shlex

    command = reattach_command(args, run.id)
    cancel = shlex.join(["lorplan", "probe", "cancel", run.id])
    say(f"\nstopped waiting; the ladder keeps running in the background: `{command}` picks it up again, "
        f"`{cancel}` stops it", whole=(command, cancel))
    return 130


def _run_words(args, run_id: str, *, wait: bool, trusted: bool = False) -> list[str]:
    """`lorplan recommend --run RUN` [--wait] with this command's --json, and --trust-remote-code when it had it
    or `trusted`: the start of every command that picks a ladder up again (reattach_command, _write_failed)."""
    words = ["lorplan", "recommend", "--run", run_id, *(["--wait"] if wait else [])]
    if args.json:
        words.append("--json")
    if args.trust_remote_code or trusted:  # the ladder runs the model's own code: starting it again needs the user's word
        words.append("--trust-remote-code")
    return words


def _pattern_flags(args) -> list[str]:
    """--apply-pattern / --no-pattern as this command was given them, for a command that writes its plan."""
    return [flag for flag, given in (("--apply-pattern", args.apply_pattern), ("--no-pattern", args.no_pattern))
            if given]


def reattach_command(args, run_id: str, trusted: bool = False) -> str:
    """The command that picks this ladder up again and finishes what this one was asked for: waits, and
    writes the plan (--write, with --force and the pattern flag as given) and prints JSON when this did;
    with --trust-remote-code when this command had it, or `trusted` (the command that resumes a ladder which
    asks for its model's own code)."""
    import shlex

    words = _run_words(args, run_id, wait=True, trusted=trusted)
    if args.write is not None:
        words += option_words("--write", args.write)  # --write=-x.toml: a name argparse would read as an option
        words += (["--force"] if args.force else []) + _pattern_flags(args)
    return shlex.join(words)


def _restart(args, run, *, waiting: bool, notes=None) -> None:
    """Start again what of a ladder was killed: its driver (ensure_driver), then a stalled scheduler, which a
    live driver also restarts itself; nothing for a ladder that has ended (done, or cancelled): a probe still
    queued in its plan is not the ladder's to train. A ladder that asks for its model's own code is started
    again only with this command's --trust-remote-code: without it, RemoteCodeRefused (one line, with the command that resumes
    it) when waiting, else that line as a note (what the ladder knows is still printed). Then, through `notes`
    (space_notes: once per wait), that the ladder's queued probes wait for disk space, as `lorplan probe status`
    says it: the ladder's log alone said so, and a wait went on without a word of why nothing ran."""
    from lorplan.probe.consent import RemoteCodeRefused
    from lorplan.probe.runner import restart_stalled
    from lorplan.probe.status import run_status
    from lorplan.recommend.driver import ensure_driver
    from lorplan.recommend.ladder_spec import LadderFiles

    if LadderFiles(run).state().done:  # re-attaching to an ended ladder prints what it found, and starts nothing
        return
    trusted, resume = bool(args.trust_remote_code), reattach_command(args, run.id, trusted=True)
    try:
        _restarted_note(run, ensure_driver(run, trust_remote_code=trusted, resume=resume))
        restart_stalled(run, trust_remote_code=trusted, resume=resume)  # left to a live driver without consent
    except RemoteCodeRefused as exc:
        if waiting:
            raise
        say(f"note: {exc}", whole=(resume,))
    (notes or space_notes()).see(run_status(run))


def space_notes():
    """probe.runner.SpaceWaitNotes saying each wait for disk space once, as a note on stderr."""
    from lorplan.probe.runner import SpaceWaitNotes

    return SpaceWaitNotes(lambda wait: say(f"note: {wait['message']}"))


def _attach(args) -> int:
    from lorplan.recommend.ladder_spec import LadderFiles

    run = _find_ladder_run(args.run_id)
    files = LadderFiles(run)
    spec = files.spec()  # BadInput for a plain probe run
    if spec.kind != "demo":
        from lorplan.probe.runner import run_model_refusal

        # a ladder started before lorplan recommend refused such a checkpoint: its driver and probes are not started
        # again, and its recommendation (and a --write plan) is of another model than the one it holds
        if (other := run_model_refusal(run, trusted=bool(args.trust_remote_code))) is not None:
            raise BadInput(other)
    if args.write is not None:
        if spec.kind == "demo":
            raise BadInput(f"--write: run {run.id} is the demo ladder, whose plan is not yours to train; a ladder "
                           "on your --model and --data writes one")
        if not args.wait and not files.state().done:
            raise BadInput(f"--write: the ladder of run {run.id} is still running, so its recommendation may "
                           f"change; add --wait to write the plan when it ends")
    notes = space_notes()  # the space note, said once
    _restart(args, run, waiting=args.wait, notes=notes)
    try:
        obj = _wait(run, args=args, notes=notes) if args.wait else _first_recommendation(run)
    except KeyboardInterrupt:
        return _stopped_waiting(args, run)
    return _print_ladder(args, _whole(obj, run), run=run, parallel=spec.parallel)


REC_KEYS = ("rank", "alpha", "learning_rate", "confidence", "evidence", "ladder", "state")  # what printing reads


def _whole(obj: dict, run) -> dict:
    """recommendation.json as the driver writes it, else BadInput naming --run (a file damaged by hand, by another
    tool or a full disk): printing one that lacks its keys was a KeyError traceback, and --json printed it as it
    was. It is read as the planner reads it (recommend.types.Recommendation.from_json): a field of the wrong type
    (a rank of 1.5 or "abc", a fits that is no object, a gpus of "two") is refused in one line naming the field;
    one written as a whole float (2.0) is printed, and written to a plan, as that int."""
    from lorplan.recommend.table import one_rank_budget
    from lorplan.recommend.types import UNREADABLE, Recommendation

    missing = [k for k in REC_KEYS if k not in obj]
    if missing:
        raise BadInput(f"--run {run.id}: its recommendation.json is damaged (it lacks {', '.join(missing)}); "
                       f"`lorplan probe status {run.id}` shows its probes")
    try:
        rec = Recommendation.from_json(obj)
        one_rank_budget(obj)  # the driver's passes, which the budget line reads (as the planner reads them)
    except UNREADABLE as exc:
        what = f"it lacks {exc}" if isinstance(exc, KeyError) else str(exc)
        raise BadInput(f"--run {run.id}: its recommendation.json is damaged ({what}); `lorplan probe status "
                       f"{run.id}` shows its probes") from None
    return {**obj, **_whole_numbers(obj, rec)}


def _whole_numbers(obj: dict, rec) -> dict:
    """The keys of recommendation.json that hold whole numbers and are printed or written to a plan, as the
    Recommendation read them (2.0 -> 2): rank, alpha (when whole: the exporters' schemas type lora_alpha as int),
    confidence, rank_pattern, and fits' rank, byte counts and gpus (those it has: an older lorplan's fits has no
    gpus, which _fits_with_setup adds as null)."""
    out: dict = {"rank": rec.rank, "alpha": rec.alpha,
                 "confidence": {**obj["confidence"], "low": rec.confidence[0], "high": rec.confidence[1]}}
    if obj.get("rank_pattern"):
        out["rank_pattern"] = dict(rec.rank_pattern)
    fits = obj.get("fits")
    if rec.fits is not None:
        read = rec.fits.to_json()
        whole = ("rank", "total_bytes", "budget_bytes", "rank_that_fits", "gpus")
        out["fits"] = {**fits, **{k: read[k] for k in whole if k in fits}}
    return out


def _restarted_note(run, restarted) -> None:
    """Say that a ladder's driver was started again (recommend.driver.ensure_driver's Restarted; nothing for
    None), and which probes cut short with it run again."""
    if restarted is None:
        return
    which = "probe" if len(restarted.requeued) == 1 else "probes"
    again = (f", and queued again the {which} whose process had ended with it, without a result (the machine "
             f"restarted, or its processes were killed): {', '.join(restarted.requeued)}"
             if restarted.requeued else "")
    say(f"probe ladder {run.id}: its driver had stopped; started it again{again}")


def _find_ladder_run(run_id: str):
    """The run --run names (its id or a unique prefix), or BadInput naming --run: probe.runs.find_run's words
    are `lorplan probe`'s (RUN, "start one: lorplan probe start"), and an empty id would match any lone run."""
    from lorplan.probe.runs import find_run, list_runs, runs_dir

    if not run_id.strip():
        raise BadInput("--run: give a run id (the one lorplan recommend printed; lorplan probe list shows them)")
    if not list_runs():
        raise BadInput(f"--run {run_id}: no such probe run; {runs_dir()} holds none yet (lorplan recommend "
                       "--model M --data FILE starts a probe ladder)")
    try:
        return find_run(run_id)
    except BadInput as exc:
        why = str(exc).removeprefix(f"RUN {run_id!r}: ")
        if why.startswith("ambiguous"):  # probe.runs.find_run lists the matches; say what picks one
            why += "; give more of the run id"
        raise BadInput(f"--run {run_id}: {why}") from None


def _first_recommendation(run, timeout_s: float = 10.0) -> dict:
    """recommendation.json, waiting a few seconds for a driver that was just started to write it."""
    import time

    from lorplan.recommend.ladder_spec import LadderFiles

    files = LadderFiles(run)
    deadline = time.monotonic() + timeout_s
    obj = files.recommendation()
    if obj is None and files.state().done and files.recommendation_path.exists():
        _whole({}, run)  # there but unreadable, and no driver will write it again
    while obj is None and time.monotonic() < deadline:
        time.sleep(0.2)
        obj = files.recommendation()
    if obj is None:
        raise BadInput(f"--run {run.id}: the ladder has written no recommendation yet (see {files.log_path})")
    return obj


def _wait(run, poll_s: float = 1.0, *, args, notes=None) -> dict:
    """Wait for the ladder to be done, saying on stderr what each ended probe measured; restarts a driver or
    a scheduler that was killed meanwhile (_restart: RemoteCodeRefused, rather than waiting forever, for a
    ladder that asks for its model's own code without this command's --trust-remote-code). Returns the final
    recommendation.json object. Between looks it sleeps poll_s, or until the ladder's driver exits (UnlockWake on
    its ladder.lock), which it does right after writing the ended recommendation: that is read at once, not up to
    poll_s later."""
    import re
    import time

    from lorplan.probe.backend import UnlockWake
    from lorplan.recommend.ladder_spec import LadderFiles
    from lorplan.recommend.table import ENDED, state_word

    files = LadderFiles(run)
    wake = UnlockWake()
    told: set[str] = set()
    notes = notes or space_notes()
    checked = time.monotonic()
    while True:
        obj = files.recommendation()
        if (obj is None or "state" not in obj) and files.state().done and files.recommendation_path.exists():
            # a done ladder's driver writes no more: waiting for a damaged file to say "done" would never end
            _whole(obj or {}, run)
        if obj is not None:
            for p in obj.get("probes", ()):
                if p["state"] in ("finished", "failed", "oom", "cancelled", "died") and p["id"] not in told:
                    told.add(p["id"])
                    line = _probe_line(p, obj)
                    # a wrapped line never parts the training time from its unit ("28.1" / "s training")
                    say(line, indent="      ", whole=tuple(re.findall(r"[\d.]+ s training", line)))
            if state_word(obj) in ENDED:  # done, or cancelled by the user: the driver adds nothing more
                return obj
        if time.monotonic() - checked > 5:
            checked = time.monotonic()
            _restart(args, run, waiting=True, notes=notes)
        wake.sleep((files.lock_path,), poll_s)


def _probe_line(p: dict, obj: dict) -> str:
    what = "base" if p["rank"] == 0 else f"rank {p['rank']}" + (" with the pattern (its check)" if p.get("pattern")
                                                                 else "")
    # the rate is named when it is not the ladder's, and at a rank the learning-rate pass tried several rates:
    # the ladder's rate changes when that pass ends, so two probes of one rank would otherwise read the same
    rates = {q.get("lr") for q in obj.get("probes", ()) if q.get("rank") == p["rank"] and not q.get("pattern")}
    if p["rank"] != 0 and p.get("lr") and (len(rates) > 1
                                           or abs(p["lr"] - obj.get("learning_rate", p["lr"])) > 1e-12):
        what += f" lr {p['lr']:.3g}"  # as the ladder table writes it (lorplan.recommend.table)
    seeds = obj.get("seeds", ())
    if len(seeds) > 1 and p.get("seed") is not None:
        what += f" seed {p['seed']}"
    elif seeds and p.get("seed") is not None and p["seed"] not in seeds and not p.get("pattern"):
        # a one-seed ladder's second seed (its last pass, or the top rank's second pattern probe): a second line
        # for the rank, which says so
        what += f", second seed ({p['seed']})"
    loss = f"eval loss {p['curve'][-1][1]:.4f}" if p.get("curve") else "no eval"
    acc = f", accuracy {p['eval_accuracy']:.3f}" if p.get("eval_accuracy") is not None else ""
    t = f", {p['train_seconds']:.1f} s training" if p.get("train_seconds") else ""
    why = ""
    if p["state"] in ("failed", "oom", "died") and p.get("message"):  # what went wrong, as probe status says it
        from lorplan.recommend.measured import error_line

        first = error_line(p["message"], 160)
        why = f": {first}" if first else ""
    return f"  {what}: {p['state']} at step {p['step']}, {loss}{acc}{t}{why}"


def _print_ladder(args, obj: dict, *, spec=None, setup=None, budget=None, profile=None, run=None,
                  parallel: int | None = None, wall_seconds: float | None = None) -> int:
    """Print a ladder's recommendation.json object; with --write, write its plan: from the model, setup and
    profile at hand (the ladder was started by this command), else from the run's base plan (--run RUN).
    parallel, wall_seconds: the probes run at a time and the ladder's wall time, for the cost line (None: not
    known)."""
    from types import SimpleNamespace

    from lorplan.cli._common import print_json
    from lorplan.core.units import terminal_limit
    from lorplan.recommend.table import render_ladder, state_word

    # one an older driver wrote for a cancelled ladder said "done" (with cancelled_after): the word `lorplan probe
    # status` gives the same ladder is "cancelled"
    obj = {**obj, "state": state_word(obj), **_fits_with_setup(obj.get("fits"))}
    written = None
    if args.write:
        rec = SimpleNamespace(rank=obj["rank"], alpha=obj["alpha"], learning_rate=obj["learning_rate"],
                              use_rslora=obj["use_rslora"], rank_pattern=obj.get("rank_pattern") or {},
                              pattern_checked=bool(obj.get("pattern_checked")))
        try:
            if spec is not None:
                written = _write_plan(args, spec, setup, rec, budget, profile, ladder=True)
            elif run is not None:
                written = _write_run_plan(args, run, rec)
        except WriteRefused as exc:
            raise BadInput(_write_failed(args, obj.get("run") or (run.id if run is not None else None),
                                         str(exc))) from None
    if args.json:
        print_json({**obj, "plan_file": str(written)} if written is not None else obj)
    else:
        print(render_ladder(obj, parallel=parallel, wall_seconds=wall_seconds, limit=terminal_limit()))
        if written is not None:
            print(f"\nwrote {written}")
    return 0


def _fits_with_setup(fits) -> dict:
    """{"fits": ...} with gpus and sharding as null (not recorded) after gpu, where a ladder's recommendation.json an
    older lorplan wrote has a fits object without them (recommend.types.Fit.from_json reads them as None); {} when
    it has them, or has no fits object."""
    if not isinstance(fits, dict) or {"gpus", "sharding"} <= fits.keys():
        return {}
    out: dict = {}
    for key, value in fits.items():
        out[key] = value
        if key == "gpu":
            out.update(gpus=fits.get("gpus"), sharding=fits.get("sharding"))
    return {"fits": {"gpus": None, "sharding": None, **out} if "gpus" not in out else out}


class WriteRefused(BadInput):
    """--write's file could not be written when the ladder ended (core's line, naming the file alone)."""


def _write_failed(args, run_id: str | None, why: str) -> str:
    """The line for a plan the ladder's end could not write: --write was checked before the ladder started,
    and the file was made meanwhile (another terminal, an editor) or a file took its folder's place. Core's line named no
    flag and said "pass --force", which on the starting command would run the whole ladder again; the done
    ladder keeps its recommendation, and `--run RUN --write` prints it and writes the plan at once."""
    import shlex
    from pathlib import Path

    path = Path(args.write)
    why = why.removeprefix(f"{path}: ").removeprefix(f"{path} ")
    if run_id is None:
        return f"--write {args.write}: {why}"
    words = _run_words(args, run_id, wait=False)
    pattern = _pattern_flags(args)
    if (path.exists() or path.is_symlink()) and not path.is_dir() and not args.force:
        command = shlex.join([*words, *option_words("--write", args.write), *pattern, "--force"])
        return (f"--write {args.write}: {why.removesuffix('; pass --force to overwrite it')} (made since this "
                f"command checked it); the ladder is done and keeps its recommendation: `{command}` prints it and writes "
                "the plan over that file (or, without --force, to another --write path)")
    command = shlex.join([*words, "--write", "PLAN.toml", *pattern])
    return (f"--write {args.write}: {why}; the ladder is done and keeps its recommendation: `{command}`, with a "
            "path that can be written for PLAN.toml, prints it and writes the plan")


def _write_after_ladder(plan, args):
    """write_plan for a ladder's end: its refusal as WriteRefused, which _print_ladder words (_write_failed)."""
    from lorplan.core.plan import write_plan

    try:
        return write_plan(plan, args.write, force=bool(args.force))
    except BadInput as exc:
        raise WriteRefused(str(exc)) from None


def _plan(args, spec, setup, rank: int, alpha, learning_rate: float, budget, profile):
    """The plan for `rank` (what --write writes, and what ladder probes are short runs of): the setup, alpha,
    learning rate and epochs; with a data file, its [data] table from the profile (core.plan.with_profile)."""
    from lorplan.core.plan import PLACEHOLDER_DATA_PATH, plan_from_setup, with_profile

    plan = plan_from_setup(
        spec, setup, rank, alpha, source=args.model, budget_bytes=budget,
        data_path=args.data or PLACEHOLDER_DATA_PATH, train_on=args.train_on,
        trust_remote_code=bool(args.trust_remote_code),
        training={"learning_rate": learning_rate, "epochs": float(args.epochs)},
    )
    if profile is not None:
        # a classifier's num_labels stays the spec's head (_data_size: --num-labels, or what the labels need)
        plan = with_profile(plan, profile, args.train_on, path=args.data)
    return plan


def _written_pattern(args, rec) -> dict:
    """The rank_pattern --write writes, saying why on stderr: a pattern the ladder's check kept; an unchecked one
    only when asked for (measured.PATTERN_OFFERED); none with --no-pattern."""
    wanted = not args.no_pattern and (args.apply_pattern or rec.pattern_checked)
    pattern = dict(rec.rank_pattern) if wanted else {}
    if args.apply_pattern and not pattern:
        say("note: --apply-pattern: the recommendation has no per-module pattern, so every module keeps rank "
            f"{rec.rank}")
    elif pattern and not args.apply_pattern:
        say(f"note: the plan has the per-module rank_pattern the ladder checked on your data "
            f"({counted(len(pattern), 'module name')}); --no-pattern writes one rank for every module")
    return pattern


def _write_run_plan(args, run, rec):
    """--run RUN --write: the ladder's base plan (what its probes were short runs of: model, data, setup) at the
    recommended rank, alpha, scaling, learning rate and pattern, priced anew: the plan `lorplan recommend
    --write` writes when it waits for the ladder itself."""
    from lorplan.core.plan import at_rank
    from lorplan.recommend.driver import base_model
    from lorplan.recommend.ladder_spec import LadderFiles

    spec = LadderFiles(run).spec()
    known = base_model(spec, run, trust_remote_code=bool(args.trust_remote_code))
    if known is None:
        raise BadInput(f"--write: run {run.id} holds no base plan to write from (its plan.json has none); start "
                       "the ladder again with lorplan recommend --model M --data FILE --write PLAN.toml")
    base, model, _ = known
    plan = at_rank(base, model, rec.rank, rec.alpha, rank_pattern=_written_pattern(args, rec),
                   use_rslora=rec.use_rslora, budget_bytes=spec.budget_bytes,
                   training={"learning_rate": rec.learning_rate})
    return _write_after_ladder(plan, args)


def _write_plan(args, spec, setup, rec, budget, profile, *, ladder: bool = False):
    """--write: the plan at the recommended rank; ladder: at a ladder's end (_write_after_ladder)."""
    from dataclasses import replace
    from types import MappingProxyType

    from lorplan.core.plan import write_plan

    pattern = _written_pattern(args, rec)
    # the pattern goes into the setup the plan is priced with, so its [estimate] (trainable parameters, adapter,
    # optimizer state, activations) is the one of the per-module ranks it trains
    setup = replace(setup, targets=replace(setup.targets, rank_pattern=MappingProxyType(pattern)))
    plan = _plan(args, spec, setup, rec.rank, rec.alpha, rec.learning_rate, budget, profile)
    plan = replace(plan, lora=replace(plan.lora, use_rslora=rec.use_rslora))
    return _write_after_ladder(plan, args) if ladder else write_plan(plan, args.write, force=bool(args.force))


def render_text(rec, spec, setup, data) -> str:
    """The recommendation as a short table and the evidence sentences."""
    from lorplan.core.columns import fit_line
    from lorplan.core.lora import trainable_params
    from lorplan.core.units import format_bytes, terminal_limit, text_width
    from lorplan.recommend.fit import gpus_words
    from lorplan.recommend.table import band_text, pattern_line

    low, high = rec.confidence
    measured = "probe ladder" if any(r.usable for r in rec.ladder) else "capacity prior only"
    top = [  # (line, where it continues on a narrow terminal: under the value it broke in)
        (f"lorplan recommend: {spec.id} ({rec.task}), targets {', '.join(rec.target_modules)}", "  "),
        ("", ""),
        (f"  rank            {rec.rank:<10} {band_text(low, high)} ({measured})", " " * 29),
        (f"  alpha           {rec.alpha:<10g} scale alpha/{'sqrt(r)' if rec.use_rslora else 'r'} = "
         f"{rec.alpha / (rec.rank ** 0.5 if rec.use_rslora else rec.rank):g}", " " * 29),
        (f"  learning rate   {rec.learning_rate:<10g} epochs {data.epochs:g}", " " * 29),
        (f"  trainable       {trainable_params(spec, setup.targets, rec.rank):,} parameters", " " * 18),
    ]
    if rec.fits is not None:
        f = rec.fits
        verdict = {True: "fits", False: "does not fit", None: "no budget given"}[f.fits]
        where = f" of {format_bytes(f.budget_bytes)}" if f.budget_bytes else ""
        where += f" ({f.gpu})" if f.gpu else ""
        # "per GPU over 4 GPUs with ZeRO-3": the figure is one GPU's share of a sharded training, which a probe
        # (one GPU, unsharded) or a one-GPU run does not get
        over = gpus_words(setup.gpus, setup.sharding)
        top.append((f"  memory          {format_bytes(f.total_bytes)}{where} per GPU{over}: {verdict}", " " * 18))
    pattern = pattern_line(dict(rec.rank_pattern), rec.pattern_checked)
    if pattern:
        top.append((pattern, " " * 18))
    limit = terminal_limit()
    rows = [part for line, indent in top for part in fit_line(line, limit, indent)]
    rows += ["", "evidence"]
    width = text_width(110)
    for e in rec.evidence:
        rank = f" (rank {e.rank})" if e.rank is not None else ""
        # "learning rate: learning rate 0.001: ..." says it twice
        head = f"  {e.source}{rank}: " if not e.explanation.startswith(e.source) else "  "
        rows += textwrap.wrap(e.explanation, width, initial_indent=head, subsequent_indent="      ",
                              break_on_hyphens=False, break_long_words=False)
    return "\n".join(rows)


__all__ = ["register", "render_text", "run"]
