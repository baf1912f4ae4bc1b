"""model_name (how notes name a model: a folder by its short name) lives in lorplan.core.model.names. The CLI's
plan, profile, probe and train commands imported it from lorplan.recommend.capacity, a re-export, which loaded the
recommender (lorplan.recommend's package and the modules it imports, 130-330 ms) for a core function whenever
`lorplan plan --data` or `lorplan profile --model` named a model in a note."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from lorplan.cli import main

ROOT = Path(__file__).resolve().parents[2]


# `from lorplan.recommend.capacity import ...`, on one line or in parentheses (read as text: parsing every file
# took seconds)
FROM_CAPACITY = re.compile(r"from\s+lorplan\.recommend\.capacity\s+import\s+(\([^)]*\)|[^\n]*)")


def test_nothing_imports_model_name_from_the_recommender():
    found = []
    for folder in ("lorplan", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for m in FROM_CAPACITY.finditer(text):
                if re.search(r"\bmodel_name\b", m.group(1)):
                    found.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}")
    assert found == [], found


class _NoRecommender:
    """A meta-path finder that records, and refuses, every load of a lorplan.recommend module."""

    def __init__(self):
        self.asked: list[str] = []

    def find_spec(self, name, path=None, target=None):
        if name == "lorplan.recommend" or name.startswith("lorplan.recommend."):
            self.asked.append(name)
            raise ImportError(f"{name}: the recommender is not for this command")
        return None


@pytest.fixture
def no_recommender(monkeypatch) -> _NoRecommender:
    """The recommender as a fresh interpreter has it, unloaded (the suite has loaded it: conftest's idle_cpu), in
    this process: its modules out of sys.modules and lorplan's attribute, each put back afterwards, and a load of
    any of them refused before it makes a module (none is left behind to differ from the one the suite holds).
    A fresh interpreter measured the same at ~1.1 s (its imports); this costs the commands' own time (~0.1 s
    once the suite has imported the CLI). Unlike a fresh interpreter, it does not see an import of the recommender
    at the top of a module already loaded here: the CLI's commands import it inside the functions that use it."""
    import lorplan

    guard = _NoRecommender()
    for name in [m for m in sys.modules if m == "lorplan.recommend" or m.startswith("lorplan.recommend.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delattr(lorplan, "recommend", raising=False)
    monkeypatch.setattr(sys, "meta_path", [guard, *sys.meta_path])
    return guard


def test_plan_and_profile_name_the_model_without_the_recommender(tmp_path, capsys, monkeypatch, no_recommender):
    """Labelled data with a causal LM: both commands say, naming the model, that its plan never sees the labels
    (the note that called model_name), and load no lorplan.recommend module."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": f"item {i}", "label": i % 2}) + "\n" for i in range(40)),
                    encoding="utf-8")
    model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    said = []
    for argv in (["plan", "--model", model, "--data", str(data), "--rank", "8", "--write", str(tmp_path / "p.toml")],
                 ["profile", "--data", str(data), "--model", model]):
        try:
            rc = main(argv)
        except ImportError as exc:  # the guard's refusal, where a command does not catch it
            rc = repr(exc)
        cap = capsys.readouterr()
        said.append((rc, cap.out + cap.err))  # plan says it on stderr, profile among its figures
    assert no_recommender.asked == [], (no_recommender.asked, said)
    assert said[0][0] == 0 and f"{model} is a causal LM" in said[0][1], said[0]
    assert said[1][0] == 0 and f"{model} is a causal LM" in said[1][1], said[1]
