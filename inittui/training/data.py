"""MNIST on the CPU as plain tensors: find the four IDX files, validate them, normalise, never hang.

Lookup order: the user's directory (``--data-dir`` or env ``INITTUI_DATA_DIR``), then the user cache
directory, then torchvision's download into that cache, bounded by a deadline. Every problem the user can
fix is raised as :class:`DataError` with a one-line message; no traceback escapes from here.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import tempfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from inittui.core.errors import DataError

MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
EXPECTED_COUNTS = (60_000, 10_000)
ENV_DATA_DIR = "INITTUI_DATA_DIR"
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE

# IDX magic numbers: 0x0803 = unsigned bytes in 3 dimensions, 0x0801 = unsigned bytes in 1 dimension.
IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
IMAGE_HEADER_BYTES = 16
LABEL_HEADER_BYTES = 8
# Sub-directories of a data directory that may hold the files: flat, torchvision's root, torchvision's root/MNIST.
_LAYOUTS = (Path("."), Path("MNIST") / "raw", Path("raw"))
_FILE_LIST = ", ".join(MNIST_FILES)
_HELP = f"put {_FILE_LIST} (.gz or raw) in a directory and pass --data-dir DIR (or set {ENV_DATA_DIR})"



@dataclass
class MNISTData:
    train_images: torch.Tensor  # float32 [N, 784], normalised (x/255 - 0.1307) / 0.3081
    train_labels: torch.Tensor  # int64 [N]
    test_images: torch.Tensor  # float32 [M, 784]
    test_labels: torch.Tensor  # int64 [M]
    source: str  # where it came from, e.g. the directory, for display

    def to(self, device: torch.device | str) -> MNISTData:
        """A new object with every tensor on ``device`` (the original is left where it is)."""
        return MNISTData(
            train_images=self.train_images.to(device),
            train_labels=self.train_labels.to(device),
            test_images=self.test_images.to(device),
            test_labels=self.test_labels.to(device),
            source=self.source,
        )

    def unit_scaled(self) -> MNISTData:
        """The same images with pixels in [0, 1] (x / 255) instead of standardised."""
        return MNISTData(
            train_images=self.train_images * MNIST_STD + MNIST_MEAN,
            train_labels=self.train_labels,
            test_images=self.test_images * MNIST_STD + MNIST_MEAN,
            test_labels=self.test_labels,
            source=self.source,
        )

    @property
    def description(self) -> str:
        return f"MNIST {len(self.train_labels)}/{len(self.test_labels)} ({self.source})"


def default_cache_dir() -> Path:
    # Imported here so that importing this module stays cheap for code that never loads data.
    import platformdirs

    return Path(platformdirs.user_cache_dir("inittui")) / "mnist"


def _env_data_dir() -> str | None:
    value = os.environ.get(ENV_DATA_DIR, "").strip()
    return value or None


def _locate(name: str, directory: Path) -> Path | None:
    """The raw file if present (no decompression needed), else the gzipped one, else None."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _files_in(root: Path) -> tuple[dict[str, Path], list[str]]:
    """The layout under ``root`` that holds the most of the four files: (found name -> path, missing names)."""
    best: tuple[dict[str, Path], list[str]] = ({}, list(MNIST_FILES))
    for layout in _LAYOUTS:
        directory = root / layout
        if not directory.is_dir():
            continue
        found = {name: path for name in MNIST_FILES if (path := _locate(name, directory)) is not None}
        if len(found) == len(MNIST_FILES):
            return found, []
        if len(found) > len(best[0]):
            best = (found, [name for name in MNIST_FILES if name not in found])
    return best


def find_mnist(data_dir: str | Path | None = None, *, cache_dir: Path | None = None) -> Path | None:
    """The directory holding all four MNIST files, or None; nothing is downloaded or validated.

    A named ``data_dir`` (or env INITTUI_DATA_DIR when None) is the only place looked at: a user who names a
    directory means that one. Otherwise the cache directory is searched.
    """
    if data_dir is None:
        data_dir = _env_data_dir()
    root = Path(data_dir).expanduser() if data_dir is not None else (cache_dir or default_cache_dir())
    found, missing = _files_in(root)
    if missing:
        return None
    return next(iter(found.values())).parent


# ---------------------------------------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            # Decompressed in memory (not into the cache as torchvision's reader would need): it is faster,
            # writes nothing, and the bytes are validated here before torch.frombuffer parses them.
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataError(f"{path}: corrupt gzip file ({_one_line(err)})") from err
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or _one_line(err)}") from err


def _header_int(data: bytes, index: int) -> int:
    return int.from_bytes(data[4 * index : 4 * index + 4], "big")


def _check_magic(path: Path, data: bytes, magic: int, header_bytes: int, what: str) -> None:
    if len(data) < header_bytes:
        raise DataError(f"{path}: truncated: {len(data)} bytes, shorter than the {header_bytes}-byte header")
    found = _header_int(data, 0)
    if found != magic:
        raise DataError(f"{path}: not an MNIST {what} file: magic number {found}, expected {magic}")


def _check_payload(path: Path, data: bytes, header_bytes: int, count: int, item_bytes: int, what: str) -> None:
    payload = len(data) - header_bytes
    held = payload // item_bytes
    if payload < count * item_bytes:
        raise DataError(f"{path}: truncated: header says {count} {what}, file holds {held}")
    if payload > count * item_bytes:
        extra = payload - count * item_bytes
        raise DataError(f"{path}: corrupt: {extra} bytes after the {count} {what} the header announces")


def _read_images(path: Path) -> torch.Tensor:
    """uint8 [N, 784] from an IDX image file, validated."""
    data = _read_bytes(path)
    _check_magic(path, data, IMAGE_MAGIC, IMAGE_HEADER_BYTES, "image")
    count, rows, cols = (_header_int(data, i) for i in (1, 2, 3))
    if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{path}: images are {rows}×{cols}, expected {IMAGE_SIDE}×{IMAGE_SIDE}")
    _check_payload(path, data, IMAGE_HEADER_BYTES, count, IMAGE_PIXELS, "images")
    if count == 0:
        return torch.empty((0, IMAGE_PIXELS), dtype=torch.uint8)
    # bytearray: torch.frombuffer wants a writable buffer; the copy is small next to the float conversion.
    flat = torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=IMAGE_HEADER_BYTES)
    return flat.view(count, IMAGE_PIXELS)


def _read_labels(path: Path) -> torch.Tensor:
    """int64 [N] from an IDX label file, validated."""
    data = _read_bytes(path)
    _check_magic(path, data, LABEL_MAGIC, LABEL_HEADER_BYTES, "label")
    count = _header_int(data, 1)
    _check_payload(path, data, LABEL_HEADER_BYTES, count, 1, "labels")
    if count == 0:
        return torch.empty(0, dtype=torch.int64)
    labels = torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=LABEL_HEADER_BYTES).long()
    bad = (labels > 9).nonzero()
    if len(bad):
        index = int(bad[0])
        raise DataError(f"{path}: label out of range: {int(labels[index])} at index {index} (labels must be 0..9)")
    return labels


def _normalise(images: torch.Tensor) -> torch.Tensor:
    out = images.to(torch.float32)
    # In place: the float copy of the training set is 188 MB, a second temporary would double it.
    return out.div_(255.0).sub_(MNIST_MEAN).div_(MNIST_STD)


def _load_split(
    images_path: Path, labels_path: Path, expected: int | None, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    images = _read_images(images_path)
    labels = _read_labels(labels_path)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path.name} holds {len(labels)} labels"
        )
    if expected is not None and len(images) != expected:
        raise DataError(
            f"{images_path}: holds {len(images)} images, expected {expected} for the MNIST {split} set"
        )
    return _normalise(images), labels


def _load_files(files: dict[str, Path], source: str, expected_counts: tuple[int, int] | None) -> MNISTData:
    train_expected, test_expected = expected_counts if expected_counts is not None else (None, None)
    train_images, train_labels = _load_split(
        files["train-images-idx3-ubyte"], files["train-labels-idx1-ubyte"], train_expected, "training"
    )
    test_images, test_labels = _load_split(
        files["t10k-images-idx3-ubyte"], files["t10k-labels-idx1-ubyte"], test_expected, "test"
    )
    return MNISTData(train_images, train_labels, test_images, test_labels, source=source)


# ---------------------------------------------------------------------------------------------- download


def _one_line(err: BaseException, limit: int = 120) -> str:
    """The last non-empty line of an error's text: torchvision's download errors span several lines."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[-1] if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _download(cache: Path, timeout_s: float) -> dict[str, Path]:
    """Download with torchvision into a staging folder in ``cache``, then move the raw files into
    ``cache/MNIST/raw``; raises DataError on any failure or after ``timeout_s``."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        # Staging: a download abandoned at the deadline goes on in its daemon thread and may leave partial
        # files; they must never land where find_mnist looks.
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    except OSError as err:
        raise DataError(f"MNIST not found and cache {cache} is not writable ({_one_line(err)}): {_HELP}") from err

    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            import torchvision

            torchvision.datasets.MNIST(root=str(staging), download=True)
        except BaseException as err:  # noqa: BLE001 - whatever happens becomes a DataError in the caller
            errors.append(err)

    previous_timeout = socket.getdefaulttimeout()
    # Bounds each socket operation; the join below bounds the whole (DNS lookups ignore socket timeouts).
    socket.setdefaulttimeout(max(timeout_s, 0.1))
    try:
        thread = threading.Thread(target=fetch, name="inittui-mnist-download", daemon=True)
        thread.start()
        thread.join(timeout_s)
    finally:
        socket.setdefaulttimeout(previous_timeout)

    try:
        found: dict[str, Path] = {}
        if thread.is_alive():
            reason = f"no network? timed out after {timeout_s:g} s"
        elif errors:
            reason = f"no network? {_one_line(errors[0])}"
        else:
            found, missing = _files_in(staging)
            reason = f"download lacks {', '.join(missing)}" if missing else ""
        if reason:
            raise DataError(f"MNIST not found and could not be downloaded ({reason}): {_HELP}")
        target = cache / "MNIST" / "raw"
        target.mkdir(parents=True, exist_ok=True)
        moved = {}
        for name, path in found.items():
            moved[name] = target / path.name
            os.replace(path, moved[name])
        return moved
    except OSError as err:
        raise DataError(f"MNIST downloaded but could not be stored in {cache} ({_one_line(err)})") from err
    finally:
        # A thread still running may yet write into staging: leave it that folder (it never holds a result).
        if not thread.is_alive():
            shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- entry point


def load_mnist(
    data_dir: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    download: bool = True,
    expected_counts: tuple[int, int] | None = EXPECTED_COUNTS,
    download_timeout_s: float = 8.0,
) -> MNISTData:
    """MNIST as normalised, flattened CPU tensors; raises DataError (one line) on any problem."""
    if data_dir is None:
        data_dir = _env_data_dir()
    if data_dir is not None:
        # The user named a directory: use it or say what is wrong, never fall back to a download.
        root = Path(data_dir).expanduser()
        if not root.exists():
            raise DataError(f"data directory {root} does not exist: it should hold {_FILE_LIST} (.gz or raw)")
        if not root.is_dir():
            raise DataError(f"data directory {root} is not a directory: it should hold {_FILE_LIST} (.gz or raw)")
        files, missing = _files_in(root)
        if missing:
            raise DataError(f"data directory {root} lacks {', '.join(missing)} (.gz or raw)")
        return _load_files(files, str(root), expected_counts)

    cache = cache_dir if cache_dir is not None else default_cache_dir()
    files, missing = _files_in(cache)
    if not missing:
        return _load_files(files, str(cache), expected_counts)
    if not download:
        raise DataError(f"MNIST not found in {cache}: {_HELP}")
    files = _download(cache, download_timeout_s)
    return _load_files(files, f"{cache} (downloaded)", expected_counts)
