"""Tiny MNIST-format (IDX) files for tests: write them instead of needing the real data set.

Import from a test module as ``from support.idx import write_idx, write_mnist_files`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Literal

import torch

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# 0x08 = unsigned byte, then the number of dimensions: 2051 for images [N, 28, 28], 2049 for labels [N].
_MAGIC = {1: 2049, 3: 2051}


def idx_bytes(array: torch.Tensor, *, magic: int | None = None, dims: tuple[int, ...] | None = None) -> bytes:
    """The IDX encoding of a uint8 tensor; ``magic`` and ``dims`` override the header to forge bad files."""
    array = array.to(torch.uint8).contiguous()
    magic = _MAGIC.get(array.dim(), 0x0800 + array.dim()) if magic is None else magic
    dims = tuple(array.shape) if dims is None else dims
    header = b"".join(value.to_bytes(4, "big") for value in (magic, *dims))
    return header + array.numpy().tobytes()


def write_idx(
    path: str | Path,
    array: torch.Tensor,
    gz: bool = True,
    *,
    magic: int | None = None,
    dims: tuple[int, ...] | None = None,
) -> Path:
    """Write ``array`` as an IDX file at ``path`` (``.gz`` appended when ``gz``); returns the written path."""
    path = Path(path)
    data = idx_bytes(array, magic=magic, dims=dims)
    if gz:
        path = path.with_name(path.name + ".gz")
        # mtime=0: identical bytes on every run.
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return path


def write_mnist_files(
    directory: str | Path,
    train_count: int,
    test_count: int,
    gz: bool = True,
    layout: Literal["flat", "torchvision"] = "flat",
    seed: int = 0,
) -> Path:
    """Write the four MNIST files with random 28×28 images and labels 0..9; returns the folder holding them.

    ``layout="flat"`` writes into ``directory``; ``"torchvision"`` into ``directory/MNIST/raw`` as
    torchvision.datasets.MNIST lays them out. Labels cycle through 0..9 before shuffling, so every class
    appears once count >= 10.
    """
    if layout not in ("flat", "torchvision"):
        raise ValueError(f"layout must be 'flat' or 'torchvision', got {layout!r}")
    folder = Path(directory) if layout == "flat" else Path(directory) / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        images = torch.randint(0, 256, (count, 28, 28), dtype=torch.uint8, generator=generator)
        labels = (torch.arange(count) % 10)[torch.randperm(count, generator=generator)].to(torch.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz)
    return folder
