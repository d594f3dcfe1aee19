"""The command line run in this process, as the ``inittui`` program runs it, with what it printed."""

from __future__ import annotations

import pytest

from inittui.cli import main


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``inittui ARGV``; argparse's exits count as statuses."""
    try:
        status = main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err
