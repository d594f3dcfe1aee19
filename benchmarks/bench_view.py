"""What opening a long run log costs: ``inittui view``'s log index beside reading every event.

    python3 benchmarks/bench_view.py [--minutes 60] [--log PATH] [--baseline-full] [--json]

Writes (once, then reuses) a synthetic run log of ``compare`` as the CPU engine writes it: 6 runs of 5×100,
45 steps a second, statistics and a progress event every 26 steps (the automatic cadence on this machine),
an evaluation every epoch. Every line has the engine's event types, field order and number formatting
(checked against ``Event.to_json``), so an hour is about 220 MB like a real one. Then, each in a fresh
process:

1. the index (``inittui.runlog.index``): time to the first full state (the log indexed, the latest statistics
   decoded, every run's curves at 120 columns, and one statistics step read as a time cursor would), and
   the peak RSS; with orjson (the ``fast`` extra) where installed, and with the standard library's json;
2. ``inittui view`` end to end: the real app (headless, 120×40) on the log, from the process's first import
   to its first full paint (the runs table, the curves and the latest histograms drawn), then one ``←`` of
   the time cursor (one statistics step read from the log and drawn);
3. ``inittui view`` as the user starts it: ``python3 -m inittui view DIR`` exec'd in a real terminal (tmux,
   120×40), from exec until the header says ``done`` or ``interrupted`` with the runs drawn, and the peak RSS
   the kernel reports (``VmHWM``); on the engine's compact log and on the same events written with other JSON
   spacing (``", "`` and ``": "``, as any JSON writer may), which must open too; needs tmux, else skipped;
4. today's ``read_events`` (every line parsed into events), on the log's first 6 minutes (22 MB), and with
   ``--baseline-full`` on the whole log (several GB of memory: not by default on a shared machine).

Each line gives the wall time (what the user waits) and the process's CPU time (less disturbed by other
work on a shared machine).

Targets for ``inittui view`` on an hour-long log, from the shell: first paint within 3 s, peak RSS under 250 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from inittui.core.events import Evaluation, ExperimentStarted, Histogram, LayerStat, LayerStats, RunRecord, TrainProgress
from inittui.core.presets import get_preset

STEPS_PER_SECOND = 45
STATS_EVERY = 26
STEPS_PER_EPOCH = 469
BINS = 40
WIDTH = 100
DEPTH = 5
BATCH = 128
PREFIX_MINUTES = 6


def _json(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


class SyntheticLog:
    """Builds the engine's lines directly as dicts (dataclasses' asdict is too slow for 200 MB)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.config = get_preset("compare").config(stats_every=None)
        self.runs = [RunRecord(i, spec) for i, spec in enumerate(self.config.runs)]
        self.ids = [run.id for run in self.runs]
        self.shape = np.exp(-0.5 * np.linspace(-3, 3, BINS) ** 2)
        self.shape /= self.shape.sum()

    def started(self, total_steps: int) -> str:
        event = ExperimentStarted(
            config=self.config.to_dict(), device="cpu", device_name="CPU, 2 threads",
            dataset="MNIST 60000/10000 (synthetic benchmark log)", total_steps=total_steps,
            steps_per_epoch=STEPS_PER_EPOCH, runs=self.runs, time=1.8e9,
        )
        return event.to_json()

    def progress(self, step: int, chunk: int, elapsed: float) -> str:
        losses = (2.3 * np.exp(-step / 20000) + 0.05 + 0.05 * self.rng.random((len(self.runs), chunk))).tolist()
        accuracies = (self.rng.integers(90, 128, (len(self.runs), chunk)) / BATCH).tolist()
        return _json({
            "type": "progress", "step": step, "epoch": step / STEPS_PER_EPOCH, "run_ids": self.ids,
            "run_steps": [step] * len(self.ids), "losses": losses, "accuracies": accuracies,
            "samples_per_s": 34000 + float(self.rng.random()) * 2000, "elapsed_s": elapsed, "device_memory_mb": None,
        })

    def _histogram(self, low: float, high: float, total: int) -> dict:
        counts = self.rng.multinomial(total, self.shape).tolist()
        return {"low": low, "high": high, "counts": counts}

    def _layer(self, layer: int, tanh: bool) -> dict:
        std, mean = (float(x) for x in self.rng.random(2))
        spread = float(self.rng.random()) * 3 + 0.5
        weight = float(self.rng.random()) * 0.1 + 0.01
        grad = float(self.rng.random()) * 1e-4
        fan_in = 784 if layer == 0 else WIDTH
        return {
            "mean": mean, "std": std, "dead": None if tanh else float(self.rng.random()) * 0.1,
            "saturated": float(self.rng.random()) * 0.05 if tanh else None, "preactivation_std": spread,
            "weight_std": weight, "predicted_weight_std": 0.1, "grad_norm": grad,
            "histograms": {
                "activations": self._histogram(-1.0, 1.0, BATCH * WIDTH) if tanh
                else self._histogram(0.0, spread * 2, BATCH * WIDTH),
                "preactivations": self._histogram(-spread * 2, spread * 2, BATCH * WIDTH),
                "gradients": self._histogram(-grad, grad, WIDTH * fan_in),
                "weights": self._histogram(-weight * 4, weight * 4, WIDTH * fan_in),
            },
            "activation_grad_std": grad * 10, "update_ratio": 1e-3,
        }

    def layers(self, step: int) -> str:
        layers = [[self._layer(layer, run.spec.activation == "tanh") for layer in range(DEPTH)] for run in self.runs]
        predicted = [[float(x) for x in self.rng.random(DEPTH)] for _ in self.runs]
        return _json({"type": "layers", "step": step, "run_ids": self.ids, "layers": layers, "predicted_std": predicted})

    def evaluation(self, step: int) -> str:
        return Evaluation(step, step / STEPS_PER_EPOCH, self.ids, [0.9] * len(self.ids), [0.3] * len(self.ids)).to_json()

    def check_format(self) -> None:
        """The dict builder writes exactly what the engine's dataclasses write."""
        line = self.layers(3)
        event = LayerStats(**{k: v for k, v in json.loads(line).items() if k != "type"})
        event.layers = [[LayerStat(**{**s, "histograms": {k: Histogram(**h) for k, h in s["histograms"].items()}})
                         for s in run] for run in event.layers]
        assert event.to_json() == line, "synthetic layers line differs from the engine's format"
        line = self.progress(26, 26, 1.0)
        assert TrainProgress(**{k: v for k, v in json.loads(line).items() if k != "type"}).to_json() == line


def write_log(path: Path, minutes: float) -> None:
    log = SyntheticLog()
    log.check_format()
    total = int(minutes * 60 * STEPS_PER_SECOND)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(log.started(total) + "\n")
        file.write(log.layers(0) + "\n")
        step = 0
        while step < total:
            chunk = min(STATS_EVERY, total - step)
            step += chunk
            file.write(log.progress(step, chunk, step / STEPS_PER_SECOND) + "\n")
            file.write(log.layers(step) + "\n")
            if step // STEPS_PER_EPOCH != (step - chunk) // STEPS_PER_EPOCH:
                file.write(log.evaluation(step) + "\n")


def respace(path: Path, target: Path) -> None:
    """The same events with the standard library's default spacing: valid JSON lines the engine never writes."""
    with open(path, encoding="utf-8") as source, open(target, "w", encoding="utf-8") as out:
        for line in source:
            out.write(json.dumps(json.loads(line)) + "\n")


def prefix(path: Path, target: Path, minutes: float) -> None:
    """The log's first ``minutes``, cut at a line boundary."""
    steps = minutes * 60 * STEPS_PER_SECOND
    with open(path, "rb") as source, open(target, "wb") as out:
        for line in source:
            out.write(line)
            if line.startswith(b'{"type":"progress","step":') and int(line[26:40].split(b",")[0]) >= steps:
                break


# ---------------------------------------------------------------------------------------------- measuring
def measure_index(run_dir: Path) -> dict:
    began = time.perf_counter()
    from inittui.runlog.fold import RunFold
    from inittui.runlog.index import LogIndex

    index = LogIndex.of(run_dir)
    fold = RunFold()
    index.update(fold.apply)
    curves = {run_id: (run.life.loss.columns(120), run.life.accuracy.columns(120)) for run_id, run in fold.runs.items()}
    middle = index.layer_stats(len(index.stats) // 2)
    seconds = time.perf_counter() - began
    assert fold.runs and curves and middle is not None and index.skipped == 0
    return {"seconds": seconds, "stats_steps": len(index.stats), "lines": index.lines}


def measure_view(run_dir: Path) -> dict:
    """``inittui view``'s own path (make_app on the run directory), until the first full paint, then ``←``."""
    began = time.perf_counter()
    import asyncio

    from inittui.ui.app import make_app

    result: dict = {}

    async def view() -> None:
        app = make_app(run_dir=run_dir, fps=4)
        async with app.run_test(size=(120, 40)) as pilot:
            while not (app.overview.table.row_count and app.overview.histograms.panels
                       and all(len(run.life.loss) for run in app.model.runs.values())):
                await asyncio.sleep(0.02)
            await pilot.pause()
            result["seconds"] = time.perf_counter() - began
            moved = time.perf_counter()
            await pilot.press("left")
            assert app.model.cursor_step is not None and app.overview.histograms.panels
            result["cursor_seconds"] = time.perf_counter() - moved
            result["stats_steps"] = len(app.source.index.stats)
            result["lines"] = app.source.index.lines

    asyncio.run(view())
    return result


FINISHED_HEADER = re.compile(r"│ (done|interrupted) │")


def measure_shell(run_dir: Path, timeout: float = 120.0) -> dict:
    """``inittui view`` exec'd in a real terminal: seconds from exec to a finished header with the runs drawn,
    and the process's peak RSS from the kernel."""
    socket = f"inittui-bench-{os.getpid()}-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", socket]
    command = f"exec env -u COLUMNS -u LINES TERM=xterm-256color {sys.executable} -m inittui view {run_dir}"
    began = time.perf_counter()
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "40", command], check=True)
    try:
        pid = int(subprocess.run([*tmux, "list-panes", "-F", "#{pane_pid}"], capture_output=True, text=True,
                                 check=True).stdout.split()[0])
        peak_kb = 0
        while True:
            screen = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout
            peak_kb = max(peak_kb, _peak_rss_kb(pid))
            if FINISHED_HEADER.search(screen) and "● 0 " in screen:
                seconds = time.perf_counter() - began
                break
            if time.perf_counter() - began > timeout:
                raise RuntimeError(f"inittui view never finished painting in {timeout:.0f} s:\n{screen}")
            time.sleep(0.02)
        peak_kb = max(peak_kb, _peak_rss_kb(pid))
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    return {"seconds": seconds, "peak_rss_mb": peak_kb / 1024}


def _peak_rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def measure_index_json(run_dir: Path) -> dict:
    """The index as it runs without the optional orjson."""
    import inittui.runlog.reader

    inittui.runlog.reader._fast_loads = None
    return measure_index(run_dir)


def measure_read_events(run_dir: Path) -> dict:
    began = time.perf_counter()
    from inittui.runlog.reader import read_events

    events = read_events(run_dir)
    return {"seconds": time.perf_counter() - began, "lines": len(events)}


def child(kind: str, run_dir: Path) -> dict:
    """Measure in a fresh process, so each peak RSS is its own."""
    code = (
        "import json, resource, sys; sys.path.insert(0, sys.argv[3]); import bench_view as b; "
        "r = getattr(b, 'measure_' + sys.argv[1])(b.Path(sys.argv[2])); "
        "u = resource.getrusage(resource.RUSAGE_SELF); r['peak_rss_mb'] = u.ru_maxrss / 1024; "
        "r['cpu_seconds'] = u.ru_utime + u.ru_stime; print(json.dumps(r))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, kind, str(run_dir), str(Path(__file__).parent)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def _has_orjson() -> bool:
    from inittui.runlog.reader import _fast_loads

    return _fast_loads is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the synthetic log (default 60)")
    parser.add_argument("--log", type=Path, help="where to keep the generated log (default: the temp directory)")
    parser.add_argument("--baseline-full", action="store_true", help="also run read_events on the whole log")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    args = parser.parse_args()
    base = args.log or Path(tempfile.gettempdir()) / f"inittui-bench-view-{args.minutes:g}min"
    hour, short, spaced = base / "full", base / f"first-{PREFIX_MINUTES}min", base / "spaced"
    if not (hour / "events.jsonl").exists():
        began = time.perf_counter()
        write_log(hour / "events.jsonl", args.minutes)
        short.mkdir(parents=True, exist_ok=True)
        prefix(hour / "events.jsonl", short / "events.jsonl", min(PREFIX_MINUTES, args.minutes))
        if not args.json:
            print(f"wrote {hour} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    if not (spaced / "events.jsonl").exists():
        spaced.mkdir(parents=True, exist_ok=True)
        respace(hour / "events.jsonl", spaced / "events.jsonl")
    sizes = {name: (path / "events.jsonl").stat().st_size / 1e6 for name, path in (("full", hour), ("short", short))}
    result = {
        "log_mb": round(sizes["full"], 1),
        "index": child("index", hour),
        "view": child("view", hour),
        "index_json": child("index_json", hour),
        "short_log_mb": round(sizes["short"], 1),
        "short_index": child("index", short),
        "short_read_events": child("read_events", short),
    }
    if shutil.which("tmux"):
        result["shell"] = measure_shell(hour)
        result["shell_spaced"] = measure_shell(spaced)
        result["spaced_log_mb"] = round((spaced / "events.jsonl").stat().st_size / 1e6, 1)
    if args.baseline_full:
        result["read_events"] = child("read_events", hour)
    if args.json:
        print(json.dumps(result))
        return 0
    index = result["index"]
    print(f"synthetic compare log, {args.minutes:g} min: {sizes['full']:.0f} MB, {index['lines']:,} lines, "
          f"{index['stats_steps']:,} statistics steps; {os.cpu_count()} CPU cores")
    parser_name = "orjson" if _has_orjson() else "json (orjson not installed)"
    print(f"index, {args.minutes:g} min log:   first full state {index['seconds']:6.2f} s "
          f"({index['cpu_seconds']:.2f} s CPU), peak RSS {index['peak_rss_mb']:5.0f} MB  "
          f"({parser_name}; target <= 3 s, < 500 MB)")
    view = result["view"]
    print(f"inittui view, {args.minutes:g} min log: first paint {view['seconds']:6.2f} s "
          f"({view['cpu_seconds']:.2f} s CPU), peak RSS {view['peak_rss_mb']:5.0f} MB, then one cursor step "
          f"{1000 * view['cursor_seconds']:.0f} ms  (the app end to end, headless 120x40; target <= 3 s, < 500 MB)")
    if "shell" in result:
        for name, label in (("shell", f"{sizes['full']:.0f} MB, compact"),
                            ("shell_spaced", f"{result['spaced_log_mb']:.0f} MB, other JSON spacing")):
            r = result[name]
            print(f"inittui view from the shell ({label}): header finished {r['seconds']:6.2f} s, "
                  f"peak RSS {r['peak_rss_mb']:5.0f} MB  (exec'd in tmux 120x40; target <= 3 s, <= 250 MB)")
    else:
        print("inittui view from the shell: skipped (tmux is not installed)")
    plain = result["index_json"]
    print(f"index, {args.minutes:g} min log:   first full state {plain['seconds']:6.2f} s "
          f"({plain['cpu_seconds']:.2f} s CPU), peak RSS {plain['peak_rss_mb']:5.0f} MB  (the standard library's json)")
    for name in ("short_index", "short_read_events"):
        label = "index" if name == "short_index" else "read_events"
        r = result[name]
        print(f"{label + ',':12} {PREFIX_MINUTES} min log ({sizes['short']:.0f} MB): {r['seconds']:6.2f} s "
              f"({r['cpu_seconds']:.2f} s CPU), peak RSS {r['peak_rss_mb']:5.0f} MB")
    ratio = result["short_read_events"]["seconds"] / result["short_index"]["seconds"]
    memory = result["short_read_events"]["peak_rss_mb"] / result["short_index"]["peak_rss_mb"]
    print(f"read_events / index on the {PREFIX_MINUTES} min log: {ratio:.1f}x the time, {memory:.1f}x the memory")
    if "read_events" in result:
        r = result["read_events"]
        print(f"read_events, {args.minutes:g} min log: {r['seconds']:6.2f} s ({r['cpu_seconds']:.2f} s CPU), "
              f"peak RSS {r['peak_rss_mb']:5.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
