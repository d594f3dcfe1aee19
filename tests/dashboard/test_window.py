"""The full-screen chart's zoom, pan and value cursor: the window math alone, no Textual."""

from __future__ import annotations

import pytest

from inittui.dashboard.window import MIN_SPAN, StepWindow


def test_unzoomed_shows_every_step_and_grows_with_training():
    window = StepWindow()
    assert window.visible(1000) == (0.0, 1000.0)
    assert window.visible(2000) == (0.0, 2000.0)
    assert window.cursor_at(2000) == 2000.0


def test_zoom_in_halves_the_width_about_the_cursor():
    window = StepWindow()
    window.zoom_in(1000)
    assert window.visible(1000) == (500.0, 1000.0)  # the cursor is on the latest step: the right half
    window.cursor = 600.0
    window.zoom_in(1000)
    start, stop = window.visible(1000)
    assert stop - start == 250.0
    # the cursor's step keeps its place on the screen: 1/5 of the way across
    assert (600.0 - start) / (stop - start) == pytest.approx(0.2)


def test_zoom_stops_at_the_narrowest_window_and_zoom_out_ends_unzoomed():
    window = StepWindow()
    for _ in range(20):
        window.zoom_in(1000)
    start, stop = window.visible(1000)
    assert stop - start == MIN_SPAN and stop == 1000.0
    for _ in range(20):
        window.zoom_out(1000)
    assert not window.zoomed and window.visible(1000) == (0.0, 1000.0)


def test_a_zoomed_window_on_the_latest_step_follows_training():
    window = StepWindow()
    window.zoom_in(1000)
    assert window.visible(3000) == (2500.0, 3000.0)


def test_pan_moves_a_quarter_and_clamps_at_both_ends():
    window = StepWindow()
    window.zoom_in(1000)
    window.pan(-1, 1000)
    assert window.visible(1000) == (375.0, 875.0)
    # panned back, it stays on its steps while training goes on
    assert window.visible(5000) == (375.0, 875.0)
    for _ in range(10):
        window.pan(-1, 1000)
    assert window.visible(1000) == (0.0, 500.0)
    window.pan(1, 1000)  # held at the end, not past it: one pan comes straight back
    assert window.visible(1000) == (125.0, 625.0)
    for _ in range(10):
        window.pan(1, 1000)
    assert window.visible(1000) == (500.0, 1000.0)
    assert window.stop is None  # at the latest step again: live
    unzoomed = StepWindow()
    unzoomed.pan(-1, 1000)
    assert unzoomed.visible(1000) == (0.0, 1000.0)


def test_the_cursor_moves_a_column_and_stays_in_the_window():
    window = StepWindow()
    window.move_cursor(-1, 101, 1000)
    assert window.cursor_at(1000) == 990.0
    for _ in range(200):
        window.move_cursor(-1, 101, 1000)
    assert window.cursor_at(1000) == 0.0
    for _ in range(200):
        window.move_cursor(1, 101, 1000)
    # back on the latest step, it follows training again
    assert window.cursor is None and window.cursor_at(1200) == 1200.0


def test_the_cursor_pushes_a_zoomed_window_along():
    window = StepWindow()
    window.zoom_in(1000)  # [500, 1000]
    window.cursor = 500.0
    window.move_cursor(-1, 51, 1000)
    assert window.visible(1000) == (490.0, 990.0)
    assert window.cursor_at(1000) == 490.0


def test_a_cursor_outside_the_window_is_drawn_at_its_edge():
    window = StepWindow(cursor=100.0)
    window.zoom_in(1000)
    start, _ = window.visible(1000)
    window.pan(1, 1000)
    assert window.cursor_at(1000) == window.visible(1000)[0] >= start


def test_reset_shows_every_step_live():
    window = StepWindow()
    window.zoom_in(1000)
    window.pan(-1, 1000)
    window.move_cursor(-1, 50, 1000)
    window.reset()
    assert window == StepWindow()
    assert window.visible(1000) == (0.0, 1000.0)


def test_no_steps_yet():
    window = StepWindow()
    window.zoom_in(0)
    window.pan(-1, 0)
    window.move_cursor(-1, 80, 0)
    assert window.visible(0) == (0.0, 0.0) and window.cursor_at(0) == 0.0
