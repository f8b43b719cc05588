"""Passwords, session cookies and what counts as a local address.

The dashboard listens on 127.0.0.1 by default. Bound to any other address
(a phone on the device's Wi-Fi), every request needs a session cookie,
obtained by posting the password set with ``acoupi dashboard password``.
Only a salted scrypt hash of the password is stored; cookies are
HMAC-signed with a key that changes with the password, are HttpOnly and
SameSite=Strict, and expire after :data:`SESSION_SECONDS`.
"""

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from typing import Optional

__all__ = [
    "COOKIE_NAME",
    "SESSION_SECONDS",
    "hash_password",
    "is_loopback_address",
    "is_loopback_only",
    "make_session",
    "session_is_valid",
    "verify_password",
]

COOKIE_NAME = "acoupi_session"
SESSION_SECONDS = 7 * 24 * 3600
MIN_PASSWORD_LENGTH = 8

# scrypt cost: ~50 ms and 16 MiB on a Raspberry Pi 4, once per login.
_N, _R, _P = 2**14, 8, 1

_LOOPBACK_NAMES = {"127.0.0.1", "::1", "localhost"}


def is_loopback_only(host: str) -> bool:
    """Whether binding ``host`` keeps the dashboard on this machine for sure.

    Only ``127.0.0.1``, ``::1`` and ``localhost`` count: other addresses
    (even others in 127.0.0.0/8, which some setups forward) need a password.
    """
    return host.strip().lower().strip("[]") in _LOOPBACK_NAMES


def is_loopback_address(host: str) -> bool:
    """Whether ``host`` is any loopback address (127.0.0.0/8, ``::1``).

    Such an address stays on this machine, but only the ones of
    :func:`is_loopback_only` are served without a password.
    """
    name = host.strip().lower().strip("[]")
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of ``password`` to store.

    Raises
    ------
    ValueError
        If the password is shorter than :data:`MIN_PASSWORD_LENGTH`.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
        )
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: Optional[str]) -> bool:
    """Whether ``password`` matches the stored hash (constant-time compare)."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, _unb64(digest))


def _signature(key: str, payload: str) -> str:
    return _b64(hmac.new(key.encode(), payload.encode(), hashlib.sha256).digest())


def make_session(key: str, now: Optional[float] = None) -> str:
    """Return a signed cookie value valid for :data:`SESSION_SECONDS`."""
    expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
    payload = f"{expires}.{secrets.token_hex(8)}"
    return f"{payload}.{_signature(key, payload)}"


def session_is_valid(
    key: str, value: Optional[str], now: Optional[float] = None
) -> bool:
    """Whether a cookie value was signed with ``key`` and has not expired."""
    if not value or value.count(".") != 2:
        return False
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _signature(key, payload)):
        return False
    try:
        expires = int(payload.split(".")[0])
    except ValueError:
        return False
    return expires > (now if now is not None else time.time())
