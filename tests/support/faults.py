"""Failures to inject: a disk that fills up. Import as ``from support.faults import FullDisk``."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class FullDisk:
    """An events file that takes ``room`` bytes, then fails as a full disk does: part of a line, then ENOSPC.

    Use it in place of ``inittui.runlog.open_append`` (``lambda path: FullDisk(path, room)``).
    """

    def __init__(self, path: Path, room: int, error: int = errno.ENOSPC) -> None:
        self.file = open(path, "ab", buffering=0)
        self.room = room
        self.error = error

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(self.error, os.strerror(self.error))
        written = self.file.write(bytes(data[: self.room]))
        self.room -= written
        return written

    def __getattr__(self, name):
        return getattr(self.file, name)
