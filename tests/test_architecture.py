"""The headless core never imports the UI: checked statically (import-linter) and at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    result = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken" in result.stdout


def test_training_headless_loads_no_textual():
    code = (
        "import sys, inittui.cli, inittui.training.engine, inittui.experiments.headless, "
        "inittui.experiments.reproduce, inittui.science.probe\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'plotext'))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
