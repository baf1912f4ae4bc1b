"""Probe trainings: short LoRA runs at several ranks, in background processes that outlive the terminal.

Layout (one idea per module):
  runs.py      run folders on disk (plan.json, per-probe files), atomic writes, run ids
  events.py    the append-only JSON-lines event log and the result file; tolerant reading
  status.py    a probe's state derived from its files and process liveness
  backend.py   where probes run: `Backend` interface, `LocalProcessBackend` (processes on this machine)
  scheduler.py the detached per-run scheduler process (launches queued probes up to the parallelism)
  runner.py    what the CLI and TUI call: start, status, wait, cancel, retry, list
  plans.py     the Plan each probe trains (the run's plan at the probe's rank, briefly)
  worker.py    the child process: runs that plan through lorplan.train.engine (imports torch; never imported
               by the CLI or TUI)
  demo.py      the embedded default: a generated task (which shelf a thing goes on) for all-MiniLM-L6-v2

Everything except worker.py is free of torch: importing lorplan.probe never imports torch.
"""

from __future__ import annotations

from lorplan.probe.runs import STATES, TERMINAL_STATES, ProbeSpec, RunPlan, runs_dir

__all__ = ["STATES", "TERMINAL_STATES", "ProbeSpec", "RunPlan", "runs_dir"]
