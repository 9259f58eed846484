"""Every module of bot/ keeps an explicit, true `__all__` (as httpx's test_exported_members): every name
in it exists, and it lists every public name the module defines (a name it only imports may be
re-exported, but not by the message modules and the text they build on); and each message function
has one home."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import bot
import bot.slack.messages
import bot.slack.text

# A module's logger is the one public name a module may keep to itself.
_NOT_EXPORTED = {"log"}


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}") for info in pkgutil.iter_modules(package.__path__)
    ]


def _every_module() -> list[ModuleType]:
    """Every module and package of bot/, but the entry points and the migrations (Alembic runs those)."""
    return [bot] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(bot.__path__, "bot.")
        if not info.name.startswith("bot.migrations") and not info.name.endswith(".__main__")
    ]


MESSAGE_MODULES = [module for module in _modules(bot.slack.messages) if not hasattr(module, "__path__")]
MESSAGE_FACE = [bot.slack.text, *MESSAGE_MODULES]
BOT_MODULES = _every_module()


def _public_definitions(module: ModuleType) -> set[str]:
    """The names a module defines at its top level (not those it imports), leading underscore aside."""
    names: set[str] = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                names.update(element.id for element in elements if isinstance(element, ast.Name))
    return {name for name in names if not name.startswith("_")} - _NOT_EXPORTED


@pytest.mark.parametrize("module", BOT_MODULES, ids=lambda module: module.__name__)
def test_every_name_in_all_exists(module: ModuleType) -> None:
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("module", BOT_MODULES, ids=lambda module: module.__name__)
def test_all_lists_every_public_name_the_module_defines(module: ModuleType) -> None:
    assert _public_definitions(module) - set(module.__all__) == set()


@pytest.mark.parametrize("module", MESSAGE_FACE, ids=lambda module: module.__name__)
def test_the_message_modules_export_only_what_they_define(module: ModuleType) -> None:
    assert set(module.__all__) == _public_definitions(module)


def test_each_message_function_has_one_home() -> None:
    homes: dict[str, list[str]] = {}
    for module in MESSAGE_MODULES:
        for name in module.__all__:
            homes.setdefault(name, []).append(module.__name__)
    assert {name: where for name, where in homes.items() if len(where) > 1} == {}
    assert bot.slack.messages.__all__ == []  # the package re-exports nothing: import from the family's module


def test_the_package_names_every_message_family() -> None:
    described = bot.slack.messages.__doc__ or ""
    assert [m.__name__ for m in MESSAGE_MODULES if f"`{m.__name__.rsplit('.', 1)[1]}`" not in described] == []
