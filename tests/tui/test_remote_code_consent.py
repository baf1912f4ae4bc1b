"""The planner and a model folder with Python code of its own (auto_map: configuration_*.py, modeling_*.py,
tokenization_*.py that append their name to a marker file when imported). Without `lorplan --trust-remote-code`
nothing runs that code and each refusal is one line naming that command; with it the session's consent reaches
the model field, the plan (its exports and the plan file) and the profile's tokenizer."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from textual.widgets import Static

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/model_builders.py
from model_builders import remote_code_model  # noqa: E402
from tui_helpers import paste_into  # noqa: E402

from lorplan.cli import main  # noqa: E402
from lorplan.core.errors import BadInput  # noqa: E402
from lorplan.tui import bridge  # noqa: E402

pytestmark = pytest.mark.anyio
ASK = "start the planner with `lorplan --trust-remote-code`, if you trust that code"


@pytest.fixture
def remote(tmp_path):
    marker = tmp_path / "PWNED"
    return remote_code_model(tmp_path / "remote", marker, hidden=16, layers=1), marker


async def until(pilot, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


async def _choose(make_app, folder: Path, **kwargs):
    """Paste the folder into the model field of a fresh planner; (the app's model line, its latest snapshot)."""
    app = make_app(**kwargs)
    async with app.run_test(size=(120, 40)) as pilot:
        before = app.screen.plan
        await paste_into(pilot, "#model-input", str(folder), submit=True)
        picker = app.screen.query_one("#model-picker")
        await until(pilot, lambda: picker.has_class("-error") or (app.screen.plan is not before
                                                                  and app.screen.plan.spec.id != before.spec.id))
        return str(app.screen.query_one("#model-status", Static).render()), app.screen.plan


async def test_without_the_flag_the_model_field_refuses_in_one_line_naming_it(make_app, remote):
    folder, marker = remote
    status, plan = await _choose(make_app, folder)
    assert not marker.exists(), marker.read_text()
    assert status == (f"config.json at {folder / 'config.json'}: the model needs its own Python code (auto_map in "
                      f"config.json), which lorplan runs only when asked: {ASK} · the table is still for "
                      "meta-llama/Llama-3.1-8B-Instruct"), status
    assert plan.trust_remote_code is False  # the kept plan (the catalog model) asks for nothing


async def test_with_the_flag_the_model_loads_and_its_plan_asks_for_its_code(make_app, remote, tmp_path):
    folder, marker = remote
    _, snapshot = await _choose(make_app, folder, trust_remote_code=True)
    assert "configuration_evil" in marker.read_text()  # the session's consent reached the model's build
    assert snapshot.spec.id != "meta-llama/Llama-3.1-8B-Instruct" and snapshot.trust_remote_code is True
    plan = bridge.plan_from_setup(snapshot)
    assert plan.model.trust_remote_code is True and plan.model.path == str(folder)
    written = bridge.write_export(plan, "plan", tmp_path / "plan.toml", force=False)[0].read_text()
    assert "trust_remote_code = true" in written and "--trust-remote-code" in written  # train's header names it
    assert "trust_remote_code: true" in bridge.write_export(plan, "axolotl", tmp_path / "ax.yaml",
                                                            force=False)[0].read_text()


async def test_the_flag_asks_for_no_code_a_model_does_not_name(make_app):
    """A catalog model's plan in a session with the flag: its plan does not ask to run code (none is named)."""
    app = make_app(trust_remote_code=True)
    async with app.run_test(size=(120, 40)):
        snapshot = app.screen.plan
    assert snapshot is not None and snapshot.trust_remote_code is False
    assert bridge.plan_from_setup(snapshot).model.trust_remote_code is False


def _profile(folder: Path, data: Path, trusted: bool):
    return bridge.profile_dataset(str(data), model=str(folder), schema=None, seq_len=None, mask=True,
                                  progress=lambda *_: None, trust_remote_code=trusted)


def test_the_data_tab_profile_refuses_the_tokenizer_s_code_naming_the_flag(remote, tmp_path):
    folder, marker = remote
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hello there"}\n' * 4)
    with pytest.raises(BadInput) as err:
        _profile(folder, data, trusted=False)
    assert not marker.exists(), marker.read_text()
    assert str(err.value) == (f"tokenizer at {folder}: cannot load (its config.json or tokenizer_config.json names "
                              "Python code of its own (auto_map), which lorplan runs only when asked: "
                              f"{ASK})"), str(err.value)
    try:  # with the session's consent the tokenizer's own code is imported (whether it then loads or not)
        _profile(folder, data, trusted=True)
    except BadInput:
        pass
    assert "tokenization_evil" in marker.read_text()


def test_a_retry_in_a_session_without_the_flag_names_it(remote, tmp_path):
    from lorplan.probe.runner import make_plan
    from lorplan.probe.runs import create_run
    from lorplan.tui import probe_bridge

    folder, marker = remote
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hello there"}\n' * 4)
    run = create_run(make_plan((2,), (1e-3,), model=str(folder), data=str(data), trust_remote_code=True),
                     tmp_path / "runs")
    probe_id = run.plan().probes[0].id
    with pytest.raises(BadInput) as err:
        probe_bridge.retry(run, probe_id, backend=None, trusted=False)
    assert str(err.value) == (f"run {run.id} asks to run the model's own Python code ({folder}), which lorplan runs "
                              f"only when asked: to queue probe {probe_id} again, start the planner with "
                              "`lorplan --trust-remote-code`, if you trust that code")
    assert not marker.exists()


def test_the_top_level_flag_reaches_the_planner_and_only_the_planner(monkeypatch, capsys):
    import lorplan.tui

    seen = {}
    monkeypatch.setattr(lorplan.tui, "launch", lambda **kw: seen.update(kw) or 0)
    assert main(["--trust-remote-code"]) == 0
    assert seen["trust_remote_code"] is True
    assert main([]) == 0 and seen["trust_remote_code"] is False
    seen.clear()
    assert main(["--trust-remote-code", "models"]) == 2 and not seen  # it would grant `models` nothing
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "lorplan models: error: --trust-remote-code before the command is the planner's (`lorplan "
        "--trust-remote-code` with no command); a command that may run a model's code takes it after its name")
