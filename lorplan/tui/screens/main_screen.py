"""The main screen: tabs Plan | Data | Probes | Recommend. The last three panels are imported when first shown.

The screen owns the state the tabs share and hands it down: the latest valid plan (a frozen PlanSnapshot, from
the Plan tab's PlanChanged) and the Data tab's last profile (PlanData, from DatasetProfiled). Panels post
messages up and never read one another: a recommendation applied in the Recommend tab (RecommendationApplied)
goes to the Plan tab through the screen. The app talks to the screen through the methods at the end.
"""

from __future__ import annotations

from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Header,
    Input,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
)

from lorplan.core.vocab import Task
from lorplan.tui import bridge
from lorplan.tui.messages import DatasetProfiled, PlanChanged, RecommendationApplied, SeqLenChosen
from lorplan.tui.panels.gpu_panel import GpuPanel
from lorplan.tui.panels.plan_view import PlanView
from lorplan.tui.panels.setup_form import FormValues
from lorplan.tui.panels.setup_panel import SetupPanel
from lorplan.tui.state import PlanData, PlanSnapshot
from lorplan.tui.tcss import css_paths
from lorplan.tui.widgets.footer import FittingFooter
from lorplan.tui.widgets.model_picker import ModelPicker
from lorplan.tui.widgets.rank_table import RankTable

HERE = Path(__file__).resolve().parent

LAZY_TABS = {"data": "Dataset profiles", "probes": "Probe trainings", "recommend": "Rank recommendations"}
# The footer's entries hidden first when a tab's keys and the app's do not fit in one row (80 columns on the
# Probes and Recommend tabs): the jumps back into the Plan tab, export, the palette's hint, the tab keys (the tab
# bar is on screen), Quit. A tab's own keys and Help always stay; a hidden key still works.
FOOTER_DROP_ORDER = ("focus_table", "focus_model", "export", "command_palette", "Tabs", "quit")
# What Esc leaves (leave_field): text fields, drop-downs, check boxes, buttons and the model list; not a table or
# a panel, which are where the focus goes.
_FIELDS = (Input, Select, Checkbox, Button, OptionList)
_FOCUS_FIRST = {"plan": "#rank-table", "data": "#data-path", "probes": "#probes-table",
                "recommend": "RecommendPanel"}  # else a tab's first focusable widget


class _Tabs(TabbedContent):
    """TabbedContent that shows the tab of a focused widget only while that widget still has the focus. Textual
    tells it through messages (Focus, DescendantFocus, TabPane.Focused), so a focus set in one tab just before
    F5/F6/F7 switched to another arrived after the switch, under load, and pulled the tabs back to the first."""

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        # Textual calls each class's handler along the MRO (this one first), until one prevents the default
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors:  # the focus has moved on since: stale
            event.prevent_default()
            event.stop()


class MainScreen(Screen):
    """Header, the three tabs, footer. Owns the plan on screen (`plan`) and the profiled dataset (`data`)."""

    # Opened on the rank table, as F5 shows the Plan tab: Textual's default (the first focusable widget) is the
    # tab bar, where the first arrow a user presses does nothing or leaves the table for another tab.
    AUTO_FOCUS = "#rank-table"

    # Its stylesheets (main_screen.tcss and the widgets') are the app's CSS_PATH: read once at start-up, instead
    # of parsing every stylesheet a second time when this screen is pushed.
    CSS_FILES = [HERE / "main_screen.tcss", *css_paths("panels/gpu_panel", "widgets/model_picker",
                                                       "panels/setup_panel", "widgets/rank_table",
                                                       "panels/plan_view")]

    def __init__(self, gpu_source: bridge.GpuSource, initial_model: str | None,
                 last_data: str | None = None, last_setup: FormValues | None = None) -> None:
        """`last_data`: the dataset of the last session, offered (not profiled) in the Data tab; `last_setup`:
        its setup form, filled in again."""
        super().__init__()
        self._last_setup = last_setup
        self._gpu_source = gpu_source
        self._initial_model = initial_model
        self._last_data = last_data
        self.plan: PlanSnapshot | None = None
        self.data: PlanData | None = None
        self._panels: dict[str, object] = {}
        self._data_context: tuple[str, int, bool] | None = None
        self._focus_pending: str | None = None  # the tab show_tab will focus once it is shown (and mounted)
        self._resumed_once = False  # see on_screen_resume

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """The first time this screen is shown every widget was styled as it was mounted (and again on each change
        of its classes since): Textual's restyle of the whole screen on resume (~120 widgets) would repeat it
        before the first frame. Called before Screen's own handler, which reads the flag; later resumes (after a
        dialog, the help, a change of theme) restyle as Textual does."""
        if not self._resumed_once:
            self._resumed_once = True
            event.refresh_styles = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with _Tabs(id="tabs", initial="plan"):
            with TabPane("Plan", id="plan"):
                yield PlanView(self._gpu_source, self._initial_model, initial_form=self._last_setup,
                               id="plan-view")
            for tab_id, title in LAZY_TABS.items():
                with TabPane(tab_id.capitalize(), id=tab_id):
                    yield Static(f"{title} open here.", classes="tab-placeholder")
        yield FittingFooter(drop_order=FOOTER_DROP_ORDER)

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab_id = event.pane.id or ""
        if tab_id in LAZY_TABS and tab_id not in self._panels:
            await self._mount_panel(tab_id)

    async def _mount_panel(self, tab_id: str) -> None:
        # Imported on first show: the Data, Probes and Recommend tabs load plotting, probes and the recommender.
        if tab_id == "probes":
            from lorplan.tui.panels.probes_panel import ProbesPanel

            panel = ProbesPanel(runs_dir=None)
        elif tab_id == "recommend":
            from lorplan.tui.panels.recommend_panel import RecommendPanel

            panel = RecommendPanel(runs_dir=None)
        else:
            from lorplan.tui.panels.data_panel import DataPanel

            panel = DataPanel(initial_path=self._last_data)
        self._panels[tab_id] = panel
        pane = self.query_one(f"#{tab_id}", TabPane)
        await pane.query_one(".tab-placeholder", Static).remove()
        await pane.mount(panel)
        self._hand_down()
        if self._focus_pending == tab_id:
            self.call_after_refresh(self._focus_in, tab_id)

    # -- state: messages up, values down ----------------------------------------------------------------------
    def on_plan_changed(self, message: PlanChanged) -> None:
        self.plan = message.snapshot
        self._hand_down()

    def on_dataset_profiled(self, message: DatasetProfiled) -> None:
        self.data = message.data  # not stopped: the app remembers the dataset for the next session
        self._hand_down()

    def _hand_down(self) -> None:
        """Give the mounted panels the plan and dataset; the Data tab only when its model or seq len changed."""
        self.query_one(PlanView).set_data(self.data)  # a classifier's table prices its labels' head
        probes = self._panels.get("probes")
        if probes is not None:
            probes.plan, probes.data = self.plan, self.data
        recommend = self._panels.get("recommend")
        if recommend is not None:
            recommend.show_plan(self.plan, self.data)
        data_panel = self._panels.get("data")
        if data_panel is None or self.plan is None:
            return
        context = (self.plan.source, self.plan.setup.seq_len, self.plan.spec.task == Task.SEQUENCE_CLASSIFICATION)
        if context != self._data_context:
            self._data_context = context
            data_panel.set_context(*context, spec=self.plan.spec)

    def on_seq_len_chosen(self, message: SeqLenChosen) -> None:
        """The Data tab's button: the Plan tab takes the suggested sequence length (its next snapshot carries it,
        which re-cuts the Data tab's figures)."""
        message.stop()
        self.query_one(PlanView).apply_seq_len(message.seq_len)
        self.notify(f"The plan now uses sequences of {message.seq_len:,} tokens (the data's suggestion).",
                    title="Seq len applied")

    def on_recommendation_applied(self, message: RecommendationApplied) -> None:
        """The Recommend tab's key: the Plan tab takes the rank and tuning (its next snapshot carries them)."""
        message.stop()
        view = self.query_one(PlanView)
        now = view.state.spec
        if message.spec is not None and now is not None and not bridge.same_model(message.spec, now):
            # the model field was read again as another model after the key was pressed (its sizes, task or
            # architecture changed): the recommendation was for the model as it was
            self.notify(f"Not applied: the recommendation was for {message.spec.id} as it was read before; the plan "
                        f"on screen now reads it as another model ({now.task}, {now.architecture}). Apply a "
                        "recommendation for it from the Recommend tab.", severity="warning", timeout=10)
            return
        view.apply_tuning(message.rank, message.tuning)
        t = message.tuning
        pattern = f", rank_pattern {bridge.pattern_words(t.rank_pattern)}" if t.rank_pattern else ""
        self.notify(f"The plan now trains rank {message.rank}, alpha {t.alpha:g}, learning rate "
                    f"{t.learning_rate:g}{' with rsLoRA' if t.use_rslora else ''}{pattern} (from the {t.source}).",
                    title="Recommendation applied")

    def set_focus(self, widget, scroll_visible: bool = True, from_app_focus: bool = False) -> None:
        """Every focus change passes here (F2, Tab, a click, `widget.focus()`). A field above the rank table is
        scrolled into view by the plan view itself, once the table has docked: Textual's own scroll to it
        (animated, scheduled on the layout from before the table docked) would race that one and could leave
        the field under the table at 80×24."""
        if scroll_visible and widget is not None:
            views = self.query(PlanView)
            if views and views.first().scrolls_to(widget):
                scroll_visible = False
        super().set_focus(widget, scroll_visible=scroll_visible, from_app_focus=from_app_focus)

    # -- what the app's keys and palette ask for ------------------------------------------------------------
    def show_tab(self, tab_id: str) -> None:
        """Show a tab and focus in it: the rank table on the Plan tab, the probe table on the Probes tab, else
        the tab's first field (once a lazy tab's panel is mounted)."""
        self._activate(tab_id)
        self._focus_pending = tab_id
        self.call_after_refresh(self._focus_in, tab_id)

    def _activate(self, tab_id: str) -> None:
        tabs = self.query_one(TabbedContent)
        if tabs.active != tab_id:
            # Drop the focus first: a focused field in the tab being hidden would hand the focus to a neighbour
            # in that same tab, and TabbedContent shows the tab of a focused widget (back to where we were).
            self.set_focus(None)
            tabs.active = tab_id

    def _focus_in(self, tab_id: str) -> None:
        if self._focus_pending != tab_id or self.query_one(TabbedContent).active != tab_id:
            return  # another tab was asked for since
        if tab_id in LAZY_TABS and (tab_id not in self._panels or not self._panels[tab_id].is_mounted):
            # _mount_panel focuses it once mounted (the panel is registered before its mount ends: focusing it
            # then would fail and clear _focus_pending, and the focus was never set, seen under load)
            return
        self._focus_pending = None
        pane = self.query_one(f"#{tab_id}", TabPane)
        if tab_id == "probes":
            self._panels["probes"].focus_default()
            return
        if tab_id == "plan" and not self.query_one(RankTable).ranks:  # no model planned: its field, not the table
            self.query_one(ModelPicker).focus_input()
            return
        preferred = [w for w in pane.query(_FOCUS_FIRST.get(tab_id, "#-none-")) if w.focusable]
        chain = [w for w in self.focus_chain if pane in w.ancestors]
        target = (preferred or chain or [None])[0]
        if target is not None:
            target.focus()

    def leave_field(self) -> bool:
        """Esc: move the focus from the field it is in to the panel around it (the Recommend tab's, whose keys
        then work; the Plan tab's view, which scrolls with the arrows), or to the tab bar where the field has
        none (the Data tab). False when the focus is not in a field."""
        focused = self.focused
        if not isinstance(focused, _FIELDS):
            return False
        panel = next((w for w in focused.ancestors if isinstance(w, Widget) and w.focusable), None)
        (panel or self.query_one(TabbedContent).query_one(Tabs)).focus()
        return True

    @property
    def active_tab(self) -> str:
        """The id of the tab on screen: plan, data, probes or recommend."""
        return str(self.query_one(TabbedContent).active)

    def bad_fields(self) -> tuple[str, ...]:
        """The Plan tab's fields shown as bad (labels): `plan` is then the last valid plan, not the form's."""
        return self.query_one(PlanView).bad_fields()

    def focus_model(self) -> None:
        self._activate("plan")
        self.query_one(ModelPicker).focus_input()

    def focus_setup(self) -> None:
        self._activate("plan")
        self.query_one(SetupPanel).focus_first()

    def focus_table(self) -> None:
        """The rank table; while it has no row (no model planned yet) the model field, where keys do something."""
        self._activate("plan")
        table = self.query_one(RankTable)
        if table.ranks:
            table.focus()
        else:
            self.query_one(ModelPicker).focus_input()

    def tick_targets(self, shortcut: str) -> None:
        """Tick the target modules of a preset: all-linear, attention or mlp."""
        self.query_one(SetupPanel).apply_shortcut(shortcut)

    def refresh_gpus(self) -> None:
        self.query_one(GpuPanel).refresh_gpus()

    def pick_gpu_preset(self, label: str) -> None:
        self.query_one(GpuPanel).select_preset(label)

    def apply_recommendation(self) -> None:
        """Apply the Recommend tab's recommendation to the plan (as its `a` key does); opens the tab first."""
        panel = self._panels.get("recommend")
        if panel is None:
            self.show_tab("recommend")
            self.notify("The Recommend tab is open now: check the recommendation, then press a to apply it.")
            return
        panel.action_apply()
