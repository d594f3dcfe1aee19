"""The headless core never imports the UI: checked statically (import-linter) and at run time. No class grows
past what one reader holds in mind."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# issue 17: a class over this is doing several jobs; the App only composes, binds and routes
MAX_CLASS_LINES = 300
MAX_APP_LINES = 250


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


def class_lengths(package: Path) -> dict[str, int]:
    """``module.py:Class`` -> lines from its ``class`` line (decorators included) to its last, for every class
    under ``package``, nested ones too."""
    lengths = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
                lengths[f"{path.relative_to(package.parent)}:{node.name}"] = node.end_lineno - first + 1
    return lengths


def test_no_class_is_over_300_lines_and_the_app_over_250():
    lengths = class_lengths(ROOT / "inittui")
    assert "inittui/training/engine.py:Engine" in lengths  # the walk finds the classes it is meant to bound
    too_long = {name: lines for name, lines in lengths.items() if lines > MAX_CLASS_LINES}
    assert not too_long, f"classes over {MAX_CLASS_LINES} lines: {too_long}"
    app_lines = lengths["inittui/ui/app.py:InitApp"]
    assert app_lines <= MAX_APP_LINES, f"InitApp is {app_lines} lines"
