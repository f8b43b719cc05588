"""Exchange tables of the embedded broker survive workers starting together.

Found by the kill -9 test: ``acoupi run`` forks its workers at the same
instant, kombu's in-place update let them tear ``celery.pidbox.exchange``,
and every restarted worker then died on it.
"""

import json
import logging
import multiprocessing
from pathlib import Path

import pytest
from kombu import Exchange, Queue

from acoupi.system import broker_exchanges
from acoupi.system.broker import broker_paths
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program
from fault_support import FaultTable

WORKERS = 8
ROUNDS = 10


def _bind_at_once(
    path: str, queue: str, barrier: "multiprocessing.synchronize.Barrier"
) -> None:
    barrier.wait()
    broker_exchanges.bind(Path(path), ("", "", queue))


def test_workers_binding_at_the_same_instant_all_end_up_in_the_table(
    tmp_path: Path, fault_table: FaultTable
) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        table = tmp_path / f"round{round_}.exchange"
        barrier = context.Barrier(WORKERS)
        workers = [
            context.Process(
                target=_bind_at_once, args=(str(table), f"w{i}.pidbox", barrier)
            )
            for i in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
            assert worker.exitcode == 0
        rows = json.loads(table.read_text())
        assert sorted(queue for _, _, queue in rows) == sorted(
            f"w{i}.pidbox" for i in range(WORKERS)
        )
    fault_table.add(
        "workers start together",
        f"{WORKERS} processes bind one exchange at one instant, {ROUNDS} times",
        databases_intact=True,
        visible="nothing to see: every binding kept, the table whole",
    )


def test_binding_twice_keeps_one_row_and_unbinding_removes_it(tmp_path: Path) -> None:
    table = tmp_path / "celery.exchange"
    broker_exchanges.bind(table, ("celery", "", "celery"))
    broker_exchanges.bind(table, ("celery", "", "celery"))
    broker_exchanges.bind(table, ("other", "", "other"))
    assert broker_exchanges.read_table(table) == [
        ("other", "", "other"),
        ("celery", "", "celery"),
    ]
    broker_exchanges.unbind(table, ("celery", "", "celery"))
    assert broker_exchanges.read_table(table) == [("other", "", "other")]
    assert table.stat().st_mode & 0o777 == 0o600


def test_a_torn_table_is_logged_and_repaired_by_the_next_binding(
    settings: Settings, caplog: pytest.LogCaptureFixture, fault_table: FaultTable
) -> None:
    setup_program(settings, "acoupi.programs.test")
    program = load_program(settings)
    # Kombu remembers exchanges per process: a name of this test's own.
    table = broker_paths(settings).control / "torn.pidbox.exchange"
    # What kombu's in-place update left behind (as seen after the kill -9 test).
    table.write_text('[["", "", "recording@vm.celery.pidbox"]]ault@vm.celery.pidbox"]]')
    exchange = Exchange("torn.pidbox", type="fanout")
    with program.app.connection_for_write() as connection:
        channel = connection.channel()
        with caplog.at_level(logging.WARNING):
            assert channel.get_table("torn.pidbox") == []
            Queue("default@vm.celery.pidbox", exchange)(channel).declare()
        assert [queue for *_, queue in channel.get_table("torn.pidbox")] == [
            "default@vm.celery.pidbox"
        ]
    assert "is damaged" in caplog.text
    assert str(table) in caplog.text
    assert json.loads(table.read_text()) == [["", "", "default@vm.celery.pidbox"]]
    fault_table.add(
        "torn exchange table",
        "garbage after the JSON of a broker exchange table",
        databases_intact="repaired",
        visible="warning naming the file; the next binding rewrites it",
    )


def test_invalid_exchange_names_are_refused(settings: Settings) -> None:
    from kombu.exceptions import ChannelError

    setup_program(settings, "acoupi.programs.test")
    program = load_program(settings)
    with program.app.connection_for_write() as connection:
        channel = connection.channel()
        for name in ("../escape", ".hidden"):
            with pytest.raises(ChannelError, match="Invalid exchange name"):
                channel.get_table(name)
