"""Tests of acoupi.system.deployments against real files in the isolated home."""

import datetime
import json

import pytest

from acoupi.data import Deployment
from acoupi.system.constants import Settings
from acoupi.system.deployments import (
    InvalidDeploymentError,
    end_deployment,
    get_current_deployment,
    load_deployment_from_file,
    start_deployment,
    write_deployment_to_file,
)
from acoupi.system.exceptions import DeploymentError


def test_start_writes_the_deployment_file(settings: Settings) -> None:
    deployment = start_deployment(settings, "site-1", latitude=51.5, longitude=-0.1)

    assert deployment.name == "site-1"
    assert deployment.started_on.tzinfo is not None
    assert deployment.ended_on is None
    stored = json.loads(settings.deployment_file.read_text())
    assert stored["name"] == "site-1"
    assert stored["latitude"] == 51.5
    assert "ended_on" not in stored
    assert get_current_deployment(settings) == deployment


def test_optional_fields_are_left_out_of_the_file(settings: Settings) -> None:
    start_deployment(settings, "site")

    stored = json.loads(settings.deployment_file.read_text())
    assert set(stored) == {"id", "name", "started_on"}


def test_starting_twice_fails_with_help(settings: Settings) -> None:
    first = start_deployment(settings, "first")

    with pytest.raises(DeploymentError) as info:
        start_deployment(settings, "second")

    assert info.value.message.startswith("Acoupi has already been deployed")
    assert "first" in info.value.message
    assert info.value.help is not None
    assert "acoupi deployment stop" in info.value.help
    assert get_current_deployment(settings) == first


def test_no_deployment_yet(settings: Settings) -> None:
    with pytest.raises(DeploymentError) as info:
        get_current_deployment(settings)

    assert info.value.message == "Acoupi has not been deployed yet."
    assert info.value.help is not None
    assert "acoupi deployment start" in info.value.help


def test_end_sets_ended_on_and_keeps_the_record(settings: Settings) -> None:
    started = start_deployment(settings, "site")

    ended = end_deployment(settings)

    assert ended.id == started.id
    assert ended.ended_on is not None
    assert ended.ended_on >= started.started_on
    assert load_deployment_from_file(settings.deployment_file) == ended
    with pytest.raises(DeploymentError, match="already ended"):
        get_current_deployment(settings)


def test_end_without_deployment_fails_with_help(settings: Settings) -> None:
    with pytest.raises(DeploymentError) as info:
        end_deployment(settings)

    assert "No deployment is running" in info.value.message
    assert info.value.help


def test_end_twice_fails(settings: Settings) -> None:
    start_deployment(settings, "site")
    end_deployment(settings)

    with pytest.raises(DeploymentError, match="already ended"):
        end_deployment(settings)


def test_a_new_deployment_can_start_after_the_last_ended(settings: Settings) -> None:
    start_deployment(settings, "first")
    end_deployment(settings)

    second = start_deployment(settings, "second")

    assert get_current_deployment(settings) == second


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latitude": 200}, "latitude must be between -90 and 90, got 200"),
        ({"longitude": -181.5}, "longitude must be between -180 and 180, got -181.5"),
        ({"latitude": float("nan")}, "latitude must be between -90 and 90, got nan"),
    ],
)
def test_invalid_coordinates_give_a_plain_value_error(
    settings: Settings, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        start_deployment(settings, "site", **kwargs)

    assert isinstance(info.value, InvalidDeploymentError)
    assert str(info.value) == message
    assert "validation error" not in str(info.value)
    assert not settings.deployment_file.exists()


def test_wrong_type_is_explained(settings: Settings) -> None:
    with pytest.raises(InvalidDeploymentError) as info:
        start_deployment(settings, "site", latitude="north")  # type: ignore[arg-type]

    assert str(info.value).startswith("latitude: Input should be a valid number")
    assert "got 'north'" in str(info.value)


def test_empty_name_is_rejected(settings: Settings) -> None:
    with pytest.raises(InvalidDeploymentError, match="name must not be empty"):
        start_deployment(settings, "  ")


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"name": "x", "started_on": "yesterday"}', "[]", ""],
)
def test_corrupt_file_gives_deployment_error_with_help(
    settings: Settings, content: str
) -> None:
    settings.deployment_file.parent.mkdir(parents=True)
    settings.deployment_file.write_text(content)

    for action in (get_current_deployment, end_deployment):
        with pytest.raises(DeploymentError) as info:
            action(settings)
        assert "is corrupt" in info.value.message
        assert str(settings.deployment_file) in info.value.message
        assert info.value.help is not None

    # Refuse to start over an unreadable record: a deployment may be running.
    with pytest.raises(InvalidDeploymentError):
        start_deployment(settings, "site")


def test_binary_file_is_corrupt(settings: Settings) -> None:
    settings.deployment_file.parent.mkdir(parents=True)
    settings.deployment_file.write_bytes(b"\xff\xfe\x00")

    with pytest.raises(InvalidDeploymentError, match="not text"):
        get_current_deployment(settings)


def test_load_missing_file_raises_file_not_found(settings: Settings) -> None:
    with pytest.raises(FileNotFoundError):
        load_deployment_from_file(settings.deployment_file)


def test_round_trip_keeps_timezone(tmp_path) -> None:
    started = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)
    deployment = Deployment(name="x", started_on=started, latitude=1.0)
    path = tmp_path / "nested" / "deployment.json"

    write_deployment_to_file(deployment, path)

    loaded = load_deployment_from_file(path)
    assert loaded == deployment
    assert loaded.started_on.tzinfo is not None
    # Atomic write: no temp file left behind.
    assert [p.name for p in path.parent.iterdir()] == ["deployment.json"]


def test_naive_datetimes_in_old_files_are_read_as_utc(settings: Settings) -> None:
    settings.deployment_file.parent.mkdir(parents=True)
    settings.deployment_file.write_text(
        '{"id":"7d3a6c1e-8a0e-4d59-8c0b-1a2b3c4d5e6f","name":"old",'
        '"started_on":"2023-01-01T00:00:00"}'
    )

    deployment = get_current_deployment(settings)

    assert deployment.started_on.tzinfo is not None
