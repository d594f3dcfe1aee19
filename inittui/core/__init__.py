"""Configuration, events, commands, presets and errors: the standard library only."""
