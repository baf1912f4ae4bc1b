"""Where probes run. The TUI and CLI speak only to `Backend`; `LocalProcessBackend` runs probes as processes on
this machine. A cluster backend (Slurm, Kubernetes) implements the same four methods and reads/writes the same
run folder, so nothing above this module changes.

Liveness on the local backend is a lock, not a pid: the scheduler takes an exclusive flock on a probe's
alive.lock before it starts the probe and hands the locked descriptor to the child (pass_fds), then closes its
own copy. The kernel drops the lock when the last holder exits (however it exits: kill -9, OOM killer, crash),
so "is the lock held?" is exact and immune to pid reuse and zombies. Readers test it with a non-blocking
shared lock. Unix only (fcntl.flock), which is where GPU workstations are. A run folder on a file system that
refuses flock (some network file systems) cannot be run: LocksRefused says so in one line (flock, through
which a run's locks are taken and tested, and submit before it starts a scheduler that would die of it unseen;
UnlockWake's wait alone falls back to its poll instead).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from lorplan.core.errors import BadInput
from lorplan.core.model.hfcache import OFFLINE_ENV
from lorplan.probe.runs import RunDir, read_json
from lorplan.train.lock import UNLOCKABLE


class Backend(ABC):
    """How probes of a run are scheduled, observed and ended."""

    name = "abstract"
    # the user's --trust-remote-code, which the scheduler this backend starts hands to its probes
    # (lorplan.probe.consent); never read from the run folder
    trust_remote_code = False

    @abstractmethod
    def submit(self, run: RunDir) -> None:
        """Make sure the run's queued probes will be launched (idempotent; returns at once)."""

    @abstractmethod
    def scheduler_alive(self, run: RunDir) -> bool:
        """Whether something is still launching this run's queued probes."""

    @abstractmethod
    def probe_alive(self, run: RunDir, probe_id: str) -> bool:
        """Whether the probe's process still lives."""

    @abstractmethod
    def terminate(self, run: RunDir, probe_id: str, grace_s: float = 5.0) -> bool:
        """End the probe's processes (SIGTERM, then SIGKILL after grace_s). True if it was alive."""


class LocksRefused(BadInput):
    """The file system of a probe run's folder refuses flock, on which every liveness test and queue of a run
    rests (lorplan.probe.runs' locks): the run cannot be run there. Bad input (exit 2), as a runs folder that
    cannot be written (runs.create_run): the user's XDG_STATE_HOME is what to change. A reader that skips a run
    it cannot read (a damaged plan.json, BadInput) lets this through: no run in that folder can be read."""


def locks_refused(path: Path, exc: OSError) -> LocksRefused:
    """The one line for lock file `path` whose flock failed with `exc` (an errno of UNLOCKABLE): it names the
    run folder holding it (the machine's slot locks: their folder) and where runs go instead."""
    run = next((p for p in path.parents if (p / "plan.json").is_file()), None)
    where = f"probe run folder {run}" if run is not None else f"probe runs' folder {path.parent}"
    return LocksRefused(f"{where}: its file system refuses file locks ({path.name}: Errno {exc.errno} "
                        f"{exc.strerror or exc}); put runs on a local disk: point XDG_STATE_HOME at a folder there")


def flock(fd: int, op: int, path: Path) -> None:
    """fcntl.flock of `fd`, the open lock file `path`, with a file system that refuses it (UNLOCKABLE) said as
    LocksRefused."""
    try:
        fcntl.flock(fd, op)
    except BlockingIOError:
        raise
    except OSError as exc:
        if exc.errno not in UNLOCKABLE:
            raise
        raise locks_refused(path, exc) from None


def lock_held(path: Path) -> bool:
    """True when another open file holds an exclusive flock on `path` (missing file: False). LocksRefused when
    the file system refuses the test."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, path)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also releases our shared lock
    return False


class UnlockWake:
    """Sleep a poller until a process holding one of the given locks lets it go, or its poll interval passes: a
    wait for a run that reads the run's files at each look wakes as the scheduler or the ladder's driver exits
    (the kernel drops the lock however it ends, after what it wrote), instead of sleeping out the interval.
    A lock is watched by one thread at a time, blocked on a shared flock that it lets go at once (as lock_held's
    test does); a lock no process holds is not watched (its holder may still be starting: the interval wakes the
    poller), so nothing spins. A lock whose flock cannot be waited for (ENOLCK from a network file system's lock
    service) is not watched again: the interval alone wakes the poller, with no traceback from the thread. A wait
    that returns (its timeout, Ctrl-C) leaves its threads blocked until the locks' holders exit: one per lock, each
    with the lock file open. The ladder's driver sleeps on the alive.lock of each probe it saw running
    (seen_held), and wake() ends a sleep from another thread (its pattern measurement's exit)."""

    def __init__(self) -> None:
        self._woken = threading.Event()
        self._watched: set[Path] = set()

    def sleep(self, locks: tuple[Path, ...], timeout_s: float, seen_held: bool = False) -> None:
        """Sleep up to timeout_s, or until one of `locks` is let go. seen_held: the caller's last look saw each
        of them held (a probe's alive.lock, read as running), so one let go since is no holder still starting:
        it is watched all the same, and wakes the poller at once."""
        for path in locks:
            if path not in self._watched and (seen_held or lock_held(path)):
                self._watched.add(path)
                threading.Thread(target=self._await, args=(path,), daemon=True).start()
        self._woken.wait(timeout_s)
        self._woken.clear()  # before the caller's next look, which reads what woke it

    def wake(self) -> None:
        """End the sleep now going on (or the next one, at once)."""
        self._woken.set()

    def _await(self, path: Path) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            fd = None  # gone since lock_held: wake the poller, which looks again
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
            except OSError:
                return  # stays in _watched: woken now, the poller would watch it again at once, and spin
            finally:
                os.close(fd)  # releases the shared lock at once
        self._watched.discard(path)
        self._woken.set()


DRIVER_START_GRACE_S = 30.0  # a driver launched this recently may still be importing, before it takes its lock


def driver_launch_stamp(run: RunDir) -> Path:
    """Touched by whatever launches the run's driver (lorplan.recommend.driver.launch_driver), just before it
    does; the driver removes it once it holds RunDir.driver_lock, or exits without it (driver_alive)."""
    return run.path / "ladder.launched"


def mark_driver_launched(run: RunDir) -> None:
    """Stamp the launch of the run's driver now (driver_launch_stamp)."""
    driver_launch_stamp(run).touch()  # an existing stamp's time is set to now


def driver_alive(run: RunDir, grace_s: float = DRIVER_START_GRACE_S) -> bool:
    """A process that drives the run lives: a probe ladder's driver (lorplan.recommend.driver), which holds
    RunDir.driver_lock while it lives, adds probes in passes and restarts the run's stalled scheduler itself, with
    the consent it was started with. A driver launched in the last grace_s seconds (driver_launch_stamp) counts
    too: it takes the lock only after its imports (seconds on a busy machine), and until then it is starting,
    not gone: nothing may report its ladder stopped, nor start another. One that never took the lock within
    grace_s is gone."""
    if lock_held(run.driver_lock):
        return True
    try:
        launched = driver_launch_stamp(run).stat().st_mtime
    except (FileNotFoundError, NotADirectoryError):
        return False
    return abs(time.time() - launched) < grace_s  # a clock set back: a stamp from the future, as long as it is near


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[int]:
    """Hold an exclusive flock on `path` (created if missing) for the duration of the block (LocksRefused when
    its file system refuses it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flock(fd, fcntl.LOCK_EX, path)
        yield fd
    finally:
        os.close(fd)


def _package_root() -> str:
    import lorplan

    return str(Path(lorplan.__file__).resolve().parent.parent)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of scheduler and worker processes: ours, lorplan importable, the hub offline."""
    env = dict(os.environ)
    root = _package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(OFFLINE_ENV)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def _child_devices(env: dict[str, str] | None) -> list:
    from lorplan.core.gpu import child_devices

    env = os.environ if env is None else env
    return child_devices(env.get("CUDA_VISIBLE_DEVICES"))


def visible_gpus(env: dict[str, str] | None = None) -> list[str]:
    """The GPUs probes may use, each as a child's whole CUDA_VISIBLE_DEVICES (lorplan.core.gpu.child_devices):
    the devices that variable exposes as parse_visible_devices reads it ("" or "-1" = none; unset, every device
    NVML counts), named by UUID (or MIG id) when NVML answers, so that CUDA's device order cannot swap them.
    No driver or no NVML: the entries as written (unset: none)."""
    return [d.cuda_visible for d in _child_devices(env)]


def _slot_name(label: str, k: int) -> str:
    """A file-name-safe name for the k-th slot on the GPU `label` (NVML's index, a MIG id, or without NVML the
    entry as written)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return f"cuda-{safe}-{k}"


def device_slots(device: str, max_parallel: int | None, env: dict[str, str] | None = None) -> list[dict]:
    """The places probes run at the same time: [{"device": "cuda:0"|"cpu", "cuda_visible": "GPU-<uuid>"|"",
    "name": "cpu-0"|"cuda-3-0"}]. cuda_visible is the probe's whole CUDA_VISIBLE_DEVICES (one GPU, by UUID);
    `name` is the machine-wide slot, numbered as nvidia-smi numbers the GPU: runs that name the same slot take
    turns on it.

    "auto": one slot per visible GPU (max_parallel spreads more probes round-robin over them), or one CPU slot
    when there is none. "cpu": max_parallel CPU slots (default 1). "cuda:N": the N-th visible GPU only (the
    [N] of `lorplan gpus`).
    """
    gpus = _child_devices(env)
    if device == "cpu" or (device == "auto" and not gpus):
        return [{"device": "cpu", "cuda_visible": "", "name": f"cpu-{i}"} for i in range(max_parallel or 1)]
    if device == "auto":
        chosen = gpus
    elif device.startswith("cuda"):
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= len(gpus):
            seen = ("no GPU is visible" if not gpus else
                    f"only {len(gpus)} GPU{'s are' if len(gpus) > 1 else ' is'} visible (cuda:0-cuda:{len(gpus) - 1})")
            raise BadInput(f"--device {device}: {seen} (CUDA_VISIBLE_DEVICES / NVML); --device cpu runs on the CPU")
        chosen = [gpus[index]]
    else:
        raise BadInput(f"--device {device!r}: use cpu, cuda or cuda:N")
    n = max_parallel or len(chosen)
    return [{"device": "cuda:0", "cuda_visible": chosen[i % len(chosen)].cuda_visible,
             "name": _slot_name(chosen[i % len(chosen)].label, i // len(chosen))} for i in range(n)]


def check_locks(run: RunDir) -> None:
    """LocksRefused when the run folder's file system refuses flock (tried on its queue.lock, made if missing)."""
    fd = os.open(run.queue_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, run.queue_lock)
    except BlockingIOError:
        pass  # held by a launch or cancel just now: the file system takes locks
    finally:
        os.close(fd)


def try_lock(path: Path, note: str = "") -> int | None:
    """Take an exclusive flock on `path` (created, with its folder) without waiting: the open descriptor, with
    `note` written in the file for readers, or None when another process holds it; LocksRefused when its file
    system refuses flock. Any other failure (the note's write on a full disk) raises OSError with the descriptor
    closed, so the lock is not left held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, path)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode(), 0)
    except BaseException:
        os.close(fd)  # also lets the lock go
        raise
    return fd


class LocalProcessBackend(Backend):
    """Probes as processes on this machine, each in its own session, scheduled by a detached per-run
    scheduler process (lorplan.probe.scheduler) that outlives the CLI or TUI that started it."""

    name = "local"

    def __init__(self, trust_remote_code: bool = False) -> None:
        self.trust_remote_code = trust_remote_code

    def submit(self, run: RunDir) -> None:
        """Start a scheduler for the run, with TRUST_FLAG when this backend holds the user's consent: without it
        the scheduler launches no probe of a run that asks for its model's own code (lorplan.probe.consent).
        LocksRefused, and no scheduler, when the run folder's file system refuses flock: the scheduler would die
        of it at its first lock, with the user told nothing."""
        from lorplan.probe.consent import flag

        check_locks(run)
        log = open(run.scheduler_log, "ab")
        os.utime(run.scheduler_log)  # when a scheduler was last asked for (runner.restart_stalled waits after)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lorplan.probe.scheduler", str(run.path), *flag(self.trust_remote_code)],
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=run.path,
            )
        finally:
            log.close()
        # Reap it when it exits so a long-lived TUI keeps no zombie; liveness never depends on this.
        threading.Thread(target=proc.wait, daemon=True).start()

    def scheduler_alive(self, run: RunDir) -> bool:
        return lock_held(run.scheduler_lock)

    def probe_alive(self, run: RunDir, probe_id: str) -> bool:
        return lock_held(run.alive_lock(probe_id))

    def terminate(self, run: RunDir, probe_id: str, grace_s: float = 5.0) -> bool:
        proc = read_json(run.proc_path(probe_id))
        if proc is None or not self.probe_alive(run, probe_id):
            return False
        pgid = int(proc["pgid"])
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and self.probe_alive(run, probe_id):
                time.sleep(0.05)
            if not self.probe_alive(run, probe_id):
                break
        return True


BACKENDS: dict[str, type[Backend]] = {"local": LocalProcessBackend}


def get_backend(name: str = "local", trust_remote_code: bool = False) -> Backend:
    """The backend `name`; trust_remote_code: the user typed --trust-remote-code on this command's line."""
    try:
        return BACKENDS[name](trust_remote_code=trust_remote_code)
    except KeyError:
        raise BadInput(f"backend {name!r}: unknown (known: {', '.join(BACKENDS)})") from None
