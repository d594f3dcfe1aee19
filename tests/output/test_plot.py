"""``inittui plot``: a run's charts as text, from a real run log, bounded whatever the values."""

from __future__ import annotations

import math
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.cli import run_main
from support.logs import train_to_log

from inittui.output.plot import ChartSize, Line, curve_chart, depth_chart
from inittui.runlog.catalogue import read_run
from inittui.series.curve import MinMaxSeries

TITLES = ("train loss", "accuracy: train (lines), test (dots)", "activation std per layer",
          "atlas: best test accuracy")
ANY_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e30, -1e30, math.inf, -math.inf, math.nan, 1e-30, 0.0, 1.7e308, -1.7e308]),
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_to_log(tmp_path_factory.mktemp("logs"), steps=60, stats_every=10)


def test_plot_prints_every_chart_of_a_real_run_without_colour_in_a_pipe(capsys, run_dir):
    status, out, err = run_main(capsys, "plot", str(run_dir), "--width", "80", "--height", "16")
    assert status == 0 and err == ""
    for title in TITLES:
        assert title in out
    assert "he:relu" in out and "xavier:tanh" in out
    assert "\x1b[" not in out  # captured stdout is no terminal
    assert max(len(line) for line in out.splitlines()) <= 80
    atlas = out[out.index("atlas: best test accuracy"):].splitlines()
    assert atlas[1].split() == ["init", "\\", "act", "tanh", "relu"]
    assert atlas[2].split()[0] == "xavier" and re.fullmatch(r"\d+\.\d%", atlas[2].split()[1])


def test_plot_draws_only_what_is_asked_and_colours_on_request(capsys, run_dir):
    status, out, _ = run_main(capsys, "plot", str(run_dir), "--what", "loss", "--color", "--width", "60")
    assert status == 0
    assert "train loss" in out and "atlas" not in out and "activation std" not in out
    assert "\x1b[" in out


def test_plot_latest_works_in_a_pipe_and_loads_no_torch(run_dir):
    code = ("import sys; from inittui.cli import main; status = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'plot imported torch'; sys.exit(status)")
    result = subprocess.run(
        [sys.executable, "-c", code, "plot", "latest", "--log-dir", str(run_dir.parent), "--what", "loss,depth"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "train loss" in result.stdout and "activation std per layer" in result.stdout


def test_a_damaged_log_plots_what_it_can_and_says_how_many_lines_it_skipped(capsys, run_dir, tmp_path):
    damaged = tmp_path / run_dir.name
    shutil.copytree(run_dir, damaged)
    events = damaged / "events.jsonl"
    lines = events.read_bytes().split(b"\n")
    lines[3] = b"\x00 not json at all"
    lines[5] = lines[5][: len(lines[5]) // 2]
    events.write_bytes(b"\n".join(lines))
    status, out, err = run_main(capsys, "plot", str(damaged), "--what", "loss")
    assert status == 0 and "train loss" in out
    assert err.strip() == f"inittui plot: 2 damaged lines of {damaged} skipped"


@pytest.mark.parametrize("argv,message", [
    (["/no/such/run"], "/no/such/run is not a run directory"),
    (["latest", "--log-dir", "{empty}"], "no runs in"),
    (["{run}", "--what", "loss,nope"], "--what: unknown chart 'nope'"),
    (["{run}", "--width", "5"], "--width must be between"),
    (["{run}", "--height", "100000"], "--height must be between"),
])
def test_bad_values_exit_2_with_one_line(capsys, run_dir, tmp_path, argv, message):
    argv = [a.format(empty=tmp_path, run=run_dir) for a in argv]
    status, out, err = run_main(capsys, "plot", *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("inittui plot: error: ")
    assert message in err and "Traceback" not in err


def within_seconds(seconds: int, draw):
    """``draw()``, failing (not hanging the suite) if it takes longer: unclipped, plotext walks off to 1e30."""

    def too_slow(signum, frame):
        raise AssertionError(f"drawing took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(seconds)
    try:
        return draw()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**9), st.lists(ANY_FLOAT, min_size=1, max_size=50)), min_size=1, max_size=6),
    st.integers(30, 200),
    st.integers(8, 60),
    st.booleans(),
)
@example([(0, [2.3, 1e30, 2.0]), (10**9, [math.inf, math.nan])], 80, 20, False)  # a diverging run, first
@example(
    # a loss just above 0: an axis plotext could not label
    chunks=[(0, [2.2250738585072014e-308])],
    width=30,
    height=8,
    log=False,
).via('discovered failure')
def test_any_values_at_any_steps_draw_within_the_chart(chunks, width, height, log):
    # 1e30, ±inf, NaN, 1e-30 and steps up to a billion: decimated and clipped, plotext gets a bounded picture
    lines = []
    for index, (first_step, values) in enumerate(chunks):
        series = MinMaxSeries(1024)
        series.extend(first_step, values)
        lines.append(Line(f"run {index}", series, points=[(first_step, values[0])]))
    text = within_seconds(5, lambda: curve_chart("train loss", lines, ChartSize(width, height), cap=4.0, log=log))
    drawn = text.splitlines()
    assert 1 <= len(drawn) <= height
    assert max(len(line) for line in drawn) <= width


def test_a_dead_or_exploded_layer_draws_at_the_depth_charts_edge(run_dir):
    fold = read_run(run_dir).fold
    layers = next(iter(fold.runs.values())).life.layers
    layers[0].std, layers[1].std = 0.0, math.inf
    text = depth_chart(fold, ChartSize(60, 14))
    assert "activation std per layer" in text
    assert len(text.splitlines()) <= 14 and max(len(line) for line in text.splitlines()) <= 60


def test_a_chart_is_drawn_whole_whatever_plotext_was_left_holding():
    import plotext

    # someone's log-scale subplots before ours: plotext's figure is global, and clear_figure clears one subplot
    plotext.subplots(2, 1)
    plotext.subplot(1, 1)
    plotext.yscale("log")
    series = MinMaxSeries(1024)
    series.extend(0, [0.0, 1.0, 2.0])
    text = curve_chart("train loss", [Line("a", series)], ChartSize(40, 10), cap=4.0)
    assert "train loss" in text and len(text.splitlines()) <= 10
