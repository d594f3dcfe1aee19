"""The dashboard app: a producer thread (training, a followed run log, or a fixed list) hands events to a
thread-safe queue; a timer at ``fps`` drains it into :class:`DashboardState` and redraws only what changed."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static

from inittui.core.commands import AddRun, RemoveRun, Restart, RestartAll, SetDevice, SetRun, TogglePause
from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES, ExperimentConfig, RunSpec
from inittui.core.events import HISTOGRAM_KINDS, Evaluation, ExperimentStarted, LayerStats, Notice, TrainProgress
from inittui.series.density import DistributionHistory
from inittui.core.presets import PRESETS
from inittui.ui.atlas import AtlasCell, AtlasMatrix, grid_problem
from inittui.ui.curves import Curve, CurvePlot, legend_entries
from inittui.ui.depth_chart import MIN_PLOT_ROWS, DepthChart, DepthSeries
from inittui.ui.distributions import DistributionsOverTime, HeatmapPanel
from inittui.ui.histograms import LayerHistograms, Panel
from inittui.ui.keys import BINDINGS, PAGES, palette_entries
from inittui.ui.preset_screen import PresetScreen
from inittui.ui.runs_table import RunsFilter, RunsTable
from inittui.runlog.reader import describe_lines
from inittui.dashboard.sources import FollowSource, LiveSource, LogRead, ProbeReady, ProcessSource, ReplaySource, Source
from inittui.dashboard.state import CURVES, HEADER, HISTOGRAMS, TABLE, DashboardState, LayerView, RunState
from inittui.ui.status_bar import ONE_LINE_WIDTH, Location, StatusBar
from inittui.core.reports import DataUnavailable, Failed, LogStarted, LogWriteFailed, SkippedLines

# events that arrive often and are only drawn at the frame rate; everything else wakes the UI at once
_BULK_EVENTS = (TrainProgress, LayerStats, Evaluation)
# how long quitting waits for training to stop and the log to close; and by when, after q or a signal, the
# program has ended, whatever the UI thread is doing
QUIT_TIMEOUT_S = 2.0
QUIT_DEADLINE_S = 2.6
# the UI thread counts as busy when its heartbeat is older than this: q is then handled off it
BUSY_AFTER_S = 1.0
HEARTBEAT_S = 0.25
MIN_SIZE = (80, 24)
LOSS_CAP = 4.0
NOTICE_SEVERITY = {"info": "information", "warning": "warning", "error": "error"}
EVERYTHING = {HEADER, TABLE, CURVES, HISTOGRAMS}
# rows a chart needs for 10 rows of plot area: the curves (title, x axis and its labels), the histograms (border,
# title and σ line, bin range), a heatmap (the page's heading, its title, time axis and std line)
CURVE_ROWS = 13
HISTOGRAM_ROWS = 15
OVER_TIME_ROWS = 14
TABLE_ROWS = 12  # the runs table at most (its header and 11 runs); it scrolls beyond
# from this width the overview shows the depth view beside the histograms
DEPTH_BESIDE_WIDTH = 160
# each hidden layer's distribution over time keeps this many columns (each a statistics step, or merged pairs)
OVER_TIME_COLUMNS = 128
# layer histograms read into a history that starts (a run or source chosen): bounds what one key press costs
# (about 60 µs each), so a deep run's history starts from fewer, evenly spread steps
OVER_TIME_REFILL = 1280
# more runs than this in compare mode: all but the selected one are drawn faint in the depth view
DIM_BEYOND = 6
NO_DATA_HINT = (
    "Showing the random-input probe instead of training. Supply MNIST with --data-dir DIR "
    "or INITTUI_DATA_DIR=DIR (the four IDX files, .gz or raw)."
)

class Wake(Message):
    """Posted from the producer thread when a control event arrives, so it shows without waiting a frame."""


class InitApp(App):
    """The dashboard; build it with :func:`make_app`."""

    CSS_PATH = "app.tcss"
    TITLE = "inittui"
    BINDINGS = BINDINGS

    def __init__(
        self,
        source: Source,
        *,
        fps: float = 4.0,
        make_source: Any = None,
        screenshot_dir: Path = Path("screenshots"),
        threaded: bool = True,
    ) -> None:
        super().__init__()
        self.source = source
        self.fps = fps
        # builds a LiveSource for another config (the preset chooser); None when read-only
        self.make_source = make_source
        self.screenshot_dir = Path(screenshot_dir)
        self.threaded = threaded
        self.state = DashboardState()
        self.events: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self.generation = 0
        self.kind = HISTOGRAM_KINDS[0]
        self.compare = False
        self.compare_layer = -1
        self.run_dir: Path | None = None
        self.data_message = ""
        self.frames = 0
        self.events_applied = 0
        # events that could not be shown (a log line of the right form but wrong content)
        self.events_dropped = 0
        # lasting warnings in the status line: a log that could not be written, a training process that died
        self.problems: list[str] = []
        self._closing_down = False
        self._quit_lock = threading.Lock()
        self._quit_started = False
        # set once app.run() has returned; until then the quit watchdog may have to end the process itself
        self.ended = threading.Event()
        self.last_resort_exit = False
        self._heartbeat = time.monotonic()
        self._previous_handlers: dict[int, Any] = {}
        self.too_small = Static("", id="too-small")
        self.page = PAGES[0][0]
        # the layers page shows histograms and distributions over time stacked where both fit; else one, by `t`
        self.layers_over_time = False
        # the selected run's layers over time, for the histogram source shown: (run id, kind), one per layer
        self.over_time: list[DistributionHistory] = []
        self.over_time_key: tuple[int, str] | None = None
        self._table_ids: tuple[int, ...] = ()
        # the widgets, kept by reference: a modal screen on top must not hide them from the redraw
        self.status_bar = StatusBar(id="status")
        self.table = RunsTable(id="runs")
        self.runs_filter = RunsFilter(id="runs-filter")
        self.loss_plot = CurvePlot("train loss", ycap=LOSS_CAP, can_log=True, id="loss")
        self.accuracy_plot = CurvePlot("accuracy: train ─, test ●", ylim=(0.0, 1.0), id="accuracy")
        self.histograms = LayerHistograms(id="histograms", classes="histograms")
        self.pages = ContentSwitcher(initial=self.page, id="pages")
        self.overview_lower = Horizontal(id="overview-lower")
        self.overview_depth = DepthChart(id="overview-depth")
        self.overview_hint = Static("", id="overview-hint", classes="hint")
        self.page_loss = CurvePlot("train loss", ycap=LOSS_CAP, can_log=True, id="page-loss")
        self.page_accuracy = CurvePlot("accuracy: train ─, test ●", ylim=(0.0, 1.0), id="page-accuracy")
        self.layer_histograms = LayerHistograms(id="layer-histograms", classes="histograms")
        self.distributions = DistributionsOverTime(min_heat_rows=MIN_PLOT_ROWS, id="distributions")
        self.layers_hint = Static("", id="layers-hint", classes="hint")
        self.depth_chart = DepthChart(id="depth-chart")
        self.atlas = AtlasMatrix(id="atlas-matrix")
        self.atlas_message = Static("", id="atlas-message")

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield self.too_small
        yield self.status_bar
        with self.pages:
            with Vertical(id="overview"):
                yield self.table
                yield self.runs_filter
                with Horizontal(id="overview-curves"):
                    yield self.loss_plot
                    yield self.accuracy_plot
                with self.overview_lower:
                    yield self.histograms
                    yield self.overview_depth
                yield self.overview_hint
            with Horizontal(id="curves"):
                yield self.page_loss
                yield self.page_accuracy
            with Vertical(id="layers"):
                yield self.layer_histograms
                yield self.distributions
                yield self.layers_hint
            with Vertical(id="depth"):
                yield self.depth_chart
            with Vertical(id="atlas"):
                yield self.atlas_message
                yield self.atlas
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.table.focus()
        self._start(self.source)
        self.set_interval(1.0 / self.fps, self.drain)
        self.set_interval(HEARTBEAT_S, self._beat)
        self._fit(self.size)
        self.redraw(EVERYTHING)
        if threading.current_thread() is threading.main_thread():
            # plain signal handlers, not the event loop's: Python runs them between two bytecodes of the
            # main thread, so a hangup is answered even while a frame is being drawn
            for sig in (signal.SIGHUP, signal.SIGTERM):
                self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def _beat(self) -> None:
        self._heartbeat = time.monotonic()

    # ------------------------------------------------------------------ terminal size
    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size)

    def _fit(self, size: Any) -> None:
        """Below MIN_SIZE the dashboard cannot be read: one line says what size it needs instead."""
        small = size.width < MIN_SIZE[0] or size.height < MIN_SIZE[1]
        if small:
            self.too_small.update(f"inittui needs {MIN_SIZE[0]}×{MIN_SIZE[1]} or more; this is {size.width}×{size.height}")
        self.screen_stack[0].set_class(small, "-too-small")
        self._arrange(size.width, size.height)

    def _arrange(self, width: int, height: int) -> None:
        """Which panels the pages show at this size: every chart keeps 10 rows of plot area; what does not
        fit is left out and a line says which key shows it."""
        page_rows = height - (1 if width >= ONE_LINE_WIDTH else 2) - 1  # the header, the footer
        # overview: the table (scrolling beyond its room), the curves, then the histograms where they fit
        table_rows = min(len(self.state.runs) + 1, TABLE_ROWS, max(page_rows - CURVE_ROWS - 1, 3))
        self.table.styles.max_height = table_rows
        lower = page_rows - table_rows - CURVE_ROWS >= HISTOGRAM_ROWS
        self.overview_lower.display = lower
        self.overview_depth.display = lower and width >= DEPTH_BESIDE_WIDTH
        missing = [] if lower else ["histograms: 3"]
        missing += [] if self.overview_depth.display else ["depth view: 4"]
        self.overview_hint.display = bool(missing)
        self.overview_hint.update(f"not shown at this size: {', '.join(missing)} (or a larger terminal)")
        # layers: histograms above distributions over time, or one of them
        both = page_rows >= HISTOGRAM_ROWS + OVER_TIME_ROWS
        self.layer_histograms.display = both or not self.layers_over_time
        self.distributions.display = both or self.layers_over_time
        self.layers_hint.display = not both
        shown, other = ("distributions over time", "histograms") if self.layers_over_time else (
            "histograms", "distributions over time")
        self.layers_hint.update(f"{shown} · t: {other} (both show from {HISTOGRAM_ROWS + OVER_TIME_ROWS + 3} rows)")

    # ------------------------------------------------------------------ producer
    def _start(self, source: Source) -> None:
        self.generation += 1
        self.source = source
        sink = partial(self._sink, self.generation)
        if self.threaded:
            self._produce(source, sink)
        else:
            source.run(sink)
            self.drain()

    @work(thread=True, exit_on_error=False, group="producer")
    def _produce(self, source: Source, sink: Any) -> None:
        source.run(sink)

    def _sink(self, generation: int, event: Any) -> None:
        """Called on the producer thread: queue the event; wake the UI at once for rare control events."""
        self.events.put((generation, event))
        if not isinstance(event, _BULK_EVENTS):
            self.post_message(Wake())

    @on(Wake)
    def _woken(self) -> None:
        self.drain()

    def drain(self) -> None:
        """Fold every queued event into the state, then redraw each stale part once with the latest data."""
        if self._closing_down:
            return
        dirty: set[str] = set()
        while True:
            try:
                generation, event = self.events.get_nowait()
            except queue.Empty:
                break
            if generation != self.generation:
                continue  # from an experiment that was replaced
            self.events_applied += 1
            try:
                dirty |= self._apply(event)
            except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as error:
                # a log line of the right form with nonsense in it: shown as dropped, never a traceback
                self.events_dropped += 1
                if self.events_dropped == 1:
                    self.notify(f"an event could not be shown ({type(error).__name__}: {error}); others may "
                                "follow", severity="warning")
        if dirty:
            self.redraw(dirty)

    def _apply(self, event: Any) -> set[str]:
        if isinstance(event, DataUnavailable):
            self.data_message = event.message
            self.notify(f"{event.message}\n{NO_DATA_HINT}", title="MNIST not found", severity="warning", timeout=30)
            return {HEADER}
        if isinstance(event, ProbeReady):
            self.state.show_probe(event.results, "no data: random-input probe")
            return {HEADER, TABLE, CURVES, HISTOGRAMS}
        if isinstance(event, LogStarted):
            self.run_dir = event.run_dir
            return {HEADER}
        if isinstance(event, Failed):
            self.problems.append(event.message)
            if self.state.state in ("starting", "running", "paused"):
                self.state.state = "stopped"
            self.notify(f"{event.message}\nThe dashboard stays open with what it has.", title="error",
                        severity="error", timeout=30)
            return {HEADER, TABLE}
        if isinstance(event, LogWriteFailed):
            self.problems.append(f"run log incomplete: {event.message}")
            self.notify(f"{event.message}\nTraining goes on; the log keeps every line before it.",
                        title="run log incomplete", severity="error", timeout=60)
            return {HEADER}
        if isinstance(event, LogRead):
            return self._apply_log_read(event)
        if isinstance(event, SkippedLines):
            self.notify(f"{describe_lines(event.lines)} of the run log could not be read and "
                        f"{'was' if len(event.lines) == 1 else 'were'} skipped; everything else is shown.",
                        title="damaged run log", severity="warning", timeout=30)
            return set()
        dirty = self.state.apply(event)
        if isinstance(event, LayerStats):
            self._record_over_time()
        if isinstance(event, Notice):
            self.notify(event.message, severity=NOTICE_SEVERITY.get(event.level, "information"))
        elif isinstance(event, ExperimentStarted) and self.state.preset in PRESETS:
            # what the preset is there to show, so the user knows what to look for
            preset = PRESETS[self.state.preset]
            self.notify(f"expected: {preset.expected}", title=f"{preset.name}: {preset.title}", timeout=12)
        return dirty

    def _apply_log_read(self, read: LogRead) -> set[str]:
        """After the events a run log's index found: its curves whole, and its steps for the cursor."""
        self.state.use_steps(read.steps)
        self._record_over_time(refill=True)  # the shown run's whole history, now that the log's steps are known
        return self.state.load_curves(read.curves)

    # ------------------------------------------------------------------ drawing
    def device_label(self) -> str:
        state = self.state
        if not state.device_name:
            return ""
        if state.device.startswith("cuda") and state.device_memory_mb is not None:
            return f"{state.device_name} ({state.device}), {state.device_memory_mb:,.0f} MiB in use"
        if state.device.startswith("cuda"):
            return f"{state.device_name} ({state.device})"
        return state.device_name

    def location(self) -> Location | None:
        """The run log's directory, as the header shows it (shortened) and the help screen (in full)."""
        if self.source.read_only and isinstance(self.source, FollowSource):
            return Location(self.source.run_dir, "viewing ", " (read-only)")
        if self.run_dir is not None and not self.data_message:
            return Location(self.run_dir)
        return None

    def redraw(self, dirty: set[str]) -> None:
        """Redraw the stale parts of the page shown; the other pages are drawn when they are shown."""
        self.frames += 1
        state = self.state
        page = self.page
        if HEADER in dirty:
            extra = "no MNIST: --data-dir DIR or INITTUI_DATA_DIR" if self.data_message else ""
            number = next(key for name, key, _ in PAGES if name == page)
            self.status_bar.show(state, self.device_label(), extra, self.problems, page=f"{number} {page}",
                                 location=self.location())
        ids = tuple(state.runs)
        if (TABLE in dirty and page == "overview") or ids != self._table_ids:
            # the table holds the selection for every page: it always has the runs, and their numbers when shown
            self._table_ids = ids
            self.table.show(state)
            self._arrange(*self.size)
        if CURVES in dirty:
            self._draw_page_curves()
        if HISTOGRAMS in dirty or (TABLE in dirty and page == "atlas"):
            self._draw_page_views()

    def _draw_page_curves(self) -> None:
        """The curves of the page shown, if it has any."""
        if self.page == "overview":
            self._draw_curves(self.loss_plot, self.accuracy_plot)
        elif self.page == "curves":
            self._draw_curves(self.page_loss, self.page_accuracy)

    def _draw_curves(self, loss_plot: CurvePlot, accuracy_plot: CurvePlot) -> None:
        runs = list(self.state.runs.values())
        selected = self.table.selected_run_id
        epoch = self.state.steps_per_epoch
        loss_plot.mark(self.state.cursor_step)
        accuracy_plot.mark(self.state.cursor_step)
        loss_plot.show([Curve(run.colour, run.loss, selected=run.id == selected) for run in runs],
                       steps_per_epoch=epoch, legend=legend_entries(runs, selected), runs=len(runs))
        accuracy_plot.show(
            [Curve(run.colour, run.accuracy, selected=run.id == selected) for run in runs]
            + [Curve(run.colour, run.test, scatter=True, selected=run.id == selected) for run in runs],
            steps_per_epoch=epoch,
        )

    def _draw_page_views(self) -> None:
        """The per-layer views of the page shown: histograms, depth view, distributions over time, atlas."""
        if self.page == "overview":
            self._draw_histograms(self.histograms)
            if self.overview_depth.display:
                self._draw_depth(self.overview_depth)
        elif self.page == "layers":
            self._draw_histograms(self.layer_histograms)
            self._draw_over_time()
        elif self.page == "depth":
            self._draw_depth(self.depth_chart)
        elif self.page == "atlas":
            self._draw_atlas()

    def _draw_histograms(self, widget: LayerHistograms) -> None:
        state = self.state
        kind = self.kind
        label = "|g|" if kind == "gradients" else "σ"
        source_name = "probe: activations on random input" if state.probe else kind
        if state.cursor_step is not None:
            source_name += f" at {state.cursor_label()}" + (" (line unreadable)" if state.cursor_unreadable else "")
        if self.compare:
            depth = max((len(state.layer_views(run)) for run in state.runs.values()), default=0)
            layer = self.compare_layer % depth if depth else 0
            panels = []
            for run in state.runs.values():
                views = state.layer_views(run)
                view = views[layer] if layer < len(views) else None
                panels.append(self._panel(f"{run.id} {run.name}", run, view, kind, label))
            widget.show(panels, f"{source_name} · layer {layer + 1} of every run (c: back, l: next layer)")
            return
        run = self.selected_run()
        if run is None:
            widget.show([], source_name, "no runs")
            return
        panels = [self._panel(f"L{index + 1}", run, view, kind, label)
                  for index, view in enumerate(state.layer_views(run))]
        widget.show(panels, f"{source_name} · run {run.id} {run.name} (h: source, c: compare)",
                    "no layer statistics yet")

    @staticmethod
    def _panel(title: str, run: RunState, view: Any, kind: str, label: str) -> Panel:
        if view is None:
            return Panel(title, run.colour, None, None, None, label)
        return Panel(title, run.colour, view.histograms.get(kind), view.measured.get(kind), view.predicted.get(kind), label)

    # ------------------------------------------------------------------ depth view
    def depth_series(self) -> list[DepthSeries]:
        """What the depth view plots: the selected run, or every run in compare mode with the selected on top."""
        selected = self.selected_run()
        runs = list(self.state.runs.values()) if self.compare else [selected] if selected is not None else []
        if selected is not None and selected in runs:
            runs.remove(selected)
            runs.append(selected)  # drawn last, on top
        dim = len(runs) > DIM_BEYOND
        return [self._depth_series(run, dim and run is not selected) for run in runs]

    def _depth_series(self, run: RunState, dim: bool) -> DepthSeries:
        views: list[LayerView] = self.state.layer_views(run)
        return DepthSeries(
            f"{run.id} {run.name}",
            run.colour,
            activation_std=[view.measured.get("activations") for view in views],
            predicted_std=[view.predicted.get("activations") for view in views],
            gradient_std=[view.gradient_std for view in views],
            weight_gradient_norm=[view.weight_gradient_norm for view in views],
            update_ratio=[view.update_ratio for view in views],
            dim=dim,
        )

    def _draw_depth(self, widget: DepthChart) -> None:
        message = "no runs" if not self.state.runs else "no layer statistics yet"
        widget.show(self.depth_series(), message)

    # ------------------------------------------------------------------ distributions over time
    def _over_time_source(self) -> tuple[RunState, str] | None:
        run = self.selected_run()
        return None if run is None else (run, self.kind)

    def _record_over_time(self, refill: bool = False) -> None:
        """Add the selected run's latest statistics step (of the histogram source shown) to its layers'
        histories. A new run or source starts new histories, filled with the steps the dashboard holds (from
        a run log being viewed: read in a worker thread, the latest step shown meanwhile)."""
        source = self._over_time_source()
        if source is None or not (self.page == "layers" and self.distributions.display):
            # not on screen: the history starts afresh, from the steps held, when it is shown
            self.over_time, self.over_time_key = [], None
            return
        run, kind = source
        views = self.state.layer_views(run)
        step = self.state.layers_step(run)
        key = (run.id, kind)
        last = self.over_time[0].last_step[self.over_time[0].count - 1] if self.over_time and self.over_time[0].count else None
        if refill or key != self.over_time_key or len(views) != len(self.over_time) or (last is not None and step < last):
            self.over_time_key = key
            self.over_time = [DistributionHistory(OVER_TIME_COLUMNS) for _ in views]
            last = None
            steps = max(2, min(OVER_TIME_COLUMNS, OVER_TIME_REFILL // max(len(views), 1)))
            if self.state.step_store.in_memory:
                for past_step, past_views in self.state.layer_history(run, steps):
                    if past_step < step:
                        self._add_over_time(past_step, past_views, kind)
            else:
                self._read_over_time(run, key, steps)
        if not views or step == last:
            return
        self._add_over_time(step, views, kind)

    def _add_over_time(self, step: int, views: list[LayerView], kind: str) -> None:
        for history, view in zip(self.over_time, views):
            histogram = view.histograms.get(kind)
            if histogram is not None:
                history.add(step, histogram.low, histogram.high, histogram.counts, view.measured.get(kind))
            else:
                history.add(step, 0.0, 0.0, [], view.measured.get(kind))

    @work(thread=True, exclusive=True, exit_on_error=False, group="over-time")
    def _read_over_time(self, run: RunState, key: tuple[int, str], steps: int) -> None:
        """The run's past statistics steps (at most ``steps``) from the run log, off the UI thread; they
        replace its histories if the same run and source are still shown."""
        history = self.state.layer_history(run, steps)
        self.call_from_thread(self._over_time_read, key, history)

    def _over_time_read(self, key: tuple[int, str], history: list[tuple[int, list[LayerView]]]) -> None:
        if key != self.over_time_key or not history:
            return
        self.over_time = [DistributionHistory(OVER_TIME_COLUMNS) for _ in history[-1][1]]
        for step, views in history:
            self._add_over_time(step, views, key[1])
        self._draw_over_time()

    def _draw_over_time(self) -> None:
        source = self._over_time_source()
        if source is None:
            self.distributions.show([], "", "no runs")
            return
        run, kind = source
        if self.over_time_key != (run.id, kind):
            self._record_over_time()
        panels = [HeatmapPanel(f"L{index + 1}", history.snapshot(), run.colour)
                  for index, history in enumerate(self.over_time) if history.count]
        first = min((int(history.first_step[0]) for history in self.over_time if history.count), default=None)
        since = f" since step {first:,}" if first is not None else ""
        self.distributions.show(panels, f"{kind} over time{since} · run {run.id} {run.name}",
                                "no layer statistics yet")

    # ------------------------------------------------------------------ atlas
    def atlas_cells(self) -> list[AtlasCell]:
        state = self.state
        cells = []
        for run in state.runs.values():
            shown = state.run_at_cursor(run)  # as the runs table shows it: at the time cursor's step
            cells.append(AtlasCell(run.id, run.init, run.activation, state.run_status(run), shown.best_test_acc,
                                   shown.train_loss, shown.dead, shown.saturated))
        return cells

    def _draw_atlas(self) -> None:
        cells = self.atlas_cells()
        problem = grid_problem([(cell.init, cell.activation) for cell in cells])
        self.atlas_message.display = problem is not None
        self.atlas.display = problem is None
        if problem is not None:
            self.atlas_message.update(problem)
            return
        self.atlas.show(cells)

    @on(AtlasMatrix.RunSelected)
    def _atlas_run_selected(self, message: AtlasMatrix.RunSelected) -> None:
        self.table.select_run(message.run_id)
        self._record_over_time()
        self.notify(f"run {message.run_id} {message.init}:{message.activation} selected: pages 1–4 show it")

    # ------------------------------------------------------------------ pages
    def action_show_page(self, page: str) -> None:
        if page == self.page or page not in {name for name, _, _ in PAGES}:
            return
        self.page = page
        self.pages.current = page
        if page == "atlas":
            self.atlas.focus()
        elif page == "overview":
            self.table.focus()
        else:
            self.set_focus(None)
        self.redraw(EVERYTHING)
        run = self.selected_run()
        if page == "atlas" and run is not None:
            self.atlas.select_run(run.id)

    def action_next_metric(self) -> None:
        if self.page != "atlas":
            self.action_show_page("atlas")
        self.atlas.next_metric()

    def action_confirm(self) -> None:
        if self.focused is self.runs_filter:
            self.screen.set_focus(self.table)  # at once: keys typed after enter are for the table
        elif self.page == "atlas":
            self.atlas.action_select()

    def action_next_depth_panel(self) -> None:
        if self.page not in ("depth", "overview"):
            self.action_show_page("depth")
        shown = self.depth_chart.next_panel()
        self.overview_depth.next_panel()
        if self.depth_chart.stacked:
            self.notify("all three panels fit at this size", timeout=3)
        else:
            self.notify(f"depth view: {shown}", timeout=2)

    def action_toggle_over_time(self) -> None:
        if self.page != "layers":
            self.action_show_page("layers")
        else:
            self.layers_over_time = not self.layers_over_time
        self._arrange(*self.size)
        self._draw_page_views()

    # ------------------------------------------------------------------ selection
    def selected_run(self) -> RunState | None:
        """The run the table's cursor is on; before the table has rows, the first run (which it will select)."""
        run_id = self.table.selected_run_id
        if run_id is None:
            return next(iter(self.state.runs.values()), None)
        return self.state.runs.get(run_id)

    @on(RunsTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._draw_page_curves()
        self._record_over_time()
        if self.page == "atlas":
            run = self.selected_run()
            if run is not None:
                self.atlas.select_run(run.id)
        elif not self.compare or self.page in ("layers",):
            self._draw_page_views()

    def action_sort_runs(self) -> None:
        order = self.table.cycle_sort()
        self.table.show(self.state)
        self.notify(f"runs sorted by {order}", timeout=3)

    def action_filter_runs(self) -> None:
        self.runs_filter.add_class("-active")
        # at once, not on the next idle as focus() would: keys typed right after "/" are on their way
        self.screen.set_focus(self.runs_filter)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "/", esc and enter are priority bindings (see keys.py), bound only where they mean what the dashboard
        # says: elsewhere (another screen's text field, the filter for "/", a table row for enter) the key is
        # left to the widget that has the focus
        dashboard = self.screen is self.screen_stack[0]
        if action == "filter_runs":
            return dashboard and self.focused is not self.runs_filter
        if action == "clear_filter":
            return dashboard and self.runs_filter.has_class("-active")
        if action == "confirm":
            return dashboard and (self.focused is self.runs_filter or self.page == "atlas")
        return True

    @on(RunsFilter.Changed)
    def _filter_changed(self, event: RunsFilter.Changed) -> None:
        self.table.filter_text = event.value
        self.table.show(self.state)

    def action_clear_filter(self) -> None:
        if not self.runs_filter.has_class("-active"):
            return
        self.runs_filter.value = ""
        self.runs_filter.remove_class("-active")
        self.table.filter_text = ""
        self.table.show(self.state)
        self.screen.set_focus(self.table)

    def action_select_next(self) -> None:
        self.table.action_cursor_down()

    def action_select_previous(self) -> None:
        self.table.action_cursor_up()

    # ------------------------------------------------------------------ commands to the engine
    def _engine(self) -> Any:
        if self.source.read_only:
            what = "the probe view" if self.state.probe else "a run log being viewed"
            self.notify(f"read-only: this is {what}", severity="warning")
            return None
        engine = self.source.engine
        if engine is None:
            self.notify("training has not started yet", severity="warning")
        return engine

    def _cycle(self, field: str, names: tuple[str, ...], step: int) -> None:
        run = self.selected_run()
        engine = self._engine()
        if run is None or engine is None:
            return
        current = getattr(run, field)
        new = names[(names.index(current) + step) % len(names)] if current in names else names[0]
        engine.send(SetRun(run.id, **{"init" if field == "init" else "activation": new}))
        # show the change now; the engine's RunsChanged confirms it a few steps later
        init, activation = (new, run.activation) if field == "init" else (run.init, new)
        self.state.request_spec(run, init, activation)
        self.redraw({TABLE, CURVES, HISTOGRAMS})

    def action_next_init(self) -> None:
        self._cycle("init", INITIALIZER_NAMES, 1)

    def action_previous_init(self) -> None:
        self._cycle("init", INITIALIZER_NAMES, -1)

    def action_next_activation(self) -> None:
        self._cycle("activation", ACTIVATION_NAMES, 1)

    def action_previous_activation(self) -> None:
        self._cycle("activation", ACTIVATION_NAMES, -1)

    def action_add_run(self) -> None:
        run = self.selected_run()
        engine = self._engine()
        if run is None or engine is None:
            return
        init = INITIALIZER_NAMES[(INITIALIZER_NAMES.index(run.init) + 1) % len(INITIALIZER_NAMES)]
        engine.send(AddRun(RunSpec(init, run.activation)))
        self.notify(f"adding a run {init}:{run.activation}")

    def action_remove_run(self) -> None:
        run = self.selected_run()
        engine = self._engine()
        if run is None or engine is None:
            return
        if len(self.state.runs) == 1:
            self.notify("the last run cannot be removed", severity="warning")
            return
        engine.send(RemoveRun(run.id))
        del self.state.runs[run.id]
        self.redraw({TABLE, CURVES, HISTOGRAMS})

    def action_toggle_pause(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        engine.send(TogglePause())
        if self.state.state in ("running", "paused"):
            self.state.state = "paused" if self.state.state == "running" else "running"
            self.redraw({HEADER, TABLE})

    def action_restart_run(self) -> None:
        run = self.selected_run()
        engine = self._engine()
        if run is None or engine is None:
            return
        engine.send(Restart(run.id))
        run.reset()
        run.status = "running"
        self.redraw({TABLE, CURVES, HISTOGRAMS})

    def action_restart_all(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        engine.send(RestartAll())
        for run in self.state.runs.values():
            run.reset()
            run.status = "running"
        self.redraw({TABLE, CURVES, HISTOGRAMS})

    def action_next_device(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        from inittui.training.devices import available_devices

        devices = available_devices()
        current = self.state.device or "cpu"
        if len(devices) == 1:
            self.notify(f"only one device here: {devices[0]}", severity="warning")
            return
        following = devices[(devices.index(current) + 1) % len(devices)] if current in devices else devices[0]
        engine.send(SetDevice(following))
        self.notify(f"moving training to {following}")

    # ------------------------------------------------------------------ view
    def action_histogram_source(self) -> None:
        self.kind = HISTOGRAM_KINDS[(HISTOGRAM_KINDS.index(self.kind) + 1) % len(HISTOGRAM_KINDS)]
        self._record_over_time()
        self._draw_page_views()

    def action_compare(self) -> None:
        self.compare = not self.compare
        self._draw_page_views()

    def action_next_layer(self) -> None:
        depth = max((len(run.layers) for run in self.state.runs.values()), default=1) or 1
        self.compare_layer = (self.compare_layer % depth + 1) % depth
        if not self.compare:
            self.compare = True
        self._draw_page_views()

    def action_toggle_log_scale(self) -> None:
        # the overview's and the curves page's charts keep one choice between them
        shown = self.page_loss if self.page == "curves" else self.loss_plot
        log = shown.toggle_log()
        for plot in (self.loss_plot, self.page_loss):
            if plot.log != log:
                plot.toggle_log()
        self.notify(f"loss on a {'log' if log else 'linear'} scale", timeout=3)

    def action_toggle_smoothing(self) -> None:
        smooth = not self.loss_plot.smooth
        for plot in (self.loss_plot, self.accuracy_plot, self.page_loss, self.page_accuracy):
            if plot.smooth != smooth:
                plot.toggle_smooth()
        self.notify("curves smoothed (EMA), raw faint behind" if smooth else "raw curves", timeout=3)

    # ------------------------------------------------------------------ time cursor
    def _cursor(self, dirty: set[str]) -> None:
        if not self.state.step_store.steps:
            self.notify("no statistics steps yet for the time cursor", severity="warning")
        elif dirty:
            self.redraw(dirty)

    def action_cursor_back(self) -> None:
        self._cursor(self.state.move_cursor(-1))

    def action_cursor_forward(self) -> None:
        self._cursor(self.state.move_cursor(1))

    def action_cursor_first(self) -> None:
        self._cursor(self.state.cursor_to_first())

    def action_cursor_live(self) -> None:
        self._cursor(self.state.cursor_to_live())

    def action_help(self) -> None:
        # imported when first asked for: its Markdown (and the initialisers' torch) would slow every start
        from inittui.ui.help_screen import HelpScreen

        location = self.location()
        self.push_screen(HelpScreen(f"{location.prefix}`{location.path}`{location.suffix}" if location else ""))

    def action_screenshot(self) -> None:
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.save_screenshot(filename=f"inittui-{stamp}.svg", path=str(self.screenshot_dir))
        self.notify(f"screenshot saved to {path}")

    def action_choose_preset(self) -> None:
        if self.make_source is None or self.source.read_only:
            self._engine()  # says why not
            return
        self.push_screen(PresetScreen(self.state.preset), self._preset_chosen)

    def _preset_chosen(self, name: str | None) -> None:
        if name is None:
            return
        old = self.source
        old.stop()
        self.state = DashboardState()
        self.run_dir = None
        self.over_time, self.over_time_key = [], None
        self._start(self.make_source(name, old))
        self.redraw(EVERYTHING)
        self.notify(f"preset {name} started")

    # ------------------------------------------------------------------ palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in palette_entries():
            yield SystemCommand(title, help_text, partial(self.run_action, action))

    # ------------------------------------------------------------------ quitting
    def action_quit(self) -> None:
        self.quit_soon()

    def _post_message(self, message: Message) -> Any:
        # The terminal's input thread calls this (to make the coroutine the UI thread will run) for every
        # key: if the UI thread is stuck, q is answered here instead.
        if (
            isinstance(message, events.Key)
            and message.key == "q"
            and threading.get_ident() != self._thread_id
            and self._ui_busy()
        ):
            self.quit_soon()
        return super()._post_message(message)

    def _ui_busy(self) -> bool:
        return time.monotonic() - self._heartbeat > BUSY_AFTER_S

    def _on_signal(self, signum: int, frame: Any) -> None:
        # the SSH connection dropped (SIGHUP) or we were told to stop (SIGTERM)
        self.quit_soon()

    def quit_soon(self) -> None:
        """Stop training, let the log close, and leave: within QUIT_DEADLINE_S, whatever the UI thread is
        doing. Safe from any thread and from a signal handler."""
        with self._quit_lock:
            if self._quit_started:
                return
            self._quit_started = True
        self._closing_down = True
        threading.Thread(target=self._quit, name="inittui-quit", daemon=True).start()

    def _quit(self) -> None:
        deadline = time.monotonic() + QUIT_DEADLINE_S
        busy = self._ui_busy()
        if busy:
            _yield_cpu()  # a UI thread spinning in a frame must not starve the training child's last steps
        self.source.close(QUIT_TIMEOUT_S)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.exit, 0)
        if self.ended.wait(0.0 if busy else max(0.0, deadline - time.monotonic())) or not self.last_resort_exit:
            return
        # the UI thread did not get round to leaving (stuck in a frame): put the terminal back and go
        try:
            _restore_terminal(self._driver)
        finally:
            os._exit(0)

    async def shutdown(self) -> None:
        """Stop the producer and wait for it (the run log closes) before the app exits."""
        self._closing_down = True
        await asyncio.to_thread(self.source.close, QUIT_TIMEOUT_S)

    async def on_unmount(self) -> None:
        # however the app goes away, the producer must not outlive it, and the log must be complete
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        await self.shutdown()


# what Textual's driver switches on, switched off: kitty keyboard protocol, mouse reports, bracketed paste,
# focus events, the alternate screen; then the cursor shown and line wrapping back on
_TERMINAL_RESET = (
    b"\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[?1049l\x1b[?25h\x1b[?7h"
)


def _restore_terminal(driver: Any) -> None:
    """Put the terminal back as Textual found it, without its threads (the UI thread is stuck): the escape
    sequences written straight to the terminal and its saved mode restored."""
    try:
        os.write(sys.__stdout__.fileno(), _TERMINAL_RESET)
    except (OSError, AttributeError, ValueError):
        pass
    attributes = getattr(driver, "attrs_before", None)
    if attributes is not None:
        try:
            import termios

            termios.tcsetattr(driver.fileno, termios.TCSANOW, attributes)
        except (ImportError, OSError, termios.error):
            pass


def _yield_cpu() -> None:
    """Lowest priority for every thread of this process (Linux sets niceness per thread; raising it is
    always allowed), so that the training child, itself niced, gets the CPU to finish and close its log."""
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, 19)
        except OSError:
            pass


def make_app(
    config: ExperimentConfig | None = None,
    *,
    data: Any = None,
    data_dir: str | None = None,
    log_dir: Path | None = None,
    fps: float = 4.0,
    events: Iterable[Any] | None = None,
    run_dir: Path | None = None,
    screenshot_dir: Path = Path("screenshots"),
) -> InitApp:
    """The dashboard for live training (``config``), a fixed event list (``events``) or a run log (``run_dir``)."""
    if events is not None:
        return InitApp(ReplaySource(events), fps=fps, screenshot_dir=screenshot_dir, threaded=False)
    if run_dir is not None:
        return InitApp(FollowSource(run_dir), fps=fps, screenshot_dir=screenshot_dir)
    if config is None:
        raise ValueError("make_app needs a config, events or a run directory")

    def make_source(preset: str, previous: Source) -> Source:
        from inittui.core.presets import get_preset

        new_config = get_preset(preset).config(device=config.device, seed=config.seed)
        if isinstance(previous, LiveSource):
            return LiveSource(new_config, data=previous.data, data_dir=data_dir, log_dir=log_dir)
        return ProcessSource(new_config, data_dir=data_dir, log_dir=log_dir)

    # tests hand in data and train in a thread; a user's dashboard trains in a child process
    source: Source = (
        LiveSource(config, data=data, data_dir=data_dir, log_dir=log_dir)
        if data is not None
        else ProcessSource(config, data_dir=data_dir, log_dir=log_dir)
    )
    return InitApp(source, fps=fps, make_source=make_source, screenshot_dir=screenshot_dir)


def _run(app: InitApp) -> int:
    app.last_resort_exit = True
    try:
        app.run()
    finally:
        # however the app ended (q, SIGHUP, an exception), training stops and the log is completed
        app.source.close(QUIT_TIMEOUT_S)
        app.ended.set()
    return 0 if app.return_code in (None, 0) else app.return_code


def run_dashboard(config: ExperimentConfig, *, data_dir: str | None, log_dir: Path, fps: float) -> int:
    return _run(make_app(config, data_dir=data_dir, log_dir=log_dir, fps=fps))


def run_viewer(run_dir: Path, *, fps: float) -> int:
    return _run(make_app(run_dir=run_dir, fps=fps))
