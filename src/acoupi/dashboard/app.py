"""The dashboard's web application (Starlette).

Read-only: every route answers GET (the login form also takes POST), and
the databases are opened read-only. Errors become short 4xx/5xx pages (or
JSON under ``/api`` and ``/media``), never tracebacks.
"""

import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from acoupi.dashboard import media
from acoupi.dashboard.access import PasswordMiddleware
from acoupi.dashboard.api import Api
from acoupi.dashboard.auth import is_loopback_only
from acoupi.dashboard.metrics import render_metrics
from acoupi.dashboard.pages import Pages, error_context, templates
from acoupi.dashboard.sources import NoDataError
from acoupi.dashboard.state import Dashboard
from acoupi.system.constants import Settings
from acoupi.system.dashboard_settings import DashboardConfig

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api", "/media")) or path == "/metrics"


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    context = error_context(status, message)
    context["password_required"] = False
    return templates.TemplateResponse(
        request, "error.html", context, status_code=status
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"There is nothing at {request.url.path}."
    return _error(request, exc.status_code, message)


async def _no_data(request: Request, exc: Exception) -> Response:
    hint = getattr(exc, "help", None)
    return _error(request, 503, f"{exc} {hint}" if hint else str(exc))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("Dashboard error on %s", request.url.path)
    return _error(
        request,
        500,
        f"Something went wrong on the device ({type(exc).__name__}: {exc}). "
        "The dashboard log has the details.",
    )


def warm_up(dashboard: Dashboard) -> None:
    """Count the store once at start, so the first page is as fast as the next.

    On a season of data the first count takes seconds; later ones only add
    what is new (see :mod:`acoupi.dashboard.counters`).
    """
    from acoupi.dashboard.overview import chart_series

    try:
        chart_series(dashboard, hours=168)
        with dashboard.connection() as connection:
            dashboard.counters.tags(connection)
    except Exception:  # no database yet, or busy: the first page counts
        logger.debug("Dashboard warm-up skipped", exc_info=True)


def create_app(
    settings: Settings,
    config: DashboardConfig,
    host: str = "127.0.0.1",
    system_status: bool = True,
) -> Starlette:
    """Return the dashboard app of the installation ``settings`` point at.

    Parameters
    ----------
    settings
        The installation whose data is shown.
    config
        Dashboard settings (password hash, time expansion).
    host
        The address the server binds; anything but loopback makes every
        page ask for the password.
    system_status
        Ask ``acoupi deployment status`` for workers and backlog.
    """
    dashboard = Dashboard.create(
        settings,
        config,
        password_required=not is_loopback_only(host),
        system_status=system_status,
    )
    pages = Pages(dashboard)
    api = Api(dashboard)

    def metrics(request: Request) -> Response:
        return PlainTextResponse(
            render_metrics(dashboard),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    def media_route(handler: Callable[[Dashboard, Request], Response]) -> Any:
        def endpoint(request: Request) -> Response:
            return handler(dashboard, request)

        return endpoint

    routes = [
        Route("/", pages.overview),
        Route("/detections", pages.detections),
        Route("/recordings", pages.recordings),
        Route("/recordings/{recording_id}", pages.recording),
        Route("/settings", pages.settings),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout),
        Route("/api", api.index),
        Route("/api/overview", api.overview),
        Route("/api/chart", api.chart),
        Route("/api/detections", api.detections),
        Route("/api/summary", api.summary),
        Route("/api/recordings", api.recordings),
        Route("/api/recordings/{recording_id}", api.recording),
        Route("/api/settings", api.settings),
        Route(
            "/media/recordings/{recording_id}/spectrogram.png",
            media_route(media.spectrogram),
        ),
        Route("/media/recordings/{recording_id}/audio.wav", media_route(media.audio)),
        Route(
            "/media/recordings/{recording_id}/playback.wav",
            media_route(media.playback),
        ),
        Route("/metrics", metrics),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        threading.Thread(
            target=warm_up,
            args=(dashboard,),
            name="acoupi-dashboard-warm-up",
            daemon=True,
        ).start()
        yield

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(PasswordMiddleware, dashboard=dashboard)],
        exception_handlers={
            HTTPException: _http_error,
            NoDataError: _no_data,
            Exception: _unexpected,
        },
    )
    app.state.dashboard = dashboard
    return app
