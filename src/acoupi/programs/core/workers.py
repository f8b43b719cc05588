"""Which Celery workers a program needs and which queues they consume."""

from typing import List, Optional

from pydantic import BaseModel, Field, field_validator

__all__ = ["DEFAULT_WORKER_CONFIG", "AcoupiWorker", "WorkerConfig"]


class AcoupiWorker(BaseModel):
    """One Celery worker process.

    ``queues`` empty means the worker consumes Celery's default queue.
    """

    name: str
    queues: List[str] = Field(default_factory=list)
    concurrency: Optional[int] = None


class WorkerConfig(BaseModel):
    """The set of workers a program runs."""

    workers: List[AcoupiWorker] = Field(default_factory=list)

    @field_validator("workers")
    @classmethod
    def _unique_names(cls, workers: List[AcoupiWorker]) -> List[AcoupiWorker]:
        names = [worker.name for worker in workers]
        if len(names) != len(set(names)):
            raise ValueError("Worker names must be unique.")
        return workers

    def queue_names(self) -> List[str]:
        """Return every queue named by a worker, in first-seen order."""
        return list(dict.fromkeys(q for w in self.workers for q in w.queues))


DEFAULT_WORKER_CONFIG = WorkerConfig(
    workers=[
        AcoupiWorker(name="recording", queues=["recording"], concurrency=1),
        AcoupiWorker(name="default", queues=["celery"]),
    ]
)
"""Recording on its own single-slot worker, everything else on another."""
