"""A run drawn once or handed on: static charts with plotext (``inittui plot``), TensorBoard and CSV export."""
