"""``inittui sweep``: the sweep file, its expansion and its errors, sweep.json, retries, and local runs (here, in
processes, interrupted and resumed). The runs on a real Ray cluster: test_sweep_ray.py."""

from __future__ import annotations

import importlib.util
import json
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inittui import cli
from inittui.core.errors import ConfigError
from inittui.experiments.reproduce import TrainOutcome
from inittui.experiments.sweep import SETTINGS, load_sweep, read_settings
from inittui.runlog.manifest import SweepManifest
from inittui.experiments.sweep_runner import InProcess, run_tasks, share_token
from inittui.experiments.sweep_task import ExperimentTask, TaskResult, pack, unpack
from support.sweeps import (
    assert_whole_log,
    full_size_mnist,
    manifest,
    measured,
    run_sweep,
    start_sweep,
    sweep_dirs,
    wait_for,
    write_sweep,
)

SMALL = 'runs = "he:relu,xavier:tanh"\ndepth = [2, 3]\nseeds = [0, 1]\nsteps = 50\n'


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory) -> Path:
    return full_size_mnist(tmp_path_factory.mktemp("mnist"))


# ------------------------------------------------------------------------------------------ the sweep file


def test_lists_are_axes_and_the_experiments_their_product(tmp_path):
    path = write_sweep(tmp_path / "study.toml", 'preset = "compare"\nwidth = 64\ndepth = [2, 3]\n'
                       'lr = [0.1, 0.01]\nseeds = [0, 1, 2]\nsteps = 20\n')
    plan = load_sweep(path)
    assert plan.name == "study" and plan.fixed == {"preset": "compare", "width": 64, "steps": 20}
    assert [e.axes for e in plan.experiments[:4]] == [
        {"depth": 2, "lr": 0.1, "seeds": 0}, {"depth": 2, "lr": 0.1, "seeds": 1},
        {"depth": 2, "lr": 0.1, "seeds": 2}, {"depth": 2, "lr": 0.01, "seeds": 0},
    ]
    assert len(plan.experiments) == 12
    last = plan.experiments[-1]
    assert last.name == "011-depth3-lr0.01-seed2"
    config = last.config
    assert (config.depth, config.lr, config.seed, config.width, config.steps, config.epochs) == (3, 0.01, 2, 64, 20, None)
    assert [spec.name for spec in config.runs][:2] == ["normal-0.01:tanh", "xavier:tanh"]  # the preset's runs
    assert len({e.name for e in plan.experiments}) == 12


def test_runs_fixed_atlas_or_an_axis_of_run_sets(tmp_path):
    atlas = load_sweep(write_sweep(tmp_path / "a.toml", 'runs = "atlas"\nepochs = 1\n'))
    assert len(atlas.experiments) == 1 and len(atlas.experiments[0].config.runs) == 60
    sets = load_sweep(write_sweep(tmp_path / "b.toml", 'runs = ["he:relu,xavier:tanh", "lsuv:gelu"]\n'))
    assert [[s.name for s in e.config.runs] for e in sets.experiments] == [["he:relu", "xavier:tanh"], ["lsuv:gelu"]]
    assert [e.name for e in sets.experiments] == ["000-runs0", "001-runs1"]


@pytest.mark.parametrize(("text", "key", "value"), [
    ("detph = 3\n", "detph", "3"),  # unknown key
    ('depth = "deep"\n', "depth", '"deep"'),  # wrong type
    ("depth = [2, true]\n", "depth", "True"),  # wrong type inside an axis
    ("lr = []\n", "lr", "[]"),  # empty list
    ('runs = "hee:relu,xavier:tanh"\n', "runs", '"hee:relu,xavier:tanh"'),  # unknown initialiser
    ('runs = ["he:relu", "he:swish"]\n', "runs", '"he:swish"'),  # unknown activation in an axis
    ("lr = -0.1\n", "lr", "-0.1"),
    ("lr = inf\n", "lr", "inf"),
    ("lr = [0.1, nan]\n", "lr", "nan"),
    ('optimizer = "rmsprop"\n', "optimizer", '"rmsprop"'),
])
def test_a_bad_sweep_file_is_one_line_naming_file_key_and_value_and_exit_2(tmp_path, capsys, text, key, value):
    path = write_sweep(tmp_path / "bad.toml", text)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", str(path), "--dry-run"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err and key in err and value in err, err


def test_an_experiment_too_big_for_memory_is_refused_before_the_sweep_starts(tmp_path, capsys):
    path = write_sweep(tmp_path / "huge.toml", "width = [100, 100000000]\nsteps = 1\n")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", str(path), "--device", "cpu", "--log-dir", str(tmp_path / "logs")])
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"inittui sweep: error: {path}: experiment 001-width100000000: this experiment needs "
                           "at least 1,920 PB of memory")
    assert line.endswith("is available on this machine")
    assert not (tmp_path / "logs").exists()


def test_syntax_errors_and_epochs_with_steps_are_one_line_too(tmp_path):
    for text, words in (("depth = [2,\n", "not valid TOML"), ("epochs = 1\nsteps = [10, 20]\n", "epochs and steps")):
        with pytest.raises(ConfigError, match=words):
            read_settings(write_sweep(tmp_path / "bad.toml", text))
    with pytest.raises(ConfigError, match="no such sweep file"):
        read_settings(tmp_path / "missing.toml")


values = st.one_of(st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.text(max_size=12), st.lists(st.integers(-2, 5), max_size=3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from([*SETTINGS, "seed", "batch-size"]), value=values)
def test_any_value_of_any_key_is_read_or_refused_in_one_line_naming_the_key(tmp_path, key, value):
    path = tmp_path / "any.toml"
    # JSON's strings, booleans and integer lists are TOML's; Python's repr of a float (nan, inf, 1e+300) is too
    path.write_text(f"{key} = {repr(value) if isinstance(value, float) else json.dumps(value)}\n")
    try:
        fixed, axes = read_settings(path)
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message and str(path) in message
        assert key in message or "TOML" in message
    else:
        assert key in SETTINGS and (key in fixed or key in axes)


def test_dry_run_lists_every_experiment_with_its_cost_and_trains_nothing(tmp_path, capsys):
    path = write_sweep(tmp_path / "s.toml", SMALL)
    assert cli.main(["sweep", str(path), "--dry-run", "--log-dir", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "sweep s: 4 experiments; axes: depth (2), seeds (2)"
    # 784·100 + 100·100 + 100·10 weights and 210 biases at depth 2: 6 FLOP × 89,610 × 128 samples × 50 steps × 2 runs
    assert "000-depth2-seed0  depth=2 seeds=0  50 steps × 2 runs of 784-100×2-10, batch 128: 6.88 GFLOP" in out[1]
    assert out[-1].startswith("total 29.1 GFLOP")
    assert not (tmp_path / "logs").exists()


def test_ray_without_ray_installed_says_how_to_install_in_one_line(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    path = write_sweep(tmp_path / "s.toml", SMALL)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", str(path), "--ray", "--log-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "pip install 'inittui[ray]'" in err


@pytest.mark.parametrize(("options", "message"), [
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--retries", "-1"], "--retries must be 0 or more"),
    (["--gpus-per-experiment", "0.5"], "--gpus-per-experiment needs --ray"),
    (["--jobs", "2", "--ray"], "not allowed with argument"),
])
def test_bad_execution_options_exit_2(tmp_path, capsys, options, message):
    path = write_sweep(tmp_path / "s.toml", SMALL)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", str(path), "--dry-run", *options])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the runner


def _tasks(tmp_path: Path, names: list[str]) -> tuple[list[ExperimentTask], SweepManifest]:
    from inittui.runlog.manifest import ExperimentEntry

    plan = load_sweep(write_sweep(tmp_path / "s.toml", SMALL))
    token = share_token(tmp_path)
    tasks = [ExperimentTask(name, name, plan.experiments[0].config, str(tmp_path / name), None, token) for name in names]
    entries = [ExperimentEntry(name, {}, {}, name) for name in names]
    return tasks, SweepManifest.new(tmp_path, "s", "s.toml", entries)


def test_a_failing_task_is_retried_until_it_succeeds_and_sweep_json_follows_each_state(tmp_path):
    tasks, sweep_manifest = _tasks(tmp_path, ["a", "b"])
    seen: list[tuple[str, str, int]] = []
    failures = {"a": 2}

    def train(task: ExperimentTask) -> TaskResult:
        entry = json.loads((tmp_path / "sweep.json").read_text())["experiments"]
        state = next(e for e in entry if e["name"] == task.name)
        seen.append((task.name, state["state"], state["attempts"]))
        if failures.get(task.name, 0) > 0:
            failures[task.name] -= 1
            raise OSError("worker lost")
        return TaskResult(task.name, [TrainOutcome(test_acc={"he:relu": 0.5}, statuses={"he:relu": "done"})], None,
                          "here")

    report = run_tasks(tasks, InProcess(train), retries=2, manifest=sweep_manifest)
    assert seen == [("a", "running", 1), ("a", "running", 2), ("a", "running", 3), ("b", "running", 1)]
    final = {e["name"]: e for e in json.loads((tmp_path / "sweep.json").read_text())["experiments"]}
    assert final["a"]["state"] == final["b"]["state"] == "done" and final["a"]["attempts"] == 3
    assert final["a"]["results"] == [{"name": "he:relu", "status": "done", "steps": 0, "train_loss": None,
                                     "test_acc": 0.5}]
    assert not report.failures and set(report.results) == {"a", "b"}


def test_a_task_failing_more_often_than_retries_is_failed_and_the_others_go_on(tmp_path):
    tasks, sweep_manifest = _tasks(tmp_path, ["a", "b"])

    def train(task: ExperimentTask) -> TaskResult:
        if task.name == "a":
            raise RuntimeError("bad node\nmore detail")
        return TaskResult(task.name, [TrainOutcome()], None, "here")

    report = run_tasks(tasks, InProcess(train), retries=1, manifest=sweep_manifest)
    final = {e.name: e for e in SweepManifest.load(tmp_path).experiments}
    assert (final["a"].state, final["a"].attempts, final["a"].error) == ("failed", 2, "RuntimeError: bad node")
    assert final["b"].state == "done" and report.failures == {"a": "RuntimeError: bad node"}


def test_a_shipped_log_replaces_a_partial_one(tmp_path):
    source = tmp_path / "worker" / "000-x"
    source.mkdir(parents=True)
    (source / "events.jsonl").write_text('{"type": "finished"}\n')
    target = tmp_path / "driver" / "000-x"
    target.mkdir(parents=True)
    (target / "events.jsonl").write_text('{"type": "started"}\n{"type": "progr')
    (target / "stale").write_text("")
    unpack(pack(source), target)
    assert sorted(p.name for p in target.iterdir()) == ["events.jsonl"]
    assert (target / "events.jsonl").read_text() == '{"type": "finished"}\n'
    with pytest.raises(ValueError):
        unpack(pack(source), tmp_path / "driver" / "001-y")


# ------------------------------------------------------------------------------------------ local runs


def test_a_local_sweep_writes_every_log_and_sweep_json_and_jobs_2_gives_the_same_numbers(tmp_path, mnist_files):
    path = write_sweep(tmp_path / "s.toml", 'runs = "he:relu,xavier:tanh"\ndepth = [2, 3]\nsteps = 50\n')
    common = [str(path), "--data-dir", str(mnist_files), "--threads", "1", "--stats-every", "25", "--device", "cpu"]
    serial = run_sweep([*common, "--log-dir", str(tmp_path / "serial")])
    assert serial.returncode == 0, serial.stderr
    jobs = run_sweep([*common, "--log-dir", str(tmp_path / "jobs"), "--jobs", "2"])
    assert jobs.returncode == 0, jobs.stderr
    assert "sweep: [" in jobs.stderr and "ETA" in jobs.stderr and "on 2 local processes" in jobs.stderr
    (serial_dir,), (jobs_dir,) = sweep_dirs(tmp_path / "serial"), sweep_dirs(tmp_path / "jobs")
    for sweep_dir in (serial_dir, jobs_dir):
        recorded = manifest(sweep_dir)
        assert recorded["counts"] == {"pending": 0, "running": 0, "done": 2, "failed": 0}
        assert [e["attempts"] for e in recorded["experiments"]] == [1, 1]
    for name in ("000-depth2", "001-depth3"):
        assert_whole_log(serial_dir / name, 50)
        numbers = measured(serial_dir / name)
        assert all(len(run) == 50 and run[0] != run[-1] for run in numbers["losses"].values())  # the weights moved
        assert numbers == measured(jobs_dir / name)
    # `inittui runs` lists the sweep's experiments as it lists any run
    assert cli.main(["runs", "--log-dir", str(serial_dir)]) == 0


def test_ctrl_c_mid_sweep_then_resume_runs_only_what_was_not_done(tmp_path, mnist_files):
    # the middle experiment is long enough to be interrupted on a loaded machine
    path = write_sweep(tmp_path / "s.toml", 'runs = "he:relu"\ndepth = 2\nsteps = [30, 3000, 30]\n')
    common = [str(path), "--data-dir", str(mnist_files), "--threads", "1", "--stats-every", "25", "--device", "cpu",
              "--log-dir", str(tmp_path)]
    process = start_sweep(common)
    sweep_dir = wait_for(lambda: next(iter(sweep_dirs(tmp_path)), None), what="the sweep's directory")
    first_log = sweep_dir / "000-steps30" / "events.jsonl"

    def middle_training() -> bool:
        try:
            states = [e["state"] for e in manifest(sweep_dir)["experiments"]]
        except (OSError, ValueError):
            return False
        events = sweep_dir / "001-steps3000" / "events.jsonl"
        return states[:2] == ["done", "running"] and events.exists() and events.read_text().count('"progress"') >= 2

    wait_for(middle_training, what="the second experiment to train")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert f"--resume {sweep_dir}" in err
    stopped = manifest(sweep_dir)
    assert [e["state"] for e in stopped["experiments"]] == ["done", "pending", "pending"]
    first = first_log.stat()

    resumed = run_sweep([*common, "--resume", str(sweep_dir)], timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 experiments to run (1 done before)" in resumed.stderr
    final = manifest(sweep_dir)
    assert [e["state"] for e in final["experiments"]] == ["done"] * 3
    assert [e["attempts"] for e in final["experiments"]] == [1, 2, 1]
    assert (first_log.stat().st_ino, first_log.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert_whole_log(sweep_dir / "001-steps3000", 3000)
    assert_whole_log(sweep_dir / "002-steps30", 30)


def test_resume_refuses_a_directory_made_from_another_sweep(tmp_path, mnist_files, capsys):
    path = write_sweep(tmp_path / "s.toml", 'runs = "he:relu"\ndepth = 1\nsteps = [5, 6]\n')
    options = ["--data-dir", str(mnist_files), "--threads", "1", "--device", "cpu", "--log-dir", str(tmp_path)]
    assert cli.main(["sweep", str(path), *options]) == 0
    (sweep_dir,) = sweep_dirs(tmp_path)
    write_sweep(path, 'runs = "he:relu"\ndepth = 1\nsteps = [5, 7]\n')
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", str(path), *options, "--resume", str(sweep_dir)])
    assert exit_.value.code == 2 and "lists other experiments" in capsys.readouterr().err
