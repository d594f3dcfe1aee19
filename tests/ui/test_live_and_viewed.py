"""A run draws the same live and viewed: the dashboard fed the engine's event stream as it trains, and
``inittui view`` reading the same run's log, draw identical curves at the same size."""

from __future__ import annotations

from support.dashboard import wait_for
from support.data import random_mnist
from support.training import small_config
from inittui.core.config import RunSpec
from inittui.core.events import Event
from inittui.runlog.writer import RunLog
from inittui.training.logged import train_logged
from inittui.ui.app import InitApp, make_app

SIZE = (120, 40)


def drawn(app: InitApp) -> list[list[tuple[str, str]]]:
    """Every line of every chart of the overview and the curves page, as (text, style) segments."""
    lines = []
    for plot in (app.overview.loss, app.overview.accuracy, app.pages["curves"].loss, app.pages["curves"].accuracy):
        width, height = plot.size
        lines += [[(segment.text, str(segment.style)) for segment in strip] for strip in plot.render_strips(width, height)]
    return lines


async def draw(app: InitApp, ready) -> list[list[tuple[str, str]]]:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app), timeout=30)
        await pilot.pause(0.1)
        app.redraw({"curves"})
        overview = drawn(app)
        await pilot.press("2")  # the curves page, drawn when shown
        await pilot.press("e", "y")  # and smoothed, on the other scale
        return overview + drawn(app)


async def test_the_live_dashboard_and_the_viewer_draw_a_run_identically(tmp_path):
    config = small_config([RunSpec("he", "relu"), RunSpec("xavier", "tanh"), RunSpec("normal-1", "relu")],
                          steps=300, stats_every=7, lr=0.05)
    stream: list[Event] = []
    log = RunLog.create(tmp_path, config, {"dataset": "random"})
    finished, _ = train_logged(config, random_mnist(), log, stream.append, on_log_failure=AssertionError)
    assert finished.status == "done" and log.failure is None
    assert sum(event.type == "progress" for event in stream) > 10  # many chunks, of several lengths

    live = await draw(make_app(events=stream), lambda app: app.model.experiment.finished is not None)
    viewed = await draw(make_app(run_dir=log.run_dir), lambda app: app.model.experiment.finished is not None)
    assert any("⠀" < text < "⣿" for line in live for text, _ in line), "curves were drawn"
    assert live == viewed
