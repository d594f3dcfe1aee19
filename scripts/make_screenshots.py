"""Regenerate the README's screenshots: real training on real MNIST, driven headlessly.

    python scripts/make_screenshots.py --data-dir /path/to/mnist   # or set INITTUI_DATA_DIR

Writes screenshots/compare.svg (compare preset after more than one epoch), screenshots/deep.svg (the
30-layer preset) and screenshots/probe.svg (the view without MNIST: the random-input probe).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from inittui.data import load_mnist
from inittui.presets import get_preset
from inittui.ui.app import make_app

SIZE = (120, 40)


async def shoot(app, out: Path, name: str, ready, keys: tuple[str, ...] = (), timeout: float = 600) -> None:
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + timeout
        while not ready(app):
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: not ready after {timeout:.0f} s")
            await asyncio.sleep(0.25)
        for key in keys:
            await pilot.press(key)
        app.drain()
        await pilot.pause(0.5)
        path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
        print(f"wrote {path}")


def steps_reached(steps: int):
    def ready(app) -> bool:
        engine = app.source.engine
        return engine is not None and (engine.step >= steps or app.state.finished is not None)

    return ready


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("INITTUI_DATA_DIR"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    if not args.data_dir:
        sys.exit("give --data-dir DIR or set INITTUI_DATA_DIR (the MNIST files)")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_mnist(args.data_dir)
    logs = Path(tempfile.mkdtemp(prefix="inittui-shots-"))

    # compare: past the first epoch (469 steps) so the test-accuracy curve has its first point
    config = get_preset("compare").config(device="cpu", stats_every=25)
    app = make_app(config, data=data, log_dir=logs, fps=4)
    await shoot(app, args.out, "compare", steps_reached(620))

    config = get_preset("deep").config(device="cpu", stats_every=25)
    app = make_app(config, data=data, log_dir=logs, fps=4)
    await shoot(app, args.out, "deep", steps_reached(300))

    with tempfile.TemporaryDirectory() as empty:
        app = make_app(get_preset("compare").config(device="cpu"), data_dir=empty, log_dir=logs, fps=4)
        await shoot(app, args.out, "probe", lambda app: app.state.probe, keys=("j", "j", "j", "j"))


if __name__ == "__main__":
    asyncio.run(main())
