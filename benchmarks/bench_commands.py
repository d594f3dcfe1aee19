"""What the commands that need no torch cost, as a user starts them from the shell.

    python3 benchmarks/bench_commands.py [--logs 100] [--json]

Writes (once, then reuses) ``--logs`` short run logs of ``compare`` in the engine's format (a minute each, from
``bench_view``'s synthetic writer), then times each command in a fresh process (``python3 -m inittui``, what
the console script runs) several times and reports the median wall time and the peak RSS the OS gives
(``ru_maxrss`` of the child): ``--version``, ``--help``, an argument error, and ``runs`` over the logs, with
whether the process imported torch.

Target: ``inittui runs`` over 100 logs in <= 0.5 s and <= 100 MB, none of these importing torch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_view import write_log  # noqa: E402

REPEATS = 5
# whether a command imports torch, asked of its main() in a process of its own (``run()`` leaves by os._exit)
TORCH_PROBE = ("import sys\nfrom inittui.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
               "print('torch' in sys.modules, file=sys.stderr)")


def write_logs(log_dir: Path, count: int) -> None:
    for number in range(count):
        path = log_dir / f"20261201-{number:06d}-compare" / "events.jsonl"
        if not path.exists():
            write_log(path, minutes=1.0)


def time_command(arguments: list[str]) -> dict:
    """Median wall seconds and the largest peak RSS over REPEATS fresh ``python3 -m inittui`` processes."""
    seconds, peaks = [], []
    for _ in range(REPEATS):
        began = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "inittui", *arguments],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(child.pid, 0)  # this child's own rusage, not every child's so far
        seconds.append(time.perf_counter() - began)
        peaks.append(usage.ru_maxrss / 1024)
    probe = subprocess.run([sys.executable, "-c", TORCH_PROBE, *arguments], capture_output=True, text=True)
    return {"seconds": statistics.median(seconds), "peak_rss_mb": max(peaks),
            "torch": probe.stderr.split()[-1:] == ["True"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=int, default=100, help="how many run logs `runs` lists (default 100)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    args = parser.parse_args()
    log_dir = Path(tempfile.gettempdir()) / f"inittui-bench-commands-{args.logs}"
    write_logs(log_dir, args.logs)
    commands = {
        "--version": ["--version"],
        "--help": ["--help"],
        "argument error": ["train", "--depth", "0"],
        f"runs ({args.logs} logs)": ["runs", "--log-dir", str(log_dir)],
    }
    result = {name: time_command(arguments) for name, arguments in commands.items()}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{os.cpu_count()} CPU cores; median of {REPEATS} fresh processes each (python3 -m inittui ...)")
    for name, r in result.items():
        print(f"{name:18} {r['seconds']:6.3f} s  peak RSS {r['peak_rss_mb']:5.0f} MB  "
              f"{'imports torch' if r['torch'] else 'no torch'}")
    print("target: runs over 100 logs <= 0.5 s and <= 100 MB, none importing torch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
