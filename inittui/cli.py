"""The ``inittui`` command: the dashboard by default, ``train --headless``, ``probe``, ``runs``, ``view``,
``reproduce``, ``sweep``, ``plot``, ``export``."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from inittui import __version__
from inittui.core.config import (
    ACTIVATION_NAMES,
    INITIALIZER_NAMES,
    MAX_SEED,
    OPTIMIZER_NAMES,
    ExperimentConfig,
    parse_runs,
    parse_seeds,
)
from inittui.core.errors import ConfigError, DataError, RunLogError
from inittui.core.memory import check_fits, physical_memory_bytes
from inittui.core.presets import DEPTH_SWEEP, PRESETS, REPRODUCTIONS, get_preset

if TYPE_CHECKING:
    import torch

SUBCOMMANDS = ("train", "probe", "runs", "view", "reproduce", "sweep", "plot", "export")
LOCAL_RAY = "local"  # --ray without an address
DEFAULT_FPS = 4.0
MIN_FPS, MAX_FPS = 0.1, 60.0
# `inittui plot` without a terminal to measure (a pipe, a CI log): each chart this many cells
PLOT_SIZE = (100, 20)


class ArgumentError(Exception):
    """A bad command-line value: one line, exit status 2."""


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument gets one line (not the usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):  # 1e400 parses as inf
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _frame_rate(text: str) -> float:
    """``--fps``: beyond these bounds the dashboard would redraw without pause, or hardly ever."""
    value = _positive_float(text)
    if not MIN_FPS <= value <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"must be between {MIN_FPS:g} and {MAX_FPS:g} redraws per second, got {text}")
    return value


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="train without the dashboard (progress on stderr)")
    parser.add_argument("--preset", choices=list(PRESETS), default="compare", help="named experiment (default: compare)")
    parser.add_argument("--runs", help=f"comma-separated INIT:ACTIVATION pairs, e.g. he:relu,xavier:tanh; inits: "
                        f"{', '.join(INITIALIZER_NAMES)}; activations: {', '.join(ACTIVATION_NAMES)}")
    parser.add_argument("--init-file", action="append", default=[], metavar="PATH.py",
                        help='your own initialisers: each function decorated @inittui.initializer("name") in the file '
                        "(repeatable; the file runs as Python runs it, in the process that trains)")
    parser.add_argument("--depth", type=int, help="number of hidden layers")
    parser.add_argument("--width", type=int, help="units per hidden layer")
    parser.add_argument("--optimizer", choices=OPTIMIZER_NAMES, help="sgd, momentum (0.9) or adam")
    parser.add_argument("--lr", type=_positive_float, help="learning rate")
    parser.add_argument("--batch-size", type=int, help="samples per step")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="train for N passes over the training set")
    length.add_argument("--steps", type=int, help="train for N steps (may be shorter than an epoch)")
    parser.add_argument("--seed", type=int, help="seed for weights and batch order (default 0)")
    parser.add_argument("--seeds", help="a seed group: every run once per seed (0,1,2 or a range 0-4; 3 alone is "
                        "seed 3), the replicas trained together, each exactly as with --seed alone")
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--data-dir", help="directory with the four MNIST IDX files (default: $INITTUI_DATA_DIR, "
                        "then the user cache, then a download)")
    parser.add_argument("--log-dir", help="where run logs go (default: the user data directory)")
    parser.add_argument("--stats-every", type=int, help="layer statistics every N steps (default: as often as keeps them under 3 %% of training time)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="headless: print one JSON object on stdout at the end")
    parser.add_argument("--fps", type=_frame_rate, default=DEFAULT_FPS,
                        help=f"dashboard redraws per second, {MIN_FPS:g} to {MAX_FPS:g} (default {DEFAULT_FPS:g})")


def _add_execution_options(parser: argparse.ArgumentParser) -> None:
    """Where the experiments run: here one at a time (default), in local processes, or as Ray tasks."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, default=1, help="experiments at once, in local processes, the CPU "
                       "threads split between them (default 1: one at a time in this process)")
    where.add_argument("--ray", nargs="?", const=LOCAL_RAY, metavar="ADDRESS", help="each experiment a Ray task: "
                       "on a local Ray started for it, or on the cluster at ADDRESS (host:port); needs inittui[ray]")
    parser.add_argument("--gpus-per-experiment", type=float, metavar="X", help="with --ray: GPUs each experiment "
                        "asks for (fractions share a GPU; default 1 where the cluster has GPUs, else 0)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch, per experiment (with --ray its num_cpus; "
                        "with --jobs default: the CPUs split between the jobs)")
    parser.add_argument("--retries", type=int, default=2, help="times a failed or killed experiment is rerun from "
                        "scratch (default 2)")
    parser.add_argument("--ship-logs", action="store_true", help="with --ray: send every log back through Ray's "
                        "object store even where the workers see --log-dir (otherwise only where they do not)")


def build_parser(train_prog: str = "inittui train") -> argparse.ArgumentParser:
    """``train_prog``: what train's errors are labelled; plain ``inittui …`` is labelled ``inittui``."""
    parser = OneLineErrorParser(
        prog="inittui",
        description="A terminal laboratory for weight initialisation: train differently initialised MNIST "
        "networks side by side and watch every layer. With no command, opens the dashboard (same options as train).",
    )
    parser.add_argument("--version", action="version", version=f"inittui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", prog=train_prog, help="train an experiment (the dashboard, or --headless)")
    _add_training_options(train)

    probe = commands.add_parser("probe", help="the book's activation histograms on random input; needs no dataset")
    probe.add_argument("--inits", help="comma-separated initialisers (default: all)")
    probe.add_argument("--activations", help="comma-separated activations (default: all)")
    probe.add_argument("--trials", type=int, default=10, help="independent weight draws averaged (default 10)")
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--json", action="store_true", help="print one JSON object")

    runs = commands.add_parser("runs", help="list past runs")
    runs.add_argument("--log-dir", help="where run logs are (default: the user data directory)")

    view = commands.add_parser("view", help="the dashboard, read-only, from a run log (follows it live); or a "
                               "sweep's directory as a grid over its axes")
    view.add_argument("run", help="a run directory, 'latest', or a sweep's directory (the one holding sweep.json)")
    view.add_argument("--log-dir", help="where run logs are, for 'latest'")
    view.add_argument("--fps", type=_frame_rate, default=DEFAULT_FPS)

    plot = commands.add_parser("plot", help="a run's charts as text on stdout (plotext): loss, accuracy, "
                               "activation std per layer, the atlas; no terminal needed")
    plot.add_argument("run", help="a run directory, or 'latest'")
    plot.add_argument("--log-dir", help="where run logs are, for 'latest'")
    plot.add_argument("--what", default="loss,accuracy,depth,atlas",
                      help="comma-separated charts: loss, accuracy, depth, atlas (default: all)")
    plot.add_argument("--width", type=int, help="each chart's width in columns (default: the terminal's, "
                      f"or {PLOT_SIZE[0]} in a pipe)")
    plot.add_argument("--height", type=int, help=f"each chart's height in lines (default {PLOT_SIZE[1]})")
    plot.add_argument("--color", action="store_true", help="colour even when stdout is not a terminal")

    export = commands.add_parser("export", help="a run log's scalars, histograms and hparams as TensorBoard "
                                 "event files or CSV")
    export.add_argument("run", help="a run directory, or 'latest'")
    export.add_argument("--log-dir", help="where run logs are, for 'latest'")
    where = export.add_mutually_exclusive_group(required=True)
    where.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard event files into DIR/<log>/<run> "
                       "(needs inittui[tensorboard])")
    where.add_argument("--csv", metavar="DIR", help="write runs.csv, scalars.csv and histograms.csv into DIR/<log>")

    reproduce = commands.add_parser("reproduce", help="train the presets that carry a claim, the atlas and the "
                                    "depth sweep on MNIST, run the probe; print Markdown tables")
    reproduce.add_argument("--seeds", default="0", help="seeds: 0,1,2 or a range 0-4; one value is that seed (default 0)")
    reproduce.add_argument("--device", default="auto")
    reproduce.add_argument("--data-dir")
    reproduce.add_argument("--log-dir")
    reproduce.add_argument("--presets", default=",".join(REPRODUCTIONS),
                           help=f"comma-separated presets, and {DEPTH_SWEEP.name} for the depth sweep "
                           f"(default: {','.join(REPRODUCTIONS)}); the probe always runs")
    _add_execution_options(reproduce)

    sweep = commands.add_parser("sweep", help="run a sweep file's experiments (TOML: a list is an axis), here, "
                                "in processes or on Ray; sweep.json and a run log per experiment")
    sweep.add_argument("file", help="the sweep file; keys: runs, preset, depth, width, optimizer, lr, batch_size, "
                       "epochs, steps, seeds")
    sweep.add_argument("--dry-run", action="store_true", help="list the experiments and their cost; train nothing")
    sweep.add_argument("--resume", metavar="DIR", help="the directory of a stopped sweep: run what it did not finish")
    sweep.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    sweep.add_argument("--data-dir")
    sweep.add_argument("--log-dir", help="where the sweep's directory goes (default: the user data directory)")
    sweep.add_argument("--stats-every", type=int)
    _add_execution_options(sweep)
    return parser


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    preset = get_preset(args.preset)
    config = preset.config(
        depth=args.depth,
        width=args.width,
        optimizer=args.optimizer,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        steps=args.steps,
        seed=args.seed,
        device=args.device,
        stats_every=args.stats_every,
    )
    from inittui.science.init_files import declare_init_files

    declare_init_files(config, args.init_file)
    if args.seeds is not None:
        if args.seed is not None:
            raise ArgumentError("give --seed or --seeds, not both")
        config.seeds = parse_seeds(args.seeds)
        config.seed = config.seeds[0]
    if args.runs is not None:  # --runs '' names no run, which is an error, not the preset
        config = config.with_runs(parse_runs(args.runs, config.initializer_names))
        config.preset = "custom" if args.preset == "compare" else f"{args.preset}+runs"
    config.validate()
    return config


def _check_directory_option(value: str | None, option: str) -> None:
    if value is not None and not Path(value).expanduser().is_dir():
        raise ArgumentError(f"{option} {value}: no such directory")


def _log_dir(value: str | None) -> Path:
    from inittui.runlog.layout import default_log_dir

    return Path(value).expanduser() if value else default_log_dir()


def _writable_log_dir(value: str | None) -> Path:
    """The log directory, created and checked before anything starts; one line if it cannot be written."""
    from inittui.runlog.writer import ensure_log_dir

    try:
        return ensure_log_dir(_log_dir(value))
    except RunLogError as error:
        if value is not None:
            raise ArgumentError(f"--log-dir: {error}") from None
        raise


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise ArgumentError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _refuse_what_cannot_fit(config: ExperimentConfig, device: torch.device) -> None:
    """An experiment bigger than the device's memory is refused before it allocates, saying by how much."""
    from inittui.training.devices import free_memory_bytes

    if device.type == "cuda":
        check_fits(config, free_memory_bytes(device), str(device))
    else:
        check_fits(config, physical_memory_bytes(), "this machine")


def command_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    _check_directory_option(args.data_dir, "--data-dir")
    _set_threads(args.threads)
    from inittui.training.engine import resolve_device

    device = resolve_device(config.device)  # a CUDA request without CUDA is an argument error, before any loading
    _refuse_what_cannot_fit(config, device)
    log_dir = _writable_log_dir(args.log_dir)
    if not args.headless:
        from inittui.ui.app import run_dashboard

        return run_dashboard(config, data_dir=args.data_dir, log_dir=log_dir, fps=args.fps)

    from inittui.training.data import load_mnist
    from inittui.experiments.headless import run_headless
    from inittui.runlog.writer import RunLog
    from inittui.science.user_init import install_init_files

    install_init_files(config)  # the user's code runs here, before any data or log: a bad file exits 2
    data = load_mnist(args.data_dir)
    log = RunLog.create(log_dir, config, {"dataset": data.description})
    return run_headless(config, data, log, json_output=args.json)


def command_probe(args: argparse.Namespace) -> int:
    from inittui.science.probe import format_probe, probe_to_json, run_probe

    inits = args.inits.split(",") if args.inits else None
    activations = args.activations.split(",") if args.activations else None
    for name in inits or []:
        if name not in INITIALIZER_NAMES:
            raise ConfigError(f"unknown initialiser {name!r}; choose from {', '.join(INITIALIZER_NAMES)}")
    for name in activations or []:
        if name not in ACTIVATION_NAMES:
            raise ConfigError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATION_NAMES)}")
    if args.trials < 1:
        raise ArgumentError(f"--trials must be at least 1, got {args.trials}")
    results = run_probe(inits, activations, trials=args.trials, seed=args.seed)
    if args.json:
        print(json.dumps(probe_to_json(results)))
    else:
        print(format_probe(results))
    return 0


def command_runs(args: argparse.Namespace) -> int:
    from inittui.runlog.catalogue import list_runs

    log_dir = _log_dir(args.log_dir)
    summaries = list_runs(log_dir)
    if not summaries:
        print(f"no runs in {log_dir}")
        return 0
    for summary in summaries:
        best = ", ".join(_group_best(name, values) for name, values in summary.best_test_acc.items()) or "no evaluation yet"
        damage = ""
        if summary.skipped_lines:
            damage += f"  {summary.skipped_lines} line{'s' if summary.skipped_lines != 1 else ''} skipped"
        if summary.header_problem:
            damage += "  config.json unreadable"
        print(f"{summary.created}  {summary.preset:<9} {summary.status:<11} {len(summary.runs)} runs  {best}"
              f"{damage}  {summary.run_dir}")
    return 0


def _group_best(name: str, accuracies: list[float]) -> str:
    """``he:relu 91.20%`` for one run; a seed group over its seeds, ``he:relu ×3 91.2 ± 0.3 %``."""
    if len(accuracies) == 1:
        return f"{name} {100 * accuracies[0]:.2f}%"
    from inittui.core.spread import percent_spread  # statistics loads only for a seed group

    return f"{name} ×{len(accuracies)} {percent_spread(accuracies)}"


def command_view(args: argparse.Namespace) -> int:
    from inittui.runlog.manifest import MANIFEST_FILE
    from inittui.runlog.reader import resolve_run_dir
    from inittui.ui.app import run_viewer

    if (Path(args.run) / MANIFEST_FILE).is_file():
        from inittui.ui.sweep_view import run_sweep_viewer

        return run_sweep_viewer(Path(args.run))

    run_dir = resolve_run_dir(args.run, _log_dir(args.log_dir))
    return run_viewer(run_dir, fps=args.fps)


def _named_run_dir(spec: str, log_dir: str | None) -> Path:
    """RUN as given on the command line: a run directory or ``latest``; one that is not is an argument error."""
    from inittui.runlog.reader import resolve_run_dir

    try:
        return resolve_run_dir(spec, _log_dir(log_dir))
    except RunLogError as error:
        raise ArgumentError(str(error)) from None


def command_plot(args: argparse.Namespace) -> int:
    from inittui.output.plot import ChartSize, parse_charts, plot_run

    charts = parse_charts(args.what)
    interactive = sys.stdout.isatty()
    width = args.width or (shutil.get_terminal_size((PLOT_SIZE[0], 24)).columns if interactive else PLOT_SIZE[0])
    size = ChartSize(width, args.height or PLOT_SIZE[1]).check()
    run_dir = _named_run_dir(args.run, args.log_dir)
    text, skipped = plot_run(run_dir, charts, size, color=args.color or interactive)
    print(text)
    if skipped:
        print(f"inittui plot: {skipped} damaged line{'s' if skipped != 1 else ''} of {run_dir} skipped", file=sys.stderr)
    return 0


def command_export(args: argparse.Namespace) -> int:
    from inittui.output.export import export_csv, export_tensorboard, require_tensorboard

    if args.tensorboard:
        require_tensorboard()  # without it: one line saying how to install it, before reading anything
    run_dir = _named_run_dir(args.run, args.log_dir)
    if args.tensorboard:
        target, counts = export_tensorboard(run_dir, Path(args.tensorboard))
    else:
        target, counts = export_csv(run_dir, Path(args.csv))
    skipped = f"; {counts.skipped} damaged line{'s' if counts.skipped != 1 else ''} of the log skipped" \
        if counts.skipped else ""
    print(f"{target}: {counts.runs} runs, {counts.scalars:,} scalars, {counts.histograms:,} histograms{skipped}")
    return 0


def command_reproduce(args: argparse.Namespace) -> int:
    seeds = parse_seeds(args.seeds)
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    if not presets:
        raise ArgumentError("--presets names nothing to reproduce")
    for name in presets:
        if name != DEPTH_SWEEP.name and name not in PRESETS:
            choices = ", ".join([*PRESETS, DEPTH_SWEEP.name])
            raise ArgumentError(f"unknown preset {name!r} in --presets; choose from {choices}")
    _check_directory_option(args.data_dir, "--data-dir")
    execution = _execution_from_args(args)
    _set_threads(args.threads)
    from inittui.training.engine import resolve_device

    resolve_device(args.device)
    from inittui.experiments.reproduce import run_reproduce

    log_dir = _writable_log_dir(args.log_dir)
    return run_reproduce(presets, seeds, device=args.device, data_dir=_absolute(args.data_dir), log_dir=log_dir,
                         execution=execution)


def _absolute(directory: str | None) -> str | None:
    """A directory as workers elsewhere (another working directory, another node) can find it."""
    return None if directory is None else str(Path(directory).expanduser().resolve())


def _execution_from_args(args: argparse.Namespace):  # noqa: ANN202 - an Execution; its module loads on demand
    from inittui.experiments.sweep_runner import Execution

    if args.jobs < 1:
        raise ArgumentError(f"--jobs must be at least 1, got {args.jobs}")
    if args.retries < 0:
        raise ArgumentError(f"--retries must be 0 or more, got {args.retries}")
    if args.threads is not None and args.threads < 1:
        raise ArgumentError(f"--threads must be at least 1, got {args.threads}")
    if args.gpus_per_experiment is not None:
        if args.ray is None:
            raise ArgumentError("--gpus-per-experiment needs --ray")
        if not args.gpus_per_experiment >= 0:
            raise ArgumentError(f"--gpus-per-experiment must be 0 or more, got {args.gpus_per_experiment:g}")
    if args.ship_logs and args.ray is None:
        raise ArgumentError("--ship-logs needs --ray")
    address = None if args.ray in (None, LOCAL_RAY) else args.ray
    return Execution(jobs=args.jobs, ray=args.ray is not None, ray_address=address, threads=args.threads,
                     gpus_per_experiment=args.gpus_per_experiment, retries=args.retries, ship_logs=args.ship_logs)


def command_sweep(args: argparse.Namespace) -> int:
    from inittui.experiments.sweep import format_dry_run, load_sweep

    source = Path(args.file).expanduser()
    if args.stats_every is not None and args.stats_every < 1:
        raise ArgumentError(f"--stats-every must be at least 1, got {args.stats_every}")
    plan = load_sweep(source, device=args.device, stats_every=args.stats_every)
    execution = _execution_from_args(args)
    if args.dry_run:
        print(format_dry_run(plan))
        return 0
    _check_directory_option(args.data_dir, "--data-dir")
    _check_directory_option(args.resume, "--resume")
    if execution.ray:
        from inittui.experiments.sweep_ray import require_ray

        require_ray()  # without Ray: one line saying how to install it, before anything starts
    _set_threads(args.threads if execution.jobs == 1 and not execution.ray else None)
    from inittui.training.engine import resolve_device

    device = resolve_device(args.device)
    if not execution.ray:  # Ray's workers are other machines, with memory of their own
        for experiment in plan.experiments:
            try:
                _refuse_what_cannot_fit(experiment.config, device)
            except ConfigError as error:
                raise ArgumentError(f"{source}: experiment {experiment.name}: {error}") from None
    from inittui.experiments.sweep_driver import run_sweep

    log_dir = _writable_log_dir(args.log_dir)
    resume = Path(args.resume).expanduser() if args.resume else None
    return run_sweep(plan, source, log_dir, execution, data_dir=_absolute(args.data_dir), resume=resume)


def _implies_train(argv: list[str]) -> bool:
    """``inittui --preset deep`` means ``inittui train --preset deep``."""
    return not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    implied = _implies_train(argv)
    parser = build_parser(train_prog="inittui" if implied else "inittui train")
    args = parser.parse_args(["train", *argv] if implied else argv)
    label = "inittui" if implied else f"inittui {args.command}"
    handlers = {
        "train": command_train,
        "probe": command_probe,
        "runs": command_runs,
        "view": command_view,
        "reproduce": command_reproduce,
        "sweep": command_sweep,
        "plot": command_plot,
        "export": command_export,
    }

    try:
        return handlers[args.command](args)
    except (ConfigError, ArgumentError) as error:
        parser.exit(2, f"{label}: error: {error}\n")
    except (DataError, RunLogError) as error:
        parser.exit(1, f"{label}: error: {error}\n")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # output piped into a program that stopped reading (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def run() -> NoReturn:
    """The ``inittui`` program: :func:`main`, then leave at once.

    By then the dashboard has stopped training and the run log is closed; what is left is the interpreter's
    teardown of torch's modules, which takes seconds on a small machine and would keep the user waiting
    after ``q`` or a hangup.
    """
    try:
        status = main()
    except SystemExit as exit_:  # argparse's --help, --version and one-line errors
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


if __name__ == "__main__":
    run()
