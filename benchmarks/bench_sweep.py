"""What a sweep gains from running experiments at once: the depth sweep (its 10 runs at depths 2, 5, 10, 20, 30
and 50, one seed) at 100 steps per experiment, three ways, through ``inittui sweep``'s own machinery:

- serially in this process, 2 threads;
- ``--jobs 2``: two local processes, 1 thread each;
- ``--ray``: a local Ray with 2 workers, 1 thread each (its start-up measured apart).

It prints each way's wall time and its ratio to the serial one, Ray's start-up (``ray.init`` of a fresh local
Ray) and its per-task overhead (the round trip of an empty task, one at a time), and the load average before
and after each measurement. ``--rounds N`` repeats the three, alternating, and reports each way's median.

    python3 benchmarks/bench_sweep.py --data-dir ../shared/data/mnist [--rounds 1] [--json]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import benchmark_parser

from inittui.core.presets import DEPTH_SWEEP
from inittui.experiments.sweep import SweepPlan, expand
from inittui.experiments.sweep_driver import run_sweep
from inittui.experiments.sweep_runner import Execution

STEPS = 100
EMPTY_TASKS = 20
WAYS = {
    "serial, 2 threads": Execution(threads=2),
    "--jobs 2, 1 thread each": Execution(jobs=2, threads=1),
    "--ray, 2 workers, 1 thread each": Execution(ray=True, threads=1),
}


def depth_sweep_plan() -> SweepPlan:
    fixed = {"runs": ",".join(DEPTH_SWEEP.runs), "steps": STEPS}
    axes = {"depth": list(DEPTH_SWEEP.depths)}
    return SweepPlan("bench-depth-sweep", fixed, axes, expand(fixed, axes, device="cpu"))


def load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def ray_overheads() -> dict[str, float]:
    """A fresh local Ray's start-up, and an empty task's round trip (one at a time, after a warm-up)."""
    from inittui.experiments.sweep_ray import start_local_ray

    started = time.perf_counter()
    start_local_ray()
    startup = time.perf_counter() - started
    import ray

    empty = ray.remote(num_cpus=1)(lambda: None)
    ray.get([empty.remote() for _ in range(2)])  # the workers' first start is start-up, not per-task cost
    started = time.perf_counter()
    for _ in range(EMPTY_TASKS):
        ray.get(empty.remote())
    per_task = (time.perf_counter() - started) / EMPTY_TASKS
    ray.shutdown()
    return {"ray_startup_s": startup, "ray_task_overhead_ms": 1000 * per_task}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=1, help="times the three ways run, alternating")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("--data-dir (or INITTUI_DATA_DIR) is required")
    import torch

    plan = depth_sweep_plan()
    walls: dict[str, list[float]] = {way: [] for way in WAYS}
    loads: dict[str, list[str]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as log_dir:
        for round_ in range(args.rounds):
            for way, execution in WAYS.items():
                torch.set_num_threads(execution.threads or 1)
                before = load()
                started = time.perf_counter()
                with open(os.devnull, "w") as quiet:
                    status = run_sweep(plan, Path("bench_sweep.py"), Path(log_dir), execution,
                                       data_dir=args.data_dir, stream=quiet)
                walls[way].append(time.perf_counter() - started)
                loads[way].append(f"{before} → {load()}")
                if status != 0:
                    sys.exit(f"bench_sweep: {way} ended with status {status}")
                print(f"round {round_ + 1}: {way}: {walls[way][-1]:.1f} s (load {loads[way][-1]})", file=sys.stderr)
    overheads = ray_overheads()
    serial = statistics.median(walls["serial, 2 threads"])
    result = {
        "experiments": len(plan.experiments),
        "steps_per_experiment": STEPS,
        "runs_per_experiment": len(DEPTH_SWEEP.runs),
        "wall_s": {way: statistics.median(values) for way, values in walls.items()},
        "ratio_to_serial": {way: statistics.median(values) / serial for way, values in walls.items()},
        "serial_s_per_experiment": serial / len(plan.experiments),
        "load_before_after": loads,
        "cpus": os.cpu_count(),
        **overheads,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"depth sweep, {result['experiments']} experiments × {result['runs_per_experiment']} runs × {STEPS} steps, "
          f"{result['cpus']} CPUs")
    for way in WAYS:
        print(f"  {way:<34} {result['wall_s'][way]:7.1f} s   × {result['ratio_to_serial'][way]:.2f} of serial"
              f"   (load {', '.join(loads[way])})")
    print(f"  Ray start-up {overheads['ray_startup_s']:.1f} s, per-task overhead {overheads['ray_task_overhead_ms']:.1f} ms "
          f"(empty task round trip, {EMPTY_TASKS} one at a time); load now {load()}")


if __name__ == "__main__":
    main()
