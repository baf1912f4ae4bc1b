"""One messages module: every custom Message of the planner lives in lorplan/tui/messages.py, is named as a
past-tense fact, and is what the widgets post."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from textual.message import Message

import lorplan.tui
from lorplan.tui import messages

TUI_DIR = Path(lorplan.tui.__file__).resolve().parent


def tui_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages([str(TUI_DIR)], prefix="lorplan.tui."))


def custom_messages(module) -> list[type]:
    return [obj for _name, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, Message) and obj.__module__ == module.__name__]


def test_every_message_class_is_defined_in_the_messages_module():
    elsewhere = {name: [c.__name__ for c in custom_messages(importlib.import_module(name))]
                 for name in tui_modules() if name != "lorplan.tui.messages"}
    assert {name: found for name, found in elsewhere.items() if found} == {}
    assert len(custom_messages(messages)) >= 15


def test_message_names_are_past_tense_facts():
    public = [c.__name__ for c in custom_messages(messages) if not c.__name__.startswith("_")]
    assert [name for name in public if not re.search(r"(ed|en)$", name)] == []


def test_every_module_that_posts_a_message_takes_it_from_the_messages_module():
    posting, missing = [], []
    for path in sorted(TUI_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        posts = {node.args[0].func.id for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "post_message"
                 and node.args and isinstance(node.args[0], ast.Call) and isinstance(node.args[0].func, ast.Name)}
        if not posts:
            continue
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module == "lorplan.tui.messages" for alias in node.names}
        posting.append(path.name)
        missing += [f"{path.name}: {name}" for name in sorted(posts - imported)]
    assert missing == []
    assert {"plan_view.py", "setup_panel.py", "gpu_panel.py", "data_panel.py", "probes_panel.py",
            "model_picker.py", "rank_table.py"} <= set(posting)


def test_every_message_is_posted_somewhere():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in TUI_DIR.rglob("*.py") if p.name != "messages.py")
    unused = [c.__name__ for c in custom_messages(messages)
              if not c.__name__.startswith("_") and f"{c.__name__}(" not in sources]
    assert unused == []


def test_worker_messages_replace_their_own_kind_only():
    report = messages.GpuReportReceived(report=None)
    assert report.can_replace(messages.GpuReportReceived(report=None))
    assert not report.can_replace(messages.ProfileProgressed(1, 2))
    assert messages.ProbeRunUpdated(read=None).can_replace(messages.ProbeRunUpdated(read=None))
    assert not messages.PlanChanged(snapshot=None).can_replace(messages.PlanChanged(snapshot=None))
