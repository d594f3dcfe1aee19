"""``inittui sweep SWEEP.toml``: a sweep's directory under ``--log-dir`` (``sweep.json`` and one run log per
experiment), its experiments run through the sweep runner; ``--resume DIR`` runs what a stopped sweep left."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import IO

from inittui.core.errors import ConfigError
from inittui.experiments.sweep import SweepPlan
from inittui.runlog.manifest import DONE, PENDING, ExperimentEntry, SweepManifest
from inittui.experiments.sweep_runner import Execution, make_backend, run_tasks, share_token
from inittui.experiments.sweep_task import ExperimentTask, loaded_mnist, run_task


def _plain(config: dict) -> dict:
    """A config as it reads back from sweep.json."""
    return json.loads(json.dumps(config))


def new_sweep_dir(log_dir: Path, name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    directory = log_dir / f"sweep-{stamp}-{name}"
    suffix = 1
    while directory.exists():
        suffix += 1
        directory = log_dir / f"sweep-{stamp}-{name}-{suffix}"
    directory.mkdir(parents=True)
    return directory


def _resumed(plan: SweepPlan, sweep_dir: Path) -> SweepManifest:
    """The manifest of a sweep to resume, checked against the plan; what did not finish is pending again."""
    manifest = SweepManifest.load(sweep_dir)
    planned = [(e.name, _plain(e.config.to_dict())) for e in plan.experiments]
    recorded = [(entry.name, entry.config) for entry in manifest.experiments]
    if planned != recorded:
        raise ConfigError(f"--resume {sweep_dir}: its sweep.json lists other experiments than {manifest.source} "
                          "gives now (the sweep file or an option changed)")
    for entry in manifest.experiments:
        if entry.state != DONE:
            entry.state = PENDING
    return manifest


def describe(execution: Execution) -> str:
    if execution.ray:
        return f"Ray at {execution.ray_address}" if execution.ray_address else "a local Ray"
    if execution.jobs > 1:
        return f"{execution.jobs} local processes"
    return "here, one at a time"


def run_sweep(
    plan: SweepPlan,
    source: Path,
    log_dir: Path,
    execution: Execution,
    *,
    data_dir: str | None,
    resume: Path | None = None,
    stream: IO[str] | None = None,
) -> int:
    """Run the plan's experiments (those not done yet, with ``resume``); 0 when all are done, 1 when one failed,
    130 when interrupted."""
    stream = stream if stream is not None else sys.stderr
    resumed = _resumed(plan, resume) if resume is not None else None
    if execution.ray_address is None:
        loaded_mnist(data_dir)  # missing data: one line now, not a failed task per experiment
    # before the sweep's directory: a cluster that cannot run an experiment is refused with nothing left behind
    backend = make_backend(execution, run_task)
    try:
        if resumed is not None:
            manifest, sweep_dir = resumed, resume
        else:
            sweep_dir = new_sweep_dir(log_dir, plan.name)
            entries = [ExperimentEntry(e.name, e.axes, _plain(e.config.to_dict()), e.name) for e in plan.experiments]
            manifest = SweepManifest.new(sweep_dir, plan.name, str(source.resolve()), entries)
        manifest.save()
        token = share_token(sweep_dir)
    except BaseException:
        backend.close()
        raise
    tasks = [
        ExperimentTask(e.name, e.name, e.config, str(sweep_dir / e.name), data_dir, token, threads=execution.threads,
                       ship_logs=execution.ship_logs, header={"sweep": plan.name, "experiment": e.name, "axes": e.axes})
        for e in plan.experiments
        if manifest.entry(e.name).state != DONE
    ]
    skipped = len(plan.experiments) - len(tasks)
    print(f"sweep {plan.name}: {len(tasks)} experiments to run" + (f" ({skipped} done before)" if skipped else "")
          + f" on {describe(execution)}; sweep.json and logs in {sweep_dir}", file=stream)
    try:
        report = run_tasks(tasks, backend, retries=execution.retries, manifest=manifest, stream=stream)
    finally:
        (sweep_dir / token).unlink(missing_ok=True)
    counts = manifest.counts()
    print(f"sweep {plan.name}: {counts['done']}/{len(plan.experiments)} done"
          + (f", {counts['failed']} failed" if counts["failed"] else "")
          + (f"; resume with: inittui sweep {source} --resume {sweep_dir}" if report.interrupted else ""), file=stream)
    if report.interrupted:
        return 130
    return 1 if report.failures else 0
