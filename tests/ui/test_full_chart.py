"""The full-screen chart (f): it opens on the focused chart, zooms and pans over the steps its axis shows, hides
a run's curves with x, reads out run, step and value under its cursor, follows live training, and closes."""

from __future__ import annotations

import time

import numpy as np

from inittui.core.events import ExperimentStarted, TrainProgress
from inittui.core.presets import get_preset
from inittui.dashboard.views import Curve, Points
from inittui.series.curve import MinMaxSeries
from inittui.ui.app import make_app
from inittui.ui.curves import plot_columns, render_curves
from inittui.ui.screens.chart import ChartScreen, FullChart

from support.dashboard import live_app, press, started, wait_for
from support.records import record
from support.views import colour_of

SIZE = (120, 40)
STEPS, CHUNK = 1000, 100
# (init, activation, constant loss): each run's value is the same at every step, so a readout can be checked
RUNS = (("he", "relu", 0.5), ("xavier", "tanh", 1.0), ("normal-0.01", "tanh", 2.0))


def events() -> list:
    runs = [record(i, init, act) for i, (init, act, _) in enumerate(RUNS)]
    ids = [run.id for run in runs]
    stream: list = [ExperimentStarted(get_preset("compare").config().to_dict(), "cpu", "CPU", "synthetic",
                                      STEPS, 469, runs, 0.0)]
    for step in range(CHUNK, STEPS + 1, CHUNK):
        losses = [[loss] * CHUNK for _, _, loss in RUNS]
        stream.append(TrainProgress(step, step / 469, ids, [step] * len(ids), losses, [[0.5] * CHUNK] * len(ids),
                                    1000.0, step / 100))
    return stream


def chart_of(app) -> FullChart:
    assert isinstance(app.screen, ChartScreen)
    return app.screen.query_one(FullChart)


def x_labels(chart: FullChart) -> list[str]:
    """The x axis' tick labels: the line under the axis."""
    lines = chart.plain_lines()
    axis = next(index for index, line in enumerate(lines) if "└" in line)
    return lines[axis + 1].split()


def readout(chart: FullChart) -> str:
    lines = chart.plain_lines()
    axis = next(index for index, line in enumerate(lines) if "└" in line)
    return " ".join(lines[axis + 2 :])


async def opened(pilot, *keys: str) -> FullChart:
    await pilot.pause()
    await pilot.press(*keys)
    await pilot.pause()
    return chart_of(pilot.app)


async def test_f_opens_the_loss_chart_and_escape_or_f_closes_it():
    app = make_app(events=events())
    async with app.run_test(size=SIZE) as pilot:
        chart = await opened(pilot, "f")
        assert chart.metric == "loss" and "train loss" in chart.plain_lines()[0]
        await pilot.press("escape")
        assert not isinstance(app.screen, ChartScreen)
        await pilot.press("f")
        assert isinstance(app.screen, ChartScreen)
        await pilot.press("f")
        assert not isinstance(app.screen, ChartScreen)


async def test_f_opens_the_accuracy_chart_where_it_has_the_focus():
    app = make_app(events=events())
    async with app.run_test(size=SIZE) as pilot:
        chart = await opened(pilot, "tab", "tab", "f")  # the runs table, the loss chart, the accuracy chart
        assert chart.metric == "accuracy" and "accuracy" in chart.plain_lines()[0]


async def test_zoom_and_pan_change_the_steps_the_axis_shows_and_0_resets():
    app = make_app(events=events())
    async with app.run_test(size=SIZE) as pilot:
        chart = await opened(pilot, "f")
        assert x_labels(chart)[0] == "0" and x_labels(chart)[-1] == "1k"
        await pilot.press("right_square_bracket")  # zoom in: the latest half
        assert x_labels(chart)[0] == "500" and x_labels(chart)[-1] == "1k"
        await pilot.press("less_than_sign")  # a quarter of the window earlier
        labels = x_labels(chart)
        assert labels[0] == "400" and labels[-1] == "800"
        await pilot.press("greater_than_sign", "greater_than_sign")  # held at the latest step
        assert x_labels(chart)[-1] == "1k"
        await pilot.press("left_square_bracket")  # zoom out: the whole run again
        assert x_labels(chart)[0] == "0"
        await pilot.press("right_square_bracket", "right_square_bracket", "less_than_sign", "0")
        assert x_labels(chart)[0] == "0" and x_labels(chart)[-1] == "1k"


async def test_x_hides_the_selected_run_from_the_legend_the_plot_and_the_readout():
    app = make_app(events=events())
    async with app.run_test(size=SIZE) as pilot:
        chart = await opened(pilot, "f")
        colour = "#e06c75"  # run 0's
        legend = chart.plain_lines()[1]
        assert "he:relu" in legend and "0 he:relu" in readout(chart)

        def plot_colours() -> set[str | None]:
            return {colour_of(segment.style) for strip in chart.strips()[2:] for segment in strip}

        assert colour in plot_colours()
        await pilot.press("x")
        assert "he:relu" not in chart.plain_lines()[1]
        assert "hidden: he:relu" in chart.plain_lines()[0]
        assert "he:relu" not in readout(chart)
        assert colour not in plot_colours()
        await pilot.press("escape")  # on the overview too: its loss chart's title counts the hidden run
        assert "train loss · 1 hidden (x)" in app.overview.loss.plain_lines()[0]
        await pilot.press("f")
        chart = chart_of(app)
        await pilot.press("x")
        assert "he:relu" in chart.plain_lines()[1] and colour in plot_colours()


async def test_the_readout_names_run_step_and_value_under_the_cursor():
    app = make_app(events=events())
    async with app.run_test(size=SIZE) as pilot:
        chart = await opened(pilot, "f")
        assert readout(chart).startswith("step 1,000 (epoch 2.13)")
        for run_id, (init, activation, loss) in enumerate(RUNS):
            assert f"● {run_id} {init}:{activation} {loss:g}" in readout(chart)
        await pilot.press("left", "left")
        step = int(readout(chart).split()[1].replace(",", ""))
        # two plot columns back over 1,000 steps
        assert round(1000 - 2 * 1000 / (chart.columns - 1)) == step
        await pilot.press("right", "right")
        assert readout(chart).startswith("step 1,000")
        await pilot.press("j")  # another run selected: its value comes first
        assert readout(chart).split("●")[1].strip() == "1 xavier:tanh 1"


async def test_the_chart_follows_live_training(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await press(pilot, "f")
        chart = chart_of(app)
        first = int(readout(chart).split()[1].replace(",", ""))
        await wait_for(pilot, lambda: int(readout(chart).split()[1].replace(",", "")) > first + 20)


async def test_the_palette_offers_the_charts_keys_in_the_chart_only():
    app = make_app(events=events())
    async with app.run_test(size=SIZE) as pilot:
        assert "Chart: zoom in" not in {command.title for command in app.get_system_commands(app.screen)}
        await opened(pilot, "f")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Chart: zoom in", "Chart: pan to earlier steps", "Chart: reset zoom"} <= titles
        assert "Page 2: curves" not in titles


def test_a_window_draws_only_its_steps_at_the_charts_resolution():
    series = MinMaxSeries(2048)
    series.extend(0, [1.0] * 500_000 + [3.0] * 500_000)  # a step up half way through a million steps
    early = Points(np.array([10.0, 900_000.0]), np.array([0.5, 0.5]))
    curves = [Curve("#e06c75", series), Curve("#61afef", early, scatter=True)]
    began = time.perf_counter()
    lines = render_curves(curves, 100, 20, "loss", ylim=(0.0, 4.0), window=(600_000.0, 800_000.0))
    assert time.perf_counter() - began < 0.5
    text = ["".join(part for part, _ in line) for line in lines]
    labels = text[-1].split()
    assert labels[0] == "6.0e5" and labels[-1] == "8.0e5"
    plot = text[1:-2]
    assert not any("●" in row for row in plot)  # both points lie outside the window
    # only the late, high half is in the window: nothing drawn in the lower half of the plot
    assert any(set(row[6:]) - {" ", "┊"} for row in plot[: len(plot) // 2])
    assert not any(set(row[6:]) - {" ", "┊"} for row in plot[len(plot) // 2 :])
    assert plot_columns(lines) == len(text[-2]) - text[-2].index("└") - 1 > 80
