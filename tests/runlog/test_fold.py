"""The one fold of an event stream: each run's lives, curves fed every step, numbers that never leak from one
life into the next, and a fixture log of the format logs were written in before records carried numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.logs import folded, train_to_log
from support.records import record
from inittui.core.events import (
    Evaluation,
    ExperimentStarted,
    JacobianSpectra,
    LayerStats,
    RunSpectrum,
    RunsChanged,
    TrainProgress,
    event_from_json,
)
from inittui.runlog.catalogue import read_run, summarise_run
from inittui.runlog.fold import LIVES_KEPT, PAST_LIFE_BUCKETS, RunFold
from inittui.runlog.reader import read_events

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def started(*runs) -> ExperimentStarted:
    return ExperimentStarted({"preset": "compare"}, "cpu", "CPU", "data", 1000, 100, list(runs), 0.0)


def test_curves_keep_every_step_min_max_and_mean(tmp_path):
    run_dir = train_to_log(tmp_path)
    events = read_events(run_dir)
    fold = folded(events)
    for run_id in (0, 1):
        losses: dict[int, float] = {}
        for event in events:
            if isinstance(event, TrainProgress):
                row = event.run_ids.index(run_id)
                chunk = event.losses[row]
                for k, value in enumerate(chunk):
                    if value is not None:
                        losses[event.run_steps[row] - len(chunk) + 1 + k] = value
        curve = fold.runs[run_id].life.loss
        assert curve.last_step == max(losses)
        columns = [c for c in curve.columns(3) if c is not None]
        assert min(c.minimum for c in columns) == min(losses.values())
        assert max(c.maximum for c in columns) == max(losses.values())
        assert sum(curve.count) == len(losses)
        assert math.fsum(curve.total) == pytest.approx(math.fsum(losses.values()))
        tests = [e.test_acc[e.run_ids.index(run_id)] for e in events if isinstance(e, Evaluation)]
        assert [acc for _, acc in fold.runs[run_id].life.test] == tests


def test_a_restart_begins_a_life_and_the_old_one_keeps_its_numbers():
    fold = folded([
        started(record(0, "he", "relu"), record(1, "xavier", "tanh")),
        TrainProgress(20, 0.2, [0, 1], [20, 20], [[2.0] * 20, [3.0] * 20], [[0.5] * 20] * 2, 1.0, 1.0),
        Evaluation(20, 0.2, [0, 1], [0.9, 0.8], [0.1, 0.2]),
        # the engine restarted run 0 (its next draw) and told the new table; run 1 went on
        RunsChanged(20, "restart", [record(0, "he", "relu", draw=1), record(1, "xavier", "tanh", step=20)], 3),
        TrainProgress(25, 0.25, [0, 1], [5, 25], [[9.0] * 5, [3.0] * 5], [[0.1] * 5] * 2, 1.0, 1.0),
    ])
    restarted, kept = fold.runs[0], fold.runs[1]
    assert [life.started_at for life in restarted.lives] == [0, 20]
    old, new = restarted.lives
    assert (old.record.best_test_acc, old.record.step) == (0.9, 20)
    assert (new.record.step, new.record.test_acc, new.record.best_test_acc) == (5, None, None)
    # a run's k-th step is at x = k, as the dashboard draws it
    assert new.loss.minimum[:6].tolist() == [math.inf] + [9.0] * 5 and new.loss.last_step == 5
    assert len(old.loss.minimum) == PAST_LIFE_BUCKETS and old.loss.last_step == 20
    assert len(kept.lives) == 1 and kept.record.step == 25 and kept.record.best_test_acc == 0.8
    assert restarted.life_at(19) is old and restarted.life_at(20) is new and restarted.life_at(-1) is None


def test_an_evaluation_folded_before_the_restart_stays_with_the_life_it_measured():
    """The engine evaluates at an epoch's end and restarts after: the evaluation is the old life's."""
    fold = folded([
        started(record(0, "he", "tanh")),
        TrainProgress(100, 1.0, [0], [100], [[0.5] * 100], [[0.9] * 100], 1.0, 1.0),
        Evaluation(100, 1.0, [0], [0.943], [0.2]),
        RunsChanged(100, "restart", [record(0, "he", "tanh", draw=1)], 1),
        TrainProgress(101, 1.01, [0], [1], [[2.3]], [[0.1]], 1.0, 1.0),
    ])
    record_now = fold.runs[0].record
    assert (record_now.test_acc, record_now.best_test_acc, record_now.train_acc) == (None, None, 0.1)


def test_an_evaluation_that_arrives_after_the_restart_is_still_the_old_lifes():
    """A log written before the engine flushed its evaluation ahead of a restart: R at an epoch's end, the new
    table, then the evaluation of step 100, which measured the old weights. It never shows on the new life."""
    fold = folded([
        started(record(0, "he", "tanh"), record(1, "xavier", "tanh")),
        TrainProgress(100, 1.0, [0, 1], [100, 100], [[0.5] * 100] * 2, [[0.9] * 100] * 2, 1.0, 1.0),
        RunsChanged(100, "restart", [record(0, "he", "tanh", draw=1), record(1, "xavier", "tanh", step=100)], 1),
        Evaluation(100, 1.0, [0, 1], [0.943, 0.912], [0.2, 0.3]),
        TrainProgress(101, 1.01, [0, 1], [1, 101], [[2.3], [0.4]], [[0.1], [0.9]], 1.0, 1.0),
        Evaluation(200, 2.0, [0, 1], [0.5, 0.92], [1.0, 0.3]),
    ])
    old, new = fold.runs[0].lives
    assert (old.record.test_acc, old.record.best_test_acc, old.test) == (0.943, 0.943, [(100, 0.943)])
    assert (new.record.test_acc, new.record.best_test_acc, new.test) == (0.5, 0.5, [(1, 0.5)])
    assert fold.runs[1].record.best_test_acc == 0.92 and len(fold.runs[1].life.test) == 2  # one life: both


def test_a_step_that_goes_back_without_a_word_is_a_restart_too():
    """Logs written before restarts were told by the run's draw: a step going back begins a life."""
    fold = folded([
        started(record(0, "he", "relu")),
        TrainProgress(30, 0.3, [0], [30], [[1.0] * 30], [[0.5] * 30], 1.0, 1.0),
        TrainProgress(40, 0.4, [0], [10], [[2.0] * 10], [[0.5] * 10], 1.0, 1.0),
    ])
    assert [life.started_at for life in fold.runs[0].lives] == [0, 30]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats()), min_size=1, max_size=8), st.booleans())
def test_a_runs_train_loss_is_the_last_loss_of_its_latest_chunk_that_is_not_none(chunk, curves):
    fold = RunFold(curves=curves)
    for event in (started(record(0, "he", "relu")), TrainProgress(1, 0.1, [0], [1], [[0.7]], [[0.5]], 1.0, 1.0),
                  TrainProgress(9, 0.9, [0], [1 + len(chunk)], [chunk], [[0.5] * len(chunk)], 1.0, 1.0)):
        fold.apply(event)
    told = [value for value in chunk if value is not None]
    # a chunk of a run that trained no step of it (diverged) leaves the loss it had
    assert repr(fold.runs[0].record.train_loss) == repr(told[-1] if told else 0.7)


def test_a_run_keeps_at_most_its_latest_lives():
    events = [started(record(0, "he", "relu"))]
    for draw in range(1, LIVES_KEPT + 10):
        events.append(RunsChanged(draw, "restart", [record(0, "he", "relu", draw=draw)]))
    fold = folded(events)
    assert len(fold.runs[0].lives) == LIVES_KEPT and fold.runs[0].record.draw == LIVES_KEPT + 9


def test_layer_statistics_give_the_runs_dead_and_saturated_share():
    from support.records import layer

    fold = folded([
        started(record(0, "he", "relu"), record(1, "xavier", "tanh")),
        LayerStats(5, [0, 1], [[layer(dead=0.2), layer(dead=0.4)], [layer(saturated=0.1), layer(saturated=0.3)]],
                   [[1.0, 1.0], [0.5, 0.5]]),
    ])
    assert fold.runs[0].record.dead == pytest.approx(0.3) and fold.runs[0].record.saturated is None
    assert fold.runs[1].record.saturated == pytest.approx(0.2) and fold.runs[1].life.layers_step == 5


def test_a_log_in_the_format_before_run_records_still_reads():
    """tests/runlog/fixtures/old-format: written by the engine before runs carried their numbers and draw."""
    run = read_run(FIXTURES / "old-format")
    assert run.index.skipped == 0 and run.status == "done"
    assert [r.record.name for r in run.fold.runs.values()] == ["he:relu", "xavier:tanh"]
    assert all(r.record.best_test_acc is not None and r.record.step > 0 for r in run.fold.runs.values())
    assert all(len(r.life.loss) > 0 and r.life.layers for r in run.fold.runs.values())
    # from before the Jacobian spectrum: none, and nothing skipped for want of one
    assert all(r.life.spectra == [] and r.life.spectrum_at(None) is None for r in run.fold.runs.values())
    summary = summarise_run(FIXTURES / "old-format")
    assert summary.runs == ["he:relu", "xavier:tanh"] and set(summary.best_test_acc) == {"he:relu", "xavier:tanh"}
    # written before seed groups: one seed each, the experiment's
    experiment_seed = run.fold.experiment.config["seed"]
    assert all(r.record.seed is None and r.record.seed_or(experiment_seed) == experiment_seed for r in run.fold.runs.values())
    assert all(len(accuracies) == 1 for accuracies in summary.best_test_acc.values())


def test_a_fold_without_curves_folds_everything_else_alike(tmp_path):
    events = read_events(train_to_log(tmp_path))
    with_curves, without = RunFold(), RunFold(curves=False)
    for event in events:
        with_curves.apply(event)
        without.apply(event)
    assert without.experiment == with_curves.experiment
    for run_id, run in with_curves.runs.items():
        bare = without.runs[run_id]
        assert [life.record for life in bare.lives] == [life.record for life in run.lives]
        assert [life.test for life in bare.lives] == [life.test for life in run.lives]
        assert len(run.life.loss) and not len(bare.life.loss) and not len(bare.life.accuracy)


def _spectrum(ratio: float) -> RunSpectrum:
    return RunSpectrum(ratio, 1.0, [1.0, ratio], [0.5, 0.4], [0.5, 0.45], 1.0, 0.98)


def test_spectra_are_kept_per_life_and_found_at_a_step():
    fold = folded([
        started(record(0, "orthogonal-critical", "tanh"), record(1, "xavier", "tanh")),
        JacobianSpectra(0, [0, 1], [_spectrum(2.0), _spectrum(900.0)], 0.2, 32),
        TrainProgress(20, 0.2, [0, 1], [20, 20], [[2.0] * 20, [3.0] * 20], [[0.5] * 20] * 2, 1.0, 1.0),
        JacobianSpectra(20, [0, 1], [_spectrum(3.0), _spectrum(800.0)], 0.2, 32),
    ])
    life = fold.runs[0].life
    assert [step for step, _ in life.spectra] == [0, 20]
    assert (fold.experiment.spectrum_step, fold.experiment.spectrum_interval) == (20, 20)  # the header's cadence
    assert life.spectrum_at(None)[1].s_max == 3.0
    assert life.spectrum_at(19) == (0, _spectrum(2.0))
    assert life.spectrum_at(-1) is None
    # a restart begins a life without the old life's spectra
    fold.apply(RunsChanged(25, "restart", [record(0, "orthogonal-critical", "tanh", draw=1), record(1, "xavier", "tanh", step=25)]))
    assert fold.runs[0].life.spectra == [] and len(fold.runs[1].life.spectra) == 2


def test_a_spectrum_line_round_trips_and_a_damaged_one_is_refused():
    event = JacobianSpectra(7, [3], [_spectrum(5.0)], 0.25, 32)
    assert event_from_json(event.to_json()) == event
    damaged = event.to_json().replace('"s_max":5.0', '"s_max":"five"')
    with pytest.raises(TypeError):
        event_from_json(damaged)
    with pytest.raises(ValueError):  # one spectrum per run
        event_from_json(JacobianSpectra(7, [3, 4], [_spectrum(5.0)], 0.25, 32).to_json())


def test_a_logged_spectrum_reads_back_for_view_as_the_engine_emitted_it(tmp_path):
    run_dir = train_to_log(tmp_path)
    emitted = [e for e in read_events(run_dir) if isinstance(e, JacobianSpectra)]
    assert [e.step for e in emitted] == [0]  # at initialisation; its own cadence keeps it rare
    run = read_run(run_dir)  # what `inittui view` and `inittui runs` read
    assert run.index.skipped == 0
    for run_id, spectrum in zip(emitted[0].run_ids, emitted[0].spectra):
        assert run.fold.runs[run_id].life.spectrum_at(None) == (0, spectrum)
