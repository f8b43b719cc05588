"""Configuration files: load, write, show, edit, and build from arguments."""

from acoupi.system.config.operations import (
    config_to_jsonable,
    dump_config,
    get_config_field,
    load_config,
    set_config_field,
    write_config,
)
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
