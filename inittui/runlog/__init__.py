"""The run log: where it lives, its writer, its reader, the log index and the catalogue of past runs."""
