"""Where every number on the screen comes from: what each widget shows, read from the view model.

Each function takes the :class:`~inittui.dashboard.model.DashboardModel` and returns plain data
(:mod:`inittui.dashboard.views`). A run is shown as the engine last told it, or as the user has just asked for
it (a change not yet confirmed: "starting", no numbers), or, with the time cursor on a past step, as the life
of the run that was training then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from inittui.core import format as fmt
from inittui.core.events import Histogram, LayerStat, RunRecord, RunSpectrum, unit_shares
from inittui.core.spread import mean_and_std
from inittui.dashboard.model import NEW_TRAINING_HINT, DashboardModel
from inittui.dashboard.views import (
    ChartView,
    Curve,
    CurvesView,
    DepthSeries,
    HeaderView,
    HistogramsView,
    LegendEntry,
    Location,
    Panel,
    Points,
    Reading,
    SeedBand,
    SeedSpread,
    TableRow,
)
from inittui.runlog.fold import FoldedRun, RunLife
from inittui.series.curve import MinMaxSeries
from inittui.series.density import onto_range

# one colour per run id, the same in the table, the curves and the histograms
RUN_COLOURS = (
    "#e06c75",  # red
    "#61afef",  # blue
    "#98c379",  # green
    "#e5c07b",  # yellow
    "#c678dd",  # magenta
    "#56b6c2",  # cyan
    "#d19a66",  # orange
    "#abb2bf",  # grey
)
# the legend names every run up to LEGEND_ALL; beyond that the selected run and the LEGEND_BEST best
LEGEND_ALL, LEGEND_BEST = 8, 3
# more runs than this in compare mode: all but the selected one are drawn faint in the depth view
DIM_BEYOND = 6
# the engine tells progress every second: this long without a word, the header says when it last did
SILENCE_SHOWN_S = 5.0
# what the histogram panel's σ reads for each source, and what the prediction is of
MEASURED = {"activations": "std", "preactivations": "preactivation_std", "gradients": "grad_norm",
            "weights": "weight_std"}


def run_colour(run_id: int) -> str:
    return RUN_COLOURS[run_id % len(RUN_COLOURS)]


# ---------------------------------------------------------------------------------------------- one run
def shown_life(model: DashboardModel, run: FoldedRun) -> RunLife | None:
    """The life of ``run`` the screen shows: the one training at the time cursor's step, or the latest."""
    return run.life if model.cursor_step is None else run.life_at(model.cursor_step)


def shown_record(model: DashboardModel, run: FoldedRun) -> RunRecord:
    """``run`` as the table, the atlas and the legend show it (its status as shown: an experiment-wide pause or
    stop shows on every running run)."""
    pending = model.pending_change(run.id)
    if pending is not None and pending.spec is not None:
        return RunRecord(run.id, pending.spec, "starting")
    life = shown_life(model, run)
    if life is None:
        return RunRecord(run.id, run.record.spec, "not started")
    if model.cursor_step is None:
        record = life.record
    else:
        record = life.record_at(model.cursor_step - life.started_at)
        layers, _, _ = shown_layers(model, run)
        record = replace(record, **dict(zip(("dead", "saturated"), unit_shares(layers))))
    state = model.experiment.state
    if record.status == "running" and state in ("paused", "stopped", "error", "interrupted"):
        record = replace(record, status=state)
    return record


def shown_layers(model: DashboardModel, run: FoldedRun) -> tuple[list[LayerStat], list[float | None], int | None]:
    """``run``'s hidden layers as every page draws them (index 0 is hidden layer 1), their predicted std and
    the statistics step they were measured at: the latest, or the time cursor's."""
    pending = model.pending_change(run.id)
    if pending is not None and pending.spec is not None:
        return [], [], None
    if model.cursor_step is None:
        life = run.life
        return life.layers, life.predicted, life.layers_step
    stats = model.cursor_stats
    if stats is None or run.id not in stats.run_ids or run.life_at(model.cursor_step) is None:
        return [], [], None
    index = stats.run_ids.index(run.id)
    predicted = list(stats.predicted_std[index]) if index < len(stats.predicted_std) else []
    return stats.layers[index], predicted, model.cursor_step


def shown_spectrum(model: DashboardModel, run: FoldedRun) -> tuple[int, RunSpectrum] | None:
    """(step, spectrum) of ``run`` as the depth page shows it: the latest, or the latest at the time cursor."""
    pending = model.pending_change(run.id)
    if pending is not None and pending.spec is not None:
        return None
    if model.cursor_step is None:
        return run.life.spectrum_at(None)
    life = run.life_at(model.cursor_step)
    return life.spectrum_at(model.cursor_step) if life is not None else None


def _spectrum_number(value: float | None) -> str:
    """3 significant digits, 1000–9999 as whole numbers (fmt.short would write 2.02e+03)."""
    if value is not None and math.isfinite(value) and 1e3 <= abs(value) < 1e4:
        return f"{value:.0f}"
    return fmt.short(value)


def spectrum_notes(shown: tuple[int, RunSpectrum] | None) -> tuple[str, str]:
    """The depth page's written numbers: the spectrum's, and the correlation map's fixed point and depth scale."""
    if shown is None:
        return "no spectrum yet", ""
    step, spectrum = shown
    xi = spectrum.xi_c
    depth = fmt.DASH if xi is None else "∞" if math.isinf(xi) else _spectrum_number(xi)
    return (f"s_max {_spectrum_number(spectrum.s_max)} · median {_spectrum_number(spectrum.s_median)} · "
            f"ratio {_spectrum_number(spectrum.ratio)} (step {step:,})",
            f"c* {_spectrum_number(spectrum.c_star)} · ξ_c {depth} (predicted)")


# ---------------------------------------------------------------------------------------------- the table
def _unknown_last(value: float | None, sign: float) -> tuple[bool, float]:
    """A sort key: known finite values by ``sign`` × value, then unknown, NaN and infinite ones."""
    known = value is not None and math.isfinite(value)
    return (not known, sign * value if known else 0.0)


# (name, key) of each order the table cycles through; ties keep the order of run ids
SORT_ORDERS: tuple[tuple[str, Callable[[RunRecord], object]], ...] = (
    ("id", lambda record: record.id),
    ("best test accuracy", lambda record: _unknown_last(record.best_test_acc, -1.0)),
    ("train loss", lambda record: _unknown_last(record.train_loss, 1.0)),
    ("name", lambda record: record.name),
)


def matches(record: RunRecord, text: str) -> bool:
    """Whether a run is shown under the filter ``text``: a case-insensitive part of its id, its
    ``init:activation`` name or its status (``relu``, ``he:``, ``diverged``)."""
    wanted = text.strip().lower()
    return not wanted or wanted in f"{record.id} {record.name} {record.status}".lower()


def table_records(model: DashboardModel) -> list[RunRecord]:
    """The runs the table lists, as shown, in its order and under its filter."""
    records = [shown_record(model, run) for run in model.shown_runs()]
    shown = [record for record in records if matches(record, model.view.filter_text)]
    return sorted(shown, key=SORT_ORDERS[model.view.sort_order][1])


def row_cells(record: RunRecord, steps_per_epoch: float, seed: bool = False) -> dict[str, str]:
    """One run's cells; with ``seed``, a replica of an expanded seed group, its seed after its initialiser."""
    return {
        "run": f"● {record.id}",
        "init": record.spec.init + (f" s{record.seed}" if seed and record.seed is not None else ""),
        "activation": record.spec.activation,
        "status": record.status,
        "epoch": fmt.epoch_cell(record.step / max(steps_per_epoch, 1)),
        "step": fmt.step_cell(record.step),
        "loss": fmt.loss_cell(record.train_loss),
        "acc": fmt.percent_cell(record.train_acc),
        "test": fmt.percent_cell(record.test_acc),
        "best": fmt.percent_cell(record.best_test_acc),
        "deadsat": fmt.shares_cell(record.dead, record.saturated),
    }


def _over_seeds(records: list[RunRecord], number: Callable[[RunRecord], float | None]) -> tuple[float | None, float | None]:
    """Mean and std of a number over a group's seeds that did not diverge and have it; (None, None) if none does."""
    values = [value for value in map(number, records) if value is not None and math.isfinite(value)]
    return mean_and_std(values) if values else (None, None)


def _spread(value: float | None, text: Callable[[float], str]) -> str:
    return "" if value is None else f"±{text(value)}"


def _loss_spread(std: float) -> str:
    """A loss's std under its mean, ``±`` and at most 4 characters (the column keeps a space): 0.09, 12.3, 3e3."""
    if std < 9.995:
        return f"{std:.2f}"
    return f"{std:.1f}" if std < 99.95 else fmt.exponent(std)


def _percent_spread(std: float) -> str:
    """An accuracy's std in points under its mean, at most 3 characters: 0.3, 12."""
    return f"{100 * std:.1f}" if 100 * std < 9.95 else f"{100 * std:.0f}"


def group_status(records: list[RunRecord]) -> str:
    """The status every seed of a group has, or ``mixed``."""
    statuses = {record.status for record in records}
    return statuses.pop() if len(statuses) == 1 else "mixed"


def group_cells(records: list[RunRecord], steps_per_epoch: float) -> dict[str, str]:
    """A seed group's cells: each number the mean over the seeds that did not diverge, its std below it."""
    trained = [record for record in records if record.status != "diverged"]
    diverged = len(records) - len(trained)
    numbers = {key: _over_seeds(trained, lambda record, key=key: getattr(record, key))
               for key in ("train_loss", "train_acc", "test_acc", "best_test_acc", "dead", "saturated")}
    cells = {
        "run": f"●×{len(records)}\n",
        "init": f"{records[0].spec.init}\n{len(records)} seeds",
        "activation": f"{records[0].spec.activation}\n",
        "status": group_status(records) + (f"\n{diverged} div" if diverged else "\n"),
        "epoch": fmt.epoch_cell(max(record.step for record in records) / max(steps_per_epoch, 1)) + "\n",
        "step": fmt.step_cell(max(record.step for record in records)) + "\n",
        "loss": f"{fmt.loss_cell(numbers['train_loss'][0])}\n{_spread(numbers['train_loss'][1], _loss_spread)}",
    }
    for key, number in (("acc", "train_acc"), ("test", "test_acc"), ("best", "best_test_acc")):
        mean, std = numbers[number]
        cells[key] = f"{fmt.percent_cell(mean)}\n{_spread(std, _percent_spread)}"
    (dead, dead_std), (saturated, saturated_std) = numbers["dead"], numbers["saturated"]
    shares_std = "" if dead_std is None and saturated_std is None else "±" + fmt.shares_cell(dead_std, saturated_std)
    cells["deadsat"] = f"{fmt.shares_cell(dead, saturated)}\n{shares_std}"
    return cells


def seed_grouped(model: DashboardModel) -> bool:
    """Whether the experiment trains seed groups (more than one seed); without, two runs that share an
    ``init:activation`` are two runs, not two seeds."""
    return len(model.experiment.config.get("seeds") or []) > 1


def seed_group(model: DashboardModel, run: FoldedRun) -> list[FoldedRun]:
    """The runs of ``run``'s seed group, in id order: the shown runs of its ``init:activation`` as shown (a change
    asked for counts), whatever the table's filter hides; ``run`` alone without seed groups."""
    if not seed_grouped(model):
        return [run]
    name = shown_record(model, run).name
    return [other for other in model.shown_runs() if shown_record(model, other).name == name]


def table_rows(model: DashboardModel) -> list[TableRow]:
    """One row per run; in an experiment of seed groups, the runs of one ``init:activation`` (a group's
    replicas) one row of mean ± std where the first of them stands in the table's order, or each its own row
    where the group is expanded."""
    per_epoch = model.experiment.steps_per_epoch
    records = table_records(model)
    groups: dict[str | int, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.name if seed_grouped(model) else record.id, []).append(record)
    rows: list[TableRow] = []
    for record in records:
        group = groups[record.name if seed_grouped(model) else record.id]
        if len(group) == 1 or record.name in model.view.expanded_groups:
            rows.append(TableRow(record.id, run_colour(record.id), record.status,
                                 row_cells(record, per_epoch, seed=len(group) > 1)))
        elif record is group[0]:
            rows.append(TableRow(record.id, run_colour(record.id), group_status(group), group_cells(group, per_epoch),
                                 tuple(r.id for r in group)))
    return rows


def row_of(rows: list[TableRow], run_id: int | None) -> int | None:
    """Which row shows the run ``run_id`` (itself, or its folded seed group)."""
    return next((index for index, row in enumerate(rows) if run_id in row.runs), None)


def neighbour(model: DashboardModel, step: int) -> int | None:
    """The run of the row ``step`` rows below (above, negative) the selected one's in the table, staying at its
    ends (a folded seed group's row stands for its first run)."""
    rows = table_rows(model)
    if not rows:
        return None
    here = row_of(rows, model.view.selected)
    return rows[min(max((here or 0) + step, 0), len(rows) - 1)].run_id


# ---------------------------------------------------------------------------------------------- curves
def _rank(record: RunRecord) -> tuple[float, float]:
    """Best first: the highest best test accuracy, then the lowest train loss; unknowns last."""
    accuracy = record.best_test_acc if record.best_test_acc is not None and math.isfinite(record.best_test_acc) else -1.0
    loss = record.train_loss if record.train_loss is not None and math.isfinite(record.train_loss) else math.inf
    return (-accuracy, loss)


def legend_entries(records: list[RunRecord], selected: int | None) -> list[LegendEntry]:
    """The runs the legend names (all up to LEGEND_ALL; beyond that the selected one and the LEGEND_BEST best
    others), with the run id where two runs share a name."""
    if len(records) <= LEGEND_ALL:
        named = list(records)
    else:
        others = sorted((record for record in records if record.id != selected), key=_rank)
        named = [record for record in records if record.id == selected] + others[:LEGEND_BEST]
    names = [record.name for record in records]
    return [
        LegendEntry(record.name if names.count(record.name) == 1 else f"{record.id} {record.name}",
                    run_colour(record.id), record.id == selected)
        for record in named
    ]


def _group_curves(model: DashboardModel) -> CurvesView:
    """In an experiment of seed groups: each ``init:activation`` one curve, its mean over the seeds that did not
    diverge with a band from the lowest to the highest of them, and its test accuracy the mean over those seeds
    at each evaluation; the legend says how many seeds a group has and how many diverged. A group one of whose
    seeds is hidden (x) is hidden whole."""
    selected = model.view.selected
    groups: dict[str, list[tuple[RunRecord, RunLife]]] = {}
    records: list[RunRecord] = []
    for run in model.shown_runs():
        record = shown_record(model, run)
        records.append(record)
        life = shown_life(model, run)
        pending = model.pending_change(run.id)
        if life is not None and (pending is None or pending.spec is None):
            groups.setdefault(record.name, []).append((record, life))
    loss: list[Curve] = []
    accuracy: list[Curve] = []
    tests: list[Curve] = []
    legend: list[LegendEntry] = []
    for name, members in groups.items():
        if any(record.id in model.view.hidden_runs for record, _ in members):
            continue
        trained = [(record, life) for record, life in members if record.status != "diverged"]
        first = members[0][0].id
        colour, chosen = run_colour(first), any(record.id == selected for record, _ in members)
        diverged = len(members) - len(trained)
        legend.append(LegendEntry(f"{name} ×{len(members)}" + (f" {diverged} div" if diverged else ""), colour, chosen))
        if not trained:
            continue
        loss.append(Curve(colour, SeedBand([life.loss for _, life in trained]), selected=chosen))
        accuracy.append(Curve(colour, SeedBand([life.accuracy for _, life in trained]), selected=chosen))
        by_step: dict[int, list[float]] = {}
        for _, life in trained:
            for step, value in life.test:
                by_step.setdefault(step, []).append(value)
        steps = sorted(by_step)
        tests.append(Curve(colour, Points(np.array(steps, dtype=np.float64),
                                          np.array([np.mean(by_step[step]) for step in steps], dtype=np.float64)),
                           scatter=True, selected=chosen))
    return CurvesView(loss, accuracy + tests, legend, len(legend), model.experiment.steps_per_epoch)


def curves(model: DashboardModel) -> CurvesView:
    """Every shown run's loss and accuracy curves, of the life the screen shows, but those hidden (x); a run
    whose change is not confirmed yet has none. In an experiment of seed groups, a band per group
    (:func:`_group_curves`)."""
    if seed_grouped(model):
        return _group_curves(model)
    selected, hidden_ids = model.view.selected, model.view.hidden_runs
    loss: list[Curve] = []
    accuracy: list[Curve] = []
    tests: list[Curve] = []
    records: list[RunRecord] = []
    hidden: list[str] = []
    marker = None
    for run in model.shown_runs():
        if run.id in hidden_ids:
            hidden.append(shown_record(model, run).name)
            continue
        records.append(shown_record(model, run))
        life = shown_life(model, run)
        pending = model.pending_change(run.id)
        if life is None or (pending is not None and pending.spec is not None):
            continue
        colour, chosen = run_colour(run.id), run.id == selected
        loss.append(Curve(colour, life.loss, selected=chosen))
        accuracy.append(Curve(colour, life.accuracy, selected=chosen))
        test_x = np.array([step for step, _ in life.test], dtype=np.float64)
        test_y = np.array([value for _, value in life.test], dtype=np.float64)
        tests.append(Curve(colour, Points(test_x, test_y), scatter=True, selected=chosen))
        if chosen and model.cursor_step is not None:
            marker = float(model.cursor_step - life.started_at)
    return CurvesView(loss, accuracy + tests, legend_entries(records, selected), len(records),
                      model.experiment.steps_per_epoch, marker, hidden)


def chart_extent(view: CurvesView) -> float:
    """The last step the curves reach (counted from each run's start, as they are drawn): what the
    full-screen chart can zoom and pan over."""
    lasts = [curve.series.last_step for curve in view.loss
             if isinstance(curve.series, MinMaxSeries) and curve.series.last_step is not None]
    return float(max(lasts, default=0))


def full_chart(model: DashboardModel, chart: str) -> ChartView:
    """The ``chart`` ("loss" or "accuracy") full screen: its window's steps, and each shown run's value under
    the cursor, the selected run first."""
    view = curves(model)
    extent = chart_extent(view)
    window = model.view.chart_window
    cursor = window.cursor_at(extent)
    readings = []
    for run in model.shown_runs():
        life = shown_life(model, run)
        pending = model.pending_change(run.id)
        if run.id in model.view.hidden_runs or life is None or (pending is not None and pending.spec is not None):
            continue
        series = life.loss if chart == "loss" else life.accuracy
        readings.append(Reading(f"{run.id} {shown_record(model, run).name}", run_colour(run.id),
                                series.value_at(round(cursor)), run.id == model.view.selected))
    readings.sort(key=lambda reading: not reading.selected)
    return ChartView(view, window.visible(extent), cursor, readings)


# ---------------------------------------------------------------------------------------------- layers
def _measured(stat: LayerStat, kind: str) -> float | None:
    return getattr(stat, MEASURED[kind])


def _predicted(stat: LayerStat, kind: str, predicted_std: float | None) -> float | None:
    if kind == "activations":
        return predicted_std
    return stat.predicted_weight_std if kind == "weights" else None


def _panel(title: str, run_id: int, stat: LayerStat | None, predicted_std: float | None, kind: str) -> Panel:
    label = "|g|" if kind == "gradients" else "σ"
    if stat is None:
        return Panel(title, run_colour(run_id), None, None, None, label)
    return Panel(title, run_colour(run_id), stat.histograms.get(kind), _measured(stat, kind),
                 _predicted(stat, kind, predicted_std), label)


def on_one_range(panels: list[Panel]) -> list[Panel]:
    """The panels' histograms re-binned onto the range that holds them all, so that their layers compare."""
    shown = [panel.histogram for panel in panels if panel.histogram is not None
             and math.isfinite(panel.histogram.low) and math.isfinite(panel.histogram.high)]
    if len(shown) < 2:
        return panels
    low, high = min(h.low for h in shown), max(h.high for h in shown)
    bins = max(len(h.counts) for h in shown)
    result = []
    for panel in panels:
        histogram = panel.histogram
        counts = None if histogram is None else onto_range(histogram.counts, histogram.low, histogram.high,
                                                           low, high, bins)
        result.append(panel if counts is None else replace(panel, histogram=Histogram(low, high, counts)))
    return result


def histograms(model: DashboardModel) -> HistogramsView:
    """The selected run's hidden layers, or in compare mode one layer of every run, of the histogram source
    the user chose."""
    view = model.view
    kind = view.kind
    source = "probe: activations on random input" if model.experiment.state == "probe" else kind
    if model.cursor_step is not None:
        source += f" at {model.cursor_label()}" + (" (line unreadable)" if model.cursor_unreadable else "")
    if view.compare:
        shown = [(run, shown_layers(model, run)) for run in model.shown_runs()]
        depth = max((len(layers) for _, (layers, _, _) in shown), default=0)
        layer = view.compare_layer % depth if depth else 0
        panels = []
        for run, (layers, predicted, _) in shown:
            stat = layers[layer] if layer < len(layers) else None
            panels.append(_panel(f"{run.id} {shown_record(model, run).name}", run.id, stat,
                                 predicted[layer] if layer < len(predicted) else None, kind))
        return HistogramsView(_ranged(model, panels),
                              f"{source} · layer {layer + 1} of every run{_range_note(model)} (c: back, l: next layer)")
    run = model.selected
    if run is None:
        return HistogramsView([], source, "no runs")
    layers, predicted, _ = shown_layers(model, run)
    panels = [_panel(f"L{index + 1}", run.id, stat, predicted[index] if index < len(predicted) else None, kind)
              for index, stat in enumerate(layers)]
    record = shown_record(model, run)
    spec = record.spec
    # a user's initialiser states no variance: its p is the mean field of the variance its weights were drawn with
    drawn = " · p from the drawn variance" if spec.init in model.experiment.config.get("user_initializers", {}) else ""
    # in a seed group: which seed these layers are, and the key that shows the next one's
    grouped = seed_grouped(model)
    seeds = ", n: next seed" if grouped else ""
    return HistogramsView(_ranged(model, panels), f"{source} · run {run.id} {record.label(grouped)}{drawn}"
                          f"{_range_note(model)} (h: source, u: ranges, c: compare{seeds})", "no layer statistics yet")


def _ranged(model: DashboardModel, panels: list[Panel]) -> list[Panel]:
    return on_one_range(panels) if model.view.shared_ranges else panels


def _range_note(model: DashboardModel) -> str:
    return " · one range" if model.view.shared_ranges else " · each its own range"


def depth_series(model: DashboardModel) -> list[DepthSeries]:
    """What the depth view plots: the selected run, or every run in compare mode with the selected on top. In an
    experiment of seed groups, each run's group instead: its mean per layer with its seeds' range."""
    selected = model.selected
    runs = list(model.shown_runs()) if model.view.compare else [selected] if selected is not None else []
    if selected is not None and selected in runs:
        runs.remove(selected)
        runs.append(selected)  # drawn last, on top
    if seed_grouped(model):
        return _group_depth_series(model, runs)
    dim = len(runs) > DIM_BEYOND
    return [_run_depth_series(model, run, f"{run.id} {shown_record(model, run).name}", dim and run is not selected)
            for run in runs]


def _run_depth_series(model: DashboardModel, run: FoldedRun, label: str, dim: bool) -> DepthSeries:
    layers, predicted, _ = shown_layers(model, run)
    shown = shown_spectrum(model, run)
    spectrum = shown[1] if shown is not None else None
    spectrum_note, correlation_note = spectrum_notes(shown)
    return DepthSeries(
        label,
        run_colour(run.id),
        activation_std=[stat.std for stat in layers],
        predicted_std=[predicted[i] if i < len(predicted) else None for i in range(len(layers))],
        gradient_std=[stat.activation_grad_std for stat in layers],
        weight_gradient_norm=[stat.grad_norm for stat in layers],
        update_ratio=[stat.update_ratio for stat in layers],
        prefix_ratio=spectrum.prefix_ratio if spectrum else (),
        correlation=spectrum.correlation if spectrum else (),
        predicted_correlation=spectrum.predicted_correlation if spectrum else (),
        log10_histogram=spectrum.log10_histogram if spectrum else (),
        spectrum_note=spectrum_note,
        correlation_note=correlation_note,
        dim=dim,
    )


# the depth view's per-layer numbers, each a group's mean with its seeds' range
DEPTH_FIELDS = ("activation_std", "predicted_std", "gradient_std", "weight_gradient_norm", "update_ratio",
                "prefix_ratio", "correlation", "predicted_correlation")


def _group_depth_series(model: DashboardModel, runs: list[FoldedRun]) -> list[DepthSeries]:
    """One series per seed group of ``runs`` (in their order, the selected run's last): the mean per layer over
    the seeds that did not diverge (all of them where every one did), the lowest and highest seed's in
    ``seed_range``; its spectrum's numbers are the selected seed's, or the first's."""
    shown = model.shown_runs()
    names = list(dict.fromkeys(shown_record(model, run).name for run in runs))
    selected = model.selected
    if selected is not None and selected in runs:  # the selected run's group drawn last, on top
        names.remove(shown_record(model, selected).name)
        names.append(shown_record(model, selected).name)
    dim = len(names) > DIM_BEYOND
    result = []
    for name in names:
        members = [run for run in shown if shown_record(model, run).name == name]
        diverged = [run for run in members if shown_record(model, run).status == "diverged"]
        trained = [run for run in members if run not in diverged] or members
        named = next((run for run in members if run is selected), members[0])
        label = f"{members[0].id} {name} ×{len(members)}" + (f" {len(diverged)} div" if diverged else "")
        series = [_run_depth_series(model, run, label, False) for run in trained]
        note = _run_depth_series(model, named, label, False)
        # the spectrum's histogram is one seed's, as its notes are: a histogram has no mean per layer
        group = DepthSeries(label, run_colour(members[0].id), spectrum_note=note.spectrum_note,
                            correlation_note=note.correlation_note, log10_histogram=note.log10_histogram,
                            dim=dim and selected not in members)
        for key in DEPTH_FIELDS:
            mean, low, high = _over_layers([getattr(item, key) for item in series])
            setattr(group, key, mean)
            if len(series) > 1:
                group.seed_range[key] = (low, high)
        result.append(group)
    return result


def _over_layers(seeds: list) -> tuple[list[float | None], list[float | None], list[float | None]]:
    """Per layer, over the seeds that have a finite number there: the mean, the lowest and the highest."""
    layers = max((len(values) for values in seeds), default=0)
    matrix = np.full((len(seeds), layers), np.nan)
    for row, values in enumerate(seeds):
        matrix[row, : len(values)] = [np.nan if value is None else value for value in values]
    matrix[~np.isfinite(matrix)] = np.nan
    present = np.isfinite(matrix).any(axis=0)

    def listed(function) -> list[float | None]:
        values = np.full(layers, np.nan)
        if present.any():
            values[present] = function(matrix[:, present], axis=0)
        return [float(value) if np.isfinite(value) else None for value in values]

    return listed(np.nanmean), listed(np.nanmin), listed(np.nanmax)


# the numbers an atlas cell can be coloured by: the RunRecord fields the atlas's metrics read
ATLAS_NUMBERS = ("best_test_acc", "train_loss", "dead", "saturated")


def atlas_records(model: DashboardModel) -> list[RunRecord]:
    """Every shown run as the atlas's cells show it: at the time cursor's step, as the runs table does. In an
    experiment of seed groups, one record per ``init:activation``: its first seed's, each number the mean over
    the seeds that did not diverge (diverged where every seed did); :func:`atlas_spreads` has the rest."""
    return [record for record, _ in _atlas_cells(model)]


def atlas_spreads(model: DashboardModel) -> dict[int, SeedSpread]:
    """Each seed group's spread, by the run id its atlas cell carries; empty without seed groups."""
    return {record.id: spread for record, spread in _atlas_cells(model) if spread is not None}


def _atlas_cells(model: DashboardModel) -> list[tuple[RunRecord, SeedSpread | None]]:
    records = [shown_record(model, run) for run in model.shown_runs()]
    if not seed_grouped(model):
        return [(record, None) for record in records]
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.name, []).append(record)
    return [_group_cell(group) for group in groups.values()]


def _group_cell(group: list[RunRecord]) -> tuple[RunRecord, SeedSpread]:
    trained = [record for record in group if record.status != "diverged"]
    numbers = {key: _over_seeds(trained, lambda record, key=key: getattr(record, key)) for key in ATLAS_NUMBERS}
    mean = replace(group[0], status=group_status(trained) if trained else "diverged",
                   step=max(record.step for record in group), **{key: m for key, (m, _) in numbers.items()})
    return mean, SeedSpread(tuple(record.id for record in group), len(group) - len(trained),
                            {key: std for key, (_, std) in numbers.items()})


# ---------------------------------------------------------------------------------------------- header
def device_label(model: DashboardModel) -> str:
    experiment = model.experiment
    if not experiment.device_name:
        return ""
    if experiment.device.startswith("cuda") and experiment.device_memory_mb is not None:
        return f"{experiment.device_name} ({experiment.device}), {experiment.device_memory_mb:,.0f} MiB in use"
    if experiment.device.startswith("cuda"):
        return f"{experiment.device_name} ({experiment.device})"
    return experiment.device_name


def location(model: DashboardModel) -> Location | None:
    """The run log's directory, as the header shows it (shortened) and the help screen (in full)."""
    status = model.status
    if status.viewing is not None:
        return Location(status.viewing, "viewing ", " (read-only)", essential=True)
    if status.run_dir is not None and not status.data_message:
        return Location(status.run_dir)
    return None


def progress_label(model: DashboardModel, now: float | None = None) -> str:
    """Epoch and step, and how long ago they were told when that is long enough to look hung (one slow step)."""
    experiment = model.experiment
    label = f"epoch {experiment.epoch:.2f} step {experiment.step:,}/{experiment.total_steps:,}"
    silent = model.silent_s(now)
    if silent is not None and silent >= SILENCE_SHOWN_S:
        label += f" (last report {silent:.0f} s ago)"
    return label


def header(model: DashboardModel, page: str, now: float | None = None) -> HeaderView:
    """``now``: the monotonic time the clock reads (by default, the present)."""
    experiment = model.experiment
    return HeaderView(
        page=page,
        state=experiment.state,
        preset=experiment.preset,
        probe=experiment.state == "probe",
        cursor=model.cursor_label(),
        progress=progress_label(model, now),
        speed=f"{experiment.samples_per_s:,.0f} samples/s",
        elapsed=fmt.elapsed(model.elapsed_s(now)),
        device=device_label(model),
        dataset=experiment.dataset,
        extra="no MNIST: --data-dir DIR or INITTUI_DATA_DIR" if model.status.data_message else "",
        location=location(model),
        problems=problems(model),
        spectrum=spectrum_cadence(model) if model.view.page == "depth" else "",
    )


def spectrum_cadence(model: DashboardModel) -> str:
    """When the spectrum was last measured and how far apart the last two were: its cadence is its own (it
    follows its time budget, and a run started afresh is measured at once), so it is written out."""
    experiment = model.experiment
    if experiment.spectrum_step is None:
        return "no spectrum yet"
    interval = f" · every ~{experiment.spectrum_interval:,}" if experiment.spectrum_interval else ""
    return f"spectrum @ step {experiment.spectrum_step:,}{interval}"


def problems(model: DashboardModel) -> list[str]:
    """The problems that last; training that has ended says how to train again (a viewed log cannot)."""
    status = model.status
    hint = f" · training has ended; {NEW_TRAINING_HINT}" if status.ended and not status.read_only else ""
    return [problem + hint if problem == status.ended else problem for problem in status.problems]
