"""Find the programs that can be set up, and accept their short names.

Programs are found without importing them (a detection program may take
seconds to import its model): by reading the source of the modules of
``acoupi.programs``, of the ``program`` module of every installed
``acoupi_*`` package (the plugin convention, e.g. ``acoupi_batdetect2``),
and of the modules named by the ``acoupi.programs`` entry point group.
"""

import ast
import difflib
import importlib.util
import logging
import pkgutil
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Dict, List, Optional

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProgramEntry",
    "describe_available",
    "list_programs",
    "resolve_program_name",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "acoupi.programs"
"""Entry points ``short_name = package.module`` that declare programs."""

PLUGIN_PREFIX = "acoupi_"
PLUGIN_MODULE = "program"
_BUILT_IN_PACKAGE = "acoupi.programs"
_NOT_PROGRAMS = {"core", "templates", "saving_rules"}


@dataclass(frozen=True)
class ProgramEntry:
    """A program that can be set up.

    Attributes
    ----------
    name
        Short name accepted by ``acoupi setup --program``, e.g. ``triggered``.
    module
        The full module name, e.g. ``acoupi.programs.triggered``.
    summary
        First line of the module's docstring.
    source
        ``built-in`` or the package providing it.
    """

    name: str
    module: str
    summary: str
    source: str


def _source_of(module: str) -> Optional[str]:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        return Path(spec.origin).read_text(encoding="utf-8")
    except OSError:
        return None


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _read_program_module(module: str) -> Optional[str]:
    """The module's summary if it defines a program class, else None.

    A program class is one whose base is named ``...Program`` (such as
    ``AcoupiProgram`` or ``DetectionProgram[Config]``).
    """
    source = _source_of(module)
    if source is None:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    defines_program = any(
        isinstance(node, ast.ClassDef)
        and any(_base_name(base).endswith("Program") for base in node.bases)
        for node in tree.body
    )
    if not defines_program:
        return None
    docstring = ast.get_docstring(tree) or ""
    return docstring.strip().splitlines()[0] if docstring.strip() else ""


def _built_in() -> List[ProgramEntry]:
    spec = importlib.util.find_spec(_BUILT_IN_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    found = []
    for info in pkgutil.iter_modules(locations):
        if info.name.startswith("_") or info.name in _NOT_PROGRAMS:
            continue
        module = f"{_BUILT_IN_PACKAGE}.{info.name}"
        summary = _read_program_module(module)
        if summary is not None:
            found.append(ProgramEntry(info.name, module, summary, "built-in"))
    return found


def _plugins() -> List[ProgramEntry]:
    found = []
    for info in pkgutil.iter_modules():
        if not (info.ispkg and info.name.startswith(PLUGIN_PREFIX)):
            continue
        module = f"{info.name}.{PLUGIN_MODULE}"
        summary = _read_program_module(module)
        if summary is not None:
            short = info.name[len(PLUGIN_PREFIX) :]
            found.append(ProgramEntry(short, module, summary, info.name))
    return found


def _declared() -> List[ProgramEntry]:
    found = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        module = point.value.split(":", 1)[0].strip()
        summary = _read_program_module(module)
        source = point.dist.name if point.dist is not None else module
        found.append(ProgramEntry(point.name, module, summary or "", source))
    return found


def list_programs() -> List[ProgramEntry]:
    """Return the built-in and installed programs, one entry per module.

    Returns
    -------
    list of ProgramEntry
        Built-in programs first, then plugins, each group sorted by name.
    """
    by_module: Dict[str, ProgramEntry] = {}
    for group in (_built_in(), _declared(), _plugins()):
        for entry in sorted(group, key=lambda entry: entry.name):
            by_module.setdefault(entry.module, entry)
    return list(by_module.values())


def resolve_program_name(name: str) -> str:
    """Return the module of a program given by short or full name.

    ``triggered`` gives ``acoupi.programs.triggered`` and ``batdetect2``
    (or ``acoupi_batdetect2``) gives ``acoupi_batdetect2.program``. A name
    that matches no listed program is returned unchanged, so any module
    holding a program can still be given in full.
    """
    if "." in name:
        return name
    for entry in list_programs():
        if name in (entry.name, entry.source, entry.module.split(".")[0]):
            return entry.module
    return name


def describe_available(name: str = "") -> str:
    """A hint listing the programs, the closest to ``name`` first."""
    entries = list_programs()
    names = [entry.name for entry in entries]
    close = difflib.get_close_matches(name.rsplit(".", 1)[-1], names, n=1)
    hint = f"Did you mean `{close[0]}`? " if close else ""
    listing = ", ".join(names) or "none found"
    return (
        f"{hint}Available programs: {listing}. `acoupi programs` describes "
        "them; a program can also be named by its full Python module."
    )
