"""The errors any command can raise, each a one-line message for the user (standard library only, so that
the CLI can catch them without loading torch)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value that cannot be used."""


class DataError(Exception):
    """A problem with the data the user can fix (MNIST missing, damaged or not downloadable)."""


class RunLogError(Exception):
    """A run directory that cannot be found, read or written."""
