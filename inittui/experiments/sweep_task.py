"""One experiment of a sweep as a task: what a worker (this process, a local process or a Ray worker) is given,
what it does, and what it sends back.

A task trains its experiment into its ordinary run log. Where the driver's log directory is visible (shared
storage: the token file the driver wrote is there), the log is written in place, so ``inittui view`` can follow
it live. Elsewhere it is written into a scratch directory and sent back whole, as a gzipped tar, with the result,
through whatever carries results (Ray's object store). Either way every attempt starts its log afresh, so a
retried experiment's log holds no line of an earlier attempt.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inittui.core.config import ExperimentConfig

if TYPE_CHECKING:
    from inittui.experiments.reproduce import TrainOutcome
    from inittui.training.data import MNISTData

# the data each worker process has loaded, by directory: a Ray worker runs many tasks
_LOADED: dict[str | None, MNISTData] = {}


@dataclass(frozen=True)
class ExperimentTask:
    """Everything a worker needs to train one experiment; plain data, so that it pickles."""

    name: str
    label: str  # how progress and warnings name it
    config: ExperimentConfig
    run_dir: str  # where its log ends, on the driver
    data_dir: str | None
    share_token: str  # the name of the file the driver put in run_dir's parent, to tell shared storage
    threads: int | None = None
    ship_logs: bool = False  # send the log back even where the driver's directory is visible
    keep_weights: bool = False  # send the trained hidden weights back (reproduce's symmetry criterion)
    header: dict[str, Any] = field(default_factory=dict)  # extra keys for the log's config.json


@dataclass
class TaskResult:
    """What came back: the outcomes (one per seed of the experiment), the log (a gzipped tar) where it was not
    written in place, and where it ran."""

    name: str
    outcomes: list[TrainOutcome]
    archive: bytes | None
    host: str


def loaded_mnist(data_dir: str | None) -> MNISTData:
    """MNIST from ``data_dir``, loaded once per process."""
    if data_dir not in _LOADED:
        from inittui.training.data import load_mnist

        _LOADED[data_dir] = load_mnist(data_dir)
    return _LOADED[data_dir]


def pack(run_dir: Path) -> bytes:
    """The run directory as a gzipped tar whose one top-level entry is the directory's name."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(run_dir, arcname=run_dir.name)
    return buffer.getvalue()


def unpack(archive: bytes, run_dir: Path) -> None:
    """Put a shipped log at ``run_dir``, replacing whatever an earlier attempt left there."""
    shutil.rmtree(run_dir, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = {Path(member.name).parts[0] for member in tar.getmembers()}
        if names != {run_dir.name}:
            raise ValueError(f"a shipped log for {run_dir.name} holds {sorted(names)}")
        tar.extractall(run_dir.parent, filter="data")


def run_task(task: ExperimentTask) -> TaskResult:
    """Train the task's experiment to the end (or until stopped) and return what it left."""
    import torch

    # imported here: reproduce dispatches its own experiments through the sweep runner, which names this module
    from inittui.experiments.reproduce import train_preset

    if task.threads is not None:
        torch.set_num_threads(task.threads)
    data = loaded_mnist(task.data_dir)
    run_dir = Path(task.run_dir)
    shared = not task.ship_logs and (run_dir.parent / task.share_token).is_file()
    scratch = None if shared else Path(tempfile.mkdtemp(prefix="inittui-task-"))
    target = run_dir if scratch is None else scratch / run_dir.name
    shutil.rmtree(target, ignore_errors=True)  # an earlier attempt's partial log
    try:
        with open(os.devnull, "w") as quiet:
            outcomes = train_preset(task.config, data, target.parent, task.label, run_dir=target, header=task.header,
                                   progress=quiet, keep_weights=task.keep_weights)
        archive = None if scratch is None else pack(target)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return TaskResult(task.name, outcomes, archive, socket.gethostname())
