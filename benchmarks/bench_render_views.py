"""What one frame of each new view costs at 120×40, with adversarial numbers, and what feeding them costs.

    python3 benchmarks/bench_render_views.py [--frames 20] [--json]

A frame is everything a widget does when its data change: from plain numbers to the screen's lines
(``render_*``; Textual then only copies the cached lines). Inputs:

- depth chart: 6 runs × 30 layers, and 60 runs × 300 layers, every series mixing 0, negatives, NaN, ±inf,
  1e-30 and 1e30 with ordinary values;
- distributions over time: 5 and 30 layers, each a history fed 100,000 statistics steps whose ranges jump
  between 1e-30 and 1e30 with NaN and inf among the counts;
- atlas: 60 runs (10 initialisers × 6 activations) with NaN, inf, None and diverged cells.

Also what feeding costs: DistributionHistory.add per histogram (a fixed range, and the adversarial ranges)
and .snapshot per call. Target: ≤ 30 ms a frame on this 2-core
machine (the dashboard's chart budget).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np

from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES
from inittui.series.density import DistributionHistory
from inittui.ui.atlas import AtlasCell, render_atlas
from inittui.ui.depth_chart import DepthSeries, render_depth_chart
from inittui.ui.distributions import HeatmapPanel, render_distributions

SIZE = (120, 40)
NASTY = [0.0, -1.0, math.nan, math.inf, -math.inf, 1e-30, 1e30, None]


def adversarial(rng: np.random.Generator, length: int) -> list[float | None]:
    values: list[float | None] = list(10 ** rng.uniform(-6, 1, length))
    for index in rng.choice(length, size=max(length // 5, 1), replace=False):
        values[int(index)] = NASTY[int(rng.integers(len(NASTY)))]
    return values


def depth_series(runs: int, layers: int) -> list[DepthSeries]:
    rng = np.random.default_rng(0)
    return [
        DepthSeries(f"run {r}", "#61afef", adversarial(rng, layers), adversarial(rng, layers),
                    adversarial(rng, layers), adversarial(rng, layers), adversarial(rng, layers))
        for r in range(runs)
    ]


def history(steps: int, seed: int) -> DistributionHistory:
    rng = np.random.default_rng(seed)
    result = DistributionHistory()
    for step in range(steps):
        scale = 10.0 ** rng.choice([-30, -3, 0, 0, 0, 3, 30])
        counts = rng.integers(0, 100, 40).astype(float)
        if step % 97 == 0:
            counts[rng.integers(40)] = math.nan if step % 2 else math.inf
        result.add(step, -scale, scale, counts.tolist(), float(rng.choice([0.5, math.nan, 1e30])))
    return result


def atlas_cells() -> list[AtlasCell]:
    rng = np.random.default_rng(0)
    cells = []
    for i, init in enumerate(INITIALIZER_NAMES):
        for j, act in enumerate(ACTIVATION_NAMES):
            values = adversarial(rng, 4)
            cells.append(AtlasCell(i * 6 + j, init, act, "diverged" if (i + j) % 7 == 0 else "running", *values))
    return cells


def timed(function, frames: int) -> float:
    """Median milliseconds of ``frames`` calls."""
    samples = []
    for _ in range(frames):
        began = time.perf_counter()
        function()
        samples.append(1000 * (time.perf_counter() - began))
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    args = parser.parse_args()

    results: dict[str, float] = {}
    for runs, layers in ((6, 30), (60, 300)):
        series = depth_series(runs, layers)
        results[f"depth_{runs}x{layers}_ms"] = timed(lambda: render_depth_chart(series, *SIZE), args.frames)

    began = time.perf_counter()
    long_history = history(100_000, 0)
    add_us = 1e6 * (time.perf_counter() - began) / 100_000
    counts = np.random.default_rng(1).integers(0, 500, 40).tolist()
    typical = DistributionHistory()
    began = time.perf_counter()
    for step in range(20_000):  # tanh: the same fixed range every step
        typical.add(step, -1.0, 1.0, counts, 0.5)
    results["history_add_typical_us"] = 1e6 * (time.perf_counter() - began) / 20_000
    snapshot_ms = timed(long_history.snapshot, args.frames)
    for layers in (5, 30):
        panels = [HeatmapPanel(f"L{i + 1}", long_history.snapshot()) for i in range(layers)]
        results[f"heatmap_{layers}_layers_ms"] = timed(lambda: render_distributions(panels, *SIZE), args.frames)
    results["history_add_us"] = add_us
    results["history_snapshot_ms"] = snapshot_ms

    cells = atlas_cells()
    results["atlas_60_ms"] = timed(lambda: render_atlas(cells, *SIZE), args.frames)
    results["atlas_60_200x60_ms"] = timed(lambda: render_atlas(cells, 200, 60), args.frames)

    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in results.items()}))
        return 0
    print(f"ms per frame at {SIZE[0]}×{SIZE[1]}, median of {args.frames}, adversarial inputs (target <= 30 ms):")
    print(f"  depth chart,  6 runs ×  30 layers: {results['depth_6x30_ms']:7.2f} ms")
    print(f"  depth chart, 60 runs × 300 layers: {results['depth_60x300_ms']:7.2f} ms")
    print(f"  heatmap,  5 layers, 100,000 steps: {results['heatmap_5_layers_ms']:7.2f} ms")
    print(f"  heatmap, 30 layers, 100,000 steps: {results['heatmap_30_layers_ms']:7.2f} ms")
    print(f"  atlas, 60 runs:                    {results['atlas_60_ms']:7.2f} ms  (200×60: {results['atlas_60_200x60_ms']:.2f} ms)")
    print(f"feeding: DistributionHistory.add {results['history_add_typical_us']:.1f} µs a histogram "
          f"({add_us:.1f} µs with the adversarial ranges), .snapshot {snapshot_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
