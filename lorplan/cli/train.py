"""`lorplan train PLAN.toml [--resume] [--max-steps N] [--output DIR]`: run the plan.

With hardware.gpus > 1 the command re-executes itself under `accelerate launch` (one process per GPU).
"""

from __future__ import annotations

import argparse
import os
import sys

from lorplan.cli._common import positive_int


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a plan (transformers + peft), with checkpoints and resume",
        description="Train the plan with transformers + peft (+ bitsandbytes on CUDA). Saves checkpoints every "
        "training.save_steps, resumes from the newest complete one with --resume, saves the adapter in peft's "
        "format and compares the measured peak memory with the plan's estimate.",
    )
    p.add_argument("plan", metavar="PLAN.toml")
    p.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    p.add_argument("--max-steps", type=positive_int("--max-steps"), metavar="N",
                   help="stop after N optimizer steps (overrides the plan)")
    p.add_argument("--output", metavar="DIR", help="output folder (default: training.output_dir of the plan)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
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
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lorplan.core.plan import read_plan
    from lorplan.train.launch import (
        UNDER_LAUNCH_ENV,
        accelerate_command,
        needs_launcher,
        run_forwarding,
        write_accelerate_config,
    )

    plan = read_plan(args.plan)
    if needs_launcher(plan):
        out = Path(args.output or plan.training.output_dir)
        config = write_accelerate_config(plan, out)
        cmd = accelerate_command(plan, args.plan, config, train_args(args))
        print("launching: " + " ".join(cmd), file=sys.stderr, flush=True)
        return run_forwarding(cmd, {**os.environ, UNDER_LAUNCH_ENV: "1"})

    from lorplan.train.runner import run_training
    from lorplan.train.stop import TrainingInterrupted

    try:
        run_training(plan, plan_path=args.plan, output_dir=args.output, max_steps=args.max_steps,
                     resume=args.resume, progress=not args.no_progress)
    except TrainingInterrupted as exc:
        print(f"lorplan: {exc}", file=sys.stderr)
        return 128 + int(exc.signum)
    return 0
