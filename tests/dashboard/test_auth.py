"""Passwords, sessions and the loopback rule."""

import pytest

from acoupi.dashboard import auth


def test_password_hash_round_trip() -> None:
    stored = auth.hash_password("s3cret-pass")
    assert "s3cret-pass" not in stored and stored.startswith("scrypt$")
    assert auth.verify_password("s3cret-pass", stored)
    assert not auth.verify_password("s3cret-pasS", stored)
    assert not auth.verify_password("s3cret-pass", None)
    assert not auth.verify_password("x", "garbage")
    with pytest.raises(ValueError, match="at least 8"):
        auth.hash_password("short")


def test_sessions_are_signed_and_expire() -> None:
    cookie = auth.make_session("key", now=1000.0)
    assert auth.session_is_valid("key", cookie, now=1001.0)
    assert not auth.session_is_valid("other key", cookie, now=1001.0)
    assert not auth.session_is_valid(
        "key", cookie, now=1000.0 + auth.SESSION_SECONDS + 1
    )
    expires, nonce, signature = cookie.split(".")
    forged = f"{int(expires) + 10**6}.{nonce}.{signature}"
    assert not auth.session_is_valid("key", forged, now=1001.0)
    assert not auth.session_is_valid("key", "a.b", now=1001.0)


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.2", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.4.1", False),
    ],
)
def test_loopback_rule(host: str, loopback: bool) -> None:
    assert auth.is_loopback_only(host) is loopback
