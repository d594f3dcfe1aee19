"""``inittui sweep --ray ADDRESS`` on a real multi-process Ray cluster: a head (``ray start --head --num-cpus 2
--port 0``) and a second worker node, both started here, with token authentication. The dev extra installs Ray,
so CI runs these; without Ray they skip."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.sweeps import (
    assert_whole_log,
    full_size_mnist,
    manifest,
    measured,
    run_sweep,
    start_sweep,
    sweep_dirs,
    sweep_environment,
    wait_for,
    write_sweep,
)

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

ADDRESS = re.compile(r"ray start --address='([^']+)'")
SWEEP = 'runs = "he:relu,xavier:tanh"\ndepth = [2, 3]\nseeds = [0, 1]\nsteps = 50\n'


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory) -> Path:
    return full_size_mnist(tmp_path_factory.mktemp("mnist"))


def _stop(process: subprocess.Popen) -> None:
    """``ray start --block`` stops the Ray processes it started when it gets SIGTERM."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """The cluster's address and the environment (its token) that reaches it."""
    env = sweep_environment(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    # a short path: Ray's socket paths must fit in 107 bytes
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    common = ["--block", "--disable-usage-stats", "--temp-dir", temp_dir]
    head = subprocess.Popen(["ray", "start", "--head", "--num-cpus", "2", "--port", "0", "--include-dashboard",
                             "false", *common], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    processes = [head]
    try:
        output = []
        while not (match := ADDRESS.search("".join(output))):
            line = head.stdout.readline()
            assert line, "ray start --head ended: " + "".join(output)
            output.append(line)
        address = match.group(1)
        worker = subprocess.Popen(["ray", "start", "--address", address, "--num-cpus", "1", *common], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(worker)
        nodes = "import ray; ray.init(address='{}', logging_level='error'); print(len(ray.nodes()))".format(address)
        wait_for(lambda: subprocess.run(["python3", "-c", nodes], env=env, capture_output=True, text=True)
                 .stdout.strip() == "2", timeout=180, what="the second node to join")
        port = address.rsplit(":", 1)[1]
        yield f"127.0.0.1:{port}", env
    finally:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _options(path: Path, mnist: Path, log_dir: Path) -> list[str]:
    return [str(path), "--data-dir", str(mnist), "--threads", "1", "--stats-every", "25", "--device", "cpu",
            "--log-dir", str(log_dir)]


def test_a_sweep_on_a_cluster_ships_whole_logs_and_matches_the_local_run_bit_for_bit(cluster, mnist_files, tmp_path):
    address, env = cluster
    path = write_sweep(tmp_path / "s.toml", SWEEP)
    on_ray = run_sweep([*_options(path, mnist_files, tmp_path / "ray"), "--ray", address, "--ship-logs"], env=env)
    assert on_ray.returncode == 0, on_ray.stderr
    local = run_sweep(_options(path, mnist_files, tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    (ray_dir,), (local_dir,) = sweep_dirs(tmp_path / "ray"), sweep_dirs(tmp_path / "local")
    recorded = manifest(ray_dir)
    assert recorded["counts"] == {"pending": 0, "running": 0, "done": 4, "failed": 0}
    names = [e["name"] for e in recorded["experiments"]]
    assert names == ["000-depth2-seed0", "001-depth2-seed1", "002-depth3-seed0", "003-depth3-seed1"]
    for name in names:
        assert_whole_log(ray_dir / name, 50)
        assert measured(ray_dir / name) == measured(local_dir / name)
    assert manifest(local_dir)["experiments"][0]["results"] == recorded["experiments"][0]["results"]


def test_a_worker_killed_mid_task_is_retried_whole_and_the_others_untouched(cluster, mnist_files, tmp_path):
    address, env = cluster
    path = write_sweep(tmp_path / "s.toml", 'runs = "he:relu"\ndepth = 2\nsteps = [3000, 40, 40]\n')
    process = start_sweep([*_options(path, mnist_files, tmp_path), "--ray", address], env=env)
    sweep_dir = wait_for(lambda: next(iter(sweep_dirs(tmp_path)), None), what="the sweep's directory")
    long_run = sweep_dir / "000-steps3000"

    def training() -> bool:
        events = long_run / "events.jsonl"
        return events.exists() and events.read_text().count('"progress"') >= 2

    wait_for(training, what="the long experiment to train")
    worker_pid = json.loads((long_run / "config.json").read_text())["pid"]
    os.kill(worker_pid, signal.SIGKILL)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "000-steps3000: attempt 1 failed" in err
    final = {e["name"]: e for e in manifest(sweep_dir)["experiments"]}
    assert {name: (e["state"], e["attempts"]) for name, e in final.items()} == {
        "000-steps3000": ("done", 2), "001-steps40": ("done", 1), "002-steps40": ("done", 1)}
    assert json.loads((long_run / "config.json").read_text())["pid"] != worker_pid
    assert_whole_log(long_run, 3000)
    assert_whole_log(sweep_dir / "001-steps40", 40)
    assert_whole_log(sweep_dir / "002-steps40", 40)


def test_an_experiment_bigger_than_any_node_is_refused_before_the_sweep_starts(cluster, mnist_files, tmp_path):
    address, env = cluster
    path = write_sweep(tmp_path / "s.toml", SWEEP)
    options = _options(path, mnist_files, tmp_path / "logs")
    too_many = run_sweep([*options[:options.index("--threads")], "--threads", "3",
                          *options[options.index("--threads") + 2:], "--ray", address], env=env, timeout=120)
    assert too_many.returncode == 2
    assert too_many.stderr.strip().splitlines() == [
        "inittui sweep: error: --threads 3: each experiment would ask for 3 CPUs, and no node of the cluster has more "
        "than 2"]
    no_gpu = run_sweep([*options, "--ray", address, "--gpus-per-experiment", "0.5"], env=env, timeout=120)
    assert no_gpu.returncode == 2 and "the cluster has 0 GPUs" in no_gpu.stderr
    assert not sweep_dirs(tmp_path / "logs")
