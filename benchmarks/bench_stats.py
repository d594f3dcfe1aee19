"""What the layer statistics cost: the share of training time spent computing them, on ``compare`` (or
``--preset atlas``) at the default cadence (as often as keeps them within 2.5 % of training time, measured
while training).

The Jacobian spectrum (its own cadence, within 0.5 % of training time) is on unless ``--spectrum off``; its
share is measured the same way, from the time inside the engine's ``_measure_spectra`` (its SVDs and, once a
spec, the mean-field correlation prediction).

The share is measured directly (time inside the statistics over the run's training time). On CUDA the wait
for the device before each statistics call is charged to the statistics: without them the loop would not
wait there. Whole runs with and without statistics are compared too; on a shared machine that comparison
carries run-to-run noise of several per cent.

    python3 benchmarks/bench_stats.py --data-dir ../shared/data/mnist [--device cpu|cuda] [--spectrum on|off] [--json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from common import benchmark_parser, parse_benchmark_args

import inittui.training.measurements
from inittui.training.data import load_mnist
from inittui.training.engine import Engine
from inittui.training.measurements import Measurements
from inittui.core.presets import get_preset

NO_STATS = 10**9


class StatisticsTimer:
    """Wraps the engine's statistics function and adds up the time spent in it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.durations: list[float] = []
        self._inner = inittui.training.measurements.layer_statistics

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # a wait the statistics cause: theirs
        result = self._inner(*args, **kwargs)  # ends with a copy to the host, so the device work is done
        self.durations.append(time.perf_counter() - started)
        return result


class SpectrumTimer:
    """Wraps the engine's spectrum measurement and adds up the time spent in it; or, off, skips it."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.durations: list[float] = []
        self._inner = Measurements.measure_spectra

    def install(self) -> None:
        timer = self

        def measured(measurements: Measurements) -> None:
            if not timer.on:
                return
            started = time.perf_counter()
            timer._inner(measurements)
            timer.durations.append(time.perf_counter() - started)

        Measurements.measure_spectra = measured

    def remove(self) -> None:
        Measurements.measure_spectra = self._inner


def run(data, preset: str, device: torch.device, steps: int, stats_every: int | None,
        spectrum: bool = True) -> tuple[float, float, float, float, float, int]:
    """(model-samples/s, share of the run's time spent in statistics, the same without the first statistics
    (a one-off warm-up of the kernels), mean steps between statistics, share spent on the spectrum, spectra)."""
    timer = StatisticsTimer(device)
    spectrum_timer = SpectrumTimer(spectrum)
    inittui.training.measurements.layer_statistics = timer
    spectrum_timer.install()
    try:
        config = get_preset(preset).config(steps=steps, device=str(device), stats_every=stats_every)
        engine = Engine(config, data, lambda event: None)
        finished = engine.run()
        # training time as the engine counts it: statistics in, test evaluation out
        elapsed = engine.meter.seconds
    finally:
        inittui.training.measurements.layer_statistics = timer._inner
        spectrum_timer.remove()
    first, rest = timer.durations[0], timer.durations[1:]
    return (
        finished.samples_per_s,
        (first + sum(rest)) / elapsed,
        sum(rest) / (elapsed - first),
        steps / len(timer.durations),
        sum(spectrum_timer.durations) / elapsed,
        len(spectrum_timer.durations),
    )


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=938, help="steps per run (default: two epochs)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", choices=("compare", "atlas", "isometry"), default="compare")
    parser.add_argument("--spectrum", choices=("on", "off"), default="on", help="the Jacobian spectrum (default on)")
    args, device = parse_benchmark_args(parser)
    data = load_mnist(args.data_dir)
    shares, steady_shares, intervals, with_stats, without, spectrum_shares, spectra = [], [], [], [], [], [], []
    for _ in range(args.repeats):
        sps, share, steady, interval, spectrum_share, count = run(data, args.preset, device, args.steps, None,
                                                                 args.spectrum == "on")
        spectrum_shares.append(spectrum_share)
        spectra.append(count)
        with_stats.append(sps)
        shares.append(share)
        steady_shares.append(steady)
        intervals.append(interval)
        without.append(run(data, args.preset, device, args.steps, NO_STATS, spectrum=False)[0])
    result = {
        "device": str(device),
        "mean_stats_interval": round(statistics.median(intervals), 1),
        "stats_share": round(statistics.median(shares), 4),
        "stats_share_after_warmup": round(statistics.median(steady_shares), 4),
        "sps_with_stats": round(statistics.median(with_stats), 1),
        "sps_without_stats": round(statistics.median(without), 1),
        "spectrum": args.spectrum,
        "spectrum_share": round(statistics.median(spectrum_shares), 4),
        "spectra_per_run": statistics.median(spectra),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.preset}, device: {device} ({torch.get_num_threads()} CPU threads), "
              f"median of {args.repeats} runs × {args.steps} steps")
        print(f"time in statistics (every {result['mean_stats_interval']:.0f} steps on average): "
              f"{100 * result['stats_share']:.2f} % of training time, "
              f"{100 * result['stats_share_after_warmup']:.2f} % after the first one's warm-up (target <= 3 %)")
        print(f"time in the Jacobian spectrum ({args.spectrum}, {result['spectra_per_run']} a run): "
              f"{100 * result['spectrum_share']:.2f} % of training time")
        print(f"whole runs: {result['sps_with_stats']:,.0f} model-samples/s with statistics, "
              f"{result['sps_without_stats']:,.0f} without (only the first step's): "
              f"{result['sps_with_stats'] / result['sps_without_stats']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
