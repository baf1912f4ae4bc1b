"""The per-run scheduler: a detached process (own session) that launches queued probes up to the parallelism.

`lorplan probe start` writes the run folder, starts this process and returns at once. The scheduler holds
scheduler.lock while it lives; a second scheduler for the same run waits for that lock, then finds nothing left
to do (or the probes a retry queued meanwhile) — so "start another one" is always safe. It exits when no probe
is queued or running. Probes launched by an earlier scheduler still occupy their slot (read from proc.json).

It looks again every POLL_S seconds, and at once when a probe it launched exits: each child holds the write end
of a pipe, whose read end the scheduler waits on, so a freed slot gets its next probe without waiting out the
poll. At each look it reads the probes' files (a retried probe is queued again by them), and plan.json only when
its stamp (inode, mtime, size) changed: probes added to the run meanwhile (a ladder's next pass) are launched by
this scheduler.

A run that asks for its model's own Python code gets probes only from a scheduler started with
--trust-remote-code (the user's, handed down by the command that started it: lorplan.probe.consent), which it
hands to each probe; one started without it launches none of them, leaves them queued and exits.

A probe that failed for want of space (its result says out_of_space: the disk or quota of the run folder filled)
stops the launching: the next probe would fail the same way on the same disk. The probes still running go on,
the queued ones stay queued, and the scheduler exits when the running ones end, saying why in scheduler.log
(as the disk lets it). Nor is a probe launched onto a disk with less than twice the worker's reserve free
(lorplan.probe.result.RESERVE_BYTES): a scheduler restarted on a disk still full launches nothing. The disk is
asked (lorplan.probe.status.space_short, which sets that much aside for a moment) only when a slot is free for a
queued probe, just before its launch: a run whose slots are all busy does not touch the disk for it. A write of
proc.json that finds no space stops it the same way, the probe it had just
started stopped and queued again. Each stop is also written in no_space.json (lorplan.probe.status.note_space_wait,
as the disk lets it), which `lorplan probe status` and `wait` read to say that the run waits for space; a
launch removes it. `lorplan probe status`, once there is space, starts a scheduler for them.

Nor is a probe launched for a probe ladder that has ended (RunDir.ladder_end: done, or cancelled): its driver no
longer reads results, and nothing else starts its queued probes (runner.restart_stalled). A retry that queued one
in the moment the ladder ended started a scheduler that launched it, with every probe the ladder left queued. The
ladder's state is read when a slot is free for a queued probe, before its launch; on an ended ladder the
scheduler launches nothing, says why in scheduler.log (the retry's refusal, status.ended_ladder_refusal) and
exits once the probes it launched end; the queued ones are `not run` (RunStatus.not_run).

Stdlib only: python -m lorplan.probe.scheduler RUN_DIR [--trust-remote-code]
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lorplan.probe import consent
from lorplan.probe.backend import (
    LocalProcessBackend,
    LocksRefused,
    child_env,
    device_slots,
    exclusive,
    flock,
    try_lock,
)
from lorplan.probe.events import log_line
from lorplan.probe.result import OUT_OF_SPACE
from lorplan.probe.runs import RunDir, atomic_write_json, read_json
from lorplan.probe.status import (
    clear_space_wait,
    ended_ladder_refusal,
    note_space_wait,
    plan_stamp,
    space_resume,
    space_short,
    stay_queued,
)

POLL_S = 0.5


def probe_queued(run: RunDir, probe_id: str) -> bool:
    """Not launched, not ended, not cancelled."""
    return not (
        run.proc_path(probe_id).exists()
        or run.result_path(probe_id).exists()
        or run.cancel_marker(probe_id).exists()
    )


def launch(run: RunDir, probe_id: str, slot_index: int, slot: dict, cpu_threads: int,
           slot_fd: int | None = None, exit_fd: int | None = None, trusted: bool = False) -> subprocess.Popen:
    """Start one probe in its own session with its alive.lock held (and slot_fd, the machine-wide lock of its
    device slot, and exit_fd, the write end of a pipe the scheduler waits on, which it then holds until it
    exits; both are closed here), and record it in proc.json; `trusted`: hand the probe the user's
    --trust-remote-code. Call with the run's queue.lock held."""
    pdir = run.probe_dir(probe_id)
    pdir.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(run.alive_lock(probe_id), os.O_RDWR | os.O_CREAT, 0o644)
    held = (lock_fd, *(fd for fd in (slot_fd, exit_fd) if fd is not None))
    try:
        flock(lock_fd, fcntl.LOCK_EX, run.alive_lock(probe_id))
        env = child_env(
            {
                "CUDA_VISIBLE_DEVICES": slot["cuda_visible"],
                "LORPLAN_PROBE_DEVICE": slot["device"],
                "LORPLAN_PROBE_THREADS": str(cpu_threads),
            }
        )
        with open(pdir / "stdout.log", "ab") as out, open(pdir / "stderr.log", "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lorplan.probe.worker", str(run.path), probe_id, *consent.flag(trusted)],
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=held,
                env=env,
                cwd=pdir,
            )
    finally:
        for fd in held:
            os.close(fd)  # the child's copies keep the locks until it exits
    try:
        _write_proc(run, probe_id, proc, slot_index, slot)
    except OSError:  # untracked, the probe would run unseen and be launched again: stopped, it stays queued
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        run.events_path(probe_id).unlink(missing_ok=True)
        raise
    return proc


def _write_proc(run: RunDir, probe_id: str, proc: subprocess.Popen, slot_index: int, slot: dict) -> None:
    atomic_write_json(
        run.proc_path(probe_id),
        {
            "pid": proc.pid,
            "pgid": proc.pid,
            "host": socket.gethostname(),
            "device": slot["device"],
            "cuda_visible_devices": slot["cuda_visible"],
            "slot": slot_index,
            "slot_name": slot.get("name"),
            "launched": round(time.time(), 3),
            "scheduler_pid": os.getpid(),
        },
    )


def cpu_threads(cpu_slots: int) -> int:
    """Torch threads for one CPU probe: the cores not already busy (1-minute load average), shared among the
    CPU slots. An oversubscribed machine gets 1 thread: OpenMP threads that wait for each other on busy
    cores make every step many times slower than one thread does."""
    cores = os.cpu_count() or 1
    try:
        idle = cores - round(os.getloadavg()[0])
    except OSError:
        idle = cores
    return max(1, min(cores, idle) // max(1, cpu_slots))


def schedule(run: RunDir, trusted: bool = False) -> None:
    """Launch queued probes as slots free up; return when none is queued or running, or at once (nothing
    launched) when the run asks for its model's own code and `trusted` (the user's --trust-remote-code, handed
    to this process) is False."""
    backend = LocalProcessBackend()
    read_stamp = plan_stamp(run)  # before the read: a rewrite between the two is read at the next look
    plan = run.plan()
    model = consent.asks_remote_code(plan)
    slots = device_slots(plan.device, plan.max_parallel)
    cpu_slots = sum(1 for s in slots if s["device"] == "cpu")
    children: dict[int, subprocess.Popen] = {}  # the read end of each child's exit pipe -> the child
    lingering: list[subprocess.Popen] = []  # children that closed their pipe yet live on
    launched: list[str] = []  # the probes this scheduler launched, whose results it reads as they end
    try:
        while True:
            lingering[:] = [c for c in lingering if c.poll() is None]  # reap them (no zombies)
            with exclusive(run.queue_lock):
                # plan.json changes only when probes are added (runs.add_probes: a ladder's next pass, written
                # under queue.lock, replacing the file); a retry moves a probe's files and leaves it as it is,
                # and probe_queued reads those files at every look. So read the plan again only when it changed.
                stamp = plan_stamp(run)
                if stamp != read_stamp:
                    read_stamp, plan = stamp, run.plan()
                    model = consent.asks_remote_code(plan)
                if model is not None and not trusted:
                    print(f"{time.strftime('%H:%M:%S')} launched nothing: "
                          + consent.refusal(run.id, model, consent.status_command(run.id)),
                          flush=True)
                    break
                full = _out_of_space(run, launched)
                if full is not None:
                    _stop_for_space(run, full, sum(probe_queued(run, p.id) for p in plan.probes), model)
                    break
                try:
                    if not _launch_queued(run, plan, slots, cpu_slots, backend, children, trusted, launched):
                        break
                except _SpaceShort as short:
                    _stop_for_space(run, short.reason, short.queued, model)
                    break
                except _LadderEnded as ended:
                    print(f"{time.strftime('%H:%M:%S')} launched nothing: {ended}", flush=True)
                    break
                except OSError as exc:
                    if exc.errno not in OUT_OF_SPACE:
                        raise
                    _stop_for_space(run, f"could not write {exc.filename or run.path} ({exc.strerror or exc})",
                                    "the probes not started", model)
                    break
            _wait_for_exit(children, lingering, POLL_S)
    finally:
        for fd, child in children.items():
            os.close(fd)
            lingering.append(child)
        for child in lingering:
            child.wait()  # nothing is left running when we get here; this only reaps


def _stop_for_space(run: RunDir, reason: str, queued: int | str, own_code: str | None) -> None:
    """Say in scheduler.log, and in no_space.json for `probe status`, that this scheduler launches nothing more
    for want of space (`reason`) and that `queued` (a count of probes, or which probes in words) stay queued until
    there is space (own_code: the model whose own code the run asks to run, if any: space_resume names the command
    that starts them)."""
    waiting = stay_queued(queued) if isinstance(queued, int) else f"{queued} stay queued"
    log_line(f"launched nothing more: {reason}; {waiting}: free space there, then "
             f"`{space_resume(run.id, own_code)}` starts them")
    note_space_wait(run, reason)


def _out_of_space(run: RunDir, launched: list[str]) -> str | None:
    """Why launching stops, when a probe this scheduler launched failed for want of space; else None. Only
    this scheduler's probes count: one that failed so before a restart (the user freed space since, and
    asked again) does not stop the probes it left queued."""
    for probe_id in launched:
        result = read_json(run.result_path(probe_id))
        if result is not None and result.get("out_of_space") is True:
            return f"probe {probe_id} found no space left in {run.path}"
    return None


class _SpaceShort(Exception):
    """_launch_queued had a slot for a queued probe, and the run folder's disk has no room for it (`reason`, from
    lorplan.probe.status.space_short, which `probe status` reads too); `queued` probes stay queued."""

    def __init__(self, reason: str, queued: int) -> None:
        super().__init__(reason)
        self.reason, self.queued = reason, queued


class _LadderEnded(Exception):
    """_launch_queued had a slot for a queued probe of a probe ladder that has ended (RunDir.ladder_end): nothing
    launched; the message is the retry's refusal (status.ended_ladder_refusal), naming every probe queued."""


def _wait_for_exit(children: dict[int, subprocess.Popen], lingering: list[subprocess.Popen],
                   timeout_s: float) -> None:
    """Sleep until one of our children exits (its pipe's write end closed: EOF on the read end) or timeout_s
    passes. An exited child is reaped and forgotten: waitpid returns once its descriptors, alive.lock's
    included, are released, so the next look sees its slot free."""
    if not children:
        time.sleep(timeout_s)
        return
    ready, _, _ = select.select(list(children), [], [], timeout_s)
    for fd in ready:
        if os.read(fd, 1):
            continue  # a child wrote to it (none does): still alive as far as the pipe tells
        child = children.pop(fd)
        os.close(fd)
        try:
            child.wait(timeout=timeout_s)  # a moment: the pipe closed as the process exited
        except subprocess.TimeoutExpired:
            lingering.append(child)  # it closed the pipe itself: its alive.lock says when it ends


def _launch_queued(run: RunDir, plan, slots: list[dict], cpu_slots: int, backend: LocalProcessBackend,
                   children: dict[int, subprocess.Popen], trusted: bool = False,
                   launched: list[str] | None = None) -> bool:
    """Launch queued probes of `plan` on its free slots, adding each child's exit pipe to `children` (and each
    probe's id to `launched`); False when no probe is queued or running (the scheduler is done). Call with the
    run's queue.lock held. OSError when a launch's files cannot be written (that probe stays queued);
    _SpaceShort, nothing launched, when a slot is free for a probe and the disk has no room for one (asked then
    only, once per call: a run whose slots are all busy does not touch the disk for it); _LadderEnded, nothing
    launched, when a slot is free for a probe and the probe ladder that drives the run has ended (read then
    only, as the disk)."""
    busy: set[int] = set()
    running = 0
    for p in plan.probes:
        # a probe holds its slot until its process exits, a moment after its result is written
        # (lorplan.probe.worker.exit_promptly): counted busy until then, or its slot would look taken by another
        # run (waiting.json) while the run waits for its own ended probe
        proc = read_json(run.proc_path(p.id))
        if proc is not None and backend.probe_alive(run, p.id):
            busy.add(int(proc.get("slot", -1)))
            running += 1
    queued = [p.id for p in plan.probes if probe_queued(run, p.id)]
    free = [i for i in range(len(slots)) if i not in busy]
    if queued and free:  # a probe would be launched: not one of a ladder that has ended
        ended = run.ladder_end()
        if ended is not None:
            _note_waiting(run, [])  # it waits for no slot: it is not run
            raise _LadderEnded(ended_ladder_refusal(run.id, queued, ended, "not launched"))  # every one named
    taken: list[str] = []  # machine-wide slots another run holds
    asked = False  # the disk, for room for a probe
    for slot_index in free:
        if not queued:
            break
        probe_id = queued[0]
        # the lock file's note ("RUN PROBE", for probe status) is written once the disk has room: on a disk with
        # nothing free that write fails, and the lock it was for must not stay held
        fd = try_lock(run.slot_lock(slots[slot_index]["name"]))
        if fd is None:
            taken.append(slots[slot_index]["name"])
            continue
        try:
            if not asked:
                asked = True
                short = space_short(run.path)  # also when the size is unknown (statvfs failed, a size of 0): None
                if short is not None:
                    raise _SpaceShort(short[0], len(queued))  # the slot stays free
            os.pwrite(fd, f"{run.id} {probe_id}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        queued.pop(0)
        exited, exit_fd = os.pipe()
        try:
            child = launch(run, probe_id, slot_index, slots[slot_index], cpu_threads(cpu_slots), fd, exit_fd,
                           trusted)
        except BaseException:
            os.close(exited)
            raise
        children[exited] = child
        clear_space_wait(run)
        if launched is not None:
            launched.append(probe_id)
        print(f"{time.strftime('%H:%M:%S')} launched {probe_id} on {slots[slot_index]['device']}", flush=True)
        running += 1
    _note_waiting(run, taken if queued else [])
    return running > 0 or bool(queued)


def _note_waiting(run: RunDir, taken: list[str]) -> None:
    """waiting.json names the device slots other runs hold while this run's queued probes wait for them,
    rewritten when they change (a slot taken since by this run's own probe is no longer waited for); "since"
    is when the wait began."""
    if taken:
        waiting = read_json(run.waiting_path)
        if waiting is None or waiting.get("slots") != taken:
            since = waiting.get("since") if waiting is not None else None
            atomic_write_json(run.waiting_path, {"slots": taken, "since": since or round(time.time(), 3)})
    elif run.waiting_path.exists():
        run.waiting_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run = RunDir(Path(argv[0]))
    trusted = consent.TRUST_FLAG in argv[1:]  # given by the command the user typed it on, never by the folder
    try:
        with exclusive(run.scheduler_lock) as fd:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            print(f"{time.strftime('%H:%M:%S')} scheduler {os.getpid()} for run {run.id}", flush=True)
            schedule(run, trusted)
            print(f"{time.strftime('%H:%M:%S')} scheduler done", flush=True)
    except LocksRefused as exc:  # submit tests the folder first: a file system that stopped taking locks since
        print(f"{time.strftime('%H:%M:%S')} {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
