from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from support.data import random_mnist
from inittui.training.data import MNISTData

# one thread: the tests' tensors are small, and two OpenMP threads on a busy 2-core machine slow to a crawl
torch.set_num_threads(1)


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
