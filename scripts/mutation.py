#!/usr/bin/env python3
"""Mutation testing of the core's formulas and bookkeeping: mutmut's mutants of each module, against its own tests.

    nice -n 10 python3 scripts/mutation.py                   # every module below
    nice -n 10 python3 scripts/mutation.py config theory     # some of them
    nice -n 10 python3 scripts/mutation.py --workdir /tmp/m  # keep results: a rerun tests only the survivors
    python3 scripts/mutation.py --list                       # the modules and their test files

Prints, per module, the mutants killed out of the total and every surviving mutant's diff; exits 1 when a
module kills fewer than --target (default 80 %). Not part of CI: from 10 to 30 minutes a module on a busy
two-core machine (theory's tests are the slowest).

The mutants are mutmut's (``pip install 'mutmut>=2.5,<3'``; tested with 2.5.1: mutmut 3 mutates only code inside
functions and would leave the module-level tables of formulas alone). They are run here rather than by ``mutmut
run``, whose result cache races with its own workers and then hangs, and whose test command starts a new
interpreter per mutant: importing torch takes seconds. Here torch is imported once, and each mutant's tests run
in a fork of this warm process, in a copy of the working tree; the tree itself is never touched.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# module -> the test files that are its own
MODULES: dict[str, tuple[str, ...]] = {
    "science/initializers": ("tests/test_initializers.py",),
    "science/theory": ("tests/test_theory.py",),
    "training/optim": ("tests/test_optim.py",),
    "runlog/writer": ("tests/test_runlog.py",),
    "runlog/reader": ("tests/test_runlog.py",),
    "science/statistics": ("tests/test_statistics.py",),
    "core/config": ("tests/test_config.py",),
    "training/stacked": ("tests/test_stacked.py",),
}
# a mutant whose tests run this many times longer than the unmutated ones (plus a margin) has hung them
TIMEOUT_FACTOR = 10
TIMEOUT_MARGIN_S = 30.0
RESULTS_FILE = "results.json"


def _warm_up() -> None:
    """Import what every test file imports, and pytest's plugins, so that each fork starts warm. Nothing from
    inittui: each fork must import the mutated copy."""
    import gc
    from importlib.metadata import entry_points

    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch
    import torchvision  # noqa: F401

    for plugin in entry_points(group="pytest11"):
        plugin.load()
    try:
        import hypothesis  # noqa: F401  (its pytest plugin imports it at the end of every session)
    except ImportError:
        pass
    # the tests run on one thread (tests/conftest.py); loading LAPACK once here saves each fork seconds
    torch.set_num_threads(1)
    torch.linalg.qr(torch.ones(2, 2))
    assert not any(name == "inittui" or name.startswith("inittui.") for name in sys.modules)
    # pytest collects garbage at the end of a session: with the warm heap frozen, a fork's collections skip
    # it instead of touching (and so copying) every page of it; that took 10 s a mutant
    gc.freeze()


def run_tests(workdir: Path, tests: tuple[str, ...], timeout_s: float) -> str:
    """"passed", "failed" or "timeout": pytest on ``tests`` in ``workdir``, in a fork of this process."""
    pid = os.fork()
    if pid == 0:  # the child
        try:
            import pytest

            os.chdir(workdir)
            sys.path.insert(0, str(workdir))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            # plain asserts: rewriting them would compile the test modules again in every fork
            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "--assert=plain", *tests])
            os._exit(0 if code == 0 else 1)
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the driver
            os._exit(1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"


def _copy_tree(destination: Path) -> None:
    """The working tree as git sees it (tracked and untracked files, not ignored ones) into ``destination``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def mutants(path: Path) -> list[str]:
    """Every mutmut mutant of the file at ``path``, as its full mutated source."""
    from mutmut import Context, list_mutations, mutate

    source = path.read_text()
    found = []
    for mutation_id in list_mutations(Context(source=source, filename=str(path))):
        mutated, count = mutate(Context(source=source, mutation_id=mutation_id, filename=str(path)))
        if count and mutated != source:
            found.append(mutated)
    return found


def diff(original: str, mutated: str) -> str:
    lines = difflib.unified_diff(original.splitlines(True), mutated.splitlines(True), n=0)
    return "".join(line for line in lines if not line.startswith(("---", "+++")))


def mutate_module(module: str, tests: tuple[str, ...], kept: Path | None) -> dict[str, list[str]]:
    """Diffs of every mutant of inittui/<module>.py, by outcome. With ``kept``, results are remembered in
    ``kept/module``: mutants killed before are not run again while their diff is the same."""
    workdir = Path(tempfile.mkdtemp(prefix=f"inittui-mutation-{module.replace('/', '-')}-"))
    remembered_path = kept / module / RESULTS_FILE if kept else None
    remembered: dict[str, str] = (
        json.loads(remembered_path.read_text()) if remembered_path and remembered_path.exists() else {}
    )
    outcomes: dict[str, list[str]] = {"killed": [], "timeout": [], "survived": []}
    try:
        _copy_tree(workdir)
        target = workdir / "inittui" / f"{module}.py"
        original = target.read_text()
        started = time.monotonic()
        if run_tests(workdir, tests, timeout_s=3600) != "passed":
            raise RuntimeError(f"{', '.join(tests)} fail on the unmutated inittui/{module}.py")
        timeout_s = TIMEOUT_FACTOR * (time.monotonic() - started) + TIMEOUT_MARGIN_S
        found = mutants(target)
        for number, mutated in enumerate(found, start=1):
            change = diff(original, mutated)
            key = hashlib.sha1(change.encode()).hexdigest()
            if remembered.get(key) in ("killed", "timeout"):
                outcome = remembered[key]
            else:
                target.write_text(mutated)
                outcome = run_tests(workdir, tests, timeout_s).replace("failed", "killed").replace("passed", "survived")
                target.write_text(original)
                remembered[key] = outcome
                if remembered_path:  # as it goes: an interrupted run keeps what it found
                    remembered_path.parent.mkdir(parents=True, exist_ok=True)
                    remembered_path.write_text(json.dumps(remembered, indent=0))
            outcomes[outcome].append(change)
            print(f"\r  {module}: {number}/{len(found)} mutants", end="", file=sys.stderr, flush=True)
        print(f"\r  {module}: {len(found)} mutants in {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return outcomes


def report(results: dict[str, dict[str, list[str]]], target: float) -> bool:
    """Print the kill rate per module and the survivors; True when every module reaches ``target``."""
    reached = True
    print(f"{'module':<14} {'killed':>9} {'rate':>7}  (timeouts count as killed)")
    for module, outcomes in results.items():
        total = sum(len(diffs) for diffs in outcomes.values())
        killed = len(outcomes["killed"]) + len(outcomes["timeout"])
        rate = killed / total if total else 0.0
        reached &= rate >= target
        print(f"{module:<14} {killed:>4}/{total:<4} {100 * rate:>6.1f}%  ({len(outcomes['timeout'])} timeouts)")
    for module, outcomes in results.items():
        for change in outcomes["survived"]:
            print(f"\nsurvived in inittui/{module}.py:\n{change.rstrip()}")
    return reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"some of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--target", type=float, default=0.8, help="least share of mutants killed (default 0.8)")
    parser.add_argument("--workdir", type=Path, help="remember results in DIR/MODULE: a rerun skips the mutants "
                        "killed before and tests the others again")
    parser.add_argument("--list", action="store_true", help="print the modules and their test files, then exit")
    args = parser.parse_args(argv)
    unknown = [module for module in args.modules if module not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; choose from {', '.join(MODULES)}")
    if args.list:
        for module, tests in MODULES.items():
            print(f"inittui/{module}.py: {' '.join(tests)}")
        return 0
    try:
        import mutmut
    except ImportError:
        mutmut = None
    if mutmut is None or not getattr(mutmut, "__version__", "").startswith("2."):
        print("mutation.py: needs mutmut 2: pip install 'mutmut>=2.5,<3'", file=sys.stderr)
        return 2
    # a mutant and the original may share a size and an mtime second: never let a .pyc stand in for either
    sys.dont_write_bytecode = True
    _warm_up()
    kept = args.workdir.resolve() if args.workdir else None
    results = {}
    for module in args.modules or MODULES:
        print(f"mutating inittui/{module}.py against {', '.join(MODULES[module])}", file=sys.stderr, flush=True)
        results[module] = mutate_module(module, MODULES[module], kept)
    return 0 if report(results, args.target) else 1


if __name__ == "__main__":
    sys.exit(main())
