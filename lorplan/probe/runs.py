"""Run folders on disk: where a probe run lives and how its files are named and written.

    $XDG_STATE_HOME/lorplan/runs/<run-id>/          (~/.local/state/... when XDG_STATE_HOME is unset)
        plan.json               the run's plan (RunPlan), written atomically; a ladder adds probes (add_probes)
        labels.json             a classifier's class labels of the whole data file, as the run's start read
                                them (DataLabels: `lorplan probe start`, `lorplan recommend --data`'s ladder,
                                the planner's probes and ladders; its probes use them instead of collecting them
                                again)
        scheduler.lock          held (flock) by the run's scheduler process while it lives
        ladder.lock             held (flock) by a probe ladder's driver while it lives: it adds probes in passes
        ladder.launched         touched when a driver is launched, removed once it holds ladder.lock (a driver
                                still importing counts as alive for a while: backend.driver_alive)
        ladder-state.json       a probe ladder's decisions, written by its driver (done once it has ended)
        cancelled               present when the user cancelled the whole run
        waiting.json            while queued probes wait for a device slot another run holds
        queue.lock              short critical sections: launch / cancel / retry of one probe
        scheduler.log           the scheduler's stdout and stderr
        probes/<probe-id>/
            events.jsonl        append-only JSON lines, one event per line (events.py)
            result.json         the final result, written atomically once the probe ends
            proc.json           pid, process group and device, written when the probe is launched
            alive.lock          held (flock) by the probe process while it lives
            cancel              present when a cancel was asked for
            stdout.log, stderr.log
            attempt-<n>/        earlier attempts moved aside by "retry"

    $XDG_STATE_HOME/lorplan/runs/.slots/<slot>.lock  one per device slot, shared by every run on this machine:
                                held (flock) by the probe that trains there, so runs queue for a device

Every file that is rewritten is written to a temp file in the same folder and moved into place with
os.replace, so a crash at any moment leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

from lorplan.core.atomic import replace_text
from lorplan.core.errors import BadInput
from lorplan.core.jsontext import loads_json

STATES = ("queued", "running", "finished", "failed", "oom", "cancelled", "died")
TERMINAL_STATES = frozenset({"finished", "failed", "oom", "cancelled", "died"})
PLAN_VERSION = 1


def runs_dir() -> Path:
    """The folder holding every run: $XDG_STATE_HOME/lorplan/runs (default ~/.local/state/lorplan/runs)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "lorplan" / "runs"


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of a run: a LoRA training at `rank` (and `lr` when the run compares learning rates).

    Rank 0 is the base a ladder compares ranks with: no adapter trains (a causal LM is evaluated before
    training; a classifier trains its head alone)."""

    id: str
    rank: int
    lr: float | None = None  # None = the base plan's, else the task's default (plans.default_lr)
    seed: int | None = None  # training seed (initialisation, batch order); None = the run's seed
    # peft rank_pattern this probe trains with instead of the base plan's (a ladder's pattern check: the
    # per-module ranks at `rank`'s parameter budget); a dict, so left out of hash() like RunPlan.base
    rank_pattern: dict | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise BadInput(f"--ranks: rank {self.rank} must be at least 1 (0: the base, no adapter)")
        if self.lr is not None and not self.lr > 0:
            raise BadInput(f"--lr: {self.lr} must be positive")
        for key, r in (self.rank_pattern or {}).items():
            if isinstance(r, bool) or not isinstance(r, int) or r < 1:
                raise BadInput(f"probe {self.id}: rank_pattern[{key!r}] = {r!r} must be a whole number of at least 1")


@dataclass(frozen=True)
class RunPlan:
    """What a probe run trains. `model` None = the embedded all-MiniLM-L6-v2; `data` None = the generated
    demo data (demo.py). Defaults are resolved by the worker: lr None = the task's (lorplan.core.plan.defaults:
    1e-3 for sequence classification); alpha None = 2 × rank (`lorplan probe start` records 32); device "auto"
    = one probe per visible GPU, else CPU.

    `base`, when set, is the plan the probes are short runs of, as a plan document
    (lorplan.core.plan.schema.plan_to_dict, absolute paths): each probe trains it at its own rank (lorplan.probe
    .plans.probe_plan). The training fields below then mirror it for readers; without it the worker builds
    the plan from them.
    """

    run: str
    created: float
    probes: tuple[ProbeSpec, ...]
    model: str | None = None
    data: str | None = None
    steps: int = 100
    device: str = "auto"
    max_parallel: int | None = None
    micro_batch: int = 16
    seq_len: int = 512
    eval_every: int = 20
    eval_examples: int = 200
    seed: int = 0
    quant: str = "none"
    double_quant: bool = False
    optimizer: str = "adamw"
    grad_checkpointing: bool = False
    attention: str = "sdpa"
    grouping: str = "length"  # "length" (length-grouped batches) or "packing" (causal LM)
    train_on: str = "completion"  # causal LM: "completion" (prompts masked) or "all" (every token), as a plan's data
    targets: tuple[str, ...] = ("all-linear",)
    alpha: float | None = None  # None = 2 × rank
    lora_dropout: float = 0.0
    trust_remote_code: bool = False
    rope_scaling: float | None = None  # linear RoPE scaling (--rope-scaling; a base plan's model.rope_scaling)
    backend: str = "local"
    base: dict | None = field(default=None, hash=False)  # a dict: left out of hash(), still compared
    version: int = PLAN_VERSION

    def base_model(self) -> dict:
        """The base plan's [model] section (its path, id, trust_remote_code), {} without a base plan."""
        base = self.base if isinstance(self.base, dict) else {}
        return base.get("model") if isinstance(base.get("model"), dict) else {}

    def model_name(self) -> str | None:
        """The model the probes train as the run names it: `model`, else the base plan's model.path or model.id;
        None for the embedded demo model."""
        model = self.base_model()
        name = self.model or model.get("path") or model.get("id")
        return name if isinstance(name, str) else None

    def probe(self, probe_id: str) -> ProbeSpec:
        for p in self.probes:
            if p.id == probe_id:
                return p
        raise BadInput(f"run {self.run}: no probe {probe_id!r} (probes: {', '.join(p.id for p in self.probes)})")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> RunPlan:
        """The plan a plan.json holds. Raises BadInput naming the first key of the wrong type (keys it does not
        know are left out: a newer lorplan's)."""
        _check_fields(cls, obj, "")  # probes (no default) is there and a list
        probes = obj["probes"]
        for i, p in enumerate(probes):
            if not isinstance(p, dict):
                raise BadInput(f"probes[{i}] is {_kind(p)}, not a probe (an object with an id and a rank)")
            _check_fields(ProbeSpec, p, f"probes[{i}].")
            if p["rank"] < 0:  # ProbeSpec's own words name `--ranks`, which a plan.json has not
                raise BadInput(f"probes[{i}].rank is {p['rank']}, not a rank (0 for the base, else at least 1)")
            if p.get("lr") is not None and not p["lr"] > 0:
                raise BadInput(f"probes[{i}].lr is {_shown(p['lr'])}, not a positive number")
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in obj.items() if k in known}
        known_probe = {f.name for f in fields(ProbeSpec)}
        kw["probes"] = tuple(ProbeSpec(**{k: v for k, v in p.items() if k in known_probe}) for p in probes)
        kw["targets"] = tuple(kw.get("targets", ("all-linear",)))
        return cls(**kw)


# What each field of a plan.json (RunPlan, ProbeSpec) must hold, by its annotation: a hand-edited or damaged file
# was refused in Python's words ("ProbeSpec() argument after ** must be a mapping").
_KINDS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,),
          "tuple[str, ...]": (list,), "tuple[ProbeSpec, ...]": (list,)}
_WORDS = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false",
          "dict": "an object", "tuple[str, ...]": "a list of text", "tuple[ProbeSpec, ...]": "a list of probes"}


def _kind(value) -> str:
    """A JSON value's kind in JSON's words: "a string", "an array"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "a number")


def _shown(value) -> str:
    """A value as a message quotes it: a scalar as JSON writes it (at most 40 characters), else its kind."""
    return _kind(value) if isinstance(value, (list, dict)) else json.dumps(value)[:40]


def _check_fields(cls, obj: dict, prefix: str) -> None:
    """Raise BadInput for the first field of dataclass `cls` that `obj` lacks (one without a default) or holds
    with a value of the wrong kind, named `prefix` + its key."""
    for f in fields(cls):
        optional = f.type.endswith(" | None")
        kind = f.type.removesuffix(" | None")
        if f.name not in obj:
            if f.default is MISSING and f.default_factory is MISSING:
                raise BadInput(f"{prefix}{f.name} is missing")
            continue
        value = obj[f.name]
        if value is None and optional:
            continue
        ok = isinstance(value, _KINDS[kind]) and (kind == "bool" or not isinstance(value, bool))
        if not ok:
            raise BadInput(f"{prefix}{f.name} is {_shown(value)}, not {_WORDS[kind]}" + (" or null" if optional else ""))
        if kind == "tuple[str, ...]":
            for i, v in enumerate(value):
                if not isinstance(v, str):
                    raise BadInput(f"{prefix}{f.name}[{i}] is {_shown(v)}, not text")


def probe_id_for(rank: int, lr: float | None = None, several_lrs: bool = False, seed: int | None = None) -> str:
    """"r8", "r8-lr0.0002" when a run compares learning rates, "r8-s1" (or "r8-lr0.0002-s1") when it repeats
    each probe with several seeds."""
    base = f"r{rank}" if not several_lrs else f"r{rank}-lr{lr:g}"
    return base if seed is None else f"{base}-s{seed}"


def new_run_id(now: float | None = None) -> str:
    """A sortable, unique run id: 20261128-111318-a3f9."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(2)}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to `path` through a temp file in the same folder + fsync + os.replace."""
    replace_text(path, text)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None when the file is missing or unreadable (a folder, not JSON, not
    UTF-8, nested deeper than the json module reads)."""
    try:
        with open(path, "rb") as fh:
            obj = loads_json(fh.read())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


@dataclass(frozen=True)
class DataLabels:
    """The class labels of every row of a classifier's data file (a file, not a folder), as the start of its
    probes read them (lorplan.probe.runner.read_labels: `lorplan probe start`'s checks, `lorplan recommend
    --data`, the planner's probes and ladders), which refused any label that is no class label: `path` resolved, its size and mtime_ns (os.stat) taken before the read, and the distinct labels in
    class-id order. The run folder keeps them (labels.json, create_run) so that its probes number their classes
    by them (recorded_labels) while they draw their sample; a file changed since is read again by the probes."""

    path: str
    size: int
    mtime_ns: int
    labels: tuple

    @classmethod
    def of(cls, path: str | os.PathLike[str], stat: os.stat_result, labels) -> DataLabels:
        from lorplan.core.data.labels import class_ids

        ids = class_ids(labels)
        return cls(str(Path(path).expanduser().resolve()), stat.st_size, stat.st_mtime_ns,
                   tuple(sorted(ids, key=ids.__getitem__)))

    def to_json(self) -> dict:
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns, "labels": list(self.labels)}


def recorded_labels(run: RunDir, path: str | os.PathLike[str]) -> frozenset | None:
    """The labels the run's start recorded in `run` (labels.json) for the data file `path`, when it still
    is the file they were read from (same resolved path, size and mtime); None otherwise: no such file (a run
    started before it was written, or of a causal LM), a damaged one (labels that are no class labels,
    fewer than two, or of no one kind: none that start records), or data changed since (the probes then read the
    labels from the file, as before)."""
    from lorplan.core.data.labels import ambiguous_name

    obj = read_json(run.labels_path)
    if obj is None:
        return None
    labels = obj.get("labels")
    if not isinstance(labels, list) or not all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in labels):
        return None
    if len(set(labels)) < 2 or ambiguous_name(labels) is not None:  # not what start records (it refused those)
        return None
    try:
        where = Path(path).expanduser().resolve()
        now = where.stat()
    except OSError:
        return None
    if (obj.get("path"), obj.get("size"), obj.get("mtime_ns")) != (str(where), now.st_size, now.st_mtime_ns):
        return None
    return frozenset(labels)


@dataclass(frozen=True)
class RunDir:
    """Paths of one run folder (no I/O on construction)."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def plan_path(self) -> Path:
        return self.path / "plan.json"

    @property
    def labels_path(self) -> Path:
        """A classifier's class labels of its whole data file, as `lorplan probe start` read them (DataLabels)."""
        return self.path / "labels.json"

    def plan(self) -> RunPlan:
        obj = read_json(self.plan_path)
        if obj is None:
            raise BadInput(f"run {self.id}: {self.plan_path} is missing or unreadable")
        try:
            return RunPlan.from_json(obj)
        except BadInput as exc:  # a hand-edited or damaged plan.json
            raise BadInput(f"run {self.id}: {self.plan_path} is not a probe run's plan: {exc}") from None

    def probe_dir(self, probe_id: str) -> Path:
        return self.path / "probes" / probe_id

    def events_path(self, probe_id: str) -> Path:
        return self.probe_dir(probe_id) / "events.jsonl"

    def result_path(self, probe_id: str) -> Path:
        return self.probe_dir(probe_id) / "result.json"

    def proc_path(self, probe_id: str) -> Path:
        return self.probe_dir(probe_id) / "proc.json"

    def alive_lock(self, probe_id: str) -> Path:
        return self.probe_dir(probe_id) / "alive.lock"

    def cancel_marker(self, probe_id: str) -> Path:
        return self.probe_dir(probe_id) / "cancel"

    @property
    def run_cancel_marker(self) -> Path:
        """Written when the user cancels the whole run: whatever drives it (a recommendation ladder) adds
        nothing more. Removed when a probe is retried."""
        return self.path / "cancelled"

    @property
    def driver_lock(self) -> Path:
        """Held (flock) by the process that drives the run while it lives (a probe ladder's driver,
        lorplan.recommend.driver): it adds probes to the plan in passes, so probes that all ended are not the
        run's end while it lives."""
        return self.path / "ladder.lock"

    @property
    def ladder_state(self) -> Path:
        """A probe ladder's decisions (lorplan.recommend.ladder_spec.LadderState, its driver's to write):
        its passes, the ranks it stopped, and "done" once it has ended (done, or cancelled by the user)."""
        return self.path / "ladder-state.json"

    def ladder_end(self) -> str | None:
        """How the probe ladder that drives this run ended: "done", or "cancelled" (the user cancelled the run;
        its ladder-state.json has the seconds it had run), as its ladder-state.json says. None for a plain run, a
        ladder still going, or a state file unreadable."""
        obj = read_json(self.ladder_state)
        if obj is None or not obj.get("done"):  # as LadderState.from_json reads it
            return None
        return "cancelled" if obj.get("cancelled") is not None else "done"

    def ladder_ended(self) -> bool:
        """A probe ladder drives this run and has ended (ladder_end: done, or cancelled): what is still queued
        in its plan is no longer the ladder's to train, and nothing starts a scheduler for it
        (runner.restart_stalled) nor queues a probe of it again (runner.retry). False for a plain run, a ladder
        still going, or a state file unreadable."""
        return self.ladder_end() is not None

    @property
    def scheduler_lock(self) -> Path:
        return self.path / "scheduler.lock"

    @property
    def queue_lock(self) -> Path:
        return self.path / "queue.lock"

    @property
    def scheduler_log(self) -> Path:
        return self.path / "scheduler.log"

    @property
    def waiting_path(self) -> Path:
        return self.path / "waiting.json"

    def slot_lock(self, name: str) -> Path:
        """The machine-wide lock of device slot `name` ("cpu-0", "cuda-0-0"): beside the run folders, so every
        run under the same runs folder queues on it."""
        return self.path.parent / ".slots" / f"{name}.lock"


def create_run(plan: RunPlan, root: Path | None = None, labels: DataLabels | None = None) -> RunDir:
    """Make the run folder with its plan.json and one empty folder per probe, and labels.json when `labels` (the
    data's class labels that the start checks read) are given. Returns its RunDir."""
    root = Path(root) if root is not None else runs_dir()
    run = RunDir(root / plan.run)
    made = False
    try:
        run.path.mkdir(parents=True, exist_ok=False)
        made = True
        for p in plan.probes:
            run.probe_dir(p.id).mkdir(parents=True)
        if labels is not None:  # before plan.json: a run that lists has it
            atomic_write_json(run.labels_path, labels.to_json())
        atomic_write_json(run.plan_path, plan.to_json())
    except FileExistsError:
        raise
    except OSError as exc:  # a full disk or quota, a read-only folder: nothing half-made is left to list
        if made:
            import shutil

            shutil.rmtree(run.path, ignore_errors=True)
        raise BadInput(f"cannot make the probe run's folder {run.path} ({exc.strerror or exc}); free space there "
                       "or point XDG_STATE_HOME at a folder that can be written") from None
    return run


def add_probes(run: RunDir, probes: tuple[ProbeSpec, ...] | list[ProbeSpec]) -> list[str]:
    """Append probes to a run's plan (ids it already has are skipped); returns the ids added. plan.json is
    rewritten atomically under queue.lock (a new file: a living scheduler sees its stamp change and launches
    them); submit the run again (Backend.submit) for a run whose scheduler has exited."""
    from lorplan.probe.backend import exclusive

    with exclusive(run.queue_lock):
        plan = run.plan()
        have = {p.id for p in plan.probes}
        new = [p for p in probes if p.id not in have]
        for p in new:
            run.probe_dir(p.id).mkdir(parents=True, exist_ok=True)
        if new:
            atomic_write_json(run.plan_path, replace(plan, probes=plan.probes + tuple(new)).to_json())
    return [p.id for p in new]


def list_runs(root: Path | None = None) -> list[RunDir]:
    """Every run folder with a plan, oldest first (run ids sort by time)."""
    root = Path(root) if root is not None else runs_dir()
    if not root.is_dir():
        return []
    return [RunDir(p) for p in sorted(root.iterdir()) if (p / "plan.json").is_file()]


def find_run(run_id: str | None, root: Path | None = None) -> RunDir:
    """The run with this id (or a unique prefix of it), or the newest run when run_id is None."""
    runs = list_runs(root)
    if not runs:
        raise BadInput(f"no probe runs in {Path(root) if root is not None else runs_dir()} (start one: lorplan probe start)")
    if run_id is None:
        return runs[-1]
    exact = [r for r in runs if r.id == run_id]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInput(f"RUN {run_id!r}: no such probe run (see lorplan probe list)")
    raise BadInput(f"RUN {run_id!r}: ambiguous, matches {', '.join(r.id for r in matches)}")
