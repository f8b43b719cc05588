"""Jinja2 environment that renders acoupi's generated files.

The templates live in ``acoupi/templates``. Every value that ends up in a
generated shell script, systemd unit or Python module goes through one of
the quoting filters below, so a home directory with spaces, quotes or
backslashes yields files that still work.

Filters
-------
shquote
    Quote one shell word (``shlex.quote``); ordinary paths stay unchanged.
dquote
    A bash double-quoted string, e.g. ``"INFO"``.
pystr
    A Python double-quoted string literal.
pyliteral
    A Python literal for a setting value (``Path("...")`` for paths).
systemd_arg
    One word of a systemd command line (``ExecStart=``).
systemd_exec
    A systemd command line that runs the given script.
systemd_path
    A path for settings such as ``WorkingDirectory=`` (taken verbatim).
"""

import json
import shlex
from pathlib import PurePath
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = [
    "env",
    "python_literal",
    "python_string",
    "render_template",
    "shell_double_quote",
    "shell_quote",
    "systemd_exec",
    "systemd_path",
    "systemd_quote",
]


def shell_quote(value: Any) -> str:
    """Return ``value`` as a single bash word."""
    return shlex.quote(str(value))


def shell_double_quote(value: Any) -> str:
    """Return ``value`` inside bash double quotes.

    Backslash, double quote, dollar and backtick are escaped.
    """
    text = str(value)
    for char in ("\\", '"', "$", "`"):
        text = text.replace(char, "\\" + char)
    return f'"{text}"'


def python_string(value: Any) -> str:
    """Return a Python double-quoted string literal equal to ``str(value)``.

    JSON string syntax is a subset of Python's. Non-ASCII text is kept
    readable unless it cannot be encoded (undecodable file names carry lone
    surrogates), in which case it is escaped.
    """
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(text, ensure_ascii=True)
    return json.dumps(text, ensure_ascii=False)


def python_literal(value: Any) -> str:
    """Return Python source that evaluates to ``value``.

    Paths become ``Path("...")`` (the generated module imports ``Path``);
    strings become double-quoted literals; anything else uses ``repr``.
    """
    if isinstance(value, PurePath):
        return f"Path({python_string(value)})"
    if isinstance(value, str):
        return python_string(value)
    return repr(value)


def _check_unit_value(text: str, quoted: bool = False) -> None:
    if "\n" in text or "\r" in text:
        raise ValueError(
            f"{text!r} contains a line break, which a systemd unit cannot hold."
        )
    if not quoted and text.endswith("\\"):
        # A trailing backslash would continue the unit line.
        raise ValueError(
            f"{text!r} ends with a backslash, which a systemd unit cannot hold."
        )


# Characters that force a systemd word into double quotes.
_SYSTEMD_SPECIAL = set(" \t\"'\\;")


def systemd_quote(value: Any) -> str:
    """Return ``value`` as one word of a systemd command line.

    ``%`` (specifiers) and ``$`` (variable expansion) are doubled; the
    word is double-quoted, with C-style escapes, when it holds blanks,
    quotes or backslashes.
    """
    text = str(value)
    # A trailing backslash always gets quoted (and escaped) below.
    _check_unit_value(text, quoted=True)
    text = text.replace("%", "%%").replace("$", "$$")
    if not text or any(char in _SYSTEMD_SPECIAL for char in text):
        text = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'
    return text


# systemd refuses an executable whose own path holds any of these.
_UNSAFE_EXECUTABLE = set("\"'\\")


def systemd_exec(script: Any, interpreter: str = "/bin/bash") -> str:
    """Return a systemd command line that runs ``script``.

    The script path is used as the executable when systemd accepts it;
    otherwise (quotes or backslashes in the path) it is passed to
    ``interpreter``, since only arguments may contain such characters.
    """
    text = str(script)
    if any(char in _UNSAFE_EXECUTABLE for char in text):
        return f"{interpreter} {systemd_quote(text)}"
    return systemd_quote(text)


def systemd_path(value: Any) -> str:
    """Return a path for ``WorkingDirectory=`` or ``EnvironmentFile=``.

    These settings take the rest of the line verbatim (no quotes), but
    still expand ``%`` specifiers.
    """
    text = str(value)
    _check_unit_value(text)
    return text.replace("%", "%%")


env = Environment(
    loader=PackageLoader("acoupi"),
    autoescape=select_autoescape(),
    # Generated files must match their templates line for line.
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    # A typo in a template variable must fail, not render an empty path.
    undefined=StrictUndefined,
)
env.filters.update(
    shquote=shell_quote,
    dquote=shell_double_quote,
    pystr=python_string,
    pyliteral=python_literal,
    systemd_arg=systemd_quote,
    systemd_exec=systemd_exec,
    systemd_path=systemd_path,
)


def render_template(template_name: str, **kwargs: Any) -> str:
    """Render one of acoupi's templates.

    Parameters
    ----------
    template_name
        File name inside ``acoupi/templates``, e.g. ``"app.py.jinja2"``.
    **kwargs
        Template variables.

    Returns
    -------
    str
        The rendered text.
    """
    return env.get_template(template_name).render(**kwargs)
