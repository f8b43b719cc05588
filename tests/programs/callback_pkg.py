"""A program whose callbacks run on a dedicated queue and worker."""

import os
import socket
from pathlib import Path

from pydantic import BaseModel

from acoupi.programs import AcoupiProgram, AcoupiWorker, WorkerConfig


class CallbackConfig(BaseModel):
    out_dir: Path


class CallbackProgram(AcoupiProgram[CallbackConfig]):
    config_schema = CallbackConfig
    worker_config = WorkerConfig(
        workers=[
            AcoupiWorker(name="producer", queues=["produce"], concurrency=1),
            AcoupiWorker(name="consumer", queues=["consume"], concurrency=1),
            AcoupiWorker(name="default", queues=["celery"]),
        ]
    )

    def setup(self, config: CallbackConfig) -> None:
        out_dir = config.out_dir

        def produce() -> str:
            return "hello"

        def consume(value: str) -> None:
            from celery import current_task

            worker = current_task.request.hostname or socket.gethostname()
            (out_dir / "consumed.txt").write_text(f"{value} {worker} {os.getpid()}")

        self.add_task(
            produce, callbacks=[consume], queue="produce", callback_queue="consume"
        )
