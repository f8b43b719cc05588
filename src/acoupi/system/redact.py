"""Mask the secrets that URLs carry before they are shown or stored.

A token in an HTTP URL's query string ended up in clear in the worker log,
in ``messages.db`` and in ``acoupi check``. Every URL that is logged, stored
for display or put in an error goes through :func:`redact_url` (or, inside
free text such as an exception message, :func:`redact_text`): the user info
(``user:password@``) and every query parameter's value are masked.
"""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "redact_text", "redact_url"]

MASK = "***"
"""What a masked part of a URL reads as."""

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """Return ``url`` with its user info and query values masked.

    Parameters
    ----------
    url
        Any URL; text that is not a URL is returned unchanged.

    Examples
    --------
    >>> redact_url("https://u:pw@host:8443/in?token=abc&site=3")
    'https://***@host:8443/in?token=***&site=***'
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"  # IPv6
        if port is not None:
            host = f"{host}:{port}"
        netloc = f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(name, MASK) for name, _ in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """Return ``text`` with every URL in it passed through :func:`redact_url`."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)
