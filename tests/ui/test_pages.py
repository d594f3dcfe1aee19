"""The dashboard's pages: the number keys switch them, each draws what the statistics say, every chart keeps 10
rows of plot area at 80×24, the atlas selects runs for the other pages, and the header fits its lines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from support.records import record
from inittui.core.events import (
    SPECTRUM_BINS,
    ExperimentStarted,
    Histogram,
    JacobianSpectra,
    LayerStat,
    LayerStats,
    RunSpectrum,
    TrainProgress,
)
from inittui.core.presets import get_preset
from inittui.ui.app import make_app
from inittui.ui.depth_chart import GUTTER, layer_positions
from inittui.ui.braille import BRAILLE_BASE
from inittui.dashboard.model import DashboardModel
from inittui.dashboard.selectors import atlas_records, header
from inittui.dashboard.sources import probe_events
from inittui.dashboard.views import Location
from inittui.ui.status_bar import PADDING, shorten_path, status_text

from test_ui_snapshots import synthetic_events
from inittui.ui.distributions import BAND_LEVELS, EMPTY, MEDIAN_LEVEL, PALETTE, UPPER_HALF
from support.views import background_of, cells, colour_of, screen_lines

ACTIVATION_STD = [1.0, 0.1, 0.01, 0.001, 1e-4]
GRADIENT_STD = [1e-4, 1e-3, 1e-2, 0.1, 1.0]
UPDATE_RATIO = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
PREDICTED = [0.5, 0.05, 0.005, 5e-4, 5e-5]


def _layer(std: float, gradient: float, update: float, step: int) -> LayerStat:
    histogram = Histogram(-1.0, 1.0, [step + 1, 2 * step + 1, 3, 4])
    return LayerStat(0.0, std, None, 0.0, std, 0.1, 0.1, 1e-3, {"activations": histogram, "weights": histogram},
                     activation_grad_std=gradient, update_ratio=update)


def grid_events(runs: list[tuple[str, str]], stats_steps: tuple[int, ...] = (10,)) -> list:
    """An experiment of ``runs``; run r's layer l has activation std ACTIVATION_STD[l] / 2**r."""
    config = get_preset("compare").config()
    infos = [record(index, init, act, "running", 0) for index, (init, act) in enumerate(runs)]
    events: list = [ExperimentStarted(config=config.to_dict(), device="cpu", device_name="CPU", dataset="synthetic",
                                      total_steps=1000, steps_per_epoch=100, runs=infos, time=0.0)]
    ids = [info.id for info in infos]
    for step in stats_steps:
        events.append(TrainProgress(step, step / 100, ids, [step] * len(ids), [[1.0]] * len(ids), [[0.5]] * len(ids),
                                    samples_per_s=1000.0, elapsed_s=1.0))
        layers = [[_layer(std / 2**run, g, u, step) for std, g, u in zip(ACTIVATION_STD, GRADIENT_STD, UPDATE_RATIO)]
                  for run in ids]
        events.append(LayerStats(step, ids, layers, [list(PREDICTED) for _ in ids]))
    return events


def layer_column(layer: int, layers: int, width: int) -> int:
    plot_width = width - GUTTER
    return GUTTER + min(int(layer_positions(layers, 2 * plot_width)[layer] / 2), plot_width - 1)


async def test_the_depth_page_plots_what_the_layer_statistics_said():
    app = make_app(events=grid_events([("he", "relu"), ("xavier", "relu")]))
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.pages["depth"].chart.series == []  # a page not shown is not drawn
        await pilot.press("4")
        await pilot.pause()
        assert app.switcher.current == "depth"
        (series,) = app.pages["depth"].chart.series  # the selected run only
        assert series.label == "0 he:relu"
        assert list(series.activation_std) == ACTIVATION_STD and list(series.predicted_std) == PREDICTED
        assert list(series.gradient_std) == GRADIENT_STD and list(series.update_ratio) == UPDATE_RATIO
        chart = app.pages["depth"].chart
        lines = screen_lines(chart)
        width = chart.size.width
        # three of the six panels fit at 120×40: the first three
        assert [d.panel.key for d in chart.drawings] == ["activations", "gradients", "updates"]
        for drawing, values in zip(chart.drawings, (ACTIVATION_STD, GRADIENT_STD, UPDATE_RATIO)):
            assert drawing.rows >= 10
            for layer, value in enumerate(values):
                character, style = cells(lines[drawing.row_of(value)])[layer_column(layer, 5, width)]
                assert BRAILLE_BASE < ord(character) <= BRAILLE_BASE + 0xFF, (drawing.panel.key, layer, value)
                assert colour_of(style) == "#e06c75"  # run 0's colour
        # compare mode: every run, the selected one last (on top)
        await pilot.press("j", "c")
        await pilot.pause()
        labels = [item.label for item in app.pages["depth"].chart.series]
        assert labels == ["0 he:relu", "1 xavier:relu"]
        assert list(app.pages["depth"].chart.series[1].activation_std) == [v / 2 for v in ACTIVATION_STD]


async def test_the_depth_page_writes_the_selected_runs_spectrum_from_the_latest_spectrum_event():
    histogram = [0] * SPECTRUM_BINS
    histogram[20:27] = [5, 20, 60, 100, 60, 20, 5]
    spectrum = RunSpectrum(9.0, 0.5, [1.0, 2.0, 4.0, 8.0, 18.0], [0.3, 0.25, 0.2, 0.15, 0.1],
                           [0.3, 0.26, 0.21, 0.16, 0.12], 1.0, 0.9, histogram)
    events = grid_events([("orthogonal-critical", "tanh"), ("xavier", "tanh")], stats_steps=(10, 20))
    # a spectrum at step 10 only (its own cadence), after that step's statistics
    events.insert(4, JacobianSpectra(10, [0, 1], [spectrum, replace(spectrum, s_max=90.0)], 0.2, 32))
    app = make_app(events=events)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "v", "v", "v")
        await pilot.pause()
        (series,) = app.pages["depth"].chart.series
        assert list(series.prefix_ratio) == spectrum.prefix_ratio
        assert list(series.predicted_correlation) == spectrum.predicted_correlation
        assert series.spectrum_note == "s_max 9 · median 0.5 · ratio 18 (step 10)"
        assert series.correlation_note == "c* 1 · ξ_c 9.49 (predicted)"
        assert list(series.log10_histogram) == histogram
        keys = [d.panel.key for d in app.pages["depth"].chart.drawings]
        assert keys == ["spectrum", "histogram", "correlation"]
        # compare mode: every run's ratio
        await pilot.press("c")
        await pilot.pause()
        assert [list(s.prefix_ratio) for s in app.pages["depth"].chart.series] == [spectrum.prefix_ratio] * 2


async def test_enter_on_an_atlas_cell_selects_that_run_for_the_other_pages():
    runs = [("xavier", "tanh"), ("xavier", "relu"), ("he", "tanh"), ("he", "relu")]
    app = make_app(events=grid_events(runs))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert app.pages["atlas"].matrix.display and not app.pages["atlas"].message.display
        assert app.pages["atlas"].matrix.rows == ["xavier", "he"] and app.pages["atlas"].matrix.columns == ["tanh", "relu"]
        assert app.pages["atlas"].matrix.selected_cell.id == 0  # the selected run's cell
        await pilot.press("down", "right", "enter")
        await pilot.pause()
        assert app.model.view.selected == 3
        await pilot.press("4")
        await pilot.pause()
        assert [item.label for item in app.pages["depth"].chart.series] == ["3 he:relu"]
        await pilot.press("5", "m")
        await pilot.pause()
        assert app.pages["atlas"].matrix.metric == "train_loss"


async def test_runs_that_do_not_form_a_grid_say_so_on_the_atlas_page():
    app = make_app(events=grid_events([("xavier", "tanh"), ("xavier", "relu"), ("he", "tanh")]))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert not app.pages["atlas"].matrix.display and app.pages["atlas"].message.display
        message = str(app.pages["atlas"].message.render())
        assert "do not form an initialiser × activation grid" in message and "he:relu" in message


async def test_distributions_over_time_follow_the_selected_run_and_source():
    app = make_app(events=grid_events([("he", "relu"), ("xavier", "relu")], stats_steps=(10, 20, 30)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        panels = app.pages["layers"].distributions.panels
        assert [panel.title for panel in panels] == [f"L{i}" for i in range(1, 6)]
        assert panels[0].grid.first_steps == [10, 20, 30]  # every statistics step of the selected run
        assert panels[0].grid.std == pytest.approx([1.0, 1.0, 1.0])
        # the densest bin as the histogram said: bin 2 of 4 holds 2·step+1 of 3·step+9 values
        assert [max(column) for column in panels[0].grid.density] == pytest.approx([21 / 39, 41 / 69, 61 / 99])
        await pilot.press("h")  # another source: its history is refilled from the steps the dashboard holds
        await pilot.pause()
        assert app.pages["layers"].distributions.panels[0].grid.first_steps == [10, 20, 30]
        assert "preactivations over time since step 10" in app.pages["layers"].distributions.heading
        await pilot.press("h", "h", "h", "j")  # back to activations, on run 1: its own history, whole
        await pilot.pause()
        assert app.pages["layers"].over_time.key == (1, 0, "activations")  # run 1, its life from step 0
        assert app.pages["layers"].distributions.panels[0].grid.first_steps == [10, 20, 30]
        assert app.pages["layers"].distributions.panels[0].grid.std == pytest.approx([0.5, 0.5, 0.5])
        # with the time cursor on step 20, a history ends there
        await pilot.press("left")
        await pilot.pause()
        await pilot.press("h", "h", "h", "h")  # another source and back: refilled up to the cursor
        await pilot.pause()
        assert app.model.cursor_step == 20
        assert app.pages["layers"].distributions.panels[0].grid.first_steps == [10, 20]


async def test_a_history_starts_from_few_enough_steps_that_a_key_press_stays_cheap(monkeypatch):
    import inittui.dashboard.over_time as over_time

    monkeypatch.setattr(over_time, "OVER_TIME_REFILL", 15)  # 5 layers: 3 steps, spread over the run
    app = make_app(events=grid_events([("he", "relu"), ("xavier", "relu")], stats_steps=(10, 20, 30, 40, 50)))
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.pages["layers"].over_time.histories == []  # not on screen: nothing kept
        await pilot.press("3")
        await pilot.pause()
        assert app.pages["layers"].distributions.panels[0].grid.first_steps == [10, 30, 50]


async def test_b_draws_the_layers_distributions_as_percentile_bands_from_any_page():
    app = make_app(events=synthetic_events())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "b")
        await pilot.pause()
        distributions = app.pages["layers"].distributions
        assert app.model.view.page == "layers" and distributions.display and distributions.bands

        def colours() -> set[str]:
            """The colours of every heatmap cell drawn, both halves."""
            drawn = set()
            for strip in screen_lines(distributions):
                for char, style in cells(strip):
                    if char == UPPER_HALF:
                        drawn |= {colour_of(style), background_of(style)}
            return drawn

        bands = {PALETTE[level] for level in (*BAND_LEVELS, MEDIAN_LEVEL)}
        assert PALETTE[MEDIAN_LEVEL] in colours() and colours() <= bands | {EMPTY}
        await pilot.press("b")
        await pilot.pause()
        assert not distributions.bands and not colours() <= bands | {EMPTY}  # the heatmap's whole ramp


@pytest.mark.parametrize("page", ["1", "2", "3", "4", "5"])
async def test_every_chart_keeps_ten_plot_rows_at_80x24(page):
    app = make_app(events=synthetic_events())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(page)
        await pilot.pause()
        assert app.status_bar.size.height <= 2
        if page == "1":
            assert app.overview.loss.size.height - 3 >= 10 and app.overview.accuracy.size.height - 3 >= 10
            assert not app.overview.lower.display  # no room for the histograms: the hint says where they are
            assert "histograms: 3" in str(app.overview.hint.render())
        elif page == "2":
            assert app.pages["curves"].loss.size.height - 3 >= 10 and app.pages["curves"].accuracy.size.height - 3 >= 10
        elif page == "3":
            assert app.pages["layers"].histograms.content_size.height - 3 >= 10  # title and σ line, bin range
            await pilot.press("t")
            await pilot.pause()
            screen_lines(app.pages["layers"].distributions)
            assert app.pages["layers"].distributions.drawings and all(d.rows >= 10 for d in app.pages["layers"].distributions.drawings)
        elif page == "4":
            screen_lines(app.pages["depth"].chart)
            assert app.pages["depth"].chart.drawings and all(d.rows >= 10 for d in app.pages["depth"].chart.drawings)
        else:
            assert app.pages["atlas"].matrix.display and app.pages["atlas"].matrix.size.height >= 10


def test_the_header_takes_one_line_from_120_columns_and_two_below():
    model = DashboardModel()
    for event in synthetic_events()[:3]:
        model.apply(event)
    view = replace(header(model, "2 curves"), device="NVIDIA H100 80GB HBM3 (cuda:0), 1,234 MiB in use",
                   location=Location("/home/someone/experiments/inittui/runs/2026-11-28T07-00-00-compare-seed0"))
    for terminal, most in ((80, 2), (100, 2), (120, 1), (200, 1)):
        width = terminal - PADDING  # the header's text is narrower than the terminal by its padding
        text = status_text(view, width=width).plain
        lines = text.split("\n")
        assert len(lines) <= most and all(len(line) <= width for line in lines), (width, text)
        assert "2 curves" in lines[0] and "running" in lines[0]
    assert "…" in status_text(replace(view, device="CPU"), width=170 - PADDING).plain  # the path, shortened


def test_the_depth_pages_header_says_when_the_spectrum_was_measured_and_how_far_apart():
    model = DashboardModel()
    events = synthetic_events()
    for event in events[:3]:
        model.apply(event)
    model.view.page = "depth"
    assert header(model, "4 depth").spectrum == "spectrum @ step 0"
    spectrum = next(event for event in events if isinstance(event, JacobianSpectra))
    model.apply(replace(spectrum, step=750))
    assert header(model, "4 depth").spectrum == "spectrum @ step 750 · every ~750"
    for terminal in (80, 120):  # it fits in the header at the sizes the snapshots are of
        assert "spectrum @ step 750 · every ~750" in status_text(header(model, "4 depth"), terminal - PADDING).plain
    model.view.page = "curves"  # only the page that draws the spectrum says its cadence
    assert "spectrum" not in status_text(header(model, "2 curves"), 200).plain
    fresh = DashboardModel()
    fresh.view.page = "depth"
    assert header(fresh, "4 depth").spectrum == "no spectrum yet"


def test_the_probe_header_says_probe_once():
    model = DashboardModel()
    for event in probe_events([], "no dataset: random inputs"):
        model.apply(event)
    assert status_text(header(model, "")).plain.count("probe") == 1


def test_paths_are_shortened_with_a_tilde_and_an_ellipsis_in_the_middle():
    assert shorten_path("/home/ann/runs/x", 40, home="/home/ann") == "~/runs/x"
    assert shorten_path("/home/annie/runs", 40, home="/home/ann") == "/home/annie/runs"
    path = "/data/experiments/inittui/runs/2026-11-28T07-00-00-compare-seed0"
    short = shorten_path(path, 24, home="/root")
    assert len(short) == 24 and short.startswith("/data/exp") and short.endswith("ompare-seed0") and "…" in short
    assert shorten_path(path, 1, home="/") == "…"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_footer_fits_and_ends_with_help_and_quit(size):
    from support.dashboard import screen_text

    app = make_app(events=synthetic_events())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert footer.rstrip().endswith("? help q quit") and "1 2 3 4 5 pages" in footer
