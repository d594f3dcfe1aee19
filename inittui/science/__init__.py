"""Activations, initialisers, mean-field theory, layer statistics and the random-input probe."""
