"""``sweep.json``: every experiment of a sweep with its state, its attempts and its log's directory, written by
the driver alone, whole each time (a temporary file renamed over the old one), so a reader never sees half of it.

Standard library only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inittui.core.errors import RunLogError

MANIFEST_FILE = "sweep.json"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)


@dataclass
class ExperimentEntry:
    """One experiment's line in the manifest."""

    name: str
    axes: dict[str, Any]
    config: dict[str, Any]
    log_dir: str  # relative to the sweep's directory
    state: str = PENDING
    attempts: int = 0
    elapsed_s: float | None = None
    host: str | None = None
    error: str | None = None  # why the last attempt failed
    # every run's final numbers: name, status, steps, train_loss, test_acc, best_test_acc
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SweepManifest:
    """The whole of ``sweep.json``."""

    path: Path
    sweep: str
    source: str  # the sweep file it was made from
    created: str
    experiments: list[ExperimentEntry]

    @classmethod
    def new(cls, sweep_dir: Path, sweep: str, source: str, experiments: list[ExperimentEntry]) -> SweepManifest:
        created = datetime.now().isoformat(timespec="seconds")
        return cls(sweep_dir / MANIFEST_FILE, sweep, source, created, experiments)

    @classmethod
    def load(cls, sweep_dir: Path) -> SweepManifest:
        path = sweep_dir / MANIFEST_FILE
        try:
            data = json.loads(path.read_text())
            entries = [ExperimentEntry(**entry) for entry in data["experiments"]]
            return cls(path, data["sweep"], data["source"], data["created"], entries)
        except FileNotFoundError:
            raise RunLogError(f"{sweep_dir}: no {MANIFEST_FILE} (not a sweep's directory)") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RunLogError(f"{path}: cannot be read: {error}") from None

    @property
    def directory(self) -> Path:
        return self.path.parent

    def entry(self, name: str) -> ExperimentEntry:
        return next(entry for entry in self.experiments if entry.name == name)

    def counts(self) -> dict[str, int]:
        return {state: sum(entry.state == state for entry in self.experiments) for state in STATES}

    def save(self) -> None:
        data = {
            "sweep": self.sweep,
            "source": self.source,
            "created": self.created,
            "updated": datetime.now().isoformat(timespec="seconds"),
            "counts": self.counts(),
            "experiments": [asdict(entry) for entry in self.experiments],
        }
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            temporary.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(temporary, self.path)
        except OSError as error:
            raise RunLogError(f"cannot write {self.path}: {error.strerror or error}") from None
