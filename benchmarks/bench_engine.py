"""Training throughput of inittui's engine against three baselines, on the same data and device, in one run.

(a) tutorial: torchvision MNIST + ToTensor/Normalize + DataLoader(batch 128, shuffle) + nn.Sequential +
    torch.optim.SGD, the preset's runs trained one after another (pytorch/examples' mnist style; on CUDA with
    its num_workers=1, pin_memory=True);
(b) sequential: the same models and optimiser, one run after another, on MNIST preloaded as one tensor on the
    device (what preloading alone gives);
(c) stacked: the simplest batched loop: MNIST preloaded, every run's weights stacked, one baddbmm per layer,
    each activation on its runs' slice, autograd, one torch._foreach_add_ SGD update, no statistics, no
    evaluation (what batching gives);
(d) inittui's engine on the preset, statistics at the default cadence, test evaluation at every epoch end;
    its samples/s are the engine's own, over training time (statistics in; the Jacobian spectrum and test
    evaluation out). Its wall-clock rate from start to finish, set-up and evaluation included, and its rate with
    the spectrum's time counted in, are printed beside it.

Prints model-samples/s (one sample through one network counts one) of each, the ratios and the engine's peak
RSS; ``--json`` prints exactly one JSON object
``{"device","baseline_sps","sequential_sps","stacked_sps","engine_sps","ratio","engine_over_stacked",
"engine_with_spectrum_over_stacked","peak_rss_mb"}``
where ``ratio`` is engine over tutorial. The engine and the stacked loop run ``--repeats`` times each, in turn,
and the best run of each is reported: on a shared machine another process slows whichever is running at the
time (two OpenMP threads on two busy cores can run ten times slower), and taking the best of both treats them
alike.

    python3 benchmarks/bench_engine.py --data-dir ../shared/data/mnist [--preset compare|atlas] [--device cpu|cuda]

With ``--seeds N`` it measures seed groups instead: the preset over seeds 0..N-1 as one experiment (every run
replicated once per seed, all in one batched computation) against N one-seed experiments trained in turn, the
engine's model-samples/s over training time for both and their ratio (``--json``:
``{"device","runs","group_sps","one_seed_sps","ratio"}``).
"""

from __future__ import annotations

import gzip
import json
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from common import benchmark_parser, parse_benchmark_args

from inittui.science.activations import LEAKY_RELU_SLOPE, get_activation
from inittui.core.config import ExperimentConfig
from inittui.core.events import Event, JacobianSpectra
from inittui.training.data import MNIST_FILES, MNISTData, load_mnist
from inittui.training.engine import Engine
from inittui.training.model import initial_weights, run_seed, stack_order
from inittui.core.presets import get_preset

PRESETS = ("compare", "atlas")
# engine steps by preset: two epochs of compare, one of atlas (ten times the runs)
ENGINE_STEPS = {"compare": 938, "atlas": 469}
MODULES = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky-relu": lambda: nn.LeakyReLU(LEAKY_RELU_SLOPE),
    "gelu": nn.GELU,
    "selu": nn.SELU,
}


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def sequential_model(config: ExperimentConfig, index: int, data: MNISTData, device: torch.device) -> nn.Sequential:
    """One run as the tutorial builds it, with the weights inittui would draw for it."""
    spec = config.runs[index]
    weights, _ = initial_weights(spec, config.layer_sizes, run_seed(config.seed, spec, 0), data.train_images[:128])
    layers: list[nn.Module] = [nn.Flatten()]
    for number, weight in enumerate(weights):
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.zero_()
        layers.append(linear)
        if number < len(weights) - 1:
            layers.append(MODULES[spec.activation]())
    return nn.Sequential(*layers).to(device)


def bench_tutorial(root: Path, config: ExperimentConfig, data: MNISTData, device: torch.device, steps: int) -> float:
    """The runs one after another, the tutorial way; returns model-samples/s."""
    # imported here so that the engine's peak RSS, measured first, does not include torchvision
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
    # what pytorch/examples' mnist adds on CUDA
    loader_options = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    samples = 0
    started = time.perf_counter()
    for index in range(len(config.runs)):
        model = sequential_model(config, index, data, device)
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
        loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, **loader_options)
        model.train()
        for step, (images, labels) in enumerate(loader):
            if step == steps:
                break
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            samples += len(labels)
    synchronize(device)
    return samples / (time.perf_counter() - started)


def bench_sequential(config: ExperimentConfig, data: MNISTData, device: torch.device, steps: int) -> float:
    """The same models one after another, on MNIST preloaded on the device; returns model-samples/s."""
    images, labels = data.train_images.to(device), data.train_labels.to(device)
    generator = torch.Generator().manual_seed(0)
    samples = 0
    started = time.perf_counter()
    for index in range(len(config.runs)):
        model = sequential_model(config, index, data, device)
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
        order = torch.randperm(len(labels), generator=generator).to(device)
        for step in range(steps):
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images.index_select(0, batch)), labels.index_select(0, batch))
            loss.backward()
            optimizer.step()
            samples += len(batch)
    synchronize(device)
    return samples / (time.perf_counter() - started)


def bench_stacked(config: ExperimentConfig, data: MNISTData, device: torch.device, steps: int) -> float:
    """Every run in one stack, the simplest way; returns model-samples/s."""
    specs = [config.runs[p] for p in stack_order([spec.activation for spec in config.runs])]
    drawn = [initial_weights(s, config.layer_sizes, run_seed(config.seed, s, 0), data.train_images[:128]) for s in specs]
    layers = len(config.layer_sizes) - 1
    weights = [torch.stack([w[i] for w, _ in drawn]).to(device).requires_grad_() for i in range(layers)]
    biases = [torch.stack([b[i] for _, b in drawn]).to(device).requires_grad_() for i in range(layers)]
    params = weights + biases
    functions = [get_activation(name).function for name in dict.fromkeys(s.activation for s in specs)]
    sizes = [sum(s.activation == name for s in specs) for name in dict.fromkeys(s.activation for s in specs)]
    runs, batch = len(specs), config.batch_size
    images, labels = data.train_images.to(device), data.train_labels.to(device)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0)).to(device)
    per_epoch = len(labels) // batch

    def step(number: int) -> None:
        index = order[(number % per_epoch) * batch :][:batch]
        x, y = images.index_select(0, index), labels.index_select(0, index)
        hidden = x.expand(runs, batch, x.shape[1])
        for layer in range(layers):
            z = torch.baddbmm(biases[layer].unsqueeze(1), hidden, weights[layer].transpose(1, 2))
            if layer < layers - 1:
                hidden = torch.cat([f(part) for f, part in zip(functions, z.split(sizes))])
        loss = F.cross_entropy(z.reshape(runs * batch, -1), y.repeat(runs), reduction="sum") / batch
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            torch._foreach_add_(params, grads, alpha=-config.lr)

    for number in range(3):  # warm-up: first-call allocations, cuBLAS handles
        step(number)
    synchronize(device)
    started = time.perf_counter()
    for number in range(steps):
        step(number)
    synchronize(device)
    return steps * batch * runs / (time.perf_counter() - started)


def bench_engine(config: ExperimentConfig, data: MNISTData, cuda_graphs: bool) -> tuple[float, float, float, float]:
    """inittui's engine; returns (model-samples/s over training time, over the wall clock, peak RSS in MB, over
    training time with the Jacobian spectrum's time counted in)."""
    spectrum_s = [0.0]

    def emit(event: Event) -> None:
        if isinstance(event, JacobianSpectra):
            spectrum_s[0] += event.seconds

    finished = Engine(config, data, emit, cuda_graphs=cuda_graphs).run()
    if finished.status != "done":
        raise SystemExit(f"engine run ended {finished.status}: {finished.message}")
    train_size, steps = len(data.train_labels), config.total_steps()
    epochs, rest = divmod(steps, config.steps_per_epoch(train_size))
    samples = (epochs * train_size + rest * config.batch_size) * len(config.runs)
    with_spectrum = samples / (samples / finished.samples_per_s + spectrum_s[0])
    return finished.samples_per_s, samples / finished.elapsed_s, peak_rss_mb(), with_spectrum


def bench_seed_group(config: ExperimentConfig, seeds: int, data: MNISTData, cuda_graphs: bool) -> tuple[float, float]:
    """The seed group (every run once per seed 0..seeds-1, in one batched computation) and the same runs as
    ``seeds`` one-seed experiments in turn; returns each one's model-samples/s over training time."""
    group_sps, *_ = bench_engine(replace(config, seeds=list(range(seeds))), data, cuda_graphs)
    seconds = samples = 0.0
    for seed in range(seeds):
        alone_sps, *_ = bench_engine(replace(config, seed=seed), data, cuda_graphs)
        alone_samples = config.total_steps() * config.batch_size * len(config.runs)
        samples += alone_samples
        seconds += alone_samples / alone_sps
    return group_sps, samples / seconds


def main_seed_group(args, device: torch.device, data: MNISTData) -> int:  # noqa: ANN001 - argparse's Namespace
    """``--seeds N``: the seed group against N one-seed experiments in turn, best of --repeats each."""
    preset = get_preset(args.preset)
    config = preset.config(steps=args.engine_steps or ENGINE_STEPS[args.preset], device=str(device))
    measured = [bench_seed_group(config, args.seeds, data, args.cuda_graphs == "on") for _ in range(args.repeats)]
    group_sps = max(group for group, _ in measured)
    alone_sps = max(alone for _, alone in measured)
    result = {"device": str(device), "runs": len(config.runs) * args.seeds, "group_sps": round(group_sps, 1),
              "one_seed_sps": round(alone_sps, 1), "ratio": round(group_sps / alone_sps, 2)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.preset} × seeds 0-{args.seeds - 1} ({result['runs']} runs), device {device} "
          f"({torch.get_num_threads()} CPU threads), {config.total_steps()} steps, best of {args.repeats}")
    print(f"seed group (all {result['runs']} runs in one batch):      {group_sps:12,.0f} model-samples/s")
    print(f"{args.seeds} one-seed experiments in turn ({len(config.runs)} runs each): {alone_sps:12,.0f} model-samples/s")
    print(f"seed group / one seed at a time {result['ratio']:.2f}x")
    return 0


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--preset", choices=PRESETS, default="compare", help="compare (6 runs, default) or atlas (60)")
    parser.add_argument("--engine-steps", type=int, help="engine steps (default: 2 epochs of compare, 1 of atlas)")
    parser.add_argument("--stacked-steps", type=int, default=300, help="steps of the stacked loop (default 300)")
    parser.add_argument("--baseline-steps", type=int, help="steps per run of the tutorial and sequential baselines "
                        "(default: 900 steps in all, so 150 a run on compare)")
    parser.add_argument("--cuda-graphs", choices=("on", "off"), default="on", help="the engine's CUDA graphs (default on)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the engine and of the stacked loop (best counts)")
    parser.add_argument("--seeds", type=int, help="instead: the preset's seed group over seeds 0..N-1 in one batch "
                        "against N one-seed experiments in turn")
    args, device = parse_benchmark_args(parser)
    data_dir = Path(args.data_dir)
    data = load_mnist(data_dir)
    if args.seeds is not None:
        if args.seeds < 2:
            parser.error(f"--seeds must be at least 2, got {args.seeds}")
        return main_seed_group(args, device, data)
    preset = get_preset(args.preset)
    runs = len(preset.base.runs)
    baseline_steps = args.baseline_steps or max(10, 900 // runs)
    engine_config = preset.config(steps=args.engine_steps or ENGINE_STEPS[args.preset], device=str(device))

    # the engine first, so that its peak RSS is not the baselines'
    engine_runs, stacked_runs = [], []
    for _ in range(args.repeats):
        engine_runs.append(bench_engine(engine_config, data, args.cuda_graphs == "on"))
        stacked_runs.append(bench_stacked(preset.config(), data, device, args.stacked_steps))
    engine_sps, engine_wall_sps, _, engine_spectrum_sps = max(engine_runs)
    engine_rss = engine_runs[0][2]
    stacked_sps = max(stacked_runs)
    sequential_sps = bench_sequential(preset.config(), data, device, baseline_steps)
    with tempfile.TemporaryDirectory() as scratch:
        baseline_sps = bench_tutorial(torchvision_root(data_dir, Path(scratch)), preset.config(), data, device, baseline_steps)
    result = {
        "device": str(device),
        "baseline_sps": round(baseline_sps, 1),
        "sequential_sps": round(sequential_sps, 1),
        "stacked_sps": round(stacked_sps, 1),
        "engine_sps": round(engine_sps, 1),
        "ratio": round(engine_sps / baseline_sps, 2),
        "engine_over_stacked": round(engine_sps / stacked_sps, 3),
        "engine_with_spectrum_over_stacked": round(engine_spectrum_sps / stacked_sps, 3),
        "peak_rss_mb": round(engine_rss, 1),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    threads = f"{torch.get_num_threads()} CPU threads"
    graphs = f", CUDA graphs {args.cuda_graphs}" if device.type == "cuda" else ""
    print(f"{args.preset} ({runs} runs), device {device} ({threads}{graphs}), engine {engine_config.total_steps()} steps, "
          f"best of {args.repeats} for the engine and the stacked loop")
    print(f"tutorial (DataLoader + nn.Sequential, runs in turn): {baseline_sps:12,.0f} model-samples/s")
    print(f"sequential (preloaded tensors, runs in turn):        {sequential_sps:12,.0f} model-samples/s")
    print(f"stacked (preloaded, runs batched, no statistics):    {stacked_sps:12,.0f} model-samples/s")
    print(f"inittui engine (statistics at the default cadence):  {engine_sps:12,.0f} model-samples/s")
    print(f"  the same run by the wall clock, set-up and test evaluation included: {engine_wall_sps:,.0f}")
    print(f"  over training time with the Jacobian spectrum counted in: {engine_spectrum_sps:,.0f} "
          f"(engine / stacked {result['engine_with_spectrum_over_stacked']:.3f})")
    print(f"engine / tutorial {result['ratio']:.2f}x   engine / stacked {result['engine_over_stacked']:.3f}   "
          f"engine peak RSS {engine_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
