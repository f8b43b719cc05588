"""How thorough a program's health check is.

A health check looks at two kinds of thing: what can change on its own
(the microphone, the server, the disk) and whether the installed software
works at all (a model's self-test on a synthetic signal, which imports its
numerical libraries). ``acoupi check`` and deployment start look at both.
``acoupi deployment status`` runs the check on every call, and the software
does not change between two calls: it skips the self-tests, which can cost
more than the rest of the status together.

A component whose ``check`` has a self-test runs it only when
:func:`self_tests_wanted` says so.
"""

import contextlib
from contextvars import ContextVar
from typing import Iterator

__all__ = ["self_tests_wanted", "without_self_tests"]

_SELF_TESTS: ContextVar[bool] = ContextVar("acoupi_self_tests", default=True)


@contextlib.contextmanager
def without_self_tests() -> Iterator[None]:
    """Run the health checks inside the block without self-tests."""
    token = _SELF_TESTS.set(False)
    try:
        yield
    finally:
        _SELF_TESTS.reset(token)


def self_tests_wanted() -> bool:
    """Return whether a health check running now should run its self-tests."""
    return _SELF_TESTS.get()
