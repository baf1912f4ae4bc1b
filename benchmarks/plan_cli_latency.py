"""How long `lorplan plan --model <catalog id> --json` takes, end to end (fresh process), and its parts.

Prints the median wall time of N runs of the command, of `python -c pass` (interpreter start, the floor), and
of load_spec + rank_table in-process. Target: the command answers well under a second.

    python benchmarks/plan_cli_latency.py [--runs 7] [--model ID]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL)
        if done.returncode not in (0, 1):  # 1 = no rank fits the budget, still a complete answer
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}")
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--model", default="meta-llama/Llama-3.1-8B-Instruct")
    args = ap.parse_args()
    py = sys.executable
    floor = wall([py, "-c", "pass"], args.runs)
    help_t = wall([py, "-m", "lorplan", "--help"], args.runs)
    plan_t = wall([py, "-m", "lorplan", "plan", "--model", args.model, "--json"], args.runs)
    big_t = wall([py, "-m", "lorplan", "plan", "--model", "Qwen/Qwen3-30B-A3B", "--json", "--gpu", "H100"], args.runs)

    from lorplan.core.memory import TrainingSetup, rank_table
    from lorplan.core.model import load_spec

    t = time.perf_counter()
    spec = load_spec(args.model)
    t_spec = time.perf_counter() - t
    t = time.perf_counter()
    rank_table(spec, TrainingSetup())
    t_table = time.perf_counter() - t
    print(f"interpreter start (python -c pass):      {floor * 1000:7.1f} ms")
    print(f"lorplan --help:                          {help_t * 1000:7.1f} ms")
    print(f"lorplan plan --model {args.model} --json: {plan_t * 1000:7.1f} ms  ({plan_t / floor:.1f}x interpreter start)")
    print(f"lorplan plan --model Qwen/Qwen3-30B-A3B --json --gpu H100: {big_t * 1000:7.1f} ms")
    print(f"in-process load_spec (first, uncached):  {t_spec * 1000:7.1f} ms")
    print(f"in-process rank_table (9 ranks):         {t_table * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
