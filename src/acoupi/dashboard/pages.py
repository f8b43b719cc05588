"""HTML pages: overview, detections, recording, settings and login."""

import asyncio
from pathlib import Path
from typing import Any, Dict
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from acoupi.dashboard import views
from acoupi.dashboard.auth import (
    COOKIE_NAME,
    SESSION_SECONDS,
    make_session,
    verify_password,
)
from acoupi.dashboard.overview import build_overview
from acoupi.dashboard.state import Dashboard

__all__ = ["Pages", "templates"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["filesize"] = lambda n: _filesize(n)


def _filesize(value: Any) -> str:
    size = float(value or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size:.0f} B"
        size /= 1000
    return f"{size:.1f} TB"


class Pages:
    """Page endpoints bound to one dashboard."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def _render(self, request: Request, name: str, **context: Any) -> Response:
        context.setdefault("password_required", self.dashboard.password_required)
        return templates.TemplateResponse(request, name, context)

    def overview(self, request: Request) -> Response:
        """The overview page."""
        return self._render(
            request,
            "overview.html",
            data=build_overview(self.dashboard),
            page="overview",
        )

    def detections(self, request: Request) -> Response:
        """The detections page, filtered and paginated."""
        data = views.detections_view(self.dashboard, request)
        return self._render(request, "detections.html", data=data, page="detections")

    def recordings(self, request: Request) -> Response:
        """The recordings page."""
        data = views.recordings_view(self.dashboard, request)
        return self._render(request, "recordings.html", data=data, page="recordings")

    def recording(self, request: Request) -> Response:
        """One recording: full spectrogram, detections, GUANO, download."""
        data = views.recording_view(self.dashboard, request.path_params["recording_id"])
        return self._render(request, "recording.html", data=data, page="recordings")

    def settings(self, request: Request) -> Response:
        """Deployment, settings (secrets masked) and log tails."""
        data = views.settings_view(self.dashboard)
        return self._render(request, "settings.html", data=data, page="settings")

    async def login(self, request: Request) -> Response:
        """Show the login form, or check the posted password."""
        target = request.query_params.get("next") or "/"
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # only same-site redirects
        if request.method == "GET":
            return self._render(request, "login.html", error=None, next=target)
        body = (await request.body())[:4096].decode("utf-8", errors="replace")
        password = parse_qs(body).get("password", [""])[0]
        config = self.dashboard.config
        if not verify_password(password, config.password_hash):
            # Slows down guessing; the hash itself costs ~50 ms already.
            await asyncio.sleep(0.5)
            response = self._render(
                request, "login.html", error="Wrong password.", next=target
            )
            response.status_code = 401
            return response
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            make_session(config.session_key),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    def logout(self, request: Request) -> Response:
        """Forget the session cookie."""
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE_NAME)
        return response


def error_context(status: int, message: str) -> Dict[str, Any]:
    """Template values of the error page."""
    titles = {400: "Bad request", 401: "Log in", 404: "Not found", 405: "Not allowed"}
    return {"status": status, "title": titles.get(status, "Error"), "message": message}
