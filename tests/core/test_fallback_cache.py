"""The fallback's build is remembered across runs: a model outside the fast path (a local OPT folder) was built
by a child process (torch + transformers on the meta device, 6-20 s) on every `lorplan plan`, its answer cached
only inside one process. The child's report is now kept in $XDG_CACHE_HOME/lorplan/fallback, keyed by the
config.json's bytes, the transformers and torch read, the child's own source; a damaged or foreign entry is
rebuilt, an unwritable cache is skipped, and a build that ran the model's own code is never kept.

A run's child is observed for real: a `torch` on PYTHONPATH that leaves a marker file and cannot be imported.
The child imports torch first, so a run that started it leaves the marker (and fails); the parent never imports
torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lorplan.core.model import buildcache, fallback

pytestmark = pytest.mark.slow

OPT = {
    "model_type": "opt", "architectures": ["OPTForCausalLM"], "hidden_size": 64, "ffn_dim": 256,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 128, "max_position_embeddings": 128,
    "word_embed_proj_dim": 64, "do_layer_norm_before": True,
}


def _folder(root: Path, cfg: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(cfg))
    return root


def _no_torch(root: Path) -> tuple[Path, Path]:
    """(folder to put first on PYTHONPATH, marker): a torch that records its import and then fails."""
    stub = root / "notorch"
    (stub / "torch").mkdir(parents=True)
    marker = root / "torch-imported"
    (stub / "torch" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'a').write('imported\\n')\nraise ImportError('torch is not here (test)')\n")
    return stub, marker


def _plan(model: Path, cache: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-m", "lorplan", "plan", "--model", str(model), "--json", *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(model.parent))


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """One real build of the OPT folder in its own process, with an empty cache: (folder, cache, plan JSON)."""
    root = tmp_path_factory.mktemp("fbcache")
    model = _folder(root / "opt", OPT)
    cache = root / "cache"
    proc = _plan(model, cache)
    assert proc.returncode == 0, proc.stderr
    return model, cache, proc.stdout


def test_a_second_run_does_not_start_the_child(planned, tmp_path):
    model, cache, first = planned
    stub, marker = _no_torch(tmp_path)
    # the premise: with nothing cached, the child imports the stub torch and the run fails
    empty = _plan(model, tmp_path / "empty-cache", pythonpath=stub)
    assert empty.returncode == 2 and marker.exists(), empty.stderr
    marker.unlink()
    again = _plan(model, cache, pythonpath=stub)
    assert again.returncode == 0, again.stderr
    assert not marker.exists()  # no child started
    assert again.stdout == first  # the same figures as the fresh build, byte for byte
    assert json.loads(again.stdout)["model"]["source"] == "fallback"
    # other flags read the same entry
    flags = _plan(model, cache, "--ranks", "4", "--seq-len", "64", pythonpath=stub)
    assert flags.returncode == 0 and not marker.exists(), flags.stderr


def test_a_changed_config_misses(planned, tmp_path):
    model, cache, _ = planned
    stub, marker = _no_torch(tmp_path)
    other = _folder(tmp_path / "opt", {**OPT, "num_hidden_layers": 3})
    proc = _plan(other, cache, pythonpath=stub)
    assert proc.returncode == 2 and marker.exists()  # not the 2-layer model's entry
    # the same bytes in another folder are the same model: a hit
    marker.unlink()
    same = tmp_path / "copy"
    same.mkdir()
    (same / "config.json").write_bytes((model / "config.json").read_bytes())
    proc = _plan(same, cache, pythonpath=stub)
    assert proc.returncode == 0 and not marker.exists(), proc.stderr


class _Spy:
    """fallback.run_child, counted: the real child still runs."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = fallback.run_child

        def run(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(fallback, "run_child", run)


def _build(model: Path, trust: bool = False):
    cfg = json.loads((model / "config.json").read_text())
    return fallback.build_spec(model / "config.json", cfg, "./opt", trust_remote_code=trust,
                               reason="model_type 'opt'")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """The OPT folder built by the child in this process with an empty cache: (spec, the entry it left)."""
    root = tmp_path_factory.mktemp("fresh")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
        spy = _Spy(mp)
        spec = _build(_folder(root / "opt", OPT))
        assert spy.calls == 1
    (entry,) = (root / "cache" / "lorplan" / "fallback").glob("*.json")
    return spec, entry


@pytest.fixture
def in_process(fresh, tmp_path, monkeypatch):
    """Another folder of the same config.json bytes, its private cache holding the fresh build's entry: (folder,
    fresh spec, spy, entry folder)."""
    spec, entry = fresh
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    entries = tmp_path / "cache" / "lorplan" / "fallback"
    entries.mkdir(parents=True)
    (entries / entry.name).write_bytes(entry.read_bytes())
    return _folder(tmp_path / "opt", OPT), spec, _Spy(monkeypatch), entries


def test_hit_gives_the_same_spec(in_process):
    model, spec, spy, entries = in_process
    assert _build(model) == spec  # the same config.json bytes in another folder: the fresh build's entry
    assert spy.calls == 0
    assert len(list(entries.glob("*.json"))) == 1


def test_another_transformers_or_child_misses(in_process, monkeypatch):
    model, spec, spy, entries = in_process
    real = fallback._transformers_version
    monkeypatch.setattr(fallback, "_transformers_version", lambda folders: "0.0.1.other")
    assert _build(model) == spec
    assert spy.calls == 1 and len(list(entries.glob("*.json"))) == 2
    monkeypatch.setattr(fallback, "_transformers_version", real)
    monkeypatch.setattr(buildcache, "child_source_hash", lambda: "another lorplan's child")
    _build(model)
    assert spy.calls == 2 and len(list(entries.glob("*.json"))) == 3


def test_the_child_key_covers_its_lorplan_sources():
    """The child's report is made by _fallback_child.py and what it imports from lorplan (class_flags in
    attention.py, the attention names of vocab.py): a lorplan that changes any of them keys its entries apart."""
    names = {p.name for p in buildcache.child_sources()}
    assert {"_fallback_child.py", "attention.py", "vocab.py"} <= names


@pytest.mark.parametrize("damage", ["truncated", "edited", "foreign", "not json", "bad data"])
def test_a_damaged_entry_is_rebuilt(in_process, damage):
    model, spec, spy, entries = in_process
    (entry,) = entries.glob("*.json")
    text = entry.read_text()
    doc = json.loads(text)
    if damage == "truncated":
        entry.write_text(text[: len(text) // 2])
    elif damage == "edited":  # valid JSON, one width changed: the checksum no longer matches
        first = doc["data"]["linears"][0]
        first["out"] += 1
        entry.write_text(json.dumps(doc))
    elif damage == "foreign":  # another entry's key under this name
        doc["key"]["config"] = "0" * 64
        entry.write_text(json.dumps(doc))
    elif damage == "not json":
        entry.write_bytes(b"\xff\xfe garbage")
    else:  # a consistent entry whose report build_spec cannot read (checksum made to match)
        doc["data"]["linears"] = [{"path": 3}]
        doc["sha256"] = buildcache.data_hash(doc["data"])
        entry.write_text(json.dumps(doc))
    assert _build(model) == spec
    assert spy.calls == 1
    rebuilt = json.loads(entry.read_text())  # the entry was written again, whole
    assert rebuilt["sha256"] == buildcache.data_hash(rebuilt["data"])
    assert _build(model) == spec and spy.calls == 1


def test_an_unwritable_cache_is_skipped(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    model = _folder(tmp_path / "opt", OPT)
    spy = _Spy(monkeypatch)
    spec = _build(model)
    assert spec.source == "fallback" and spec.architecture == "OPTForCausalLM" and spy.calls == 1
    assert _build(model) == spec and spy.calls == 2  # nothing kept, nothing said
    assert capsys.readouterr() == ("", "")


def test_an_unwritable_cache_plans_from_the_command_line(planned, tmp_path):
    model, _, first = planned
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    proc = _plan(model, blocker)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == first


def test_own_code_builds_are_neither_read_nor_kept(in_process, tmp_path, monkeypatch):
    """A build that runs the model's own code (allowed, and named by config.json's auto_map) may differ from
    transformers' class of the same config (and from one build to the next, as that code changes): when that code
    is not in the model's folder (transformers would fetch it: here the module auto_map names is missing) it runs
    every time, and leaves nothing. The child is a stand-in here."""
    _, spec, _, entries = in_process
    fresh = json.loads(next(entries.glob("*.json")).read_text())["data"]
    model = _folder(tmp_path / "own", {**OPT, "auto_map": {"AutoModelForCausalLM": "modeling_own.OwnForCausalLM"}})
    buildcache.store(fallback.cache_key(model / "config.json"), fresh)  # a build without that code, kept
    before = {p.name: p.read_bytes() for p in entries.iterdir()}
    asked = []
    monkeypatch.setattr(fallback, "run_child", lambda path, trust: asked.append(trust) or fresh)
    for _ in range(2):
        built = _build(model, trust=True)
        assert "trust_remote_code was enabled on request" in built.notes
    assert asked == [True, True]
    assert {p.name: p.read_bytes() for p in entries.iterdir()} == before


def test_a_trusted_build_of_a_model_without_own_code_is_kept(in_process, monkeypatch):
    """Allowed to run the model's own code, a build of a config.json that names none (no auto_map) builds
    transformers' class, as without that consent: it reads the kept build (a planner started with
    --trust-remote-code built it anew on every start, and its export dialog built it again without the consent),
    and keeps its own."""
    model, spec, spy, entries = in_process
    built = _build(model, trust=True)
    assert spy.calls == 0 and "trust_remote_code was enabled on request" in built.notes
    assert built.linears == spec.linears and built.tensors == spec.tensors
    (entry,) = entries.glob("*.json")
    fresh = json.loads(entry.read_text())["data"]
    entry.unlink()
    with fallback.kept_only():  # nothing kept: the child is not started under kept_only
        with pytest.raises(fallback.NotKept, match="no build of it is kept"):
            _build(model)
    assert spy.calls == 0
    asked = []  # the child's report, without the child's seconds: what is tested is what is kept
    monkeypatch.setattr(fallback, "run_child", lambda path, trust: asked.append(trust) or fresh)
    assert _build(model, trust=True).linears == spec.linears and asked == [True]
    assert _build(model).linears == spec.linears and asked == [True]  # the trusted build was kept
    assert len(list(entries.glob("*.json"))) == 1


def test_the_cache_keeps_the_newest_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(buildcache, "KEEP", 5)
    keys = [{"n": i} for i in range(8)]
    for i, key in enumerate(keys):
        buildcache.store(key, {"class": f"C{i}"})
        path = buildcache.entry_path(key)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # written in order, a second apart
    assert buildcache.load(keys[3]) == {"class": "C3"}  # read: now the newest
    buildcache.store({"n": 8}, {"class": "C8"})
    kept = {json.loads(p.read_text())["key"]["n"] for p in (tmp_path / "lorplan" / "fallback").glob("*.json")}
    assert kept == {3, 5, 6, 7, 8}


@pytest.fixture(scope="module")
def module_cache_dir() -> Path:
    """buildcache.cache_dir() as a fixture wider than one test sees it."""
    return buildcache.cache_dir()


@pytest.mark.own_builds
def test_the_suite_keeps_its_builds_to_itself(module_cache_dir, tmp_path_factory):
    """tests/conftest.py points XDG_CACHE_HOME at a folder of each test's own (and of the session's, for fixtures
    wider than a test); a test marked own_builds also keeps its builds to itself. With the user's
    ~/.cache/lorplan/fallback, a build kept by an earlier run of the suite on the same config.json bytes answered a
    test that means to see the child run (its failure, its message, its time), and the suite filled the user's
    cache."""
    base = tmp_path_factory.getbasetemp()
    here = buildcache.cache_dir()
    assert here.is_relative_to(base) and module_cache_dir.is_relative_to(base), (here, module_cache_dir)
    assert here != module_cache_dir
    assert not here.exists()  # nothing kept by an earlier test
    buildcache.store({"n": 1}, {"class": "C"})  # what this test keeps stays in its own folder
    assert buildcache.load({"n": 1}) == {"class": "C"} and buildcache.entry_path({"n": 1}).is_relative_to(base)


def test_an_unmarked_test_shares_this_runs_builds_and_no_one_elses(tmp_path_factory):
    """Without own_builds a test reads and keeps builds in the run's shared folder (tests/conftest.py
    _shared_builds): under this run's temporary root, never the user's ~/.cache or an earlier run's."""
    here = buildcache.cache_dir().resolve()
    run_root = tmp_path_factory.getbasetemp().resolve().parent
    assert here.name == "shared-fallback-builds" and here.is_relative_to(run_root), here
    assert not here.is_relative_to(Path.home() / ".cache")
    buildcache.store({"shared": 1}, {"class": "C"})
    assert buildcache.load({"shared": 1}) == {"class": "C"}


def test_an_own_code_build_is_kept_by_its_code_and_rebuilt_when_the_code_changes(in_process, tmp_path, monkeypatch):
    """Every probe of a run trusting its model's own code built the model again in a child of its own (seconds of
    torch each: probe.runner.run_model_refusal), as did every planner start: such a build was never kept. It is
    kept now, keyed by the bytes of the Python files beside config.json as well (fallback.own_code_hash): read
    again by the same trusted build, never by the build without that consent (whose own entry stays), built again
    when a file of that code changes or is added, and never kept for code auto_map names in another repository."""
    _, spec, _, entries = in_process
    fresh = json.loads(next(entries.glob("*.json")).read_text())["data"]
    model = _folder(tmp_path / "own", {**OPT, "auto_map": {"AutoModelForCausalLM": "modeling_own.OwnForCausalLM"}})
    (model / "modeling_own.py").write_text("class OwnForCausalLM: pass\n")
    asked = []
    monkeypatch.setattr(fallback, "run_child", lambda path, trust: asked.append(trust) or fresh)
    for _ in range(2):
        assert "trust_remote_code was enabled on request" in _build(model, trust=True).notes
    assert asked == [True]  # the second read the kept build
    assert len(list(entries.glob("*.json"))) == 2  # beside the build without own code, not over it
    (model / "helpers.py").write_text("X = 1\n")  # a file the module may import relatively
    _build(model, trust=True)
    (model / "modeling_own.py").write_text("class OwnForCausalLM: x = 2\n")
    _build(model, trust=True)
    _build(model, trust=True)
    assert asked == [True, True, True]
    other = _folder(tmp_path / "remote", {**OPT, "auto_map": {"AutoModelForCausalLM": "org/code--modeling.X"}})
    (other / "modeling.py").write_text("class X: pass\n")
    _build(other, trust=True)
    _build(other, trust=True)
    assert asked == [True] * 5
    assert fallback.own_code_hash(other / "config.json", json.loads((other / "config.json").read_text())) is None
