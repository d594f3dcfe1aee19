"""``python -m inittui``: the same program as the ``inittui`` command."""

from inittui.cli import run

if __name__ == "__main__":
    run()
