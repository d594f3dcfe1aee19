"""Factories and helpers shared by the tests: records, events, configs, data and run logs."""
