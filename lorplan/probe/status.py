"""A probe's state, derived only from its files and whether its process lives.

    result.json present                     -> the state it records (finished, failed, oom, cancelled)
    launched (proc.json), process alive     -> running
    launched, process gone, no result       -> died (cancelled when a cancel was asked), at its last step
    not launched                            -> queued (cancelled when a cancel was asked)

The run is "running" until no probe is queued or running and no driver lives that adds probes (a probe
ladder's, holding RunDir.driver_lock), then "cancelled" (the user cancelled the run, or every probe) or "done".
A ladder that has ended (RunDir.ladder_end) starts nothing more: its probes still queued with no scheduler alive
are not run (RunStatus.not_run), their message says so, and the run does not wait for them.
It is "waiting" while its queued probes wait for disk space (RunStatus.space_wait): the scheduler launches no
probe onto a disk with under MIN_FREE_BYTES free (space_short), nor after one of its probes found no space, and
says so in no_space.json (note_space_wait); `lorplan probe status` starts them once there is space.

`RunWatcher` keeps one incremental reader per event log, so the TUI re-reads only what was appended, and
follows the run's plan.json: a probe ladder's driver adds probes to it as its passes start (runs.add_probes).
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lorplan.core.errors import LorplanError
from lorplan.core.units import and_list, counted
from lorplan.probe.backend import Backend, driver_alive, get_backend, lock_held
from lorplan.probe.compare import compare_ranks
from lorplan.probe.consent import asks_remote_code, status_command
from lorplan.probe.events import EventTail
from lorplan.probe.result import OUT_OF_SPACE, RESERVE_BYTES, checked_fields, read_result
from lorplan.probe.runs import RunDir, RunPlan, atomic_write_json, read_json

# The scheduler launches no probe onto a disk with less free: twice what a probe's worker sets aside at its start.
MIN_FREE_BYTES = 2 * RESERVE_BYTES


def space_short(path: Path) -> tuple[str, int | None] | None:
    """(why, free bytes) when the disk of `path` has less than MIN_FREE_BYTES free, so the scheduler launches
    no probe there; None when it has more, or its size is unknown (statvfs failed, or a file system without
    statfs, a FUSE one, answers every count 0). A disk whose statvfs shows room is asked for the space itself:
    a full quota (EDQUOT), which statvfs does not count, refuses MIN_FREE_BYTES allocated in `path`
    (_allocates), and is short too, its free bytes None (unknown)."""
    return _short(path, lambda free: _allocates(path))


# How long a poller takes the allocation's answer for one run folder as it stands (polled_space_short).
SPACE_RECHECK_S = 30.0

# The run folders whose allocation a process remembers (polled_space_short): the longest asked ago are forgotten
# past it, as are folders removed since, so a process that polls run after run (the TUI) keeps no more.
ASKED_MAX = 64


@dataclass(frozen=True)
class _Asked:
    """polled_space_short's last allocation in one run folder, in this process."""

    when: float  # time.monotonic() then
    free_bytes: int  # statvfs's free bytes then
    marker: tuple[int, int] | None  # no_space.json's stamp then (_stamp)
    refusal: str | None  # the allocation's refusal, None: it could be made


# run folder -> its _Asked, the most recently allocated last
_asked: dict[str, _Asked] = {}


def polled_space_short(run: RunDir) -> tuple[str, int | None] | None:
    """space_short(run.path) for a look that is repeated while the run's probes wait (the ladder's driver every
    POLL_S, `probe wait` every second, `recommend --run --wait`, the Probes tab): statvfs at every look, a disk
    it shows short answered at once; MIN_FREE_BYTES allocated and removed at most once per SPACE_RECHECK_S per
    run folder, its answer taken as it stands in between. Asked again sooner when a scheduler has written
    no_space.json since (it found no room where the answer said room), or, after a refusal, at the first look
    where the disk has MIN_FREE_BYTES more free than at that allocation (files deleted: the quota may have room;
    other processes' files that come and go on a busy disk, back to where they were, ask no more, since a refused
    ask at their high is the new level). A new process asks at once. Remembered for at most ASKED_MAX run folders
    that still exist."""
    path = run.path
    key = str(path)

    def allocation(free: int) -> str | None:
        asked = _asked.get(key)
        marker = _stamp(space_marker(run))
        if asked is not None and not _stale(asked, free, marker):
            return asked.refusal
        refusal = _allocates(path)  # the stamp read before it: a later one asks again
        _asked.pop(key, None)
        _asked[key] = _Asked(time.monotonic(), free, marker, refusal)
        _forget(key)
        return refusal

    return _short(path, allocation)


def _forget(kept: str) -> None:
    """Drop from _asked the run folders removed since, then the longest asked ago past ASKED_MAX (`kept` stays)."""
    for key in [k for k in _asked if k != kept and not os.path.isdir(k)]:
        del _asked[key]
    for key in list(_asked)[:max(0, len(_asked) - ASKED_MAX)]:
        if key != kept:
            del _asked[key]


def _short(path: Path, allocation: Callable[[int], str | None]) -> tuple[str, int | None] | None:
    """space_short's answer, with `allocation(free bytes)` giving the refusal of MIN_FREE_BYTES set aside in
    `path` (None: it could be) once statvfs shows room or cannot tell (a FUSE disk answering 0)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    if usage.total != 0 and usage.free < MIN_FREE_BYTES:
        return _too_little(path, usage.free)
    return _refused(path, allocation(usage.free))


def _stale(asked: _Asked, free: int, marker: tuple[int, int] | None) -> bool:
    """Whether polled_space_short allocates again rather than take `asked`, its last answer for a run folder
    whose disk has `free` bytes free now and whose no_space.json has the stamp `marker` (None: none)."""
    return (time.monotonic() - asked.when >= SPACE_RECHECK_S
            or (marker is not None and marker != asked.marker)
            or _grew(asked, free))


def _grew(asked: _Asked, free: int) -> bool:
    """After a refusal, whether the disk shows MIN_FREE_BYTES more free than at that allocation: files deleted,
    asked at the next look. Not counted from the most free seen at any look since, which a disk freed a little
    at a time (under MIN_FREE_BYTES a look) followed without ever asking, nor limited to once per
    SPACE_RECHECK_S: a user who deleted files, was still refused and deleted more then waited up to 30 s. Each
    ask is a new level, so highs that come back to it (a busy disk) ask no more."""
    return asked.refusal is not None and free - asked.free_bytes >= MIN_FREE_BYTES


def _stamp(path: Path) -> tuple[int, int] | None:
    """(inode, mtime in ns) of a file, None when there is none: a rewrite (atomic_write_json) changes both."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _too_little(path: Path, free: int) -> tuple[str, int]:
    return (f"{path} has {free // 1024} KiB free, less than a probe needs ({MIN_FREE_BYTES // 1024} KiB)", free)


def _refused(path: Path, refusal: str | None) -> tuple[str, None] | None:
    if refusal is None:
        return None
    return f"could not set aside {MIN_FREE_BYTES // 1024} KiB in {path} ({refusal}), what a probe needs", None


def _allocates(path: Path) -> str | None:
    """The OS's reason when MIN_FREE_BYTES cannot be allocated in the folder `path` for want of space (no space,
    quota, file size); None when they can, or when it cannot tell (no fallocate there, a folder it cannot
    write, no such folder). The file, .space-check-PID, is removed at once."""
    allocate = getattr(os, "posix_fallocate", None)  # not in macOS's Python: it cannot tell
    if allocate is None:
        return None
    check = Path(path) / f".space-check-{os.getpid()}"
    fd = None
    try:
        fd = os.open(check, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        allocate(fd, 0, MIN_FREE_BYTES)
    except OSError as exc:
        return (exc.strerror or os.strerror(exc.errno)) if exc.errno in OUT_OF_SPACE else None
    finally:
        if fd is not None:
            os.close(fd)
            try:
                check.unlink()
            except OSError:
                pass
    return None


def space_resume(run_id: str, own_code: str | None = None) -> str:
    """The command that starts a run's queued probes once there is disk space again. own_code: the model whose
    own code the run asks to run (consent.asks_remote_code), when it does: then only the command given the
    user's --trust-remote-code starts them (consent.status_command); the plain one would refuse."""
    return status_command(run_id) if own_code is not None else f"lorplan probe status {run_id}"


def stay_queued(queued: int) -> str:
    """"1 probe stays queued", "3 probes stay queued": what waits for space, in the scheduler's log and the note
    `probe status` prints."""
    return f"{counted(queued, 'probe')} {'stays' if queued == 1 else 'stay'} queued"


def space_marker(run: RunDir) -> Path:
    """no_space.json: the scheduler that stopped launching for want of space, and why."""
    return run.path / "no_space.json"


def note_space_wait(run: RunDir, reason: str) -> None:
    """Record that this scheduler launches nothing more for want of space (`reason`, the line scheduler.log
    says), for `lorplan probe status` to say. As the full disk lets it: without the file, status reads the
    disk itself once the scheduler has exited (RunWatcher._space_wait)."""
    try:
        atomic_write_json(space_marker(run), {"reason": reason, "scheduler_pid": os.getpid(),
                                              "since": round(time.time(), 3)})
    except OSError:
        pass


def clear_space_wait(run: RunDir) -> None:
    """A probe was launched: the run no longer waits for space."""
    try:
        space_marker(run).unlink(missing_ok=True)
    except OSError:
        pass


@dataclass
class Curves:
    """What the plot shows for one probe: loss per step and eval loss/accuracy at eval steps."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    tokens_per_second: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    started: dict | None = None
    loading_t: float | None = None
    last_t: float | None = None
    train_seconds: float = 0.0  # the steps' own time, summed (model loading excluded)

    problems: list[str] = field(default_factory=list)  # events whose fields were of the wrong type

    def add(self, ev: dict) -> None:
        """Take one event in. A field of the wrong type (a string loss) counts as missing, said once in
        `problems`; the worker never writes one, a hand edit or a damaged disk may."""
        kind = ev.get("type")
        ev, wrong = checked_fields(ev)
        if wrong and not self.problems:
            self.problems.append(f"an event of type {str(kind)[:20]!r} read as missing: {', '.join(wrong)}")
        self.last_t = ev.get("t") or self.last_t
        if kind == "loading":
            self.loading_t = ev.get("t")
        elif kind == "started":
            self.started = ev
        elif kind == "step" and ev.get("step") is not None:
            self.steps.append(ev["step"])
            self.loss.append(_or_nan(ev.get("loss")))
            self.tokens_per_second.append(ev.get("tokens_per_second") or 0.0)
            self.train_seconds += ev.get("seconds") or 0.0
        elif kind == "eval" and ev.get("step") is not None:
            self.eval_steps.append(ev["step"])
            self.eval_loss.append(_or_nan(ev.get("eval_loss")))
            if ev.get("eval_accuracy") is not None:
                self.eval_accuracy.append(ev["eval_accuracy"])


def _or_nan(x: float | None) -> float:
    return float("nan") if x is None else x


def _last(values: list[float]) -> float | None:
    """The last of a curve's values; None when there is none or it is the nan of a missing one (_or_nan), which
    status --json must not print (a strict JSON reader refuses NaN)."""
    return values[-1] if values and math.isfinite(values[-1]) else None


@dataclass(frozen=True)
class ProbeStatus:
    """One row of `lorplan probe status --json` (to_json's first eight keys are those the README shows)."""

    id: str
    rank: int
    lr: float | None
    state: str
    step: int
    steps: int
    loss: float | None
    eval_loss: float | None
    eval_accuracy: float | None
    tokens_per_second: float | None
    peak_memory_bytes: int | None
    wall_seconds: float | None
    device: str | None = None
    trainable_params: int | None = None
    message: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    load_seconds: float | None = None  # data, model and optimizer set-up (the worker's load_seconds)
    train_seconds: float | None = None  # the optimizer steps alone
    seed: int | None = None  # the probe's own training seed when the run repeats probes over seeds
    notes: tuple[str, ...] = ()  # what the engine changed or skipped (e.g. a CPU probe's skipped quantization)
    pattern: bool = False  # trained with its own per-module rank_pattern (a ladder's pattern check), not one rank

    def to_json(self) -> dict:
        return {
            "rank": self.rank,
            "state": self.state,
            "step": self.step,
            "eval_loss": self.eval_loss,
            "eval_accuracy": self.eval_accuracy,
            "tokens_per_second": self.tokens_per_second,
            "peak_memory_bytes": self.peak_memory_bytes,
            "wall_seconds": self.wall_seconds,
            "id": self.id,
            "lr": self.lr,
            "steps": self.steps,
            "loss": self.loss,
            "device": self.device,
            "trainable_params": self.trainable_params,
            "message": self.message,
            "error": self.error,
            "warnings": list(self.warnings),
            "load_seconds": self.load_seconds,
            "train_seconds": self.train_seconds,
            "seed": self.seed,
            "notes": list(self.notes),
            "pattern": self.pattern,
        }


@dataclass(frozen=True)
class RunStatus:
    """A run as read now. driver_alive: a driver that adds probes to the run (a probe ladder's) lives, so probes
    that all ended are only a pass. cancel_asked: the user cancelled the whole run (RunDir.run_cancel_marker)."""

    run: str
    plan: RunPlan
    probes: tuple[ProbeStatus, ...]
    scheduler_alive: bool
    driver_alive: bool = False
    cancel_asked: bool = False
    # queued probes that no scheduler launches until the run folder's disk has space again: {"for": "disk
    # space", "message" (one line: why, where, what to do), "reason", "path", "free_bytes" (None: unknown),
    # "queued", "resume" (the command that starts them once there is space)}; None otherwise
    space_wait: dict | None = None
    # how the probe ladder that drives the run ended (RunDir.ladder_end: "done" or "cancelled"); None for a plain
    # run or a ladder still going
    ladder_end: str | None = None

    @property
    def not_run(self) -> tuple[str, ...]:
        """The ids of the probes a ladder that has ended (ladder_end) left queued, with no scheduler alive: nothing
        starts one (runner.restart_stalled), so they will not run; their message says so (not_run_message)."""
        if self.ladder_end is None or self.scheduler_alive:
            return ()
        return tuple(p.id for p in self.probes if p.state == "queued")

    @property
    def probes_ended(self) -> bool:
        """No probe is queued or running (a driver may still add more); an ended ladder's probes that will not run
        (not_run) are not waited for."""
        left = set(self.not_run)
        return all(p.state not in ("queued", "running") for p in self.probes if p.id not in left)

    @property
    def done(self) -> bool:
        """No probe is queued or running, and no driver lives to add more."""
        return self.probes_ended and not self.driver_alive

    @property
    def state(self) -> str:
        """The run's state word, as `lorplan probe list` and `status` show it: "running" until it is done
        ("waiting" while its queued probes wait for disk space: space_wait), then "cancelled" when probes ended
        cancelled because the user cancelled the run (a cancel after every probe had ended cancels nothing:
        done), or every probe ended cancelled; else "done"."""
        if not self.done:
            return "waiting" if self.space_wait is not None else "running"
        cancelled = sum(p.state == "cancelled" for p in self.probes)
        if cancelled and (self.cancel_asked or cancelled == len(self.probes)):
            return "cancelled"
        return "done"

    @property
    def stalled(self) -> bool:
        """Queued probes with nothing left to launch them (the scheduler was killed), on a disk with room for
        them: a scheduler started while they wait for space (space_wait) would launch nothing. Not those of a
        ladder that has ended (not_run): no scheduler is started for them."""
        return (not self.scheduler_alive and self.space_wait is None and self.ladder_end is None
                and any(p.state == "queued" for p in self.probes))

    def notes(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each distinct note of the run's probes once, in order, with the ids of the probes that gave it
        (empty when every probe that loaded its model gave it: a note about the run, such as a CPU run's skipped
        quantization)."""
        by: dict[str, list[str]] = {}
        started = [p for p in self.probes if p.notes or p.load_seconds is not None]
        for p in started:
            for note in p.notes:
                by.setdefault(note, []).append(p.id)
        return [(note, () if len(ids) == len(started) else tuple(ids)) for note, ids in by.items()]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.probes:
            out[p.state] = out.get(p.state, 0) + 1
        return out

    def to_json(self) -> dict:
        return {
            "run": self.run,
            "state": self.state,
            "probes": [p.to_json() for p in self.probes],
            "scheduler": "running" if self.scheduler_alive else "stopped",
            "waiting": self.space_wait,
            "model": self.plan.model or "all-MiniLM-L6-v2 (embedded demo)",
            "data": self.plan.data or "generated counting demo",
            "steps": self.plan.steps,
            "device": self.plan.device,
            "created": self.plan.created,
            "ranks": [row.to_json() for row in compare_ranks(self.probes)],
        }


def _stderr_tail(run: RunDir, probe_id: str, lines: int = 15) -> str | None:
    try:
        with open(run.probe_dir(probe_id) / "stderr.log", "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    tail = [ln for ln in text.splitlines() if ln.strip()][-lines:]
    return "\n".join(tail) or None


def plan_stamp(run: RunDir) -> tuple[int, int, int] | None:
    """(inode, mtime in ns, size) of the run's plan.json, None when it is missing: a new one means the plan was
    rewritten (runs.add_probes replaces the file), so a reader that keeps the plan reads it again. One stat."""
    try:
        st = os.stat(run.plan_path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class RunWatcher:
    """Reads one run folder incrementally: `refresh()` returns the current RunStatus, `curves[probe_id]` the
    plotted series so far. Each refresh stats plan.json and reads it again when it changed, so probes added to
    the run later (a ladder's next pass) are shown too; the probes read so far keep their readers."""

    def __init__(self, run: RunDir, backend: Backend | None = None) -> None:
        self.run = run
        self._stamp = plan_stamp(run)  # before the read: a rewrite between the two is read at the next refresh
        self.plan = run.plan()
        self.backend = backend or get_backend(self.plan.backend)
        self._tails = {p.id: EventTail(run.events_path(p.id)) for p in self.plan.probes}
        self.curves = {p.id: Curves() for p in self.plan.probes}

    def _follow_plan(self) -> None:
        """Read plan.json again when it changed since the last read (kept as it was when it cannot be read)."""
        stamp = plan_stamp(self.run)
        if stamp is None or stamp == self._stamp:
            return
        try:
            plan = self.run.plan()
        except (LorplanError, TypeError, ValueError):  # damaged: the plan read before stays
            return
        self._stamp, self.plan = stamp, plan
        for p in plan.probes:
            if p.id not in self._tails:
                self._tails[p.id] = EventTail(self.run.events_path(p.id))
                self.curves[p.id] = Curves()

    def refresh(self) -> RunStatus:
        self._follow_plan()
        scheduler = self.backend.scheduler_alive(self.run)
        driver = driver_alive(self.run)  # a ladder's driver, or one just launched: it may add probes (RunStatus.done)
        ended = self.run.ladder_end()  # an ended ladder's queued probes: not run once no scheduler is alive
        waiting = self._waiting(scheduler)
        if ended is not None and not scheduler:
            waiting = not_run_message(ended)
        probes = tuple(self._probe(p.id, waiting) for p in self.plan.probes)
        # nothing starts an ended ladder's queued probes, once there is space or not: no wait for it to say
        space_wait = None if ended is not None else self._space_wait(probes, scheduler)
        return RunStatus(self.run.id, self.plan, probes, scheduler, driver, self.run.run_cancel_marker.exists(),
                         space_wait, ended)

    def _space_wait(self, probes: tuple[ProbeStatus, ...], scheduler_alive: bool) -> dict | None:
        """RunStatus.space_wait: queued probes that wait for disk space. A live scheduler that stopped launching
        for want of space said so in no_space.json (it exits when its running probes end); with none alive, the
        disk is read as a new scheduler would read it (space_short, through polled_space_short: the allocation
        at most once per SPACE_RECHECK_S), the file's reason kept when there is one (the probe that found no
        space)."""
        queued = sum(p.state == "queued" for p in probes)
        if not queued:
            return None
        marker = read_json(space_marker(self.run))
        reason = marker.get("reason") if marker is not None and isinstance(marker.get("reason"), str) else None
        free = None
        if scheduler_alive:
            if reason is None or marker.get("scheduler_pid") != _scheduler_pid(self.run):
                return None  # launching, or a new scheduler that has not looked yet
        else:
            short = polled_space_short(self.run)  # asked at every refresh: the allocation once in a while
            if short is None:
                return None  # a new scheduler launches them
            live, free = short
            if reason is None or free is None or f"{self.run.path} has " in reason:
                reason = live  # the disk as it is now
            else:
                reason = f"{reason}; it has {free // 1024} KiB free now, a probe needs {MIN_FREE_BYTES // 1024} KiB"
        resume = space_resume(self.run.id, asks_remote_code(self.plan))
        message = (f"run {self.run.id} waits for disk space: {reason}; {stay_queued(queued)}: free space there, "
                   f"then `{resume}` starts them")
        return {"for": "disk space", "message": message, "reason": reason, "path": str(self.run.path),
                "free_bytes": free, "queued": queued, "resume": resume}

    def _probe(self, probe_id: str, waiting: str | None = None) -> ProbeStatus:
        """The probe's status; `waiting`: a queued one's message (what it waits for, or why it is not run)."""
        run, spec = self.run, self.plan.probe(probe_id)
        result = read_result(run.result_path(probe_id))
        launched = run.proc_path(probe_id).exists()
        alive = launched and result is None and self.backend.probe_alive(run, probe_id)
        tail = self._tails[probe_id]
        new = tail.poll(final=not alive)
        if tail.reset:
            self.curves[probe_id] = Curves()
        curves = self.curves[probe_id]
        for ev in new:
            curves.add(ev)
        cancel_asked = run.cancel_marker(probe_id).exists()
        proc = read_json(run.proc_path(probe_id)) or {}
        # proc.json's device (text) and launch time (a number), read through the result's field checks
        launched_at, _ = checked_fields({"device": proc.get("device"), "t": proc.get("launched")})
        device = launched_at.get("device")
        started = curves.started or {}
        step = curves.steps[-1] if curves.steps else 0
        common = dict(
            id=probe_id,
            rank=spec.rank,
            lr=started.get("lr") or spec.lr,
            steps=self.plan.steps,
            loss=_last(curves.loss),
            eval_loss=_last(curves.eval_loss),
            eval_accuracy=curves.eval_accuracy[-1] if curves.eval_accuracy else None,
            device=started.get("device") or device,
            trainable_params=started.get("trainable_params"),
            warnings=(*tail.problems, *(f"{run.events_path(probe_id)}: {w}" for w in curves.problems),
                      *(result.problems if result is not None else ())),
            load_seconds=started.get("load_seconds"),
            train_seconds=round(curves.train_seconds, 3) if curves.steps else None,
            seed=spec.seed,
            notes=started.get("notes") or (),
            pattern=bool(spec.rank_pattern),
        )
        if result is not None and result.damaged is None:
            got = result.values
            common.update(
                step=got.get("step") if got.get("step") is not None else step,
                eval_loss=got.get("eval_loss", common["eval_loss"]),
                eval_accuracy=got.get("eval_accuracy", common["eval_accuracy"]),
                trainable_params=got.get("trainable_params", common["trainable_params"]),
                device=got.get("device", common["device"]),
                lr=got.get("lr") or common["lr"],
                load_seconds=got.get("load_seconds", common["load_seconds"]),
                train_seconds=got.get("train_seconds", common["train_seconds"]),
                notes=got.get("notes") or common["notes"],
            )
            return ProbeStatus(
                state=got.get("state") or "failed",
                tokens_per_second=got.get("tokens_per_second"),
                peak_memory_bytes=got.get("peak_memory_bytes"),
                wall_seconds=got.get("wall_seconds"),
                message=got.get("message"),
                error=got.get("traceback") or got.get("error"),
                **common,
            )
        recent = curves.tokens_per_second[-10:]
        tps = round(sum(recent) / len(recent), 1) if recent else None
        t0 = curves.loading_t or launched_at.get("t")
        if alive:
            wall = round(time.time() - t0, 1) if t0 else None
            return ProbeStatus(state="running", step=step, tokens_per_second=tps, peak_memory_bytes=None,
                               wall_seconds=wall, **common)
        if launched or result is not None:  # a damaged result: the probe ended (the worker writes it last)
            wall = round(curves.last_t - t0, 1) if (t0 and curves.last_t) else None
            state = "cancelled" if cancel_asked else "died"
            msg = f"process ended without a result at step {step}" if state == "died" else None
            if result is not None:
                msg = f"ended at step {step}, but {result.damaged}"
            return ProbeStatus(state=state, step=step, tokens_per_second=tps, peak_memory_bytes=None,
                               wall_seconds=wall, message=msg, error=_stderr_tail(run, probe_id), **common)
        state = "cancelled" if cancel_asked else "queued"
        return ProbeStatus(state=state, step=0, tokens_per_second=None, peak_memory_bytes=None,
                           wall_seconds=None, message=waiting if state == "queued" else None, **common)

    def _waiting(self, scheduler_alive: bool) -> str | None:
        """Why the queued probes wait when the run's scheduler found device slots held by other runs: the
        slots of waiting.json still held, each by whom. A slot this run's own probe holds now (launched since, or
        ended and still exiting) is not waited for."""
        waiting = read_json(self.run.waiting_path)
        if not waiting or not scheduler_alive:
            return None
        holders = []
        for name in waiting.get("slots", []):
            path = self.run.slot_lock(name)
            if lock_held(path):
                try:
                    holder = path.read_text().split()
                except OSError:
                    holder = []
                if len(holder) == 2 and holder[0] == self.run.id:
                    continue
                holders.append(f"{name} (run {holder[0]}, probe {holder[1]})" if len(holder) == 2 else name)
        return f"waiting for {', '.join(holders)}" if holders else None


def not_run_message(ladder_end: str) -> str:
    """A queued probe's message once the ladder that drives its run has ended (`ladder_end`: done or cancelled)
    with no scheduler alive (RunStatus.not_run)."""
    return f"not run: its probe ladder has ended ({ladder_end}), and nothing starts it"


NAMED_PROBES = 4  # probes a line names one by one; more are "N probes (a, b, c and K more)"


def ended_ladder_refusal(run_id: str, probe_id: str | Sequence[str], ladder_end: str,
                         refused: str = "not queued again") -> str:
    """The one line that refuses to take up again probe `probe_id` (or the probes of a sequence of ids: each one
    named, "probes r2, r4 and r8", up to NAMED_PROBES, else "7 probes (r2, r4, r8 and 4 more)") of a ladder that
    has ended (`ladder_end`: done or cancelled): a retry's (lorplan.probe.runner.retry: it is `not queued
    again`), and the scheduler's, which launches none of such a ladder's queued probes (lorplan.probe.scheduler:
    they are `not launched`)."""
    ids = [probe_id] if isinstance(probe_id, str) else list(probe_id)
    if len(ids) == 1:
        named, they = f"probe {ids[0]}", f"the probe is {refused}"
    else:
        if len(ids) <= NAMED_PROBES:
            named = f"probes {and_list(ids)}"
        else:
            shown = NAMED_PROBES - 1
            named = f"{len(ids)} probes ({', '.join(ids[:shown])} and {len(ids) - shown} more)"
        they = f"the probes are {refused}"
    return (f"{named} of run {run_id}: its probe ladder has ended ({ladder_end}) and its recommendation "
            f"takes no new result, so {they}; to measure again start a new ladder "
            "(`lorplan recommend ...`) or probe run (`lorplan probe start ...`)")


def _scheduler_pid(run: RunDir) -> int | None:
    """The pid the run's live scheduler wrote into scheduler.lock (lorplan.probe.scheduler.main)."""
    try:
        return int(run.scheduler_lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_status(run: RunDir, backend: Backend | None = None) -> RunStatus:
    """One-shot status of a run (reads every log from the start)."""
    return RunWatcher(run, backend).refresh()
