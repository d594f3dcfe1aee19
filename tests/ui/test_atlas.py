"""The atlas: every run of a sweep in its (initialiser, activation) cell, coloured and printed by the chosen
metric, diverged runs marked, missing ones blank; the arrow keys and enter pick a run."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES, RunSpec
from inittui.core.presets import ATLAS_INITIALIZERS
from inittui.core.events import RunRecord
from inittui.dashboard.controller import ATLAS_METRICS
from inittui.dashboard.views import SeedSpread
from inittui.ui.atlas import (
    DIVERGED_BACKGROUND,
    METRICS,
    NOT_APPLICABLE_BACKGROUND,
    RAMP,
    AtlasMatrix,
    abbreviate,
    format_mean_std,
    matrix_of,
    render_atlas,
    unique_abbreviations,
    within_noise,
)

from support.views import WidgetApp, background_of, cells, screen_lines, sweep, text_of


def cell_text(lines, layout, row: int, column: int) -> tuple[str, str | None]:
    """The printed value and the background colour of the cell at (row, column) of the matrix."""
    y = layout.header_lines + row * layout.cell_height
    x = layout.label_width + 1 + column * layout.cell_width
    line = cells(lines[y])[x : x + layout.cell_width - 1]
    return "".join(c for c, _ in line).strip(" ▸◂"), background_of(line[0][1])


def test_names_are_abbreviated_and_stay_apart():
    assert abbreviate("normal-0.01", 9) == "norm-0.01"
    assert abbreviate("glorot-uniform", 9) == "glor-unif"
    assert abbreviate("he", 9) == "he"
    for width in range(3, 15):
        short = unique_abbreviations(INITIALIZER_NAMES, width)
        assert len(set(short)) == len(INITIALIZER_NAMES), (width, short)
        assert all(len(label) <= width for label in short)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_every_cell_is_printed_and_coloured_by_its_value(size):
    cells_in = sweep()
    lines, layout = render_atlas(cells_in, *size)
    assert len(lines) == size[1] and all(line.cell_length == size[0] for line in lines)
    best = max(c.best_test_acc for c in cells_in if c.best_test_acc is not None)
    worst = min(c.best_test_acc for c in cells_in if c.best_test_acc is not None)
    for cell in cells_in:
        row, column = ATLAS_INITIALIZERS.index(cell.spec.init), ACTIVATION_NAMES.index(cell.spec.activation)
        text, background = cell_text(lines, layout, row, column)
        if cell.status == "diverged":
            assert text.startswith("✗") and background == DIVERGED_BACKGROUND
        else:
            assert text.rstrip("%") == f"{100 * cell.best_test_acc:.1f}"
            if cell.best_test_acc == best:
                assert background == RAMP[-1]
            if cell.best_test_acc == worst:
                assert background == RAMP[0]
    # the missing combination is blank, with no colour
    text, background = cell_text(lines, layout, ATLAS_INITIALIZERS.index("glorot"), ACTIVATION_NAMES.index("tanh"))
    assert text == "" and background is None
    # labels: every initialiser and activation told apart in the row and column headers
    header = text_of(lines[0])
    assert all(label in header for label in layout.column_labels)
    for row, label in enumerate(layout.row_labels):
        assert text_of(lines[layout.header_lines + row * layout.cell_height]).startswith(label)


def test_fits_80x24_and_uses_the_room_at_200x60():
    small = render_atlas(sweep(), 80, 24)[1]
    large = render_atlas(sweep(), 200, 60)[1]
    assert small.label_width + 1 + 6 * small.cell_width <= 80
    assert small.header_lines + 10 * small.cell_height <= 24 - 1
    assert large.cell_width > small.cell_width and large.cell_height > small.cell_height
    assert large.label_width + 1 + 6 * large.cell_width > 150  # most of the width
    assert large.header_lines + 10 * large.cell_height > 45  # most of the height
    lines = render_atlas(sweep(), 200, 60)[0]
    # tall cells show the other metrics under the value
    detail = text_of(lines[large.header_lines + 1 + 3 * large.cell_height])
    assert "loss" in detail and "dead" in detail


@pytest.mark.parametrize("metric, printed", [
    ("train_loss", lambda c: f"{c.train_loss:#.3g}"),
    ("dead", lambda c: "–" if c.dead is None else f"{100 * c.dead:.0f}%"),
    ("saturated", lambda c: "–" if c.saturated is None else f"{100 * c.saturated:.0f}%"),
])
def test_each_metric_prints_its_values_and_lower_is_brighter(metric, printed):
    cells_in = sweep()
    lines, layout = render_atlas(cells_in, 120, 40, metric=metric)
    values = [getattr(c, metric) for c in cells_in if c.status != "diverged" and getattr(c, metric) is not None]
    for cell in cells_in:
        if cell.status == "diverged":
            continue
        row, column = ATLAS_INITIALIZERS.index(cell.spec.init), ACTIVATION_NAMES.index(cell.spec.activation)
        text, background = cell_text(lines, layout, row, column)
        assert text == printed(cell)
        value = getattr(cell, metric)
        if value is None:
            assert background == NOT_APPLICABLE_BACKGROUND
        elif value == min(values):
            assert background == RAMP[-1]  # the lowest loss, fewest dead: brightest
        elif value == max(values):
            assert background == RAMP[0]


async def test_arrow_keys_move_and_enter_selects_the_run():
    atlas = AtlasMatrix()
    app = WidgetApp(atlas, lambda widget: widget.show(sweep()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down", "right")
        assert atlas.cursor == (2, 1)
        await pilot.press("enter")
        await pilot.pause()
        selected = [m for m in app.messages if isinstance(m, AtlasMatrix.RunSelected)]
        assert [(m.run_id, m.init, m.activation) for m in selected] == [(13, "glorot-uniform", "tanh")]
        highlighted = [m for m in app.messages if isinstance(m, AtlasMatrix.CellHighlighted)]
        assert [m.run_id for m in highlighted] == [6, 12, 13]
        # onto the missing combination: highlighted with no run, and enter selects nothing
        await pilot.press("up")
        await pilot.pause()
        assert app.messages[-1].run_id is None and app.messages[-1].init == "glorot"
        await pilot.press("enter", "left", "left", "up", "up", "up")
        assert atlas.cursor == (0, 0)  # stops at the edges
        assert len([m for m in app.messages if isinstance(m, AtlasMatrix.RunSelected)]) == 1
        # the cursor's cell is marked, its colour kept
        lines = screen_lines(atlas)
        layout = atlas.matrix_layout
        text, background = cell_text(lines, layout, 0, 0)
        marked = "".join(c for c, _ in cells(lines[layout.header_lines])[layout.label_width + 1 : layout.label_width + layout.cell_width])
        assert "▸" in marked and "◂" in marked and text == "10.0%" and background is not None
        # the missing cell shows the cursor too
        await pilot.press("down", "right")
        lines = screen_lines(atlas)
        y = layout.header_lines + layout.cell_height
        assert "▸ · ◂" in text_of(lines[y])


async def test_metric_switches_and_a_click_selects():
    atlas = AtlasMatrix()
    app = WidgetApp(atlas, lambda widget: widget.show(sweep()))
    async with app.run_test(size=(120, 40)) as pilot:
        # the metrics the atlas draws are those the controller cycles through with m, in its order
        assert [key for key, _, _ in METRICS] == list(ATLAS_METRICS)
        for metric in ATLAS_METRICS:
            atlas.set_metric(metric)
            assert atlas.metric == metric
        with pytest.raises(ValueError):
            atlas.set_metric("nonsense")
        layout = atlas.matrix_layout
        x = layout.label_width + 1 + 4 * layout.cell_width + 2
        y = layout.header_lines + 3 * layout.cell_height
        await pilot.click(AtlasMatrix, offset=(x, y))
        await pilot.pause()
        assert atlas.cursor == (3, 4)
        assert app.messages[-1].run_id == 3 * 6 + 4 and isinstance(app.messages[-1], AtlasMatrix.RunSelected)
        assert atlas.select_run(59) and atlas.cursor == (9, 5)


async def test_live_updates_keep_the_cursor_and_legend():
    atlas = AtlasMatrix()
    app = WidgetApp(atlas, lambda widget: widget.show(sweep()[:12]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "right")
        atlas.show(sweep())
        await pilot.pause()
        assert atlas.cursor == (1, 1)
        legend = [text_of(line) for line in screen_lines(atlas)]
        assert any("diverged" in line and "better" in line for line in legend)


# ---------------------------------------------------------------------------------------------- seed groups
def group(run_id: int, init: str, activation: str, mean: float, std: float, status: str = "running",
          **numbers) -> tuple:
    """A seed group's cell (its mean record) and its spread over seeds run_id, run_id + 1, run_id + 2."""
    cell = RunRecord(run_id, RunSpec(init, activation), status, best_test_acc=mean, **numbers)
    return cell, SeedSpread((run_id, run_id + 1, run_id + 2), 0, {"best_test_acc": std, "train_loss": None})


def test_a_cell_whose_interval_overlaps_its_columns_best_is_within_noise_and_the_others_are_not():
    groups = [group(0, "he", "relu", 0.95, 0.004), group(3, "xavier", "relu", 0.945, 0.002),  # 0.005 ≤ 0.006
              group(6, "lsuv", "relu", 0.94, 0.004),  # 0.01 > 0.008
              group(9, "orthogonal", "relu", 0.99, 0.0, "diverged"),  # diverged: never the best
              group(12, "he", "tanh", 0.5, 0.0), group(15, "xavier", "tanh", 0.5, 0.0)]  # a tie overlaps
    cells_in = [cell for cell, _ in groups]
    spreads = {cell.id: spread for cell, spread in groups}
    assert within_noise(matrix_of(cells_in), spreads, "best_test_acc") == {3, 15}
    # the best of a lower-is-better metric is the lowest; no std counts as none
    losses = [RunRecord(0, RunSpec("he", "relu"), train_loss=0.2),
              RunRecord(3, RunSpec("xavier", "relu"), train_loss=0.3)]
    assert within_noise(matrix_of(losses), spreads, "train_loss") == set()
    # one seed (no spread): never marked
    assert within_noise(matrix_of(cells_in), {}, "best_test_acc") == set()


def test_a_seed_groups_cell_prints_mean_and_std_coloured_by_the_mean_and_the_legend_says_so():
    groups = [group(0, "he", "relu", 0.95, 0.004), group(3, "xavier", "relu", 0.945, 0.002),
              group(6, "he", "tanh", 0.90, 0.01), group(9, "xavier", "tanh", 0.80, 0.01)]
    cells_in = [cell for cell, _ in groups]
    spreads = {cell.id: spread for cell, spread in groups}
    alone = render_atlas(cells_in, 80, 24, cursor=(1, 1))
    lines, layout = render_atlas(cells_in, 80, 24, cursor=(1, 1), spreads=spreads)
    assert [cell_text(lines, layout, row, column)[0] for row in (0, 1) for column in (0, 1)] == [
        "80.0±1.0", "≈94.5±0.2", "90.0±1.0", "95.0±0.4"]  # xavier above he, tanh before relu
    # the colour is the mean's, as the same numbers of one seed are coloured
    for row in (0, 1):
        for column in (0, 1):
            assert cell_text(lines, layout, row, column)[1] == cell_text(alone[0], alone[1], row, column)[1]
    legend = " ".join(text_of(line) for line in lines)
    assert "± std over 3 seeds" in legend and "colour: the mean" in legend and "≈ within noise" in legend
    assert "within noise" not in " ".join(text_of(line) for line in alone[0])
    assert format_mean_std("train_loss", 0.2345, 0.0123) == "0.234±0.01"
    assert format_mean_std("dead", 0.12, 0.03) == "12±3%"


async def test_a_seed_of_a_group_selected_elsewhere_puts_the_cursor_on_its_groups_cell():
    groups = [group(0, "he", "relu", 0.95, 0.004), group(3, "xavier", "relu", 0.945, 0.002),
              group(6, "he", "tanh", 0.90, 0.01), group(9, "xavier", "tanh", 0.80, 0.01)]
    atlas = AtlasMatrix()
    app = WidgetApp(atlas, lambda widget: widget.show([cell for cell, _ in groups],
                                                      spreads={cell.id: spread for cell, spread in groups}))
    async with app.run_test(size=(80, 24)) as pilot:
        assert atlas.select_run(1) and atlas.cursor == (1, 1)  # seed 1 of he:relu, whose cell is run 0's
        await pilot.press("enter")
        await pilot.pause()
        assert [m.run_id for m in app.messages if isinstance(m, AtlasMatrix.RunSelected)] == [0]
        assert not atlas.select_run(12)


# ---------------------------------------------------------------------------------------------- any input
ANY_VALUE = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                      st.sampled_from([0.0, -1.0, 1e-30, 1e30, 5e-324]))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.builds(
            RunRecord,
            id=st.integers(-5, 10**9),
            spec=st.builds(RunSpec,
                           st.sampled_from([*INITIALIZER_NAMES, "", "a-very-long-initialiser-name-indeed", "x-0.1-y"]),
                           st.sampled_from([*ACTIVATION_NAMES, "", "some-activation-with-a-long-name"])),
            status=st.sampled_from(["running", "diverged", "done", "paused", ""]),
            best_test_acc=ANY_VALUE, train_loss=ANY_VALUE, dead=ANY_VALUE, saturated=ANY_VALUE,
        ),
        max_size=70,
    ),
    st.integers(0, 220),
    st.integers(0, 70),
    st.sampled_from(["best_test_acc", "train_loss", "dead", "saturated"]),
    st.tuples(st.integers(0, 12), st.integers(0, 8)),
)
def test_any_cells_any_size_give_exactly_the_widgets_lines(cells_in, width, height, metric, cursor):
    lines, _ = render_atlas(cells_in, width, height, metric=metric, cursor=cursor)
    assert len(lines) == (height if width > 0 else 0)
    assert all(line.cell_length == width for line in lines)
