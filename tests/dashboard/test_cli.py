"""`acoupi detections`, `acoupi recordings` and `acoupi dashboard` commands."""

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner
from dashboard_support import Installation

from acoupi.cli import acoupi
from acoupi.dashboard.exports import RAVEN_COLUMNS
from acoupi.system.constants import Settings
from acoupi.system.dashboard_settings import config_path, load_config


def invoke(settings: Settings, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(acoupi, list(args), obj={"settings": settings})


def test_csv_export_parses_and_matches_the_store(
    fresh_installation: Installation, run_acoupi: Callable[..., Any]
) -> None:
    installation = fresh_installation
    result = run_acoupi("detections", "export", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    stored = {d.id: (r, d) for r, d in installation.pairs}
    assert len(rows) == len(stored)
    for row in rows:
        recording, detection = stored[__import__("uuid").UUID(row["detection_id"])]
        assert row["recording_id"] == str(recording.id)
        assert float(row["score"]) == detection.detection_score
        start, low, end, high = detection.location.coordinates  # type: ignore[union-attr]
        assert float(row["start_time"]) == start and float(row["high_freq"]) == high
        assert row["tag"] == detection.tags[0].tag.value
        assert row["recording_path"] == str(recording.path)
    times = [row["recording_time"] for row in rows]
    assert times == sorted(times)  # exports come in time order


def test_raven_tables_match_the_stored_detections(
    installation: Installation, tmp_path: Path
) -> None:
    out = tmp_path / "selections"
    result = invoke(
        installation.settings,
        "detections",
        "export",
        "--format",
        "raven",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    with_detections = [
        r
        for r in installation.recordings
        if any(p[0].id == r.id for p in installation.pairs)
    ]
    assert len(files) == len(with_detections)
    for recording in with_detections:
        table = out / f"{recording.path.stem}.Table.1.selections.txt"  # type: ignore[union-attr]
        lines = list(csv.reader(table.read_text().splitlines(), delimiter="\t"))
        assert tuple(lines[0]) == RAVEN_COLUMNS
        expected = sorted(
            (d.location.coordinates, d.tags[0].tag.value, d.detection_score)  # type: ignore[union-attr]
            for r, d in installation.pairs
            if r.id == recording.id
        )
        got = [
            (
                (float(line[3]), float(line[5]), float(line[4]), float(line[6])),
                line[7],
                float(line[8]),
            )
            for line in lines[1:]
        ]
        assert [row[1:] for row in got] == [row[1:] for row in expected]
        for (coords, _, _), (want, _, _) in zip(got, expected, strict=True):
            assert coords == tuple(
                round(v, 6) if i % 2 == 0 else round(v, 1) for i, v in enumerate(want)
            )
        assert [line[0] for line in lines[1:]] == [str(i) for i in range(1, len(lines))]
        assert all(line[9] == recording.path.name for line in lines[1:])  # type: ignore[union-attr]


def test_json_export_and_list(installation: Installation, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    result = invoke(
        installation.settings,
        "detections",
        "export",
        "--format",
        "json",
        "-o",
        str(target),
        "--tag",
        "bat",
    )
    assert result.exit_code == 0, result.output
    items = json.loads(target.read_text())
    assert len(items) == 4 and {item["tag"] for item in items} == {"bat"}
    listed = invoke(
        installation.settings, "detections", "list", "--json", "--min-score", "0.9"
    )
    assert sorted(d["score"] for d in json.loads(listed.output)["detections"]) == [
        0.9,
        0.95,
    ]


def test_summary_and_recordings(installation: Installation) -> None:
    summary = json.loads(
        invoke(installation.settings, "detections", "summary", "--json").output
    )
    totals: dict = {}
    for item in summary:
        totals[item["tag"]] = totals.get(item["tag"], 0) + item["count"]
    assert totals == {"bat": 4, "bird": 2, "frog": 1}
    plain = invoke(installation.settings, "detections", "summary", "--by", "hour")
    assert plain.output.splitlines()[0].split("\t") == [
        "hour (UTC)",
        "bat",
        "bird",
        "frog",
        "total",
    ]
    listing = json.loads(invoke(installation.settings, "recordings", "--json").output)
    assert [r["detections"] for r in listing["recordings"]] == [2, 1, 1, 0, 2, 1]
    assert listing["recordings"][0]["path"] == str(installation.recordings[0].path)


def test_bad_input_is_explained(installation: Installation, settings: Settings) -> None:
    result = invoke(
        installation.settings, "detections", "list", "--since", "last tuesday"
    )
    assert result.exit_code == 2 and "is not a date" in result.output
    result = invoke(installation.settings, "detections", "export", "--format", "raven")
    assert result.exit_code == 2 and "give a folder" in result.output


def test_no_database_yet(settings: Settings) -> None:
    result = invoke(settings, "recordings")
    assert result.exit_code == 1
    assert "nothing has been recorded yet" in result.output
    assert "Traceback" not in result.output


def test_network_bind_needs_a_password(settings: Settings) -> None:
    result = invoke(settings, "dashboard", "--host", "0.0.0.0")
    assert result.exit_code == 1
    assert "no password is set" in result.output
    assert "acoupi dashboard password" in result.output
    short = invoke(settings, "dashboard", "password", "--password", "abc")
    assert short.exit_code == 2 and "at least 8" in short.output
    ok = invoke(settings, "dashboard", "password", "--password", "long enough pw")
    assert ok.exit_code == 0, ok.output
    assert "long enough pw" not in config_path(settings).read_text()
    assert config_path(settings).stat().st_mode & 0o777 == 0o600
    assert load_config(settings).password_hash
    enabled = invoke(
        settings, "dashboard", "enable", "--host", "0.0.0.0", "--port", "8123",
        "--time-expansion", "20",
    )  # fmt: skip
    assert enabled.exit_code == 0, enabled.output
    config = load_config(settings)
    assert (config.enabled, config.host, config.port) == (True, "0.0.0.0", 8123)
    assert config.time_expansion == 20


def test_run_dashboard_child_serves_then_stops(
    settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    """`acoupi run --dashboard`'s child: serves while the block runs, then ends."""
    import socket
    import time
    import urllib.request

    from acoupi.dashboard.child import dashboard_process
    from acoupi.system.dashboard_settings import DashboardConfig, save_config

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    save_config(settings, DashboardConfig(port=port))
    # The environment the run gives its children, not the run's own.
    environment = {**os.environ, "ACOUPI_TEST_GIVEN": "yes"}
    with dashboard_process(settings, environment=environment) as process:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as page:
                    assert page.status == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        # Read once it serves: between fork and exec, /proc shows no environment.
        given = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
        assert b"ACOUPI_TEST_GIVEN=yes" in given
    assert process.returncode is not None
    # The run already printed the address (QA F24): the child says nothing.
    assert "Dashboard of" not in capfd.readouterr().out


def test_run_dashboard_refuses_a_network_bind_without_password(
    settings: Settings,
) -> None:
    from acoupi.system.dashboard_settings import DashboardConfig, save_config
    from acoupi.system.lifecycle import setup_program

    setup_program(settings, "acoupi.programs.test", args=[], prompt=False)
    save_config(settings, DashboardConfig(host="0.0.0.0"))
    result = invoke(settings, "run", "--dashboard", "--duration", "1", "--no-live")
    assert result.exit_code == 1
    assert "no password is set" in result.output
    assert not (settings.run_dir / "acoupi.pid").exists()  # nothing started


def test_port_taken_is_explained(settings: Settings) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(settings, "dashboard", "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output
    # Not first a line saying it serves there (QA F11).
    assert "Dashboard of" not in result.output and "Ctrl-C" not in result.output


@pytest.mark.parametrize(
    ("host", "said", "not_said"),
    [
        ("127.0.0.2", "on an address other than 127.0.0.1", "from the network"),
        ("::ffff:127.0.0.5", "other than 127.0.0.1", "from the network"),
        ("0.0.0.0", "reachable from the network on 0.0.0.0", "other than"),
        ("192.168.1.20", "reachable from the network", "other than"),
    ],
)
def test_an_address_without_password_is_refused_in_true_words(
    settings: Settings, host: str, said: str, not_said: str
) -> None:
    """127.0.0.2 is loopback: refused, but not as 'reachable from the network'."""
    result = invoke(settings, "dashboard", "--host", host)
    assert result.exit_code == 1
    assert said in result.output and "no password is set" in result.output
    assert not_said not in result.output


def test_a_database_not_upgraded_yet_is_explained(
    fresh_installation: Installation,
) -> None:
    import sqlite3

    from starlette.testclient import TestClient

    from acoupi.dashboard.app import create_app
    from acoupi.system.dashboard_settings import DashboardConfig

    with sqlite3.connect(fresh_installation.db) as writer:
        writer.execute("PRAGMA user_version = 1")
    writer.close()
    result = invoke(fresh_installation.settings, "recordings")
    assert result.exit_code == 1
    assert "written by an older acoupi" in result.output
    app = create_app(
        fresh_installation.settings, DashboardConfig(), system_status=False
    )
    with TestClient(app) as client:
        page = client.get("/detections")
    assert page.status_code == 503
    assert "Start acoupi once" in page.text


def test_a_damaged_database_is_explained(settings: Settings) -> None:
    from dashboard_support import make_installation

    installation = make_installation(settings)
    installation.db.write_bytes(b"this is not a database at all" * 200)
    for suffix in ("-wal", "-shm"):
        installation.db.with_name(installation.db.name + suffix).unlink(missing_ok=True)
    result = invoke(settings, "detections", "list")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert str(installation.db) in result.output


@pytest.mark.parametrize("command", ["list", "summary", "export"])
def test_unknown_tag_or_deployment_lists_the_known_ones(
    installation: Installation, command: str
) -> None:
    """A typo is told apart from 'nothing heard' (QA F14)."""
    tag = invoke(installation.settings, "detections", command, "--tag", "nosuch")
    assert tag.exit_code == 0, tag.output
    assert "No detection has the tag 'nosuch'" in tag.output
    assert "bat, bird, frog" in tag.output
    deployment = invoke(
        installation.settings, "detections", command, "--deployment", "nosuch"
    )
    assert deployment.exit_code == 0, deployment.output
    assert "No deployment is named 'nosuch'" in deployment.output
    assert "north, south" in deployment.output
    if command == "list":
        recordings = invoke(installation.settings, "recordings", "--deployment", "x")
        assert "No deployment is named 'x'" in recordings.output
    # A known tag with no match in the period is not called unknown.
    known = invoke(
        installation.settings, "detections", command, "--tag", "bat", "--since",
        "2099-01-01",
    )  # fmt: skip
    assert "No detection has the tag" not in known.output
