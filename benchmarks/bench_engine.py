"""Training throughput: inittui's batched engine against the tutorial way, on the same data and device.

(a) baseline: torchvision MNIST + ToTensor/Normalize + DataLoader(batch 128, shuffle) + nn.Sequential + SGD,
    the six runs of the ``compare`` preset trained one after another (pytorch/examples' mnist style);
(b) inittui's engine on ``compare``, all six runs in one batched computation, statistics at the default cadence.

Prints model-samples/s (one sample through one network counts one) of each, their ratio and the engine's peak
RSS; ``--json`` prints exactly one JSON object instead.

    python3 benchmarks/bench_engine.py --data-dir ../shared/data/mnist [--device cpu|cuda] [--json]
"""

from __future__ import annotations

import gzip
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from common import benchmark_parser, parse_benchmark_args

from inittui.activations import get_activation
from inittui.data import MNIST_FILES, load_mnist
from inittui.engine import Engine
from inittui.initializers import get_initializer
from inittui.presets import get_preset


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def torchvision_root(data_dir: Path, scratch: Path) -> Path:
    """torchvision's MNIST reads raw files from ROOT/MNIST/raw; unpack the user's files there."""
    raw = scratch / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        gz = data_dir / f"{name}.gz"
        if gz.exists():
            with gzip.open(gz) as source, open(raw / name, "wb") as target:
                shutil.copyfileobj(source, target)
        else:
            shutil.copy(data_dir / name, raw / name)
    return scratch


def bench_baseline(root: Path, device: torch.device, steps_per_run: int) -> float:
    """The six compare runs one after another, the tutorial way; returns model-samples/s."""
    # imported here so that the engine's peak RSS, measured first, does not include torchvision
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
    config = get_preset("compare").config()
    samples = 0
    started = time.perf_counter()
    for spec in config.runs:
        torch.manual_seed(0)
        activation = {"tanh": nn.Tanh, "relu": nn.ReLU}[spec.activation]
        layers: list[nn.Module] = [nn.Flatten()]
        sizes = config.layer_sizes
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = nn.Linear(n_in, n_out)
            get_initializer(spec.init).fill(linear.weight.data, get_activation(spec.activation), None)
            nn.init.zeros_(linear.bias)
            layers.append(linear)
            if index < len(sizes) - 2:
                layers.append(activation())
        model = nn.Sequential(*layers).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
        loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True)
        model.train()
        for step, (images, labels) in enumerate(loader):
            if step == steps_per_run:
                break
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            samples += len(labels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return samples / (time.perf_counter() - started)


def bench_engine(data_dir: Path, device: torch.device, steps: int) -> tuple[float, float]:
    """inittui's engine on compare; returns (model-samples/s, stats share of the time is inside)."""
    data = load_mnist(data_dir)
    config = get_preset("compare").config(steps=steps, device=str(device))
    engine = Engine(config, data, lambda event: None)
    finished = engine.run()
    if finished.status != "done":
        raise SystemExit(f"engine run ended {finished.status}: {finished.message}")
    return finished.samples_per_s, peak_rss_mb()


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--engine-steps", type=int, default=938, help="engine steps (default: 2 epochs)")
    parser.add_argument("--baseline-steps", type=int, default=150, help="baseline steps per run")
    args, device = parse_benchmark_args(parser)
    data_dir = Path(args.data_dir)

    # the engine first, so its peak RSS is not the baseline's
    engine_sps, engine_rss = bench_engine(data_dir, device, args.engine_steps)
    with tempfile.TemporaryDirectory() as scratch:
        baseline_sps = bench_baseline(torchvision_root(data_dir, Path(scratch)), device, args.baseline_steps)
    result = {
        "device": str(device),
        "baseline_sps": round(baseline_sps, 1),
        "engine_sps": round(engine_sps, 1),
        "ratio": round(engine_sps / baseline_sps, 2),
        "peak_rss_mb": round(engine_rss, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"device: {result['device']} ({torch.get_num_threads()} CPU threads)")
        print(f"baseline (DataLoader + nn.Sequential, 6 runs in turn): {baseline_sps:12,.0f} model-samples/s")
        print(f"inittui engine (6 runs batched, statistics at the default cadence): "
              f"{engine_sps:12,.0f} model-samples/s")
        print(f"ratio: {result['ratio']:.2f}x   engine peak RSS: {engine_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
