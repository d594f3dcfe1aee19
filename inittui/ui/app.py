"""The dashboard app: it composes the header, the five pages and the footer, binds the keys, and routes.

A producer thread (training, a followed run log, or a fixed list) hands reports to the event pump; a timer at
``fps`` drains it into the view model (:mod:`inittui.dashboard.model`) and the page shown redraws what they
made stale. Keys become the controller's actions (:mod:`inittui.dashboard.controller`); the pages draw
themselves from the model (:mod:`inittui.ui.pages`); the quit guard (:mod:`inittui.ui.quit_guard`) makes
leaving quick whatever the UI thread is doing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static

from inittui.core.config import ExperimentConfig
from inittui.core.reports import Report
from inittui.dashboard.controller import Action, Controller
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.outcome import Outcome
from inittui.dashboard.pump import EventPump
from inittui.dashboard.selectors import header
from inittui.dashboard.sources import FollowSource, LiveSource, ProcessSource, ReplaySource, Source
from inittui.runlog.fold import CURVES, EVERYTHING, HEADER, TABLE
from inittui.ui.atlas import AtlasMatrix
from inittui.ui.curves import CurvePlot
from inittui.ui.keys import ANYWHERE, BINDINGS, CHART, DASHBOARD, PAGES, WHERE, palette_entries
from inittui.ui.pages.atlas import AtlasPage
from inittui.ui.pages.base import Page
from inittui.ui.pages.curves import CurvesPage
from inittui.ui.pages.depth import DepthPage
from inittui.ui.pages.layers import LayersPage
from inittui.ui.pages.overview import OverviewPage
from inittui.ui.quit_guard import QUIT_TIMEOUT_S, QuitGuard
from inittui.ui.runs_table import RunsFilter, RunsTable
from inittui.ui.screens.chart import ChartScreen
from inittui.ui.screenshot import save_screenshot_when_ready
from inittui.ui.status_bar import ONE_LINE_WIDTH, StatusBar

if TYPE_CHECKING:  # torch: never loaded by the dashboard's own process
    from inittui.training.data import MNISTData

MIN_SIZE = (80, 24)
# builds the producer of a preset chosen with p, from the producer it replaces
MakeSource = Callable[[str, Source], Source]


class Wake(Message):
    """Posted from the producer thread when a control report arrives, so it shows without waiting a frame."""


class InitApp(App):
    """The dashboard; build it with :func:`make_app`."""

    CSS_PATH = "app.tcss"
    TITLE = "inittui"
    BINDINGS = BINDINGS

    def __init__(self, source: Source, *, fps: float = 4.0, make_source: MakeSource | None = None,
                 screenshot_dir: Path = Path("screenshots"), threaded: bool = True) -> None:
        super().__init__()
        self.source, self.fps, self.make_source, self.threaded = source, fps, make_source, threaded
        self.screenshot_dir = Path(screenshot_dir)
        self.model = DashboardModel()
        self.pump = EventPump(self.model, lambda: self.post_message(Wake()))
        self.controller = Controller(self.model, lambda: self.source.target, self, _devices)
        self.guard = QuitGuard(self, lambda timeout: self.source.close(timeout))
        self.frames = 0
        # the widgets, kept by reference: a modal screen on top must not hide them from the redraw
        self.too_small = Static("", id="too-small")
        self.status_bar = StatusBar(id="status")
        self.overview = OverviewPage(id="overview")
        self.pages: dict[str, Page] = {"overview": self.overview, "curves": CurvesPage(id="curves"),
                                       "layers": LayersPage(id="layers"), "depth": DepthPage(id="depth"),
                                       "atlas": AtlasPage(id="atlas")}
        self.switcher = ContentSwitcher(initial=self.model.view.page, id="pages")

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield self.too_small
        yield self.status_bar
        with self.switcher:
            yield from self.pages.values()
        yield Footer(compact=True, show_command_palette=False)

    def page(self, name: str | None = None) -> Page:
        return self.pages[name or self.model.view.page]

    def on_mount(self) -> None:
        self.overview.table.focus()
        self.guard.install()
        self._start(self.source)
        self.set_interval(1.0 / self.fps, self.drain)
        self.set_interval(1.0, lambda: self.redraw({HEADER}))  # the clock ticks while training runs
        self._fit(self.size)
        self.redraw(set(EVERYTHING))

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size)
        self.redraw(set(EVERYTHING))  # what a new size shows (the depth view beside the histograms) is drawn now

    def _fit(self, size: Size) -> None:
        """Below MIN_SIZE the dashboard cannot be read: one line says what size it needs instead."""
        small = size.width < MIN_SIZE[0] or size.height < MIN_SIZE[1]
        if small:
            self.too_small.update(
                f"inittui needs {MIN_SIZE[0]}×{MIN_SIZE[1]} or more; this is {size.width}×{size.height}")
        if not self.screen_stack:  # a resize or redraw timer that fires while the app is shutting down
            return
        self.screen_stack[0].set_class(small, "-too-small")
        rows = size.height - (1 if size.width >= ONE_LINE_WIDTH else 2) - 1  # the header, the footer
        for page in self.pages.values():
            page.fit_to(size.width, rows, self.model)

    # ------------------------------------------------------------------ producer
    def _start(self, source: Source) -> None:
        self.source = source
        sink = self.pump.begin(source)
        if self.threaded:
            self._produce(source, sink)
        else:
            source.run(sink)
            self.drain()

    @work(thread=True, exit_on_error=False, group="producer")
    def _produce(self, source: Source, sink: Callable[[Report], None]) -> None:
        source.run(sink)

    @on(Wake)
    def drain(self) -> None:
        """Fold every queued report into the model, then redraw each stale part once with the latest data."""
        if self.guard.quitting:
            return
        dirty = self.pump.drain()
        for note in self.model.take_notifications():
            self.notify(note.message, title=note.title, severity=note.severity, timeout=note.timeout)
        if dirty:
            if TABLE in dirty:
                self._fit(self.size)  # the table's height follows its runs
            self.redraw(dirty)

    def redraw(self, dirty: set[str]) -> None:
        """Redraw the stale parts of the page shown; the other pages are drawn when they are shown."""
        self.frames += 1
        if HEADER in dirty:
            number = next(key for name, key, _ in PAGES if name == self.model.view.page)
            self.status_bar.show(header(self.model, f"{number} {self.model.view.page}"))
        self.page().draw(self.model, dirty)
        if CURVES in dirty and isinstance(self.screen, ChartScreen):  # live: on the curves' own signal
            self.screen.draw()

    # ------------------------------------------------------------------ keys
    def action_do(self, name: str) -> None:
        """A key bound to a controller's :class:`Action`."""
        self.show_outcome(self.controller.handle(Action(name)))

    def show_outcome(self, outcome: Outcome) -> None:
        if outcome.message:
            self.notify(outcome.message, severity=outcome.severity, timeout=outcome.timeout)
        if outcome.relayout:
            page = self.model.view.page
            self.switcher.current = page
            self._fit(self.size)
            focus = {"overview": self.overview.table, "atlas": self.pages["atlas"].matrix}.get(page)
            self.set_focus(focus)
        if outcome.dirty:
            self.redraw(outcome.dirty)

    # what the controller asks of the screen (Room)
    def layers_fit_both(self) -> bool:
        return LayersPage.fits_both(self.size.height - (1 if self.size.width >= ONE_LINE_WIDTH else 2) - 1)

    def depth_panels_fit(self) -> bool:
        depth = self.pages["depth"]
        return isinstance(depth, DepthPage) and depth.panels_fit()

    def loss_on_log_axis(self) -> bool:
        page = self.page() if self.model.view.page in ("overview", "curves") else self.page("overview")
        return page.loss_on_log_axis()

    def chart_columns(self) -> int:
        return self.screen.chart.columns if isinstance(self.screen, ChartScreen) else 0

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # a key of the full-screen chart is bound only there, and one of the dashboard's own (the time cursor's
        # arrows, which the chart's value cursor takes) only on the dashboard
        where = WHERE.get(str(parameters[0]) if action == "do" and parameters else action, ANYWHERE)
        charting = isinstance(self.screen, ChartScreen)
        if (where == CHART and not charting) or (where == DASHBOARD and charting):
            return False
        # "/", esc and enter are priority bindings (see keys.py), bound only where they mean what the dashboard
        # says: elsewhere (another screen's text field, the filter for "/", a table row for enter) the key is
        # left to the widget that has the focus
        dashboard = self.screen is self.screen_stack[0]
        runs_filter = self.overview.runs_filter
        if action == "filter_runs":
            return dashboard and self.focused is not runs_filter
        if action == "clear_filter":
            return dashboard and runs_filter.has_class("-active")
        if action == "confirm":
            return dashboard and (self.focused is runs_filter or self.model.view.page == "atlas")
        if action == "open_chart":
            return dashboard and self.model.view.page in ("overview", "curves")
        return True

    def action_filter_runs(self) -> None:
        if self.model.view.page != "overview":
            self.show_outcome(self.controller.show_page("overview"))
        runs_filter = self.overview.runs_filter
        runs_filter.add_class("-active")
        # at once, not on the next idle as focus() would: keys typed right after "/" are on their way
        self.screen.set_focus(runs_filter)

    def action_clear_filter(self) -> None:
        runs_filter = self.overview.runs_filter
        runs_filter.value = ""
        runs_filter.remove_class("-active")
        self.model.view.filter_text = ""
        self.screen.set_focus(self.overview.table)
        self.redraw({TABLE})

    def action_confirm(self) -> None:
        if self.focused is self.overview.runs_filter:
            self.screen.set_focus(self.overview.table)  # at once: keys typed after enter are for the table
        elif self.model.view.page == "atlas":
            self.pages["atlas"].matrix.action_select()

    @on(RunsFilter.Changed)
    def _filter_changed(self, event: RunsFilter.Changed) -> None:
        self.model.view.filter_text = event.value
        self.redraw({TABLE})

    @on(RunsTable.Chosen)
    def _row_chosen(self, event: RunsTable.Chosen) -> None:
        if event.run_id != self.model.view.selected:
            self.model.view.selected = event.run_id
            self.redraw(set(EVERYTHING) - {HEADER})

    @on(AtlasMatrix.RunSelected)
    def _atlas_run_selected(self, message: AtlasMatrix.RunSelected) -> None:
        self.model.view.selected = message.run_id
        self.notify(f"run {message.run_id} {message.init}:{message.activation} selected: pages 1–4 show it")

    # ------------------------------------------------------------------ screens
    def action_open_chart(self) -> None:
        focused = self.focused
        metric = focused.metric if isinstance(focused, CurvePlot) else "loss"
        self.model.view.chart_window.reset()  # every chart opens on the whole run, live
        self.push_screen(ChartScreen(self.model, metric))

    def action_close_chart(self) -> None:
        self.pop_screen()

    def action_help(self) -> None:
        # imported when first asked for: its Markdown (and the initialisers' formulas) would slow every start
        from inittui.ui.screens.help import HelpScreen

        location = header(self.model, "").location
        self.push_screen(HelpScreen(str(location.path) if location else "",
                                    self.model.experiment.config.get("user_initializers", {})))

    def action_choose_preset(self) -> None:
        if self.make_source is None or self.model.status.read_only:  # training that has ended may start again
            self.notify(self.controller.why_not() or "read-only: this is a run log being viewed", severity="warning")
            return
        from inittui.ui.screens.preset import PresetScreen

        self.push_screen(PresetScreen(self.model.experiment.preset), self._preset_chosen)

    def _preset_chosen(self, name: str | None) -> None:
        if name is None or self.make_source is None:
            return
        old = self.source
        old.stop()
        self.pages["layers"].over_time.clear()
        self._start(self.make_source(name, old))
        self.redraw(set(EVERYTHING))
        self.notify(f"preset {name} started")

    async def action_screenshot(self) -> None:
        await save_screenshot_when_ready(self, self.screenshot_dir)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in palette_entries(isinstance(screen, ChartScreen)):
            yield SystemCommand(title, help_text, partial(self.run_action, action))

    # ------------------------------------------------------------------ quitting
    def action_quit(self) -> None:
        self.guard.quit_soon()

    def _post_message(self, message: Message) -> bool:
        # Textual's only hook on the terminal's input thread (no public one exists): every key passes here,
        # so q is answered even while the UI thread is stuck in a frame
        self.guard.input_message(message)
        return super()._post_message(message)

    async def on_unmount(self) -> None:
        await self.guard.release()  # however the app goes away, the producer must not outlive it


def _devices() -> list[str]:
    from inittui.training.devices import available_devices  # torch: only when asked to move

    return available_devices()


def make_app(
    config: ExperimentConfig | None = None,
    *,
    data: MNISTData | None = None,
    data_dir: str | None = None,
    log_dir: Path | None = None,
    fps: float = 4.0,
    events: Iterable[Report] | None = None,
    run_dir: Path | None = None,
    threads: int | None = None,
    screenshot_dir: Path = Path("screenshots"),
) -> InitApp:
    """The dashboard for live training (``config``), a fixed report list (``events``) or a run log (``run_dir``)."""
    if events is not None:
        return InitApp(ReplaySource(events), fps=fps, screenshot_dir=screenshot_dir, threaded=False)
    if run_dir is not None:
        return InitApp(FollowSource(run_dir), fps=fps, screenshot_dir=screenshot_dir)
    if config is None:
        raise ValueError("make_app needs a config, events or a run directory")

    def make_source(preset: str, previous: Source) -> Source:
        from inittui.core.presets import get_preset

        from inittui.science.init_files import declare_init_files

        new_config = get_preset(preset).config_replacing(config)
        declare_init_files(new_config, config.init_files)  # the user's --init-file stays loaded for every preset
        if isinstance(previous, LiveSource):
            return LiveSource(new_config, data=previous.data, data_dir=data_dir, log_dir=log_dir)
        return ProcessSource(new_config, threads=threads, data_dir=data_dir, log_dir=log_dir)

    # tests hand in data and train in a thread; a user's dashboard trains in a child process
    source: Source = (
        LiveSource(config, data=data, data_dir=data_dir, log_dir=log_dir)
        if data is not None
        else ProcessSource(config, threads=threads, data_dir=data_dir, log_dir=log_dir)
    )
    return InitApp(source, fps=fps, make_source=make_source, screenshot_dir=screenshot_dir)


def run_app(app: InitApp) -> int:
    """Run the dashboard in the terminal until it quits; training stops and the log is complete however it ends."""
    app.guard.last_resort_exit = True
    try:
        app.run()
    finally:
        app.source.close(QUIT_TIMEOUT_S)
        app.guard.ended.set()
    return 0 if app.return_code in (None, 0) else app.return_code


def run_dashboard(config: ExperimentConfig, *, data_dir: str | None, log_dir: Path, fps: float,
                  threads: int | None = None) -> int:
    return run_app(make_app(config, data_dir=data_dir, log_dir=log_dir, fps=fps, threads=threads))


def run_viewer(run_dir: Path, *, fps: float) -> int:
    return run_app(make_app(run_dir=run_dir, fps=fps))
