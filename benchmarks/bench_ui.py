"""Does the dashboard slow training down, how fast does it answer a key, and what does it hold in memory?

    python benchmarks/bench_ui.py --data-dir /path/to/mnist [--runs 6,60] [--steps 400] [--json]
    python benchmarks/bench_ui.py --runs normal-1:relu/he:relu/normal-1:selu/normal-1:tanh
    python benchmarks/bench_ui.py --runs 60 --page atlas

For each experiment in ``--runs``, comma-separated: a number (6: the compare preset; 60: every initialiser ×
every activation; other N: the first N of those 60) or runs named INIT:ACTIVATION joined by "/":

1. headless: the experiment trained as ``inittui train --headless`` does (run log written, torch's default
   thread count), samples/s as the engine measures it (training time only), in a process of its own.
2. ui: the same experiment with the dashboard open (120×40, driven headlessly by Textual's pilot, the default
   4 fps), training where the dashboard trains: in a child process, as ``inittui`` does. Also: how long until
   the screen shows training progress, and how many bytes the run log grows by per hour of training.
3. key latency while training, on the ``--page`` shown (default overview): a key sent as a terminal key event,
   until what it changes is shown and the screen has processed it; 95th percentile over ``--presses``. The
   key: ``i`` on the overview (the runs table shows the new initialiser) and on the curves page (the run
   restarts), ``h`` on the layers page (the next histogram source), ``c`` on the depth page (compare mode),
   ``m`` on the atlas (the next metric: every cell redrawn).
4. the UI process's peak resident memory (this process: it holds the dashboard, never the training).

Targets on a 2-core CPU: ui/headless ≥ 0.85; key latency p95 ≤ 100 ms with 6 runs and ≤ 250 ms with 60;
the UI process ≤ 800 MB with 60 runs; progress on screen within 30 s. With ``--json``: exactly one JSON object,
``{"6": {"headless_sps", "ui_sps", "ratio", "key_latency_p95_ms", "first_progress_s", "log_mb_per_hour",
"ui_peak_rss_mb"}, ...}``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import benchmark_parser, parse_benchmark_args

from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES, RunSpec
from inittui.core.presets import get_preset
from inittui.runlog.layout import EVENTS_FILE
from inittui.ui.app import make_app
from inittui.ui.keys import PAGES
from inittui.ui.runs_table import RunsTable

GRID = [RunSpec(init, activation) for init in INITIALIZER_NAMES for activation in ACTIVATION_NAMES]


def experiment(runs: str, device: str, steps: int):
    config = get_preset("compare").config(device=device, steps=steps)
    if ":" in runs:
        return config.with_runs([RunSpec.parse(name) for name in runs.split("/")])
    return config if runs == "6" else config.with_runs(GRID[: int(runs)])


def _headless(config, data_dir: str, log_dir: str, threads: int, result) -> None:
    from inittui.training.data import load_mnist
    from inittui.training.engine import Engine
    from inittui.runlog.writer import RunLog

    torch.set_num_threads(threads)
    data = load_mnist(data_dir)
    log = RunLog.create(Path(log_dir), config, {"dataset": data.description})
    try:
        result.put(Engine(config, data, log.write).run().samples_per_s)
    finally:
        log.close()


def headless_sps(config, data_dir: str, log_dir: Path) -> float:
    """Samples/s of ``inittui train --headless``, trained in a process of its own (this one is the UI's)."""
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    process = context.Process(target=_headless, args=(config, data_dir, str(log_dir), torch.get_num_threads(), result))
    process.start()
    sps = result.get()
    process.join()
    return sps


def _key(app, key: str) -> None:
    """A key as the terminal delivers it (Pilot's press would also wait for an idle CPU: never, here)."""
    from textual import events

    app.post_message(events.Key(key, key))


def page_key(app, page: str):
    """The key timed on ``page``, and a function that says when the screen shows what it asks."""
    view = app.model.view
    if page == "atlas":
        matrix = app.pages["atlas"].matrix
        metric = matrix.metric
        return "m", lambda: matrix.metric != metric
    if page == "layers":
        histograms = app.pages["layers"].histograms
        title = str(histograms.border_title)
        return "h", lambda: str(histograms.border_title) != title
    if page == "depth":
        compare = view.compare
        return "c", lambda: view.compare != compare
    run_id = view.selected
    current = app.model.runs[run_id].record.spec.init
    # not simply the next name: `i` passes over an initialiser whose pair another run already trains
    changed = lambda: app.model.runs[run_id].record.spec.init != current  # noqa: E731
    if page == "curves":
        return "i", lambda: app.model.pending_change(run_id) is not None or changed()
    table = app.query_one(RunsTable)
    return "i", lambda: str(table.get_cell(str(run_id), "init")) != current  # the table shows the new one


async def ui_run(config, data_dir: str, log_dir: Path, presses: int, page: str = "overview"
                 ) -> dict[str, float | list[float]]:
    """Train to the end with the dashboard open; then, on a longer run, time key presses."""
    began = time.perf_counter()
    app = make_app(config, data_dir=data_dir, log_dir=log_dir, fps=4)
    first_progress = None
    async with app.run_test(size=(120, 40)):
        # the dashboard's engine lingers when done (a run can still be restarted): wait for every run to end
        runs = lambda: app.model.runs.values()  # noqa: E731
        while not app.model.runs or any(run.record.status not in ("done", "diverged") for run in runs()):
            if first_progress is None and app.model.experiment.step > 0:
                first_progress = time.perf_counter() - began
            await asyncio.sleep(0.1)
        app.source.stop()
        await asyncio.to_thread(app.source.finished.wait, 30)
        app.drain()
        finished = app.model.experiment.finished
        # the engine's own measure: samples over training time (idle lingering not counted)
        sps = finished.samples_per_s
        # training time, as the engine counts it: model-samples over model-samples per second
        train_seconds = finished.step * config.batch_size * len(config.runs) / max(sps, 1e-9)
        log_bytes = (app.model.status.run_dir / EVENTS_FILE).stat().st_size

    latencies: list[float] = []
    long_config = replace(config, steps=1_000_000, epochs=None)
    app = make_app(long_config, data_dir=data_dir, log_dir=log_dir, fps=4)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.model.experiment.step < 20:
            await asyncio.sleep(0.05)
        app.show_outcome(app.controller.show_page(page))
        await pilot.pause(0.3)
        for _ in range(presses):
            key, done = page_key(app, page)
            pressed = time.perf_counter()
            _key(app, key)
            while not done():
                await asyncio.sleep(0.001)
            await pilot.pause(0)  # and the screen has processed it
            latencies.append(1000 * (time.perf_counter() - pressed))
            await asyncio.sleep(0.15)  # a person's pace; training goes on in between
        app.source.stop()
        await asyncio.to_thread(app.source.finished.wait, 30)
    return {
        "ui_sps": sps,
        "latencies": latencies,
        "first_progress_s": first_progress if first_progress is not None else float("nan"),
        "log_mb_per_hour": log_bytes / 1e6 / max(train_seconds, 1e-9) * 3600,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--runs", default="6", help="comma-separated experiments: a number of runs up to 60, or "
                        "INIT:ACTIVATION runs joined by / (default 6)")
    parser.add_argument("--steps", type=int, default=400, help="steps per throughput run (default 400)")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--page", choices=[name for name, _, _ in PAGES], default="overview",
                        help="the page shown while key latency is measured (default overview)")
    args, _ = parse_benchmark_args(parser)
    counts = args.runs.split(",")
    if any(":" not in count and not (count.isdigit() and 1 <= int(count) <= len(GRID)) for count in counts):
        parser.error(f"--runs: a number of runs between 1 and {len(GRID)}, or INIT:ACTIVATION runs joined by /")
    results: dict[str, dict[str, float]] = {}
    for count in counts:
        config = experiment(count, args.device, args.steps)
        with tempfile.TemporaryDirectory() as tmp:
            logs = Path(tmp)
            headless = headless_sps(config, args.data_dir, logs)
            ui = asyncio.run(ui_run(config, args.data_dir, logs, args.presses, args.page))
        latencies = ui["latencies"]
        results[count] = {
            "headless_sps": round(headless, 1),
            "ui_sps": round(ui["ui_sps"], 1),
            "ratio": round(ui["ui_sps"] / headless, 3),
            "key_latency_p50_ms": round(statistics.median(latencies), 1),
            "key_latency_p95_ms": round(percentile(latencies, 0.95), 1),
            "key_latency_max_ms": round(max(latencies), 1),
            "first_progress_s": round(ui["first_progress_s"], 1),
            "log_mb_per_hour": round(ui["log_mb_per_hour"], 1),
            # the peak so far: with several counts, run the largest last (or alone) to read its own
            "ui_peak_rss_mb": round(peak_rss_mb(), 1),
        }
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"{args.steps} steps, device {args.device}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads")
    for count, result in results.items():
        if ":" in count:
            print(f"{count.count('/') + 1} runs ({count.replace('/', ', ')}):")
        else:
            what = "compare preset" if count == "6" else "every initialiser × activation"
            print(f"{count} runs ({what}):")
        print(f"  headless:       {result['headless_sps']:>10,.0f} samples/s")
        print(f"  dashboard open: {result['ui_sps']:>10,.0f} samples/s  (training in a child process, 4 fps)  "
              f"ratio {result['ratio']:.3f} (target >= 0.85)")
        print(f"  key latency:    p50 {result['key_latency_p50_ms']:.1f} ms  p95 {result['key_latency_p95_ms']:.1f} ms"
              f"  max {result['key_latency_max_ms']:.1f} ms over {args.presses} presses on the {args.page} page "
              f"(target p95 <= {250 if count.isdigit() and int(count) > 6 else 100} ms)")
        print(f"  UI process:     peak RSS {result['ui_peak_rss_mb']:,.0f} MB; progress on screen after "
              f"{result['first_progress_s']:.1f} s; run log {result['log_mb_per_hour']:,.0f} MB per hour of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
