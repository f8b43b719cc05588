"""Configuration files: load, write, show, edit, and build from arguments.

``parse_config_from_args`` (prompts, click) is imported on first use: the
workers and beat only load configs, and would otherwise carry click.
"""

from typing import TYPE_CHECKING

from acoupi._lazy import lazy_exports
from acoupi.system.config.operations import (
    config_to_jsonable,
    dump_config,
    get_config_field,
    load_config,
    set_config_field,
    write_config,
)

if TYPE_CHECKING:
    from acoupi.system.config.parsers import parse_config_from_args

__all__ = [
    "config_to_jsonable",
    "dump_config",
    "get_config_field",
    "load_config",
    "parse_config_from_args",
    "set_config_field",
    "write_config",
]

__getattr__, __dir__ = lazy_exports(__name__, {"parse_config_from_args": "parsers"})
