"""Where run logs live: one directory per experiment, holding ``config.json`` and ``events.jsonl``."""

from __future__ import annotations

from pathlib import Path

import platformdirs

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"


def default_log_dir() -> Path:
    return Path(platformdirs.user_data_dir("inittui")) / "runs"
