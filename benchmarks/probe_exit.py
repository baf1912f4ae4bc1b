"""How long a probe's process lives after its result: from result.json's modification time to the moment the
process exits (its alive.lock released), during which the scheduler counts the probe's slot busy. Prints each
probe's delay and their median.

Default: N single demo probes (all-MiniLM-L6-v2, rank 8, a few steps on the CPU), each started as the
scheduler starts it (python -m lorplan.probe.worker) and waited for. --ladder: the whole embedded demo ladder
(`lorplan recommend` with no arguments, ~2-3 min on 2 cores) in a private state folder, every probe's alive.lock
watched every 10 ms; it prints the ladder's wall time too, and where slots stood idle: on each slot, the time
from a probe's process exit to the next probe's launch there (the scheduler noticing the freed slot), and
between the ladder's passes, from the last probe's exit to the next pass's first launch, split into the driver
adding the pass (plan.json rewritten), the scheduler taking the run (scheduler.lock) and the launch. The
machine's load average is printed: on shared cores every figure moves with it, so compare runs made back to
back.

    .venv/bin/python benchmarks/probe_exit.py [--probes 3] [--steps 3]
    .venv/bin/python benchmarks/probe_exit.py --ladder
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def lock_held(path: Path) -> bool | None:
    """True while a process holds `path`'s flock, False once none does, None before the file exists."""
    from lorplan.probe.backend import lock_held as held

    return held(path) if path.exists() else None


def cpu_seconds(lock: Path) -> tuple[int, float] | None:
    """(pid, CPU seconds it used so far) of the process whose pid `lock` holds (scheduler.lock, ladder.lock)
    while it holds it, from /proc (Linux); None otherwise."""
    if not lock_held(lock):
        return None
    try:
        pid = int(lock.read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def watch_runs(runs: Path, stop: threading.Event, seen: dict, events: dict | None = None) -> None:
    """Every 10 ms until `stop`: for each probe folder under `runs`, when its alive.lock was first seen held and
    when it was first seen released after that (the process's exit), its result.json's mtime and its slot
    (proc.json). `events`, when given, gets the run's plan.json mtimes ("plan"), the times its scheduler.lock
    was seen taken ("scheduler"), pattern-signals.json's mtime ("signals") and the CPU seconds of each
    scheduler and driver process ("scheduler_cpu", "driver_cpu": pid -> seconds)."""
    while not stop.is_set():
        now = time.time()
        for folder in runs.glob("*/probes/*"):
            row = seen.setdefault(folder.name, {})
            held = lock_held(folder / "alive.lock")
            if held and "alive" not in row:
                row["alive"] = now
            if "slot" not in row and (folder / "proc.json").exists():
                try:
                    row["slot"] = json.loads((folder / "proc.json").read_text())["slot"]
                except (ValueError, KeyError):
                    pass  # being written: read on the next pass
            if "result" not in row and (folder / "result.json").exists():
                row["result"] = (folder / "result.json").stat().st_mtime
            if held is False and "alive" in row and "exit" not in row:
                row["exit"] = now
        if events is not None:
            for run in runs.glob("*/plan.json"):
                mtime = run.stat().st_mtime
                if mtime not in events.setdefault("plan", []):
                    events["plan"].append(mtime)
                held = lock_held(run.parent / "scheduler.lock")
                if held and not events.get("scheduler_held"):
                    events.setdefault("scheduler", []).append(now)
                events["scheduler_held"] = bool(held)
                for name, lock in (("scheduler", "scheduler.lock"), ("driver", "ladder.lock")):
                    cpu = cpu_seconds(run.parent / lock)
                    if cpu is not None:
                        events.setdefault(f"{name}_cpu", {}).update([cpu])
                signals = run.parent / "pattern-signals.json"
                if "signals" not in events and signals.exists():
                    events["signals"] = signals.stat().st_mtime
        time.sleep(0.01)


def idle_gaps(seen: dict, events: dict, passes: list[list[str]]) -> None:
    """Print, per slot, the seconds from a probe's exit to the next launch on that slot, and per pass after the
    first, the seconds from the last exit before it to its first launch, with when (from that exit) the last
    result was written, the pattern measurement wrote its file, plan.json was rewritten and the scheduler
    took its lock; and the CPU time the run's schedulers and its driver used."""
    by_slot: dict[int, list[dict]] = {}
    for row in seen.values():
        if "alive" in row and "slot" in row:
            by_slot.setdefault(row["slot"], []).append(row)
    within = []
    for slot in sorted(by_slot):
        rows = sorted(by_slot[slot], key=lambda r: r["alive"])
        gaps = [b["alive"] - a["exit"] for a, b in zip(rows, rows[1:], strict=False) if "exit" in a]
        gaps = [g for g in gaps if g < 3.0]  # a longer wait is a pass boundary, reported below
        within += gaps
        if gaps:
            print(f"  slot {slot}: exit to next launch {' '.join(f'{g:.2f}' for g in gaps)} s", flush=True)
    if within:
        print(f"freed slot to next launch (within a pass): median {statistics.median(within):.2f} s, "
              f"max {max(within):.2f} s over {len(within)} (sum {sum(within):.1f} s)")
    for k in range(1, len(passes)):
        before = [seen[p] for ps in passes[:k] for p in ps if p in seen and "exit" in seen[p]]
        after = [seen[p]["alive"] for p in passes[k] if p in seen and "alive" in seen[p]]
        if not before or not after:
            continue
        last_exit, last_result, first = (max(r["exit"] for r in before), max(r.get("result", 0) for r in before),
                                         min(after))
        plan = min((t for t in events.get("plan", []) if last_result <= t <= first), default=None)
        sched = min((t for t in events.get("scheduler", []) if (plan or last_exit) <= t <= first), default=None)
        parts = [f"last result.json {last_result - last_exit:+.2f} s"]
        if last_result - 1.0 <= events.get("signals", -1.0) <= first:
            parts.append(f"pattern-signals.json {events['signals'] - last_exit:+.2f} s")
        if plan is not None:
            parts.append(f"plan.json {plan - last_exit:+.2f} s")
        if sched is not None:
            parts.append(f"scheduler.lock {sched - last_exit:+.2f} s")
        print(f"pass {k + 1} ({len(passes[k])} probes): last exit to first launch {first - last_exit:.2f} s "
              f"({', '.join(parts)}, from the last exit)")
    for name in ("scheduler", "driver"):
        cpu = events.get(f"{name}_cpu", {})
        if cpu:
            print(f"{name} CPU time: {sum(cpu.values()):.2f} s over {len(cpu)} process{'es' if len(cpu) > 1 else ''}"
                  " (as last seen while it held its lock)")


def single_probes(a, state: Path) -> list[tuple[str, float]]:
    """Demo probes started one at a time as the scheduler starts them; (probe, seconds from result.json's
    mtime to the process's exit) each."""
    os.environ["XDG_STATE_HOME"] = str(state)
    from lorplan.probe import runner
    from lorplan.probe.backend import child_env
    from lorplan.probe.runs import create_run

    ranks = tuple(8 + i for i in range(a.probes))  # distinct ranks: distinct probe ids in one run
    run = create_run(runner.make_plan(ranks, steps=a.steps, micro_batch=4, eval_every=a.steps, eval_examples=8,
                                      device="cpu"), state / "lorplan" / "runs")
    env = child_env({"LORPLAN_PROBE_DEVICE": "cpu", "LORPLAN_PROBE_THREADS": str(a.threads)})
    delays = []
    for probe in run.plan().probes:
        folder = run.probe_dir(probe.id)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "stdout.log", "ab") as out, open(folder / "stderr.log", "ab") as err:
            proc = subprocess.Popen([sys.executable, "-m", "lorplan.probe.worker", str(run.path), probe.id],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=folder)
        proc.wait()
        ended = time.time()
        if proc.returncode != 0:
            raise SystemExit(f"probe {probe.id} exited {proc.returncode}: {(folder / 'stderr.log').read_text()[-2000:]}")
        delays.append((probe.id, ended - run.result_path(probe.id).stat().st_mtime))
        print(f"  {probe.id}: result.json to exit {delays[-1][1]:.2f} s", flush=True)
    return delays


def ladder(state: Path) -> tuple[list[tuple[str, float]], float]:
    """The demo ladder (`lorplan recommend`) with its probes watched; (probe, delay) each and the wall time.
    Prints the idle gaps (idle_gaps)."""
    runs = state / "lorplan" / "runs"
    runs.mkdir(parents=True)
    seen: dict = {}
    events: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_runs, args=(runs, stop, seen, events), daemon=True)
    watcher.start()
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lorplan", "recommend"], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    time.sleep(0.5)
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"lorplan recommend exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    delays = []
    for probe, row in sorted(seen.items(), key=lambda kv: kv[1].get("alive", 0)):
        if "result" in row and "exit" in row:
            delays.append((probe, row["exit"] - row["result"]))
            print(f"  {probe}: trained {row['result'] - row['alive']:.1f} s, result.json to exit "
                  f"{delays[-1][1]:.2f} s", flush=True)
    passes = []
    for state_file in runs.glob("*/ladder-state.json"):
        passes = [[d["id"] for d in p.get("specs", [])] for p in json.loads(state_file.read_text())["passes"]]
    idle_gaps(seen, events, passes)
    return delays, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladder", action="store_true", help="the whole demo ladder (lorplan recommend)")
    ap.add_argument("--probes", type=int, default=3, help="single probes, one after another (default 3)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of a single probe (default 1)")
    a = ap.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    with tempfile.TemporaryDirectory(prefix="lorplan-probe-exit-") as tmp:
        if a.ladder:
            delays, wall = ladder(Path(tmp))
        else:
            delays, wall = single_probes(a, Path(tmp)), None
    seconds = [d for _, d in delays]
    print(f"result.json to process exit: median {statistics.median(seconds):.2f} s, min {min(seconds):.2f} s, "
          f"max {max(seconds):.2f} s over {len(seconds)} probes (sum {sum(seconds):.1f} s)")
    if wall is not None:
        print(f"ladder wall time: {wall:.1f} s")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
