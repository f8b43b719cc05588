"""The embedded broker: settings per installation, errors, queue depths."""

from pathlib import Path

import pytest

from acoupi.system.broker import (
    broker_paths,
    celery_conf_for,
    check_embedded_broker,
    is_embedded,
    purge_queues,
    queue_depths,
)
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import CeleryUnavailableError
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program


def test_default_is_the_embedded_broker_in_the_home(settings: Settings) -> None:
    config = CeleryConfig()
    assert is_embedded(config)
    conf = celery_conf_for(config, settings)
    paths = broker_paths(settings)
    assert paths.root == settings.home / "broker"
    assert conf["broker_url"] == "filesystem://"
    assert conf["broker_transport"] == "acoupi.system.broker:Transport"
    options = conf["broker_transport_options"]
    assert options["data_folder_in"] == options["data_folder_out"] == str(paths.queue)
    assert options["control_folder"] == str(paths.control)
    assert options["store_processed"] is False
    assert conf["result_backend"] == f"file://{paths.results}"
    assert all(folder.is_dir() for folder in paths.all())


def test_explicit_options_override_the_embedded_ones(settings: Settings) -> None:
    config = CeleryConfig(broker_transport_options={"polling_interval": 2.0})
    options = celery_conf_for(config, settings)["broker_transport_options"]
    assert options["polling_interval"] == 2.0
    assert options["data_folder_in"] == str(broker_paths(settings).queue)


@pytest.mark.parametrize(
    "url", ["pyamqp://guest:guest@127.0.0.1:5672//", "redis://127.0.0.1:6379/15"]
)
def test_explicit_urls_pass_through(settings: Settings, url: str) -> None:
    config = CeleryConfig(broker_url=url, result_backend="rpc://")
    assert not is_embedded(config)
    assert celery_conf_for(config, settings) == config.as_celery_conf()
    assert not broker_paths(settings).root.exists()


def test_unwritable_broker_folder_is_explained(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    # A file where the folder should be: fails even for root, unlike chmod.
    (settings.home / "broker").write_text("not a folder")
    with pytest.raises(CeleryUnavailableError) as caught:
        check_embedded_broker(settings)
    assert str(settings.home / "broker" / "queue") in caught.value.message
    assert "--broker_url" in (caught.value.help or "")


def test_queue_depths_and_purge_on_the_embedded_broker(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")
    program = load_program(settings)
    for _ in range(3):
        program.tasks["test_task"].apply_async(queue="celery")
    program.tasks["test_task"].apply_async(queue="other")
    assert queue_depths(program.app, ["celery", "other", "missing"]) == {
        "celery": 3,
        "other": 1,
        "missing": 0,
    }
    assert purge_queues(program.app, ["celery"]) == {"celery": 3}
    assert queue_depths(program.app, ["celery"]) == {"celery": 0}
    files = list(Path(broker_paths(settings).queue).iterdir())
    assert len(files) == 1  # the "other" message, as a file in the home


def test_torn_or_empty_message_files_never_crash_a_consumer(
    settings: Settings,
) -> None:
    setup_program(settings, "acoupi.programs.test")
    program = load_program(settings)
    paths = broker_paths(settings)
    # What a power cut (or kombu's own non-atomic write) can leave behind.
    (paths.queue / "0_00000000-0000-0000-0000-000000000000.celery.msg").write_bytes(b"")
    program.tasks["test_task"].apply_async(queue="celery")
    with program.app.connection_for_read() as connection:
        queue = connection.SimpleQueue("celery", no_ack=True, accept=["pickle"])
        message = queue.get(timeout=5)
        assert message.headers["task"] == "test_task"
        queue.close()
    assert [p.name for p in paths.unreadable.iterdir()] == [
        "0_00000000-0000-0000-0000-000000000000.celery.msg"
    ]
    assert not [p for p in paths.queue.iterdir() if p.is_file()]


def test_embedded_queue_depths_agree_with_kombu(settings: Settings) -> None:
    # queue_depths counts the embedded broker's files itself (no kombu for a
    # status); kombu's channel must give the same answer, orphans included.
    import subprocess

    setup_program(settings, "acoupi.programs.test")
    program = load_program(settings)
    for queue in ("celery", "celery", "celery", "other"):
        program.tasks["test_task"].apply_async(queue=queue)
    paths = broker_paths(settings)
    dead = subprocess.Popen(["true"])
    dead.wait()

    def orphan() -> None:
        # A message claimed by a consumer that died (kill -9, power cut).
        message = next(p for p in sorted(paths.queue.iterdir()) if ".celery." in p.name)
        folder = paths.claimed / f"{dead.pid}-0"
        folder.mkdir(exist_ok=True)
        message.rename(folder / message.name)

    def kombu_depths(queues: list[str]) -> dict[str, int]:
        with program.app.connection_for_read() as connection:
            channel = connection.channel()
            return {
                q: channel.queue_declare(queue=q, passive=True).message_count
                for q in queues
            }

    queues = ["celery", "other", "missing"]
    expected = {"celery": 3, "other": 1, "missing": 0}
    orphan()
    assert queue_depths(program.app, queues) == expected
    orphan()
    assert kombu_depths(queues) == expected
