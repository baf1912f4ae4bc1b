"""`lorplan recommend`: the LoRA rank, alpha and learning rate for a model and a dataset, with the evidence.

Supported now: the capacity prior, from a data file (`--data D --probes none`, profiled with the model's
tokenizer) or from sizes the user gives (`--trained-tokens N [--examples N]`, or `--examples N --task
sequence-classification`). The probe ladder (`--probes auto`) and the built-in demo (no model and no data)
come with the rebuilt probes. Exit 0 with a recommendation, 2 for bad input (one line naming the flag).
Heavy imports (a tokenizer for --data) happen inside run().
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from lorplan.cli._common import parse_int, positive_int, vocab_metavar
from lorplan.core.errors import BadInput
from lorplan.core.vocab import HELP, Optimizer, Quant, Task, TrainOn

TASKS = Task.values()
PROBES_NOT_READY = ("--probes auto: the probe ladder is not available yet (probes are being rebuilt on the one "
                    "training engine); use --probes none for the capacity prior")


def _positive_float(flag: str):
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: {text!r} is not a number") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{flag}: {text!r} must be a positive number")
        return value

    return convert


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
    a("--trust-remote-code", action="store_true", help="allow the fallback to run the model's own code")
    d = p.add_argument_group("data (a file, or its size)")
    d.add_argument("--data", metavar="FILE", help="the training data (profiled with the model's tokenizer)")
    d.add_argument("--train-on", choices=TrainOn.values(), default=TrainOn.COMPLETION.value,
                   help=f"with --data: {HELP[TrainOn]}")
    d.add_argument("--trained-tokens", type=positive_int("--trained-tokens"), metavar="N",
                   help="instead of --data: tokens with a loss, counted once over the dataset")
    d.add_argument("--examples", type=positive_int("--examples"), metavar="N", help="instead of --data: examples")
    d.add_argument("--task", choices=TASKS, help="causal-lm or sequence-classification (default: the model's)")
    d.add_argument("--num-labels", type=positive_int("--num-labels"), metavar="K",
                   help="classification: number of labels (default: counted from --data, else the model's)")
    d.add_argument("--epochs", type=_positive_float("--epochs"), default=1.0, metavar="N",
                   help="planned passes over the data (default 1; written to the plan, adds no information)")
    t = p.add_argument_group("training setup (for the memory check and --write)")
    t.add_argument("--targets", default="all-linear", metavar="T",
                   help="all-linear | attention | mlp | names like q_proj,v_proj (default all-linear)")
    t.add_argument("--quant", default=Quant.NONE.value, metavar=vocab_metavar(Quant), help=HELP[Quant])
    t.add_argument("--double-quant", action="store_true", help="QLoRA double quantization (nf4/fp4)")
    t.add_argument("--micro-batch", default="1", metavar="N", help="sequences per step (default 1)")
    t.add_argument("--seq-len", metavar="N", help="tokens per sequence (default: the profile's suggestion, else 2048)")
    t.add_argument("--grad-checkpointing", action="store_true", help="gradient checkpointing")
    t.add_argument("--optimizer", default=Optimizer.ADAMW.value, metavar="NAME", help=" | ".join(Optimizer.values()))
    t.add_argument("--gpu", metavar="NAME|INDEX", help="memory budget from a GPU preset (e.g. RTX-4090) or device")
    t.add_argument("--gpu-memory", metavar="SIZE", help="memory budget per GPU, e.g. 24GiB (overrides --gpu)")
    r = p.add_argument_group("evidence")
    r.add_argument("--probes", choices=("auto", "none"), default="none",
                   help="none: the capacity prior only (default while the probe ladder is rebuilt)")
    r.add_argument("--budget-minutes", type=_positive_float("--budget-minutes"), metavar="N",
                   help="time the probe ladder may spend (with --probes auto)")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print the recommendation as one JSON object")
    o.add_argument("--write", metavar="PLAN.toml", help="write a plan with the recommended rank, alpha and rate")
    o.add_argument("--force", action="store_true", help="with --write: replace an existing file")
    # flags of `lorplan plan` this command does not offer, at plan's defaults (setup_from_args reads them)
    p.set_defaults(run=run, layers=None, rank_pattern=None, dora=False, modules_to_save=None, base_dtype="bf16",
                   adapter_dtype="fp32", attention="sdpa", lora_dropout="0", gpus="1", sharding=None,
                   no_autocast=False, no_prepare_kbit=False, kernels="cuda", no_foreach=False, padding_mask=False,
                   cuda_context=None, reserve_fraction=None)


def _check_flags(args) -> None:
    """Flag combinations, checked before anything is loaded."""
    if args.probes == "auto":
        raise BadInput(PROBES_NOT_READY)
    if args.model is None:
        raise BadInput("--model: give a model (catalog id, folder or cached hub id) and --data FILE or "
                       "--trained-tokens N; the built-in demo (no model and no data) is not available yet")
    if args.data is not None and (args.trained_tokens is not None or args.examples is not None):
        flag = "--trained-tokens" if args.trained_tokens is not None else "--examples"
        raise BadInput(f"{flag}: give either --data or the data's size, not both")
    if args.data is None and args.trained_tokens is None and args.examples is None:
        raise BadInput("--data: give --data FILE, or --trained-tokens N (--examples N for classification)")
    if args.num_labels is not None and args.num_labels < 2:
        raise BadInput(f"--num-labels: {args.num_labels} must be at least 2")


def _spec_for(args):
    from lorplan.core.model import load_spec, resolve_model

    source = resolve_model(args.model)
    spec = load_spec(source, trust_remote_code=args.trust_remote_code)
    if source.kind != "folder":
        args.model = source.id  # a written plan names the model by its published id, not the name typed
    if source.note:
        print(f"note: {source.note}", file=sys.stderr)
    task = args.task or spec.task
    if task != spec.task:
        raise BadInput(f"--task: {spec.id} is planned as {spec.task} ({spec.architecture}); lorplan plans "
                       f"sequence classification for BERT-style encoders")
    if args.num_labels is not None and task != "sequence-classification":
        raise BadInput("--num-labels: only with --task sequence-classification")
    return spec, task


def _with_labels(spec, num_labels: int):
    """The spec with a classifier head of num_labels outputs (the head is trained in full, so it counts)."""
    from lorplan.core.model.sources import from_config

    cfg = dict(spec.config)
    if not cfg or spec.source == "fallback":
        return spec
    cfg = {k: v for k, v in cfg.items() if k not in ("id2label", "label2id")}
    cfg["num_labels"] = num_labels
    return from_config(cfg, spec.id, spec.source, spec.config_path or spec.id)


def _data_size(args, spec, task, seq_len: int | None):
    """(DataSize, profile or None)."""
    from lorplan.recommend import DataSize, count_labels, data_size_from_profile

    labels = args.num_labels
    if args.data is None:
        if task == "sequence-classification" and labels is None:
            from lorplan.core.model.archs import num_labels

            labels = num_labels(spec.config)
        return DataSize(task=task, trained_tokens=args.trained_tokens, examples=args.examples,
                        num_labels=labels if task == "sequence-classification" else None,
                        epochs=args.epochs), None
    from lorplan.core.data import profile_dataset

    profile = profile_dataset(args.data, model=args.model, seq_len=seq_len, mask=args.train_on != "all")
    counts = count_labels(args.data) if task == "sequence-classification" else None
    return data_size_from_profile(profile, task=task, epochs=args.epochs, label_counts=counts,
                                  num_labels=labels), profile


def run(args) -> int:
    from dataclasses import replace

    from lorplan.cli._common import print_json
    from lorplan.cli.plan_args import budget_from_args, setup_from_args
    from lorplan.core.lora import peft_target_modules
    from lorplan.recommend import (
        Evidence,
        adapter_size,
        capacity_prior,
        combine,
        default_learning_rate,
        price_fit,
    )

    _check_flags(args)
    budget, gpu = budget_from_args(args)
    spec, task = _spec_for(args)
    seq_len = parse_int("--seq-len", args.seq_len) if args.seq_len is not None else None
    args.seq_len = str(seq_len or 2048)
    setup = setup_from_args(args)  # every setup flag is checked before the data is read
    adapter_size(spec, setup.targets)  # and so are the targets
    data, profile = _data_size(args, spec, task, seq_len)
    if task == "sequence-classification" and data.num_labels != _head_labels(spec):
        spec = _with_labels(spec, data.num_labels)
    if seq_len is None and profile is not None:  # the profile's suggestion (p99 length, model maximum)
        setup = replace(setup, seq_len=profile.suggested_seq_len)
    prior = capacity_prior(data, adapter_size(spec, setup.targets))
    targets = peft_target_modules(spec, setup.targets)
    note = ("no probes were run (--probes none): the rank rests on the capacity prior, a rule of thumb that has "
            "not measured your data" if args.data else
            "no data file was given, only its size: nothing was measured, so the rank rests on the capacity prior")
    rec = combine(prior, default_lr=default_learning_rate(spec.id, task, spec.total_params),
                  target_modules=(targets,) if isinstance(targets, str) else tuple(targets),
                  price=lambda rank: price_fit(spec, setup, rank, budget, gpu),
                  notes=(Evidence("probes", None, note),))
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


def _head_labels(spec) -> int | None:
    for m in spec.linears:
        if m.role == "head" and m.name in ("classifier", "score"):
            return m.out_features
    return None


def _write_plan(args, spec, setup, rec, budget, profile):
    from dataclasses import replace
    from types import MappingProxyType

    from lorplan.core.plan import PLACEHOLDER_DATA_PATH, plan_from_setup, write_plan

    eval_split = 0.0
    if profile is not None and profile.split.train + profile.split.eval > 0:
        eval_split = round(profile.split.eval / (profile.split.train + profile.split.eval), 4)
    plan = plan_from_setup(
        spec, setup, rec.rank, rec.alpha, source=args.model, budget_bytes=budget,
        data_path=args.data or PLACEHOLDER_DATA_PATH, eval_split=eval_split, train_on=args.train_on,
        trust_remote_code=bool(args.trust_remote_code),
        training={"learning_rate": rec.learning_rate, "epochs": float(args.epochs)},
    )
    lora = replace(plan.lora, use_rslora=rec.use_rslora, rank_pattern=MappingProxyType(dict(rec.rank_pattern)))
    return write_plan(replace(plan, lora=lora), args.write, force=bool(args.force))


def render_text(rec, spec, setup, data) -> str:
    """The recommendation as a short table and the evidence sentences."""
    from lorplan.core.lora import trainable_params
    from lorplan.core.units import format_bytes

    low, high = rec.confidence
    measured = "probe ladder" if any(r.eval_loss is not None for r in rec.ladder) else "capacity prior only"
    rows = [
        f"lorplan recommend: {spec.id} ({rec.task}), targets {', '.join(rec.target_modules)}",
        "",
        f"  rank            {rec.rank:<10} band {low}-{high} ({measured})",
        f"  alpha           {rec.alpha:<10g} scale alpha/{'sqrt(r)' if rec.use_rslora else 'r'} = "
        f"{rec.alpha / (rec.rank ** 0.5 if rec.use_rslora else rec.rank):g}",
        f"  learning rate   {rec.learning_rate:<10g} epochs {data.epochs:g}",
        f"  trainable       {trainable_params(spec, setup.targets, rec.rank):,} parameters",
    ]
    if rec.fits is not None:
        f = rec.fits
        verdict = {True: "fits", False: "does not fit", None: "no budget given"}[f.fits]
        where = f" of {format_bytes(f.budget_bytes)}" if f.budget_bytes else ""
        where += f" ({f.gpu})" if f.gpu else ""
        rows.append(f"  memory          {format_bytes(f.total_bytes)}{where} per GPU: {verdict}")
    if rec.rank_pattern:
        rows.append("  rank pattern    " + ", ".join(f"{k}={v}" for k, v in rec.rank_pattern.items()))
    rows += ["", "evidence"]
    width = 110
    for e in rec.evidence:
        rank = f" (rank {e.rank})" if e.rank is not None else ""
        # "learning rate: learning rate 0.001: ..." says it twice
        head = f"  {e.source}{rank}: " if not e.explanation.startswith(e.source) else "  "
        rows += textwrap.wrap(e.explanation, width, initial_indent=head, subsequent_indent="      ")
    return "\n".join(rows)


__all__ = ["register", "render_text", "run"]
