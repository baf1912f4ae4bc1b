"""Fixtures shared by every test folder: a private state dir per test (XDG_STATE_HOME, where probe runs and
ladders live), and teardown that ends every process a test started (driver, scheduler, probes: each runs in
its own process group, so they are killed by group, one by one); the data files and the model folder that tests
of several folders read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from model_builders import copy_tokenizer
from run_processes import reap_runs

# pytest-xdist's workers share the cores: each worker, and every process it starts, gets its share of them
# rather than a thread per core (two workers each running torch on both of two cores made the CPU-bound tests
# 25-33% slower). Set here, before any test imports torch, which reads it once; a value the user set wins, and a
# test of what lorplan does with OMP_NUM_THREADS unset removes it itself (as it must for a user who set it).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _share)))


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """XDG_STATE_HOME in tmp_path; yields the runs folder. Kills leftover probe and ladder processes afterwards."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LORPLAN_PROBE_THREADS", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.delenv("LORPLAN_PROBE_INJECT", raising=False)
    monkeypatch.delenv("LORPLAN_PROBE_HOLD", raising=False)
    runs = home / "lorplan" / "runs"
    yield runs
    if runs.exists():
        reap_runs(runs)


@pytest.fixture(scope="session", autouse=True)
def _cache_homes(tmp_path_factory):
    """The folder of cache_home's folders; XDG_CACHE_HOME for what runs before a test's own (session and module
    fixtures) is one of them."""
    import tempfile

    root = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="session-", dir=root))
        yield root


@pytest.fixture(autouse=True)
def cache_home(_cache_homes, _shared_builds, request, monkeypatch):
    """XDG_CACHE_HOME in a folder of this test's own (not in tmp_path, whose files some tests list), inherited by
    the lorplan processes it starts: the CUDA context measurements and the fallback's kept builds are then never
    read from the user's ~/.cache, nor left there. The builds (core.model.buildcache, lorplan/fallback) are shared
    by this run's tests (_shared_builds), except a test marked own_builds, which sees the child run. Nothing here
    reads the user's Hugging Face cache (its tests set HF_HOME or HF_HUB_CACHE), which follows XDG_CACHE_HOME
    when those are unset."""
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="test-", dir=_cache_homes))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    if "own_builds" not in request.keywords:
        (home / "lorplan").mkdir()
        (home / "lorplan" / "fallback").symlink_to(_shared_builds, target_is_directory=True)


@pytest.fixture(scope="session")
def _shared_builds(tmp_path_factory) -> Path:
    """The fallback's kept builds (core.model.buildcache) shared by the tests of one run of the suite, on every
    worker: an entry is keyed by everything that changes the child's report (the config's bytes, transformers,
    torch and the child's source), so a build another test kept is the report the child would write again, and
    the ~4 s child (importing torch and transformers) runs once per config rather than once per test. Failed
    builds are never kept. A test that means to see the child run is marked own_builds."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = root / "shared-fallback-builds"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(autouse=True)
def idle_cpu(monkeypatch):
    """A ladder's first estimate of a probe's time allows for the CPU's load (recommend.launch.cpu_load): tests
    see an idle machine, so the ladders they plan do not depend on what else runs beside them."""
    import os

    from lorplan.recommend import launch
    from lorplan.recommend.ladder import CpuLoad

    monkeypatch.setattr(launch, "cpu_load", lambda: CpuLoad(os.cpu_count() or 1, 0.0))


@pytest.fixture
def nearly_full(monkeypatch):
    """A disk short of space at the OS boundary: os.statvfs answers 64 KiB free (under the 128 KiB a probe
    needs); calling the fixture's value puts the real one back (space freed)."""
    statvfs = os.statvfs

    def short(path):
        st = statvfs(path)
        return os.statvfs_result((4096, 4096, st.f_blocks, 16, 16, *tuple(st)[5:]))

    monkeypatch.setattr(os, "statvfs", short)
    return lambda: monkeypatch.setattr(os, "statvfs", statvfs)


@pytest.fixture
def prompt_completion_file(tmp_path):
    """A JSONL file of 8 prompt/completion rows ("q i" -> "a i"), as a model-folder test profiles or trains on."""
    import json

    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q {i}", "completion": f"a {i}"}) + "\n" for i in range(8)))
    return path


@pytest.fixture(scope="session")
def tiny_ctrl(tmp_path_factory) -> Path:
    """A two-block CTRL (random weights, MiniLM's tokenizer): a model outside lorplan's catalog, read by the
    fallback's child, whose transformers class cannot checkpoint (transformers 5's CTRLLMHeadModel). Shared: copy
    it before changing the folder."""
    import torch
    from transformers import CTRLConfig, CTRLLMHeadModel

    assert CTRLLMHeadModel.supports_gradient_checkpointing is False  # the premise, from the installed transformers
    folder = copy_tokenizer(tmp_path_factory.mktemp("ctrl") / "model")
    torch.manual_seed(0)
    cfg = CTRLConfig(vocab_size=30522, n_embd=16, n_layer=2, n_head=2, dff=32, n_positions=128)
    CTRLLMHeadModel(cfg).save_pretrained(folder)
    return folder
