"""Loading the user's --init-file files in the process that trains, and checking every initialiser in them.

A file runs as Python runs it (it is the user's own code), once, here; :mod:`inittui.science.init_files` has
already read what it declares without running it. Each initialiser is then drawn for every activation and
every layer shape of the experiment, twice from the same seed: one that raises, leaves NaN or inf, or gives two
different draws (it drew from somewhere other than ``generator``) is refused with one line naming the file,
the function and the problem.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from inittui import INITIALIZER_ATTRIBUTE
from inittui.core.config import ACTIVATION_NAMES, ExperimentConfig
from inittui.science.activations import Activation, get_activation
from inittui.science.init_files import Declaration, InitFileError, read_all_declarations
from inittui.science.initializers import USER_INITIALIZERS, Initializer

CHECK_SEED = 0
UserFunction = Callable[..., None]


def _execute(path: str, index: int) -> object:
    """Run the file as a module of its own (``sys.modules`` keeps it, as an import would)."""
    module_name = f"inittui_init_file_{index}_{Path(path).stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InitFileError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's code: whatever it raises is its problem, told in one line
        del sys.modules[module_name]
        raise InitFileError(f"{path}: {type(error).__name__} while loading it: {_one_line(error)}") from None
    return module


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _fill(declaration: Declaration, function: UserFunction) -> Callable[[torch.Tensor, Activation, torch.Generator | None], None]:
    """``Initializer.fill`` for the user's function: every draw checked for an exception and for NaN or inf."""

    def fill(weight: torch.Tensor, activation: Activation, generator: torch.Generator | None) -> None:
        shape = "×".join(map(str, weight.shape))
        weight.fill_(math.nan)  # a function that fills nothing leaves NaN, and is told so
        try:
            with torch.no_grad():
                function(weight, activation=activation.name, generator=generator)
        except Exception as error:
            raise declaration.problem(f"raises {type(error).__name__} for a {shape} weight with "
                                      f"{activation.name}: {_one_line(error)}") from None
        if not bool(torch.isfinite(weight).all()):
            raise declaration.problem(f"leaves NaN or inf in a {shape} weight with {activation.name} "
                                      "(it must fill weight in place)")

    return fill


def _initializer(declaration: Declaration, function: UserFunction) -> Initializer:
    note = f"{declaration.note} (from {declaration.path}; p from the drawn variance)".lstrip()
    return Initializer(declaration.name, declaration.formula, note, _fill(declaration, function),
                       lambda n_in, n_out, activation: None)


def check_initializer(initializer: Initializer, declaration: Declaration, layer_sizes: Sequence[int],
                      activations: Sequence[str]) -> None:
    """Draw every layer shape with each of ``activations`` twice from one seed: the same weights both times."""
    shapes = list(dict.fromkeys((n_out, n_in) for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])))
    for activation in map(get_activation, activations):
        for shape in shapes:
            first, second = torch.zeros(shape), torch.zeros(shape)
            initializer.fill(first, activation, torch.Generator().manual_seed(CHECK_SEED))
            initializer.fill(second, activation, torch.Generator().manual_seed(CHECK_SEED))
            if not torch.equal(first, second):
                raise declaration.problem(
                    f"ignores generator: two draws from the same seed differ ({'×'.join(map(str, shape))}, "
                    f"{activation.name}); draw only from generator, e.g. torch.randn(..., generator=generator)")


def load_init_files(paths: Sequence[str], layer_sizes: Sequence[int],
                    activations: Sequence[str] = ACTIVATION_NAMES) -> list[Initializer]:
    """Run the files, check each initialiser they declare on ``layer_sizes`` with ``activations``, and make them
    usable by name. (Every later draw is checked too, for an exception and for NaN or inf.)"""
    declarations = read_all_declarations(paths)
    modules = {path: _execute(path, index) for index, path in enumerate(dict.fromkeys(d.path for d in declarations))}
    declared = {(d.path, d.name) for d in declarations}
    for path, module in modules.items():
        for value in vars(module).values():
            name = getattr(value, INITIALIZER_ATTRIBUTE, None)
            if isinstance(name, str) and (path, name) not in declared:
                raise InitFileError(f"{path}: {getattr(value, '__name__', name)}(): decorated in a way inittui cannot "
                                    f'read without running the file; write @inittui.initializer("{name}") on a '
                                    "top-level function")
    loaded = []
    for declaration in declarations:
        function = getattr(modules[declaration.path], declaration.function, None)
        if not callable(function) or getattr(function, INITIALIZER_ATTRIBUTE, None) != declaration.name:
            raise declaration.problem(f'is not the function decorated @inittui.initializer("{declaration.name}") '
                                      "once the file has run (was it redefined or wrapped?)")
        initializer = _initializer(declaration, function)
        check_initializer(initializer, declaration, layer_sizes, activations)
        loaded.append(initializer)
    for initializer in loaded:
        USER_INITIALIZERS[initializer.name] = initializer
    return loaded


def install_init_files(config: ExperimentConfig) -> None:
    """The process that trains ``config``: load its ``init_files``, which must declare what the config says."""
    if not config.init_files:
        return
    # the experiment's activations: the ones `i` cycles a user's initialiser with (a draw with another is checked then)
    activations = list(dict.fromkeys(spec.activation for spec in config.runs))
    loaded = load_init_files(config.init_files, config.layer_sizes, activations)
    missing = set(config.user_initializers) - {initializer.name for initializer in loaded}
    if missing:
        raise InitFileError(f"--init-file {', '.join(config.init_files)}: no longer declares {', '.join(sorted(missing))}")
