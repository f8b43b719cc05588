"""Lazy re-exports for package facades.

A facade such as ``acoupi.system`` re-exports names from its submodules;
importing them only on first use keeps light commands (``acoupi --help``)
from paying for Celery, HTTP or MQTT imports they never use.
"""

import importlib
from typing import Any, Callable, Dict, List, Tuple

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, submodule_of: Dict[str, str]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """Return ``(__getattr__, __dir__)`` for a package facade.

    Parameters
    ----------
    package
        The facade's ``__name__``.
    submodule_of
        Maps each exported name to the submodule (relative to ``package``)
        that defines it.
    """
    module = importlib.import_module(package)

    def __getattr__(name: str) -> Any:
        submodule = submodule_of.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        setattr(module, name, value)
        return value

    def __dir__() -> List[str]:
        return sorted(set(vars(module)) | set(submodule_of))

    return __getattr__, __dir__
