"""What a user's ``--init-file`` declares, read with ``ast``: no code of it runs here.

The dashboard's process, the command line's checks and the run log need only each initialiser's name and
formula (its docstring); the file is executed once, by :mod:`inittui.science.user_init` in the process that
trains. Only files the user names are read: never one found in a run log or in the current directory.

An initialiser is a top-level function of the file decorated ``@inittui.initializer("name")`` (or
``@initializer("name")`` after ``from inittui import initializer``), with the signature
``(weight, *, activation, generator)``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inittui.core.config import INITIALIZER_NAMES, ExperimentConfig
from inittui.core.errors import ConfigError

DECORATOR = "initializer"
KEYWORDS = ("activation", "generator")
SIGNATURE = "(weight, *, activation, generator)"
# a name must fit in --runs NAME:ACTIVATION and in a comma-separated list
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class InitFileError(ConfigError):
    """A user's initialiser file or function is unusable: one line naming the file, the function, the problem."""


@dataclass(frozen=True)
class Declaration:
    """One initialiser a file declares."""

    name: str
    function: str
    path: str
    docstring: str

    @property
    def formula(self) -> str:
        """The docstring's first line: the formula, as the help screen shows it."""
        return self.docstring.splitlines()[0].strip()

    @property
    def note(self) -> str:
        """The rest of the docstring, in one line."""
        return " ".join(self.docstring.split("\n", 1)[1].split()) if "\n" in self.docstring else ""

    def problem(self, text: str) -> InitFileError:
        return InitFileError(f"{self.path}: {self.function}(): {text}")


def _is_initializer_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr == DECORATOR and isinstance(target.value, ast.Name) and target.value.id == "inittui"
    return isinstance(target, ast.Name) and target.id == DECORATOR


def _signature_problem(arguments: ast.arguments) -> str | None:
    """Why ``arguments`` are not ``(weight, *, activation, generator)`` (more keywords only with defaults)."""
    positional = [*arguments.posonlyargs, *arguments.args]
    keywords = [a.arg for a in arguments.kwonlyargs]
    required = {a.arg for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults) if default is None}
    if (len(positional) == 1 and not arguments.defaults and arguments.vararg is None
            and set(KEYWORDS) <= set(keywords) and required <= set(KEYWORDS)):
        return None
    return f"wrong signature ({ast.unparse(arguments)}); an initialiser is {SIGNATURE}"


def _declarations_in(path: Path, tree: ast.Module) -> list[Declaration]:
    found = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        decorators = [d for d in node.decorator_list if _is_initializer_decorator(d)]
        if not decorators:
            continue
        where = f"{path}: {node.name}()"
        call = decorators[0]
        if not (isinstance(call, ast.Call) and len(call.args) == 1 and not call.keywords
                and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
            raise InitFileError(f'{where}: write the decorator as @inittui.initializer("name"), the name a string')
        name = call.args[0].value
        if not NAME_PATTERN.fullmatch(name):
            raise InitFileError(f"{where}: the name {name!r} must be letters, digits, '.', '_' or '-' (it goes in --runs NAME:ACTIVATION)")
        if isinstance(node, ast.AsyncFunctionDef):
            raise InitFileError(f"{where}: an initialiser is a plain function, not async")
        docstring = ast.get_docstring(node)
        declaration = Declaration(name, node.name, str(path), docstring or "")
        if name in INITIALIZER_NAMES:
            raise declaration.problem(f"the name {name!r} is a built-in initialiser; choose another")
        if problem := _signature_problem(node.args):
            raise declaration.problem(problem)
        if not docstring or not docstring.strip():
            raise declaration.problem("has no docstring: its first line is the initialiser's formula")
        found.append(declaration)
    return found


def read_declarations(path: str) -> list[Declaration]:
    """The initialisers ``path`` declares, read without running it."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InitFileError(f"--init-file {path}: no such file")
    file = file.resolve()
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InitFileError(f"--init-file {file}: cannot be read: {error}") from None
    try:
        tree = ast.parse(source, filename=str(file))
    except SyntaxError as error:
        raise InitFileError(f"{file}:{error.lineno}: syntax error: {error.msg}") from None
    found = _declarations_in(file, tree)
    if not found:
        raise InitFileError(f'{file}: declares no initialiser (a top-level function decorated @inittui.initializer("name"))')
    return found


def read_all_declarations(paths: Sequence[str]) -> list[Declaration]:
    """Every initialiser the files declare, each name once (a file named twice counts once)."""
    declarations: dict[str, Declaration] = {}
    seen: set[str] = set()
    for path in paths:
        resolved = str(Path(path).expanduser().resolve())
        if resolved in seen:
            continue
        seen.add(resolved)
        for declaration in read_declarations(path):
            if declaration.name in declarations:
                other = declarations[declaration.name]
                raise declaration.problem(f"the name {declaration.name!r} is declared again "
                                          f"(first by {other.path}: {other.function}())")
            declarations[declaration.name] = declaration
    return list(declarations.values())


def declare_init_files(config: ExperimentConfig, paths: Sequence[str]) -> None:
    """Give ``config`` the initialisers its own ``init_files`` (a preset's) and ``paths`` declare, read without
    running them: their paths, and each name with its docstring, which the run log keeps."""
    declarations = read_all_declarations([*config.init_files, *paths])
    config.init_files = list(dict.fromkeys(declaration.path for declaration in declarations))
    config.user_initializers = {declaration.name: declaration.docstring for declaration in declarations}
