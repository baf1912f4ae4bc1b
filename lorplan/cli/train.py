"""`lorplan train PLAN.toml [--resume] [--max-steps N] [--output DIR]`: run the plan.

With hardware.gpus > 1 the command re-executes itself under `accelerate launch` (one process per GPU).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from lorplan import __version__
from lorplan.cli._common import commands_in, say, step_count
from lorplan.cli.paths import check_plan_file, nonempty_path
from lorplan.core.units import and_list

if TYPE_CHECKING:
    from lorplan.core.plan import EstimateSection, Plan


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a plan (transformers + peft), with checkpoints and resume",
        description="Train the plan with transformers + peft (+ bitsandbytes on CUDA). Saves checkpoints every "
        "training.save_steps, resumes from the newest complete one with --resume, saves the adapter in peft's "
        "format and compares the measured peak memory with the plan's estimate.",
    )
    p.add_argument("plan", metavar="PLAN.toml")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest complete checkpoint; with more steps (a larger --max-steps, or "
                   "the plan's length after a --max-steps trial), train a finished run on")
    p.add_argument("--max-steps", type=step_count("--max-steps"), metavar="N",
                   help="a run of N optimizer steps in place of the plan's length (the learning-rate "
                   "schedule spans them)")
    p.add_argument("--output", metavar="DIR", type=nonempty_path("--output"),
                   help="output folder (default: training.output_dir of the plan)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="run the model folder's own Python code (its auto_map), for a plan that asks for it "
                   "(model.trust_remote_code = true); without it such a plan is refused")
    p.set_defaults(run=run)


def train_args(args: argparse.Namespace) -> list[str]:
    """The flags to pass on when re-executing under accelerate launch."""
    out = []
    if args.resume:
        out.append("--resume")
    if args.max_steps:
        out += ["--max-steps", str(args.max_steps)]
    if args.output:
        out += ["--output", args.output]
    if args.no_progress:
        out.append("--no-progress")
    if args.trust_remote_code:
        out.append("--trust-remote-code")
    return out


def check_remote_code(plan, plan_path: str, allowed: bool) -> tuple[Plan, str | None]:
    """The model's own Python files (transformers' auto_map: modeling_*.py, tokenization_*.py) can do anything
    the user can, and run only when the user typed --trust-remote-code (`allowed`). A plan is data and may come
    from someone else: its model.trust_remote_code = true alone is refused (BadInput). Returns the plan to train
    (trust_remote_code as the user asked) and, when code may run, the `note:` line that says so."""
    from dataclasses import replace

    from lorplan.core.errors import BadInput

    if not allowed:
        if plan.model.trust_remote_code:
            raise BadInput(f"{plan_path}: model.trust_remote_code = true asks to run the model's own Python code "
                           f"({plan.model.source}): lorplan runs it only when you ask for it: pass "
                           "--trust-remote-code if you trust that code, or set model.trust_remote_code = false")
        return plan, None
    plan = replace(plan, model=replace(plan.model, trust_remote_code=True))
    return plan, f"note: --trust-remote-code: the model's own Python code ({plan.model.source}) may run"


def check_inputs(plan, plan_path: str, output: str | None, resume: bool,
                 max_steps: int | None = None) -> tuple[Plan, list[str]]:
    """What `lorplan train` needs, checked before torch is imported and before any folder is made: the model on
    this machine (lorplan.core.model.model_folder: offline, nothing is downloaded) and of a head lorplan trains
    (not a token classifier's checkpoint: core.model.head.other_head_refusal), training.seq_len within its
    context or model.rope_scaling's reach, LoRA settings that adapt what they name (every rank_pattern and
    alpha_pattern key matches an adapted module) (core.plan.context, the rules of `lorplan plan`), the data
    readable with usable rows (the checks `lorplan profile` makes, on its first 20,000 rows) and an output folder
    that can be made (not a file, nor under one) and holds no earlier run's adapter (with --resume, a finished run
    that can train on, when the run's length is known here: max_steps, else the plan's; lorplan.train.checkpoint.
    check_finished and check_longer; and the learning rate, schedule and optimizer the checkpoint was trained
    with: check_resumed_training; a stopped run's length, the run's when known here: check_resumed_length; its layout, sharded or not, one the plan's hardware loads: lorplan.train.
    checkpoint_sharding.check_sharding; and its files whole: check_checkpoint). BadInput, one line naming the
    plan's key, otherwise. Returns the plan to train, its [estimate] priced anew when the file's no longer
    prices its settings (check_estimate), and the `note:` lines: that re-pricing, a lora.bias no estimate prices,
    a named module a state-space mixer reads as a raw weight (check_bypassed, which refuses a plan in which
    nothing would learn), and the data rows training goes without: rows skipped (broken lines, missing fields)
    and, for a classifier, rows without a label (null or missing)."""
    from pathlib import Path

    from lorplan.core.data import UnknownSchema, peek_examples
    from lorplan.core.errors import BadInput
    from lorplan.core.model import load_spec, model_folder
    from lorplan.core.model.head import other_head_refusal
    from lorplan.core.plan.context import check_plan_context, check_plan_targets, data_key
    from lorplan.core.vocab import Task
    from lorplan.train.paths import output_folder, output_folder_problem, resolve_path

    where, key = plan.model.source, plan.model.key
    model = str(resolve_path(where, plan_path)) if plan.model.path is not None else where
    if plan.model.path is not None and not Path(model).expanduser().exists():  # not read as a hub id either
        raise BadInput(f"{plan_path}: model.path {plan.model.path}: no such file or folder (looked in the working "
                       "folder and beside the plan)")
    try:
        model_folder(model)
    except BadInput as exc:  # named by the plan's key, as every other problem of the plan is
        raise BadInput(f"{plan_path}: {key}: {exc}") from None
    # a hand-edited seq_len beyond the model's context, or LoRA settings that match nothing (a rank_pattern key
    # peft would ignore): refused as `lorplan plan` refuses them (config.json only)
    spec = load_spec(model, trust_remote_code=plan.model.trust_remote_code)
    # a token classifier's or question-answering model's checkpoint would load as another model (a causal LM
    # without the lm_head it lacks) and train without its own head
    if (other := other_head_refusal(spec, f"{plan_path}: {key} {where}")) is not None:
        raise BadInput(other)
    check_plan_context(plan, spec, plan_path)
    check_plan_targets(plan, spec, plan_path)
    bypassed = check_bypassed(plan, spec, plan_path)  # an adapter a state-space mixer never runs
    data = resolve_path(plan.data.path, plan_path)
    if not data.exists():
        raise BadInput(f"{data_key(plan, plan_path)}: no such file or folder (looked in the working "
                       f"folder and beside the plan); write your dataset's path there")
    try:
        peek = peek_examples(data, schema=None if plan.data.schema == "auto" else plan.data.schema)
    except BadInput as exc:
        hint = " (or set the plan's data.schema)" if isinstance(exc, UnknownSchema) else ""
        raise BadInput(f"{plan_path}: data.path {str(exc).removeprefix('--data ')}{hint}") from None
    if plan.model.task == Task.SEQUENCE_CLASSIFICATION:
        check_labels(plan, peek, plan_path)
    out = output_folder(output, plan, plan_path)
    problem = output_folder_problem(out)
    if problem is not None:
        where = "--output" if output else f"{plan_path}: training.output_dir"
        raise BadInput(f"{where} {out}: {problem}: choose another --output")
    # stdlib only: no torch yet
    from lorplan.train.checkpoint import (
        check_checkpoint,
        check_finished,
        check_longer,
        check_resumed_length,
        check_resumed_training,
        latest_checkpoint,
    )

    finished = check_finished(out, resume)  # the runner's refusals (train.runner.check_output), before torch
    length = max_steps or plan.training.max_steps  # the run's length, when known before the data is tokenized
    if finished is not None and length:  # else epochs: the data decides (the runner asks once it is built)
        check_longer(finished, length, out)
    latest = latest_checkpoint(out)
    if not resume and latest is not None:
        raise BadInput(f"{out} holds checkpoint-{latest[0]} of an earlier run: pass --resume to continue it, "
                       "or --output to start elsewhere")
    resumed = finished.final if finished is not None else (latest if resume else None)
    if resumed is not None:  # an edited learning rate, schedule or optimizer would be the checkpoint's
        from lorplan.train.checkpoint_sharding import check_sharding

        check_resumed_training(resumed, plan, out, plan_path)
        check_sharding(resumed, plan, out, plan_path)  # a sharded state the plan's run cannot load, or the reverse
        check_checkpoint(resumed, out)  # a damaged file: before torch, not a traceback once the model loaded
        if finished is None and length:  # a stopped run resumed to another length (the runner's, for epochs)
            check_resumed_length(resumed, length, out)
    plan, notes = check_estimate(plan, spec, plan_path)
    notes += bypassed
    # the rows training goes without, which the user should know (counted in the rows read here, the first 20,000)
    uses = peek.uses("training uses")
    what = data_key(plan, plan_path)
    if peek.skipped:  # a broken line or a missing field
        from lorplan.cli._common import skipped_note

        # the file read (resolve_path: `~` expanded, or the one beside the plan): the quoted command names it as is
        notes.append(skipped_note(what, data, peek.skipped, peek.examples, peek.first_skipped, uses))
    if plan.model.task == Task.SEQUENCE_CLASSIFICATION and peek.unlabelled:  # a label that is null or missing
        from lorplan.core.data.labels import unlabelled_note

        notes.append("note: " + unlabelled_note(what, peek.unlabelled, peek.first_unlabelled, peek.labelled, uses))
    from lorplan.core.data.labels import labels_unused_note
    from lorplan.core.model.names import model_name

    # a causal LM trains on the rows and never sees a label column (the labels of the rows read: the first 20,000)
    if (unused := labels_unused_note(what, model_name(model), peek.labels, plan.model.task, peek.schema,
                                     None if peek.complete else peek.rows_read, no_class=peek.bad_label)) is not None:
        notes.append(f"note: {unused}")
    return plan, notes


def check_bypassed(plan, spec, plan_path: str) -> list[str]:
    """The `note:` lines `lorplan plan` gives a plan naming a module this model's state-space mixers read as a raw
    weight (core.lora.bypass_notes: Mamba's dt_proj, Bamba's out_proj), whose adapter trains on some paths or none:
    a plan written before the presets left them out names them, and trained a dead adapter without a word.
    BadInput (one line naming them) when every module the plan adapts is one that trains on no path of this
    base (core.lora.never_trained: Mamba's dt_proj alone) and nothing else trains (no modules_to_save, embedding
    or expert target, nor lora.bias): nothing would learn, and the run ended in torch's "does not require grad"
    traceback at its first backward."""
    from lorplan.core.lora import bypass_notes
    from lorplan.core.memory.bounds import check_learns
    from lorplan.core.plan.build import plan_to_setup
    from lorplan.core.vocab import LoraBias

    targets = plan_to_setup(plan)[1].targets
    key = f"{plan_path}: lora.target_modules"
    notes = bypass_notes(spec, targets, key=key)
    if not notes:
        return []
    q = plan.quantization
    check_learns(spec, targets, quantized=q.load_in_4bit or q.load_in_8bit, bias=plan.lora.bias != LoraBias.NONE,
                 key=key)  # lorplan plan's rule (core.memory.bounds), in the plan's key
    return ["note: " + n for n in notes]


def priced_before_exclusions(plan, spec) -> tuple[EstimateSection, tuple[str, ...]]:
    """The [estimate] lorplan priced for `plan` before its presets left out the modules peft refuses or the model
    reads as a raw weight (core.lora.preset_excluded: Bamba's out_proj, Mamba's out_proj, x_proj and dt_proj), and
    the leaf names of the modules the plan's presets adapted then and leave out now (empty: the change does not
    touch this plan). The exclusions are keyed by the model type (core.lora.peft_refused, kernel_bypassed), so the
    presets select under no model type what they selected then; those modules are priced named by their paths, as
    a bypassed module may be, or, for one peft refuses by name, on the spec under no model type (the memory model
    prices none of peft's Mamba-based model types apart; tests/train/test_ssm_plan_targets.py: an old plan's
    [estimate] is reproduced exactly both ways)."""
    from dataclasses import replace

    from lorplan.core.lora import peft_refused, preset_excluded, resolve_targets
    from lorplan.core.plan.build import plan_to_setup, priced_anew

    if not preset_excluded(spec):
        return priced_anew(plan, spec), ()
    targets = plan_to_setup(plan)[1].targets
    unkeyed = replace(spec, model_type="", moe_style=spec.moe_style or spec.model_type)
    now = {m.path for m in resolve_targets(spec, targets)}
    gone = [m for m in resolve_targets(unkeyed, targets) if m.path not in now]
    if not gone:
        return priced_anew(plan, spec), ()
    dropped = tuple(dict.fromkeys(m.name for m in gone))
    if set(dropped) & set(peft_refused(spec)):
        return priced_anew(plan, unkeyed), dropped
    named = (*plan.lora.target_modules, *(m.path for m in gone))
    return priced_anew(replace(plan, lora=replace(plan.lora, target_modules=named)), spec), dropped


def _dropped_reason(plan, spec, dropped: tuple[str, ...]) -> str:
    """Why the presets leave out `dropped` on this model (peft refuses them, or the model reads them as raw
    weights: core.lora.bypass_notes' sentence), and how to adapt again one whose adapter trains somewhere."""
    from lorplan.core.lora import LoraTargets, bypass_notes, never_trained, peft_refused

    refused = [n for n in dropped if n in peft_refused(spec)]
    why = [f"peft refuses LoRA on {and_list(refused)} of a {spec.model_type} model"] if refused else []
    bypassed = tuple(n for n in dropped if n not in refused)
    if bypassed:  # "KEY NAME: WHY" with an empty key
        why += [note.split(": ", 1)[1] for note in bypass_notes(spec, LoraTargets(modules=bypassed), key="")]
    q = plan.quantization
    dead = never_trained(spec, quantized=q.load_in_4bit or q.load_in_8bit)
    back = [n for n in bypassed if n not in dead]
    if back:
        why.append(f"to adapt {and_list(back)} as before, name {'them' if len(back) > 1 else 'it'} in "
                   "lora.target_modules")
    return "; ".join(why)


def check_estimate(plan, spec, plan_path: str) -> tuple[Plan, list[str]]:
    """The plan with an [estimate] that prices it as it stands, and the `note:` lines that say what the file's
    [estimate] does not price. A hand-edited priced key (micro_batch, seq_len, quantization, targets, ...) keeps
    the estimate of the old value, and the run's measured/planned would compare with that: the plan is re-priced
    (core.plan.build.priced_anew, pure Python, milliseconds) and a note gives both totals, and why: a plan of a
    state-space model priced before the presets left out the modules it cannot train (priced_before_exclusions)
    was not edited, and the note says what changed instead. lora.bias, which `lorplan plan` never sets, trains
    bias vectors no estimate prices: said, not priced. A plan without an [estimate] is left as it is (the run then
    compares with nothing)."""
    from dataclasses import replace

    from lorplan.core.lora import PRESETS
    from lorplan.core.plan.build import priced_anew
    from lorplan.core.units import format_bytes
    from lorplan.core.vocab import LoraBias

    notes = []
    if plan.estimate is not None:
        anew = priced_anew(plan, spec)
        key = (plan.estimate.total_bytes, plan.estimate.trainable_params)
        if (anew.total_bytes, anew.trainable_params) != key:
            old, new = format_bytes(plan.estimate.total_bytes), format_bytes(anew.total_bytes)
            if old == new:  # a few bytes apart (another sharding's buckets, a head of another size)
                old, new = f"{plan.estimate.total_bytes:,} bytes", f"{anew.total_bytes:,} bytes"
            # a plan written before the presets left out a state-space model's refused or bypassed modules: its
            # [estimate] priced them, and nobody edited the file
            before, dropped = priced_before_exclusions(plan, spec)
            presets = " and ".join(m for m in dict.fromkeys(plan.lora.target_modules) if m in PRESETS)
            changed = (f"lorplan's {presets} no longer adapt{'' if ' and ' in presets else 's'} "
                       f"{and_list(dropped)}, which [estimate] priced") if dropped else ""
            if dropped and (before.total_bytes, before.trainable_params) == key:
                why = changed
            else:
                by = plan.estimate.lorplan_version
                why = "edited since it was planned" + (f", or priced by lorplan {by}" if by and by != __version__
                                                        else "") + (f"; and {changed}" if changed else "")
            them = "them" if len(dropped) > 1 else "it"
            reason = f". The presets leave {them} out: {_dropped_reason(plan, spec, dropped)}" if dropped else ""
            notes.append(f"note: {plan_path}: [estimate] does not price the plan as it stands ({old} there, {new} for "
                         f"its settings now: {why}); measured/planned compares with {new}{reason}")
            plan = replace(plan, estimate=anew)
    if plan.lora.bias != LoraBias.NONE:
        notes.append(f"note: {plan_path}: lora.bias = {plan.lora.bias!r} trains bias vectors too, which [estimate] "
                     "does not price (lorplan plan has no bias setting): their gradients and optimizer state come on "
                     "top of it")
    return plan, notes


def check_labels(plan, peek, plan_path: str) -> None:
    """Refuse, before torch is imported, the labels a classifier's run would refuse once its tokenizer is
    loaded (lorplan.train.engine), with the same line: a label that is no class label (2.5, NaN, true), a name
    that reads as a number beside integer class ids, class ids beyond model.num_labels, and no label at all or
    one label alone (core.data.labels.check_classes) when the peek read the whole file. Read from the rows `peek`
    holds (lorplan.core.data.peek_examples): what they refuse, the whole file refuses too (more rows only add
    classes and raise the names' ids)."""
    from lorplan.core.data.labels import check_classes, check_head, class_ids
    from lorplan.core.errors import BadInput
    from lorplan.core.plan.context import data_key

    where = data_key(plan, plan_path)  # named by the plan's key, as its other problems are
    if peek.bad_label is not None:
        raise BadInput(f"{where}: {peek.bad_label}")
    if not peek.labels:
        if peek.complete:  # else the rows beyond the peek may hold them (the engine says so if they do not)
            raise BadInput(f"{where}: model.task is sequence-classification, which "
                           f"needs rows with a 'label'; these {peek.schema} rows have none")
        return
    if peek.complete:  # else the rows beyond the peek may hold another class (the engine refuses it if not)
        check_classes(peek.labels, where)
    check_head(class_ids(peek.labels, where).values(), plan.model.num_labels or 2, where)


def _cpu_threads(plan) -> str | None:
    """A CPU run uses the idle cores (as CPU probes do, lorplan.probe.scheduler.cpu_threads): torch's default of
    one thread per core made each step of the MiniLM sample 12 times slower on a busy 2-core machine, its
    threads waiting for each other. OMP_NUM_THREADS, when set, decides instead. Returns the `note:` line that
    says so (None: nothing changed, or not the main process of a run of several), which the runner says once
    its own checks passed (a run it refuses says its one line alone)."""
    import torch

    from lorplan.train.engine import run_device

    if os.environ.get("OMP_NUM_THREADS") or run_device(plan) == "cuda":
        return None
    from lorplan.probe.scheduler import cpu_threads
    from lorplan.train.launch import process_rank

    threads = cpu_threads(1)
    if threads == torch.get_num_threads():
        return None
    torch.set_num_threads(threads)
    if process_rank() != 0:  # said once, by the main process of a run of several
        return None
    return (f"note: CPU run on {threads} thread{'s' if threads > 1 else ''} (the idle cores; OMP_NUM_THREADS sets "
            "another count)")


def _hide_bitsandbytes(plan, plan_path: str) -> None:
    """A run on the CPU (not a process of a run on several GPUs, nor the one that launches them) hides bitsandbytes
    from peft, which imports it whenever it is installed though a CPU run uses none of it: 1.1-1.4 s of CPU at
    every `lorplan train` start on 2 cores (lorplan.train.model.hide_bitsandbytes; a quantized checkpoint keeps
    it). Only in the command's own process (lorplan.cli.main read sys.argv)."""
    from lorplan.train.engine import run_device

    if plan.hardware.gpus > 1 or run_device(plan) == "cuda":
        return
    from lorplan.train.model import hide_bitsandbytes

    hide_bitsandbytes(plan, sys.modules, plan_path)


def run(args: argparse.Namespace) -> int:
    """`lorplan train`: the inputs checked, then the run, with its output folder locked throughout
    (lorplan.train.lock): a second `lorplan train` there is refused while this one lives. One lock per run: the
    processes a run on several GPUs launches take none (the `lorplan train` that launched them holds it)."""
    from lorplan.core.plan import read_plan
    from lorplan.train.lock import OutputLock, takes_output_lock
    from lorplan.train.paths import output_folder

    check_plan_file(args.plan)
    plan, remote = check_remote_code(read_plan(args.plan), args.plan, args.trust_remote_code)  # before any load
    out = output_folder(args.output, plan, args.plan)
    locks = takes_output_lock()
    with OutputLock(out, f"--output {out}" if args.output else f"{args.plan}: training.output_dir {out}") as lock:
        if locks:  # before its checkpoints are read: another run may be writing them
            lock.take(make=False)  # a folder not made yet is made only once the inputs pass
        plan, notes = check_inputs(plan, args.plan, args.output, args.resume, args.max_steps)
        if locks:
            lock.take(make=True)
        notes = ([remote] if remote else []) + notes + ([lock.note] if lock.note else [])
        return _train(args, plan, notes)


def launch_command(args: argparse.Namespace, plan) -> list[str]:
    """The `accelerate launch` command of a run on several GPUs, its accelerate_config.yaml written first into
    the run's output folder: the folder the lock and the input checks named (`~` expanded, as the training
    processes expand it), not a literal ./~ beside the working folder."""
    from lorplan.train.launch import accelerate_command, write_accelerate_config
    from lorplan.train.paths import output_folder

    config = write_accelerate_config(plan, output_folder(args.output, plan, args.plan))
    return accelerate_command(plan, args.plan, config, train_args(args))


def _train(args: argparse.Namespace, plan, notes: list[str]) -> int:
    """The run of a checked plan (run): launched on several GPUs, or trained in this process."""
    from lorplan.train.launch import UNDER_LAUNCH_ENV, needs_launcher, run_forwarding, says_input_notes

    # every note on stderr, as the run's own and the progress: stdout is the summary. Once: the processes of a
    # run on several GPUs check the inputs again, but only the first says what it found (as the engine's notes)
    for note in notes if says_input_notes() else ():
        say(note, whole=commands_in(note))
    if needs_launcher(plan):
        from lorplan.core.errors import BadInput
        from lorplan.probe.backend import visible_gpus

        seen = len(visible_gpus())
        if seen < plan.hardware.gpus:  # accelerate would start the processes on the CPU, or fail in each of them
            have = "no GPU is visible" if not seen else f"only {seen} GPU{'s are' if seen > 1 else ' is'} visible"
            raise BadInput(f"{args.plan}: hardware.gpus = {plan.hardware.gpus}, but {have} here "
                           "(CUDA_VISIBLE_DEVICES / NVML): set hardware.gpus to the GPUs this machine has (0 trains "
                           "on the CPU)")
        cmd = launch_command(args, plan)
        print("launching: " + " ".join(cmd), file=sys.stderr, flush=True)
        return run_forwarding(cmd, {**os.environ, UNDER_LAUNCH_ENV: "1"})

    threads = _cpu_threads(plan)
    if getattr(args, "own_process", False):
        _hide_bitsandbytes(plan, args.plan)  # before run_training's imports bring peft

    from lorplan.train.runner import run_training
    from lorplan.train.stop import TrainingInterrupted

    try:
        run_training(plan, plan_path=args.plan, output_dir=args.output, max_steps=args.max_steps,
                     resume=args.resume, progress=not args.no_progress, notes=(threads,) if threads else ())
    except TrainingInterrupted as exc:
        print(f"lorplan train: {exc}", file=sys.stderr)
        return 128 + int(exc.signum)
    return 0
