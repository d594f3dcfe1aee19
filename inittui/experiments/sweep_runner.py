"""Running a sweep's experiments: one at a time in this process (the default), ``--jobs N`` at once in local
processes, or as Ray tasks (:mod:`inittui.experiments.sweep_ray`); the same loop drives all three.

The loop keeps as many tasks in flight as the backend has slots, records every change of state in
``sweep.json`` (where there is one), retries a task that failed or whose worker died up to ``retries`` times
from scratch, and draws the progress on stderr. Ctrl-C or a hangup stops it: what was running goes back to
pending, for ``--resume``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from inittui.runlog.manifest import DONE, FAILED, PENDING, RUNNING, SweepManifest
from inittui.experiments.sweep_task import ExperimentTask, TaskResult, unpack

DEFAULT_RETRIES = 2
PROGRESS_INTERVAL_S = 1.0  # the progress block's redraw on a terminal
PROGRESS_LOG_INTERVAL_S = 30.0  # a progress line this often when stderr is a file (and at every change)
SHARE_TOKEN_PREFIX = ".inittui-share-"


@dataclass(frozen=True)
class Execution:
    """Where and how the experiments run: the command line's execution options."""

    jobs: int = 1
    ray: bool = False
    ray_address: str | None = None  # None with ``ray``: a local Ray started for the sweep
    threads: int | None = None  # per experiment (with --jobs: the machine's threads split between them)
    gpus_per_experiment: float | None = None  # None: 1 where the cluster has GPUs, else 0
    retries: int = DEFAULT_RETRIES
    ship_logs: bool = False


class Backend(Protocol):
    """Runs tasks somewhere; each submitted task's future holds its :class:`TaskResult` or its failure."""

    slots: int  # how many tasks to keep in flight

    def submit(self, task: ExperimentTask) -> Future: ...

    def cancel(self) -> None:
        """Stop every task still running (their logs stay as they are)."""

    def close(self) -> None: ...


class InProcess:
    """One task at a time in this process: ``train`` runs it inside :meth:`submit`. Ctrl-C and a hangup reach
    the training itself (it stops cleanly, its log whole) and come back as a 'stopped' outcome."""

    slots = 1

    def __init__(self, train: Callable[[ExperimentTask], TaskResult]) -> None:
        self.train = train

    def submit(self, task: ExperimentTask) -> Future:
        future: Future = Future()
        try:
            future.set_result(self.train(task))
        except Exception as error:  # the runner retries or records it
            future.set_exception(error)
        return future

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def _set_worker_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class LocalProcesses:
    """``--jobs N``: a pool of N worker processes (spawned, so that none inherits the driver's torch state). A
    worker that dies breaks the pool: the tasks it held fail (and are retried) and a new pool takes over."""

    def __init__(self, jobs: int, threads: int) -> None:
        self.slots = jobs
        self.threads = threads
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.slots, mp_context=context, initializer=_set_worker_threads,
                                   initargs=(self.threads,))

    def submit(self, task: ExperimentTask) -> Future:
        from inittui.experiments.sweep_task import run_task

        try:
            return self.pool.submit(run_task, task)
        except BrokenProcessPool:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            return self.pool.submit(run_task, task)

    def cancel(self) -> None:
        # SIGTERM stops a worker's training cleanly (its log whole) before the pool goes
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGTERM)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def split_threads(total: int | None, jobs: int) -> int:
    """Each of ``jobs`` processes' share of ``total`` threads (default: the CPUs), at least one."""
    return max(1, (total or os.cpu_count() or 1) // jobs)


def make_backend(execution: Execution, train_here: Callable[[ExperimentTask], TaskResult]) -> Backend:
    """The backend the options ask for; ``train_here`` runs a task in this process (no --jobs, no --ray)."""
    if execution.ray:
        from inittui.experiments.sweep_ray import RayBackend

        return RayBackend(execution)
    if execution.jobs > 1:
        return LocalProcesses(execution.jobs, split_threads(execution.threads, execution.jobs))
    return InProcess(train_here)


@contextmanager
def hangup_interrupts() -> Iterator[None]:
    """While inside, a hangup (a dropped SSH connection) stops the sweep as ctrl-c does; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGHUP, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@dataclass
class Attempt:
    task: ExperimentTask
    number: int
    started: float


class SweepProgress:
    """An overall bar with the ETA, then one line per running experiment, on stderr: redrawn in place on a
    terminal; on a file, a block at every change of state and every 30 s."""

    BAR = 24

    def __init__(self, total: int, slots: int, stream: IO[str] | None = None) -> None:
        self.total = total
        self.slots = slots
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.durations: list[float] = []
        self.started = time.monotonic()
        self._drawn = 0
        self._last = -math.inf

    def eta(self, remaining: int, running: Sequence[Attempt]) -> float:
        """The mean finished experiment's time × the experiments left, over the slots, less what the running
        ones have done; unknown until one has finished."""
        if not self.durations:
            return math.nan
        mean = sum(self.durations) / len(self.durations)
        now = time.monotonic()
        left = remaining * mean - sum(min(now - a.started, mean) for a in running)
        return max(0.0, left) / max(1, min(self.slots, remaining))

    def draw(self, done: int, failed: int, running: Sequence[Attempt], remaining: int, changed: bool) -> None:
        interval = PROGRESS_INTERVAL_S if self.interactive else PROGRESS_LOG_INTERVAL_S
        now = time.monotonic()
        if not changed and now - self._last < interval:
            return
        self._last = now
        filled = int(self.BAR * done / max(1, self.total))
        lines = [f"sweep: [{'#' * filled}{'.' * (self.BAR - filled)}] {done}/{self.total} done"
                 + (f", {failed} failed" if failed else "") + f", {len(running)} running, "
                 f"{format_duration(now - self.started)} elapsed, ETA {format_duration(self.eta(remaining, running))}"]
        lines += [f"  {a.task.label}: running{f' (attempt {a.number})' if a.number > 1 else ''}, "
                  f"{format_duration(now - a.started)}" for a in running]
        prefix = f"\x1b[{self._drawn}F\x1b[J" if self.interactive and self._drawn else ""
        self.stream.write(prefix + "\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines) if self.interactive else 0

    def say(self, line: str) -> None:
        """A line that stays (a finished or failed experiment), above the progress block."""
        prefix = f"\x1b[{self._drawn}F\x1b[J" if self.interactive and self._drawn else ""
        self.stream.write(prefix + line + "\n")
        self.stream.flush()
        self._drawn = 0


@dataclass
class SweepReport:
    """How a sweep run ended: every finished task's result, the failures' reasons, whether it was interrupted."""

    results: dict[str, TaskResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    last_results: dict[str, TaskResult] = field(default_factory=dict)  # a failed task's last outcome, if any
    interrupted: bool = False


def share_token(directory: Path) -> str:
    """Write a file with a fresh random name into ``directory`` (where the logs go): a worker that sees it
    shares the driver's storage and writes its log in place. Returns the name."""
    name = f"{SHARE_TOKEN_PREFIX}{secrets.token_hex(8)}"
    (directory / name).write_text("")
    return name


def _results_of(result: TaskResult) -> list[dict]:
    grouped = len(result.outcomes) > 1
    rows = []
    for outcome in result.outcomes:
        for name, accuracy in outcome.test_acc.items():
            finite = [loss for loss in outcome.losses.get(name, []) if loss is not None]
            seed = {"seed": outcome.seed} if grouped else {}  # a seed group's replicas share their names
            rows.append({"name": name, **seed, "status": outcome.statuses.get(name),
                         "steps": len(outcome.losses.get(name, [])), "train_loss": finite[-1] if finite else None,
                         "test_acc": accuracy})
    return rows


def run_tasks(
    tasks: Sequence[ExperimentTask],
    backend: Backend,
    *,
    retries: int = DEFAULT_RETRIES,
    manifest: SweepManifest | None = None,
    stream: IO[str] | None = None,
) -> SweepReport:
    """Run every task on ``backend`` until each is done or has failed ``retries + 1`` times, or until
    interrupted; every change of state saved in ``manifest``."""
    report = SweepReport()
    queue = deque(tasks)
    # attempts count on from those of an earlier run of the sweep (--resume); the retries are this run's
    attempts = {task.name: manifest.entry(task.name).attempts if manifest is not None else 0 for task in tasks}
    earlier = dict(attempts)
    running: dict[Future, Attempt] = {}
    progress = SweepProgress(len(tasks), backend.slots, stream)

    def record(name: str, state: str, **changes: object) -> None:
        if manifest is not None:
            entry = manifest.entry(name)
            entry.state = state
            for key, value in changes.items():
                setattr(entry, key, value)
            manifest.save()

    def finish(attempt: Attempt, future: Future) -> None:
        task = attempt.task
        elapsed = time.monotonic() - attempt.started
        try:
            result: TaskResult = future.result()
            status = result.outcomes[0].status  # a seed group's seeds share it
            if status == "stopped":  # in this process, ctrl-c stopped the training itself
                record(task.name, PENDING)
                raise KeyboardInterrupt
            if status == "error":
                report.last_results[task.name] = result
                raise RuntimeError(f"training failed (see its log, {task.run_dir})")
            if result.archive is not None:
                unpack(result.archive, Path(task.run_dir))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001 - any failure of a task is retried, then recorded
            reason = one_line(error)
            if attempt.number - earlier[task.name] <= retries:
                progress.say(f"{task.label}: attempt {attempt.number} failed ({reason}); retrying from scratch")
                record(task.name, PENDING, error=reason)
                queue.appendleft(task)
            else:
                progress.say(f"{task.label}: failed after {attempt.number - earlier[task.name]} attempts ({reason})")
                record(task.name, FAILED, error=reason, elapsed_s=round(elapsed, 3))
                report.failures[task.name] = reason
            return
        progress.durations.append(elapsed)
        report.results[task.name] = result
        report.last_results.pop(task.name, None)
        record(task.name, DONE, error=None, elapsed_s=round(elapsed, 3), host=result.host, results=_results_of(result))
        progress.say(f"{task.label}: done in {format_duration(elapsed)} on {result.host}")

    try:
        with hangup_interrupts():
            while queue or running:
                changed = False
                while queue and len(running) < backend.slots:
                    task = queue.popleft()
                    attempts[task.name] += 1
                    record(task.name, RUNNING, attempts=attempts[task.name])
                    running[backend.submit(task)] = Attempt(task, attempts[task.name], time.monotonic())
                    changed = True
                remaining = len(queue) + len(running)
                progress.draw(len(report.results), len(report.failures), list(running.values()), remaining, changed)
                finished, _ = wait(list(running), timeout=PROGRESS_INTERVAL_S, return_when=FIRST_COMPLETED)
                for future in finished:
                    finish(running.pop(future), future)
    except KeyboardInterrupt:
        report.interrupted = True
        backend.cancel()
        for attempt in running.values():
            record(attempt.task.name, PENDING)
        progress.say(f"sweep: interrupted; {len(report.results)} of {len(tasks)} done")
    finally:
        backend.close()
    return report
