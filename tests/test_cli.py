"""The command line: clear one-line errors, exit statuses, JSON output, clean stops."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torchvision
from support.cli import run_main
from support.data import closed_local_url



@pytest.mark.parametrize(
    "argv,message",
    [
        (["--headless", "--runs", "magic:relu"], "unknown initialiser 'magic'"),
        (["--headless", "--runs", "he:swish"], "unknown activation 'swish'"),
        (["--headless", "--runs", "he"], "not of the form INIT:ACTIVATION"),
        (["--headless", "--lr", "0"], "must be greater than 0"),
        (["--headless", "--depth", "0"], "--depth must be at least 1"),
        (["--headless", "--device", "tpu"], "unknown device 'tpu'"),
        (["--headless", "--data-dir", "/no/such/dir"], "--data-dir /no/such/dir: no such directory"),
        (["--headless", "--preset", "nope"], "invalid choice: 'nope'"),
        (["probe", "--inits", "zero"], "unknown initialiser 'zero'"),
        (["reproduce", "--seeds", "a,b"], "--seeds 'a,b': 'a' is not a seed"),
        (["--headless", "--seeds", "3-1"], "the range '3-1' runs backwards"),
        (["--headless", "--seeds", "0,1,1"], "names a seed twice"),
        (["--headless", "--seeds", "-1"], "'-1' is not a seed"),
        (["--headless", "--seeds", "0,1", "--seed", "2"], "give --seed or --seeds, not both"),
        (["reproduce", "--seeds", "0,9223372036854775808"], "between 0 and 9223372036854775807"),
        (["--headless", "--seeds", "0-1000000000000"], "at most 1000 seeds at once"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys, argv, message):
    status, out, err = run_main(capsys, *argv)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert re.match(r"inittui \w+: error: " if argv[0] in ("probe", "reproduce") else "inittui: error: ", err)


def test_an_error_is_labelled_with_the_command_the_user_typed(capsys):
    assert run_main(capsys, "--depth", "0")[2].startswith("inittui: error: --depth")
    assert run_main(capsys, "train", "--depth", "0")[2].startswith("inittui train: error: --depth")
    assert run_main(capsys, "--preset", "nope")[2].startswith("inittui: error: argument --preset")
    assert run_main(capsys, "train", "--preset", "nope")[2].startswith("inittui train: error: argument --preset")


# main() in a fresh interpreter, then whether it imported torch; the answer is the last line of stdout
MAIN_THEN_TORCH_LOADED = (
    "import sys\n"
    "from inittui.cli import main\n"
    "try:\n"
    "    status = main(sys.argv[1:])\n"
    "except SystemExit as exit_:\n"
    "    status = exit_.code\n"
    "print('torch' in sys.modules)\n"
    "sys.exit(status)\n"
)


def _run_bad_command(tmp_path: Path, argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", MAIN_THEN_TORCH_LOADED, *argv, "--log-dir", str(tmp_path / "logs")],
                          capture_output=True, text=True, timeout=60, env=env)


# --headless and the dashboard (no --headless) validate alike; headless trains one step if a check is missing
PATHS = {"headless": ["--headless", "--steps", "1"], "dashboard": []}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(
    "argv,message",
    [
        (["--lr", "1e400"], "argument --lr: must be a finite number, got 1e400"),
        (["--lr", "nan"], "argument --lr: must be a finite number, got nan"),
        (["--lr", "-1"], "argument --lr: must be greater than 0, got -1"),
        (["--lr", "0"], "argument --lr: must be greater than 0, got 0"),
        (["--runs", ""], "--runs names no run"),
        (["--device", "cpu:1"], "unknown device 'cpu:1'; use auto, cpu, cuda or cuda:N"),
        (["--depth", "0"], "--depth must be at least 1, got 0"),
        (["--data-dir", "/nonexistent"], "--data-dir /nonexistent: no such directory"),
        (["--fps", "inf"], "argument --fps: must be a finite number, got inf"),
        (["--fps", "1e300"], "argument --fps: must be between 0.1 and 60 redraws per second, got 1e300"),
        (["--fps", "1e-300"], "argument --fps: must be between 0.1 and 60 redraws per second, got 1e-300"),
        (["--seed", "100000000000000000000000"], "--seed must be between 0 and 9223372036854775807, got "
                                                  "100000000000000000000000"),
    ],
)
def test_a_bad_number_is_refused_before_torch_loads(tmp_path, path, argv, message):
    result = _run_bad_command(tmp_path, [*PATHS[path], *argv])
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"inittui: error: {message}" + (" (see inittui --help)" if "argument" in message else "")]
    assert result.stdout.splitlines()[-1] == "False", "torch was imported"
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("path", list(PATHS))
def test_an_experiment_too_big_for_memory_is_refused_with_the_estimate(tmp_path, path):
    result = _run_bad_command(tmp_path, [*PATHS[path], "--width", "100000000", "--device", "cpu"])
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert re.fullmatch(r"inittui: error: this experiment needs at least 1,920 PB of memory \(6 × "
                        r"40,000,079,900,000,010 parameters .*\), but only [0-9.]+ [kMGT]B is available on this machine",
                        line), line
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("path", list(PATHS))
def test_a_cuda_device_that_does_not_exist_is_one_line(tmp_path, path):
    result = _run_bad_command(tmp_path, [*PATHS[path], "--device", "cuda:7"])
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("inittui: error: device 'cuda:7' asked for, but ")
    assert not (tmp_path / "logs").exists()


def test_asking_for_cuda_without_cuda_exits_2(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status, _, err = run_main(capsys, "--headless", "--device", "cuda")
    assert status == 2 and "CUDA is not available" in err


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "INITTUI_DATA_DIR"}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_DATA_HOME=str(tmp_path / "data"))
    return env


def test_without_data_or_network_it_says_so_in_one_line(tmp_path):
    # the real command, with torchvision's download pointed at a local port where nothing listens: no network
    # on every machine, so it can never download MNIST and train instead
    assert isinstance(torchvision.datasets.MNIST.mirrors, list)
    launcher = (
        "import sys, torchvision; torchvision.datasets.MNIST.mirrors = [sys.argv.pop(1)]; "
        "from inittui.cli import main; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", launcher, closed_local_url(), "train", "--headless"],
        env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    for name in ("--data-dir", "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "Connection refused"):
        assert name in message


def test_without_data_or_network_it_says_so_within_seconds(capsys, monkeypatch, tmp_path):
    # in this process, where torch is imported already: the time is the command's, not the interpreter's start
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [closed_local_url()])
    for name in ("HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, _clean_env(tmp_path)[name])
    monkeypatch.delenv("INITTUI_DATA_DIR", raising=False)
    started = time.perf_counter()
    status, _, err = run_main(capsys, "train", "--headless")
    assert time.perf_counter() - started < 10
    assert status == 1 and "Connection refused" in err and "--data-dir" in err


def test_probe_json_is_one_object_with_prediction_beside_measurement():
    result = subprocess.run(
        [sys.executable, "-m", "inittui.cli", "probe", "--inits", "he,xavier", "--activations", "relu",
         "--trials", "2", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    report = json.loads(result.stdout)
    assert [(r["init"], r["activation"]) for r in report["results"]] == [("he", "relu"), ("xavier", "relu")]
    layer = report["results"][0]["layers"][0]
    assert {"mean", "std", "predicted_std", "saturated", "dead"} <= set(layer)


@pytest.mark.mnist
def test_headless_json_on_real_mnist(mnist_dir, tmp_path):
    result = subprocess.run(
        ["inittui", "train", "--headless", "--steps", "60", "--stats-every", "20", "--json",
         "--data-dir", str(mnist_dir), "--log-dir", str(tmp_path), "--runs", "he:relu,normal-0.01:relu"],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"preset", "device", "run_dir", "samples_per_s", "runs"}
    assert report["device"] == "cpu" and report["samples_per_s"] > 0
    he, small = report["runs"]
    assert he["name"] == "he:relu" and he["status"] == "done" and he["steps"] == 60
    # 60 steps are enough for He to learn and too few for std 0.01 to leave chance
    assert he["test_acc"] > 0.6 and small["test_acc"] < 0.2
    assert he["layers"][0]["predicted_std"] == pytest.approx(he["layers"][0]["initial_std"], rel=0.15)
    assert (Path(report["run_dir"]) / "events.jsonl").exists()

    listed = subprocess.run(["inittui", "runs", "--log-dir", str(tmp_path)], capture_output=True, text=True, check=True)
    assert "he:relu" in listed.stdout and "done" in listed.stdout


@pytest.mark.mnist
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT])
def test_a_hangup_or_ctrl_c_stops_training_and_keeps_the_log_whole(mnist_dir, tmp_path, sig):
    process = subprocess.Popen(
        ["inittui", "train", "--headless", "--epochs", "50", "--data-dir", str(mnist_dir), "--log-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    events = None
    while time.monotonic() < deadline:
        found = list(tmp_path.glob("*/events.jsonl"))
        if found and '"type":"progress"' in found[0].read_text():
            events = found[0]
            break
        time.sleep(0.2)
    assert events is not None, "training never reported progress"
    process.send_signal(sig)
    process.wait(timeout=5)
    lines = events.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "finished" and last["status"] == "stopped"
    assert process.returncode == 130
    assert "Traceback" not in process.stderr.read()


@pytest.mark.mnist
def test_headless_into_a_file_names_the_run_log_first_within_seconds(mnist_dir, tmp_path):
    """The README's recipe, ``nohup inittui --headless > train.out 2>&1``: the file's first line says where
    the log is, written while training has only begun."""
    out = tmp_path / "train.out"
    with out.open("w") as stream:
        began = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "inittui", "--headless", "--epochs", "50", "--data-dir", str(mnist_dir),
             "--log-dir", str(tmp_path / "logs")], stdout=stream, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    try:
        while not out.read_text().endswith("\n") and time.monotonic() - began < 30:
            time.sleep(0.05)
        waited = time.monotonic() - began
        first = out.read_text().splitlines()[0]
        assert process.poll() is None  # still training
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    [run_dir] = (tmp_path / "logs").iterdir()
    assert first == f"inittui: training compare (6 runs, 23,450 steps); run log {run_dir}"
    assert waited < 5, f"the first line took {waited:.1f} s"


def test_a_log_dir_that_cannot_be_written_is_one_line(capsys, tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("")
    status, _, err = run_main(capsys, "--headless", "--log-dir", str(a_file / "runs"))
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"--log-dir: cannot write run logs in {a_file / 'runs'}: Not a directory" in err
    # the default directory, not an argument: exit 1
    monkeypatch.setenv("XDG_DATA_HOME", str(a_file / "data"))
    status, _, err = run_main(capsys, "--headless")
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert f"cannot write run logs in {a_file / 'data' / 'inittui' / 'runs'}: Not a directory" in err


def test_headless_on_a_full_disk_warns_once_trains_on_and_exits_1(capsys, tmp_path, monkeypatch, tiny_data):
    from support.faults import FullDisk

    from inittui.runlog import reader, writer
    from inittui.experiments.headless import run_headless
    from inittui.core.presets import get_preset

    monkeypatch.setattr(writer, "open_append", lambda path: FullDisk(path, room=20_000))
    config = get_preset("compare").config(width=16, depth=2, steps=60, stats_every=10, device="cpu")
    log = writer.RunLog.create(tmp_path, config, {"dataset": "random"})
    status = run_headless(config, tiny_data, log, json_output=True)
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert status == 1
    assert all(run["status"] == "done" and run["steps"] == 60 for run in report["runs"])  # training went on
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert captured.err.strip().splitlines()[-1].startswith("inittui: error: run log incomplete: ")
    contents = reader.read_log(log.run_dir)
    assert contents.skipped == [] and 0 < len(contents.events) < 60
    assert f"the log ends at line {len(contents.events)} " in warnings[0]


def test_runs_lists_a_damaged_run_with_its_skipped_lines(capsys, tmp_path):
    from inittui.core.config import ExperimentConfig, RunSpec
    from inittui.core.events import Evaluation, StateChanged
    from inittui.runlog.writer import RunLog

    log = RunLog.create(tmp_path, ExperimentConfig(runs=[RunSpec("he", "relu")], preset="compare"))
    for step in range(5):
        log.write(StateChanged("running", step))
    log.write(Evaluation(5, 1.0, [0], [0.93], [0.2]))
    log.close()
    lines = log.path.read_bytes().split(b"\n")
    lines[1] = b"\x00\xff not json"
    lines[3] = lines[3][:10]
    log.path.write_bytes(b"\n".join(lines))
    status, out, _ = run_main(capsys, "runs", "--log-dir", str(tmp_path))
    assert status == 0
    assert "he:relu 93.00%" in out and "2 lines skipped" in out


def test_runs_shows_a_seed_group_as_mean_and_std_over_its_seeds(capsys, tmp_path):
    from inittui.core.config import ExperimentConfig, RunSpec
    from inittui.core.events import Evaluation, ExperimentStarted, experiment_runs
    from inittui.runlog.writer import RunLog

    config = ExperimentConfig(runs=[RunSpec("he", "relu")], seeds=[0, 1, 2], preset="compare")
    log = RunLog.create(tmp_path, config)
    log.write(ExperimentStarted(config.to_dict(), "cpu", "CPU", "MNIST", 10, 5, experiment_runs(config), 0.0))
    log.write(Evaluation(5, 1.0, [0, 1, 2], [0.909, 0.912, 0.915], [0.2] * 3))
    log.close()
    status, out, _ = run_main(capsys, "runs", "--log-dir", str(tmp_path))
    assert status == 0 and "he:relu ×3 91.2 ± 0.3 %" in out


def test_runs_loads_neither_torch_nor_numpy(tmp_path):
    from inittui.core.config import ExperimentConfig, RunSpec
    from inittui.core.events import Evaluation, ExperimentStarted, TrainProgress, experiment_runs
    from inittui.runlog.writer import RunLog

    # numpy alone is a third of the start-up of `runs`, which folds no curve
    config = ExperimentConfig(runs=[RunSpec("he", "relu")], preset="compare")
    log = RunLog.create(tmp_path, config)
    log.write(ExperimentStarted(config.to_dict(), "cpu", "CPU", "MNIST", 10, 5, experiment_runs(config), 0.0))
    log.write(TrainProgress(2, 0.4, [0], [2], [[2.3, 2.2]], [[0.1, 0.2]], 1000.0, 0.1))
    log.write(Evaluation(2, 0.4, [0], [0.9], [0.3]))
    log.close()
    code = MAIN_THEN_TORCH_LOADED.replace("print('torch' in sys.modules)", "print(sorted({'torch', 'numpy'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code, "runs", "--log-dir", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert result.returncode == 0, result.stderr
    assert "he:relu 90.00%" in result.stdout and result.stdout.splitlines()[-1] == "[]"


def test_python_dash_m_inittui_is_the_inittui_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "inittui", "runs", "--log-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"no runs in {tmp_path}"
    result = subprocess.run([sys.executable, "-m", "inittui", "--lr", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "must be greater than 0" in result.stderr


def test_on_cuda_the_estimate_is_held_against_the_devices_free_memory(monkeypatch):
    from inittui.cli import _refuse_what_cannot_fit
    from inittui.core.config import ExperimentConfig, RunSpec
    from inittui.core.errors import ConfigError

    free = {"bytes": 2 * 10**9}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free["bytes"], 80 * 10**9))
    from inittui.core.memory import estimate_memory_bytes, format_bytes

    config = ExperimentConfig(runs=[RunSpec("he", "relu")] * 6, width=10_000)
    needed = format_bytes(estimate_memory_bytes(config))
    assert needed == "20.4 GB"  # 6 runs × 408 million parameters × 8 bytes, a batch, the dataset
    with pytest.raises(ConfigError, match=rf"^this experiment needs at least {needed} .* but only 2 GB is available on cuda:0$"):
        _refuse_what_cannot_fit(config, torch.device("cuda", 0))
    free["bytes"] = 21 * 10**9
    _refuse_what_cannot_fit(config, torch.device("cuda", 0))
