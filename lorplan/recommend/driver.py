"""The probe ladder's driver: a detached process that watches a probe run and makes the ladder's decisions.

`start_ladder` writes an ordinary probe run (lorplan.probe: one probe per GPU, or CPU; detached, survives the
terminal) with the ladder's files beside it (recommend.ladder_spec), and starts this process in its own
session: python -m lorplan.recommend.driver RUN_DIR. The driver holds ladder.lock while it lives and, every
POLL_S seconds, reads the probes, stops ranks that cannot win at halving rungs (lorplan.probe.runner.cancel),
cancels what is left when the budget is spent (the budget counts the time the ladder ran with a live driver,
LadderFiles.driven_seconds, not the time since it started: a ladder resumed after a reboot goes on with what was
left), adds the next pass when a pass has ended, and rewrites recommendation.json from what is known. It looks at once, without waiting out POLL_S, when a probe it saw
running exits or its pattern measurement ends (`Driver.wait`): the pass's last probe ending is what the next
pass waits for. Each decision is written to ladder-state.json before it is acted on, and acting on it again is
harmless, so a driver killed at any moment is simply started again (`ensure_driver`, which
`lorplan recommend --run RUN` calls). Never imports torch.

A ladder whose run asks for the model's own Python code (`lorplan recommend --trust-remote-code`): the driver
is started with --trust-remote-code on its command line by the command the user typed it on, and hands it to
every scheduler it starts (its next passes, a killed scheduler) and to its own model loads. A driver started
without it (ensure_driver from a `lorplan recommend --run RUN` without the flag does not even start one) steps
no such ladder: its files are data anyone could have written (lorplan.probe.consent).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lorplan.recommend.ladder_spec import LadderFiles, LadderSpec, LadderState, Pass
from lorplan.recommend.observe import rank_probes

POLL_S = 1.0
RESTART_CHECK_S = 10.0
CLOCK_S = 5.0  # how often the driver writes the seconds it has driven the ladder (ladder-clock.json)


def _specs(p: Pass):
    from lorplan.probe.runs import ProbeSpec

    return [ProbeSpec(d["id"], int(d["rank"]), d.get("lr"), d.get("seed"), d.get("rank_pattern")) for d in p.specs]


def start_ladder(spec: LadderSpec, plan, first: Pass, root: Path | None = None, labels=None):
    """Create the probe run of `plan` (a lorplan.probe.runs.RunPlan whose probes are the first pass), write
    the ladder's files, start the run's scheduler and the driver. Returns the RunDir at once. `spec` and `plan`
    are the caller's own (built from the user's flags, never read from a folder): the scheduler and the driver
    get the consent they ask for (lorplan recommend --trust-remote-code).
    A classifier's ladder keeps its data's labels in the run folder for its probes (labels.json), as `lorplan
    probe start` does: `labels`, the runs.DataLabels the caller read (lorplan.probe.runner.read_labels: `lorplan
    recommend --data`), else read here by the same rule (runner.plan_labels: the planner's ladder), BadInput
    before anything is written when a row's label is no class label, wherever it is in the file. A run folder
    whose file system refuses flock: lorplan.probe.backend.LocksRefused, the run removed."""
    from lorplan.probe.backend import get_backend
    from lorplan.probe.consent import asks_remote_code
    from lorplan.probe.runner import mark_driver_launched, plan_labels, submit_new
    from lorplan.probe.runs import create_run

    trusted = spec.trust_remote_code or asks_remote_code(plan) is not None
    if labels is None:
        labels = plan_labels(plan)
    run = create_run(plan, root, labels)
    try:
        mark_driver_launched(run)  # before ladder.json makes it a ladder: its driver is on its way (launch_driver)
        files = LadderFiles(run)
        files.write_spec(spec)
        files.write_state(LadderState(passes=(first,)))
        mark_pattern_probes(run, spec)
    except OSError as exc:  # a disk that filled after create_run: a run without its ladder files would list as a
        import shutil  # plain probe run, and `probe status` would start its probes with no driver to decide

        from lorplan.core.errors import BadInput

        shutil.rmtree(run.path, ignore_errors=True)
        raise BadInput(f"cannot write the ladder's files in {run.path} ({exc.strerror or exc}); free space there "
                       "or point XDG_STATE_HOME at a folder that can be written") from None
    submit_new(run, get_backend(plan.backend, trust_remote_code=trusted))  # LocksRefused: the run removed
    launch_driver(run, trust_remote_code=trusted)
    return run


def ladder_asks_remote_code(run, spec: LadderSpec | None = None) -> str | None:
    """The model whose own code a ladder's run asks to run (its plan.json, its base plan, its ladder-spec.json),
    or None."""
    from lorplan.probe.consent import asks_remote_code

    spec = spec if spec is not None else LadderFiles(run).spec()
    return asks_remote_code(run.plan()) or ((spec.spec_source or spec.model) if spec.trust_remote_code else None)


def ladder_resume(run_id: str) -> str:
    """The command that starts a ladder's driver and probes again with the user's consent."""
    from lorplan.probe.consent import TRUST_FLAG

    return f"lorplan recommend --run {run_id} {TRUST_FLAG}"


def check_ladder_consent(run, trusted: bool, resume: str | None, what: str = "its driver and probes") -> None:
    """RemoteCodeRefused (lorplan.probe.consent) when the ladder's run asks for its model's own code and
    `trusted` (the user's --trust-remote-code, reached this process) is False."""
    from lorplan.probe.consent import refuse_untrusted

    refuse_untrusted(run.id, ladder_asks_remote_code(run), trusted, resume, what)


def mark_pattern_probes(run, spec: LadderSpec) -> None:
    """Ask the ladder's pattern probes that are in the run and not ended to save their adapters
    (lorplan.probe.worker.SAVE_ADAPTER_MARKER). Idempotent."""
    from lorplan.probe.adapters import mark_save_adapter, wants_adapter

    for pid in spec.pattern_probes:
        if run.probe_dir(pid).is_dir() and not wants_adapter(run, pid) and not run.result_path(pid).exists():
            mark_save_adapter(run, pid)


def launch_pattern_measure(run) -> subprocess.Popen:
    """Measure what the pattern probes' adapters share in a child process (python -m lorplan.recommend.pattern
    RUN_DIR writes pattern-signals.json): the driver never imports torch."""
    from lorplan.probe.backend import child_env

    files = LadderFiles(run)
    with open(files.log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "lorplan.recommend.pattern", str(run.path)],
                                start_new_session=True, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=child_env(), cwd=run.path)


def launch_driver(run, trust_remote_code: bool = False) -> None:
    """Start the driver for `run` in its own session (it outlives the terminal); it exits at once when
    another driver holds the run's ladder.lock. trust_remote_code: the user's consent, on its command line.
    The launch is stamped first (lorplan.probe.runner.mark_driver_launched): until the driver holds the lock,
    after its imports, driver_alive counts it as starting."""
    from lorplan.probe.backend import child_env
    from lorplan.probe.consent import flag
    from lorplan.probe.runner import mark_driver_launched

    files = LadderFiles(run)
    mark_driver_launched(run)
    with open(files.log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lorplan.recommend.driver", str(run.path),
                                 *flag(trust_remote_code)],
                                start_new_session=True, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=child_env(), cwd=run.path)
    threading.Thread(target=proc.wait, daemon=True).start()  # reap it when it exits; liveness is the lock


def driver_alive(run) -> bool:
    """A driver holds the run's ladder.lock, or was launched moments ago and is starting (lorplan.probe.runner.
    driver_alive: the probe layer decides it)."""
    from lorplan.probe.runner import driver_alive as alive

    return alive(run)


@dataclass(frozen=True)
class Restarted:
    """ensure_driver started a driver again; `requeued`: the probes queued again first (requeue_cut_short)."""

    requeued: tuple[str, ...] = ()


def ensure_driver(run, *, trust_remote_code: bool = False, resume: str | None = None) -> Restarted | None:
    """Start a driver for a ladder that is not done and has none (it was killed, or the machine restarted; one
    launched moments ago that is still starting counts as one: driver_alive),
    after queueing again the probes cut short with it (requeue_cut_short). None when none was started.
    A ladder that asks for its model's own code is started again only with trust_remote_code (the current
    command's --trust-remote-code): else RemoteCodeRefused naming `resume`, with nothing queued or started.
    The driver's liveness is read before the ladder's state: a driver writes done before it lets its lock go, so
    one that ends the ladder and exits between the two looks is not taken for a killed one."""
    if driver_alive(run) or LadderFiles(run).state().done:
        return None
    check_ladder_consent(run, trust_remote_code, resume)
    requeued = requeue_cut_short(run, trust_remote_code=trust_remote_code)
    launch_driver(run, trust_remote_code=trust_remote_code)
    return Restarted(tuple(requeued))


def requeue_cut_short(run, *, trust_remote_code: bool = False, backend=None) -> list[str]:
    """Queue again, once each, the probes whose process ended without a result, found as a stopped driver is
    started again: what a machine restart or a kill of every lorplan process leaves (a probe killed
    mid-training reads 'died', and the driver went on without it, the base or one of the rates included). A
    probe that dies again is left died. Not for a run the user cancelled, nor once the ladder's budget is spent
    (the driver would cancel them), nor once the ladder has ended (RunDir.ladder_ended: nothing would read them,
    and runner.retry refuses them with its line for the user). Every one is queued before the run's scheduler is
    started, once (backend: the probe backend that starts it; default: the run's, with trust_remote_code).
    Returns their ids."""
    from lorplan.probe.backend import get_backend
    from lorplan.probe.runner import attempts, retry
    from lorplan.probe.status import run_status

    spec = LadderFiles(run).spec()
    if run.run_cancel_marker.exists() or run.ladder_ended():
        return []
    if spec.budget_seconds is not None and LadderFiles(run).driven_seconds() >= spec.budget_seconds:
        return []
    died = [p.id for p in run_status(run).probes  # not a damaged result.json: that probe ended
            if p.state == "died" and not run.result_path(p.id).exists() and attempts(run, p.id) == 0]
    if not died:
        return died
    backend = backend or get_backend(run.plan().backend, trust_remote_code=trust_remote_code)
    for pid in died:  # one scheduler for all: started once per probe, all but one exited at the queue's lock
        retry(run, pid, backend, submit=False)
    backend.submit(run)
    return died


def base_model(spec: LadderSpec, run, trust_remote_code: bool = False):
    """(base plan, ModelSpec with the plan's head, TrainingSetup) of a ladder's run: what its probes are short
    runs of and what a recommended rank is priced and written with; None for a run without a plan (the demo).
    The model's own code runs only when the spec asks and trust_remote_code (the user's consent) allows."""
    from lorplan.core.model.head import with_labels
    from lorplan.probe.plans import base_plan

    plan = run.plan()
    if plan.base is None:
        return None
    from lorplan.core.model import load_spec
    from lorplan.core.plan import plan_to_setup

    base = base_plan(plan)
    _, setup, _ = plan_to_setup(base)
    model = load_spec(spec.spec_source, trust_remote_code=spec.trust_remote_code and trust_remote_code)
    labels = base.model.num_labels
    if spec.task == "sequence-classification" and labels:
        model = with_labels(model, labels)
    return base, model, setup


def price_for(spec: LadderSpec, run, trust_remote_code: bool = False):
    """The memory verdict for a rank (recommend.fit.price_fit) for the run's plan, or None (the demo, or a
    run without a plan)."""
    from lorplan.recommend.fit import price_fit

    known = base_model(spec, run, trust_remote_code)
    if known is None:
        return None
    _, model, setup = known
    return lambda rank: price_fit(model, setup, rank, spec.budget_bytes, spec.gpu)


class Driver:
    """One ladder's decisions, one `step()` at a time (the process loops over it; tests may call it)."""

    def __init__(self, run, trust_remote_code: bool = False) -> None:
        from lorplan.probe.backend import UnlockWake
        from lorplan.recommend.observe import RunObserver

        self.run = run
        self.trusted = trust_remote_code  # the user's consent, on this process's command line
        self.files = LadderFiles(run)
        self.spec = self.files.spec()
        self.observer = RunObserver(run, self.spec.learning_rate)
        self.price = price_for(self.spec, run, trust_remote_code)
        self._run_seed = run.plan().seed  # what a one-seed ladder's probes train with
        self._written: str | None = None
        self._checked = 0.0
        self._t0 = time.time()  # this driver's start: its time is added to what earlier drivers ran
        self._ran0 = self.files.driven_seconds()
        self._clocked = 0.0  # time.monotonic() of the last ladder-clock.json
        self._measure: subprocess.Popen | None = None
        self._running: tuple[str, ...] = ()  # the probes the last step saw running
        self._wake = UnlockWake()  # what `wait` sleeps on: the running probes' alive.locks, the measurement's end
        self._watched_measure: subprocess.Popen | None = None  # the measurement whose end wakes `wait`
        self._write_failed: str | None = None  # the line said for a write that failed, until one succeeds
        self._paused = 0.0  # the seconds this driver's run waited for disk space with no probe running
        self._space_since: float | None = None  # when the wait now going on began (the `now` of that step)

    def ran(self, now: float) -> float:
        """The seconds the ladder has run at `now`: what earlier drivers ran (LadderFiles.driven_seconds) and
        this one's time since it started. The budget counts this, not the time since spec.started, nor the time
        the run waited for disk space with no probe running (_space_wait): the probes that wait are not run."""
        waited = self._paused + (max(0.0, now - self._space_since) if self._space_since is not None else 0.0)
        return self._ran0 + max(0.0, now - self._t0 - waited)

    def step(self, now: float | None = None) -> bool:
        """Read the probes, decide, act, write recommendation.json. True when the ladder is done. The ladder's
        time is its running time (`ran`); what decides by the clock (the budget, the passes it buys) is given
        `clock`: spec.started plus that time, the time it would be had the ladder never stopped."""
        from lorplan.probe.backend import exclusive, get_backend
        from lorplan.probe.runs import add_probes
        from lorplan.recommend import measured
        from lorplan.recommend.decide import halving, next_pass

        now = time.time() if now is None else now
        spec, state = self.spec, self.files.state()
        if state.done:
            # ended before this step (this driver was started just as another ended the ladder): it starts
            # nothing, not even a scheduler for a probe left queued (restart_stalled); a cancelled ladder's
            # probes are cancelled, which is all _apply does for one
            if state.cancelled is not None:
                self._apply(state)
            self._write(self.observer.observe(), state)
            return True
        ran = self.ran(now)
        clock = spec.started + ran
        if time.monotonic() - self._clocked >= CLOCK_S:
            self._clocked = time.monotonic()
            self.files.write_driven(ran)
        self._apply(state)
        if time.monotonic() - self._checked > RESTART_CHECK_S:
            from lorplan.probe.consent import RemoteCodeRefused
            from lorplan.probe.runner import restart_stalled

            self._checked = time.monotonic()
            try:  # a killed scheduler leaves probes queued: start another
                restart_stalled(self.run, trust_remote_code=self.trusted,
                                resume=ladder_resume(self.run.id), by_driver=True)
            except RemoteCodeRefused as exc:  # plan.json asks for it since this driver started without it
                print(f"{time.strftime('%H:%M:%S')} {exc}", flush=True)
        obs = self.observer.observe()
        self._space_wait(obs, now)
        if not state.done and self.run.run_cancel_marker.exists():  # `lorplan probe cancel RUN`, the TUI's C
            state = replace(state, done=True, cancelled=round(ran, 1))
            self.files.write_driven(ran)
            self.files.write_state(state)
            self._apply(state)  # a pass added while the user cancelled: its probes too
            self._write(self.observer.observe(), state)
            return True
        budget = spec.budget_seconds
        if not state.done and budget is not None and state.budget_spent is None and ran >= budget:
            state = replace(state, budget_spent=round(ran, 1))
            self.files.write_state(state)
            self._apply(state)
            obs = self.observer.observe()
        ranked = rank_probes(obs)  # the base and one-rank probes: what halving and the passes compare
        if spec.halving and not state.done and state.budget_spent is None:
            base = measured.base_measure(ranked, spec)
            if base is not None:
                stops, judged = halving(spec, state, ranked, base.loss, self.run.plan().eval_every)
                if stops or judged:
                    state = replace(state, stops=state.stops + tuple(stops), judged=state.judged + tuple(judged))
                    self.files.write_state(state)
                    if stops:
                        self._apply(state)
                        obs = self.observer.observe()
        measuring = self._pattern(obs)
        if not state.done and all(o.ended for o in obs):
            signals = self.files.signals()
            rec, base = measured.recommendation(spec, obs, state, self.price, signals)
            knee = measured.ladder_knee(rec.ladder, base)
            nxt = next_pass(spec, state, rank_probes(obs), knee.rank if knee is not None else None, clock,
                            best_rank=knee.best_rank if knee is not None else None, band_low=rec.confidence[0])
            if nxt is None and not measuring and signals and "signals" in signals:
                # the last pass: the pattern trained once beside the one-rank probe it would replace
                nxt = measured.pattern_check_pass(spec, state, obs, rec, clock)
            if nxt is None and measuring:
                pass  # the ladder is done once the pattern's measurement has written its file
            elif nxt is None:
                # done only when every probe has still ended, looked at again under the queue lock a retry queues
                # under (runner.retry): a probe queued again since `obs`, maybe launched already by the retry's
                # scheduler, keeps the ladder going and its result is read; one queued after the done is refused
                with exclusive(self.run.queue_lock):
                    obs = self.observer.observe()
                    if all(o.ended for o in obs):
                        state = replace(state, done=True)
                        self.files.write_state(state)
                        self.files.write_driven(ran)
            else:
                state = state.with_pass(nxt)
                self.files.write_state(state)
                if nxt.specs:
                    add_probes(self.run, _specs(nxt))
                    get_backend(self.run.plan().backend, trust_remote_code=self.trusted).submit(self.run)
                obs = self.observer.observe()
        self._write(obs, state)
        return state.done

    def _space_wait(self, obs, now: float) -> None:
        """Stop the ladder's clock (`ran`) while its run waits for disk space: probes queued, none running, and
        the run folder's disk too short for the scheduler to launch one (lorplan.probe.status.space_short, what
        `lorplan probe status` reads then, through polled_space_short: statvfs at every look, the allocation at
        most once per SPACE_RECHECK_S); start it again once a probe runs or there is space. Said once per wait
        in ladder.log. The pass's probes have not ended, so no next pass is added meanwhile."""
        from lorplan.probe.events import log_line
        from lorplan.probe.status import polled_space_short

        short = None
        if any(o.state == "queued" for o in obs) and not any(o.state == "running" for o in obs):
            short = polled_space_short(self.run)
        if short is not None and self._space_since is None:
            self._space_since = now
            log_line(f"run {self.run.id} waits for disk space: {short[0]}; the budget's clock stops until there "
                     "is space")
        elif short is None and self._space_since is not None:
            self._paused += max(0.0, now - self._space_since)
            self._space_since = None

    def try_step(self) -> bool:
        """step(), through a write that fails for want of space or a folder made read-only (other OSErrors, too many
        open files or a process that could not start, are raised as before): its files are
        written whole or not at all, so the next step reads the decisions as they stand and makes the rest.
        Says so once in ladder.log (if that can be written) until a step succeeds; False, as a step not done."""
        import errno

        from lorplan.probe.events import log_line
        from lorplan.probe.result import OUT_OF_SPACE

        try:
            done = self.step()
        except OSError as exc:
            if exc.errno not in (*OUT_OF_SPACE, errno.EROFS):  # not a write that may work later: a bug to see
                raise
            line = f"could not write in {self.run.path} ({exc.strerror or exc}); the ladder goes on once it can"
            if line != self._write_failed:
                self._write_failed = line
                log_line(line)  # as ladder.log's disk lets it
            return False
        if self._write_failed is not None:
            self._write_failed = None
            log_line("writing again")
        return done

    def wait(self, timeout_s: float) -> None:
        """Sleep until a probe the last step saw running exits, the pattern measurement ends, or timeout_s
        passes. The probes' alive.locks, which each probe's process holds exclusively until it exits, are watched
        as every wait for a run watches its locks (lorplan.probe.backend.UnlockWake, seen_held: one let go since
        the step wakes at once); a lock is watched by one thread at a time, and one whose flock cannot be waited
        for (ENOLCK) is left to the poll, so nothing spins."""
        if self._measure is not None and self._measure is not self._watched_measure:
            self._watched_measure = self._measure
            threading.Thread(target=_await_exit, args=(self._measure, self._wake.wake), daemon=True).start()
        self._wake.sleep(tuple(self.run.alive_lock(pid) for pid in self._running), timeout_s, seen_held=True)

    def _pattern(self, obs) -> bool:
        """Start the pattern measurement once every pattern probe has ended and two saved adapters; True while
        it runs (the ladder waits for it). A measurement that died without a word gets its error written."""
        from lorplan.probe.adapters import has_adapter
        from lorplan.probe.runs import atomic_write_json

        spec = self.spec
        if not spec.pattern_probes or self.files.signals_path.exists():
            return False
        if self._measure is not None:
            code = self._measure.poll()
            if code is None:
                return True
            if not self.files.signals_path.exists():
                atomic_write_json(self.files.signals_path,
                                  {"error": f"the pattern measurement exited with code {code} (see ladder.log)"})
            return False
        by_id = {o.id: o for o in obs}
        if any(p in by_id and not by_id[p].ended for p in spec.pattern_probes):
            return False
        saved = [p for p in spec.pattern_probes if has_adapter(self.run, p)]
        if len(saved) < 2:
            return False
        self._measure = launch_pattern_measure(self.run)
        return True

    def _apply(self, state: LadderState) -> None:
        """Make the run match the decisions: every pass's probes are in the plan (unless the user cancelled the
        run); probes of stopped ranks, and every probe once the budget is spent or the run was cancelled, are
        cancelled, each with the reason. Idempotent."""
        from lorplan.probe import runner
        from lorplan.probe.backend import get_backend
        from lorplan.probe.runs import add_probes

        if state.cancelled is None:
            added = []
            for p in state.passes:
                added += add_probes(self.run, _specs(p))
            mark_pattern_probes(self.run, self.spec)
            if added:
                get_backend(self.run.plan().backend, trust_remote_code=self.trusted).submit(self.run)
        for p in self.run.plan().probes:
            why = self._stop_reason(state, p.rank)
            if why and not self.run.result_path(p.id).exists():
                runner.cancel(self.run, probe_id=p.id, grace_s=2.0, reason=why)

    def _stop_reason(self, state: LadderState, rank: int) -> str:
        """Why a probe of `rank` must not run (a cancelled result's message), or "" when it may."""
        if state.cancelled is not None:
            return "the user cancelled the run"
        if state.budget_spent is not None:
            return f"stopped by the ladder: the {self.spec.budget_seconds:,.0f} s budget was spent"
        if rank in state.stopped_ranks:
            return (f"stopped by the ladder: rank {rank} can be neither the knee nor the best rank "
                    "(successive halving)")
        return ""

    def _write(self, obs, state: LadderState) -> None:
        from lorplan.recommend import measured

        out = measured.recommendation_json(self.spec, obs, state, self.price, run_id=self.run.id,
                                           signals=self.files.signals(), run_seed=self._run_seed)
        self._running = tuple(o.id for o in obs if o.state == "running")
        text = json.dumps(out, sort_keys=True)
        if text != self._written:
            out["updated"] = round(time.time(), 3)
            self.files.write_recommendation(out)
            self._written = text


def _await_exit(proc: subprocess.Popen, wake) -> None:
    proc.wait()
    wake()


def drive(run, poll_s: float = POLL_S, trust_remote_code: bool = False) -> int:
    """Hold the run's ladder.lock and step until the ladder is done (0), or return 3 at once when another
    driver holds the lock, 4 (nothing done) when the ladder asks for its model's own code and this process
    was not given the user's consent (trust_remote_code), 5 (said in one line) when the run folder's file
    system refuses the lock, or refuses its probes' and scheduler's locks later (the ladder then stopped)."""
    from lorplan.probe.backend import LocksRefused, flock
    from lorplan.probe.consent import RemoteCodeRefused
    from lorplan.probe.runner import driver_launch_stamp

    stamp = driver_launch_stamp(run)  # its launch, which counts as a live driver until this one decides
    try:
        check_ladder_consent(run, trust_remote_code, ladder_resume(run.id))
    except RemoteCodeRefused as exc:
        print(f"{time.strftime('%H:%M:%S')} {exc}", flush=True)
        stamp.unlink(missing_ok=True)
        return 4
    files = LadderFiles(run)
    fd = os.open(files.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, files.lock_path)
        except BlockingIOError:
            print(f"{time.strftime('%H:%M:%S')} another driver holds {files.lock_path.name}", flush=True)
            stamp.unlink(missing_ok=True)  # that one lives: the lock says so
            return 3
        except LocksRefused as exc:  # submit tests the folder first: a file system that stopped taking locks since
            print(f"{time.strftime('%H:%M:%S')} {exc}", flush=True)
            stamp.unlink(missing_ok=True)  # no driver will hold the lock: none is starting
            return 5
        stamp.unlink(missing_ok=True)  # the lock says it from now on, and its release that this driver is gone
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        print(f"{time.strftime('%H:%M:%S')} driver {os.getpid()} for run {run.id}", flush=True)
        try:
            driver = Driver(run, trust_remote_code)
            while not driver.try_step():  # a full disk stops no ladder: it waits for space, probes go on
                driver.wait(poll_s)
        except LocksRefused as exc:  # its probes' and scheduler's locks, which each step tests, refused since
            resume = ladder_resume(run.id) if trust_remote_code else f"lorplan recommend --run {run.id}"
            print(f"{time.strftime('%H:%M:%S')} {exc}; the ladder stopped: `{resume}` starts its driver again once "
                  "locks work there", flush=True)
            return 5  # the ladder is not done: with no driver it reads "stopped", and the line says why
        print(f"{time.strftime('%H:%M:%S')} ladder done", flush=True)
        return 0
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    from lorplan.probe.runs import RunDir

    argv = sys.argv[1:] if argv is None else argv
    from lorplan.probe.consent import TRUST_FLAG

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped terminal is not a reason to stop
    # the consent comes from the command that started this process, never from the run folder
    return drive(RunDir(Path(argv[0])), trust_remote_code=TRUST_FLAG in argv[1:])


if __name__ == "__main__":
    sys.exit(main())
