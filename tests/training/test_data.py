"""MNIST loading: lookup order, validation messages, normalisation and a bounded, traceback-free download."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import torch
import torchvision
from support.data import closed_local_url
from support.idx import write_idx, write_mnist_files

from inittui.training.data import EXPECTED_COUNTS, MNIST_FILES, MNISTData, default_cache_dir, find_mnist, load_mnist
from inittui.core.errors import DataError

# Read before the autouse fixture below removes the variable from every test's environment.
REAL_MNIST_DIR = os.environ.get("INITTUI_DATA_DIR")
SMALL = (50, 20)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No test may see the user's data directory or touch the real user cache.
    monkeypatch.delenv("INITTUI_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries torchvision's download."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torchvision.datasets, "MNIST", refuse)


def one_line(err: pytest.ExceptionInfo[DataError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------- happy paths


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_loads_each_layout_and_compression(tmp_path: Path, gz: bool, layout: str, no_download: None) -> None:
    folder = write_mnist_files(tmp_path, *SMALL, gz=gz, layout=layout)
    assert {p.name for p in folder.iterdir()} == {name + (".gz" if gz else "") for name in MNIST_FILES}

    data = load_mnist(tmp_path, expected_counts=SMALL)

    assert data.train_images.shape == (50, 784) and data.train_images.dtype == torch.float32
    assert data.test_images.shape == (20, 784) and data.test_images.dtype == torch.float32
    assert data.train_labels.shape == (50,) and data.train_labels.dtype == torch.int64
    assert data.test_labels.shape == (20,) and data.test_labels.dtype == torch.int64
    assert data.train_labels.bincount().tolist() == [5] * 10
    assert data.train_images.device.type == "cpu"
    assert data.source == str(tmp_path)
    assert data.description == f"MNIST 50/20 ({tmp_path})"


def test_raw_and_gz_give_identical_tensors(tmp_path: Path) -> None:
    write_mnist_files(tmp_path / "gz", *SMALL, gz=True, seed=3)
    write_mnist_files(tmp_path / "raw", *SMALL, gz=False, seed=3)
    a = load_mnist(tmp_path / "gz", expected_counts=SMALL)
    b = load_mnist(tmp_path / "raw", expected_counts=SMALL)
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_normalisation_flattening_and_labels_are_exact(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, 3, 10, gz=True)
    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    images[1] = 255
    images[2, 0, 1] = 51  # row 0, column 1 -> flat index 1
    images[2, 27, 27] = 102  # last pixel -> flat index 783
    write_idx(tmp_path / "train-images-idx3-ubyte", images, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", torch.tensor([7, 0, 9]), gz=True)

    data = load_mnist(tmp_path, expected_counts=(3, 10))

    def norm(x: float) -> float:
        return (x / 255 - 0.1307) / 0.3081

    assert torch.allclose(data.train_images[0], torch.full((784,), norm(0)))
    assert torch.allclose(data.train_images[1], torch.full((784,), norm(255)))
    assert data.train_images[2, 1].item() == pytest.approx(norm(51), abs=1e-6)
    assert data.train_images[2, 783].item() == pytest.approx(norm(102), abs=1e-6)
    assert data.train_images[2, 0].item() == pytest.approx(norm(0), abs=1e-6)
    assert data.train_labels.tolist() == [7, 0, 9]


def test_to_returns_a_new_object_on_the_device(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    data = load_mnist(tmp_path, expected_counts=SMALL)

    moved = data.to("cpu")
    assert isinstance(moved, MNISTData) and moved is not data
    assert moved.source == data.source
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert getattr(moved, name).device == torch.device("cpu")
        assert torch.equal(getattr(moved, name), getattr(data, name))

    # "meta" exists on every machine: proves the tensors really move and the original stays put.
    meta = data.to(torch.device("meta"))
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert getattr(meta, name).device.type == "meta"
    assert data.train_images.device.type == "cpu"


def test_env_variable_is_used_when_no_dir_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_download: None
) -> None:
    write_mnist_files(tmp_path / "env", *SMALL, layout="torchvision")
    monkeypatch.setenv("INITTUI_DATA_DIR", str(tmp_path / "env"))
    data = load_mnist(None, cache_dir=tmp_path / "cache", expected_counts=SMALL)
    assert data.source == str(tmp_path / "env")
    assert find_mnist(cache_dir=tmp_path / "cache") == tmp_path / "env" / "MNIST" / "raw"


def test_cache_is_used_without_download(tmp_path: Path, no_download: None) -> None:
    cache = tmp_path / "cache"
    write_mnist_files(cache, *SMALL, gz=False, layout="torchvision")
    data = load_mnist(None, cache_dir=cache, expected_counts=SMALL)
    assert data.source == str(cache)
    assert len(data.train_labels) == 50


def test_default_cache_dir_follows_platformdirs(tmp_path: Path) -> None:
    assert default_cache_dir() == tmp_path / "xdg-cache" / "inittui" / "mnist"


def test_find_mnist(tmp_path: Path) -> None:
    flat = write_mnist_files(tmp_path / "flat", *SMALL)
    nested = write_mnist_files(tmp_path / "tv", *SMALL, layout="torchvision")
    assert find_mnist(tmp_path / "flat") == flat
    assert find_mnist(str(tmp_path / "tv")) == nested
    assert find_mnist(tmp_path / "nowhere") is None
    assert find_mnist(cache_dir=tmp_path / "empty-cache") is None
    assert find_mnist(cache_dir=tmp_path / "tv") == nested
    (flat / "t10k-labels-idx1-ubyte.gz").unlink()
    assert find_mnist(tmp_path / "flat") is None


def test_real_size_is_required_by_default(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    assert EXPECTED_COUNTS == (60_000, 10_000)
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path)
    message = one_line(err)
    assert "train-images-idx3-ubyte.gz" in message and "holds 50 images, expected 60000" in message


# ---------------------------------------------------------------------------------------------- missing data


def test_missing_directory_names_it_and_the_files(tmp_path: Path, no_download: None) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(DataError) as err:
        load_mnist(missing, cache_dir=tmp_path / "cache")
    message = one_line(err)
    assert str(missing) in message and "does not exist" in message
    assert all(name in message for name in MNIST_FILES)


def test_missing_directory_from_env_does_not_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_download: None
) -> None:
    monkeypatch.setenv("INITTUI_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(DataError, match="gone does not exist"):
        load_mnist(cache_dir=tmp_path / "cache")


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is not a directory"):
        load_mnist(tmp_path / "file")


def test_missing_file_is_named_and_nothing_is_downloaded(tmp_path: Path, no_download: None) -> None:
    folder = write_mnist_files(tmp_path, *SMALL, layout="torchvision")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, cache_dir=tmp_path / "cache", expected_counts=SMALL)
    message = one_line(err)
    assert str(tmp_path) in message
    assert "lacks t10k-labels-idx1-ubyte" in message
    assert "train-images-idx3-ubyte" not in message  # only what is really missing


def test_no_download_flag(tmp_path: Path, no_download: None) -> None:
    with pytest.raises(DataError) as err:
        load_mnist(None, cache_dir=tmp_path / "cache", download=False)
    message = one_line(err)
    assert "--data-dir" in message and all(name in message for name in MNIST_FILES)


# ---------------------------------------------------------------------------------------------- bad files


def load_small(folder: Path) -> None:
    load_mnist(folder, expected_counts=SMALL)


def test_truncated_labels(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    write_idx(tmp_path / "train-labels-idx1-ubyte", torch.zeros(45), gz=True, dims=(50,))
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    message = one_line(err)
    assert "train-labels-idx1-ubyte.gz: truncated: header says 50 labels, file holds 45" in message


def test_truncated_images_raw(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-784 * 3 - 10])
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "t10k-images-idx3-ubyte: truncated: header says 20 images, file holds 16" in one_line(err)


def test_file_shorter_than_header(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00")
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "t10k-labels-idx1-ubyte: truncated: 2 bytes, shorter than the 8-byte header" in one_line(err)


def test_trailing_bytes(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\x01\x02\x03")
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "train-labels-idx1-ubyte: corrupt: 3 bytes after the 50 labels" in one_line(err)


def test_corrupt_gzip(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # gzip stream cut short
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "train-images-idx3-ubyte.gz: corrupt gzip file" in one_line(err)


def test_not_gzip_at_all(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip data")
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "t10k-labels-idx1-ubyte.gz: corrupt gzip file" in one_line(err)


def test_bad_magic(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    write_idx(tmp_path / "train-images-idx3-ubyte", torch.zeros(50, 28, 28), gz=True, magic=2049)
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "train-images-idx3-ubyte.gz: not an MNIST image file: magic number 2049, expected 2051" in one_line(err)


def test_labels_and_images_swapped(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL, gz=False)
    images = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(images)
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "t10k-labels-idx1-ubyte: not an MNIST label file: magic number 2051, expected 2049" in one_line(err)


def test_wrong_dimensions(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", torch.zeros(20, 32, 32), gz=True)
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "t10k-images-idx3-ubyte.gz: images are 32×32, expected 28×28" in one_line(err)


def test_label_out_of_range(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    labels = torch.zeros(20)
    labels[13] = 12
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, gz=True)
    with pytest.raises(DataError) as err:
        load_small(tmp_path)
    assert "t10k-labels-idx1-ubyte.gz: label out of range: 12 at index 13 (labels must be 0..9)" in one_line(err)


def test_image_and_label_counts_disagree(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    write_idx(tmp_path / "train-labels-idx1-ubyte", torch.zeros(40), gz=True)
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, expected_counts=None)
    message = one_line(err)
    assert "train-images-idx3-ubyte.gz holds 50 images but train-labels-idx1-ubyte.gz holds 40 labels" in message


def test_expected_counts_are_checked_per_split(tmp_path: Path) -> None:
    write_mnist_files(tmp_path, *SMALL)
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path, expected_counts=(50, 25))
    assert "t10k-images-idx3-ubyte.gz: holds 20 images, expected 25 for the MNIST test set" in one_line(err)
    assert len(load_mnist(tmp_path, expected_counts=None).test_labels) == 20


# ---------------------------------------------------------------------------------------------- download


def test_no_network_fails_fast_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # torchvision's real download, pointed at a local port where nothing listens: no network, on every machine
    assert isinstance(torchvision.datasets.MNIST.mirrors, list)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [closed_local_url()])
    cache = tmp_path / "empty-cache"
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        load_mnist(None, cache_dir=cache)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"took {elapsed:.1f} s"
    message = one_line(err)
    assert message.startswith("MNIST not found and could not be downloaded (no network?")
    assert "Connection refused" in message  # the refusal above, not some other failure
    assert "--data-dir DIR" in message and "INITTUI_DATA_DIR" in message
    assert all(name in message for name in MNIST_FILES)
    assert find_mnist(cache_dir=cache) is None
    assert not any(p.name.startswith(".download-") for p in cache.iterdir())  # staging cleaned up


def test_hanging_download_is_abandoned_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(root: str, download: bool) -> None:
        release.wait(30)

    monkeypatch.setattr(torchvision.datasets, "MNIST", hang)
    start = time.perf_counter()
    try:
        with pytest.raises(DataError) as err:
            load_mnist(None, cache_dir=tmp_path / "cache", download_timeout_s=0.3)
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    assert elapsed < 2
    message = one_line(err)
    assert "timed out after 0.3 s" in message and "--data-dir" in message


def test_any_download_exception_becomes_a_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(root: str, download: bool) -> None:
        raise ValueError("Error downloading train-images-idx3-ubyte.gz:\nTried a mirror, got:\nsomething odd")

    monkeypatch.setattr(torchvision.datasets, "MNIST", explode)
    with pytest.raises(DataError) as err:
        load_mnist(None, cache_dir=tmp_path / "cache")
    message = one_line(err)
    assert "(no network? something odd)" in message and "--data-dir" in message


def test_successful_download_lands_in_cache_and_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_mnist(root: str, download: bool) -> None:
        # What torchvision leaves behind: the .gz files and their extracted raw copies in root/MNIST/raw.
        calls.append(root)
        write_mnist_files(root, *SMALL, gz=True, layout="torchvision")
        write_mnist_files(root, *SMALL, gz=False, layout="torchvision")

    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_mnist)
    cache = tmp_path / "cache"
    data = load_mnist(None, cache_dir=cache, expected_counts=SMALL)

    assert len(calls) == 1 and Path(calls[0]).parent == cache
    assert data.train_images.shape == (50, 784)
    raw = cache / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(MNIST_FILES)
    assert [p.name for p in cache.iterdir()] == ["MNIST"]  # staging removed

    again = load_mnist(None, cache_dir=cache, expected_counts=SMALL)
    assert len(calls) == 1  # served from the cache
    assert torch.equal(again.train_images, data.train_images)


def test_download_that_leaves_files_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def partial(root: str, download: bool) -> None:
        folder = write_mnist_files(root, *SMALL, layout="torchvision")
        (folder / "train-labels-idx1-ubyte.gz").unlink()

    monkeypatch.setattr(torchvision.datasets, "MNIST", partial)
    with pytest.raises(DataError) as err:
        load_mnist(None, cache_dir=tmp_path / "cache", expected_counts=SMALL)
    assert "download lacks train-labels-idx1-ubyte" in one_line(err)


# ---------------------------------------------------------------------------------------------- real MNIST


@pytest.mark.mnist
def test_real_mnist() -> None:
    if not REAL_MNIST_DIR:
        pytest.skip("set INITTUI_DATA_DIR to a directory holding the real MNIST files")
    start = time.perf_counter()
    data = load_mnist(REAL_MNIST_DIR)
    elapsed = time.perf_counter() - start

    assert elapsed < 5, f"loading took {elapsed:.1f} s"
    assert data.train_images.shape == (60_000, 784) and data.test_images.shape == (10_000, 784)
    assert data.train_images.dtype == torch.float32 and data.train_labels.dtype == torch.int64
    assert data.train_labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert data.test_labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(data.train_images.mean().item()) < 0.01
    assert abs(data.train_images.std().item() - 1) < 0.01
    assert data.description == f"MNIST 60000/10000 ({Path(REAL_MNIST_DIR)})"

