"""Headless training: a progress bar and a live accuracy table on stderr, the final table on stdout, and on a
terminal the runs' loss curves at the end."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Any

from inittui.core.config import ExperimentConfig
from inittui.core.events import Evaluation, Event, ExperimentFinished, LayerStats, RunRecord, TrainProgress
from inittui.runlog.fold import RunFold
from inittui.runlog.writer import RunLog
from inittui.training.data import MNISTData
from inittui.training.engine import Engine
from inittui.training.logged import train_logged

REDRAW_INTERVAL_S = 0.25
# into a file (nohup … > train.out): a progress line at least this often, besides one per epoch
LOG_LINE_INTERVAL_S = 30.0
BAR_WIDTH = 30
# the loss chart at the end: the terminal's width up to this, this many lines
CHART_MAX_WIDTH, CHART_HEIGHT = 120, 20


def _percent(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.2f}%"


def _number(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.4f}"


def format_table(results: list[RunRecord], grouped: bool = False) -> str:
    """The accuracy table, one row per run (``grouped``: the experiment has seed groups, each row says its seed)."""
    width = max([len("run")] + [len(r.label(grouped)) for r in results])
    lines = [f"{'run':<{width}}  {'status':<8}  {'steps':>6}  {'loss':>6}  {'test acc':>8}  {'best':>6}"]
    for r in results:
        lines.append(
            f"{r.label(grouped):<{width}}  {r.status:<8}  {r.step:>6}  {_number(r.train_loss)}  "
            f"{_percent(r.test_acc):>8}  {_percent(r.best_test_acc)}"
        )
    return "\n".join(lines)


class HeadlessReporter:
    """Receives the engine's events (on the training thread) and redraws stderr at a capped rate."""

    def __init__(self, engine: Engine, stream: IO[str] | None = None) -> None:
        self.engine = engine
        # stderr as it is now, not as it was when this module was imported
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self._drawn_lines = 0
        self._last_draw = 0.0
        self._last_line = time.monotonic()
        self._samples_per_s = 0.0
        self._grouped = len(engine.config.run_seeds) > 1

    def __call__(self, event: Event) -> None:
        if isinstance(event, TrainProgress):
            self._samples_per_s = event.samples_per_s
            if self.interactive and time.monotonic() - self._last_draw >= REDRAW_INTERVAL_S:
                self._redraw()
            elif not self.interactive and time.monotonic() - self._last_line >= LOG_LINE_INTERVAL_S:
                self._log_line()
        elif isinstance(event, Evaluation):
            if self.interactive:
                self._redraw()
            else:
                self._log_line()

    def _progress_line(self) -> str:
        engine = self.engine
        fraction = min(1.0, max((r.step for r in engine.runs), default=0) / max(engine.total_steps, 1))
        filled = int(fraction * BAR_WIDTH)
        epoch = engine.step / engine.steps_per_epoch
        return (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {100 * fraction:5.1f}%  "
            f"step {engine.step}/{engine.total_steps}  epoch {epoch:.2f}  {self._samples_per_s:,.0f} samples/s"
        )

    def _redraw(self) -> None:
        text = self._progress_line() + "\n" + format_table(self.engine.results(), self._grouped)
        # move the cursor back over what was drawn last time and clear it
        prefix = f"\x1b[{self._drawn_lines}F\x1b[J" if self._drawn_lines else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()
        self._drawn_lines = text.count("\n") + 1
        self._last_draw = time.monotonic()

    def _log_line(self) -> None:
        accuracies = "  ".join(
            f"{r.label(self._grouped)} {_percent(r.test_acc).strip()}" for r in self.engine.results()
        )
        self.stream.write(f"{self._progress_line()}  |  {accuracies}\n")
        self.stream.flush()
        self._last_line = time.monotonic()

    def warn(self, message: str) -> None:
        """One line on the stream, below the live table, which is then drawn again beneath it."""
        self.stream.write(f"inittui: warning: {message}\n")
        self.stream.flush()
        self._drawn_lines = 0

    def finish(self) -> None:
        if self.interactive:
            self._redraw()

    def loss_chart(self, fold: RunFold) -> None:
        """Every run's loss curve, drawn once below the final table, where it stays in the scrollback."""
        from inittui.output.plot import MIN_WIDTH, ChartSize, loss_chart  # plotext loads only where it draws

        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # a stream that is a terminal but has no descriptor
            columns = 0
        columns = columns or CHART_MAX_WIDTH  # a terminal that does not say its size says 0
        size = ChartSize(max(min(columns, CHART_MAX_WIDTH), MIN_WIDTH), CHART_HEIGHT)
        self.stream.write(loss_chart(fold, size, color=True) + "\n")
        self.stream.flush()


class LayerStdTracker:
    """Keeps the first and latest measured activation std of every run's layers, and the predicted one,
    for the JSON summary."""

    def __init__(self) -> None:
        self.first: dict[int, list[float | None]] = {}
        self.latest: dict[int, list[float | None]] = {}
        self.predicted: dict[int, list[float | None]] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, LayerStats):
            for run_id, layers, predicted in zip(event.run_ids, event.layers, event.predicted_std):
                stds = [layer.std for layer in layers]
                self.first.setdefault(run_id, stds)
                self.latest[run_id] = stds
                self.predicted[run_id] = predicted


def run_headless(config: ExperimentConfig, data: MNISTData, log: RunLog, json_output: bool) -> int:
    """Train ``config`` to the end; returns the process exit status.

    If the run log cannot be written (a full disk), training goes on: one warning at once, the results as
    usual at the end, then exit status 1 with "run log incomplete".
    """
    # first, before the data reaches the device: where to look, for a user whose output goes to a file
    runs, seeds = len(config.runs), len(config.run_seeds)
    replicas = f" × {seeds} seeds" if seeds > 1 else ""
    print(f"inittui: training {config.preset} ({runs} run{'s' if runs != 1 else ''}{replicas}, "
          f"{config.total_steps(len(data.train_labels)):,} steps); run log {log.run_dir}", file=sys.stderr, flush=True)
    tracker = LayerStdTracker()
    # the events folded as the dashboard folds them: the loss chart at the end draws from the same curves
    fold = RunFold()
    reporters: list[HeadlessReporter] = []

    def emit(event: Event) -> None:
        tracker(event)
        fold.apply(event)
        reporters[0](event)

    finished, engine = train_logged(
        config, data, log, emit,
        on_log_failure=lambda failure: reporters[0].warn(f"{failure}; training goes on"),
        on_engine=lambda engine: reporters.append(HeadlessReporter(engine)),
    )
    reporter = reporters[0]
    reporter.finish()
    if reporter.interactive:
        reporter.loss_chart(fold)

    if json_output:
        print(json.dumps(summary_json(config, engine, finished, str(log.run_dir), tracker)))
    else:
        print(format_table(finished.results, len(config.run_seeds) > 1))
        print(f"{finished.status}: {finished.step} steps in {finished.elapsed_s:.1f} s, "
              f"{finished.samples_per_s:,.0f} samples/s; log: {log.run_dir}")
    if finished.status == "error":
        print(f"inittui: error: {finished.message}", file=sys.stderr)
        return 1
    if log.failure is not None:
        print(f"inittui: error: run log incomplete: {log.failure}", file=sys.stderr)
        return 1
    return 130 if finished.status == "stopped" else 0


def summary_json(
    config: ExperimentConfig, engine: Engine, finished: ExperimentFinished, run_dir: str, tracker: LayerStdTracker
) -> dict[str, Any]:
    runs = []
    for result in finished.results:
        measured_first = tracker.first.get(result.id, [])
        measured_latest = tracker.latest.get(result.id, [])
        predicted = tracker.predicted.get(result.id, [])
        runs.append(
            {
                "name": result.name,
                "init": result.spec.init,
                "activation": result.spec.activation,
                "seed": result.seed,
                "status": result.status,
                "steps": result.step,
                "train_loss": result.train_loss,
                "test_acc": result.test_acc,
                "best_test_acc": result.best_test_acc,
                "layers": [
                    {
                        "initial_std": measured_first[i] if i < len(measured_first) else None,
                        "std": measured_latest[i] if i < len(measured_latest) else None,
                        "predicted_std": predicted[i] if i < len(predicted) else None,
                    }
                    for i in range(config.depth)
                ],
            }
        )
    return {
        "preset": config.preset,
        "device": str(engine.device),
        "run_dir": run_dir,
        "samples_per_s": finished.samples_per_s,
        "runs": runs,
    }
