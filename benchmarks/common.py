"""What every benchmark script takes: where MNIST is, which device, how many CPU threads, --json."""

from __future__ import annotations

import argparse
import os

import torch

from inittui.training.devices import resolve_device


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("INITTUI_DATA_DIR"), help="the MNIST directory")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    return parser


def parse_benchmark_args(parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, torch.device]:
    """Parsed arguments and the device, with torch's thread count set."""
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("--data-dir (or INITTUI_DATA_DIR) is required")
    if args.threads:
        torch.set_num_threads(args.threads)
    return args, resolve_device(args.device)
