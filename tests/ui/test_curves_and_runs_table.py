"""The curves (log scale, EMA, epochs, selection, legend) and the runs table (sort, filter, scrolling), as
functions and through the keys of the dashboard."""

from __future__ import annotations

import math

import numpy as np
import pytest
from textual import events
from hypothesis import given
from hypothesis import strategies as st
from test_ui_drawing import FUZZ

from support.dashboard import press, wait_for
from support.records import record
from inittui.core.config import ACTIVATION_NAMES
from inittui.core.presets import ATLAS_INITIALIZERS
from inittui.core.events import Evaluation, ExperimentStarted, RunRecord, TrainProgress
from inittui.core.presets import get_preset
from inittui.dashboard.controller import Action
from inittui.dashboard.selectors import LEGEND_ALL, SORT_ORDERS, legend_entries, row_cells, run_colour
from inittui.dashboard.views import Curve, LegendEntry, Points
from inittui.ui.app import make_app
from inittui.ui.curves import (
    ABOVE,
    BELOW,
    DIM_ABOVE,
    EMA_WEIGHT,
    CurvePlot,
    ema,
    log_ticks,
    render_curves,
    render_legend,
)
from inittui.ui.runs_table import COLUMNS

STEPS_PER_EPOCH = 100


# ---------------------------------------------------------------------------------------------- helpers
def text(line) -> str:
    return "".join(part for part, _ in line)


def y_labels(lines) -> list[str]:
    """The y tick labels of a chart, top to bottom."""
    return [text(line).split("┤", 1)[0].strip() for line in lines if "┤" in text(line)]


def styles_of(lines, colour: str) -> set[str]:
    """Every style a run's colour is drawn in (bold, dim or plain), in the plot rows."""
    return {style for line in lines for part, style in line if style.endswith(colour) and part.strip()}


def descent(rate: float, floor: float = 0.1, steps: int = 300) -> Points:
    x = np.arange(0.0, steps + 1, 5.0)
    return Points(x, floor + 2.2 * np.exp(-x * rate / 100))


def xy(x, y) -> Points:
    return Points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def reference_ema(values: list[float], weight: float = EMA_WEIGHT) -> list[float]:
    """The debiased moving average, one value at a time; non-finite values pass through untouched."""
    result, average, count = [], 0.0, 0
    for value in values:
        if not math.isfinite(value):
            result.append(value)
            continue
        count += 1
        average = weight * average + (1 - weight) * value
        result.append(average / (1 - weight**count))
    return result


def run(run_id: int, best: float | None = None, loss: float | None = None) -> RunRecord:
    return record(run_id, ATLAS_INITIALIZERS[run_id % len(ATLAS_INITIALIZERS)],
                  ACTIVATION_NAMES[run_id // len(ATLAS_INITIALIZERS) % len(ACTIVATION_NAMES)],
                  best_test_acc=best, train_loss=loss)


# ---------------------------------------------------------------------------------------------- log scale
def test_log_ticks_are_round_values_in_real_units():
    assert log_ticks(math.log10(0.1), math.log10(2.4), 6) == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert log_ticks(math.log10(0.001), math.log10(10), 3) == [0.01, 1.0]  # every other decade
    narrow = log_ticks(math.log10(2.2), math.log10(2.4), 5)  # within one step of 1-2-5: linear round values
    assert len(narrow) >= 2 and all(2.2 - 1e-9 <= v <= 2.4 + 1e-9 for v in narrow)
    # drawn: labels in real units, never log10 values
    lines = render_curves([Curve("#ffffff", descent(3.0)), Curve("#00ff00", descent(0.0, floor=0.2))],
                          60, 20, "loss", ycap=4.0, log=True)
    labels = y_labels(lines)
    assert {"0.1", "0.2", "0.5", "1", "2"} <= set(labels), labels
    assert not any(label.startswith("-") for label in labels)
    # each label on the row its value maps to: 1 is log-halfway between 0.1 and 10, so 0.1..1 spans as many
    # rows as 1..10 would; here 0.1→1 must take more rows than 1→2
    rows = {text(line).split("┤", 1)[0].strip(): index for index, line in enumerate(lines) if "┤" in text(line)}
    assert rows["0.1"] - rows["1"] > rows["1"] - rows["2"] > 0


def test_log_scale_is_the_default_when_losses_span_more_than_ten_times():
    plot = CurvePlot("loss", ycap=4.0, can_log=True)
    plot.curves = [Curve("#ffffff", xy([0.0, 1.0], [2.3, 2.3])), Curve("#00ff00", xy([0.0, 1.0], [2.3, 0.5]))]
    assert not plot.log  # 4.6×
    plot.curves[1] = Curve("#00ff00", xy([0.0, 1.0], [2.3, 0.2]))
    assert plot.log  # 11.5×
    plot.curves[0] = Curve("#ffffff", xy([0.0, 1.0], [2.3, 1e30]))  # beyond the cap: counts as the cap
    assert plot.log
    # the user's choice holds whatever the data
    plot.log_choice = False
    assert not plot.log
    plot.log_choice = True
    assert plot.log
    assert not CurvePlot("accuracy", ylim=(0.0, 1.0)).log  # only a chart that may be logarithmic is


def test_under_a_log_scale_zero_negative_and_huge_values_are_clipped_and_marked():
    wild = xy([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [2.3, 0.0, 1.0, -5.0, 1e30, math.inf, math.nan, 1e-300])
    lines = render_curves([Curve("#ffffff", wild), Curve("#00ff00", descent(2.0))], 60, 16, ycap=4.0, log=True)
    plot = [text(line).split("┤", 1)[-1].split("│", 1)[-1] for line in lines[1:-2]]
    assert ABOVE in plot[0] and BELOW in plot[-1]
    assert all(len(text(line)) <= 60 for line in lines) and len(lines) <= 16
    labels = y_labels(lines)
    assert "1" in labels and min(float(label) for label in labels) >= 1e-6  # not stretched to 1e-300
    # nothing positive and finite: still an axis, and the marks
    lines = render_curves([Curve("#ffffff", xy([0.0, 1.0], [0.0, -1.0]))], 40, 12, log=True)
    assert BELOW in text(lines[-3])


# ---------------------------------------------------------------------------------------------- EMA
def test_the_moving_average_equals_the_one_value_at_a_time_reference():
    rng = np.random.default_rng(0)
    values = list(rng.standard_normal(1000) * 3 + 2)  # several blocks: the carry between them counts
    values[10], values[400], values[401], values[999] = math.nan, math.inf, -math.inf, math.nan
    np.testing.assert_allclose(ema(np.array(values)), reference_ema(values), rtol=1e-9, atol=1e-12)
    assert ema(np.array([5.0]))[0] == 5.0  # debiased: the first value is itself


@FUZZ
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, math.inf, -math.inf])), max_size=600))
def test_the_moving_average_of_any_values(values):
    smoothed = ema(np.array(values, dtype=np.float64))
    expected = reference_ema(values)
    assert smoothed.shape == (len(values),)
    for got, want in zip(smoothed, expected):
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-9, abs=1e-6)


def test_smoothing_draws_the_average_over_the_raw_curve_drawn_faint():
    noisy = Points(np.arange(200.0), 1.0 + np.where(np.arange(200) % 2, 0.8, -0.8))
    plain = render_curves([Curve("#e06c75", noisy)], 60, 16, ylim=(0.0, 2.0))
    smooth = render_curves([Curve("#e06c75", noisy)], 60, 16, ylim=(0.0, 2.0), smooth=True)
    assert styles_of(plain, "#e06c75") == {"#e06c75"}
    assert styles_of(smooth, "#e06c75") == {"#e06c75", "dim #e06c75"}
    # the average sits near 1.0: the rows around the middle are the line's, the edges the raw's
    middle = [text(line) for line in smooth[1:-2]][6:9]
    owned = [style for line in smooth[7:10] for part, style in line if part.strip()]
    assert "#e06c75" in owned and any(ch != " " for row in middle for ch in row)


def test_among_dimmed_runs_only_the_selected_run_keeps_its_raw_curve_faint_behind():
    # the others swing between 5 and 9 each step: raw, they fill that band; their averages stay near 7
    swinging = Points(np.arange(60.0), np.where(np.arange(60) % 2, 9.0, 5.0))
    flat = Points(np.arange(60.0), np.full(60, 1.0))

    def rows_in_the_band(others: int) -> int:
        curves = [Curve(run_colour(0), flat, selected=True)]
        curves += [Curve(run_colour(i), swinging) for i in range(1, others + 1)]
        lines = render_curves(curves, 80, 24, ylim=(0.0, 10.0), smooth=True)
        plot = [text(line)[40:] for line in lines[1:-2]]  # the right half, where the averages have settled
        return sum(any(ch not in " │┤" for ch in row) for row in plot[: len(plot) // 2])

    assert rows_in_the_band(1) >= 6  # few runs: every raw curve drawn faint
    assert rows_in_the_band(DIM_ABOVE + 1) <= 2  # dimmed: only the selected run's


# ---------------------------------------------------------------------------------------------- x in epochs
def test_x_is_counted_in_whole_epochs():
    points = Points(np.arange(0.0, 3 * STEPS_PER_EPOCH + 1, 10.0), np.linspace(2.3, 0.2, 31))
    lines = render_curves([Curve("#ffffff", points)], 60, 14, ycap=4.0, steps_per_epoch=STEPS_PER_EPOCH)
    under = text(lines[-1])
    assert [word for word in under.split() if word != "epoch"] == ["0", "1", "2", "3"] and "epoch" in under
    assert text(lines[-2]).count("┬") == 4
    # early in the first epoch: the axis already spans it
    early = xy([0.0, 10.0, 20.0], [2.3, 2.2, 2.1])
    under = text(render_curves([Curve("#ffffff", early)], 60, 14, steps_per_epoch=STEPS_PER_EPOCH)[-1])
    assert [word for word in under.split() if word != "epoch"] == ["0", "1"]


# ---------------------------------------------------------------------------------------------- selection and dimming
def _same_curves(count: int, selected: int | None) -> list[Curve]:
    flat = xy([0.0, 100.0], [1.0, 1.0])
    return [Curve(run_colour(i), flat, selected=i == selected) for i in range(count)]


def test_the_selected_run_is_drawn_last_and_bright():
    # every run on one line: whoever is drawn last owns it; the selected run is first in the list
    lines = render_curves(_same_curves(3, 0), 40, 12, ylim=(0.0, 2.0))
    assert styles_of(lines, run_colour(0)) == {f"bold {run_colour(0)}"}
    assert not styles_of(lines, run_colour(2))


@pytest.mark.parametrize("count, dimmed", [(6, False), (7, True), (60, True)])
def test_with_more_than_six_runs_the_others_are_dimmed(count, dimmed):
    curves = [Curve(run_colour(i), xy([0.0, 100.0], [i / count, i / count]), selected=i == 1)
              for i in range(count)]
    lines = render_curves(curves, 80, 30, ylim=(-0.1, 1.1))
    assert f"bold {run_colour(1)}" in styles_of(lines, run_colour(1))
    others = set().union(*(styles_of(lines, run_colour(i)) for i in range(count) if run_colour(i) != run_colour(1)))
    assert others and all(style.startswith("dim ") == dimmed for style in others), others


# ---------------------------------------------------------------------------------------------- legend
def test_the_legend_names_every_run_up_to_eight():
    runs = [run(i) for i in range(8)]
    assert LEGEND_ALL == 8
    entries = legend_entries(runs, 3)
    assert [entry.label for entry in entries] == [r.name for r in runs]
    assert [entry.colour for entry in entries] == [run_colour(r.id) for r in runs]
    assert [entry.selected for entry in entries] == [r.id == 3 for r in runs]


def named(runs: list[RunRecord], selected: int | None) -> list[int]:
    """The ids of the runs the legend names, in its order."""
    by_name = {r.name: r.id for r in runs}
    return [by_name[entry.label] for entry in legend_entries(runs, selected)]


def test_beyond_eight_the_legend_names_the_selected_run_and_the_best_three():
    runs = [run(i, best=0.5 + i / 100, loss=2.0 - i / 10) for i in range(12)]
    runs[4].best_test_acc = math.nan  # unknown: never among the best
    assert named(runs, 2) == [2, 11, 10, 9]
    assert named(runs, 10) == [10, 11, 9, 8]  # selected, then the best others
    # no test accuracy yet: the lowest train loss decides
    fresh = [run(i, loss=2.0 - i / 10) for i in range(12)]
    assert named(fresh, None) == [11, 10, 9]


def test_the_legend_fits_its_lines_and_says_how_many_runs_it_leaves_out():
    entries = [LegendEntry(f"run{i}", run_colour(i), i == 0) for i in range(4)]
    [line] = render_legend(entries, 60, 80)
    assert text(line).startswith("● run0  ● run1  ● run2  ● run3") and text(line).endswith("+56")
    assert line[0] == ("● run0", f"bold {run_colour(0)}") and line[2] == ("● run1", run_colour(1))
    [narrow] = render_legend(entries, 4, 20)
    assert len(text(narrow)) <= 20 and text(narrow) == "● run0  ● run1  +2"
    # two lines where there is room: every entry named, none cut
    wrapped = render_legend(entries, 4, 20, max_lines=2)
    assert [text(line) for line in wrapped] == ["● run0  ● run1", "● run2  ● run3"]
    assert render_legend(entries, 4, 3) == [[("+4", "dim")]]
    drawn = render_curves([Curve("#ffffff", descent(1.0))], 60, 20, legend=entries, runs=4)
    assert text(drawn[1]) == "● run0  ● run1  ● run2  ● run3"
    # a second line when the plot keeps its 10 rows, not otherwise
    drawn = render_curves([Curve("#ffffff", descent(1.0))], 20, 15, legend=entries, runs=4)
    assert [text(line) for line in drawn[1:3]] == ["● run0  ● run1", "● run2  ● run3"]
    drawn = render_curves([Curve("#ffffff", descent(1.0))], 20, 14, legend=entries, runs=4)
    assert text(drawn[1]) == "● run0  ● run1  +2" and "●" not in text(drawn[2])


# ---------------------------------------------------------------------------------------------- the dashboard
def sweep_events(count: int) -> list:
    """``count`` runs, each a distinct init:activation; run i reaches best test accuracy 0.5 + i/200 and its
    loss falls at its own rate (every seventh stays at 2.3)."""
    runs = [record(i, ATLAS_INITIALIZERS[i % 10], ACTIVATION_NAMES[i // 10 % 6], "running", 0) for i in range(count)]
    ids = [info.id for info in runs]
    events: list = [ExperimentStarted(
        config=get_preset("compare").config().to_dict(), device="cpu", device_name="CPU", dataset="synthetic",
        total_steps=3 * STEPS_PER_EPOCH, steps_per_epoch=STEPS_PER_EPOCH, runs=runs, time=0.0)]
    for step in range(10, 3 * STEPS_PER_EPOCH + 1, 10):
        losses = [[2.3 if i % 7 == 0 else 0.1 + 2.2 * math.exp(-step * (1 + i % 5) / 100)] for i in ids]
        events.append(TrainProgress(step, step / STEPS_PER_EPOCH, ids, [step] * count, losses, [[0.5]] * count,
                                    samples_per_s=1.0, elapsed_s=1.0))
        if step % STEPS_PER_EPOCH == 0:
            events.append(Evaluation(step, step / STEPS_PER_EPOCH, ids, [0.5 + i / 200 for i in ids], [0.5] * count))
    return events


def row_ids(table) -> list[int]:
    return [int(table.coordinate_to_cell_key((row, 0)).row_key.value) for row in range(table.row_count)]


def assert_selected_row_visible(table) -> None:
    top = table.scroll_offset.y
    visible = table.scrollable_content_region.height - table.header_height
    assert top <= table.cursor_row < top + visible, (top, table.cursor_row, visible)


async def test_o_cycles_the_sort_order_and_the_selection_stays_on_its_run():
    app = make_app(events=sweep_events(12))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.overview.table
        await press(pilot, "j", "j", "j")
        assert table.cursor_run_id == 3 and row_ids(table) == list(range(12))
        runs = {run_id: run.record for run_id, run in app.model.runs.items()}
        expected = {
            "best test accuracy": sorted(runs, key=lambda i: -runs[i].best_test_acc),
            "train loss": sorted(runs, key=lambda i: runs[i].train_loss),
            "name": sorted(runs, key=lambda i: runs[i].name),
            "id": list(range(12)),
        }
        for name in ("best test accuracy", "train loss", "name", "id"):
            await press(pilot, "o")
            await pilot.pause()
            assert SORT_ORDERS[app.model.view.sort_order][0] == name
            assert row_ids(table) == expected[name]
            assert table.cursor_run_id == 3  # the same run, wherever its row went
        assert expected["train loss"] != expected["name"] != list(range(12))  # the orders differ


async def test_slash_filters_the_table_and_escape_clears_it():
    app = make_app(events=sweep_events(60))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.overview.table
        await press(pilot, *["j"] * 23)  # run 23: he:relu
        assert app.model.runs[table.cursor_run_id].record.name == "he:relu"
        await press(pilot, "slash", *"relu")
        await pilot.pause()
        assert app.focused is app.overview.runs_filter and app.overview.runs_filter.display
        shown = [app.model.runs[i].record.name for i in row_ids(table)]
        assert len(shown) == 20 and all("relu" in name for name in shown)  # relu and leaky-relu
        assert table.cursor_run_id == 23
        await press(pilot, "enter")  # keep the filter, back to the table; keys are keys again
        assert app.focused is table and app.overview.runs_filter.display and app.model.view.filter_text == "relu"
        await press(pilot, "escape")
        await pilot.pause()
        assert row_ids(table) == list(range(60)) and table.cursor_run_id == 23
        assert not app.overview.runs_filter.display and app.focused is table and app.overview.runs_filter.value == ""
        # "he:" is the initialiser he, not he-uniform
        await press(pilot, "slash", *"he:")
        await pilot.pause()
        assert {app.model.runs[i].record.name.split(":")[0] for i in row_ids(table)} == {"he"}
        assert len(row_ids(table)) == 6
        await press(pilot, "escape")
        await pilot.pause()
        assert table.row_count == 60 and table.cursor_run_id == 23
        # a filter that hides the selected run stands the cursor on its first row; clearing it goes back
        await press(pilot, "slash", *"tanh", "enter")
        await pilot.pause()
        hidden = row_ids(table)
        assert 23 not in hidden and table.cursor_run_id == hidden[0]
        await press(pilot, "escape")
        await pilot.pause()
        assert table.cursor_run_id == 23
        # a run chosen under the filter stays chosen when it is cleared
        await press(pilot, "slash", *"tanh", "enter")
        await pilot.pause()
        await press(pilot, "j", "j")
        await pilot.pause()
        assert table.cursor_run_id == hidden[2]
        await press(pilot, "escape")
        await pilot.pause()
        assert table.cursor_run_id == hidden[2] and table.row_count == 60


async def test_a_filter_typed_in_one_burst_goes_into_the_filter_not_to_the_dashboards_keys():
    # a terminal delivers "/relu" typed fast (or pasted) as keys queued together: the ones after "/" must not
    # reach the bindings ("r" restarts the selected run, "e" smooths the curves)
    app = make_app(events=sweep_events(60))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        restarts = []
        handle = app.controller.handle
        app.controller.handle = lambda action: (restarts.append(action) if action is Action.RESTART_RUN else None, handle(action))[1]
        for key in ("slash", *"relu"):
            app.post_message(events.Key(key, "/" if key == "slash" else key))
        await wait_for(pilot, lambda: app.model.view.filter_text == "relu")
        assert app.overview.runs_filter.value == "relu"
        assert len(row_ids(app.overview.table)) == 20 and not restarts and not app.model.view.smooth
        # inside the filter, "/" is a character
        await press(pilot, "slash")
        assert app.overview.runs_filter.value == "relu/"
        await press(pilot, "backspace")
        # enter, then a key in the same burst: the key is the table's, not one more letter of the filter
        selected = app.model.view.selected
        for key in ("enter", "j"):
            app.post_message(events.Key(key, "\r" if key == "enter" else key))
        await wait_for(pilot, lambda: app.model.view.selected != selected)  # j reached the table
        assert app.overview.runs_filter.value == "relu" and app.focused is app.overview.table


async def test_the_table_scrolls_so_the_selected_run_is_always_visible_with_sixty_runs_at_80x24():
    app = make_app(events=sweep_events(60))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.overview.table
        for _ in range(4):
            await press(pilot, *["j"] * 13)
            await pilot.pause()
            assert_selected_row_visible(table)
        assert table.cursor_run_id == 52
        # sorting sends run 52 elsewhere: the table follows it
        for _ in range(4):
            await press(pilot, "o")
            await pilot.pause()
            assert table.cursor_run_id == 52
            assert_selected_row_visible(table)


async def test_y_and_e_switch_the_loss_scale_and_smoothing():
    app = make_app(events=sweep_events(8))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        loss, accuracy = app.overview.loss, app.overview.accuracy
        assert loss.log  # losses from 2.3 down to 0.1: log by default
        assert "(log)" in loss.plain_lines()[0]
        await press(pilot, "y")
        assert not loss.log and "(log)" not in loss.plain_lines()[0]
        await press(pilot, "e")
        assert loss.smooth and accuracy.smooth and "(EMA)" in loss.plain_lines()[0]
        await press(pilot, "y", "e")
        assert loss.log and not loss.smooth and not accuracy.smooth
        # the legend names all eight runs, the x axis counts epochs
        lines = loss.plain_lines()
        assert "he:sigmoid" in lines[1] or lines[1].rstrip().endswith(f"+{8 - lines[1].count('●')}")
        assert "epoch" in lines[-1].split()
        # the selected run is the bold one
        await press(pilot, "j")
        assert [curve.selected for curve in loss.curves] == [i == 1 for i in range(8)]


@FUZZ
@given(step=st.integers(0, 10**13), steps_per_epoch=st.integers(1, 100_000),
       loss=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                      st.sampled_from([9.9996, -9.9996, 99.96, -99.96, 999.6, -999.6])))
def test_every_cell_fits_its_column_for_any_step_epoch_and_loss(step, steps_per_epoch, loss):
    shown = run(0, loss=loss)
    shown.step = step
    widths = {key: width for key, _, width in COLUMNS}
    for key, value in row_cells(shown, steps_per_epoch).items():
        assert len(str(value)) <= widths[key], (key, str(value))
    # the step keeps a space before the loss, both right-aligned in columns without padding ("13,8080.069")
    assert len(row_cells(shown, steps_per_epoch)["step"]) < widths["step"]
    if step < 10_000:  # exact while it fits
        assert row_cells(shown, steps_per_epoch)["step"] == f"{step:,}"


@pytest.mark.parametrize(("step", "steps_per_epoch"), [(99_996, 10_000), (999_960, 1_000), (9_999_960, 100)])
def test_an_epoch_that_rounds_up_to_a_longer_number_still_fits(step, steps_per_epoch):
    shown = run(0)
    shown.step = step
    assert len(row_cells(shown, steps_per_epoch)["epoch"]) <= dict((k, w) for k, _, w in COLUMNS)["epoch"]
