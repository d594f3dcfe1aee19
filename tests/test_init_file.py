"""``--init-file`` on the command line: one line and exit 2 for a bad file, nothing loaded that the user did not
name, and the example trained end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli import run_main
from support.idx import write_mnist_files
from support.paths import ROOT

from inittui.cli import build_parser, config_from_args, main
from inittui.core.config import ExperimentConfig, RunSpec
from inittui.core.presets import PRESETS, Preset
from inittui.science.initializers import USER_INITIALIZERS

EXAMPLE = ROOT / "examples" / "my_init.py"


@pytest.fixture(autouse=True)
def forget_user_initializers():
    yield
    USER_INITIALIZERS.clear()


def init_file(tmp_path: Path, body: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text("import torch\nimport inittui\n\n" + textwrap.dedent(body))
    return path


RAISES = '''
    @inittui.initializer("boom")
    def boom(weight, *, activation, generator):
        """W = boom"""
        raise ValueError("no good")
'''
CLASH = '''
    @inittui.initializer("xavier")
    def mine(weight, *, activation, generator):
        """W ~ N(0, 1/n_in)"""
        weight.normal_(0.0, weight.shape[1] ** -0.5, generator=generator)
'''
IMPORT_ERROR = '''
    import no_such_module_here

    @inittui.initializer("x")
    def x(weight, *, activation, generator):
        """W = 0"""
        weight.zero_()
'''
GLOBAL_RNG = '''
    @inittui.initializer("careless")
    def careless(weight, *, activation, generator):
        """W ~ N(0, 1)"""
        weight.normal_()
'''


@pytest.mark.parametrize("body,runs,message", ids=["raises", "global-rng", "import-error"], argvalues=[
    (RAISES, "boom:relu", "boom(): raises ValueError for a 100×784 weight with relu: no good"),
    (GLOBAL_RNG, "careless:tanh", "careless(): ignores generator"),
    (IMPORT_ERROR, "he:relu", "ModuleNotFoundError while loading it: No module named 'no_such_module_here'"),
])
def test_a_bad_file_exits_2_with_one_line_before_any_log(capsys, tmp_path, body, runs, message):
    path = init_file(tmp_path, body)
    log_dir = tmp_path / "runs"
    status, out, err = run_main(capsys, "train", "--headless", "--init-file", str(path), "--runs", runs,
                                "--log-dir", str(log_dir))
    assert status == 2
    assert err.count("\n") == 1 and str(path) in err and message in err, err
    assert "Traceback" not in err and out == ""
    assert not log_dir.exists() or list(log_dir.iterdir()) == []  # no run was started, nothing logged to lose


@pytest.mark.parametrize("headless", [True, False])
def test_what_ast_can_tell_exits_2_before_the_dashboard_too(capsys, tmp_path, headless):
    path = init_file(tmp_path, CLASH)
    argv = ["train", "--headless"] if headless else []
    status, _, err = run_main(capsys, *argv, "--init-file", str(path), "--log-dir", str(tmp_path / "runs"))
    assert status == 2 and err.count("\n") == 1
    assert f"{path}: mine(): the name 'xavier' is a built-in initialiser" in err
    status, _, err = run_main(capsys, *argv, "--init-file", str(tmp_path / "nope.py"))
    assert status == 2 and f"--init-file {tmp_path / 'nope.py'}: no such file" in err


def test_nothing_is_loaded_from_the_current_directory(capsys, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    for name in ("my_init.py", "inittui_init.py", "init.py"):
        init_file(tmp_path, f'open({str(marker)!r}, "w").close()\n' + GLOBAL_RNG, name)
    monkeypatch.chdir(tmp_path)
    status, _, err = run_main(capsys, "train", "--headless", "--runs", "careless:relu", "--log-dir", str(tmp_path / "runs"))
    assert status == 2 and "unknown initialiser 'careless'" in err
    assert not marker.exists()


def test_a_bad_file_in_a_real_process_is_one_line_and_exit_2(tmp_path):
    path = init_file(tmp_path, RAISES)
    result = subprocess.run(
        [sys.executable, "-m", "inittui", "train", "--headless", "--init-file", str(path), "--runs", "boom:tanh",
         "--log-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"inittui train: error: {path}: boom(): raises ValueError for a 100×784 "
                                          "weight with tanh: no good"]


@pytest.fixture(scope="module")
def synthetic_mnist(tmp_path_factory) -> Path:
    return write_mnist_files(tmp_path_factory.mktemp("mnist"), train_count=60_000, test_count=10_000, gz=False)


def test_the_example_trains_headless_beside_he(tmp_path, synthetic_mnist):
    log_dir = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "inittui", "train", "--headless", "--init-file", str(EXAMPLE),
         "--runs", "critical-tanh:tanh,he:relu", "--seeds", "0,1", "--steps", "12", "--stats-every", "4", "--threads", "1", "--json",
         "--data-dir", str(synthetic_mnist), "--log-dir", str(log_dir)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # each run once per seed, the seed group trained together
    assert [(run["name"], run["seed"], run["status"], run["steps"]) for run in summary["runs"]] == [
        ("critical-tanh:tanh", 0, "done", 12), ("critical-tanh:tanh", 1, "done", 12),
        ("he:relu", 0, "done", 12), ("he:relu", 1, "done", 12)]
    assert all(layer["predicted_std"] is not None for run in summary["runs"] for layer in run["layers"])
    [run_dir] = log_dir.iterdir()
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["init_files"] == [str(EXAMPLE)] and set(config["user_initializers"]) == {"critical-tanh", "sparse"}
    stats = [event for event in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines())
             if event["type"] == "layers"]
    first, last = stats[0]["layers"], stats[-1]["layers"]
    for run in range(4):  # the weights moved, in every layer of every seed
        assert all(layer["update_ratio"] > 0 for layer in last[run])
        assert [layer["weight_std"] for layer in first[run]] != [layer["weight_std"] for layer in last[run]]


def test_a_preset_entry_may_name_init_files_and_the_command_line_adds_to_them(monkeypatch, tmp_path):
    other = init_file(tmp_path, CLASH.replace('"xavier"', '"lecun"'))
    base = ExperimentConfig([RunSpec("critical-tanh", "tanh"), RunSpec("he", "relu")], init_files=[str(EXAMPLE)])
    monkeypatch.setitem(PRESETS, "mine", Preset("mine", "critical tanh beside he", "-", base))
    config = config_from_args(build_parser().parse_args(["train", "--preset", "mine"]))
    assert [spec.name for spec in config.runs] == ["critical-tanh:tanh", "he:relu"]
    assert config.init_files == [str(EXAMPLE)] and list(config.user_initializers) == ["critical-tanh", "sparse"]
    assert config.user_initializers["sparse"].startswith("W_ij ~ N(0, 1) for 15 inputs j per unit i")
    argv = ["train", "--preset", "mine", "--init-file", str(other), "--init-file", str(EXAMPLE), "--runs", "lecun:tanh"]
    config = config_from_args(build_parser().parse_args(argv))
    assert config.init_files == [str(EXAMPLE), str(other)] and config.initializer_names[-3:] == ("critical-tanh", "sparse", "lecun")
    assert [spec.name for spec in config.runs] == ["lecun:tanh"]
    assert base.init_files == [str(EXAMPLE)] and base.user_initializers == {}  # the preset itself is untouched
