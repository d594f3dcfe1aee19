"""Data, devices, the batched model and optimiser, the training engine and its child process."""
