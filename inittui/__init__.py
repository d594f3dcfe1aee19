"""inittui: a terminal laboratory for weight initialisation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__version__ = "0.1.0"

# the attribute ``initializer`` sets on a user's function; ``inittui.science.user_init`` collects by it
INITIALIZER_ATTRIBUTE = "__inittui_initializer__"

_Function = TypeVar("_Function", bound=Callable[..., None])


def initializer(name: str) -> Callable[[_Function], _Function]:
    """Mark a function of an ``--init-file`` as the initialiser ``name``.

    The function is ``(weight, *, activation, generator) -> None`` and fills ``weight`` (n_out, n_in) in place,
    drawing only from ``generator``; its docstring is its formula. The decorator only records the name on the
    function (so ``import inittui`` stays cheap): ``--init-file`` loads the file and checks it.
    """

    def record(function: _Function) -> _Function:
        setattr(function, INITIALIZER_ATTRIBUTE, name)
        return function

    return record
