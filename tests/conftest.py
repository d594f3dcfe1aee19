from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

from inittui.training.data import MNISTData

# one thread: the tests' tensors are small, and two OpenMP threads on a busy 2-core machine slow to a crawl
torch.set_num_threads(1)


def random_mnist(train: int = 512, test: int = 256, seed: int = 0) -> MNISTData:
    """Random stand-in for MNIST with learnable labels (label = a linear function of the pixels)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(train + test, 784, generator=generator)
    projection = torch.randn(784, 10, generator=generator)
    labels = (images @ projection).argmax(dim=1)
    return MNISTData(images[:train], labels[:train], images[train:], labels[train:], "random")


def closed_local_url() -> str:
    """An http URL on this machine where nothing listens: a connection is refused at once, with or without a
    network, so pointing torchvision's download at it makes "no network" the same on every machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def tiny_data() -> MNISTData:
    return random_mnist()


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST directory from INITTUI_DATA_DIR; tests using it skip without it."""
    value = os.environ.get("INITTUI_DATA_DIR")
    if not value:
        pytest.skip("INITTUI_DATA_DIR is not set (real MNIST not available)")
    return Path(value)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
