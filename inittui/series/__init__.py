"""The bounded histories every page draws: one curve type and a layer's density over time (numpy only)."""
