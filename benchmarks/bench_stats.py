"""What the layer statistics cost: the engine on ``compare`` with statistics at the default cadence against the
same training with none, interleaved and repeated, best of each.

    python3 benchmarks/bench_stats.py --data-dir ../shared/data/mnist [--device cpu|cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

from inittui.config import DEFAULT_STATS_EVERY
from inittui.data import load_mnist
from inittui.engine import Engine, resolve_device
from inittui.presets import get_preset

NO_STATS = 10**9


def throughput(data, device: torch.device, steps: int, stats_every: int) -> float:
    config = get_preset("compare").config(steps=steps, device=str(device), stats_every=stats_every)
    return Engine(config, data, lambda event: None).run().samples_per_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("INITTUI_DATA_DIR"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=469, help="steps per measurement (default: one epoch)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("--data-dir (or INITTUI_DATA_DIR) is required")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = load_mnist(args.data_dir)
    with_stats, without = [], []
    for _ in range(args.repeats):
        with_stats.append(throughput(data, device, args.steps, DEFAULT_STATS_EVERY))
        without.append(throughput(data, device, args.steps, NO_STATS))
    best_with, best_without = max(with_stats), max(without)
    cost = 1 - best_with / best_without
    result = {
        "device": str(device),
        "stats_every": DEFAULT_STATS_EVERY,
        "sps_with_stats": round(best_with, 1),
        "sps_without_stats": round(best_without, 1),
        "stats_cost": round(cost, 4),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"device: {device} ({torch.get_num_threads()} CPU threads), best of {args.repeats} × {args.steps} steps")
        print(f"statistics every {DEFAULT_STATS_EVERY} steps: {best_with:12,.0f} model-samples/s")
        print(f"no statistics:            {best_without:12,.0f} model-samples/s")
        print(f"statistics cost: {100 * cost:.1f} % of training time (target <= 3 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
