"""Snapshot tests of the dashboard, fed a fixed synthetic event stream (no live training, no wall clock).

Update the stored SVGs after a deliberate change with ``pytest tests/test_ui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import math

import pytest

from support.records import record
from inittui.core.config import ACTIVATION_NAMES
from inittui.core.presets import ATLAS_INITIALIZERS
from inittui.core.events import (
    SPECTRUM_BINS,
    Evaluation,
    ExperimentStarted,
    Histogram,
    JacobianSpectra,
    LayerStat,
    LayerStats,
    RunSpectrum,
    RunsChanged,
    TrainProgress,
    spectrum_bin_centre,
)
from inittui.core.presets import get_preset
from inittui.ui.app import make_app

STEPS_PER_EPOCH = 469
CHUNK = 25
BINS = 40
# per run: how fast the loss falls, and how the activation std changes from layer to layer
RUNS = (
    ("normal-0.01", "tanh", 0.0, 0.1),
    ("xavier", "tanh", 1.0, 0.85),
    ("he", "tanh", 1.1, 1.0),
    ("normal-0.01", "relu", 0.0, 0.07),
    ("xavier", "relu", 0.9, 0.7),
    ("he", "relu", 1.3, 1.0),
)


def _gaussian(low: float, high: float, mean: float, std: float, total: int = 5000) -> Histogram:
    width = (high - low) / BINS
    weights = [math.exp(-0.5 * ((low + (i + 0.5) * width - mean) / max(std, 1e-6)) ** 2) for i in range(BINS)]
    if sum(weights) < 1e-9:  # narrower than a bin: everything in the bin holding the mean
        weights[min(BINS - 1, max(0, int((mean - low) / width)))] = 1.0
    scale = total / sum(weights)
    return Histogram(low, high, [round(w * scale) for w in weights])


def _loss(speed: float, step: int) -> float:
    return 2.3026 if speed == 0 else 0.25 + 2.05 * math.exp(-speed * step / 300)


def _layers(activation: str, factor: float) -> list[LayerStat]:
    layers = []
    std = 0.6 if activation == "tanh" else 0.8
    for _ in range(5):
        low, high = (-1.0, 1.0) if activation == "tanh" else (0.0, 3.0)
        mean = 0.0 if activation == "tanh" else std * 0.6
        hists = {
            "activations": _gaussian(low, high, mean, std),
            "preactivations": _gaussian(-3.0, 3.0, 0.0, std * 1.2),
            "gradients": _gaussian(-0.01, 0.01, 0.0, 0.002),
            "weights": _gaussian(-0.4, 0.4, 0.0, 0.1),
        }
        dead = None if activation == "tanh" else 0.02
        saturated = 0.01 if activation == "tanh" else None
        layers.append(LayerStat(mean, std, dead, saturated, std * 1.2, 0.1, 0.1, 0.003, hists))
        std *= factor
    return layers


def _spectrum(activation: str, factor: float) -> RunSpectrum:
    growth = 1.3 + abs(1.0 - factor) * 6
    ratios = [growth**layer for layer in range(5)]
    measured = [0.3 + (0.12 * layer if activation == "relu" else -0.03 * layer) for layer in range(5)]
    predicted = [value + 0.01 * layer for layer, value in enumerate(measured)]
    # 3200 singular values, log-normal about the median 0.4, spread by the ratio
    spread = 0.2 + math.log10(ratios[-1]) / 3
    density = [math.exp(-0.5 * ((spectrum_bin_centre(i) - math.log10(0.4)) / spread) ** 2)
               for i in range(SPECTRUM_BINS)]
    histogram = [round(3200 * value / sum(density)) for value in density]
    return RunSpectrum(ratios[-1] * 0.4, 0.4, ratios, measured, predicted, 1.0, 1.0 if activation == "relu" else 0.97,
                       histogram)


def synthetic_events() -> list:
    config = get_preset("compare").config()
    runs = [record(i, init, act, "running", 0) for i, (init, act, _, _) in enumerate(RUNS)]
    events: list = [
        ExperimentStarted(
            config=config.to_dict(), device="cpu", device_name="CPU, 2 threads",
            dataset="MNIST 60000/10000 (synthetic)", total_steps=10 * STEPS_PER_EPOCH,
            steps_per_epoch=STEPS_PER_EPOCH, runs=runs, time=0.0,
        )
    ]
    ids = [run.id for run in runs]
    # the Jacobian spectrum at initialisation (its own cadence): each run's prefix ratio growing at its own rate
    events.append(JacobianSpectra(0, ids, [_spectrum(act, factor) for _, act, _, factor in RUNS], 0.25, 32))
    for chunk in range(1, 41):
        step = chunk * CHUNK
        losses = [[_loss(speed, step - CHUNK + k) for k in range(CHUNK)] for _, _, speed, _ in RUNS]
        accuracies = [[min(0.99, 1.0 - loss / 2.6) for loss in row] for row in losses]
        events.append(TrainProgress(step, step / STEPS_PER_EPOCH, ids, [step] * len(ids), losses, accuracies,
                                    samples_per_s=35_000.0, elapsed_s=step * 0.02))
        if chunk % 4 == 0:
            layers = [_layers(act, factor) for _, act, _, factor in RUNS]
            predicted = [[layer.std * 0.95 for layer in run] for run in layers]
            events.append(LayerStats(step, ids, layers, predicted))
        if step % STEPS_PER_EPOCH < CHUNK:
            accuracy = [0.1135 if speed == 0 else 0.85 + 0.05 * speed for _, _, speed, _ in RUNS]
            events.append(Evaluation(step, step / STEPS_PER_EPOCH, ids, accuracy, [0.5] * len(ids)))
    return events


def atlas_events() -> list:
    """Every initialiser × every activation after one epoch: accuracy rising down and across the grid,
    normal-1 diverged with the unbounded activations."""
    pairs = [(init, act) for init in ATLAS_INITIALIZERS for act in ACTIVATION_NAMES]
    config = get_preset("atlas").config()
    runs = [record(i, init, act, "running", 0) for i, (init, act) in enumerate(pairs)]
    diverged = {run.id for run in runs if run.spec.init == "normal-1" and run.spec.activation not in ("sigmoid", "tanh")}
    quality = [0.0 if run.spec.init in ("normal-0.01", "constant") else (i % 10) / 9 for i, run in enumerate(runs)]
    losses = [[math.nan if i in diverged else 2.3 - 2.1 * q] for i, q in enumerate(quality)]
    accuracy = [0.1 + 0.87 * q for q in quality]
    return one_epoch(config, runs, diverged, losses, accuracy, quality)


def one_epoch(config, runs: list, diverged: set[int], losses: list, accuracy: list, quality: list) -> list:
    """The atlas's events after one epoch: the start, a progress, statistics whose spread grows with each run's
    ``quality``, the evaluation (none for a diverged run) and the table with the diverged runs marked."""
    ids = [run.id for run in runs]
    step = STEPS_PER_EPOCH
    layers = [_layers("tanh" if run.spec.activation in ("tanh", "sigmoid") else "relu", 0.5 + q / 2)
              for run, q in zip(runs, quality)]
    return [
        ExperimentStarted(config=config.to_dict(), device="cpu", device_name="CPU, 2 threads",
                          dataset="MNIST 60000/10000 (synthetic)", total_steps=3 * STEPS_PER_EPOCH,
                          steps_per_epoch=STEPS_PER_EPOCH, runs=runs, time=0.0),
        TrainProgress(step, 1.0, ids, [step] * len(ids), losses, [[0.5]] * len(ids), samples_per_s=9000.0,
                      elapsed_s=60.0),
        LayerStats(step, ids, layers, [[None] * 5 for _ in ids]),
        Evaluation(step, 1.0, ids, [None if i in diverged else a for i, a in enumerate(accuracy)], [0.5] * len(ids)),
        RunsChanged(step, "diverged", [record(run.id, run.spec.init, run.spec.activation,
                                              "diverged" if run.id in diverged else "running", step, seed=run.seed)
                                       for run in runs]),
    ]

SEEDS = (0, 1, 2)


# the seed atlas: each initialiser's accuracy, what each activation adds, and how far its seeds spread
SEED_ATLAS_BASE = {"xavier": 0.90, "glorot": 0.912, "glorot-uniform": 0.905, "he": 0.931, "he-uniform": 0.925,
                   "orthogonal": 0.919, "normal-0.01": 0.1135, "normal-1": 0.62, "constant": 0.21, "lsuv": 0.928}
SEED_ATLAS_ACTIVATION = {"sigmoid": -0.45, "tanh": 0.02, "relu": 0.0, "leaky-relu": 0.004, "gelu": 0.01,
                         "selu": -0.012}
SEED_ATLAS_SPREAD = {"xavier": 0.001, "he": 0.004, "lsuv": 0.002, "orthogonal": 0.006}  # the others 0.003


def seed_atlas_events() -> list:
    """The atlas trained as seed groups of seeds 0, 1, 2 after one epoch: each group's mean its initialiser's
    accuracy plus its activation's, its seeds spread by an amount that differs from row to row (some groups
    within noise of their column's best); normal-1 diverged in every seed with relu and in seed 1 with gelu."""
    pairs = [(init, act) for init in ATLAS_INITIALIZERS for act in ACTIVATION_NAMES]
    config = get_preset("atlas").config(seeds=list(SEEDS))
    runs = [record(len(SEEDS) * pair + index, init, act, "running", 0, seed=seed)
            for pair, (init, act) in enumerate(pairs) for index, seed in enumerate(SEEDS)]
    diverged = {run.id for run in runs if run.spec.init == "normal-1"
                and (run.spec.activation == "relu" or (run.spec.activation == "gelu" and run.seed == 1))}
    means = [SEED_ATLAS_BASE[run.spec.init] + SEED_ATLAS_ACTIVATION[run.spec.activation]
             if run.spec.init not in ("normal-0.01", "constant") else SEED_ATLAS_BASE[run.spec.init] for run in runs]
    means = [max(mean, 0.1135) for mean in means]
    # each seed off its group's mean by -1, 0, +1 times the group's spread: the spread is its sample std
    spreads = [SEED_ATLAS_SPREAD.get(run.spec.init, 0.003) for run in runs]
    accuracy = [mean + (run.seed - 1) * spread for run, mean, spread in zip(runs, means, spreads)]
    losses = [[math.nan if i in diverged else 2.3 * (1.0 - a) + 0.1] for i, a in enumerate(accuracy)]
    return one_epoch(config, runs, diverged, losses, accuracy, accuracy)


def replay_app():
    return make_app(events=synthetic_events(), fps=4)


async def without_notifications(pilot) -> None:
    """The start's "expected: …" notification is dismissed: it would cover the panels the snapshot is of."""
    await pilot.pause()
    pilot.app.clear_notifications()
    await pilot.pause()


def test_dashboard_80x24(snap_compare):
    assert snap_compare(replay_app(), terminal_size=(80, 24), run_before=without_notifications)


def test_dashboard_120x40(snap_compare):
    assert snap_compare(replay_app(), terminal_size=(120, 40), run_before=without_notifications)


def test_dashboard_compare_mode_200x60(snap_compare):
    assert snap_compare(replay_app(), terminal_size=(200, 60), press=["j", "h", "c"], run_before=without_notifications)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("keys", [["2"], ["3"], ["3", "t"], ["4"], ["4", "c"], ["4", "v", "v", "v"],
                                  ["4", "c", "v", "v", "v"], ["4", "v", "v", "v", "v"], ["5"]],
                         ids=["curves", "layers", "layers-over-time", "depth", "depth-compare", "depth-spectrum",
                              "depth-spectrum-compare", "depth-histogram", "atlas"])
def test_pages(snap_compare, keys, size):
    async def pressed_quietly(pilot) -> None:
        """The keys, then no notifications: ``v`` says which panel it showed, over the panels."""
        await without_notifications(pilot)
        await pilot.press(*keys)
        await without_notifications(pilot)

    if "v" in keys:
        assert snap_compare(replay_app(), terminal_size=size, run_before=pressed_quietly)
    else:
        assert snap_compare(replay_app(), terminal_size=size, press=keys, run_before=without_notifications)


def test_atlas_of_sixty_runs_200x60(snap_compare):
    app = make_app(events=atlas_events(), fps=4)
    assert snap_compare(app, terminal_size=(200, 60), press=["5", "down", "down", "right"],
                        run_before=without_notifications)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_atlas_of_three_seeds(snap_compare, size):
    """Each cell the mean ± std over seeds 0, 1, 2, coloured by the mean, ≈ where within noise of its
    column's best; the cursor on normal-1:gelu, one of whose seeds diverged."""
    app = make_app(events=seed_atlas_events(), fps=4)
    assert snap_compare(app, terminal_size=size, press=["5", *["down"] * 7, *["right"] * 4],
                        run_before=without_notifications)


def test_replay_is_deterministic():
    assert [e.to_json() for e in synthetic_events()] == [e.to_json() for e in synthetic_events()]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_full_screen_chart(snap_compare, size):
    """f on the overview: the loss chart zoomed in once, the value cursor four columns back, run 1 hidden."""
    keys = ["f", "right_square_bracket", "left", "left", "left", "left", "j", "x", "k"]
    assert snap_compare(replay_app(), terminal_size=size, press=keys, run_before=without_notifications)
