"""One `lorplan train` per output folder: an exclusive flock on a lock file inside it, held for the whole run.

Two runs in one folder (the same plan started in two SSH sessions, a `--resume` while the first still trains)
would write over each other's checkpoints and log.jsonl, and one would read the other's half-written files as
damaged. The kernel drops a flock when its holder exits, however it exits (kill -9, the OOM killer), so a killed
run never leaves a stale lock: the next run takes the lock file over. The file holds the holder's pid and host,
for the line that refuses a second run. A run that ends removes it (while still holding it), so a finished run's
folder holds its outputs alone; a taker checks that the file it locked is still the one at the path, since a
holder may remove it between the taker's open and its lock. Stdlib only: taken before torch is imported.

A run on several GPUs: the flock is the launching `lorplan train`'s, and the processes it launches (through
accelerate launch and torch's elastic agent, which start each in its own session and pass it no descriptor)
do not inherit it. Killed with kill -9, the launcher let the folder go while they trained on. So each launched
process holds a shared flock on the output folder itself (join) while it runs, and a taker, once it holds the
lock file, takes the folder's exclusive flock for a moment: refused while any launched process lives. A
process that joins after its launcher was killed could miss a taker that looked before it: the launcher writes
a token of its own into the lock file (and passes it on in TOKEN_ENV), a taker writes its own while it holds the
folder's flock (a refused one writes nothing), and a joining process that finds another run's token there stops.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from lorplan.core.errors import BadInput

LOCK_NAME = ".lorplan-train.lock"
# a flock the file system cannot take (some network file systems): the run goes on unlocked, and says so
UNLOCKABLE = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS)
RETRIES = 3  # a folder removed under a taker (by a run refused there) is made again, at most this often
PID_WAIT_S = 0.5  # how long a refused run waits for the holder's pid, written just after it took the lock
TOKEN_ENV = "LORPLAN_TRAIN_LOCK_TOKEN"  # the holder's token, for the processes it launches (join)


def lock_path(out: Path) -> Path:
    """The lock file of output folder `out`."""
    return Path(out) / LOCK_NAME


def holder(path: Path, wait_s: float = PID_WAIT_S) -> str:
    """Who holds the lock at `path`, as its file says: "pid 123" (", on host h" when it is another host's), or
    "pid not known" when the file holds none (still being written after `wait_s`, or gone)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            text = path.read_text(encoding="utf-8", errors="replace").split()
        except OSError:
            text = []
        if text and text[0].isdigit():
            host = text[1] if len(text) > 1 else ""
            return f"pid {text[0]}" + (f", on host {host}" if host and host != socket.gethostname() else "")
        if time.monotonic() >= deadline:
            return "pid not known"
        time.sleep(0.02)


class OutputLock:
    """The exclusive lock of one output folder, for `lorplan train`'s whole run. take() once the folder's place
    is known; release() (or the with-block's end) when the run ends. Unix only (fcntl.flock)."""

    def __init__(self, out: Path, where: str) -> None:
        self.out = Path(out)
        self.where = where  # how the refusal names the folder: "--output OUT" or "PLAN: training.output_dir OUT"
        self.fd: int | None = None
        self.made: list[Path] = []  # the folders take() made, deepest first: removed again if still empty
        self.note: str | None = None  # said when the folder cannot be locked (its file system has no flock)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self.fd is not None

    def take(self, make: bool) -> None:
        """Hold the folder's lock. With `make`, the folder is made first when missing (without, a missing folder
        is left to a later take: no run is in it, and a command refused before it starts makes nothing).
        BadInput, one line naming the folder and the holder's pid, when another process holds it; also when the
        lock file cannot be made there (a read-only folder: the run could write nothing there either)."""
        if self.fd is not None or self.note is not None:
            return
        path = lock_path(self.out)
        gone = 0
        while True:
            if not self._is_dir():
                if not make:
                    return
                self._make()
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if isinstance(exc, FileNotFoundError):  # the folder went since it was seen: a refused run
                    gone += 1                           # removed its own; made again, at most RETRIES times
                    if gone < RETRIES:
                        continue
                self._drop_made()
                raise BadInput(f"{self.where}: cannot write there ({exc.strerror or exc}): make it writable, "
                               "or choose another --output") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise BadInput(f"{self.where} is in use by another lorplan train ({holder(path)}): wait for it "
                               "to end (or stop it), or give --output to train elsewhere") from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in UNLOCKABLE:
                    try:  # a file no run can lock says nothing: not left in the folder (nor keeping one made)
                        path.unlink()
                    except OSError:
                        pass
                    self.note = (f"note: {self.where}: its file system takes no lock ({exc.strerror or exc}), so "
                                 "another lorplan train started there would not be stopped")
                    return
                raise
            try:  # the file this run locked is the one at the path: a run that ended may have removed it
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        token = secrets.token_hex(8)
        if not _claim(fd, self.out, f"{os.getpid()} {socket.gethostname()} {token}\n".encode()):
            # a launched run's processes, their launcher gone: the file, left as it was, is theirs
            try:
                if os.fstat(fd).st_size == 0:  # made by this taker: not left behind
                    path.unlink()
            except OSError:
                pass
            os.close(fd)
            raise BadInput(f"{self.where} is in use by the training processes of another lorplan train, whose "
                           "own process has ended: wait for them to end (or stop them), or give --output to "
                           "train elsewhere")
        self.fd = fd
        os.environ[TOKEN_ENV] = token  # for the processes this run launches

    def release(self) -> None:
        """Remove the lock file (still holding it, so no taker locks a file that is then removed) and let the
        lock go; the folders take() made are removed again when the run left nothing in them."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.environ.pop(TOKEN_ENV, None)
            try:
                path = lock_path(self.out)
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    path.unlink()
            except OSError:
                pass
            finally:
                os.close(fd)
        self._drop_made()

    def _is_dir(self) -> bool:
        try:
            return self.out.is_dir()
        except OSError as exc:  # a name too long for the file system (pathlib ignores only the missing)
            raise BadInput(f"{self.where}: cannot look there ({exc.strerror or exc}), or choose another "
                           "--output") from None

    def _make(self) -> None:
        """Make the output folder and the missing ones above it, remembered (deepest first) to remove again. A
        folder that cannot be made (a link to a place that is not there, no permission, a full disk) is BadInput,
        and what was made of it is removed."""
        missing = [p for p in (self.out, *self.out.parents) if not p.exists() and not p.is_symlink()]
        self.made = list(dict.fromkeys([*missing, *self.made]))
        why = "removed again as it was made"
        for _ in range(RETRIES):  # a folder above it removed meanwhile by a refused run (its _drop_made): again
            try:
                self.out.mkdir(parents=True, exist_ok=True)
                return
            except FileNotFoundError:
                continue
            except OSError as exc:
                why = exc.strerror or str(exc)
                break
        self._drop_made()
        if self.out.is_symlink() and not self.out.exists():
            why = f"it is a link to {os.readlink(self.out)}, which is not there: make that folder"
        else:
            why = f"cannot make that folder ({why})"
        raise BadInput(f"{self.where}: {why}, or choose another --output")

    def _drop_made(self) -> None:
        for folder in self.made:
            try:
                folder.rmdir()
            except OSError:  # the run wrote there (or another process did): kept
                break
        self.made = []


def _write(fd: int, data: bytes) -> None:
    """The lock file's text, in place, not atomically: readers must find the locked file itself."""
    try:
        os.ftruncate(fd, 0)
        if data:
            os.pwrite(fd, data, 0)
    except OSError:  # a full disk: the lock holds all the same; a refusal says "pid not known"
        pass


def _claim(fd: int, out: Path, line: bytes) -> bool:
    """Write `line` into the lock file `fd` holding output folder `out`'s exclusive flock, which no process a run
    launched holds meanwhile (their shared flock, joined): False, nothing written, while any of them does. A
    process joining meanwhile waits for the flock to go, then reads this line."""
    try:
        folder = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # not there: nothing in it
        _write(fd, line)
        return True
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # a file system without flock: the lock file's own was taken, so not seen here
            pass
        _write(fd, line)
        return True
    finally:
        os.close(folder)  # lets the flock go


@contextmanager
def joined(out: Path):
    """Held by each process that a `lorplan train` launched (UNDER_LAUNCH_ENV and TOKEN_ENV set) for its whole
    run: a shared flock on output folder `out`, so a second `lorplan train` there is refused while any of them
    lives, its launcher killed or not. BadInput when the lock file is gone or names another run than the
    launcher's (the launcher ended, and another run took the folder before this process joined). Elsewhere
    (one process, your own torchrun) nothing: that process holds the lock file's own flock."""
    from lorplan.train.launch import UNDER_LAUNCH_ENV

    token = os.environ.get(TOKEN_ENV, "")
    if not token or not os.environ.get(UNDER_LAUNCH_ENV):
        yield
        return
    gone = BadInput(f"{out}: the lorplan train that launched this process has ended, and another run took the "
                    "folder: this process stops (start the run again once that one has ended)")
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise gone from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits out a taker's moment of writing its line (_claim)
        except OSError as exc:
            if exc.errno not in UNLOCKABLE:
                raise
        try:
            words = lock_path(out).read_text(encoding="utf-8", errors="replace").split()
            ours = len(words) < 3 or words[2] == token  # no token: a line the launcher could not write (a full disk)
        except FileNotFoundError:
            ours = False
        if not ours:
            raise gone
        yield
    finally:
        os.close(fd)


def takes_output_lock() -> bool:
    """Whether this process takes its run's output lock: one per run. Not the processes that `lorplan train`
    launched itself (the `lorplan train` that launched them holds it, lorplan.train.launch.UNDER_LAUNCH_ENV);
    under your own torchrun / accelerate launch, rank 0 alone (the launcher ends the others when it exits)."""
    from lorplan.train.launch import UNDER_LAUNCH_ENV, process_rank

    return not os.environ.get(UNDER_LAUNCH_ENV) and process_rank() == 0


__all__ = ["LOCK_NAME", "TOKEN_ENV", "OutputLock", "holder", "joined", "lock_path", "takes_output_lock"]
