"""The main screen: tabs Plan | Data | Probes. Data and Probes panels are imported when first shown.

The Data panel (`lorplan.tui.panels.data_panel.DataPanel`) and the Probes panel (`lorplan.tui.panels.probes_panel.ProbesPanel`)
come from their own modules; until those exist the tab says so instead of failing.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from lorplan.tui import bridge
from lorplan.tui.panels.plan_view import PlanChanged, PlanView
from lorplan.tui.tcss import css_paths

HERE = Path(__file__).resolve().parent

LAZY_PANELS = {
    "data": ("lorplan.tui.panels.data_panel", "DataPanel", "Dataset profiles"),
    "probes": ("lorplan.tui.panels.probes_panel", "ProbesPanel", "Probe trainings"),
}


def _import_panel(module_name: str, class_name: str):
    """The panel class, or None when that part of lorplan is not installed/built yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, class_name, None)


class MainScreen(Screen):
    """Header, the three tabs, footer. Holds the latest valid plan for export and the data panel."""

    # Its stylesheets (main_screen.tcss and the widgets') are the app's CSS_PATH: read once at start-up, instead
    # of parsing every stylesheet a second time when this screen is pushed.
    CSS_FILES = [HERE / "main_screen.tcss", *css_paths("panels/gpu_panel", "widgets/model_picker",
                                                       "panels/setup_panel", "widgets/rank_table",
                                                       "panels/plan_view")]

    def __init__(self, gpu_source: bridge.GpuSource, initial_model: str | None) -> None:
        super().__init__()
        self._gpu_source = gpu_source
        self._initial_model = initial_model
        self.plan: PlanChanged | None = None
        self._panels: dict[str, object] = {}
        self._data_context: tuple[str, int] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with TabbedContent(id="tabs", initial="plan"):
            with TabPane("Plan", id="plan"):
                yield PlanView(self._gpu_source, self._initial_model, id="plan-view")
            for tab_id, (_module, _cls, title) in LAZY_PANELS.items():
                with TabPane(tab_id.capitalize(), id=tab_id):
                    yield Static(f"{title} open here.", classes="tab-placeholder")
        yield Footer()

    @property
    def plan_view(self) -> PlanView:
        return self.query_one(PlanView)

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab_id = event.pane.id or ""
        if tab_id in LAZY_PANELS and tab_id not in self._panels:
            await self._mount_panel(tab_id)

    async def _mount_panel(self, tab_id: str) -> None:
        module_name, class_name, title = LAZY_PANELS[tab_id]
        pane = self.query_one(f"#{tab_id}", TabPane)
        panel_cls = _import_panel(module_name, class_name)
        placeholder = pane.query_one(".tab-placeholder", Static)
        if panel_cls is None:
            placeholder.update(f"{title} are not part of this build yet.")
            self._panels[tab_id] = None
            return
        if tab_id == "probes":
            panel = panel_cls(runs_dir=None)
        else:  # the Data tab starts with the last session's dataset
            last = getattr(getattr(self.app, "user_config", None), "last_data", None)
            panel = panel_cls(initial_path=last) if last else panel_cls()
        self._panels[tab_id] = panel
        await placeholder.remove()
        await pane.mount(panel)
        self._send_context()

    def on_plan_changed(self, message: PlanChanged) -> None:
        self.plan = message
        self._send_context()

    def _send_context(self) -> None:
        """Tell the data panel the model and sequence length, only when they changed."""
        panel = self._panels.get("data")
        if panel is None or self.plan is None or not hasattr(panel, "set_context"):
            return
        context = (self.plan.source, self.plan.setup.seq_len)
        if context != self._data_context:
            self._data_context = context
            panel.set_context(*context)

    def plan_data(self):
        """The Data tab's last profile as a plan's [data] table (data_panel.PlanData), or None."""
        panel = self._panels.get("data")
        return panel.plan_data() if panel is not None and hasattr(panel, "plan_data") else None

    def show_tab(self, tab_id: str) -> None:
        self.query_one(TabbedContent).active = tab_id
