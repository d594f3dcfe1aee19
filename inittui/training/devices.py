"""Devices: which exist, what the user may name, and the CUDA machinery the engine uses without waiting on
the GPU (copies to the host that finish in the background, graph capture).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Sequence

import torch

from inittui.core.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA where there is none raises ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but CUDA is not available on this machine")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device("cuda", index)
    if device.type != "cpu":
        raise ConfigError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    return device


# glibc's mallopt parameters, and the size below which the heap keeps what training frees
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
HEAP_KEEPS_BYTES = 1 << 30


def keep_freed_cpu_memory() -> bool:
    """Have glibc keep the memory a training step frees, for the next step to reuse: True where it was set.

    By default glibc maps an allocation above a threshold of its own and returns freed memory above 128 KB at
    the heap's top to the system, adjusting both as it goes. A statistics step's large temporaries move them,
    and afterwards every step's tensors came from fresh pages that fault in again: on atlas, with statistics
    at their 2.5 % cadence, the runs trained at 0.71 of their speed without statistics, against 0.98 once
    the heap keeps its memory (benchmarks/bench_stats.py). The price: memory the training process freed
    stays its own, and its peak RSS on atlas rose from 1,186 to 1,252 MB.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_KEEPS_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, HEAP_KEEPS_BYTES))


def free_memory_bytes(device: torch.device) -> int | None:
    """What a CUDA device has free now; None on the CPU (whose RAM the core reads without torch)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free
    return None


def available_devices() -> list[str]:
    return ["cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count()) if torch.cuda.is_available())]


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"


def memory_in_use_mb(device: torch.device) -> float | None:
    """What the training holds on a CUDA device (a host-side counter: no synchronisation); None on the CPU."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return None


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` (on the CPU) on ``device``; to CUDA through pinned memory, so the copy does not wait for the GPU."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def supports_graphs(device: torch.device) -> bool:
    """Whether training on ``device`` can be captured as a CUDA graph."""
    return device.type == "cuda"


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device``; nothing to wait for on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class HostCopy:
    """Small device tensors on their way to the host.

    On CUDA the copy goes into pinned memory without blocking, and an event recorded after it says when it has
    landed, so the training loop goes on and reads the values a step or more later. On the CPU the values are
    copied at once (the tensors they come from are overwritten by the next steps).
    """

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self._event: torch.cuda.Event | None = None
        if tensors and tensors[0].device.type == "cuda":
            self._host = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in tensors]
            for host, tensor in zip(self._host, tensors):
                host.copy_(tensor, non_blocking=True)
            self._event = torch.cuda.Event()
            self._event.record()
        else:
            self._host = [t.detach().clone() for t in tensors]

    def ready(self) -> bool:
        return self._event is None or self._event.query()

    def values(self) -> list[torch.Tensor]:
        """The host tensors, waiting for the copy if it has not landed yet."""
        if self._event is not None:
            self._event.synchronize()
        return self._host


def run_on_side_stream(function: Callable[[], object]) -> None:
    """Run ``function`` on a fresh CUDA stream, ordered after the work queued so far: the warm-up CUDA graph
    capture needs (cuBLAS handles and autograd's lazy set-up must exist before capture begins)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        function()
    torch.cuda.current_stream().wait_stream(side)


def capture_graph(function: Callable[[], object]) -> Callable[[], None]:
    """Record ``function``'s CUDA work into a graph (nothing runs while recording); returns its replay.

    Every replay reruns the same kernels on the same memory: inputs must be written into the tensors the
    capture read, and outputs read from the tensors it wrote.
    """
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        function()
    return graph.replay
