"""Pilot tests of the Recommend tab: the capacity prior at once, a ladder's rows as its recommendation.json is
rewritten in a run folder (written by the test with Recommendation.to_json(); no probe process runs), the `a`
key that applies rank, alpha, learning rate and rank_pattern to the plan the export writes, and the `l` key
that starts a real ladder (a tiny random-weight Llama; its processes are killed at the end)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from model_builders import tiny_llama as tiny_llama_folder
from run_processes import reap_runs
from textual.widgets import DataTable, Input, Static
from tui_helpers import paste_into, type_into, wait_until

from lorplan.core.errors import BadInput
from lorplan.core.lora import LoraTargets, trainable_params
from lorplan.core.model import load_spec
from lorplan.core.plan import read_plan
from lorplan.probe import runner
from lorplan.probe.runs import atomic_write_json, create_run
from lorplan.recommend import (
    DataSize,
    Fit,
    LadderRow,
    RankPattern,
    Remedy,
    adapter_size,
    capacity_prior,
    combine,
    data_size_from_profile,
)
from lorplan.tui import recommend_bridge
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.panels.recommend_panel import RecommendPanel
from lorplan.tui.screens.export_dialog import ExportDialog, default_folder
from lorplan.tui.widgets.rank_table import RankTable

pytestmark = pytest.mark.anyio

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def _plan_ready(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.main.plan is not None)


async def _profile(pilot, data: Path, timeout: float = 60) -> None:
    """Profile `data` on the Data tab (F6) and wait until the screen holds its figures: its path pasted
    (tui_helpers.paste_into: typed key by key it cost ~6 s a tmp path) and Enter pressed;
    test_prior_shows_at_once_from_the_data_tab_profile types one as a user does."""
    await pilot.press("f6")
    await paste_into(pilot, "#data-path", str(data), submit=True)
    await wait_until(pilot, lambda: pilot.app.main.data is not None, timeout=timeout)


async def _open_recommend(pilot) -> RecommendPanel:
    await pilot.press("f8")
    await pilot.pause()
    return pilot.app.screen.query_one(RecommendPanel)


def _runs_root(home: Path) -> Path:
    return home / "state" / "lorplan" / "runs"  # conftest's XDG_STATE_HOME


def _ladder_run(home: Path, run_id: str) -> Path:
    return create_run(runner.make_plan((4, 8, 16, 32), steps=20, device="cpu", run=run_id), _runs_root(home)).path


def _recommendation(model: str, rows, base_loss: float, pattern=None, lr=(1e-3, "the default"),
                    state: str = "running") -> dict:
    spec = load_spec(model)
    # the model's own task: the tab follows only a ladder of the plan's task (MiniLM's is a classifier's)
    size = (DataSize(task=spec.task, examples=120, num_labels=3) if spec.task == "sequence-classification"
            else DataSize(task="causal-lm", trained_tokens=5_000_000))
    prior = capacity_prior(size, adapter_size(spec, LoraTargets()))
    rec = combine(prior, default_lr=lr, ladder=rows, base_loss=base_loss, pattern=pattern)
    return {**rec.to_json(), "base_loss": base_loss, "state": state}  # the ladder driver's extra keys


def _write(path: Path, obj: dict) -> None:
    atomic_write_json(path, obj)
    os.utime(path, ns=(path.stat().st_mtime_ns + 1_000_000,) * 2)  # a rewrite within the clock's tick


def _row(rank, loss, state="finished", **kw) -> LadderRow:
    return LadderRow(rank=rank, learning_rate=1e-3, eval_loss=loss, state=state, train_seconds=30.0 if loss else None,
                     trainable_params=rank * 1000, steps=20 if loss else None, **kw)


async def test_prior_shows_at_once_from_the_data_tab_profile(make_app, isolated_home):
    data = isolated_home / "chat.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"question {i}"},
                          {"role": "assistant", "content": "answer " * (1 + i % 7)}]} for i in range(200)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        panel = await _open_recommend(pilot)
        # no profile yet: the prior says what it needs and offers the data size field
        assert panel.prior is not None and panel.prior.recommendation is None
        assert "profile a dataset in the Data tab, or type its trained tokens" in _text(app, "#rec-head")
        assert panel.has_class("-size")
        await pilot.press("f6")
        await paste_into(pilot, "#data-path", str(data), submit=True)
        await wait_until(pilot, lambda: app.main.data is not None)
        await pilot.press("f8")
        await pilot.pause()  # no worker to wait for: the prior is arithmetic on what the screen handed down
        profile = app.main.data.profile
        spec = app.main.plan.spec
        expected = capacity_prior(data_size_from_profile(profile, task="causal-lm"),
                                  adapter_size(spec, app.main.plan.setup.targets))
        rec = panel.shown
        assert rec is not None and rec.rank == expected.rank
        assert rec.confidence == (expected.low, expected.high)
        head = _text(app, "#rec-head")
        assert head.startswith(f"rank {expected.rank} (band {expected.low}–{expected.high}) · alpha 32")
        assert "from the capacity prior" in head
        assert f"{profile.trained_tokens:,} trained tokens" in _text(app, "#rec-evidence")
        assert not panel.has_class("-size")  # the profile answers what the typed size would
        assert app.screen.query_one("#rec-ladder", DataTable).row_count == 0


async def test_prior_from_a_typed_size_for_classification(make_app):
    app = make_app(model=MINILM)
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        panel = await _open_recommend(pilot)
        assert "type its labelled examples below" in _text(app, "#rec-head")
        await type_into(pilot, "#rec-size", "1,2x")  # a comma between no groups of three: the CLI's words for it
        assert _text(app, "#rec-size-error") == ("Labelled examples: '1,2x': a comma only separates thousands "
                                                 "(250,000); write a decimal point as a point (2.5)")
        assert panel.shown is None
        await type_into(pilot, "#rec-size", "12x")
        assert _text(app, "#rec-size-error") == "Labelled examples: '12x' is not a number" and panel.shown is None
        await type_into(pilot, "#rec-size", "0")  # the message names the field as its label does
        assert _text(app, "#rec-size-label") == "Labelled examples:"
        assert _text(app, "#rec-size-error") == "Labelled examples: 0 must be at least 1"
        await type_into(pilot, "#rec-size", "20,000")
        spec = app.main.plan.spec
        expected = capacity_prior(DataSize(task="sequence-classification", examples=20_000, num_labels=2),
                                  adapter_size(spec, app.main.plan.setup.targets))
        assert panel.shown.rank == expected.rank and panel.shown.learning_rate == pytest.approx(1e-3)
        assert "20,000 labelled examples" in _text(app, "#rec-evidence")
        assert _text(app, "#rec-size-error") == ""


async def test_a_classifiers_head_is_the_one_its_labels_need_in_the_prior_and_the_export(make_app, isolated_home,
                                                                                          monkeypatch):
    """Labels 0 and 5 are class ids: lorplan train builds a 6-output head. The Recommend tab's prior counts 6
    labels and prices that head, and the exported plan writes num_labels 6 with the estimate of that head, as
    `lorplan plan --write --data` and `lorplan recommend --data` do (MiniLM's config has 2)."""
    from lorplan.core.memory import estimate
    from lorplan.core.model.head import with_labels

    monkeypatch.chdir(isolated_home)
    data = isolated_home / "labels.jsonl"
    data.write_text("".join(json.dumps({"text": f"review {i}", "label": (0, 5)[i % 2]}) + "\n" for i in range(200)))
    app = make_app(model=MINILM)
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        await _profile(pilot, data)
        panel = await _open_recommend(pilot)
        await wait_until(pilot, lambda: panel.shown is not None)
        plan = app.main.plan
        assert recommend_bridge.data_size(plan, app.main.data).num_labels == 6
        six = with_labels(load_spec(MINILM), 6)
        setup = recommend_bridge._one_rank(plan.setup)
        rec = panel.shown
        assert rec.fits.total_bytes == estimate(six, setup, rec.rank).total
        assert rec.fits.total_bytes > estimate(load_spec(MINILM), setup, rec.rank).total  # the 2-output head's
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        exported = dialog.plan
        assert exported.model.num_labels == 6
        assert exported.estimate.trainable_params == trainable_params(six, plan.setup.targets, plan.rank)
        assert exported.estimate.total_bytes == estimate(six, plan.setup, plan.rank).total
        await pilot.click("#export-write")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExportDialog))
    written = read_plan(isolated_home / default_folder(exported) / "plan.toml")
    assert written.model.num_labels == 6 and written.estimate == exported.estimate


async def test_ladder_rows_appear_as_the_run_rewrites_its_recommendation(make_app, isolated_home):
    first = [_row(4, 2.0), _row(8, 1.62), _row(16, None, "running"), _row(32, None, "queued")]
    run = _ladder_run(isolated_home, "20261128-100000-aaaa")
    other = _ladder_run(isolated_home, "20261128-110000-bbbb")  # newer, but for another model: not shown
    _write(other / "recommendation.json", _recommendation(MINILM, [_row(4, 0.5), _row(8, 0.4)], base_loss=0.7))
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        panel = await _open_recommend(pilot)
        table = app.screen.query_one("#rec-ladder", DataTable)
        await wait_until(pilot, lambda: panel.ladder is not None)  # the first poll runs in a thread worker
        assert table.row_count == 0 and panel.ladder.run_id is None
        _write(run / "recommendation.json", _recommendation(LLAMA, first, base_loss=2.4))
        await wait_until(pilot, lambda: table.row_count == 4)
        assert [str(c) for c in table.get_row_at(1)][:6] == ["r8", "0.001", "0", "finished", "1.6200", "-"]
        assert [str(c) for c in table.get_row_at(2)][3] == "running"
        head = _text(app, "#rec-head")
        # knee: base 2.4, best 1.62 (rank 8); rank 4 reaches (2.4-2.0)/(2.4-1.62) = 51% < 95%
        assert head.startswith("rank 8 ")
        assert ("from probe ladder run 20261128-100000-aaaa (running: provisional until it is done): 2 of 4 probes "
                "ended, 1m00s of training") in head
        plot = recommend_bridge.ladder_plot(panel.shown, panel.ladder.base_loss)
        assert (plot.knee, plot.ranks, plot.threshold) == (8, (4, 8), pytest.approx(2.4 - 0.95 * (2.4 - 1.62)))
        note = _text(app, "#rec-plot-note")
        assert "green: the knee, rank 8" in note and "red: eval loss 1.659, 95% of the best rank's gain" in note
        drawn = re.sub(r"\x1b\[[0-9;]*m", "", app.screen.query_one("#rec-plot").plt.build())
        assert "eval loss by rank" in drawn
        ticks = drawn.rstrip().splitlines()[-2].split()
        assert ticks == ["4", "8", "16", "32"]  # a log2 axis: the pending probes' ranks are on it too

        # the other probes finish: the driver rewrites the file, the rows and the knee follow
        done = [_row(4, 2.0), _row(8, 1.62), _row(16, 1.45), _row(32, 1.44, stopped_early=True)]
        _write(run / "recommendation.json", _recommendation(LLAMA, done, base_loss=2.4, state="done"))
        await wait_until(pilot, lambda: str(table.get_row_at(2)[3]) == "finished")
        assert str(table.get_row_at(3)[10]) == "yes"
        assert _text(app, "#rec-head").startswith("rank 16 ")  # 16 reaches 97% of the gain; 8 only 82%
        assert "(done): 4 of 4 probes ended" in _text(app, "#rec-head")

        # a damaged file is one notification, and the last good reading stays on screen
        (run / "recommendation.json").write_text("{not json")
        await wait_until(pilot, lambda: panel.ladder.problem is not None)
        assert "cannot read the recommendation" in panel.ladder.problem
        await pilot.pause(1.5)  # another read or two of the same damaged file
        assert sum("cannot read the recommendation" in n.message for n in app._notifications) == 1
        assert table.row_count == 4 and _text(app, "#rec-head").startswith("rank 16 ")


async def test_apply_keys_set_rank_alpha_lr_and_the_pattern_of_the_exported_plan(make_app, isolated_home, monkeypatch):
    monkeypatch.chdir(isolated_home)
    rows = [_row(6, 2.0), _row(12, 1.61), _row(24, 1.59)]
    rows = [LadderRow(**{**r.__dict__, "learning_rate": 5e-4}) for r in rows]
    pattern = RankPattern({"q_proj": 24}, "pattern", "q_proj's signal rank is twice the others'")
    run = _ladder_run(isolated_home, "20261128-120000-cccc")
    _write(run / "recommendation.json", _recommendation(LLAMA, rows, 2.4, pattern, lr=(3e-4, "the default"),
                                                        state="done"))
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        before = app.main.plan
        assert before.rank == 16 and before.tuning is None
        panel = await _open_recommend(pilot)
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None)
        rec = panel.shown
        assert (rec.rank, rec.learning_rate, dict(rec.rank_pattern)) == (12, 5e-4, {"q_proj": 24})
        assert app.focused is panel  # f8 focuses the panel, so its key works at once
        assert not rec.pattern_checked  # offered unchecked: a leaves it out
        assert "rank_pattern: q_proj 24 (unchecked: p applies it)" in _text(app, "#rec-head")
        await pilot.press("a")  # rank, alpha, learning rate: one rank for every module
        await pilot.pause()
        plan = app.main.plan
        assert plan.rank == 12 and plan.tuning.alpha == 32 and plan.tuning.learning_rate == 5e-4
        assert not plan.setup.targets.rank_pattern and not plan.tuning.rank_pattern
        await pilot.press("p")  # the same with the measured pattern
        await pilot.pause()
        plan = app.main.plan
        assert plan.rank == 12 and plan.tuning.alpha == 32 and plan.tuning.learning_rate == 5e-4
        assert dict(plan.setup.targets.rank_pattern) == {"q_proj": 24}
        assert any("rank_pattern q_proj 24 (from the" in n.message for n in app._notifications)
        assert "alpha 32, lr 0.0005, rank_pattern q_proj 24 from the" in _text(app, "#plan-summary")
        assert app.screen.query_one("#f-custom_rank", Input).value == "12"  # 12 is not one of the table's ranks
        assert app.screen.query_one(RankTable).selected_rank == 12
        await pilot.press("u")  # one rank everywhere
        await pilot.pause()
        assert not app.main.plan.setup.targets.rank_pattern and app.main.plan.rank == 12
        await pilot.press("a")  # still unchecked: a keeps one rank
        await pilot.pause()
        assert not app.main.plan.setup.targets.rank_pattern
        # the ladder's check keeps the pattern: a applies it, u still leaves it out
        checked = {**_recommendation(LLAMA, rows, 2.4, pattern, lr=(3e-4, "the default"), state="done"),
                   "pattern_checked": True}
        _write(run / "recommendation.json", checked)
        await wait_until(pilot, lambda: panel.shown is not None and panel.shown.pattern_checked)
        await wait_until(pilot, lambda: "q_proj 24 (checked on your data: a applies it)" in _text(app, "#rec-head"))
        await pilot.press("u")
        await pilot.pause()
        assert not app.main.plan.setup.targets.rank_pattern
        await pilot.press("a")
        await pilot.pause()
        plan = app.main.plan
        assert plan.rank == 12 and dict(plan.setup.targets.rank_pattern) == {"q_proj": 24}
        await pilot.press("f5", "ctrl+e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        lora = dialog.plan.lora
        assert (lora.r, lora.alpha, dict(lora.rank_pattern), lora.use_rslora) == (12, 32, {"q_proj": 24}, False)
        assert dialog.plan.training.learning_rate == 5e-4
        # the table priced the pattern: q_proj at 24, every other module at 12
        spec = load_spec(LLAMA)
        assert dialog.plan.estimate.trainable_params == trainable_params(
            spec, LoraTargets(rank_pattern={"q_proj": 24}), 12)
        assert dialog.plan.estimate.trainable_params > trainable_params(spec, LoraTargets(), 12)
        await pilot.click("#export-write")
        await pilot.pause()
        written = read_plan(isolated_home / default_folder(dialog.plan) / "plan.toml")
        assert written.lora == lora and written.training.learning_rate == 5e-4
        assert type(written.lora.alpha) is int  # peft and the exporters type lora_alpha as int
        # another model: the tuning was for this one and is dropped
        app.screen.query_one(PlanView).choose_model(MINILM)
        await wait_until(pilot, lambda: app.main.plan.spec.id == MINILM)
        assert app.main.plan.tuning is None and not app.main.plan.setup.targets.rank_pattern


async def test_a_reopened_tab_finds_the_ladder_of_the_profiled_data_and_applies_it_once_done(make_app,
                                                                                             isolated_home):
    """Ladders outlive the planner: a new session (or one started from the command line) is found again, as the
    newest ladder for the plan's model, and only one that measured the Data tab's file (the newest ladder for
    the model on other data is not this data's recommendation). While it runs its rank is provisional: a
    refuses, as `lorplan recommend --run RUN --write` does without --wait; once it is done a applies it."""
    files = {}
    for name, topic in (("topics.jsonl", "sport"), ("moods.jsonl", "mood"), ("fresh.jsonl", "new")):
        files[name] = isolated_home / name
        files[name].write_text("".join(json.dumps({"text": f"{topic} sentence {i}", "label": f"{topic}{i % 3}"})
                                       + "\n" for i in range(120)))
    root = _runs_root(isolated_home)
    topics = create_run(runner.make_plan((4, 16), steps=12, device="cpu", run="20261204-100000-aaaa",
                                         data=str(files["topics.jsonl"])), root).path
    moods = create_run(runner.make_plan((4, 16), steps=12, device="cpu", run="20261204-110000-bbbb",
                                        data=str(files["moods.jsonl"])), root).path  # newer, other data
    rows = [_row(4, 0.9), _row(16, None, "running")]
    _write(topics / "recommendation.json", _recommendation(MINILM, rows, base_loss=1.4))
    _write(moods / "recommendation.json", _recommendation(MINILM, [_row(4, 0.5), _row(16, 0.49)], base_loss=1.1,
                                                          state="done"))
    app = make_app(model=MINILM)
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        await _profile(pilot, files["topics.jsonl"])
        panel = await _open_recommend(pilot)
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None)
        assert panel.ladder.run_id == "20261204-100000-aaaa"
        head = _text(app, "#rec-head")
        assert "from probe ladder run 20261204-100000-aaaa on topics.jsonl (running: provisional until it is done)" \
            in head
        before = app.main.plan
        await pilot.press("a")
        await pilot.pause()
        assert app.main.plan is before
        assert any("is still running (1 of 2 probes ended)" in n.message for n in app._notifications)
        done = [_row(4, 0.9), _row(16, 0.3)]
        _write(topics / "recommendation.json", _recommendation(MINILM, done, base_loss=1.4, state="done"))
        await wait_until(pilot, lambda: panel.ladder.state == "done")
        await pilot.press("a")
        await pilot.pause()
        assert app.main.plan.rank == 16 and "20261204-100000-aaaa" in app.main.plan.tuning.source
        # the other file's ladder is followed once that file is profiled; a file no ladder measured has the prior
        await _profile(pilot, files["moods.jsonl"])
        await pilot.press("f8")
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.run_id == "20261204-110000-bbbb")
        assert "on moods.jsonl (done)" in _text(app, "#rec-head")
        await _profile(pilot, files["fresh.jsonl"])
        await pilot.press("f8")
        await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.data == str(files["fresh.jsonl"]))
        await pilot.pause(0.5)
        assert panel.ladder.run_id is None and "from the capacity prior" in _text(app, "#rec-head")


async def test_apply_without_a_recommendation_changes_nothing(make_app):
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        before = app.main.plan
        await _open_recommend(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert app.main.plan is before
        assert any("Nothing to apply yet" in n.message for n in app._notifications)


@pytest.fixture
def tiny_llama(tmp_path) -> Path:
    """A 2-layer Llama (hidden 32) from a config with random weights, and the shipped MiniLM tokenizer."""
    return tiny_llama_folder(tmp_path / "tiny-llama")


async def test_ladder_key_refuses_with_the_reason(make_app, isolated_home):
    app = make_app()  # Llama-3.1-8B: a catalog entry, its weights are not on this machine
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        await _open_recommend(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: any("profile a dataset in the Data tab first" in n.message
                                            for n in app._notifications))
        data = isolated_home / "chat.jsonl"
        data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n" for i in range(80)))
        await _profile(pilot, data)
        await pilot.press("f8", "l")
        await wait_until(pilot, lambda: any("cannot run here" in n.message for n in app._notifications))
        assert not _runs_root(isolated_home).exists()  # nothing was started
        # a ladder setting that is not a number in range is named, and nothing starts
        panel = app.screen.query_one(RecommendPanel)
        for selector, typed, said in (("#rec-seeds", "x", "Seeds per probe: 'x' is not a number"),
                                      ("#rec-seeds", "2.5", "Seeds per probe: '2.5' must be a whole number"),
                                      ("#rec-seeds", "9", "Seeds per probe: 9 must be at most 5"),
                                      ("#rec-steps", "0", "Steps per probe: 0 must be at least 1"),
                                      ("#rec-budget", "soon", "Ladder budget: 'soon' is not a number")):
            for field in ("#rec-seeds", "#rec-steps"):
                await type_into(pilot, field, "")
            await type_into(pilot, selector, typed)
            panel.focus()
            await pilot.press("l")
            await wait_until(pilot, lambda said=said: any(said in n.message for n in app._notifications))
        assert app.screen.query_one("#rec-budget", Input).value == "soon"  # what was typed stays
        assert not _runs_root(isolated_home).exists()


async def test_ladder_key_starts_a_ladder_the_panel_follows(make_app, isolated_home, tiny_llama, monkeypatch):
    monkeypatch.setenv("LORPLAN_PROBE_THREADS", "1")
    data = isolated_home / "sums.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Question {i}: what is {i} plus {i}?",
                                        "completion": f" It is {2 * i}."}) + "\n" for i in range(150)))
    runs = _runs_root(isolated_home)
    app = make_app(model=str(tiny_llama))
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            await _plan_ready(pilot)
            await _profile(pilot, data)
            panel = await _open_recommend(pilot)
            prior = panel.shown
            await type_into(pilot, "#rec-seeds", "2")  # every probe with two seeds, as lorplan recommend --seeds 2
            await type_into(pilot, "#rec-steps", "30")  # and 30 steps each, as --probe-steps 30
            panel.focus()
            await pilot.press("l")
            await wait_until(pilot, lambda: panel.follow is not None, timeout=60)
            run = runs / panel.follow
            spec = json.loads((run / "ladder.json").read_text())
            assert spec["model"] == app.main.plan.spec.id and spec["kind"] == "data"
            assert len(spec["seeds"]) == 2 and spec["pattern_seed"] is None and spec["probe_steps"] == 30
            assert spec["second_seed"] is None
            # the driver writes recommendation.json at once; the panel shows its rows (the first pass, queued)
            table = app.screen.query_one("#rec-ladder", DataTable)
            await wait_until(pilot, lambda: table.row_count > 0, timeout=60)
            written = json.loads((run / "recommendation.json").read_text())
            assert table.row_count == len(written["ladder"])
            assert {f"r{row['rank']}" for row in written["ladder"]} == {str(table.get_row_at(i)[0])
                                                                        for i in range(table.row_count)}
            assert f"from probe ladder run {run.name}" in _text(app, "#rec-head")
            assert written["capacity"]["rank"] == prior.rank  # the ladder starts from the prior shown
    finally:
        reap_runs(runs)


def test_a_recommendation_json_reads_back_as_the_recommendation(tmp_path):
    spec = load_spec(MINILM)
    prior = capacity_prior(DataSize(task="sequence-classification", examples=5000, num_labels=3),
                           adapter_size(spec, LoraTargets()))
    rows = [LadderRow(rank=r, learning_rate=lr, eval_loss=loss, eval_accuracy=acc, seed=seed, train_seconds=5.0)
            for r, lr, loss, acc, seed in ((4, 1e-3, 0.9, 0.60, 0), (4, 1e-3, 0.8, 0.70, 1), (4, 3e-4, 0.7, 0.75, 0),
                                           (16, 1e-3, 0.5, 0.90, 0), (16, 1e-3, 0.45, 0.92, 1))]
    fit = Fit(16, 3 * 2**30, 2**30, "T4", False, 4, (Remedy("--grad-checkpointing", 2**29, True),), "it does not fit")
    rec = combine(prior, default_lr=(1e-3, "default"), ladder=rows, base_loss=1.1,
                  pattern=RankPattern({"query": 32}, "pattern", "query wants more"), price=lambda rank: fit)
    path = tmp_path / "recommendation.json"
    path.write_text(json.dumps({**rec.to_json(), "base_loss": 1.1, "state": "done"}))
    read = recommend_bridge.read_recommendation(path)
    assert read.recommendation == rec and (read.base_loss, read.state) == (1.1, "done")
    # a run the user cancelled reads as cancelled, not done (the panel's head said "done")
    path.write_text(json.dumps({**rec.to_json(), "base_loss": 1.1, "state": "done", "cancelled_after": 7.0}))
    assert recommend_bridge.read_recommendation(path).state == "cancelled"
    path.write_text(json.dumps({**rec.to_json(), "base_loss": 1.1, "state": "done", "cancelled_after": None}))
    read = recommend_bridge.read_recommendation(path)
    # classification: the plot shows accuracy, each rank at the learning rate the knee compares (mean of seeds)
    plot = recommend_bridge.ladder_plot(read.recommendation, read.base_loss)
    assert plot.metric == "eval accuracy" and plot.ranks == (4, 16)
    assert plot.values == pytest.approx((0.75, 0.91)) and plot.threshold is None
    assert sorted(plot.points) == sorted((r.rank, r.eval_accuracy) for r in rows)
    path.write_text(json.dumps({**rec.to_json(), "rank": "many"}))
    with pytest.raises(BadInput, match="recommendation.json: not a recommendation"):
        recommend_bridge.read_recommendation(path)


def test_the_headline_says_when_one_seed_per_rank_measured_no_seed_noise():
    from lorplan.tui.panels.recommend_panel import headline

    spec = load_spec(MINILM)
    prior = capacity_prior(DataSize(task="sequence-classification", examples=5000, num_labels=3),
                           adapter_size(spec, LoraTargets()))

    def rec(seeds):
        rows = [LadderRow(rank=r, learning_rate=1e-3, eval_loss=loss + 0.01 * s, seed=s, train_seconds=5.0)
                for r, loss in ((4, 0.9), (16, 0.5), (64, 0.49)) for s in seeds]
        return combine(prior, default_lr=(1e-3, "default"), ladder=rows, base_loss=1.1)

    one = headline(rec((0,)), "from the ladder")
    assert "one seed per rank: seed noise estimated, not measured" in one.splitlines()[0]
    assert "seed noise estimated" not in headline(rec((0, 1)), "from the ladder")


def test_the_headline_says_when_the_knees_noise_moved_the_rank():
    from lorplan.tui.panels.recommend_panel import decided_by

    spec = load_spec(LLAMA)
    prior = capacity_prior(DataSize(task="causal-lm", trained_tokens=5_000_000), adapter_size(spec, LoraTargets()))

    def rec(spread):  # three seeds per rank; rank 4 just meets the threshold (2.05 for base 3.0, best 2.0)
        rows = [LadderRow(rank=r, learning_rate=1e-3, eval_loss=m + d, seed=s)
                for r, m in ((4, 2.045), (8, 2.02), (16, 2.0)) for s, d in enumerate((-spread, 0.0, spread))]
        return combine(prior, default_lr=(1e-3, "default"), ladder=rows, base_loss=3.0)

    assert decided_by(rec(0.001)) == "its knee decides the rank"
    noisy = rec(0.05)
    assert noisy.rank == 8 and decided_by(noisy).startswith("its knee is rank 4; with the noise around it, rank 8")
    assert decided_by(prior_only := combine(prior, default_lr=(1e-3, "default"))) == (
        "the capacity prior still decides the rank") and prior_only.ladder == ()


LADDER_GARBAGE = (
    ("#rec-budget", "abc", "Ladder budget: 'abc' is not a number of minutes"),
    ("#rec-budget", "-1", "Ladder budget: '-1' must be a positive number of minutes"),
    ("#rec-budget", "nan", "Ladder budget: 'nan' is not a finite number of minutes"),
    ("#rec-budget", "inf", "Ladder budget: 'inf' is not a finite number of minutes"),
    ("#rec-seeds", "0", "Seeds per probe: 0 must be at least 1"),
    ("#rec-seeds", "9", f"Seeds per probe: 9 must be at most {recommend_bridge.MAX_SEEDS}"),
    ("#rec-seeds", "x", "Seeds per probe: 'x' is not a number"),
    ("#rec-steps", "-3", "Steps per probe: -3 must be at least 1"),
    ("#rec-steps", "1.5", "Steps per probe: '1.5' must be a whole number"),
)


async def test_ladder_fields_are_checked_as_typed(make_app):
    """Each ladder field is marked and its one line shown as it is typed (no profile, no `l` needed), with the
    parser `l` uses, so the two never disagree; what was typed stays and a fix clears it."""
    app = make_app()
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        panel = await _open_recommend(pilot)
        for selector, typed, said in LADDER_GARBAGE:
            await type_into(pilot, selector, typed)
            field = app.screen.query_one(selector, Input)
            assert field.has_class("-invalid") and field.value == typed, (selector, typed)
            assert _text(app, "#rec-ladder-error") == said, (selector, typed)
            with pytest.raises(BadInput, match=re.escape(said)):
                panel.ladder_settings()
            await type_into(pilot, selector, "")  # empty: the default
            assert not field.has_class("-invalid") and _text(app, "#rec-ladder-error") == ""
        # two bad fields: each marked, one line each; fixing one leaves the other
        await type_into(pilot, "#rec-budget", "soon")
        await type_into(pilot, "#rec-seeds", "x")
        assert _text(app, "#rec-ladder-error").splitlines() == [
            "Ladder budget: 'soon' is not a number of minutes", "Seeds per probe: 'x' is not a number"]
        await type_into(pilot, "#rec-budget", "2.5")
        assert not app.screen.query_one("#rec-budget", Input).has_class("-invalid")
        assert app.screen.query_one("#rec-seeds", Input).has_class("-invalid")
        await type_into(pilot, "#rec-seeds", "2")
        await type_into(pilot, "#rec-steps", "30")
        assert _text(app, "#rec-ladder-error") == ""
        assert panel.ladder_settings() == (2.5, 2, 30)


async def test_a_ladder_started_here_names_the_model_by_its_resolved_id_as_lorplan_recommend_does(
        make_app, isolated_home, monkeypatch, capsys):
    """The planner opened on `all-MiniLM-L6-v2` recorded the ladder's model as typed, while `lorplan recommend
    --model all-MiniLM-L6-v2` records `sentence-transformers/all-MiniLM-L6-v2`, so `lorplan probe list` named one
    model two ways. The TUI's run now names the resolved id too, and the tab still follows its ladder."""
    from lorplan.cli import main
    from lorplan.core.model import resolve_model

    monkeypatch.setenv("LORPLAN_PROBE_THREADS", "1")
    data = isolated_home / "labels.jsonl"
    data.write_text("".join(json.dumps({"text": f"review number {i} says {('bad', 'good')[i % 2]}",
                                        "label": i % 2}) + "\n" for i in range(150)))
    runs = _runs_root(isolated_home)
    app = make_app(model="all-MiniLM-L6-v2")
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            await _plan_ready(pilot)
            assert app.main.plan.source == "all-MiniLM-L6-v2"  # as typed: the planner keeps it
            await _profile(pilot, data)
            panel = await _open_recommend(pilot)
            await type_into(pilot, "#rec-steps", "2")
            panel.focus()
            await pilot.press("l")
            await wait_until(pilot, lambda: panel.follow is not None, timeout=60)
            run = runs / panel.follow
            resolved = resolve_model("all-MiniLM-L6-v2").id
            assert resolved == MINILM
            plan = json.loads((run / "plan.json").read_text())
            assert plan["model"] == MINILM and plan["base"]["model"]["id"] == MINILM
            assert json.loads((run / "ladder.json").read_text())["model"] == MINILM == app.main.plan.spec.id
            # the tab matches ladders to the plan on screen by its spec id: it still follows this one
            await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None,
                             timeout=60)
            assert panel.ladder.run_id == run.name and panel.ladder.recommendation.model == MINILM
            assert f"from probe ladder run {run.name}" in _text(app, "#rec-head")
    finally:
        reap_runs(runs)
    capsys.readouterr()
    assert main(["probe", "list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(run.name))
    assert line.endswith(f"  {MINILM}"), line


async def test_the_exported_plan_names_the_model_by_its_published_id(make_app):
    """The export dialog (ctrl+e) of a planner opened on `all-MiniLM-L6-v2` wrote model.id as typed, while `lorplan
    plan --write` writes the published id: the plan it writes now names `sentence-transformers/all-MiniLM-L6-v2`."""
    from lorplan.tui import bridge

    app = make_app(model="all-MiniLM-L6-v2")
    async with app.run_test(size=(150, 45)) as pilot:
        await _plan_ready(pilot)
        assert app.main.plan.source == "all-MiniLM-L6-v2"
        assert bridge.plan_from_setup(app.main.plan, None).model.id == MINILM
    assert bridge.published_source("no-such-model-anywhere") == "no-such-model-anywhere"


async def test_steps_per_probe_capped_at_the_planned_training_say_so(make_app, isolated_home):
    """A ladder's probes never train longer than the planned run (recommend.launch.probe_length): with 12 planned
    steps, 20 typed in steps/probe (or the default, 100) became 12 with no word on screen. The line under the
    fields says so as it is typed; a length within the planned run says nothing."""
    from lorplan.recommend.launch import PROBE_STEPS

    data = isolated_home / "few.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f" a{i}"}) + "\n" for i in range(12)))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _plan_ready(pilot)
        await _profile(pilot, data)
        panel = await _open_recommend(pilot)
        profile = app.main.data.profile
        planned = profile.split.train or profile.examples  # micro-batch 1, one GPU, one epoch
        assert 1 < planned < 20
        note = app.screen.query_one("#rec-ladder-note", Static)
        said = f"the planned training has {planned} steps"
        assert f"Steps per probe: {planned}, not the default {PROBE_STEPS}: {said}" in _text(app, "#rec-ladder-note")
        await type_into(pilot, "#rec-steps", "20")
        assert f"Steps per probe: {planned}, not the 20 typed: {said}" in _text(app, "#rec-ladder-note")
        assert note.display and note.region.height >= 1 and panel.region.contains_region(note.region)
        await type_into(pilot, "#rec-steps", str(planned - 1))
        assert _text(app, "#rec-ladder-note") == "" and not note.display


def test_the_headline_of_a_one_rank_ladder_says_its_noise_is_not_known():
    from lorplan.tui.panels.recommend_panel import headline

    spec = load_spec(MINILM)
    prior = capacity_prior(DataSize(task="sequence-classification", examples=5000, num_labels=3),
                           adapter_size(spec, LoraTargets()))
    rows = [LadderRow(rank=16, learning_rate=lr, eval_loss=loss, seed=0, train_seconds=5.0)
            for lr, loss in ((3.3e-4, 0.63), (1e-3, 0.01), (3e-3, 0.75))]
    rec = combine(prior, default_lr=(1e-3, "default"), ladder=rows, base_loss=0.69)
    first = headline(rec, "from the ladder").splitlines()[0]
    assert "seed noise estimated" not in first and "only rank 16 measured, with one seed: its noise is not known" in first
