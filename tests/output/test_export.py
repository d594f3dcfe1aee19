"""``inittui export``: a real run log as TensorBoard event files (read back with TensorBoard's own reader) or CSV."""

from __future__ import annotations

import csv
import importlib.util
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from support.cli import run_main
from support.logs import train_to_log

from inittui.core.events import Evaluation, LayerStats, TrainProgress
from inittui.runlog.reader import read_log

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
plugin_data_pb2 = pytest.importorskip("tensorboard.plugins.hparams.plugin_data_pb2")
RUNS = {0: "0_he_relu", 1: "1_xavier_tanh"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_to_log(tmp_path_factory.mktemp("logs"), steps=40, stats_every=10, bins=8, seed=3)


def logged(run_dir: Path) -> tuple[dict, dict]:
    """What the run log says, read here on its own: per run directory, {tag: {step: value}} and
    {tag: {step: counts}}."""
    scalars: dict = defaultdict(lambda: defaultdict(dict))
    histograms: dict = defaultdict(lambda: defaultdict(dict))
    for event in read_log(run_dir).events:
        if isinstance(event, TrainProgress):
            for run_id, losses, accuracies in zip(event.run_ids, event.losses, event.accuracies):
                for offset, (loss, accuracy) in enumerate(zip(losses, accuracies)):
                    step = event.step - len(losses) + 1 + offset
                    scalars[RUNS[run_id]]["loss/train"][step] = loss
                    scalars[RUNS[run_id]]["accuracy/train"][step] = accuracy
            scalars["experiment"]["throughput/samples_per_s"][event.step] = event.samples_per_s
        elif isinstance(event, Evaluation):
            for run_id, accuracy, loss in zip(event.run_ids, event.test_acc, event.test_loss):
                scalars[RUNS[run_id]]["accuracy/test"][event.step] = accuracy
                scalars[RUNS[run_id]]["loss/test"][event.step] = loss
        elif isinstance(event, LayerStats):
            for run_id, layers in zip(event.run_ids, event.layers):
                for number, layer in enumerate(layers, start=1):
                    for kind, histogram in layer.histograms.items():
                        histograms[RUNS[run_id]][f"{kind}/layer{number}"][event.step] = histogram.counts
    return scalars, histograms


def read_back(directory: Path) -> event_accumulator.EventAccumulator:
    everything = {event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0, event_accumulator.TENSORS: 0}
    accumulator = event_accumulator.EventAccumulator(str(directory), size_guidance=everything)
    accumulator.Reload()
    return accumulator


def test_tensorboard_reads_back_the_run_logs_scalars_and_histograms_at_their_steps(capsys, run_dir, tmp_path):
    status, out, err = run_main(capsys, "export", str(run_dir), "--tensorboard", str(tmp_path))
    assert status == 0, err
    target = tmp_path / run_dir.name
    assert out.startswith(f"{target}: 2 runs, ") and "skipped" not in out
    scalars, histograms = logged(run_dir)
    assert sorted(p.name for p in target.iterdir()) == ["0_he_relu", "1_xavier_tanh", "experiment"]
    for directory, tags in scalars.items():
        accumulator = read_back(target / directory)
        for tag, expected in tags.items():
            written = {event.step: event.value for event in accumulator.Scalars(tag)}
            assert written == pytest.approx(expected, rel=1e-6), (directory, tag)  # TensorBoard keeps float32
    for directory, tags in histograms.items():
        accumulator = read_back(target / directory)
        assert len(tags) == 8  # 2 layers × activations, pre-activations, gradients, weights
        for tag, expected in tags.items():
            written = {event.step: [int(c) for c in event.histogram_value.bucket]
                       for event in accumulator.Histograms(tag)}
            assert written == expected, (directory, tag)


def test_each_runs_init_activation_and_seed_are_its_hparams(capsys, run_dir, tmp_path):
    assert run_main(capsys, "export", str(run_dir), "--tensorboard", str(tmp_path))[0] == 0
    for directory, (init, activation) in (("0_he_relu", ("he", "relu")), ("1_xavier_tanh", ("xavier", "tanh"))):
        content = read_back(tmp_path / run_dir.name / directory).PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        values = start.session_start_info.hparams
        assert values["init"].string_value == init and values["activation"].string_value == activation
        assert values["seed"].number_value == 3


def test_a_damaged_log_exports_what_it_can_and_says_how_many_lines_it_skipped(capsys, run_dir, tmp_path):
    damaged = tmp_path / "logs" / run_dir.name
    shutil.copytree(run_dir, damaged)
    lines = (damaged / "events.jsonl").read_bytes().split(b"\n")
    garbled = next(i for i, line in enumerate(lines) if b'"type":"progress"' in line)
    lines[garbled] = b"{not json"
    last = max(i for i, line in enumerate(lines) if line)
    lines[last] = lines[last][: len(lines[last]) // 2]  # cut mid-line
    (damaged / "events.jsonl").write_bytes(b"\n".join(lines))
    status, out, _ = run_main(capsys, "export", str(damaged), "--tensorboard", str(tmp_path / "tb"))
    assert status == 0
    assert out.strip().endswith("; 2 damaged lines of the log skipped")
    scalars, _ = logged(damaged)
    written = read_back(tmp_path / "tb" / run_dir.name / "0_he_relu").Scalars("loss/train")
    assert {event.step for event in written} == set(scalars["0_he_relu"]["loss/train"])


def test_csv_holds_the_same_numbers(capsys, run_dir, tmp_path):
    assert run_main(capsys, "export", "latest", "--log-dir", str(run_dir.parent), "--csv", str(tmp_path))[0] == 0
    target = tmp_path / run_dir.name
    scalars, histograms = logged(run_dir)
    with (target / "scalars.csv").open() as rows:
        written = [row for row in csv.DictReader(rows) if row["run"] == "1_xavier_tanh" and row["tag"] == "loss/train"]
    assert {int(row["step"]): float(row["value"]) for row in written} == scalars["1_xavier_tanh"]["loss/train"]
    with (target / "histograms.csv").open() as rows:
        bins = [row for row in csv.DictReader(rows)
                if row["run"] == "0_he_relu" and row["tag"] == "weights/layer2" and row["step"] == "0"]
    assert [int(row["count"]) for row in bins] == histograms["0_he_relu"]["weights/layer2"][0]
    with (target / "runs.csv").open() as rows:
        assert [row["run"] + " " + row["seed"] for row in csv.DictReader(rows)] == ["0_he_relu 3", "1_xavier_tanh 3"]


def test_csv_export_loads_no_torch(run_dir, tmp_path):
    code = ("import sys; from inittui.cli import main; status = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'export --csv imported torch'; sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code, "export", str(run_dir), "--csv", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / run_dir.name / "scalars.csv").is_file()


def test_without_tensorboard_it_says_how_to_install_it(capsys, run_dir, tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "tensorboard" else real_find_spec(name, *rest))
    status, out, err = run_main(capsys, "export", str(run_dir), "--tensorboard", str(tmp_path))
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "pip install 'inittui[tensorboard]'" in err
    assert not (tmp_path / run_dir.name).exists()


@pytest.mark.parametrize("argv,message", [
    (["/no/such/run", "--csv", "{out}"], "/no/such/run is not a run directory"),
    (["{run}"], "one of the arguments --tensorboard --csv is required"),
    (["{run}", "--csv", "{out}"], "exists already"),
])
def test_bad_values_exit_2_with_one_line(capsys, run_dir, tmp_path, argv, message):
    argv = [a.format(run=run_dir, out=tmp_path) for a in argv]
    (tmp_path / run_dir.name).mkdir()  # an earlier export of the same log
    status, _, err = run_main(capsys, "export", *argv)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert message in err and "Traceback" not in err
