"""The TUI's door to the recommender (lorplan.recommend): the capacity prior of the plan on screen, starting a
probe ladder, a ladder's recommendation read from its run folder, and what the Recommend tab's plot shows.

Plain Python (no Textual). The prior is arithmetic (adapter parameters per rank, exact, from the model spec;
the memory verdict from lorplan's memory model): a few milliseconds, so the Recommend tab computes it as soon
as a plan is on screen. A ladder is an ordinary probe run whose driver rewrites recommendation.json in the run
folder as probes finish (lorplan.recommend.driver: detached, it outlives the TUI); `start_ladder` starts one
as `lorplan recommend --probes auto` does and `LadderFeed` reads it, both from thread workers; what comes back
is frozen. Inside
lorplan.tui only this module imports lorplan.recommend (import-linter, pyproject.toml); the core is reached
through lorplan.tui.bridge and the run folders through lorplan.tui.probe_bridge. Never imports torch.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lorplan.core.errors import BadInput, LorplanError
from lorplan.recommend import (
    DataSize,
    Evidence,
    Recommendation,
    adapter_size,
    band_note,
    capacity_prior,
    combine,
    data_size_from_profile,
    default_learning_rate,
    find_knee,
    price_fit,
    summarize,
)
from lorplan.recommend.fit import BATCH_FLAGS
from lorplan.recommend.launch import (  # noqa: F401  (the panel's ladder settings)
    BUDGET_MINUTES,
    MAX_SEEDS,
    PROBE_STEPS,
    check_budget_minutes,
    check_default_probe_steps,
    planned_run_steps,
    probe_length,
)
from lorplan.recommend.policy import scaling_policy
from lorplan.recommend.table import ONLY_WHY, one_rank_budget, state_word
from lorplan.recommend.types import UNREADABLE, read_field
from lorplan.tui import bridge, probe_bridge
from lorplan.tui.bridge import remedy_words  # noqa: F401  (in bridge, beside hint_words: see there)
from lorplan.tui.state import Tuning

if TYPE_CHECKING:
    from lorplan.tui.state import PlanData, PlanSnapshot

RECOMMENDATION_FILE = "recommendation.json"  # what a ladder's driver writes into its run folder
CLASSIFICATION = "sequence-classification"
NO_PROBES = ("no probe has run yet: the rank rests on the capacity prior, a rule of thumb that has not measured "
             "your data; a probe ladder measures it")


# -- the capacity prior ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PriorRead:
    """The prior's recommendation for the plan on screen, or None and what it needs (one line, as the Recommend
    tab's head shows it, above the size field). needs_size: what it needs is the size of the data (size_needed:
    a pop-up says where to type it)."""

    recommendation: Recommendation | None
    needs: str | None = None
    needs_size: bool = False




def check_steps_typed(steps: int | None) -> int | None:
    """The planner's "Steps per probe" as typed, checked as `l` will check it (recommend.launch.check_probe_steps)
    against the schedule the planner's plans train with, so a 1-step probe, which trains nothing under a warmup,
    is the field's line as typed, not a toast at `l`."""
    return check_default_probe_steps(steps, "Steps per probe")

def size_wanted(task: str) -> str:
    """What a user types when there is no profile: trained tokens (causal LM) or labelled examples."""
    return "labelled examples" if task == CLASSIFICATION else "trained tokens"


def size_needed(task: str, *, popup: bool = False) -> str:
    """What the capacity prior needs without a profile. The Recommend tab's head has the size field below it; a
    pop-up (`popup`) has nothing below it, so it names the field and its tab."""
    what = size_wanted(task)
    where = f"in the Recommend tab's {what.capitalize()} field" if popup else "below"
    return (f"The capacity prior needs the size of your data: profile a dataset in the Data tab, or type its "
            f"{what} {where}.")


def data_size(plan: PlanSnapshot, data: PlanData | None, typed: int | None = None) -> DataSize | None:
    """What the data has to teach: from the Data tab's profile when there is one, else from the size the user
    typed (trained tokens, or labelled examples for classification), else None. The profile is weighed at the
    plan's sequence length (its truncated tokens), as `lorplan recommend --data` profiles it: the Data tab's was
    cut at the length the plan had when it was made."""
    task = plan.spec.task
    profile = data.profile if data is not None else None
    if profile is not None:
        if profile.seq_len != plan.setup.seq_len:
            profile = profile.at_seq_len(plan.setup.seq_len)
        counts = dict(profile.labels.counts) if task == CLASSIFICATION and profile.labels is not None else None
        # the head the labels need (integer labels are class ids: the largest + 1), as lorplan recommend --data
        # counts them and the exported plan and the ladder's probes train; without labels, the model's own
        labels = bridge.num_labels(bridge.data_spec(plan.spec, data)) if task == CLASSIFICATION else None
        return data_size_from_profile(profile, task=task, label_counts=counts, num_labels=labels)
    if typed is None:
        return None
    if task == CLASSIFICATION:
        return DataSize(task=task, examples=typed, num_labels=max(2, bridge.num_labels(plan.spec)),
                        source="typed in the Recommend tab")
    return DataSize(task=task, trained_tokens=typed, source="typed in the Recommend tab")


def prior(plan: PlanSnapshot, data: PlanData | None, typed: int | None = None) -> PriorRead:
    """The capacity prior's recommendation for the plan on screen (its model, targets, setup and memory
    budget) and the Data tab's profile, or the size typed; never raises BadInput (it becomes `needs`). None for a
    checkpoint whose config.json names a head lorplan does not train (a token classifier's), which `lorplan
    recommend` refuses: its `needs` is that command's line (bridge.other_head_refusal), the model as typed."""
    task = plan.spec.task
    if (other := bridge.other_head_refusal(plan.spec, plan.source)) is not None:
        return PriorRead(None, other)
    try:
        size = data_size(plan, data, typed)
        if size is None:
            return PriorRead(None, size_needed(task), needs_size=True)
        spec, setup = bridge.data_spec(plan.spec, data), _one_rank(plan.setup)  # a classifier's head: its data's
        rec = combine(capacity_prior(size, adapter_size(spec, setup.targets)),
                      default_lr=default_learning_rate(spec.id, task, spec.total_params),
                      target_modules=bridge.peft_targets(spec, setup.targets),
                      price=lambda rank: price_fit(spec, setup, rank, plan.budget_bytes),
                      notes=(Evidence("probes", None, NO_PROBES),))
    except BadInput as exc:
        return PriorRead(None, str(exc))
    return PriorRead(rec)


def fit_words(fit) -> str:
    """A memory verdict (Fit.explanation, in `lorplan recommend`'s words: the changes that make the rank fit as
    its flags) in the planner's: "it fits with --grad-checkpointing or with --seq-len 838" -> "it fits with
    gradient checkpointing or a sequence length of 838"; the budget the CLI asks for as --gpu is the GPU box's."""
    text = fit.explanation
    works = [r.change for r in fit.remedies if r.fits]
    if works:
        text = text.replace(f"; it fits with {' or with '.join(works)}",
                            f"; it fits with {' or '.join(remedy_words(w) for w in works)}")
    text = text.replace(BATCH_FLAGS, "the Plan tab's micro-batch prices another")  # a classifier's default 16
    return text.replace("no GPU budget was given (--gpu or --gpu-memory)",
                        "no GPU budget was given (the Plan tab's GPU box)")


def _one_rank(setup):
    """The setup without an applied rank_pattern: the prior and the ladder weigh one rank for every module."""
    return replace(setup, targets=replace(setup.targets, rank_pattern={}))


# -- starting a ladder -----------------------------------------------------------------------------------------
LADDER_EPOCHS = 1.0  # the planned training a ladder started here measures (lorplan recommend's default)


class ModelNames:
    """The published name of the plan's model (bridge.published_source), looked up on disk once per model field.
    probe_steps runs whenever the plan, the data or the steps field changes, and a lookup of a cached hub id walks
    the Hugging Face cache (refs/main, the snapshots): the Recommend tab keeps one ModelNames and passes it on.
    Keyed on the model field's text: another model is looked up anew, and so is the first one again after it."""

    def __init__(self) -> None:
        self._last: tuple[str, str] | None = None  # (the model field, its published name)

    def published(self, source: str) -> str:
        if self._last is None or self._last[0] != source:
            self._last = (source, bridge.published_source(source))
        return self._last[1]


def probe_steps(plan: PlanSnapshot, data: PlanData | None, asked: int | None,
                names: ModelNames | None = None) -> tuple[int, int] | None:
    """(steps per probe, the planned training's steps) of a ladder started now with `asked` steps per probe
    (None: the default), as start_ladder caps them (recommend.launch.probe_length: never longer than the
    planned run); None without a profiled dataset or when the plan cannot be built (start_ladder says why).
    names: the caller's ModelNames, so the model is not looked up on disk at each call (None: looked up)."""
    if data is None or data.profile is None:
        return None
    try:
        published = (names or ModelNames()).published(plan.source)
        profiled = bridge.profiled_plan(replace(plan, setup=_one_rank(plan.setup)), data, published=published)
    except LorplanError:
        return None
    planned = planned_run_steps(profiled, data.profile, LADDER_EPOCHS)
    return probe_length(planned, asked)[0], planned


def start_ladder(plan: PlanSnapshot, data: PlanData | None, *, runs_dir: Path | None,
                 budget_minutes: float | None = None, seeds: int = 1, probe_steps: int | None = None) -> str:
    """Start a probe ladder for the plan on screen on the Data tab's profiled dataset, as `lorplan recommend
    --model M --data D --probes auto` does: probes are short runs of the plan at the capacity prior's rank
    (alpha and learning rate of the scaling policy), detached, so it outlives the TUI. Returns the run id at
    once (slow-ish: reads the model folder; call it from a thread worker). Raises BadInput saying why not:
    no profile, the model's weights not on this machine or too large to probe on a CPU, a dataset too small to
    measure, a budget too small for one probe."""
    from lorplan.recommend.combine import too_small
    from lorplan.recommend.driver import start_ladder as start
    from lorplan.recommend.launch import data_ladder, probe_blocker

    if data is None or data.profile is None:
        raise BadInput("The probe ladder trains on your data: profile a dataset in the Data tab first.")
    spec, task = plan.spec, plan.spec.task
    if task == CLASSIFICATION and data.profile.labels is not None:  # one class teaches nothing: as lorplan
        # recommend --data and probe start refuse it (core.data.labels.check_classes), the file named as here
        data.profile.labels.check_classes(bridge.form_words(f"--data {data.path}"))
    # the model is looked up on disk once (a folder, or the Hugging Face cache: slow-ish) and the ModelSource
    # passed on: probe_blocker and data_ladder find its folder in it, the run's name is its published name
    try:
        found = bridge.model_source(plan.source)
    except BadInput as exc:  # gone since the planner loaded it
        raise BadInput(f"The probe ladder cannot run here: {exc}") from None
    blocked = probe_blocker(spec, found)
    if blocked is not None:
        raise BadInput(f"The probe ladder cannot run here: {bridge.consent_words(blocked.reason)}")
    size = data_size(plan, data)
    small = too_small(size)
    if small is not None:
        raise BadInput(small)
    spec = bridge.data_spec(spec, data)  # a classifier's head is trained in full: the one its labels need counts
    # the run records the model (its plan's model.source, which `lorplan probe list` names) by its published id,
    # as `lorplan recommend` does, whatever name the planner was opened with (`all-MiniLM-L6-v2`); a folder as
    # typed. The Recommend tab matches ladders by the spec's id, which is that id already.
    source = bridge.published_name(found)
    setup = _one_rank(plan.setup)
    adapter = adapter_size(spec, setup.targets)
    prior = capacity_prior(size, adapter)
    lr = default_learning_rate(spec.id, task, spec.total_params)
    scaling = scaling_policy(prior.rank)
    at_prior = replace(plan, spec=spec, source=source, setup=setup, rank=prior.rank,
                       tuning=Tuning(scaling.alpha, lr[0], scaling.use_rslora, source="scaling policy"))
    ladder = data_ladder(spec, found, setup, bridge.profiled_plan(at_prior, data, published=source), data.profile,
                         size, prior, adapter, target_modules=bridge.peft_targets(spec, setup.targets),
                         learning_rate=lr, epochs=LADDER_EPOCHS, budget_minutes=budget_minutes,
                         budget_bytes=plan.budget_bytes, gpu=None, trust_remote_code=plan.trust_remote_code,
                         seeds=seeds, probe_steps=probe_steps)
    if ladder.spec is None:  # the budget it would take named as the tab's minutes field, not the CLI's flag
        raise BadInput(f"No probe ladder: {budget_words(ladder.blocked)}")
    try:  # a classifier's ladder reads its data's labels first, as `lorplan probe start` does (kept for its probes)
        return start(ladder.spec, ladder.plan, ladder.first, root=runs_dir).id
    except BadInput as exc:  # the data named as the planner names it
        exc.args = (bridge.form_words(str(exc)),)
        raise


# -- the model a ladder measured -------------------------------------------------------------------------------
@dataclass(frozen=True)
class AdapterShape:
    """What the model's shape gives the LoRA a ladder trains: target_modules as peft takes them, LoRA parameters
    per unit of rank and the smallest adapted dimension (recommend.AdapterSize's per_rank and min_dim). A ladder's
    recommendation.json records these of the model it measured (its capacity's params_per_rank and
    min_target_dim, beside its target_modules), so a model folder read again with other sizes under the same
    path, task and data is told from the one the ladder measured without a new field. The hidden and
    intermediate sizes, the layers and the key/value heads change them; a vocabulary, a context length or a head
    count at the same hidden size does not, and a classifier head's size (fixed_params) is its data's labels, not
    the model: neither is compared."""

    target_modules: tuple[str, ...]
    per_rank: int
    min_dim: int

    def change_words(self, was: AdapterShape) -> str:
        """How this shape differs from the one a ladder measured, `was`: "1,664 LoRA parameters per rank, the
        ladder's model 1,024" (the smallest adapted dimension when those agree)."""
        if self.per_rank != was.per_rank:
            return f"{self.per_rank:,} LoRA parameters per rank, the ladder's model {was.per_rank:,}"
        return f"smallest adapted dimension {self.min_dim:,}, the ladder's model {was.min_dim:,}"


def adapter_shape(spec, targets) -> AdapterShape:
    """The AdapterShape of a model spec for LoraTargets (their rank_pattern plays no part). Raises BadInput as
    the target resolution does."""
    targets = replace(targets, rank_pattern={})
    size = adapter_size(spec, targets)
    return AdapterShape(bridge.peft_targets(spec, targets), size.per_rank, size.min_dim)


def plan_shape(plan: PlanSnapshot, data: PlanData | None) -> AdapterShape | None:
    """The AdapterShape of the plan on screen, weighed as start_ladder weighs it (a classifier's head the one its
    data's labels need, one rank for every module); None when it cannot be (its targets or labels refused: no
    ladder is judged by it)."""
    try:
        return adapter_shape(bridge.data_spec(plan.spec, data), plan.setup.targets)
    except LorplanError:
        return None


def ladder_shape(rec: Recommendation) -> AdapterShape | None:
    """The AdapterShape of the model a ladder measured, from its recommendation (capacity and target_modules);
    None when the file does not record it (an older lorplan's writer)."""
    per_rank, min_dim = rec.capacity.get("params_per_rank"), rec.capacity.get("min_target_dim")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (per_rank, min_dim)):
        return None
    return AdapterShape(tuple(rec.target_modules), per_rank, min_dim)


def other_shape(rec: Recommendation, shape: AdapterShape | None) -> AdapterShape | None:
    """The shape of the model `rec`'s ladder measured when it is known not to be `shape`, the plan's: both known,
    for the same target modules (with others, the sizes say nothing of the model), and different; else None."""
    measured = ladder_shape(rec)
    if shape is None or measured is None or measured.target_modules != shape.target_modules:
        return None
    return measured if measured != shape else None


# -- a ladder's recommendation.json ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LadderFile:
    """What a ladder's recommendation.json says: the recommendation; the base model's eval loss (a causal LM
    before training, a classifier's head alone) once measured; the driver's state ("running", "done",
    "cancelled": done because the user cancelled the run; None when the file does not say); budget_note: when
    the budget bought one rank alone, that and the budget that buys the ranks pass (recommend.table's
    one_rank_budget, the `budget` line of `lorplan recommend`, in the planner's words: budget_words), else
    ""."""

    recommendation: Recommendation
    base_loss: float | None = None
    state: str | None = None
    budget_note: str = ""


def read_recommendation(path: Path) -> LadderFile:
    """The recommendation in this file (Recommendation.to_json()'s object, with the ladder driver's extra keys
    base_loss and state). Raises BadInput naming the file when it cannot be read or is not a recommendation."""
    try:
        obj = bridge.loads_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON, a 5,000-digit number, nested too deep
        raise BadInput(f"{path}: cannot read the recommendation ({exc})") from None
    if not isinstance(obj, dict):
        raise BadInput(f"{path}: not a recommendation (a JSON object was expected)")
    try:
        rec = Recommendation.from_json(obj)
        budget_note = one_rank_budget(obj)
        base = read_field(obj, "base_loss", "number", default=None)  # the driver's null before the base is measured
    except UNREADABLE as exc:
        what = f"key {exc} missing" if isinstance(exc, KeyError) else str(exc)
        raise BadInput(f"{path}: not a recommendation ({what})") from None
    # the driver's word, an older driver's "done" beside cancelled_after read "cancelled" as the CLI reads it
    return LadderFile(rec, float(base) if base is not None else None, state_word(obj), budget_words(budget_note))


def budget_words(text: str) -> str:
    """The recommender's words with its --budget-minutes in the planner's: the Recommend tab's minutes field
    ("--budget-minutes 12 buys…" -> "a ladder budget of 12 minutes (the minutes field) buys…", "more than
    --budget-minutes takes" -> "more than the minutes field takes", "give more --budget-minutes" -> "give more
    ladder budget (the minutes field)"), for every line of the recommender the planner shows: its evidence, the
    one-rank budget line and start_ladder's "No probe ladder" refusal."""
    text = re.sub(r"--budget-minutes (\d+)", r"a ladder budget of \1 minutes (the minutes field)", text)
    text = text.replace("than --budget-minutes takes", "than the minutes field takes")
    return text.replace("--budget-minutes", "ladder budget (the minutes field)")


def only_rank(rec: Recommendation) -> int | None:
    """The rank a ladder recommends when it is the only rank it measured (a budget that bought one rank): no
    other was compared with it, so it is no knee; None otherwise (the prior decides, or several ranks ran)."""
    ranks = {r.rank for r in rec.ladder if r.usable and r.rank >= 1}
    knee = ladder_knee(rec)
    return knee if knee is not None and ranks == {knee} else None


def only_rank_words(rank: int) -> str:
    """"rank 4 recommended (the only rank measured)", as `lorplan recommend`'s table marks it."""
    return f"rank {rank} recommended {ONLY_WHY}"


@dataclass(frozen=True)
class LadderRead:
    """One look at the run folders for a ladder's recommendation.json.

    requested / model / data / task / shape: what the read was asked for (the run followed, or None: the newest run
    whose recommendation is for `model`, of `task` when one is given, measured on a model of `shape` (an
    AdapterShape) when one is given and its file records one, and, when `data` is given, whose probes trained on
    that file). run_id: the run shown (None: none yet). recommendation, base_loss, state: the file's
    (LadderFile), None while the run has written none. run_data: the data file the shown run's probes trained on
    (None: not known). problem: one line when the file could not be read. budget_note: the file's (LadderFile),
    in the planner's words."""

    requested: str | None
    model: str | None
    run_id: str | None = None
    recommendation: Recommendation | None = None
    base_loss: float | None = None
    state: str | None = None
    problem: str | None = None
    data: str | None = None
    run_data: str | None = None
    budget_note: str = ""
    task: str | None = None
    shape: AdapterShape | None = None


def same_file(a: str | None, b: str | None) -> bool:
    """Whether two data paths name the same file (relative paths, links and `..` resolved)."""
    if a is None or b is None:
        return False
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except (OSError, RuntimeError):
        return a == b


class LadderFeed:
    """Reads recommendation.json of the runs under `runs_dir` (None: the default runs folder); a file is
    parsed again only when its size or modification time changed. Safe to call from several threads."""

    def __init__(self, runs_dir: Path | None) -> None:
        self.runs_dir = runs_dir
        self._lock = threading.Lock()
        self._parsed: dict[Path, tuple[tuple[int, int], LadderFile | str]] = {}
        self._data: dict[Path, str | None] = {}  # a run's data file (plan.json does not change)

    def _run_data(self, folder: Path) -> str | None:
        if folder not in self._data:
            self._data[folder] = probe_bridge.run_data(folder)
        return self._data[folder]

    def _load(self, path: Path) -> LadderFile | str:
        try:
            st = path.stat()
        except OSError as exc:
            return f"{path}: {exc.strerror or exc}"
        key = (st.st_mtime_ns, st.st_size)
        cached = self._parsed.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            value: LadderFile | str = read_recommendation(path)
        except BadInput as exc:
            value = str(exc)
        self._parsed[path] = (key, value)
        return value

    def read(self, run_id: str | None, model: str | None, data: str | None = None,
             task: str | None = None, shape: AdapterShape | None = None) -> LadderRead:
        """The followed run's recommendation, or the newest one for `model` (a ladder started in an earlier
        session, or from the command line), on the file `data` when one is given: a ladder that measured other
        data is not this data's recommendation; and of `task` when one is given: the same model id can be
        planned as the other task (a folder whose config.json now names its sequence classifier, a ladder an
        older lorplan ran when it planned that model otherwise), and a causal LM's rank, alpha and learning rate
        are not its classifier's; and measured on a model of `shape` when one is given: a folder read again with
        other sizes keeps its id and task, and ranks measured on adapters of other sizes are not this model's
        (other_shape: a file that records no shape, or other target modules, does not tell). The followed run is
        read whatever its task and shape (the Recommend tab drops it). Never raises LorplanError."""
        with self._lock:
            folders = probe_bridge.run_folders(self.runs_dir)
            if run_id is not None:
                folder = next((f for f in folders if f.name == run_id), None)
                path = folder / RECOMMENDATION_FILE if folder is not None else None
                if path is None or not path.is_file():  # started, nothing written yet (or the run is gone)
                    return LadderRead(run_id, model, run_id if folder is not None else None, data=data, task=task,
                                      shape=shape)
                run_data = self._run_data(folder)
                loaded = self._load(path)
                if isinstance(loaded, str):
                    return LadderRead(run_id, model, run_id, problem=loaded, data=data, task=task, run_data=run_data,
                                      shape=shape)
                return LadderRead(run_id, model, run_id, loaded.recommendation, loaded.base_loss, loaded.state,
                                  data=data, task=task, run_data=run_data, budget_note=loaded.budget_note,
                                  shape=shape)
            for folder in reversed(folders):
                path = folder / RECOMMENDATION_FILE
                if not path.is_file() or (data is not None and not same_file(self._run_data(folder), data)):
                    continue
                loaded = self._load(path)
                if (not isinstance(loaded, str) and loaded.recommendation.model == model
                        and (task is None or loaded.recommendation.task == task)
                        and other_shape(loaded.recommendation, shape) is None):
                    return LadderRead(None, model, folder.name, loaded.recommendation, loaded.base_loss,
                                      loaded.state, data=data, task=task, run_data=self._run_data(folder),
                                      budget_note=loaded.budget_note, shape=shape)
            return LadderRead(None, model, data=data, task=task, shape=shape)


# -- what the plot shows ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LadderPlot:
    """Eval loss (or accuracy, for classification) against rank: `points` are every probe with a result
    (rank, value), `ranks`/`values` each rank at its best learning rate (mean over seeds). knee: the rank the
    ladder's knee picked (None: the prior decided). band: the ranks the evidence cannot tell apart.
    threshold: the eval loss a rank must reach to count as the knee (needs the base model's loss). digits: the
    significant digits the legend shows it and the base's loss with, the knee's text's (recommend.knee.loss_digits)."""

    metric: str
    points: tuple[tuple[int, float], ...]
    ranks: tuple[int, ...]
    values: tuple[float, ...]
    knee: int | None
    band: tuple[int, int]
    threshold: float | None
    digits: int = 4


def ladder_knee(rec: Recommendation) -> int | None:
    """The rank the ladder's knee decided (its evidence), or None when the capacity prior decided."""
    return next((e.rank for e in rec.evidence if e.source == "ladder" and e.rank is not None), None)


def band_words(rec: Recommendation) -> str:
    """What the band rests on when the ladder measured each rank with one seed (recommend.knee.band_note: noise
    estimated from how far the losses rise with rank, or not known at all); "" when a rank ran several."""
    return band_note(rec.ladder)


def ladder_plot(rec: Recommendation, base_loss: float | None = None) -> LadderPlot:
    """The points, knee, band and threshold of the Recommend tab's plot."""
    usable = [r for r in rec.ladder if r.usable]
    by_rank = summarize(usable)
    accuracy = rec.task == CLASSIFICATION and any(r.eval_accuracy is not None for r in usable)
    if accuracy:
        points = tuple((r.rank, r.eval_accuracy) for r in usable if r.eval_accuracy is not None)
        ranks, values = [], []
        for s in by_rank:
            accs = [r.eval_accuracy for r in usable if r.rank == s.rank and r.learning_rate == s.learning_rate
                    and r.eval_accuracy is not None]
            if accs:
                ranks.append(s.rank)
                values.append(sum(accs) / len(accs))
        ranks_t, values_t = tuple(ranks), tuple(values)
    else:
        points = tuple((r.rank, float(r.eval_loss)) for r in usable)
        ranks_t, values_t = tuple(s.rank for s in by_rank), tuple(s.mean_loss for s in by_rank)
    threshold, digits = None, 4
    if base_loss is not None and usable and not accuracy and 0 < rec.tolerance < 1:
        knee = find_knee(usable, base_loss, fraction=1 - rec.tolerance)
        threshold, digits = knee.threshold, knee.digits
    return LadderPlot("eval accuracy" if accuracy else "eval loss", points, ranks_t, values_t, ladder_knee(rec),
                      rec.confidence, threshold, digits)
