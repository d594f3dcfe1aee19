"""inittui: a terminal laboratory for weight initialisation."""

__version__ = "0.1.0"
