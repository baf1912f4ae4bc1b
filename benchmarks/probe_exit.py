"""How long a probe's process lives after its result: from result.json's modification time to the moment the
process exits (its alive.lock released), during which the scheduler counts the probe's slot busy. Prints each
probe's delay and their median.

Default: N single demo probes (all-MiniLM-L6-v2, rank 8, a few steps on the CPU), each started as the
scheduler starts it (python -m lorplan.probe.worker) and waited for. --ladder: the whole embedded demo ladder
(`lorplan recommend` with no arguments, ~2-3 min on 2 cores) in a private state folder, every probe's alive.lock
watched every 10 ms; it prints the ladder's wall time too. The machine's load average is printed: on shared
cores both figures move with it, so compare runs made back to back.

    .venv/bin/python benchmarks/probe_exit.py [--probes 3] [--steps 3]
    .venv/bin/python benchmarks/probe_exit.py --ladder
"""

from __future__ import annotations

import argparse
import fcntl
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
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def watch_runs(runs: Path, stop: threading.Event, seen: dict) -> None:
    """Every 10 ms until `stop`: for each probe folder under `runs`, when its alive.lock was first seen held and
    when it was first seen released after that (the process's exit), and its result.json's mtime."""
    while not stop.is_set():
        now = time.time()
        for folder in runs.glob("*/probes/*"):
            row = seen.setdefault(folder.name, {})
            held = lock_held(folder / "alive.lock")
            if held and "alive" not in row:
                row["alive"] = now
            if "result" not in row and (folder / "result.json").exists():
                row["result"] = (folder / "result.json").stat().st_mtime
            if held is False and "alive" in row and "exit" not in row:
                row["exit"] = now
        time.sleep(0.01)


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
    """The demo ladder (`lorplan recommend`) with its probes watched; (probe, delay) each and the wall time."""
    runs = state / "lorplan" / "runs"
    runs.mkdir(parents=True)
    seen: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_runs, args=(runs, stop, seen), daemon=True)
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
