"""Stand-ins for MNIST and for a network that is not there."""

from __future__ import annotations

import socket

import torch

from inittui.training.data import MNISTData


def random_mnist(train: int = 512, test: int = 256, seed: int = 0) -> MNISTData:
    """Random stand-in for MNIST with learnable labels (label = a linear function of the pixels)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(train + test, 784, generator=generator)
    projection = torch.randn(784, 10, generator=generator)
    labels = (images @ projection).argmax(dim=1)
    return MNISTData(images[:train], labels[:train], images[train:], labels[train:], "random")


def noise_mnist(train: int = 2000, test: int = 500) -> MNISTData:
    """Random images with random labels: nothing to learn, for the dashboard's tests."""
    generator = torch.Generator().manual_seed(0)
    return MNISTData(
        torch.randn(train, 784, generator=generator),
        torch.randint(10, (train,), generator=generator),
        torch.randn(test, 784, generator=generator),
        torch.randint(10, (test,), generator=generator),
        "random",
    )


def closed_local_url() -> str:
    """An http URL on this machine where nothing listens: a connection is refused at once, with or without a
    network, so pointing torchvision's download at it makes "no network" the same on every machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
