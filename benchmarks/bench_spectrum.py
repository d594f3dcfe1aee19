"""What the Jacobian spectrum costs: the product of D_l W_l (inittui.science.spectrum) against torch.func.jacrev
of the hidden stack, both batched over runs and the 32 spectrum images, then the SVDs of every prefix.

Random weights and images stand in for MNIST here: the cost depends only on the shapes.

    python3 benchmarks/bench_spectrum.py [--runs 6] [--depth 5] [--width 100] [--device cpu|cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from inittui.science.activations import get_activation
from inittui.science.spectrum import jacobian_prefixes, jacobian_spectra
from inittui.training.devices import resolve_device, synchronize

IMAGES = 32


def jacrev_prefixes(h1: torch.Tensor, weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """J_2 … J_L by torch.func: the Jacobian of h_1 -> h_l for every run and image, vmapped over both."""

    def stack(h: torch.Tensor, run_weights: list[torch.Tensor], layers: int) -> torch.Tensor:
        for weight in run_weights[:layers]:
            h = torch.tanh(weight @ h)
        return h

    return [
        torch.func.vmap(torch.func.vmap(torch.func.jacrev(stack), in_dims=(0, None, None)), in_dims=(0, 0, None))(
            h1, weights, layers
        )
        for layers in range(1, len(weights) + 1)
    ]


def timed(function, device: torch.device, repeats: int) -> float:
    function()  # warm-up
    synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    synchronize(device)
    return (time.perf_counter() - started) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--depth", type=int, default=5, help="hidden layers")
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    generator = torch.Generator().manual_seed(0)
    tanh = get_activation("tanh")
    weights = [(torch.randn(args.runs, args.width, args.width, generator=generator) / math.sqrt(args.width)).to(device)
               for _ in range(args.depth - 1)]
    h1 = torch.tanh(torch.randn(args.runs, IMAGES, args.width, generator=generator)).to(device)
    preactivations = [h1]  # z_1 only feeds the others; what matters is z_2…z_L
    for weight in weights:
        preactivations.append(torch.tanh(preactivations[-1]) @ weight.transpose(1, 2) if len(preactivations) > 1
                              else h1 @ weight.transpose(1, 2))
    # h_1 = tanh(z_1) must be the input of the product; take z_1 = atanh(h1) so both methods see the same h_1
    preactivations[0] = torch.atanh(h1.clamp(-0.999, 0.999))
    h1 = torch.tanh(preactivations[0])
    results = {
        "product": timed(lambda: list(jacobian_prefixes(preactivations, weights, [tanh] * args.runs)), device, args.repeats),
        "jacrev": timed(lambda: jacrev_prefixes(h1, list(weights)), device, args.repeats),
        "spectrum": timed(lambda: jacobian_spectra(preactivations, weights, [tanh] * args.runs), device, args.repeats),
    }
    product = list(jacobian_prefixes(preactivations, weights, [tanh] * args.runs))[-1]
    reference = jacrev_prefixes(h1, list(weights))[-1]
    results["max_abs_difference"] = float((product - reference).abs().max())
    shape = {"runs": args.runs, "depth": args.depth, "width": args.width, "images": IMAGES, "device": str(device)}
    if args.json:
        print(json.dumps({**shape, **results}))
    else:
        print(f"{shape}: product of D_l W_l {results['product'] * 1e3:.1f} ms, torch.func.jacrev "
              f"{results['jacrev'] * 1e3:.1f} ms (largest difference {results['max_abs_difference']:.1e}); "
              f"the whole spectrum with its SVDs {results['spectrum'] * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
