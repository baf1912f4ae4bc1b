"""The TUI's door to lorplan.core: everything the planner computes, reads or writes goes through here.

Plain Python (no Textual), cheap to import (each core module is imported on first use), returning core values or
raising BadInput. The rule, checked by import-linter (pyproject.toml): inside lorplan.tui only this module
imports lorplan.core, except the core's vocabulary, which any TUI module may use directly: the exception types
(lorplan.core.errors), the byte and count formatters and parsers (lorplan.core.units) and the closed sets of
names (lorplan.core.vocab); and tui.config writes the settings file with lorplan.core.atomic, as every lorplan
file is written, and reads it (as tui.themes reads a theme) with lorplan.core.tomltext, as every lorplan TOML file
is read. The probe layer has its own door, lorplan.tui.probe_bridge. GPU queries never raise: no driver
or no GPU is an empty list and a reason, like `lorplan gpus`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lorplan.core.errors import OWN_CODE_FLAG, BadInput, own_code_refusal

# The setup limits `lorplan plan` applies (a light module), for the form to apply the same ones as it is typed.
from lorplan.core.limits import MAX_GPU_MEMORY_BYTES, MAX_GPUS, MAX_MICRO_BATCH, MAX_RANK, MAX_SEQ_LEN  # noqa: F401
from lorplan.core.vocab import Optimizer, Quant, Sharding

if TYPE_CHECKING:  # the core values the TUI holds, named here for annotations only
    from lorplan.core.data.profile import DataProfile
    from lorplan.core.memory import RankTable, TrainingSetup
    from lorplan.core.model import ModelSource, ModelSpec
    from lorplan.core.plan import Plan
    from lorplan.tui.state import PlanData, PlanSnapshot

DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def loads_json(text: str) -> object:
    """JSON text read as lorplan reads every JSON file (core.jsontext.loads_json): a ValueError in words a user can
    read for text that is not JSON, nests deeper than Python's json module reads, or holds a number of more digits
    than it converts (json.loads' own ValueError for that tells the reader to call sys.set_int_max_str_digits)."""
    from lorplan.core.jsontext import loads_json as loads

    return loads(text)


def model_name(model: str) -> str:
    """How lorplan's notes name a model (core.model.names.model_name): a catalog or hub id as it is, a folder by
    its short name, not its absolute path."""
    from lorplan.core.model.names import model_name as name

    return name(model)


# -- GPUs -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GpuView:
    """One GPU as the planner shows it (bytes)."""

    index: int
    name: str
    total_bytes: int
    used_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class GpuReport:
    """What NVML said: the devices, or none and the reason in one line; note: lorplan.core.gpu.order_note (CUDA
    programs may number these GPUs otherwise), as `lorplan gpus` prints it, or None."""

    gpus: tuple[GpuView, ...]
    reason: str = ""
    note: str | None = None


GpuSource = Callable[[], GpuReport]


def query_gpus() -> GpuReport:
    """The GPUs NVML sees now (honouring CUDA_VISIBLE_DEVICES), or none and why. Never raises."""
    from lorplan.core.gpu import list_gpus, order_note

    devices, reason = list_gpus()
    views = tuple(
        GpuView(d.cuda_index, d.name, d.total_bytes, d.used_bytes, d.free_bytes) for d in devices
    )
    return GpuReport(views, reason or ("" if views else "NVML sees no GPU"), order_note() if views else None)


def no_gpu(reason: str = "no GPU on this machine") -> GpuSource:
    """A GPU source that always reports no GPU (tests, snapshots, `--no-gpu`)."""
    return lambda: GpuReport((), reason)


def gpu_presets() -> tuple[tuple[str, int], ...]:
    """(name, total bytes as NVML reports it) of common GPUs, for planning on a machine without one."""
    from lorplan.core.gpu import PRESETS

    return tuple(PRESETS.items())


# -- models ---------------------------------------------------------------------------------------------------
def catalog_ids() -> tuple[str, ...]:
    """Every model id in the built-in catalog, in catalog order."""
    from lorplan.core.model.catalog import ENTRIES

    return tuple(entry.id for entry in ENTRIES)


def cached_ids(exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Hub ids with a config.json in the local Hugging Face cache (not already in `exclude`). Never raises."""
    from lorplan.core.model.hfcache import cached_models

    try:
        return tuple(i for i in cached_models() if i not in exclude)
    except OSError:  # an unreadable cache folder is the same as an empty one here
        return ()


def search_catalog(query: str, ids: tuple[str, ...], limit: int = 50) -> tuple[str, ...]:
    """Ids matching every word of the query in the id, or in a catalog entry's aliases and family as `lorplan models
    --search` reads them (catalog.search: case-insensitive, a size word like 7b a whole size, not the end of
    1.7b), the id or alias typed itself first (catalog.exact), then prefix matches. An id outside the catalog (the
    Hugging Face cache's) is matched by itself."""
    from lorplan.core.model.catalog import ENTRIES, exact, matches

    words = query.lower().split()
    if not words:
        return ids[:limit]
    aliases = {e.id: e.aliases for e in ENTRIES}
    family = {e.id: (e.family,) for e in ENTRIES}
    hits = [i for i in ids if matches(query, i, *aliases.get(i, ()), *family.get(i, ()))]
    first: dict[str, int] = {}  # each id's first position, as ids.index gives it, looked up once per hit instead of a scan
    for n, i in enumerate(ids):
        first.setdefault(i, n)
    hits.sort(key=lambda i: (not exact(query, i, *aliases.get(i, ())),
                             not i.lower().split("/")[-1].startswith(words[0]), first[i]))
    return tuple(hits[:limit])


def default_model(ids: tuple[str, ...]) -> str | None:
    """The model the planner opens with when none is remembered: DEFAULT_MODEL, else the first id."""
    if DEFAULT_MODEL in ids:
        return DEFAULT_MODEL
    return ids[0] if ids else None


def load_spec(source: str, trust_remote_code: bool = False) -> ModelSpec:
    """Load a model spec (catalog id, folder, config.json or cached hub id). trust_remote_code: the session's
    consent (`lorplan --trust-remote-code`) to run the model's own code. Raises BadInput (a refusal of that code
    in consent_words; a model folder or hub cache it may not read in one line naming the path, as `lorplan plan`
    says it)."""
    from lorplan.core.model import load_spec as core_load_spec

    source = source.strip()
    if not source:
        raise BadInput("Model: type a catalog id, a folder with config.json, or a cached hub id")
    try:
        spec = core_load_spec(source, trust_remote_code=trust_remote_code is True)
    except BadInput as exc:
        exc.args = (consent_words(str(exc)),)
        raise
    except PermissionError as exc:  # not a BadInput: the loader, which shows a LorplanError's line, would not
        where = exc.filename or source
        raise BadInput(f"Model: {exc.strerror or 'Permission denied'} ({where}); check its permissions, or "
                       "choose another model") from None
    _remember_build(spec, trust_remote_code is True)
    return spec


# The fallback's builds this planner made of models outside the fast path, by config file version (_file_version):
# what its export dialog reads when that build is not kept on disk (_model_spec). Thread-safe enough: the worker
# that loads a model sets an entry whole, the UI thread reads it.
_BUILT: dict = {}
_BUILT_KEEP = 8


# config.json keys that record with what and from where a checkpoint was saved, not the model it describes
CONFIG_PROVENANCE = ("transformers_version", "_name_or_path", "_commit_hash")


def same_model(a: ModelSpec, b: ModelSpec) -> bool:
    """Whether two specs read from one model field describe the same model to train: equal but for the config.json
    keys CONFIG_PROVENANCE names (a checkpoint saved again by a newer transformers is the same model)."""
    from dataclasses import replace
    from types import MappingProxyType

    def bare(spec: ModelSpec) -> ModelSpec:
        return replace(spec, config=MappingProxyType({k: v for k, v in spec.config.items()
                                                      if k not in CONFIG_PROVENANCE}))

    return a == b or bare(a) == bare(b)


def _file_version(config_path: str | Path | None) -> tuple | None:
    """(resolved path, mtime, size) of a config file, None when there is none or it cannot be read."""
    if config_path is None:
        return None
    try:
        path = Path(config_path).resolve()
        stat = path.stat()
    except OSError:
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


def _remember_build(spec: ModelSpec, trusted: bool) -> None:
    """Remember the planner's fallback build of `spec` for its export dialog (_model_spec), unless it ran the
    model's own code (`trusted` and auto_map), which lorplan export never builds. Kept on disk too
    (core.model.buildcache), but not where the cache folder cannot be written (a read-only or full disk), and the
    loader's own in-process cache is keyed by the consent it was loaded with: a planner started with
    --trust-remote-code read no spec there, so its dialog refused no token classifier's checkpoint."""
    if spec.source != "fallback" or (trusted and "auto_map" in spec.config):
        return
    key = _file_version(spec.config_path)
    if key is not None:
        _BUILT.pop(key, None)
        _BUILT[key] = spec
        while len(_BUILT) > _BUILT_KEEP:
            _BUILT.pop(next(iter(_BUILT)))


# -- the model's own code -------------------------------------------------------------------------------------
TRUST_COMMAND = "lorplan --trust-remote-code"  # how the user gives the planner consent to run a model's own code
_ASK = f"start the planner with `{TRUST_COMMAND}`"
# the core's refusals of a model's own code (auto_map; core.errors.own_code_refusal) name the command-line flag
# of the command that refused: in the planner they name the planner's own (it is given once, when it starts)


def session_trusts(app) -> bool:
    """The planner session's consent to run a model's own code: LorplanApp.trust_remote_code, given by
    `lorplan --trust-remote-code` (False for any other app, as a widget's test harness)."""
    return getattr(app, "trust_remote_code", False) is True


def asks_own_code(spec: ModelSpec) -> bool:
    """True when the model's config.json names Python code of its own (auto_map): a plan of it asks for
    model.trust_remote_code, which the planner writes only with the session's consent."""
    return bool((spec.config or {}).get("auto_map"))


def consent_words(message: str) -> str:
    """A core refusal to run a model's own Python code in the planner's words: what the user does is start the
    planner with TRUST_COMMAND ("config.json at m/config.json: the model needs its own Python code (auto_map in
    config.json), which lorplan runs only when asked: start the planner with `lorplan --trust-remote-code`, if
    you trust that code"); any other message as it is."""
    return message.replace(own_code_refusal("", OWN_CODE_FLAG), own_code_refusal("", _ASK))


def model_choice(text: str, listed: tuple[str, ...] = ()) -> str:
    """The model to load for what was typed in the model picker. A name is read as every command reads it:
    the published id of a catalog, cached or shipped model (a short or misspelled name resolved when
    unambiguous), or the folder as typed. Several words ("qwen 0.5b"), or a name like no model, pick the first
    of `listed` (the matches on screen), if any. Raises BadInput: an ambiguous name (listing the candidates),
    a missing path, or nothing like the name."""
    from lorplan.core.model.names import UnknownModel

    if len(text.split()) > 1 and listed:  # a search, not a name
        return listed[0]
    try:
        source = model_source(text)
    except UnknownModel:
        if listed:
            return listed[0]
        raise
    return published_name(source)


def model_source(text: str) -> ModelSource:
    """What the model name `text` means (core.model.resolve_model: catalog, folder, Hugging Face cache). Slow-ish
    for a folder or a cached hub id (it looks on disk): resolve once and pass the ModelSource on (model_folder and
    published_name take it). Raises BadInput."""
    from lorplan.core.model import resolve_model

    return resolve_model(text)


def published_name(source: ModelSource) -> str:
    """The name a written plan or a run carries for a resolved model: its published id (a catalog or cached
    model's), or a folder as it was typed."""
    return source.text.strip() if source.kind == "folder" else source.id


def published_source(text: str) -> str:
    """The model name a written plan carries for what the planner was opened on: the published id of a short
    name (`all-MiniLM-L6-v2` -> `sentence-transformers/all-MiniLM-L6-v2`), as `lorplan plan --write` writes it,
    or the folder as typed; the text itself when it resolves to nothing (the plan's check then says so)."""
    try:
        return model_choice(text)
    except BadInput:
        return text


# -- setup, table, plan ---------------------------------------------------------------------------------------
def training_setup(*, targets: tuple[str, ...], dora: bool, **fields) -> TrainingSetup:
    """The core TrainingSetup for validated form values (`fields`: TrainingSetup's own field names).
    Raises BadInput for a combination the core rejects."""
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory import TrainingSetup

    try:
        return TrainingSetup(targets=LoraTargets(modules=tuple(targets), use_dora=dora), **fields)
    except BadInput as exc:  # "--sharding fsdp needs --gpus ≥ 2": the fields' labels here
        raise BadInput(form_words(str(exc))) from None


def default_ranks() -> tuple[int, ...]:
    """The ranks the rank table prices besides the user's own (those a module can use): a custom rank among
    them adds no row."""
    from lorplan.core.memory import DEFAULT_RANKS

    return DEFAULT_RANKS


def rank_table(spec: ModelSpec, setup: TrainingSetup, budget_bytes: int | None,
               extra_rank: int | None = None) -> RankTable:
    """The core rank table over the default ranks a module can use (and `extra_rank`, the user's own), a few
    milliseconds. Raises BadInput for a setup the core rejects or the model cannot run (a sequence beyond its
    context, a rank no adapted module can use: core.memory.bounds, as `lorplan plan`; checkpointing a class
    cannot do, advising to untick the box); error_field names the form field it is about."""
    from lorplan.core import memory
    from lorplan.core.memory.bounds import check_plannable, plannable_ranks
    from lorplan.core.model.fallback import check_gradient_checkpointing

    try:
        # a class that cannot checkpoint (CTRL): what to do in the form, not `lorplan plan`'s "plan without --flag"
        check_gradient_checkpointing(spec, setup.grad_checkpointing,
                                     fix=f"untick {FLAG_LABELS['--grad-checkpointing']}")
        check_plannable(spec, setup, (extra_rank,) if extra_rank else (), "Custom rank", _context_names())
        default = plannable_ranks(spec, setup.targets, memory.DEFAULT_RANKS)
        ranks = tuple(sorted(set(default) | ({extra_rank} if extra_rank else set())))
        return memory.rank_table(spec, setup, ranks, budget_bytes)
    except BadInput as exc:
        raise BadInput(form_words(str(exc))) from None


def check_custom_rank(spec: ModelSpec, targets: tuple[str, ...], dora: bool, rank: int, rank_pattern=None) -> None:
    """The custom rank against the model alone (core.memory.bounds.check_ranks, as rank_table checks it), for a
    form whose other fields do not build a setup yet: a rank no module of the model on screen can use is marked
    while another field is red. Raises BadInput in the form's words."""
    from lorplan.core.lora import LoraTargets
    from lorplan.core.memory.bounds import check_ranks

    try:
        lora = LoraTargets(modules=tuple(targets), use_dora=dora)
        if rank_pattern:
            from dataclasses import replace
            from types import MappingProxyType

            lora = replace(lora, rank_pattern=MappingProxyType(dict(rank_pattern)))
        check_ranks(spec, lora, (rank,), "Custom rank")
    except BadInput as exc:
        raise BadInput(form_words(str(exc))) from None


# What the planner calls a setting that core messages name by its `lorplan plan` flag: the label of the field that
# sets it. A flag the planner has no field for is named as the command option it is (form_words).
FLAG_LABELS = {"--micro-batch": "Micro-batch", "--seq-len": "Sequence length", "--gpus": "GPUs",
               "--sharding": "Sharding", "--lora-dropout": "LoRA dropout", "--quant": "Quantization",
               "--double-quant": "double quant", "--grad-checkpointing": "grad checkpointing", "--dora": "DoRA",
               "--optimizer": "Optimizer", "--attention": "Attention", "--padding-mask": "padding mask",
               "--targets": "Targets", "--data": "Dataset", "--schema": "Schema", "--model": "Model"}
# check_context's words in the planner: its field's label, and the RoPE factor (no field here) as the command's.
_ROPE_ADVICE = ("extend RoPE with `lorplan plan --rope-scaling {factor}` (the planner has no RoPE field: that command "
                "plans and writes it)")


def _context_names():
    """(A function: core.memory.bounds is imported on the first plan, not at start-up.)"""
    from lorplan.core.memory.bounds import ContextNames

    return ContextNames("Sequence length", "RoPE scaling", extend_rope=_ROPE_ADVICE,
                        assign_rope="`lorplan plan --rope-scaling {value}`")


def form_words(message: str) -> str:
    """A core message in the planner's words: each `lorplan plan` flag it names becomes the label of the field
    that sets it ("--seq-len 4096 is beyond…" -> "Sequence length 4096 is beyond…"); a flag with no field
    becomes "`lorplan plan --flag`", so the user knows where that setting lives."""
    import re

    def words(text: str) -> str:
        return re.sub(r"(?<![\w-])--[a-z][a-z0-9-]*",
                      lambda m: FLAG_LABELS.get(m[0], f"`lorplan plan {m[0]}`"), text)

    parts = message.split("`")  # a `command` quoted in the message is left as written (odd parts)
    return "`".join(part if i % 2 else words(part) for i, part in enumerate(parts))


# The form field a message is about, by the label it starts with (form_words has put labels for flags).
_LABEL_FIELDS = {"Sequence length": "seq_len", "RoPE scaling": "seq_len", "Custom rank": "custom_rank",
                 "Micro-batch": "micro_batch", "GPUs": "gpus", "LoRA dropout": "lora_dropout",
                 "Targets": "targets", "Sharding": "sharding", "Attention": "attention",
                 "grad checkpointing": "grad_checkpointing"}


def error_field(message: str) -> str:
    """The setup form's field id for a BadInput message in the planner's words ("setup" when it names none)."""
    return next((f for label, f in _LABEL_FIELDS.items() if message.startswith(label)), "setup")


def target_names(spec: ModelSpec) -> tuple[str, ...]:
    """The block modules the target boxes offer: those peft adapts on this model (core.lora.block_target_names:
    not a Mamba-based model's out_proj, which peft refuses)."""
    from lorplan.core.lora import block_target_names

    return block_target_names(spec)


def preset_members(spec: ModelSpec) -> dict[str, tuple[str, ...]]:
    """The block modules each target preset adapts on this model, as core decides it (core.lora.preset_members)."""
    from lorplan.core.lora import preset_members as core_preset_members

    return core_preset_members(spec)


def task_micro_batches(spec: ModelSpec) -> tuple[int, tuple[int, ...]]:
    """The default micro-batch for this model's task, and every task's default (core.plan.defaults: the one
    place that says what trains: 16 rows for a sequence classifier, 1 for a causal LM)."""
    from lorplan.core.plan.defaults import micro_batch
    from lorplan.core.vocab import Task

    return micro_batch(spec.task), tuple(micro_batch(task) for task in Task)


def model_attention(spec: ModelSpec) -> tuple[tuple[str, ...], str]:
    """The attentions the model's class implements, and the one `lorplan plan` plans it with when none is chosen
    (core.model.attention: SDPA, eager on Gemma 2, which has none)."""
    from lorplan.core.model.attention import default_attention, supported_attention

    return tuple(a.value for a in supported_attention(spec)), default_attention(spec).value


def checkpointing_lacked(spec: ModelSpec) -> str | None:
    """None when the model's class implements gradient checkpointing; else why not, in `lorplan plan`'s words
    ("./ctrl (CTRLLMHeadModel) does not implement gradient checkpointing in transformers": core.model.fallback,
    from what the fallback's child read of the class)."""
    from lorplan.core.model.fallback import checkpointing_refusal

    return checkpointing_refusal(spec)


def context_limit(spec: ModelSpec) -> int | None:
    """The longest sequence the model's positions reach (its max_position_embeddings), None when unknown."""
    return spec.max_position_embeddings if spec.max_position_embeddings > 0 else None


@dataclass(frozen=True)
class PeakView:
    """One rank at its peak moment: adapter gradients and everything else alive then (bytes), the moment in a
    few words and in a sentence, and the largest terms alive then ((label, bytes), adding up to the total)."""

    gradients: int
    activations: int
    short: str
    words: str
    terms: tuple[tuple[str, int], ...]


def peak_view(spec: ModelSpec, setup: TrainingSetup, rank: int) -> PeakView:
    """What one rank holds at its step's peak (core.memory.sweep.peak_moment), for the table and the summary."""
    from lorplan.core.memory.phases import PHASE_SHORT, PHASE_WORDS
    from lorplan.core.memory.sweep import peak_moment

    pm = peak_moment(spec, setup, rank)
    return PeakView(pm.gradients, pm.in_step - pm.gradients, PHASE_SHORT.get(pm.phase, pm.phase),
                    PHASE_WORDS.get(pm.phase, pm.phase), tuple(sorted(pm.terms, key=lambda kv: -kv[1])))


@dataclass(frozen=True)
class FullFinetuneView:
    """Full fine-tuning with the same setup, the reference row under the ranks (bytes, split at its peak moment
    as the rank rows are): the figures `lorplan plan` prints and its JSON's full_finetune holds."""

    trainable_params: int
    weights: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int
    total: int
    fits: bool | None
    short: str
    assumes: str


def full_finetune_view(spec: ModelSpec, setup: TrainingSetup, budget_bytes: int | None) -> FullFinetuneView:
    """What training every weight would take with this setup (core.memory.report.full_finetune_json)."""
    from lorplan.core.memory.phases import PHASE_SHORT
    from lorplan.core.memory.report import full_finetune_json

    f = full_finetune_json(spec, setup, budget_bytes)
    return FullFinetuneView(f["trainable_params"], f["weights"], f["gradients"], f["optimizer"], f["activations"],
                            f["overhead"], f["total"], f["fits"], PHASE_SHORT.get(f["peak_phase"], f["peak_phase"]),
                            f["assumes"])


def saving_words(full_total: int, lora_total: int) -> str:
    """ "4.7x less", "about as much" or "1.3x more": a rank's total against full fine-tuning's, as `lorplan plan`
    words it."""
    from lorplan.core.memory.report import saving_words as core_words

    return core_words(full_total, lora_total)


def setup_notes(spec: ModelSpec, setup: TrainingSetup, rank: int) -> tuple[str, ...]:
    """Sentences explaining figures a user would not expect (kbit fp32 up-cast, unquantized fused experts,
    RoPE scaling), priced at `rank`; the same as `lorplan plan` prints."""
    from lorplan.core.memory.report import setup_notes as core_notes

    return tuple(form_words(note) for note in core_notes(spec, setup, rank))


def fit_hints(spec: ModelSpec, setup: TrainingSetup, row, budget_bytes: int | None) -> tuple[str, ...]:
    """Priced changes for a rank that does not fit, none already made: "gradient checkpointing: 18.86 GiB
    (fits)". Empty when it fits or there is no budget. A change the planner has no field for (--no-prepare-kbit)
    is worded as the Recommend tab words it, naming the command that makes it (hint_words)."""
    from lorplan.core.memory.report import fit_hints as core_hints
    from lorplan.core.memory.report import format_hint

    return tuple(format_hint(h._replace(words=hint_words(h.words, h.flags)), budget_bytes)
                 for h in core_hints(spec, setup, row, budget_bytes))


def hint_words(words: str, flags: str) -> str:
    """A hint's words (core.memory.report.Hint: its changes joined by " + ", each with its flags in `flags`) with
    each change the planner cannot set, one whose words in remedy_words name a `lorplan plan`
    command, in those words: "gradient checkpointing + no prepare_model_for_kbit_training" -> "gradient
    checkpointing + no fp32 up-cast (`lorplan plan --no-prepare-kbit`)". One copy of the wording: the Recommend
    tab's."""
    told = remedy_words(flags)
    if "`lorplan plan " not in told:
        return words
    ours, theirs = words.split(" + "), told.split(" + ")
    if len(ours) != len(theirs):  # changes not paired one to one: the Recommend tab's words throughout
        return told
    return " + ".join(t if "`lorplan plan " in t else w for w, t in zip(ours, theirs, strict=True))


# (Here, not in recommend_bridge, which the Recommend tab imports: hint_words runs at the Plan tab's first frame,
# and recommend_bridge loads the probes' plan schema, tests/tui/test_start_up_gc_pause.py.)
# A memory remedy's flags (core.memory.report.fit_hints, as price_fit and recommendation.json spell them for
# `lorplan plan`) in the planner's words: what its fields and checkboxes are called, value after flag ({}).
_REMEDY_WORDS = {"--micro-batch": "a micro-batch of {}", "--grad-checkpointing": "gradient checkpointing",
                 "--optimizer": "the {} optimizer", "--quant": "{} quantization", "--double-quant": "double quant",
                 "--seq-len": "a sequence length of {}", "--gpus": "{} GPUs", "--sharding": "{} sharding",
                 "--targets": "LoRA on the {} targets only",  # the preset button beside the Targets boxes
                 "--no-prepare-kbit": "no fp32 up-cast (`lorplan plan --no-prepare-kbit`)"}  # no field for it
_VALUE_LABELS = {v: label for vocab in (Quant, Optimizer, Sharding) for label, v in vocab.options()}


def remedy_words(change: str) -> str:
    """A remedy's flags in the planner's words: "--seq-len 838" -> "a sequence length of 838", "--grad-checkpointing
    --quant nf4 --double-quant" -> "gradient checkpointing + nf4 (QLoRA) quantization with double quant",
    "--gpus 4 --sharding zero3" -> "ZeRO-3 sharding over 4 GPUs". A flag without words here stays as the command
    option it is (bridge.form_words)."""
    tokens = change.split()
    pairs: list[tuple[str, str | None]] = []
    for i, token in enumerate(tokens):
        if token.startswith("--"):
            value = tokens[i + 1] if i + 1 < len(tokens) and not tokens[i + 1].startswith("--") else None
            pairs.append((token, value))
    parts: list[str] = []
    previous = None
    for flag, value in pairs:
        template = _REMEDY_WORDS.get(flag)
        if template is None or ("{}" in template) != (value is not None):
            parts.append(form_words(flag if value is None else f"{flag} {value}"))
        elif flag == "--double-quant" and previous == "--quant":
            parts[-1] += " with double quant"
        elif flag == "--sharding" and previous == "--gpus":
            parts[-1] = f"{_VALUE_LABELS.get(value, value)} sharding over {parts[-1]}"
        else:
            shown = None if value is None else f"{int(value):,}" if value.isdigit() else _VALUE_LABELS.get(value, value)
            parts.append(template.format(shown))
        previous = flag
    return " + ".join(parts)


def plan_from_setup(snapshot: PlanSnapshot, data: PlanData | None = None, *, published: str | None = None) -> Plan:
    """The plan (lorplan.core.plan.Plan) of the selected rank, for the export dialog. Raises BadInput.

    `data` (the dataset profiled in the Data tab) fills the [data] table, and a classifier's head (num_labels
    and the estimate) is the one its labels need (data_spec); without it the plan names the placeholder data
    path for the user to replace. published: the model's published name when the caller has resolved it
    (published_name), else it is resolved from the snapshot's source (published_source)."""
    from lorplan.core.plan import plan_from_setup as core_plan_from_setup

    kw = {}
    if data is not None:
        kw = dict(data_path=data.path, data_schema=data.schema, train_on=data_train_on(snapshot.spec, data),
                  eval_split=data.eval_split)
    tuning = snapshot.tuning
    if tuning is not None:  # applied from the Recommend tab (its rank_pattern is already in the setup's targets)
        kw.update(alpha=tuning.alpha, training={"learning_rate": tuning.learning_rate})
    plan = core_plan_from_setup(data_spec(snapshot.spec, data), snapshot.setup, snapshot.rank,
                                source=published if published is not None else published_source(snapshot.source),
                                budget_bytes=snapshot.budget_bytes, trust_remote_code=snapshot.trust_remote_code,
                                **kw)
    if tuning is not None and tuning.use_rslora:
        from dataclasses import replace

        plan = replace(plan, lora=replace(plan.lora, use_rslora=True))
    return plan


def data_spec(spec: ModelSpec, data: PlanData | None) -> ModelSpec:
    """The spec a plan trained on the Data tab's dataset is priced with: a sequence classifier's with the head its
    labels need (core.plan.classifier_spec: integer labels are class ids, so labels 0 and 5 need 6 outputs), as
    `lorplan plan --write --data` and `lorplan recommend --data` price it; any other spec, or a dataset without
    a profile or labels, as it is, but a classifier whose own head has 1 output (a regression or score head: a
    cross-encoder's), which lorplan does not train: with the new 2-class head its plans write and price
    (core.model.head.trained_labels). Raises BadInput (a negative integer label, more classes than lorplan plans)."""
    profile = data.profile if data is not None else None
    if profile is None or profile.labels is None:
        # a classifier's data without labels: the export keeps the model's head (probes refuse it), unless a
        # regression head, whose plan trains a new class head
        return _trained_head(spec)
    from lorplan.core.plan import classifier_spec

    return classifier_spec(spec, profile, data=data.path)


def profiled_plan(snapshot: PlanSnapshot, data: PlanData, *, published: str | None = None) -> Plan:
    """The snapshot's plan with its [data] table, and a classifier's num_labels, from the Data tab's profile
    (core.plan.with_profile, as `lorplan recommend` builds the plan a probe ladder's probes are short runs of).
    published: as plan_from_setup's. Raises BadInput (a classifier's data without labels)."""
    from lorplan.core.plan import with_profile

    plan = plan_from_setup(snapshot, data, published=published)
    if data.profile is None:
        return plan
    return with_profile(plan, data.profile, data_train_on(snapshot.spec, data), path=data.path)


def data_train_on(spec: ModelSpec, data: PlanData) -> str | None:
    """The Data tab's masking rule as a plan's data.train_on: a causal LM's; none for a sequence classifier,
    which trains one label per example (the Data tab hides its checkbox then; core.plan refuses one)."""
    from lorplan.core.vocab import Task

    return None if spec.task == Task.SEQUENCE_CLASSIFICATION else data.train_on


def pattern_words(pattern) -> str:
    """rank_pattern in a few words: "none", or "q_proj 8, v_proj 16" (at most 4 named)."""
    items = list(dict(pattern).items())
    if not items:
        return "none"
    words = ", ".join(f"{k} {v}" for k, v in items[:4])
    return words + (f" and {len(items) - 4} more" if len(items) > 4 else "")


def with_rank_pattern(setup: TrainingSetup, rank_pattern) -> TrainingSetup:
    """The setup with peft's rank_pattern (module-name regex -> rank) on its targets, so the table prices it.
    Raises BadInput for a rank below 1."""
    from dataclasses import replace
    from types import MappingProxyType

    for key, rank in dict(rank_pattern).items():
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise BadInput(f"rank_pattern {key!r}: rank {rank!r} must be a whole number of at least 1")
    return replace(setup, targets=replace(setup.targets, rank_pattern=MappingProxyType(dict(rank_pattern))))


def peft_targets(spec: ModelSpec, targets) -> tuple[str, ...]:
    """target_modules as peft's LoraConfig takes them for these LoraTargets ("all-linear" stays one name)."""
    from lorplan.core.lora import peft_target_modules

    names = peft_target_modules(spec, targets)
    return (names,) if isinstance(names, str) else tuple(names)


def _trained_head(spec: ModelSpec) -> ModelSpec:
    """A sequence classifier's spec with the head a plan trains without labels (a 1-output head's: a new 2-class
    one), else the spec itself."""
    from lorplan.core.model.head import model_labels, trained_labels, with_labels
    from lorplan.core.vocab import Task

    if spec.task != Task.SEQUENCE_CLASSIFICATION or trained_labels(spec) == model_labels(spec):
        return spec
    return with_labels(spec, trained_labels(spec))


def head_note(spec: ModelSpec, priced: ModelSpec, source: str, data: PlanData | None) -> str | None:
    """`lorplan plan --write`'s note for a classifier whose own head (`spec`'s) has 1 output, a regression or score
    head, which the plan replaces by the new class head `priced` has (data_spec's, for `data`), in the planner's
    words (form_words: "Model ./ce: its classifier head has 1 output, ... a new 2-class head in its place (Dataset
    gives it as many classes as its labels need)"); None for any other model. `source`: the model as typed."""
    from lorplan.core.model.head import head_labels, regression_head_note, trained_labels
    from lorplan.core.vocab import Task

    if spec.task != Task.SEQUENCE_CLASSIFICATION:
        return None
    profile = data.profile if data is not None else None
    labelled = profile is not None and profile.labels is not None  # data_spec priced the head its labels need
    note = regression_head_note(spec, head_labels(priced) or trained_labels(priced), f"--model {source}",
                                f"--data {data.path}" if labelled and data is not None else None)
    return None if note is None else form_words(note)


def num_labels(spec: ModelSpec) -> int:
    """The classes of the head a plan trains on this classifier: its own head's outputs (from the model's config
    as transformers derives them, 2 when it says none), at least 2: a 1-output regression or score head (a
    cross-encoder's) is replaced by a new 2-class one, as the exported plan writes and prices it
    (core.model.head.trained_labels)."""
    from lorplan.core.model.head import trained_labels

    return trained_labels(spec)


def plan_command(snapshot: PlanSnapshot) -> str:
    """The `lorplan plan` command line that prints the table of this snapshot."""
    from lorplan.core.plan.command import command_for

    return command_for(snapshot.source, snapshot.setup, snapshot.ranks, snapshot.budget_bytes)


# -- export ---------------------------------------------------------------------------------------------------
def export_titles() -> dict[str, str]:
    """format -> title for the export dialog: the plan file first, then every trainer format."""
    from lorplan.core.export import LABELS

    return {"plan": "lorplan plan file (plan.toml)", **LABELS}


def has_placeholder_data(plan: Plan) -> bool:
    """True when the plan names the placeholder dataset (nothing was profiled in the Data tab)."""
    from lorplan.core.plan import PLACEHOLDER_DATA_PATH

    return plan.data.path == PLACEHOLDER_DATA_PATH


_CLASSES_CACHE: dict = {}


def _export_classes(plan: Plan, fmt: str) -> dict:
    """The peft export's `classes` / `classes_problem` for a sequence classifier: its data's class ids and
    labels (core.data.data_classes, read once per file version), else why they are unknown."""
    from lorplan.core.vocab import Task

    if fmt != "peft" or plan.model.task != Task.SEQUENCE_CLASSIFICATION:
        return {}
    if has_placeholder_data(plan):
        return {"classes_problem": "no dataset profiled in the Data tab"}
    from lorplan.core.export.peft import read_classes

    path = Path(plan.data.path)
    try:
        stat = path.stat()
    except OSError:
        stat = None  # read_classes says so
    key = (str(path), stat and stat.st_mtime_ns, stat and stat.st_size, plan.data.schema)
    if key not in _CLASSES_CACHE:
        classes, problem = read_classes(plan, path)
        _CLASSES_CACHE[key] = {"classes": classes} if classes is not None else {"classes_problem": problem}
    return _CLASSES_CACHE[key]


def other_head_refusal(spec: ModelSpec, model: str) -> str | None:
    """The one line lorplan train, export, recommend and the probes refuse a checkpoint whose config.json names a
    head lorplan does not train with (a token classifier's, a question-answering or multiple-choice model's:
    core.model.head.other_head_refusal), naming the model as `model`; None for any other model."""
    from lorplan.core.model.head import other_head_refusal as refusal

    return refusal(spec, model)


def export_refusal(plan: Plan, fmt: str) -> str | None:
    """Why `fmt` cannot carry this plan at all, else None: a checkpoint whose config.json names a head lorplan does
    not train (a token classifier's: core.model.head.other_head_refusal, the line `lorplan train` and `lorplan
    export` refuse it with), for every format and the plan file too, which only lorplan train and lorplan export
    read; a sequence classifier for axolotl or LLaMA-Factory."""
    spec = _model_spec(plan)
    if spec is not None and (other := other_head_refusal(spec, plan.model.source)) is not None:
        return other
    if fmt == "plan":
        return None
    from lorplan.core.export.common import classifier_refusal

    return classifier_refusal(plan, fmt)


_SPEC_CACHE: dict = {}


def _model_spec(plan: Plan) -> ModelSpec | None:
    """The plan's model's spec as `lorplan export` reads it (core.export.model_spec.read_model_spec), once per
    config file version, never starting the fallback's child: a model outside the fast path is read from the build
    the planner's worker kept when it loaded the model (core.model.buildcache), else from the build this planner
    made of that config file version (load_spec, _remember_build: transformers' own class, as the export builds
    it). None where neither is there (looked for again at the next call) or the model cannot be read (as
    core.export.kbit reads it: no spec)."""
    from lorplan.core.export.model_spec import read_model_spec
    from lorplan.core.model import resolve_model
    from lorplan.core.model.fallback import NotKept

    # from the working folder, as found_paths looks for it: the planner's plan has no file yet
    source = str(Path(plan.model.path).expanduser()) if plan.model.path is not None else plan.model.source
    try:
        version = _file_version(resolve_model(source).config_path)
    except (BadInput, OSError):
        version = None  # read_model_spec says so
    key = (source, plan.model.trust_remote_code, version)
    if key not in _SPEC_CACHE:
        try:
            _SPEC_CACHE[key] = read_model_spec(plan, source, build=False)
        except NotKept:
            return _BUILT.get(version)  # not cached: kept on disk later, it is read from there
        except (BadInput, OSError, ValueError):
            _SPEC_CACHE[key] = None
    return _SPEC_CACHE[key]


def _export_spec(plan: Plan, fmt: str) -> ModelSpec | None:
    """The model's spec the export of `plan` as `fmt` prices its notes on, read as `lorplan export` reads it
    (core.export.model_spec.read_model_spec, the one reading), once per config file version; kbit re-heads it for
    a classifier. The export dialog asks on the UI thread, so it never starts the fallback's child (seconds of
    torch): a model outside the fast path is read from the build the planner's worker kept when it loaded the
    model (core.model.buildcache; kept in a session trusting the model's own code too, for a model without any).
    None where the export prices nothing (no quantized base whose up-cast changes a dtype, or a format that prices
    none), where lorplan export reads no spec either, or where no build is kept (a cache folder that cannot be
    written): the notes then go without figures, as that command's do when it cannot read the model. A build not
    kept is looked for again at the next export."""
    from lorplan.core.export import PRICES_ON_SPEC
    from lorplan.core.export.kbit import upcast_matters

    if fmt not in PRICES_ON_SPEC or not upcast_matters(plan):
        return None
    return _model_spec(plan)  # no spec: no figures


def _export(plan: Plan, fmt: str):
    """The export of `plan` for a trainer format (core.export.export_plan), its classifier's classes read from
    its data, its model.path and data.path written as `lorplan export` writes them: where the tool finds them,
    absolute (core.export.paths, from the working folder: the planner's plan has no file yet), with the same
    notes and warnings, their figures priced on the spec that command reads (_export_spec). The placeholder data
    path is left as it is: the dialog says it is one."""
    from lorplan.core.export import export_plan
    from lorplan.core.export.paths import DATA_PATH, found_paths

    found = found_paths(plan)
    if has_placeholder_data(plan):
        del found[DATA_PATH]
    return export_plan(plan, fmt, **_export_classes(plan, fmt), found=found, spec=_export_spec(plan, fmt))


def export_messages(plan: Plan, fmt: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(warnings, notes) of exporting `plan` as `fmt`, from one export: the warnings are what `fmt` cannot express
    of this plan, one line each (the plan file expresses everything; a format that cannot carry the plan at all
    gives its refusal, as "not written: …"); the notes what the export does that is no problem, as `lorplan
    export` prints them after `note:`: a relative model.path written absolute ("model.path models/smol is written
    as /home/you/models/smol, the one lorplan reads (…)"), none for the plan file or a refused format."""
    refusal = export_refusal(plan, fmt)
    if refusal is not None:
        return (f"not written: {refusal}",), ()
    if fmt == "plan":
        return (), ()
    result = _export(plan, fmt)
    return tuple(result.warnings), tuple(result.notes)


def export_warnings(plan: Plan, fmt: str) -> tuple[str, ...]:
    """The warnings of export_messages."""
    return export_messages(plan, fmt)[0]


def export_paths(plan: Plan, fmt: str, target: Path) -> list[Path]:
    """The files `write_export` would write for `fmt` at `target` (a file, or a folder for peft); none for a
    format that refuses the plan (export_refusal)."""
    if export_refusal(plan, fmt) is not None:
        return []
    if fmt == "plan":
        return [target]
    from lorplan.core.export import output_paths

    return output_paths(_export(plan, fmt), target)


def write_export(plan: Plan, fmt: str, target: Path, *, force: bool) -> list[Path]:
    """Write `fmt` at `target` atomically; an existing file is replaced only with `force`. Returns the paths.
    Raises BadInput (or OSError) naming the file."""
    return write_exports(plan, {fmt: target}, force=force)


def write_exports(plan: Plan, targets: dict[str, Path], *, force: bool) -> list[Path]:
    """Write each format of `targets` (format -> where, as write_export takes it) as one atomic write, all or none
    (core.export.write_exports, which `lorplan export --to A,B` writes with too). An existing file is replaced only
    with `force`. Returns the paths in the order of `targets`. Raises BadInput naming the format refused or the
    file, or a path two formats would both write (core.export.one_writer_each), before anything is written."""
    from lorplan.core.export import write_exports as write_formats

    placed = {fmt: _export_files(plan, fmt, target) for fmt, target in targets.items()}
    return write_formats(placed, force=force, names={fmt: _format_name(fmt) for fmt in placed})


def _format_name(fmt: str) -> str:
    """A format as a message names it: "the plan file", "LLaMA-Factory YAML"."""
    return "the plan file" if fmt == "plan" else export_titles()[fmt]


def _export_files(plan: Plan, fmt: str, target: Path) -> dict[Path, str]:
    """The files `fmt` writes at `target` -> their text (the plan file: checked to read back, as write_plan
    does). BadInput for a format that refuses the plan (export_refusal)."""
    refusal = export_refusal(plan, fmt)
    if refusal is not None:
        raise BadInput(refusal)
    if fmt == "plan":
        from lorplan.core.plan import checked_plan_text

        return {Path(target): checked_plan_text(plan, target)}
    from lorplan.core.export import placed_files

    return placed_files(_export(plan, fmt), target)


# -- data -----------------------------------------------------------------------------------------------------
def profile_dataset(path: str, *, model: str | None, schema: str | None, seq_len: int | None, mask: bool,
                    progress: Callable[[int, int, str], None], trust_remote_code: bool = False,
                    classifier: bool | None = None, spec: ModelSpec | None = None) -> DataProfile:
    """Profile a dataset (slow: call it from a thread worker). `progress(done, total, unit)` is called as it
    reads; an exception it raises stops the profile. trust_remote_code: the session's consent, so a tokenizer
    with its own code (auto_map) runs it. classifier: the plan's model is a sequence classifier (its spec's
    task), so the profile counts the labelled rows it trains on, as lorplan plan --write --data's does; None: the
    core reads the task from the model's config, which cannot tell a classifier the fallback builds (DistilBERT).
    spec: the plan's ModelSpec, whose context caps the profile's lengths as lorplan plan checks them (a fallback
    spec's class default, which config.json alone does not give); None: the context config.json gives.
    Raises BadInput naming the file or line."""
    from lorplan.core.data import profile_dataset as core_profile_dataset
    from lorplan.core.vocab import Task

    task = None if classifier is None else Task.SEQUENCE_CLASSIFICATION if classifier else Task.CAUSAL_LM
    try:
        return core_profile_dataset(path, model=model, schema=schema, seq_len=seq_len, mask=mask, progress=progress,
                                    trust_remote_code=trust_remote_code is True, task=task, spec=spec)
    except BadInput as exc:  # "--data x.jsonl: …" in the Data tab's words; the type (UnknownSchema) is kept
        exc.args = (form_words(consent_words(str(exc))),)
        raise


def checking_pass(unit: str) -> bool:
    """Whether profile progress in `unit` is the first of a large JSON file's two passes, which checks and counts
    its bytes before any row is read (lorplan.core.data.json_array.CHECKING); the rows come in the second."""
    from lorplan.core.data.json_array import CHECKING

    return unit == CHECKING


def held_out_fraction(held: int, examples: int) -> float:
    """The eval_split that makes lorplan train hold out `held` of `examples`, as `plan --write --data` writes it
    (core.plan.build.held_out_fraction: 20 of 60 is 0.3334, since 0.3333 holds out 19)."""
    from lorplan.core.plan.build import held_out_fraction as core_held_out_fraction

    return core_held_out_fraction(held, examples)


def label_count(label: int | str, n: int) -> str:
    """One class and its examples as every report shows them (core.data.stats.label_count: `'pos' → 80`)."""
    from lorplan.core.data.stats import label_count as core_label_count

    return core_label_count(label, n)


def mixed_label_ids(balance) -> tuple[list[tuple[str, int]], int, int]:
    """For labels that mix integer class ids and names (a LabelBalance with a `note`): each name with the class id
    lorplan train gives it, in order, the largest integer label, and the head they need
    (core.data.labels.class_ids / classes_needed)."""
    from lorplan.core.data.labels import class_ids, classes_needed, is_class_id

    ids = class_ids(label for label, _ in balance.counts)
    names = [(v, i) for v, i in ids.items() if not is_class_id(v)]
    return names, max(v for v in ids if is_class_id(v)), classes_needed(ids)


def ambiguous_label(balance) -> str | None:
    """The name that reads as a number beside integer class ids ("1.0" beside 1), which a classifier refuses
    (core.data.labels.ambiguous_name), else None."""
    from lorplan.core.data.labels import ambiguous_name

    return ambiguous_name(label for label, _ in balance.counts)
