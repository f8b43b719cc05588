"""A program whose tasks get stuck, for the time limit tests.

``spin_task`` loops in Python for a minute and writes ``interrupted`` to the
file named in the config when its soft time limit interrupts it;
``block_task`` sleeps in one C call, which only the hard limit can end.
"""

import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel

from acoupi.programs.core.base import AcoupiProgram


class StuckConfig(BaseModel):
    marker: Path


class StuckProgram(AcoupiProgram[StuckConfig]):
    config_schema = StuckConfig

    def setup(self, config: StuckConfig) -> None:
        def spin_task() -> None:
            try:
                end = time.monotonic() + 60
                while time.monotonic() < end:
                    time.sleep(0.05)
            except SoftTimeLimitExceeded:
                config.marker.write_text("interrupted")
                raise

        def block_task() -> None:
            time.sleep(600)

        self.add_task(spin_task)
        self.add_task(block_task)
