"""Pilot helpers: type like a user, click a Button so that it is pressed, pick from a Select with the keyboard, read
the rank table, and the Probes tab alone in an app (PanelApp) whose backend starts no scheduler process (NoSpawnBackend)."""

from __future__ import annotations

import threading

from textual.app import App, ComposeResult
from textual.widgets import Button, Input, Select

from lorplan.core.vocab import Task
from lorplan.probe.backend import LocalProcessBackend
from lorplan.tui.panels.probes_panel import ProbesPanel
from lorplan.tui.widgets.rank_table import COLUMNS, RankTable


class NoSpawnBackend(LocalProcessBackend):
    """The local backend without launching a scheduler process (the one boundary faked here): the ids of the
    runs it was given are in `submitted`."""

    def __init__(self):
        self.submitted = []

    def submit(self, run):
        self.submitted.append(run.id)


class PanelApp(App):
    """The Probes tab alone, reading `runs_dir` every 0.2 s, its runs given to `backend` (None: a NoSpawnBackend)."""

    def __init__(self, runs_dir, backend=None):
        super().__init__()
        self.runs_dir, self.backend = runs_dir, backend if backend is not None else NoSpawnBackend()

    def compose(self) -> ComposeResult:
        yield ProbesPanel(self.runs_dir, backend=self.backend, poll_seconds=0.2, id="probes")


async def type_into(pilot, selector: str, text: str, *, clear: bool = True, submit: bool = False) -> None:
    """Click the input, clear it (ctrl+a, delete… as a user would), type `text` key by key."""
    app = pilot.app
    widget = app.screen.query_one(selector, Input)
    widget.focus()
    await pilot.pause()
    if clear and widget.value:
        widget.value = ""  # as select-all + delete would; keeps the tests fast
        await pilot.pause()
    keys = ["space" if ch == " " else ch for ch in text]
    if keys:
        await pilot.press(*keys)
    if submit:
        await pilot.press("enter")
    await pilot.pause()


async def paste_into(pilot, selector: str, text: str, *, submit: bool = False) -> None:
    """Focus the input, empty it and paste `text` in one go (an events.Paste through Input's own handler), then
    Enter when `submit`. For a long value that is not what the test is about: type_into costs ~80 ms a key under
    Pilot on a large screen, ~6 s for a tmp path."""
    from textual import events

    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = ""
    await pilot.pause()
    widget.post_message(events.Paste(text))
    await pilot.pause()
    assert widget.value == text, (selector, widget.value)
    if submit:
        await pilot.press("enter")
    await pilot.pause()


async def choose(pilot, selector: str, value: str) -> None:
    """Open a Select with Enter, move to the option whose value is `value`, confirm with Enter."""
    select = pilot.app.screen.query_one(selector, Select)
    values = [v for _label, v in select._options if v is not Select.NULL]
    select.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    current = values.index(select.value) if select.value in values else 0
    target = values.index(value)
    step = "down" if target >= current else "up"
    await pilot.press(*[step] * abs(target - current))
    await pilot.press("enter")
    await pilot.pause()
    assert select.value == value, f"{selector}: {select.value!r} != {value!r}"


def table_rows(app) -> dict[int, dict[str, str]]:
    """{rank: {column key: shown text}} for every row of the on-screen rank table."""
    table = app.screen.query_one(RankTable)
    return {rank: {key: table.cell_text(rank, key) for key, _label in COLUMNS} for rank in table.ranks}


async def wait_until(pilot, predicate, timeout: float = 20.0) -> None:
    """Pause until predicate() is true (thread workers finish on their own time; a loaded CI machine is slow)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


async def click_button(pilot, selector: str, timeout: float = 20.0) -> None:
    """Click the Button `selector` with the mouse and fail unless that click pressed it.

    Textual's Button takes no click while the pressed look of its last press lasts (0.2 s, its "-active" class):
    a second click sooner is dropped without a word, and one on a button not laid out yet lands elsewhere. So
    this waits for the button to be laid out and pressable, and counts the presses the click makes."""
    button = pilot.app.screen.query_one(selector, Button)
    await wait_until(pilot, lambda: button.region.area > 0 and not button.has_class("-active"), timeout)
    pressed: list[bool] = []
    real = button.press

    def press():
        pressed.append(not button.disabled and button.display)  # press() posts Button.Pressed only then
        return real()

    button.press = press  # Button._on_click calls self.press()
    try:
        await pilot.click(selector)
    finally:
        del button.press
    assert pressed == [True], f"{selector}: the click pressed the button {pressed.count(True)} times, not once"
    await pilot.pause()


def model_settled(app) -> bool:
    """The model picker finished loading (a spec was shown or an error was)."""
    status = str(app.screen.query_one("#model-status").render())
    return not status.startswith("loading")


async def until_started(pilot, timeout: float = 20.0) -> None:
    """Wait for the first NVML answer (read in a thread worker) and the re-plan it causes."""
    import time

    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        panels = app.screen.query("#gpu-panel")
        if panels and panels.first().ready:
            break
        if time.monotonic() > deadline:
            raise AssertionError("the GPU panel never got an NVML answer")
        await pilot.pause(0.01)
    await pilot.pause()


class ProfileGate:
    """Holds each bridge.profile_dataset call of the Data tab until its path is let through, then runs the real
    one: "in flight" is a state of the test, not a matter of timing. `asked` records each call as (path, mask);
    `calls` as (path, schema, model, mask). Install with `ProfileGate(monkeypatch)`; `open_all()` at the end."""

    def __init__(self, monkeypatch):
        from lorplan.tui import bridge

        self.asked: list[tuple[str, bool]] = []
        self.calls: list[tuple[str, str | None, str | None, bool]] = []
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        real = bridge.profile_dataset

        def gated(path, **kwargs):
            self.asked.append((str(path), kwargs.get("mask")))
            self.calls.append((str(path), kwargs.get("schema"), kwargs.get("model"), kwargs.get("mask")))
            self._event(str(path)).wait(60)
            return real(path, **kwargs)

        monkeypatch.setattr(bridge, "profile_dataset", gated)

    def _event(self, path: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(path, threading.Event())

    def let_through(self, path) -> None:
        self._event(str(path)).set()

    def open_all(self) -> None:
        with self._lock:
            for event in self._events.values():
                event.set()


# A tiny Llama's config.json (no weights: the planner reads the config alone); `architectures` decides the task
# (tests of a model folder planned as its causal LM and then as its sequence classifier).
TINY_LLAMA = {"model_type": "llama", "vocab_size": 512, "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 256, "tie_word_embeddings": True, "pad_token_id": 0}
LLAMA_ARCHITECTURE = {Task.CAUSAL_LM.value: "LlamaForCausalLM",
                      Task.SEQUENCE_CLASSIFICATION.value: "LlamaForSequenceClassification"}


def save_tiny_llama(folder, task: str = Task.CAUSAL_LM.value, **sizes):
    """config.json of TINY_LLAMA as `task`, `sizes` over its own, in `folder` (made when missing; returned). When
    the file was there its mtime moves a second later, so the planner reads it again (its specs are cached per file
    size and mtime) even when the text is the same."""
    import json
    import os
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    config = folder / "config.json"
    before = config.stat().st_mtime_ns if config.exists() else None
    config.write_text(json.dumps({**TINY_LLAMA, **sizes, "architectures": [LLAMA_ARCHITECTURE[task]]}))
    if before is not None:
        os.utime(config, ns=(before + 10**9, before + 10**9))
    return folder


def write_ladder(root, run_id: str, spec, knee: int, *, lr: float = 1e-3, data=None, capacity: bool = True) -> None:
    """A done probe ladder of ranks 4, 8 and 16 for `spec` (a data size of its task) whose knee is `knee`, at
    learning rate `lr`, in run folder `run_id` under `root`, its probes on `data`; capacity False: its
    recommendation.json without the prior's arithmetic (an older lorplan's writer), so it records nothing of the
    model's shape."""
    from lorplan.core.lora import LoraTargets
    from lorplan.probe import runner
    from lorplan.probe.runs import atomic_write_json, create_run
    from lorplan.recommend import DataSize, LadderRow, adapter_size, capacity_prior, combine

    if spec.task == Task.SEQUENCE_CLASSIFICATION.value:
        size = DataSize(task=spec.task, examples=800, num_labels=2)
    else:
        size = DataSize(task=spec.task, trained_tokens=500_000)
    # base 2.4: the knee is the first rank at 1.0
    rows = [LadderRow(rank=r, learning_rate=lr, eval_loss=1.0 if r >= knee else 2.0, state="finished",
                      train_seconds=5.0, trainable_params=r * 100, steps=10) for r in (4, 8, 16)]
    rec = combine(capacity_prior(size, adapter_size(spec, LoraTargets())), default_lr=(lr, "the ladder's"),
                  ladder=rows, base_loss=2.4)
    assert (rec.model, rec.task, rec.rank) == (spec.id, spec.task, knee)
    obj = {**rec.to_json(), "base_loss": 2.4, "state": "done"}
    if not capacity:
        del obj["capacity"]
    run = create_run(runner.make_plan((4, 8, 16), steps=10, device="cpu", run=run_id,
                                      data=str(data) if data is not None else None), root)
    atomic_write_json(run.path / "recommendation.json", obj)


async def open_ladder(pilot):
    """Once the plan is on screen: the Recommend tab (F8) and its panel, when it shows a ladder's recommendation."""
    from lorplan.tui.panels.recommend_panel import RecommendPanel

    app = pilot.app
    await wait_until(pilot, lambda: app.main.plan is not None)
    await pilot.press("f8")
    panel = app.screen.query_one(RecommendPanel)
    await wait_until(pilot, lambda: panel.ladder is not None and panel.ladder.recommendation is not None)
    return panel
