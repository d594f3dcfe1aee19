"""The run log: its layout, writer, reader and index, the catalogue of past runs, and a sweep's manifest."""
