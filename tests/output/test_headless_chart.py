"""``train --headless`` ends with the runs' loss chart on stderr, where stderr is a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from inittui.core.presets import get_preset
from inittui.experiments.headless import run_headless
from inittui.runlog.writer import RunLog


class Terminal(io.StringIO):
    """stderr as a terminal shows it, kept to read back."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_headless_ends_with_the_loss_chart_only_on_a_terminal(capsys, monkeypatch, tmp_path, tiny_data, terminal):
    stderr = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    config = get_preset("compare").config(width=8, depth=2, steps=30, stats_every=10, device="cpu")
    log = RunLog.create(tmp_path, config, {"dataset": "random"})
    assert run_headless(config, tiny_data, log, json_output=False) == 0
    written = stderr.getvalue()
    if not terminal:
        assert "train loss" not in written
        return
    chart = written[written.index("train loss"):]
    assert "he:relu" in chart and "normal-0.01:tanh" in chart
    assert "┤" in chart and "step" in chart
    assert "train loss" not in capsys.readouterr().out  # stdout keeps only the final table
