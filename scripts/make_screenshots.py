"""Regenerate the README's screenshots: real training on real MNIST, driven headlessly.

    python scripts/make_screenshots.py --data-dir /path/to/mnist   # or set INITTUI_DATA_DIR
    python scripts/make_screenshots.py --only depth,atlas

Writes screenshots/compare.svg (compare preset after more than one epoch), screenshots/deep.svg (the
30-layer preset), screenshots/probe.svg (the view without MNIST: the random-input probe),
screenshots/depth.svg (the depth page: deep preset, glorot, xavier and he in compare mode),
screenshots/over-time.svg (the layers page of the compare preset after a few epochs: normal-0.01:tanh's
distributions over time), screenshots/bands.svg (the same page with `b`: percentile bands),
screenshots/atlas.svg (the atlas page of the atlas preset during training),
screenshots/curves.svg (the curves page of compare, the loss on a log scale), screenshots/chart.svg (its
loss chart full screen, `f`, zoomed in, the value cursor moved back), screenshots/curves-seeds.svg (the curves
page of compare trained as seed groups of seeds 0, 1, 2: each group's mean in its band) and
screenshots/atlas-seeds.svg (the atlas page of a seed-group atlas run, each cell mean ± std; from its run log,
made first with ``inittui train --headless --preset atlas --seeds 0,1,2 --steps 300``, and given as
``--atlas-seeds-log RUN_DIR``).
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

from inittui.training.data import load_mnist
from inittui.core.presets import get_preset
from inittui.ui.app import make_app

SIZE = (120, 40)
SHOTS = ("compare", "deep", "probe", "depth", "over-time", "bands", "atlas", "curves", "chart", "curves-seeds",
         "atlas-seeds")


async def shoot(app, out: Path, name: str, ready, keys: tuple[str, ...] = (), timeout: float = 600,
                size: tuple[int, int] = SIZE, log_loss: bool = False) -> None:
    async with app.run_test(size=size) as pilot:
        deadline = time.monotonic() + timeout
        while not ready(app):
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: not ready after {timeout:.0f} s")
            await asyncio.sleep(0.25)
        for key in keys:
            await pilot.press(key)
        if log_loss and not app.pages["curves"].loss.log:  # the loss on a log scale whether or not it is the default yet
            await pilot.press("y")
        app.drain()
        await pilot.pause(0.5)
        path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
        print(f"wrote {path}")


def steps_reached(steps: int):
    def ready(app) -> bool:
        engine = app.source.target
        return engine is not None and (engine.step >= steps or app.model.experiment.finished is not None)

    return ready


def evaluated(app) -> bool:
    """The first evaluation on the test set has arrived."""
    return any(run.record.best_test_acc is not None for run in app.model.runs.values())


def finished_and_evaluated(app) -> bool:
    """A viewed log has been read to its end, with the test set's evaluations."""
    return app.model.experiment.finished is not None and evaluated(app)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("INITTUI_DATA_DIR"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", default=",".join(SHOTS), help=f"comma-separated, of: {', '.join(SHOTS)}")
    parser.add_argument("--atlas-seeds-log", type=Path, help="the run log of a seed-group atlas run (atlas-seeds)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if not only <= set(SHOTS):
        parser.error(f"--only: choose from {', '.join(SHOTS)}")
    if "atlas-seeds" in only and args.atlas_seeds_log is None:
        parser.error("atlas-seeds: give --atlas-seeds-log RUN_DIR (inittui train --headless --preset atlas "
                     "--seeds 0,1,2 --steps 300 writes one)")
    if not args.data_dir:
        sys.exit("give --data-dir DIR or set INITTUI_DATA_DIR (the MNIST files)")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_mnist(args.data_dir)
    logs = Path(tempfile.mkdtemp(prefix="inittui-shots-"))

    if "compare" in only:
        # compare: past the first epoch (469 steps) so the test-accuracy curve has its first point
        config = get_preset("compare").config(device="cpu", stats_every=25)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "compare", steps_reached(620))

    if "deep" in only:
        config = get_preset("deep").config(device="cpu", stats_every=25)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "deep", steps_reached(300))

    if "probe" in only:
        with tempfile.TemporaryDirectory() as empty:
            app = make_app(get_preset("compare").config(device="cpu"), data_dir=empty, log_dir=logs, fps=4)
            await shoot(app, args.out, "probe", lambda app: app.model.experiment.state == "probe" and app.overview.histograms.panels, keys=("j", "j", "j", "j"))

    if "depth" in only:
        # the first statistics steps: xavier's activations fall by 2^(-1/2) a layer, he's stay of order 1
        config = get_preset("deep").config(device="cpu", stats_every=10)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "depth", steps_reached(20), keys=("4", "j", "j", "c"))

    if "over-time" in only:
        # a few epochs of compare, normal-0.01:tanh selected: its activations collapse while he's stay spread
        config = get_preset("compare").config(device="cpu", stats_every=25)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "over-time", steps_reached(1500), keys=("3",), timeout=1200)

    if "bands" in only:
        # the same run and page as over-time, each layer drawn as TensorBoard's percentile bands
        config = get_preset("compare").config(device="cpu", stats_every=25)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "bands", steps_reached(1500), keys=("3", "b"), timeout=1200)

    if "atlas" in only:
        # the atlas preset during training, after its first evaluation (one epoch)
        config = get_preset("atlas").config(device="cpu", stats_every=50)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "atlas", evaluated, keys=("5",), timeout=1800, size=(160, 50))

    if "curves" in only:
        # the curves page, loss on a log scale: normal-0.01 flat at 2.3 above runs whose loss falls a decade
        config = get_preset("compare").config(device="cpu", stats_every=25)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "curves", steps_reached(1000), keys=("2",), log_loss=True)

    if "chart" in only:
        # training paused (space) so that the steps stay put, the curves smoothed (e), the loss chart full screen
        # zoomed in once, the value cursor a fifth of the way back: each run's value read out under it
        config = get_preset("compare").config(device="cpu", stats_every=25)
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "chart", steps_reached(1000),
                    keys=("2", "space", "e", "f", "right_square_bracket", *["left"] * 20))

    if "curves-seeds" in only:
        # compare as seed groups: each init:activation's mean loss in a band from its lowest to its highest seed
        config = get_preset("compare").config(device="cpu", stats_every=25, seeds=[0, 1, 2])
        app = make_app(config, data=data, log_dir=logs, fps=4)
        await shoot(app, args.out, "curves-seeds", steps_reached(300), keys=("2",), log_loss=True)

    if "atlas-seeds" in only:
        # a finished seed-group atlas run, viewed from its log: every cell mean ± std over its seeds
        app = make_app(run_dir=args.atlas_seeds_log, fps=4)
        await shoot(app, args.out, "atlas-seeds", finished_and_evaluated, keys=("5",), size=(160, 50))


if __name__ == "__main__":
    asyncio.run(main())
