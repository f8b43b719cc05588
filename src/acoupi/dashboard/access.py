"""Who may see the dashboard: everyone on loopback, else with the password.

When the dashboard is bound to a non-loopback address, every request but
the login page and the static files needs a valid session cookie (from
``/login``) or HTTP basic credentials (any user name, the dashboard
password), which lets Prometheus scrape ``/metrics``.
"""

import base64
import binascii
from typing import Awaitable, Callable
from urllib.parse import quote

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from acoupi.dashboard.auth import COOKIE_NAME, session_is_valid, verify_password
from acoupi.dashboard.state import Dashboard

__all__ = ["PasswordMiddleware"]

_OPEN_PATHS = ("/login", "/static/")


def _basic_password(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def _machine_facing(path: str) -> bool:
    return path.startswith("/api") or path == "/metrics" or path.startswith("/media")


class PasswordMiddleware(BaseHTTPMiddleware):
    """Demand a session or the password when one is required."""

    def __init__(self, app: Callable[..., Awaitable[None]], dashboard: Dashboard):
        super().__init__(app)
        self.dashboard = dashboard

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Pass allowed requests on; send others to the login page (or 401)."""
        path = request.url.path
        if not self.dashboard.password_required or path.startswith(_OPEN_PATHS):
            return await call_next(request)
        config = self.dashboard.config
        if session_is_valid(config.session_key, request.cookies.get(COOKIE_NAME)):
            return await call_next(request)
        password = _basic_password(request)
        if password is not None and verify_password(password, config.password_hash):
            return await call_next(request)
        if _machine_facing(path):
            return JSONResponse(
                {
                    "error": "Log in at /login, or send the dashboard password "
                    "with HTTP basic authentication."
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="acoupi"'},
            )
        target = quote(path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)
