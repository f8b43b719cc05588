"""The web app over a stored installation: pages, API, media, metrics, access."""

import io
import re
import wave
from typing import Any, Callable

import pytest
from dashboard_support import SAMPLERATE, Installation
from PIL import Image
from starlette.testclient import TestClient

from acoupi.dashboard.app import create_app
from acoupi.dashboard.auth import hash_password
from acoupi.system.dashboard_settings import DashboardConfig


def test_overview_counts_equal_the_store(
    client: TestClient, installation: Installation
) -> None:
    data = client.get("/api/overview").json()
    assert data["totals"]["recordings"] == len(installation.recordings)
    assert data["totals"]["detections"] == len(installation.pairs)
    counts = {item["tag"]: item["count"] for item in data["all_time_by_tag"]}
    assert counts == {tag: len(v) for tag, v in installation.detections.items()}
    assert data["recording"]["recording"] is False  # last one 30 min ago
    assert re.search(r"No new recording for 3\d min", data["recording"]["text"])
    assert {disk["label"] for disk in data["disk"]} >= {"database", "recordings"}
    page = client.get("/")
    assert page.status_code == 200
    assert f'id="total-detections">{len(installation.pairs)}<' in page.text
    assert '<a href="/detections?tag=bat">bat</a></td><td class="num">4<' in page.text


def test_chart_has_one_point_per_hour(client: TestClient) -> None:
    week = client.get("/api/chart?hours=168").json()
    assert len(week["x"]) == 168
    totals = {s["tag"]: sum(s["counts"]) for s in week["series"]}
    assert totals == {"bat": 4, "bird": 2, "frog": 1}
    day = client.get("/api/chart").json()
    assert {s["tag"]: sum(s["counts"]) for s in day["series"]} == {"bat": 2, "bird": 2}


def test_detections_api_filters_and_pages(
    client: TestClient, installation: Installation
) -> None:
    bats = client.get("/api/detections?tag=bat&per_page=3").json()
    assert [d["tag"] for d in bats["detections"]] == ["bat"] * 3
    assert bats["has_more"] is True
    rest = client.get("/api/detections?tag=bat&per_page=3&page=2").json()
    assert len(rest["detections"]) == 1 and rest["has_more"] is False
    # The player starts just before the call, on the slowed-down time scale.
    first = bats["detections"][0]
    assert first["playback_start"] == round((first["start_time"] - 0.05) * 10, 3)
    strong = client.get("/api/detections?min_score=0.9&deployment=north").json()
    assert sorted(d["score"] for d in strong["detections"]) == [0.9, 0.95]
    page = client.get("/detections?tag=frog")
    assert page.text.count('class="detection"') == 1


@pytest.mark.parametrize(
    "url, status, words",
    [
        ("/api/detections?min_score=2", 400, "between 0 and 1"),
        ("/api/detections?min_score=abc", 400, "number from 0 to 1"),
        ("/api/detections?since=yesterday", 400, "is not a date"),
        ("/api/detections?page=0", 400, "page must be between"),
        ("/api/detections?per_page=x", 400, "whole number"),
        ("/api/summary?by=week", 400, "day' or 'hour"),
        ("/api/recordings/not-an-id", 404, "no recording"),
        ("/api/recordings/00000000-0000-0000-0000-000000000000", 404, "no recording"),
        ("/media/recordings/..%2F..%2Fetc%2Fpasswd/audio.wav", 404, "nothing at"),
        ("/media/recordings/%2Fetc%2Fpasswd/audio.wav", 404, ""),
        ("/static/../../system/atomic.py", 404, ""),
        ("/nowhere", 404, "nothing at /nowhere"),
    ],
)
def test_bad_requests_get_clear_4xx(
    client: TestClient, url: str, status: int, words: str
) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert "Traceback" not in response.text
    assert words in response.text


def test_bad_filter_on_a_page_is_an_html_400(client: TestClient) -> None:
    response = client.get("/detections?since=31/12/2024")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "is not a date" in response.text


def test_pages_render(client: TestClient, installation: Installation) -> None:
    recording = installation.recordings[0]
    for url in (
        "/",
        "/detections",
        "/recordings",
        "/settings",
        f"/recordings/{recording.id}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/recordings/{recording.id}").text
    assert "test north" in page  # GUANO note


def test_settings_mask_secrets(client: TestClient) -> None:
    text = client.get("/api/settings").text
    assert "hunter22" not in text
    assert "***" in text
    from acoupi.dashboard.views import _mask

    masked = _mask(
        {
            "tag_key": "event",
            "mqtt": {"password": "p", "api_key": "k", "host": "h"},
            "broker_url": "amqp://guest:secret@host//",
        }
    )
    assert masked == {
        "tag_key": "event",
        "mqtt": {"password": "***", "api_key": "***", "host": "h"},
        "broker_url": "amqp://***@host//",
    }


def test_spectrogram_sizes_and_cache(
    client: TestClient, installation: Installation
) -> None:
    recording, detection = installation.pairs[0]
    url = f"/media/recordings/{recording.id}/spectrogram.png"
    cache = installation.settings.home / "cache" / "dashboard"
    before = set(cache.rglob("*.png"))
    full = client.get(url)
    assert full.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(full.content)).size == (1000, 300)
    thumb = client.get(f"{url}?detection={detection.id}")
    image = Image.open(io.BytesIO(thumb.content)).convert("RGB")
    assert image.size == (240, 120)
    # The highlighted box is drawn in white.
    pixels = [image.getpixel((x, y)) for x in range(240) for y in range(120)]
    assert pixels.count((255, 255, 255)) > 50
    assert len(set(cache.rglob("*.png")) - before) == 2
    client.get(url)  # served from the cache: nothing new
    assert len(set(cache.rglob("*.png")) - before) == 2
    assert client.get(f"{url}?detection=nope").status_code == 404


def test_ultrasonic_playback_is_time_expanded(
    client: TestClient, installation: Installation
) -> None:
    recording = installation.recordings[0]
    response = client.get(f"/media/recordings/{recording.id}/playback.wav")
    with wave.open(io.BytesIO(response.content)) as handle:
        assert handle.getframerate() == SAMPLERATE // 10
        assert handle.getnframes() == SAMPLERATE  # every sample kept
    original = client.get(f"/media/recordings/{recording.id}/audio.wav")
    assert original.content == recording.path.read_bytes()  # type: ignore[union-attr]
    assert "attachment" in original.headers["content-disposition"]


def test_metrics_in_prometheus_format(
    client: TestClient, installation: Installation
) -> None:
    text = client.get("/metrics").text
    lines = {
        line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert float(lines["acoupi_recordings_total"]) == 6
    assert float(lines['acoupi_detections_total{key="event",tag="bat"}']) == 4
    assert float(lines["acoupi_seconds_since_last_recording"]) > 1700
    assert any(key.startswith("acoupi_disk_free_bytes{") for key in lines)
    assert "# TYPE acoupi_recordings_total counter" in text
    # Byte counts in full, not 6.82867e+10 (QA F12).
    free = [v for k, v in lines.items() if k.startswith("acoupi_disk_free_bytes{")]
    assert all(value.isdigit() for value in free), free
    # Without a system status the backlog is unknown, but the gauge is there.
    assert lines["acoupi_detection_backlog"] == "NaN"


def test_metrics_have_the_backlog_from_the_first_scrape(
    fresh_installation: Installation, run_acoupi: Callable[..., Any]
) -> None:
    """The first scrape waits for `deployment status` instead of leaving it out."""
    setup = run_acoupi(
        "setup", "--program", "triggered", "--no-prompt",
        "--microphone.device_name", "simulated", "--microphone.samplerate", "384000",
        "--paths.db_metadata", str(fresh_installation.db),
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    app = create_app(fresh_installation.settings, DashboardConfig())
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        text = test_client.get("/metrics").text
    assert "\nacoupi_detection_backlog 0\n" in text, text


@pytest.fixture
def remote_client(installation: Installation):  # type: ignore[no-untyped-def]
    config = DashboardConfig(password_hash=hash_password("correct horse"))
    app = create_app(
        installation.settings, config, host="127.0.0.2", system_status=False
    )
    with TestClient(app, base_url="http://127.0.0.2") as test_client:
        yield test_client


def test_non_loopback_demands_the_password(remote_client: TestClient) -> None:
    page = remote_client.get("/detections?tag=bat", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/detections%3Ftag%3Dbat"
    assert remote_client.get("/api/overview").status_code == 401
    assert remote_client.get("/metrics").status_code == 401
    wrong = remote_client.post("/login", content=b"password=nope")
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    login = remote_client.post(
        "/login?next=/detections",
        content=b"password=correct+horse",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert login.status_code == 303 and login.headers["location"] == "/detections"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "correct" not in cookie
    assert remote_client.get("/api/overview").status_code == 200


def test_basic_auth_for_scrapers(remote_client: TestClient) -> None:
    assert (
        remote_client.get("/metrics", auth=("prometheus", "correct horse")).status_code
        == 200
    )
    assert (
        remote_client.get("/metrics", auth=("prometheus", "wrong")).status_code == 401
    )


def test_login_never_redirects_off_site(remote_client: TestClient) -> None:
    login = remote_client.post(
        "/login?next=//evil.example/",
        content=b"password=correct+horse",
        follow_redirects=False,
    )
    assert login.headers["location"] == "/"


def test_system_status_comes_from_the_status_command(
    installation: Installation,
) -> None:
    """A real `acoupi deployment status` child: here it says what is missing."""
    import time

    from acoupi.dashboard.health import StatusCache

    cache = StatusCache(installation.settings)
    assert cache.get()[0:2] == (None, None)
    deadline = time.monotonic() + 60
    while cache.get()[2] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    status, error, _ = cache.get()
    assert status is None
    assert error is not None and "acoupi setup" in error


def test_everything_the_pages_load_ships_in_the_package() -> None:
    """Offline: no CDN, no web font; the vendored chart library is there."""
    import re
    from pathlib import Path

    import acoupi.dashboard

    folder = Path(acoupi.dashboard.__file__).parent
    for path in [*folder.glob("templates/*.html"), *folder.glob("static/*.*")]:
        text = path.read_text()
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), path
        assert "@import" not in text and "url(http" not in text, path
    assert (folder / "static/vendor/uplot/uPlot.iife.min.js").stat().st_size > 10_000
    assert (folder / "static/vendor/uplot/LICENSE").is_file()


def test_schedule_reason_overrides_a_recent_file(installation: Installation) -> None:
    """A run that just stopped: files are fresh but nothing records now."""
    from acoupi.dashboard.overview import build_overview
    from acoupi.dashboard.state import Dashboard

    dashboard = Dashboard.create(
        installation.settings, DashboardConfig(), password_required=False
    )
    status = {"outlook": {"recording_now": False, "reason": "no deployment is active"}}
    dashboard.status.get = lambda: (status, None, 1.0)  # type: ignore[method-assign]
    recording = build_overview(dashboard)["recording"]
    assert recording == {
        "recording": False,
        "age_s": recording["age_s"],
        "text": "Not recording: no deployment is active.",
        "level": "warn",  # not a fault: amber, not red (QA F10)
    }


def test_no_alarm_before_the_status_says_whether_to_record(
    installation: Installation,
) -> None:
    """The first look, before `deployment status` answered (QA F10)."""
    from acoupi.dashboard.overview import build_overview
    from acoupi.dashboard.state import Dashboard

    dashboard = Dashboard.create(
        installation.settings, DashboardConfig(), password_required=False
    )
    dashboard.status.get = lambda: (None, None, None)  # type: ignore[method-assign]
    recording = build_overview(dashboard)["recording"]
    assert recording["level"] == "warn"
    assert recording["text"].startswith("No new recording for 30 min")
    assert recording["text"].endswith("checking whether a deployment is active.")
    # Known to be recording but overdue: that is a fault.
    status = {"outlook": {"recording_now": True}}
    dashboard.status.get = lambda: (status, None, 1.0)  # type: ignore[method-assign]
    recording = build_overview(dashboard)["recording"]
    assert recording["level"] == "bad" and "expected every 10 s" in recording["text"]
