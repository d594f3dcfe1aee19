"""Headless training into a file (``nohup inittui --headless > train.out 2>&1``): the first line says where
the run log is, and progress lines follow in time, not only at each epoch's end."""

from __future__ import annotations

import io

from inittui.core.config import ExperimentConfig, RunSpec
from inittui.experiments import headless
from inittui.experiments.headless import run_headless
from inittui.runlog.writer import RunLog


def test_into_a_file_the_first_line_names_the_log_and_progress_lines_follow_in_time(tmp_path, tiny_data,
                                                                                     monkeypatch, capsys):
    monkeypatch.setattr(headless, "LOG_LINE_INTERVAL_S", 0.0)  # every progress report a line
    monkeypatch.setattr(headless.sys, "stderr", io.StringIO())  # a file: not a terminal
    config = ExperimentConfig(runs=[RunSpec("he", "relu")], depth=1, width=8, batch_size=32, epochs=None, steps=12,
                              stats_every=4, device="cpu", preset="compare")
    log = RunLog.create(tmp_path, config, {"dataset": "random"})
    assert len(tiny_data.train_labels) // 32 > 12  # shorter than an epoch: no evaluation before the end
    status = run_headless(config, tiny_data, log, json_output=False)
    lines = headless.sys.stderr.getvalue().splitlines()
    assert status == 0
    assert lines[0] == f"inittui: training compare (1 run, 12 steps); run log {log.run_dir}"
    progress = [line for line in lines[1:] if " step " in line and line.endswith("|  he:relu -")]
    assert len(progress) >= 3 and "step 12/12" not in progress[0]
    assert capsys.readouterr().out.strip().endswith(f"log: {log.run_dir}")


def test_the_first_line_counts_a_seed_group_as_runs_times_seeds(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setattr(headless.sys, "stderr", io.StringIO())
    config = ExperimentConfig(runs=[RunSpec("he", "relu"), RunSpec("xavier", "tanh")], depth=1, width=8,
                              batch_size=32, epochs=None, steps=3, device="cpu", preset="custom", seeds=[0, 1, 2])
    log = RunLog.create(tmp_path, config, {"dataset": "random"})
    assert run_headless(config, tiny_data, log, json_output=False) == 0
    first = headless.sys.stderr.getvalue().splitlines()[0]
    assert first == f"inittui: training custom (2 runs × 3 seeds, 3 steps); run log {log.run_dir}"
