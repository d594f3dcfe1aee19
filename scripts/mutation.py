#!/usr/bin/env python3
"""Mutation testing of the core's formulas and bookkeeping: mutmut over each module, against its own tests.

    nice -n 10 python3 scripts/mutation.py                   # every module below
    nice -n 10 python3 scripts/mutation.py config theory     # some of them
    python3 scripts/mutation.py --list                       # the modules and their test files
    nice -n 10 python3 scripts/mutation.py --workdir /tmp/m  # keep the copies; rerun tests only the survivors

Prints, per module, the mutants killed out of the total and every surviving mutant's diff; exits 1 when a
module kills fewer than --target (default 80 %). Not part of CI: it runs each test file once per mutant,
an hour or so for all six modules on two cores.

Needs mutmut 2 (``pip install 'mutmut>=2.5,<3'``; tested with 2.5.1): mutmut 3 mutates only code inside
functions and would leave the module-level tables of formulas alone.

mutmut runs its test command once per mutant. Importing torch takes seconds, so the command here is a small
client that asks this script to fork an already warm interpreter, which runs pytest on the mutated copy.
Every module is mutated in its own temporary copy of the working tree; the tree itself is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# module -> the test files that are its own
MODULES: dict[str, tuple[str, ...]] = {
    "initializers": ("tests/test_initializers.py",),
    "theory": ("tests/test_theory.py",),
    "optim": ("tests/test_optim.py",),
    "runlog": ("tests/test_runlog.py",),
    "statistics": ("tests/test_statistics.py",),
    "config": ("tests/test_config.py",),
}
DETECTED = ("killed", "timeout", "suspicious")
STATUSES = (*DETECTED, "survived", "skipped", "untested")


# ------------------------------------------------------------------------------------------ the client


def client(socket_path: str, test_files: list[str]) -> int:
    """mutmut's test command: run ``test_files`` in a fork of the warm server; its exit status is ours."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(socket_path)
    connection.sendall(json.dumps({"cwd": os.getcwd(), "tests": test_files}).encode() + b"\n")
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = connection.recv(64)
        if not chunk:
            print("mutation.py: the test server went away", file=sys.stderr)
            return 2  # counted as a survivor: never a kill that did not happen
        reply += chunk
    # mutmut 2 counts only exit status 1 as a kill; pytest says 2 when a mutant breaks an import
    return 0 if int(reply) == 0 else 1


# ------------------------------------------------------------------------------------------ the server


def _warm_up() -> None:
    """Import what every test file imports, so that each fork starts warm. Nothing from inittui: each
    fork must import the mutated copy."""
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401
    import torchvision  # noqa: F401

    # the tests run on one thread (tests/conftest.py); loading LAPACK once here saves each fork seconds
    torch.set_num_threads(1)
    torch.linalg.qr(torch.ones(2, 2))
    assert not any(name == "inittui" or name.startswith("inittui.") for name in sys.modules)


def _run_tests_in_fork(request: dict, connection: socket.socket) -> int:
    """Fork; the child runs pytest in the mutated copy. Kill it if mutmut gives up on the client (timeout)."""
    pid = os.fork()
    if pid == 0:  # the child
        try:
            import pytest

            os.chdir(request["cwd"])
            sys.path.insert(0, request["cwd"])
            sys.dont_write_bytecode = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *request["tests"]])
            os._exit(int(code))
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the server
            os._exit(4)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        readable, _, _ = select.select([connection], [], [], 0.05)
        if readable and not connection.recv(1, socket.MSG_PEEK):
            os.kill(pid, signal.SIGKILL)  # the client was killed: mutmut timed this mutant out
            os.waitpid(pid, 0)
            return -signal.SIGKILL


def _serve_until(listener: socket.socket, mutmut: subprocess.Popen) -> None:
    listener.settimeout(0.2)
    while mutmut.poll() is None:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        with connection:
            connection.settimeout(None)
            request = b""
            while not request.endswith(b"\n"):
                chunk = connection.recv(4096)
                if not chunk:
                    break
                request += chunk
            if not request.endswith(b"\n"):
                continue
            code = _run_tests_in_fork(json.loads(request), connection)
            try:
                connection.sendall(f"{code}\n".encode())
            except OSError:
                pass  # the client is gone already


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


def _mutmut(workdir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=workdir, text=True, **kwargs)


def mutate_module(module: str, tests: tuple[str, ...], kept: Path | None) -> dict[str, list[str]]:
    """Run mutmut over inittui/<module>.py in a copy of the tree; mutant ids by status, and diffs of survivors.

    With ``kept``, the copy is ``kept/module`` and stays: run again, it is refreshed from the tree and mutmut
    keeps the mutants it killed before, testing only the others again.
    """
    if kept is None:
        workdir = Path(tempfile.mkdtemp(prefix=f"inittui-mutation-{module}-"))
    else:
        workdir = kept / module
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        _copy_tree(workdir)
        socket_path = str(workdir / ".mutation.sock")
        Path(socket_path).unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(socket_path)
        listener.listen(1)
        runner = f"{sys.executable} {Path(__file__).resolve()} --client {socket_path} {' '.join(tests)}"
        env = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1"}
        started = time.monotonic()
        log = open(workdir / "mutmut.log", "w")
        mutmut = subprocess.Popen(
            [sys.executable, "-m", "mutmut", "run", "--paths-to-mutate", f"inittui/{module}.py",
             "--tests-dir", "tests", "--runner", runner, "--simple-output", "--no-progress", "--swallow-output"],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            _serve_until(listener, mutmut)
        finally:
            listener.close()
            if mutmut.poll() is None:
                mutmut.kill()
            log.close()
        if mutmut.returncode & 1:  # mutmut's own failure; 2, 4 and 8 report survivors, timeouts, slow kills
            tail = (workdir / "mutmut.log").read_text()[-3000:]
            raise RuntimeError(f"mutmut failed on {module} (its baseline must pass):\n{tail}")
        by_status = {
            status: _mutmut(workdir, "result-ids", status, capture_output=True).stdout.split()
            for status in STATUSES
        }
        by_status["diffs"] = [
            _mutmut(workdir, "show", mutant, capture_output=True).stdout for mutant in by_status["survived"]
        ]
        print(f"  {module}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        return by_status
    finally:
        if kept is None:
            shutil.rmtree(workdir, ignore_errors=True)


def report(results: dict[str, dict[str, list[str]]], target: float) -> bool:
    """Print the kill rate per module and the survivors; True when every module reaches ``target``."""
    reached = True
    print(f"{'module':<14} {'killed':>8} {'rate':>7}   timeout suspicious survived")
    for module, by_status in results.items():
        total = sum(len(by_status[s]) for s in STATUSES)
        detected = sum(len(by_status[s]) for s in DETECTED)
        rate = detected / total if total else 0.0
        reached &= rate >= target
        print(
            f"{module:<14} {detected:>4}/{total:<3} {100 * rate:>6.1f}%   {len(by_status['timeout']):>7} "
            f"{len(by_status['suspicious']):>10} {len(by_status['survived']):>8}"
        )
    for module, by_status in results.items():
        for diff in by_status["diffs"]:
            print(f"\n--- survived in {module}:")
            print("\n".join(line for line in diff.splitlines() if re.match(r"[-+](?![-+])", line)))
    return reached


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--client"]:
        return client(argv[1], argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"some of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--target", type=float, default=0.8, help="least share of mutants killed (default 0.8)")
    parser.add_argument("--workdir", type=Path, help="keep each module's copy (and mutmut's cache) in DIR/MODULE and "
                        "reuse it: a second run tests again only the mutants not killed before")
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
    _warm_up()
    results = {}
    for module in args.modules or MODULES:
        print(f"mutating inittui/{module}.py against {', '.join(MODULES[module])}", file=sys.stderr, flush=True)
        results[module] = mutate_module(module, MODULES[module], args.workdir and args.workdir.resolve())
    return 0 if report(results, args.target) else 1


if __name__ == "__main__":
    sys.exit(main())
