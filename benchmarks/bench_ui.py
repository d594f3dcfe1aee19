"""Does the dashboard slow training down, and how fast does it answer a key?

    python benchmarks/bench_ui.py --data-dir /path/to/mnist [--steps 400] [--json]

1. headless: the compare preset trained as ``inittui train --headless`` does (run log written, torch's
   default thread count), samples/s as the engine measures it (training time only).
2. ui: the same experiment with the dashboard open (120×40, driven headlessly by Textual's pilot, the
   default 4 fps), training where the dashboard trains: in a child process, as ``inittui`` does.
3. key latency while training: ``i`` sent as a terminal key event, until the runs table shows the new
   initialiser and the screen has processed it; 95th percentile over ``--presses``.

Targets on a 2-core CPU: ui/headless ≥ 0.85, key latency p95 ≤ 100 ms. With ``--json``: exactly one JSON
object ``{"headless_sps", "ui_sps", "ratio", "key_latency_p95_ms"}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import benchmark_parser, parse_benchmark_args

from inittui.config import INITIALIZER_NAMES
from inittui.data import load_mnist
from inittui.engine import Engine
from inittui.presets import get_preset
from inittui.runlog import RunLog
from inittui.ui.app import make_app
from inittui.ui.runs_table import RunsTable


def headless_sps(config, data, log_dir: Path) -> float:
    log = RunLog.create(log_dir, config, {"dataset": data.description})
    try:
        finished = Engine(config, data, log.write).run()
    finally:
        log.close()
    return finished.samples_per_s


async def _key(app, key: str) -> None:
    from textual import events

    event = events.Key(key, key)
    event.set_sender(app)
    app._driver.send_message(event)


async def ui_run(config, data_dir: str, log_dir: Path, presses: int) -> tuple[float, list[float]]:
    """Train to the end with the dashboard open; then, on a longer run, time key presses."""
    app = make_app(config, data_dir=data_dir, log_dir=log_dir, fps=4)
    async with app.run_test(size=(120, 40)):
        # the dashboard's engine lingers when done (a run can still be restarted): wait for every run to be done
        while not app.state.runs or any(run.status != "done" for run in app.state.runs.values()):
            await asyncio.sleep(0.1)
        app.source.stop()
        await asyncio.to_thread(app.source.wait, 10)
        app.drain()
        # the engine's own measure: samples over training time (idle lingering not counted)
        sps = app.state.finished.samples_per_s

    latencies: list[float] = []
    long_config = replace(config, steps=1_000_000, epochs=None)
    app = make_app(long_config, data_dir=data_dir, log_dir=log_dir, fps=4)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(RunsTable)
        while app.state.step < 20:
            await asyncio.sleep(0.05)
        await pilot.pause(0.3)
        for _ in range(presses):
            run_id = table.selected_run_id
            current = str(table.get_cell(str(run_id), "init"))
            expected = INITIALIZER_NAMES[(INITIALIZER_NAMES.index(current) + 1) % len(INITIALIZER_NAMES)]
            began = time.perf_counter()
            await _key(app, "i")
            while str(table.get_cell(str(run_id), "init")) != expected:
                await asyncio.sleep(0.001)
            await pilot._wait_for_screen()
            latencies.append(1000 * (time.perf_counter() - began))
            await asyncio.sleep(0.15)  # a person's pace; training goes on in between
        app.source.stop()
        await asyncio.to_thread(app.source.wait, 10)
    return sps, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=400, help="steps per throughput run (default 400)")
    parser.add_argument("--presses", type=int, default=30)
    args, _ = parse_benchmark_args(parser)
    data = load_mnist(args.data_dir)
    config = get_preset("compare").config(device=args.device, steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        headless = headless_sps(config, data, logs)
        ui_sps, latencies = asyncio.run(ui_run(config, args.data_dir, logs, args.presses))
    result = {
        "headless_sps": round(headless, 1),
        "ui_sps": round(ui_sps, 1),
        "ratio": round(ui_sps / headless, 3),
        "key_latency_p95_ms": round(percentile(latencies, 0.95), 1),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"compare preset, {args.steps} steps, device {args.device}, {os.cpu_count()} CPU cores, "
          f"{torch.get_num_threads()} torch threads")
    print(f"headless:       {headless:>10,.0f} samples/s")
    print(f"dashboard open: {ui_sps:>10,.0f} samples/s  (training in a child process, 4 fps)  "
          f"ratio {result['ratio']:.3f} (target >= 0.85)")
    print(f"key latency:    p50 {statistics.median(latencies):.1f} ms  p95 {result['key_latency_p95_ms']:.1f} ms  "
          f"max {max(latencies):.1f} ms over {len(latencies)} presses (target p95 <= 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
