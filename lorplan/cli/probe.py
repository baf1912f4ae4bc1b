"""`lorplan probe start|status|wait|cancel|list`: short LoRA trainings at several ranks, in the background.

start prints the run id and returns at once; the probes run in their own processes and survive the terminal.
Every other subcommand reads the run folder ($XDG_STATE_HOME/lorplan/runs/<run-id>).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lorplan.cli._common import (
    BadInput,
    add_rope_scaling,
    int_list,
    parse_int,
    parse_positive_float,
    parse_rope_scaling,
    positive_float,
    positive_int,
    print_json,
    seed,
    split_list,
    step_count,
    train_on_help,
    vocab_metavar,
)
from lorplan.cli.paths import nonempty_path
from lorplan.core.limits import MAX_LEARNING_RATE, MAX_MICRO_BATCH, MAX_PARALLEL_PROBES, MAX_SEED, MAX_SEQ_LEN
from lorplan.core.units import counted
from lorplan.core.vocab import FOUR_BIT_QUANTS, HELP, Attention, Optimizer, Quant, Task, TrainOn


def _once(flag: str, values: tuple, what: str) -> tuple:
    """`values` with each one once, in order; a note names the flag and the values given more than once (a probe
    per value: "--seeds 1,1" is one seed, not two repeats)."""
    kept = tuple(dict.fromkeys(values))
    if len(kept) < len(values):
        twice = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in kept if values.count(v) > 1)
        print(f"note: {flag}: {twice} given more than once; each {what} is probed once", file=sys.stderr)
    return kept


def _float_list(text: str) -> tuple[float, ...]:
    """--lr 1e-4,3e-4: finite numbers above 0 (inf trained at an infinite rate) and at most MAX_LEARNING_RATE, as a
    plan's learning_rate; no empty item (split_list)."""
    try:
        return tuple(parse_positive_float("--lr", part, MAX_LEARNING_RATE)
                     for part in split_list("--lr", text, "learning rate", "learning rates as 1e-4,3e-4"))
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seed_list(text: str) -> tuple[int, ...]:
    """--seeds 0,1,2: integers of at least 0 (a plan's training.seed is: the probe would fail in the background),
    no empty item (split_list)."""
    try:
        return tuple(parse_int("--seeds", part, 0, MAX_SEED) for part in split_list("--seeds", text, "seed", "seeds as 0,1,2"))
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_id(text: str) -> str:
    """argparse type for RUN: an empty id is a prefix of every run id, so `lorplan probe cancel ""` cancelled the
    one run there was (with several it said "ambiguous")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("RUN: empty run id (give a run id or a unique prefix of it; lorplan probe "
                                         "list shows them)")
    return text


def _seconds(text: str) -> float:
    """--timeout S: a finite number of seconds, 0 or more (-1 "timed out after -1 s" at once); separators by
    core.units.without_commas' rule (float() read 1_0 as 10)."""
    from lorplan.core.units import without_commas

    try:
        typed = without_commas(text, "--timeout", "2.5")
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    try:
        value = float(typed)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--timeout: {text!r} is not a number of seconds") from None
    if value != value or value in (float("inf"), float("-inf")):  # inf read "must be ... 0 or more"
        raise argparse.ArgumentTypeError(f"--timeout: {str(text).strip()!r} is not a finite number (leave "
                                         "--timeout out to wait as long as it takes)")
    if value < 0:
        raise argparse.ArgumentTypeError(f"--timeout: {text!r} must be a number of seconds, 0 or more")
    return value


def _device(text: str) -> str:
    if text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"--device: {text!r} is not auto, cpu, cuda or cuda:N")


_RUN_HELP = "the run id, or a unique prefix of it (lorplan probe list; default: the newest run)"
_TRUST_HELP = ("a run that asks to run the model's own code (probe start --trust-remote-code) whose scheduler "
               "stopped: start it again, running that code; without it such a run is left as it is")


def register(subparsers) -> None:
    p = subparsers.add_parser("probe", help="short LoRA trainings at several ranks, in the background",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="probe_command", metavar="SUBCOMMAND", required=True)

    s = sub.add_parser("start", help="start a probe run and print its id (returns at once)",
                       description="Start short LoRA trainings in the background, one probe per rank (and per "
                       "--lr and --seeds value) on a seeded sample of the data, after checking what lorplan "
                       "profile and lorplan plan check; prints the run id and returns at once.")
    s.add_argument("--model", metavar="M", help="a model on this machine: folder, config.json, catalog or hub id in the local "
                   "HF cache, or all-MiniLM-L6-v2 (the default, with demo data)")
    s.add_argument("--data", metavar="FILE", type=nonempty_path("--data"), help="dataset file (JSONL, JSON, CSV, Parquet, ...); default: generated demo data")
    s.add_argument("--ranks", type=int_list("--ranks"), default=(4, 8, 16, 32), metavar="4,8,16", help="ranks to probe (default 4,8,16,32)")
    s.add_argument("--steps", type=step_count("--steps"), metavar="N", help="optimizer steps per probe, at least 2 (100; the demo: 60)")
    s.add_argument("--lr", type=_float_list, default=(), metavar="LR[,LR...]", help="learning rate(s); several = one probe per rank × lr "
                   "(default: the task's, lorplan.core.plan.defaults: 1e-3 for classification; the demo: 3e-3)")
    s.add_argument("--device", type=_device, default="auto", metavar="auto|cpu|cuda|cuda:N", help="auto (the default: one probe per GPU, else CPU), cpu, cuda:N (cuda alone: cuda:0)")
    s.add_argument("--max-parallel", type=positive_int("--max-parallel", 1, MAX_PARALLEL_PROBES), metavar="N", help="probes at once (default: one per GPU; 1 on CPU)")
    s.add_argument("--micro-batch", type=positive_int("--micro-batch", 1, MAX_MICRO_BATCH), metavar="N",
                   help="sequences per step (default: the task's, 16 for classification, 1 for a causal LM)")
    s.add_argument("--seq-len", type=positive_int("--seq-len", 1, MAX_SEQ_LEN), metavar="N", help="tokens per row at most (512 or the model's context when shorter; the demo: 6)")
    add_rope_scaling(s, "the probes train with it, as `lorplan train` trains a plan that has it")
    s.add_argument("--eval-every", type=step_count("--eval-every"), metavar="N", help="steps between evals (20; the demo: 10)")
    s.add_argument("--eval-examples", type=positive_int("--eval-examples"), metavar="N",
                   help="held-out examples, at most (200; the demo: 100)")
    s.add_argument("--seed", type=seed("--seed"), default=0, metavar="N",
                   help="the run's seed: the data sample, the held-out split, and training unless --seeds "
                   "gives each probe its own (default 0)")
    s.add_argument("--seeds", type=_seed_list, default=(), metavar="0,1,2",
                   help="repeat every probe with each seed (the comparison then gives 95%% intervals)")
    s.add_argument("--quant", choices=Quant.values(), default=Quant.NONE.value, metavar=vocab_metavar(Quant), help="bitsandbytes loading (CUDA only; default none)")
    s.add_argument("--double-quant", action="store_true", help="NF4/FP4 with double quantization")
    s.add_argument("--optimizer", choices=Optimizer.values(), default=Optimizer.ADAMW.value, metavar="NAME",
                   help=f"{' | '.join(Optimizer.values())} (default {Optimizer.ADAMW.value})")
    s.add_argument("--grad-checkpointing", action="store_true",
                   help="gradient checkpointing: recompute activations in the backward pass (less memory, slower)")
    s.add_argument("--attention", choices=Attention.values(), default=None, metavar=vocab_metavar(Attention),
                   help=f"{HELP[Attention]} (default {Attention.SDPA.value}; {Attention.EAGER.value} for a model "
                   "whose transformers class has no SDPA, such as Gemma 2)")
    s.add_argument("--packing", action="store_true", help="causal LM: pack examples into full --seq-len blocks")
    s.add_argument("--train-on", choices=TrainOn.values(), metavar=vocab_metavar(TrainOn),
                   help=f"causal LM: {train_on_help()}")
    s.add_argument("--targets", default="all-linear", metavar="T", help="all-linear (the default), attention, mlp or module names a,b,c")
    s.add_argument("--alpha", type=positive_float("--alpha"), metavar="N", help="LoRA alpha, the same at every rank (default 32, scaled by alpha / r)")
    s.add_argument("--trust-remote-code", action="store_true", help="allow the model's own code (off by default); "
                   "the run's own processes keep it, a later command that starts them again needs it again")
    s.add_argument("--json", action="store_true", help='print {"run", "path", "probes", "devices"} instead of the id')
    s.set_defaults(run=run_start)

    st = sub.add_parser("status", help="state of every probe of a run (default: the newest run)",
                        description="Print a run's state (the newest run by default), then one row per probe "
                        "(state, step, loss, eval loss and accuracy, tokens/s, times, peak memory) and, once "
                        "probes finished, the ranks side by side.")
    st.add_argument("run_id", nargs="?", type=_run_id, metavar="RUN", help=_RUN_HELP)
    st.add_argument("--json", action="store_true", help="print the run's state and probes as JSON")
    st.add_argument("--trust-remote-code", action="store_true", help=_TRUST_HELP)
    st.set_defaults(run=run_status)

    w = sub.add_parser("wait", help="wait until no probe of the run is queued or running, and a probe "
                         "ladder's run until the ladder ends, done or cancelled, or its driver is gone (default: "
                         "the newest run)",
                        description="Block until every probe of the run has ended (the newest run by default; a "
                        "probe ladder's run: until the ladder ends); exits 0 when every probe finished, 1 when any "
                        "ended otherwise or the --timeout passed.")
    w.add_argument("run_id", nargs="?", type=_run_id, metavar="RUN", help=_RUN_HELP)
    w.add_argument("--timeout", type=_seconds, metavar="S", help="give up after S seconds, 0 or more (exit 1)")
    w.add_argument("--json", action="store_true", help="print the run's state and probes as JSON when it ends")
    w.add_argument("--trust-remote-code", action="store_true", help=_TRUST_HELP)
    w.set_defaults(run=run_wait)

    c = sub.add_parser("cancel", help="cancel a run, or one rank of it",
                       description="Cancel a run's probes, or with --rank R those at one rank: queued probes never "
                       "start and running ones are stopped (a probe ladder's whole run also starts no further "
                       "pass).")
    c.add_argument("run_id", type=_run_id, metavar="RUN", help="the run id, or a unique prefix of it (lorplan probe list)")
    c.add_argument("--rank", type=positive_int("--rank", 0), metavar="R",
                   help="only the probe(s) at this rank (default: every probe of the run)")
    c.set_defaults(run=run_cancel)

    ls = sub.add_parser("list", help="every probe run, oldest first",
                        description="List every probe run, oldest first: its id, state (a probe ladder's own), "
                        "ranks, probes counted by state, and model.")
    ls.add_argument("--json", action="store_true", help="print the runs as JSON")
    ls.set_defaults(run=run_list)


def _check_inputs(args):
    """Refuse, before anything starts, a run whose probes could not train (runner.check_start)."""
    from lorplan.probe.plans import settings_schedule
    from lorplan.probe.runner import check_start
    from lorplan.recommend.launch import check_probe_steps

    check_probe_steps(args.steps, settings_schedule(), "--steps")  # a 1-step probe under the warmup trains nothing
    if args.double_quant and args.quant not in FOUR_BIT_QUANTS:
        raise BadInput("--double-quant needs --quant nf4 or fp4")
    args.rope_scaling = parse_rope_scaling(args.rope_scaling)
    checked = check_start(args.model, args.data, targets=_targets(args), trust_remote_code=args.trust_remote_code,
                          seq_len=args.seq_len, rope_scaling=args.rope_scaling, ranks=args.ranks,
                          grad_checkpointing=args.grad_checkpointing)
    args.model = checked.model
    args.task = checked.task
    if args.task == Task.SEQUENCE_CLASSIFICATION:  # labelled rows: a classifier trains one label per example
        what = "the demo's rows" if args.data is None else f"the labelled rows of {args.data}"
        for flag, given in (("--packing", args.packing), (f"--train-on {args.train_on}", args.train_on is not None)):
            if given:
                raise BadInput(f"{flag}: the probes classify {what}, one label per example; {flag.split()[0]} "
                               "is for a causal LM's tokens")
    attention_note = _attention(args)
    for note in (*checked.notes, *([attention_note] if attention_note else [])):
        print(f"note: {note}", file=sys.stderr)
    return checked


def _attention(args) -> str | None:
    """`lorplan plan`'s rule (cli.plan_args.attention_from_args): refuse an --attention the model lacks before
    anything starts, else set args.attention to the model's when none was given (SDPA, eager for a model whose
    transformers class has none, such as Gemma 2) and return the note saying why when it is not SDPA (in words
    of a command that prices nothing). The model is the one check_start read (args.model as it recorded it; its
    spec cached per process)."""
    from dataclasses import replace

    from lorplan.cli.plan_args import attention_from_args
    from lorplan.core.model import load_spec, model_folder, resolve_model
    from lorplan.core.model.resolve import SHIPPED_ID

    source = resolve_model(args.model if args.model is not None else SHIPPED_ID)
    spec = load_spec(str(model_folder(source)), trust_remote_code=args.trust_remote_code)
    if source.kind != "folder":  # named as check_start names it
        spec = replace(spec, id=source.id)
    return attention_from_args(args, spec, priced=False)


def _targets(args) -> tuple[str, ...]:
    """--targets as names; "" or an empty item ("q_proj,,v_proj") is refused (split_list), not read as all-linear
    or skipped."""
    return split_list("--targets", args.targets, "name", "targets as q_proj,v_proj")


def run_start(args) -> int:
    from lorplan.core.plan import defaults
    from lorplan.probe import runner
    from lorplan.probe.backend import device_slots
    from lorplan.probe.demo import (
        DEMO_EVAL_EVERY,
        DEMO_EVAL_EXAMPLES,
        DEMO_LEARNING_RATE,
        DEMO_SEQ_LEN,
        DEMO_STEPS,
    )

    checked = _check_inputs(args)
    demo = args.data is None
    steps = args.steps or (DEMO_STEPS if demo else 100)
    eval_examples = args.eval_examples or (DEMO_EVAL_EXAMPLES if demo else 200)
    eval_every = args.eval_every or (DEMO_EVAL_EVERY if demo else 20)
    slots = device_slots(args.device, args.max_parallel)
    if args.quant != Quant.NONE.value and all(s["device"] == "cpu" for s in slots):
        # as `lorplan train` on a CPU: the probes train unquantized and say so (probe status shows their notes)
        print(f"note: --quant {args.quant}: bitsandbytes needs CUDA and these probes run on the CPU, so they "
              "load the model unquantized", file=sys.stderr)
    targets = _targets(args)
    ranks, lrs, seeds = (_once(flag, values, what) for flag, values, what in (
        ("--ranks", args.ranks, "rank"), ("--lr", args.lr, "rate"), ("--seeds", args.seeds, "seed")))
    plan = runner.make_plan(
        ranks, lrs or ((DEMO_LEARNING_RATE,) if demo else ()),
        model=args.model,  # resolved by _check_inputs
        data=str(Path(args.data).expanduser().resolve()) if args.data else None,
        seeds=seeds,
        steps=steps, device=args.device, max_parallel=args.max_parallel,
        micro_batch=args.micro_batch or defaults.micro_batch(args.task),
        seq_len=checked.seq_len(args.seq_len, DEMO_SEQ_LEN if demo else 512), eval_every=eval_every, eval_examples=eval_examples, seed=args.seed,
        quant=args.quant, double_quant=args.double_quant, optimizer=args.optimizer, grad_checkpointing=args.grad_checkpointing,
        attention=args.attention, grouping="packing" if args.packing else "length", targets=targets,
        train_on=args.train_on or TrainOn.COMPLETION.value,
        alpha=args.alpha if args.alpha is not None else defaults.ALPHA, trust_remote_code=args.trust_remote_code,
        rope_scaling=args.rope_scaling,
    )
    run = runner.start(plan, labels=checked.labels)  # the labels the checks read, for the probes
    if args.json:
        print_json({"run": run.id, "path": str(run.path), "probes": [p.id for p in plan.probes],
                    "devices": [s["device"] for s in slots]})
    else:
        print(run.id)
    return 0


def _ladder_state(run) -> str | None:
    """For a probe ladder's run (lorplan recommend, the Recommend tab): "done", "running", "cancelled" (the user
    cancelled the run: its driver adds nothing more) or "stopped" (not done and its driver is gone); None for a
    plain probe run."""
    from lorplan.probe.runner import driver_alive
    from lorplan.recommend.ladder_spec import LadderFiles

    files = LadderFiles(run)
    if not files.spec_path.is_file():
        return None
    alive = driver_alive(run)  # before reading done: a driver that marks the ladder done and exits is not stopped
    state = files.state()
    if state.done:
        return "cancelled" if state.cancelled is not None else "done"
    if alive:
        return "running"
    # a driver killed before it saw the cancel would only mark the ladder cancelled when started again
    return "cancelled" if run.run_cancel_marker.exists() else "stopped"


def _ladder_resume(run, state: str | None) -> str | None:
    """The command that starts a stopped ladder's driver again (`state`: its _ladder_state; None otherwise):
    `lorplan recommend --run RUN`, with --trust-remote-code for a ladder that asks for its model's own code,
    which its driver runs only with that consent. The probe commands restart a stalled scheduler, never the
    driver: without it no rank is stopped early, no budget kept and no next pass started."""
    if state != "stopped":
        return None
    from lorplan.recommend.driver import ladder_asks_remote_code, ladder_resume

    try:
        asks = ladder_asks_remote_code(run)
    except BadInput:  # a damaged ladder.json or plan.json: the command without the flag
        asks = None
    return ladder_resume(run.id) if asks else f"lorplan recommend --run {run.id}"


def _ladder_json(run, state: str | None) -> dict | None:
    """`"ladder"` of status/wait/list --json for `run`, whose _ladder_state is `state`: {"state":
    running|done|cancelled|stopped} for a ladder's run, a stopped one's with "resume", the command that starts
    its driver again, as the text's note names it (_ladder_resume); else None."""
    if state is None:
        return None
    resume = _ladder_resume(run, state)
    return {"state": state, **({"resume": resume} if resume is not None else {})}


def _status_json(run, st, ladder: str | None) -> dict:
    """status/wait --json: the run's status with "state" the word the text prints (probe_table.run_state: a cancelled ladder
    whose probes all finished said "done" beside "ladder": {"state": "cancelled"}) and "ladder"."""
    from lorplan.cli.probe_table import run_state

    return {**st.to_json(), "state": run_state(st, ladder), "ladder": _ladder_json(run, ladder)}


def run_status(args) -> int:
    from lorplan.probe import runner
    from lorplan.probe.consent import RemoteCodeRefused
    from lorplan.probe.runs import find_run

    run = find_run(args.run_id)
    st = runner.status(run)
    try:  # a ladder's live driver restarts it with the consent it was started with (restart_stalled)
        restarted = runner.restart_stalled(run, st, trust_remote_code=args.trust_remote_code,
                                           resume=_resume("status", run, args))
    except (RemoteCodeRefused, runner.OtherHeadRefused) as exc:  # the status is still worth printing; this line
        print(f"note: {exc}", file=sys.stderr)  # says why nothing runs
        restarted = False
    if restarted:
        queued = sum(1 for p in st.probes if p.state == "queued")
        print(f"note: the run's scheduler had stopped with {counted(queued, 'probe')} queued: started a new one",
              file=sys.stderr)
    ladder = _ladder_state(run)
    if args.json:
        print_json({**_status_json(run, st, ladder), **({"scheduler": "restarted"} if restarted else {})})
    else:
        from lorplan.cli.probe_table import print_table

        print_table(st, restarted, ladder, _ladder_resume(run, ladder))
    return 0


def _resume(command: str, run, args) -> str:
    """The command that picks the run up again with the user's consent (lorplan.probe.consent)."""
    import shlex

    return shlex.join(["lorplan", "probe", command, run.id, *(["--json"] if args.json else []),
                       "--trust-remote-code"])


def _wait_ladder(run, timeout: float | None, poll_s: float = 1.0, *, trust_remote_code: bool = False,
                 resume: str | None = None):
    """Block until a ladder's run is over: its probes have ended and the ladder is done, or its driver is gone
    (nothing will add probes; `lorplan recommend --run RUN` starts it again). While the driver lives, probes
    that all ended are only a pass: the driver is about to add the next. A ladder that has ended (done, or
    cancelled) with probes still queued and no scheduler is over too: they are not the ladder's to train, and no
    scheduler is started for them. Restarts a stalled scheduler as
    runner.wait does (trust_remote_code, resume: as runner.wait; a live driver, which restarts its run's
    scheduler with the consent it was started with, is left to do it); LorplanError after `timeout` seconds.
    Returns (RunStatus, ladder state)."""
    import time

    from lorplan.core.errors import LorplanError
    from lorplan.probe import runner

    deadline = None if timeout is None else time.monotonic() + timeout
    spaced = runner.SpaceWaitNotes(_say_space_wait)
    while True:
        st = runner.status(run)
        ladder = _ladder_state(run)
        if st.probes_ended and ladder != "running":  # the ladder's own state: done before its driver exits
            return st, ladder
        if ladder in ("done", "cancelled") and not st.scheduler_alive and not any(
                p.state == "running" for p in st.probes):  # what is still queued, nothing starts (restart_stalled)
            return st, ladder
        spaced.see(st)
        runner.restart_stalled(run, st, trust_remote_code=trust_remote_code, resume=resume)
        if deadline is not None and time.monotonic() >= deadline:
            left = ", ".join(f"{p.id} {p.state}" for p in st.probes if p.state in ("queued", "running"))
            raise LorplanError(f"run {run.id}: timed out after {timeout:g} s (the probe ladder is still running"
                               + (f": {left}" if left else ", its driver about to add probes") + ")"
                               + runner.timeout_space_note(st))
        time.sleep(poll_s)


def _say_space_wait(space_wait: dict) -> None:
    """probe wait's line, on stderr, when the probes it waits for begin to wait for disk space."""
    from lorplan.cli.probe_table import wait_space_note

    print(wait_space_note(space_wait), file=sys.stderr, flush=True)


def run_wait(args) -> int:
    from lorplan.probe import runner
    from lorplan.probe.runs import find_run

    run = find_run(args.run_id)
    ladder = _ladder_state(run)
    trusted, resume = args.trust_remote_code, _resume("wait", run, args)
    if ladder is None:
        st = runner.wait(run, timeout=args.timeout, trust_remote_code=trusted, resume=resume,
                         on_space_wait=_say_space_wait)
        ok = all(p.state == "finished" for p in st.probes)
    else:  # a ladder's probes ending is not its end: wait for the ladder (0 when it is done and ran them all)
        if ladder == "stopped" and not runner.status(run).probes_ended:  # said now, not only after the wait
            from lorplan.cli.probe_table import ladder_note

            print(ladder_note(run.id, ladder, _ladder_resume(run, ladder)), file=sys.stderr)
        st, ladder = _wait_ladder(run, args.timeout, trust_remote_code=trusted, resume=resume)
        ok = ladder == "done" and not st.not_run  # a probe the ended ladder left queued never ran: not finished
    if args.json:
        print_json(_status_json(run, st, ladder))
    else:
        from lorplan.cli.probe_table import print_table

        print_table(st, ladder=ladder, resume=_ladder_resume(run, ladder))
    return 0 if ok else 1


def run_cancel(args) -> int:
    from lorplan.probe import runner
    from lorplan.probe.runs import find_run

    run = find_run(args.run_id)
    # a whole ladder's run: its driver starts no further pass (one between passes has no probe to cancel)
    ladder = _ladder_state(run) in ("running", "stopped") if args.rank is None else False
    done = runner.cancel(run, rank=args.rank)
    if done or not ladder:
        print(f"cancelled {', '.join(done)}" if done else "nothing to cancel: those probes had already ended")
    if ladder:
        print(f"the probe ladder stops: no further pass starts; `lorplan recommend --run {run.id}` prints its "
              "recommendation from the probes that finished")
    return 0


def run_list(args) -> int:
    from lorplan.probe import runner
    from lorplan.probe.compare import rank_text
    from lorplan.probe.runs import RunDir, runs_dir

    rows = runner.summaries()
    for r in rows:  # a ladder's probes ending is not the ladder's end: its driver adds the next pass
        run = RunDir(Path(r["path"]))
        r["ladder"] = _ladder_json(run, _ladder_state(run))
        if r["ladder"] is not None:  # "state" says what the line does: the ladder's word, as status
            r["state"] = r["ladder"]["state"]
    if args.json:
        print_json({"runs_dir": str(runs_dir()), "runs": rows})
        return 0
    if not rows:
        print(f"no probe runs yet in {runs_dir()} (start one: lorplan probe start)")
        return 0
    from lorplan.core.columns import fit_line
    from lorplan.core.model.names import model_name
    from lorplan.core.units import terminal_limit

    limit = terminal_limit()
    for r in rows:
        counts = ", ".join(f"{n} {s}" for s, n in r["counts"].items())
        ranks = ",".join(rank_text(rank) for rank in r["ranks"])
        ladder = r["ladder"]
        state, what = r["state"], "ranks" if ladder is None else "ladder, ranks"
        # a folder by its short name (core.model.names.model_name: the shipped MiniLM's path inside site-packages
        # made each line 130 columns; --json keeps the full path); on a terminal narrower than the line, broken at
        # its width
        for line in fit_line(f"{r['run']}  {state:<9} {what} {ranks}  {counts}  {model_name(r['model'])}", limit):
            print(line)
    return 0


__all__ = ["register"]
