"""The dashboard in a real headless Chromium over data from a real run.

The triggered program records the simulated microphone's soundscape (bat
calls every 2 s, birds now and then) at 192 kHz for about 25 s with
``acoupi run --dashboard``; the browser watches the overview update live,
then checks every page against the store. Screenshots go to the test's
folder, or to ``$ACOUPI_SCREENSHOT_DIR`` when set (how docs/screenshots
was made).
"""

import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

from helpers import stop_process

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "field technician"
ROWS = "rows => rows.map(r => {})"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("ACOUPI_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/services)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # Playwright gives every launch a fresh, temporary profile.
            args=CHROMIUM_ARGS,
        )
        try:
            yield browser
        finally:
            browser.close()


def _store_counts(db: Path) -> Dict[str, int]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        recordings, detections = connection.execute(
            "SELECT (SELECT count(*) FROM recording), (SELECT count(*) FROM detection)"
        ).fetchone()
    finally:
        connection.close()
    return {"recordings": recordings, "detections": detections}


def _serve(env: Dict[str, str], host: str, port: int) -> "subprocess.Popen[bytes]":
    process = subprocess.Popen(
        [sys.executable, "-m", "acoupi", "dashboard"]
        + ["--host", host, "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
    )
    _wait_for(
        lambda: _get(f"http://{host}:{port}/login")[0] == 200, 30, "the dashboard"
    )
    return process


def test_dashboard_over_a_real_run(
    run_acoupi: Callable[..., Any],
    cli_env: Dict[str, str],
    isolated_home: Path,
    browser: Any,
    screenshots: Path,
) -> None:
    from PIL import Image

    from acoupi.system.constants import Settings
    from acoupi.system.dashboard_settings import DashboardConfig, save_config

    setup = run_acoupi(
        "setup", "--program", "acoupi.programs.triggered", "--no-prompt",
        "--microphone.device_name", "simulated",
        "--microphone.samplerate", "192000",
        "--recording.duration", "3", "--recording.interval", "3",
        "--paths.tmp_audio", str(isolated_home / "tmp"),
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    settings = Settings(home=isolated_home / ".acoupi")
    port = _free_port()
    save_config(settings, DashboardConfig(port=port))
    base = f"http://127.0.0.1:{port}"
    db = isolated_home / "storages" / "metadata.db"

    # 1. A run with the dashboard: the overview updates without reloading.
    run = subprocess.Popen(
        [sys.executable, "-m", "acoupi", "run", "--dashboard", "--duration", "24",
         "--no-live", "--name", "browser"],
        env=cli_env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for(
            lambda: _get(f"{base}/api/overview")[0] == 200, 60, "a first recording"
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(base + "/")
        first = int(page.text_content("#total-recordings") or "0")
        page.wait_for_function(
            "Number(document.querySelector('#total-recordings').textContent)"
            f" > {first}",
            timeout=30_000,
        )
        assert page.evaluate("document.body.dataset.updated")  # polled, not reloaded
    finally:
        output = run.communicate(timeout=90)[0].decode()
    assert run.returncode == 0, output
    assert "Dashboard on http://127.0.0.1" in output
    with pytest.raises(OSError):  # the run stopped its dashboard
        urllib.request.urlopen(f"{base}/login", timeout=2)

    # 2. The pages over the run's data.
    server = _serve(cli_env, "127.0.0.1", port)
    try:
        counts = _store_counts(db)
        assert counts["recordings"] >= 5 and counts["detections"] >= 5
        # The system status comes from a child `acoupi deployment status`.
        status = _wait_for(
            lambda: (
                json.loads(_get(f"{base}/api/overview")[1])["status"]["age_s"]
                is not None
            ),
            60,
            "the system status",
        )
        assert status
        page.goto(base + "/")
        page.wait_for_selector("#chart .uplot")
        assert int(page.text_content("#total-recordings") or "") == counts["recordings"]
        assert int(page.text_content("#total-detections") or "") == counts["detections"]
        assert "Deployment" in (page.text_content("#system") or "")
        page.wait_for_function(
            "Array.from(document.querySelectorAll('#latest-recordings img'))"
            ".every(i => i.complete && i.naturalWidth === 480)",
            timeout=30_000,
        )
        page.screenshot(path=str(screenshots / "overview.png"), full_page=True)

        page.goto(base + "/detections?per_page=10")
        tags = page.eval_on_selector_all(".detection", ROWS.format("r.dataset.tag"))
        assert len(tags) == 10 and "bat" in tags
        assert set(tags) <= {"bat", "bird"}
        first_page = page.eval_on_selector_all(
            ".detection", ROWS.format("r.dataset.id")
        )
        page.click("#next-page")
        second_page = page.eval_on_selector_all(
            ".detection", ROWS.format("r.dataset.id")
        )
        assert second_page and not set(first_page) & set(second_page)
        page.select_option("#filter-tag", "bird")
        page.fill("#filter-score", "0.5")
        page.click("#filters button[type=submit]")
        page.wait_for_load_state()
        rows = page.eval_on_selector_all(
            ".detection", ROWS.format("[r.dataset.tag, Number(r.dataset.score)]")
        )
        assert all(tag == "bird" and score >= 0.5 for tag, score in rows)
        page.goto(base + "/detections?tag=bat&per_page=8")
        page.wait_for_function(
            "Array.from(document.querySelectorAll('img.thumb'))"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        sizes = page.eval_on_selector_all(
            "img.thumb", "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])"
        )
        assert sizes and all(size == [240, 120] for size in sizes)
        thumb_src = page.get_attribute("img.thumb", "src")
        image = Image.open(io.BytesIO(_get(base + str(thumb_src))[1])).convert("RGB")
        white = sum(
            image.getpixel((x, y)) == (255, 255, 255)
            for x in range(image.width)
            for y in range(image.height)
        )
        assert white > 50  # the detection's box
        page.screenshot(path=str(screenshots / "detections.png"), full_page=True)

        # Playable, time-expanded audio: 3 s at 192 kHz plays for 30 s.
        duration = page.evaluate(
            """() => new Promise((resolve, reject) => {
                const audio = document.querySelector('audio');
                audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
                audio.addEventListener('error', () => reject(audio.error.code));
                audio.preload = 'metadata'; audio.load();
            })"""
        )
        assert abs(duration - 30.0) < 0.5
        played = page.evaluate(
            "() => document.querySelector('audio').play()"
            ".then(() => true, e => String(e))"
        )
        assert played is True

        recording_id = page.get_attribute(".detection a", "href")
        page.goto(base + str(recording_id))
        page.wait_for_function(
            "document.querySelector('#full-spectrogram').complete"
            " && document.querySelector('#full-spectrogram').naturalWidth === 1000"
        )
        assert page.locator("#guano").count() == 1
        assert "bat" in (page.text_content("#recording-detections") or "")
        page.screenshot(path=str(screenshots / "recording.png"), full_page=True)
        page.goto(base + "/settings")
        page.screenshot(path=str(screenshots / "settings.png"), full_page=True)

        # Refused requests get a 4xx page, not a traceback.
        for url, status in (
            ("/media/recordings/..%2F..%2F..%2Fetc%2Fpasswd/audio.wav", 404),
            ("/media/recordings/not-a-uuid/audio.wav", 404),
            ("/recordings/00000000-0000-0000-0000-000000000000", 404),
            ("/detections?since=next+week", 400),
            ("/detections?min_score=lots", 400),
            ("/detections?page=-1", 400),
        ):
            response = page.goto(base + url)
            assert response is not None and response.status == status, url
            assert "Traceback" not in page.content()
        page.goto(base + "/detections?since=next+week")
        assert "is not a date" in (page.text_content("#error-message") or "")
        page.screenshot(path=str(screenshots / "error.png"))
    finally:
        stop_process(server, 10)

    # 3. Beyond 127.0.0.1 the password is demanded.
    refused = run_acoupi("dashboard", "--host", "127.0.0.2", "--port", str(port))
    assert refused.returncode == 1 and "no password is set" in refused.stderr
    set_password = run_acoupi("dashboard", "password", "--password", PASSWORD)
    assert set_password.returncode == 0, set_password.stderr
    remote = _serve(cli_env, "127.0.0.2", port)
    try:
        other = browser.new_page()
        other.goto(f"http://127.0.0.2:{port}/detections")
        assert other.url.startswith(f"http://127.0.0.2:{port}/login")
        other.screenshot(path=str(screenshots / "login.png"))
        assert _get(f"http://127.0.0.2:{port}/api/overview")[0] == 401
        other.fill("#password", "wrong password")
        other.click("button[type=submit]")
        assert "Wrong password" in (other.text_content("#login-error") or "")
        other.fill("#password", PASSWORD)
        other.click("button[type=submit]")
        other.wait_for_selector("#detections")
        assert other.url == f"http://127.0.0.2:{port}/detections"
    finally:
        stop_process(remote, 10)
