"""What the layer statistics cost: the share of training time spent computing them, on ``compare`` (or
``--preset atlas``) at the default cadence (as often as keeps them within 2.5 % of training time, measured
while training).

The share is measured directly (time inside the statistics over the run's training time). On CUDA the wait
for the device before each statistics call is charged to the statistics: without them the loop would not
wait there. Whole runs with and without statistics are compared too; on a shared machine that comparison
carries run-to-run noise of several per cent.

    python3 benchmarks/bench_stats.py --data-dir ../shared/data/mnist [--device cpu|cuda] [--json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from common import benchmark_parser, parse_benchmark_args

import inittui.training.engine
from inittui.training.data import load_mnist
from inittui.training.engine import Engine
from inittui.core.presets import get_preset

NO_STATS = 10**9


class StatisticsTimer:
    """Wraps the engine's statistics function and adds up the time spent in it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.durations: list[float] = []
        self._inner = inittui.training.engine.layer_statistics

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # a wait the statistics cause: theirs
        result = self._inner(*args, **kwargs)  # ends with a copy to the host, so the device work is done
        self.durations.append(time.perf_counter() - started)
        return result


def run(data, preset: str, device: torch.device, steps: int, stats_every: int | None) -> tuple[float, float, float, float]:
    """(model-samples/s, share of the run's time spent in statistics, the same without the first statistics
    (a one-off warm-up of the kernels), mean steps between statistics)."""
    timer = StatisticsTimer(device)
    inittui.training.engine.layer_statistics = timer
    try:
        config = get_preset(preset).config(steps=steps, device=str(device), stats_every=stats_every)
        engine = Engine(config, data, lambda event: None)
        finished = engine.run()
        # training time as the engine counts it: statistics in, test evaluation out
        elapsed = engine.meter.seconds
    finally:
        inittui.training.engine.layer_statistics = timer._inner
    first, rest = timer.durations[0], timer.durations[1:]
    return (
        finished.samples_per_s,
        (first + sum(rest)) / elapsed,
        sum(rest) / (elapsed - first),
        steps / len(timer.durations),
    )


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=938, help="steps per run (default: two epochs)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", choices=("compare", "atlas"), default="compare")
    args, device = parse_benchmark_args(parser)
    data = load_mnist(args.data_dir)
    shares, steady_shares, intervals, with_stats, without = [], [], [], [], []
    for _ in range(args.repeats):
        sps, share, steady, interval = run(data, args.preset, device, args.steps, None)
        with_stats.append(sps)
        shares.append(share)
        steady_shares.append(steady)
        intervals.append(interval)
        without.append(run(data, args.preset, device, args.steps, NO_STATS)[0])
    result = {
        "device": str(device),
        "mean_stats_interval": round(statistics.median(intervals), 1),
        "stats_share": round(statistics.median(shares), 4),
        "stats_share_after_warmup": round(statistics.median(steady_shares), 4),
        "sps_with_stats": round(statistics.median(with_stats), 1),
        "sps_without_stats": round(statistics.median(without), 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.preset}, device: {device} ({torch.get_num_threads()} CPU threads), "
              f"median of {args.repeats} runs × {args.steps} steps")
        print(f"time in statistics (every {result['mean_stats_interval']:.0f} steps on average): "
              f"{100 * result['stats_share']:.2f} % of training time, "
              f"{100 * result['stats_share_after_warmup']:.2f} % after the first one's warm-up (target <= 3 %)")
        print(f"whole runs: {result['sps_with_stats']:,.0f} model-samples/s with statistics, "
              f"{result['sps_without_stats']:,.0f} without (only the first step's): "
              f"{result['sps_with_stats'] / result['sps_without_stats']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
