"""Fallback for architectures the fast path does not know: build the model with transformers on the meta
device in a child process (python -m lorplan.core.model._fallback_child) and read its modules back as JSON.

Slow (seconds: it imports torch and transformers) but exact for whatever transformers builds. The parent never
imports torch. trust_remote_code is passed only when the user asked for it.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lorplan.core.errors import BadInput, own_code_refusal
from lorplan.core.model.head import other_head_note
from lorplan.core.model.spec import Linear, ModelSpec, Tensor

TIMEOUT_S = 600

# XLM's and Flaubert's emb_dim and n_heads; MPT's n_heads; the heads of the decoder that BART's kin build as
# their causal LM (decoder_attention_heads), T5's d_kv per head (mT5's 512 / 6 heads are 64 wide)
_ALIASES = {
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim", "emb_dim"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "num_heads", "n_heads", "decoder_attention_heads"),
    "head_dim": ("head_dim", "d_kv"),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size"),
    # Whisper's decoder (WhisperForCausalLM, what lorplan plans of it) has max_target_positions positions
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "max_seq_len", "max_target_positions"),
}
CONTEXT_KEYS = _ALIASES["max_position_embeddings"]  # the config keys a model's context is read from, in order
# the dense MLP's width: Llama 4's intermediate_size is its experts' (and shared expert's), its dense layers are
# intermediate_size_mlp wide (transformers' Llama4TextDecoderLayer); every other config names one of the aliases
DENSE_MLP_KEYS = ("intermediate_size_mlp", *_ALIASES["intermediate_size"])


def _context_entry(cfg: Mapping[str, Any]) -> tuple[str, int]:
    """The first of CONTEXT_KEYS that holds a whole number, at the config's top level and then inside its
    text_config (a multimodal config keeps its language model's context there), with its value; ("", 0) when
    none does."""
    for part in (cfg, cfg.get("text_config")):
        if isinstance(part, Mapping):
            for key in CONTEXT_KEYS:
                value = part.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    return key, value
    return "", 0


def config_context_key(cfg: Mapping[str, Any]) -> str:
    """The config.json key a model's context is read from (max_position_embeddings, GPT-2's n_positions, ...,
    looked for in text_config too), "" when none says. The one reading every caller shares: the fallback spec
    (config_context), the memory bounds' messages (bounds.context_key) and the data profile's limit
    (profile.model_limit)."""
    return _context_entry(cfg)[0]


def config_context(cfg: Mapping[str, Any]) -> int:
    """The context a fallback spec takes from a config.json (config_context_key's value), 0 when none says; the
    data profile reads an unsupported architecture's context with it without building the model."""
    return _context_entry(cfg)[1]


def _first(cfg: Mapping[str, Any], keys: tuple[str, ...], default: int = 0) -> int:
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return default


# configuration_auto.py's imports (`from .auto_mappings import CONFIG_MAPPING_NAMES, ...`, parenthesised or not)
_IMPORT = re.compile(r"^from\s+\.(\w+)\s+import\s+(\([^)]*\)|[^\n]*)", re.M)
# Llama's entry in the AutoConfig table (a tuple in an OrderedDict's list, or a dict item): the text read holds the
# table itself, not another one keyed by model type (the modeling tables name llama too)
_LLAMA_ENTRY = re.compile(r'\(\s*"llama"\s*,\s*"LlamaConfig"\s*\)|"llama"\s*:\s*"LlamaConfig"')
_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _transformers_folders() -> list[Path]:
    """The folders of the transformers the child would import (the first on sys.path), without importing it."""
    import importlib.util

    try:
        found = importlib.util.find_spec("transformers")
    except (ImportError, ValueError):  # a module without __spec__ in sys.modules
        return []
    return [Path(f) for f in (found.submodule_search_locations or ())] if found is not None else []


def _config_table_text(folders: list[Path]) -> str | None:
    """The text of transformers' AutoConfig table (CONFIG_MAPPING_NAMES): models/auto/configuration_auto.py and the
    modules it imports that name from (auto_mappings.py in 5.x; none in 4.x, which holds the table itself); None
    when Llama's entry is not in it (the table moved where this does not look, or the files are unreadable)."""
    text = ""
    for folder in folders:
        auto = folder / "models" / "auto"
        own = _read(auto / "configuration_auto.py")
        text += own
        for module, names in _IMPORT.findall(own):
            if re.search(r"\bCONFIG_MAPPING_NAMES\b", names):
                text += _read(auto / f"{module}.py")
    return text if _LLAMA_ENTRY.search(text) else None


def _transformers_knows(model_type: str) -> bool | None:
    """Whether the transformers on this path names `model_type` in its AutoConfig table, read as text
    (_config_table_text) without importing it, which takes seconds; None when the table is not found: then only
    the child can say."""
    text = _config_table_text(_transformers_folders())
    return None if text is None else f'"{model_type}"' in text


def _transformers_version(folders: list[Path]) -> str | None:
    """The version of the transformers read: its __init__.py's __version__ (a checkout on PYTHONPATH may shadow
    the installed distribution), else the installed distribution's; None when neither says."""
    for folder in folders:
        found = _VERSION.search(_read(folder / "__init__.py"))
        if found:
            return found.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return None


def check_known_type(config_path: Path, cfg: Mapping[str, Any]) -> None:
    """BadInput at once for a config.json whose model_type transformers does not know and which brings no code
    of its own (no auto_map): the child would import torch and transformers (about 4 s) to say the same."""
    model_type = cfg.get("model_type")
    if "auto_map" in cfg or not isinstance(model_type, str) or _transformers_knows(model_type) is not False:
        return
    from lorplan.core.model.archs import shown

    found = _transformers_version(_transformers_folders())
    which = f"transformers {found}" if found else "the transformers on this path"
    raise BadInput(f"config.json at {config_path}: transformers cannot build it (model_type {shown(model_type)} is not "
                   f"one {which} knows: check its spelling, or a newer transformers may know it)")


def own_code_line(config_path: Path, ending: str | None = None) -> str:
    """The one line for a config.json that transformers builds only with the model's own Python code (its
    auto_map), which was not allowed: said by check_own_code before the child starts and by run_child when the
    child hears transformers refuse it (NeedsOwnCode). `ending` follows "(auto_map in config.json)" in place of
    the consent own_code_refusal names (the command line's flag): a command that runs no such code at all says
    so in its own words (lorplan export: ", which lorplan export does not run")."""
    subject = f"config.json at {config_path}: the model needs its own Python code (auto_map in config.json)"
    return own_code_refusal(subject) if ending is None else subject + ending


class NeedsOwnCode(BadInput):
    """own_code_line's refusal (its default ending); `config_path` names the config.json, so that a caller can say
    it with another ending (own_code_line(config_path, ending))."""

    def __init__(self, config_path: Path) -> None:
        super().__init__(own_code_line(config_path))
        self.config_path = config_path

    def __reduce__(self):  # rebuilt from the path, with its line as it stands (a front end rewords it in args)
        return type(self), (self.config_path,), {"args": self.args}


def check_own_code(config_path: Path, cfg: Mapping[str, Any]) -> None:
    """NeedsOwnCode (own_code_line) at once, for a run that does not allow the model's own code, when transformers'
    AutoConfig would refuse the config.json for that code: its auto_map names an AutoConfig and transformers does
    not know its model_type (transformers' configuration_auto: remote code and no local class). The child would
    import torch and transformers (about 3.4 s) to say the same line (run_child). Told from the text of
    transformers' AutoConfig table (_transformers_knows); when that cannot be read, the child is asked."""
    auto_map, model_type = cfg.get("auto_map"), cfg.get("model_type")
    if not isinstance(auto_map, Mapping) or "AutoConfig" not in auto_map or not isinstance(model_type, str):
        return
    if _transformers_knows(model_type) is False:
        raise NeedsOwnCode(config_path)


def run_child(config_path: Path, trust_remote_code: bool) -> dict:
    """Build the config's model in a child process and return its report; BadInput with the child's one-line
    reason when it fails. A build that may run the model's own code (trust_remote_code) has a child of its own; any
    other is asked of this process's build server (_SERVER), which imports torch and transformers once for all the
    builds of a session (the planner's, or a command's several models) rather than once per build (~4 s), and a
    child of its own when the server is busy with another thread's build or ended without answering (the child
    then says why in its own words)."""
    answer = None if trust_remote_code else _SERVER.ask(config_path)
    if answer is None:
        cmd = [sys.executable, "-m", CHILD, str(config_path)]
        if trust_remote_code:
            cmd.append("--trust-remote-code")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise _timed_out(config_path) from None
        answer = proc.returncode, (proc.stdout + proc.stderr) if proc.returncode else proc.stdout
    code, text = answer
    if code != 0:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit code {code}"
        if not trust_remote_code and "contains custom code" in reason:  # transformers' refusal of auto_map
            raise NeedsOwnCode(config_path)
        if reason.startswith("OtherTask: "):  # the child's: transformers maps it to no class lorplan trains
            raise BadInput(f"config.json at {config_path}: lorplan plans causal language models and sequence "
                           f"classifiers (what lorplan train loads); this config is {reason.removeprefix('OtherTask: ')}")
        raise BadInput(f"config.json at {config_path}: transformers cannot build it ({reason})")
    return json.loads(text.strip().splitlines()[-1])


CHILD = "lorplan.core.model._fallback_child"


def _timed_out(config_path: Path) -> BadInput:
    return BadInput(f"config.json at {config_path}: building the model took over {TIMEOUT_S}s")


class _Server:
    """One child that builds config after config (_fallback_child.serve), started at the first build and kept while
    builds come: it ends by itself after IDLE_S seconds without one, and when this process ends (its input closes).
    One build at a time; a thread that finds it busy runs a child of its own (ask() returns None). A server
    started before the environment that decides which torch and transformers a child imports (PYTHONPATH, and
    what configures them: TRANSFORMERS_*, TORCH*, PYTORCH_*) changed, before the transformers or torch on disk
    changed (a pip install while the planner runs: _libraries, which cache_key keys a kept report by), or in
    another process (after a fork), is not asked: a new one is started. A request interrupted before its answer
    (Ctrl-C) stops it, so that answer is never read as the next request's. (The builds it serves read the config
    file alone: the child sets HF_HUB_OFFLINE, and a build that may run the model's own code, which the Hugging
    Face cache could hold, is never served.)"""

    # a minute: a planner browsing models keeps it; a probe or a training that built once soon frees its ~375 MB
    IDLE_S = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._key: tuple | None = None

    @staticmethod
    def _environment() -> tuple:
        return (os.getpid(), sys.executable, json.dumps(_libraries()), tuple(sorted(
            (k, v) for k, v in os.environ.items()
            if k in ("PYTHONPATH", "PYTHONHOME") or k.startswith(("TRANSFORMERS_", "TORCH", "PYTORCH_")))))

    def ask(self, config_path: Path) -> tuple[int, str] | None:
        """(0, the report's JSON) or (the exit code a child of its own would give, its one-line reason); None when
        a child of its own should build it (busy, or the server ended without answering). BadInput when the build
        took over TIMEOUT_S seconds (the server is stopped)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._ask(config_path)
        except BaseException:  # interrupted mid-request (Ctrl-C): its answer would be read as the next request's
            self.stop()
            raise
        finally:
            self._lock.release()

    def _ask(self, config_path: Path) -> tuple[int, str] | None:
        for _ in range(2):  # once more when the server ended, idle, as the request came
            proc = self._started()
            try:
                proc.stdin.write(json.dumps({"path": str(config_path.absolute())}) + "\n")
                proc.stdin.flush()
            except OSError:  # it had ended
                self.stop()
                continue
            if not select.select([proc.stdout], [], [], TIMEOUT_S)[0]:
                self.stop()
                raise _timed_out(config_path)
            line = proc.stdout.readline()
            if line:
                answer = json.loads(line)
                return answer["code"], answer["text"]
            ended = proc.wait()
            self.stop()
            if ended != 0:  # it died building this one (memory, a crash): a child of its own says why
                return None
        return None

    def pid(self) -> int | None:
        """The running server's process id, or None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _started(self) -> subprocess.Popen:
        key = self._environment()
        if self._proc is not None and (self._key != key or self._proc.poll() is not None):
            self.stop()
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", CHILD, "--serve", str(self.IDLE_S)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
            self._key = key
        return self._proc

    def stop(self) -> None:
        """End the server (a later build starts another)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._key is not None and self._key[0] != os.getpid():  # a fork's copy: the parent's server, not ours
            return
        proc.kill()
        proc.wait()
        for f in (proc.stdin, proc.stdout):
            f.close()


_SERVER = _Server()
atexit.register(_SERVER.stop)


def _role(path: str, is_head: bool) -> str:
    low = path.lower()
    if is_head:
        return "head"
    if any(k in low for k in ("attn", "attention", "q_proj", "k_proj", "v_proj", "query", "key", "value")):
        return "attention"
    if any(k in low for k in ("mlp", "fc", "ffn", "feed_forward", "dense_h_to_4h", "dense_4h_to_h")):
        return "mlp"
    return "other"


class NotKept(BadInput):
    """build_spec within kept_only(): the child's report for this config file is not kept, and the child (seconds
    of torch) was not started."""


_KEPT_ONLY = threading.local()


@contextmanager
def kept_only() -> Iterator[None]:
    """Within it, on this thread, build_spec answers from the kept report (core.model.buildcache) or raises
    NotKept, and never starts the child: for a caller that must not wait seconds, as the planner's UI thread
    (its export dialog, tui.bridge._export_spec). Another thread (the planner's worker loading the model) builds
    as before."""
    before = getattr(_KEPT_ONLY, "on", False)
    _KEPT_ONLY.on = True
    try:
        yield
    finally:
        _KEPT_ONLY.on = before


def runs_own_code(cfg: Mapping[str, Any], trust_remote_code: bool) -> bool:
    """True when a build of `cfg` runs the model's own code: it was allowed and config.json names that code
    (auto_map; transformers' AutoConfig and Auto classes look nowhere else). A build allowed it but of a config
    without auto_map builds transformers' own class, the build without that consent."""
    return trust_remote_code and "auto_map" in cfg


def build_spec(path: Path, cfg: Mapping[str, Any], spec_id: str, trust_remote_code: bool, reason: str) -> ModelSpec:
    """A ModelSpec from the child's report (source="fallback", with a note saying so). The report is kept across
    runs (core.model.buildcache, keyed by cache_key): a planner started with --trust-remote-code keeps its build of
    a model without own code, which its export dialog reads back (kept_only). A build that ran the model's own code
    (runs_own_code) is kept keyed by that code's bytes too (own_code_hash; never read by a build without the
    consent, nor by one of other code), and not kept when that code is not all in the model's folder. NotKept
    within kept_only() when the report is not kept."""
    from lorplan.core.model import buildcache

    check_known_type(path, cfg)
    key = cache_key(path)
    if key is not None and runs_own_code(cfg, trust_remote_code):
        code = own_code_hash(path, cfg)
        key = None if code is None else {**key, "own_code": code}
    kept = buildcache.load(key) if key is not None else None
    if kept is not None:
        try:
            return _spec(kept, cfg, spec_id, trust_remote_code, reason)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):  # a report no lorplan wrote: rebuild
            pass
    if getattr(_KEPT_ONLY, "on", False):
        raise NotKept(f"config.json at {path}: the model is built in a child process (seconds), and no build of "
                      "it is kept")
    data = run_child(path, trust_remote_code)
    spec = _spec(data, cfg, spec_id, trust_remote_code, reason)
    if key is not None:
        buildcache.store(key, data)
    return spec


OWN_CODE_FILES = 256  # a folder with more Python files than this is not hashed: its build is not kept


def own_code_hash(path: Path, cfg: Mapping[str, Any]) -> str | None:
    """The checksum of the model's own code a build of the config at `path` runs: every Python file in the
    config's folder and in the folder of each module auto_map names (those modules, and the files they import
    relatively, which transformers' dynamic_module_utils.get_relative_import_files finds beside them), by relative
    name and bytes.
    None, so that the build is not kept, when auto_map names code in another repository ("repo--module.Class") or a
    module not in the folder (transformers would fetch it), or when the files cannot all be read."""
    import hashlib

    auto = cfg.get("auto_map")
    refs = [r for v in (auto.values() if isinstance(auto, Mapping) else ())
            for r in (v if isinstance(v, list) else [v]) if isinstance(r, str)]
    folder = path.parent
    modules = {folder / f"{r.rsplit('.', 1)[0].replace('.', '/')}.py" for r in refs}
    if not refs or any("--" in r for r in refs) or not all(m.is_file() for m in modules):
        return None
    digest = hashlib.sha256()
    try:
        files = sorted({p for d in {folder, *(m.parent for m in modules)} for p in d.glob("*.py") if p.is_file()})
        if len(files) > OWN_CODE_FILES:
            return None
        for f in files:
            digest.update(f.relative_to(folder).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def cache_key(path: Path) -> dict | None:
    """What the child's report for the config file at `path` depends on (without the model's own code): the
    file's bytes and name (a folder's config.json is read with AutoConfig.from_pretrained, another file by its
    model_type), the transformers the child imports (version and folder) and torch's version, and the source of
    the child and its lorplan imports. None when the file cannot be read (the child says why)."""
    from lorplan.core.model import buildcache

    try:
        raw = path.read_bytes()
    except OSError:
        return None
    return {
        "config": buildcache.config_hash(raw),
        "config_json": path.name == "config.json",
        **_libraries(),
        "child": buildcache.child_source_hash(),
    }


def _libraries() -> dict:
    """The transformers a child imports (its version and folders) and torch's version, read from disk each time
    (a pip install while the planner runs changes them): what cache_key keys a report by besides the config and
    lorplan's code, and what a build server (_Server) must have imported to answer for that key."""
    from importlib.metadata import PackageNotFoundError, version

    folders = _transformers_folders()
    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = None
    return {"transformers": _transformers_version(folders), "transformers_at": [str(f.resolve()) for f in folders],
            "torch": torch_version}


def _spec(data: Mapping[str, Any], cfg: Mapping[str, Any], spec_id: str, trust_remote_code: bool,
          reason: str) -> ModelSpec:
    """The ModelSpec of the child's report `data` for config `cfg`."""
    from lorplan.core.lora import peft_layer_index

    linears, tied = [], []
    layers: set[int] = set()
    heads = (data.get("output_embeddings"), data.get("classifier"))
    text_model = data.get("text_model")

    # the module holding the language model beside the vision tower and projector ("model" of
    # "model.language_model"); the modules outside it (a classifier's pooling head, a drafter's projections) are
    # on the text path
    container = text_model.rpartition(".")[0] if isinstance(text_model, str) else ""

    def beside_text(path: str) -> bool:
        """A multimodal model's module beside its language model (its vision tower, its projector), which a text
        token does not pass: the fast path's role "vision", in no block (archs.gemma3_multimodal)."""
        return (bool(container) and path not in heads and path.startswith(container + ".")
                and not path.startswith(text_model + "."))

    for m in data["linears"]:
        vision = beside_text(m["path"])
        idx = peft_layer_index(m["path"]) if m["path"] != data.get("output_embeddings") and not vision else None
        if idx is not None:
            layers.add(idx)
        lin = Linear(
            m["path"],
            m["path"].rsplit(".", 1)[-1],
            idx,
            m["in"],
            m["out"],
            m["bias"],
            "vision" if vision else _role(m["path"], m["path"] in heads),  # type: ignore[arg-type]
        )
        (tied if m["tied"] else linears).append(lin)
    tensors = []
    for t in data["tensors"]:
        kind = t["kind"]
        tensors.append(Tensor(t["path"], tuple(t["shape"]), kind,
                              None if beside_text(t["path"]) else peft_layer_index(t["path"])))
    expert_shapes = [t.shape for t in tensors if t.kind == "experts"]
    experts = expert_shapes[0][0] if expert_shapes else 0
    # the language model's sizes where transformers' text model reads them: a multimodal config's text config
    # (the child's report, its class defaults included), else config.json's top level
    text = data.get("text_config")
    sizes: Mapping[str, Any] = text if isinstance(text, Mapping) else cfg
    ssm = _state_space_layers(tensors)
    # a state-space model with no attention module (Mamba2) has no attention heads: its num_heads are the
    # mixers' heads, which priced as attention kept seq-len × seq-len probabilities a step never makes
    attention = not ssm or any(m.role == "attention" for m in (*linears, *tied))
    n_heads = _first(sizes, _ALIASES["num_attention_heads"]) if attention else 0
    hidden = _first(sizes, _ALIASES["hidden_size"])
    notes = [
        f"fallback: {reason} is not in lorplan's fast path; built {data['class']} with transformers on the meta "
        "device in a child process"
    ]
    if trust_remote_code:
        notes.append("trust_remote_code was enabled on request")
    named_head: tuple[str, ...] = ()
    if isinstance(named := data.get("named_other"), str):  # a masked LM, a token classifier: not what lorplan trains
        # the child's words are "NAME, " + its task_words(AUTO); the fast path's note for such a head, one wording
        # (lorplan train's refusal of a token classifier said)
        name, _, words = named.partition(", ")
        named_head = (name, words.rpartition(" ")[2])
        notes.append(other_head_note(*named_head, data["class"]))
    if cfg.get("is_encoder_decoder") and data["task"] == "sequence-classification":
        # traced CPU steps of tiny T5 / mT5 / umT5 classifiers (LoRA all-linear, 1x256): -54% to -65%
        notes.append(f"{data['class']} runs an encoder and a decoder stack with cross-attention; lorplan's memory "
                     "model prices one stack, so its activations may be about half of what training needs")
    if ssm:
        notes.append(state_space_note(data["class"], ssm))
    from types import MappingProxyType

    default_context = _class_context(data, cfg)
    return ModelSpec(
        id=spec_id,
        source="fallback",
        model_type=str(cfg.get("model_type", "")),
        architecture=data["class"],
        task=data["task"],
        hidden_size=hidden,
        # a multimodal model's: its language model's layers (the linears' numbered layers hold its vision tower's)
        num_layers=(_first(sizes, _ALIASES["num_layers"]) if sizes is not cfg else 0) or len(layers)
        or _first(cfg, _ALIASES["num_layers"]),
        num_attention_heads=n_heads,
        num_key_value_heads=_first(sizes, ("num_key_value_heads", "num_kv_heads"), n_heads) if attention else 0,
        head_dim=_first(sizes, _ALIASES["head_dim"], hidden // n_heads if n_heads else 0) if attention else 0,
        # the config's, else the width the child found in the built block (BLOOM, MPT, GPT-J, GPT-Neo, XLM name
        # none; BART's kin and T5 name theirs under keys of their own: decoder_ffn_dim, d_ff)
        intermediate_size=_first(sizes, DENSE_MLP_KEYS) or int(data.get("mlp_width") or 0),
        vocab_size=_first(sizes, ("vocab_size",)),
        max_position_embeddings=config_context(cfg) or default_context[1],
        tie_word_embeddings=bool(tied),
        hidden_act=str(sizes.get("hidden_act") or sizes.get("activation_function") or sizes.get("hidden_activation")
                       or ""),
        gated_mlp=bool(data.get("gated_mlp")),  # the built MLP's (the child's _dense_mlp)
        norm="rmsnorm" if "rms" in json.dumps(data["norm_classes"]).lower() else "layernorm",
        linears=tuple(linears),
        tensors=tuple(tensors),
        notes=tuple(notes),
        named_head=named_head,
        tied_linears=tuple(tied),
        num_experts=experts,
        num_experts_per_tok=_first(sizes, ("num_experts_per_tok", "moe_topk", "top_k")) if experts else 0,
        moe_intermediate_size=_first(sizes, ("moe_intermediate_size", "intermediate_size")) if experts else 0,
        moe_style=data.get("moe_style", ""),
        config=MappingProxyType(dict(cfg)),
        dropout=_dropout(sizes),
        unsupported_attention=tuple(data.get("unsupported_attention", ())),
        supports_gradient_checkpointing=data.get("supports_gradient_checkpointing", True) is not False,
        context_default=default_context[0],
        pools_last_token=data.get("pools_last_token") is True,  # the child's (core.model.pooling), not the head's name
    )


def _state_space_layers(tensors: list[Tensor]) -> int:
    """The state-space (Mamba) mixers of a built model: the modules holding an A_log parameter, the state
    matrix every Mamba mixer in transformers keeps (Mamba, Mamba2, and the hybrids' mixers: Jamba, Bamba,
    FalconH1, Zamba2, NemotronH, GraniteMoeHybrid)."""
    return sum(1 for t in tensors if t.path.rsplit(".", 1)[-1] == "A_log")


def state_space_note(cls: str, layers: int) -> str:
    """The plan note for a model with `layers` state-space mixers. Traced CPU steps of 4-layer models (hidden
    256, vocab 512, LoRA r8 all-linear, 1x256, bf16 autocast, transformers' PyTorch mixers): gradients +
    activations priced -53% to -94% below the measured in-step peak (Mamba2 -56%, Bamba -53%/-64%, FalconH1
    -61%/-67% eager/SDPA, Jamba -83%/-88%, Mamba -94%); mamba_ssm's CUDA kernels keep other tensors than that
    path, which lorplan does not model either."""
    return (f"{cls} has {layers} state-space (Mamba) mixer layer{'s' if layers != 1 else ''}; lorplan's memory "
            "model prices attention and MLP layers, and their activations are not modelled, so the activation "
            "estimate is likely low")


def _class_context(data: Mapping[str, Any], cfg: Mapping[str, Any]) -> tuple[str, int]:
    """(where, tokens) of the context the built model took from its configuration class's default, for a
    config.json that names none of CONTEXT_KEYS (transformers builds DistilBERT's 512 position embeddings, GPT-Neo's
    2048): the child's report ("max_position_embeddings absent from config.json: DistilBertConfig's default", as
    the fast path names its classes' defaults, archs.context_default); ("", 0) when the file names a key (its value
    stands, 0 when it is no whole number) or the built config has none. A class that keeps the context under a
    name of its own (attribute_map: RwkvConfig's context_length), which the file holds: that name
    ("context_length of the model's config"), no default."""
    if any(isinstance(part, Mapping) and any(k in part for k in CONTEXT_KEYS) for part in (cfg, cfg.get("text_config"))):
        return "", 0
    reported = data.get("context")
    if not (isinstance(reported, list) and len(reported) in (3, 4) and isinstance(reported[1], int)
            and reported[1] > 0):
        return "", 0
    key, tokens, cls = reported[:3]
    own = reported[3] if len(reported) == 4 else key
    if own != key and any(isinstance(part, Mapping) and own in part for part in (cfg, cfg.get("text_config"))):
        return f"{own} of the model's config", tokens
    return f"{key} absent from config.json: {cls}'s default", tokens


def checkpointing_refusal(spec: ModelSpec) -> str | None:
    """Why gradient checkpointing cannot train this model ("./ctrl (CTRLLMHeadModel) does not implement gradient
    checkpointing in transformers"), None when it can: its class's supports_gradient_checkpointing is False (as the
    fallback's child read it, core.model.attention.class_flags: every class lorplan's catalog plans checkpoints);
    lorplan train would end in transformers' ValueError when it turned checkpointing on."""
    if spec.supports_gradient_checkpointing:
        return None
    model = spec.architecture if spec.id == spec.architecture else f"{spec.id} ({spec.architecture})"
    return f"{model} does not implement gradient checkpointing in transformers"


def check_gradient_checkpointing(spec: ModelSpec, enabled: bool, flag: str = "--grad-checkpointing",
                                 fix: str | None = None) -> None:
    """BadInput "--grad-checkpointing: ./ctrl (CTRLLMHeadModel) does not implement gradient checkpointing in
    transformers: plan without --grad-checkpointing" when checkpointing is asked of a class that cannot
    (checkpointing_refusal); `fix` says what to do instead in the words of the command asking (default: lorplan
    plan's, "plan without FLAG")."""
    why = checkpointing_refusal(spec) if enabled else None
    if why is not None:
        raise BadInput(f"{flag}: {why}: {fix or f'plan without {flag}'}")


def _dropout(cfg: Mapping[str, Any]):
    """The model's own dropout from the config's usual fields (0 where a value is not a probability)."""
    from lorplan.core.model.archs import MissingField, config_dropout
    from lorplan.core.model.spec import Dropout

    try:
        return config_dropout(str(cfg.get("model_type", "")), cfg)
    except MissingField:
        return Dropout()
