"""Paths and Celery settings of an acoupi installation."""

import os
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

__all__ = ["CeleryConfig", "Settings"]

STANDARD_QUEUES = ("celery", "recording", "detection")
"""Queues acoupi's program templates route tasks to."""

RAW_DUMP = {"acoupi_raw": True}
"""``model_dump(context=RAW_DUMP)`` gives a :class:`CeleryConfig`'s fields as
stored, without placing the embedded broker in a home."""

PoolType = Literal["threads", "prefork", "eventlet", "gevent", "solo", "processes"]

# Each derived path, relative to ``home``. Unlike upstream, a path that is not
# set explicitly follows ``home``, so ``ACOUPI_HOME=/x`` moves everything.
_DERIVED_PATHS = {
    "program_name_file": ("config", "name"),
    "program_config_file": ("config", "program.json"),
    "celery_config_file": ("config", "celery.json"),
    "deployment_file": ("config", "deployment.json"),
    "env_file": ("config", "env"),
    "run_dir": ("run",),
    "log_dir": ("log",),
    "start_script_path": ("bin", "acoupi-workers-start.sh"),
    "stop_script_path": ("bin", "acoupi-workers-stop.sh"),
    "restart_script_path": ("bin", "acoupi-workers-restart.sh"),
    "beat_script_path": ("bin", "acoupi-beat.sh"),
}


def _default_home() -> Path:
    return Path.home() / ".acoupi"


def _derived(*parts: str) -> Any:
    """Field default under the default home; ``_follow_home`` re-bases it."""
    return Field(default_factory=lambda: _default_home().joinpath(*parts))


class Settings(BaseModel):
    """Where acoupi keeps its files, read from ``ACOUPI_*`` variables.

    Every path defaults to a place under ``home``; setting ``ACOUPI_HOME``
    (or ``home=``) moves all of them unless a path is set on its own.
    Values given as arguments win over variables (names are matched
    case-insensitively, as pydantic-settings does).

    Upstream derives this class from ``pydantic_settings.BaseSettings``;
    reading the few variables here keeps pydantic-settings, and the asyncio,
    ssl, email and dotenv modules it imports, out of every acoupi process
    (about 60 ms and 15-25 MB RSS each; see ``docs/compatibility.md``).
    """

    env_prefix: ClassVar[str] = "ACOUPI_"
    """Prefix of the environment variables read, as upstream's ``env_prefix``."""

    @model_validator(mode="before")
    @classmethod
    def _read_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        environ = {
            key.upper(): value
            for key, value in os.environ.items()
            if key.upper().startswith(cls.env_prefix)
        }
        merged = dict(data)
        for name in cls.model_fields:
            variable = f"{cls.env_prefix}{name}".upper()
            if name not in merged and variable in environ:
                merged[name] = environ[variable]
        return merged

    home: Path = Field(default_factory=_default_home)
    app_name: str = "app"
    program_file: Path = _derived("app.py")
    program_name_file: Path = _derived("config", "name")
    program_config_file: Path = _derived("config", "program.json")
    celery_config_file: Path = _derived("config", "celery.json")
    deployment_file: Path = _derived("config", "deployment.json")
    env_file: Path = _derived("config", "env")
    run_dir: Path = _derived("run")
    log_dir: Path = _derived("log")
    log_level: str = "INFO"
    start_script_path: Path = _derived("bin", "acoupi-workers-start.sh")
    stop_script_path: Path = _derived("bin", "acoupi-workers-stop.sh")
    restart_script_path: Path = _derived("bin", "acoupi-workers-restart.sh")
    beat_script_path: Path = _derived("bin", "acoupi-beat.sh")
    acoupi_service_file: str = "acoupi.service"
    acoupi_beat_service_file: str = "acoupi-beat.service"
    acoupi_dashboard_service_file: str = "acoupi-dashboard.service"
    celery_pool_type: PoolType = "threads"

    @model_validator(mode="after")
    def _follow_home(self) -> "Settings":
        explicit = self.model_fields_set
        for name, parts in _DERIVED_PATHS.items():
            if name not in explicit:
                object.__setattr__(self, name, self.home.joinpath(*parts))
        if "program_file" not in explicit:
            object.__setattr__(self, "program_file", self.home / f"{self.app_name}.py")
        return self


class CeleryConfig(BaseModel):
    """Celery settings of an acoupi installation, stored as ``celery.json``.

    ``CeleryConfig().model_dump()`` is a working Celery configuration on its
    own, as acoupi 0.3 plugins and their tests use it
    (``Celery().config_from_object(...)``, Celery's pytest ``celery_config``
    fixture): the bare embedded broker and result backend are placed in the
    current home (``$ACOUPI_HOME`` or ``~/.acoupi``), folders created when
    missing; and acoupi's standard queues (:data:`STANDARD_QUEUES`) are
    declared, so a worker started without ``-Q`` serves a detection
    program's tasks. JSON dumps (``celery.json``) keep the bare URLs and
    declare no queue, so a saved configuration follows its home and
    acoupi's own workers keep their ``-Q``.
    """

    enable_utc: bool = True
    """Keep Celery's clock in UTC so deployments agree with each other."""

    timezone: str = "UTC"
    """Timezone Celery uses for schedules."""

    broker_url: str = "filesystem://"
    """URL of the message broker.

    The default ``filesystem://`` is the embedded broker: queues are files
    under ``<home>/broker`` (see :mod:`acoupi.system.broker`), no daemon
    needed. RabbitMQ (``pyamqp://guest@localhost//``) or Redis
    (``redis://localhost:6379/0``) can be set with ``acoupi setup ...
    --broker_url <url>``.
    """

    broker_transport_options: Dict[str, Any] = Field(default_factory=dict)
    """Extra transport options; for the embedded broker they override the
    defaults of :func:`acoupi.system.broker.celery_conf_for` (e.g.
    ``{"polling_interval": 1.0}``)."""

    broker_connection_retry_on_startup: bool = True
    """Retry connecting to the broker at start-up and after a lost connection."""

    result_backend: str = "file://"
    """Where task results go; ``file://`` means result files under
    ``<home>/broker/results`` (``rpc://`` sends them back to the caller,
    with RabbitMQ or Redis)."""

    result_persistent: bool = False
    """Results are not kept: all data that matters lives in the stores."""

    task_serializer: str = "pickle"
    result_serializer: str = "pickle"
    accept_content: List[str] = Field(default_factory=lambda: ["pickle"])

    task_acks_late: bool = True
    """Acknowledge a task only after it ran, so a crash re-delivers it."""

    worker_prefetch_multiplier: int = 1
    """Take one task at a time so a fast task never waits behind a slow one."""

    task_soft_time_limit: int = 30
    """Seconds before a task is asked to stop."""

    beat_max_loop_interval: int = Field(default=1, gt=0)
    """Longest sleep of Celery beat between schedule checks, in seconds (as
    acoupi 0.8): clock-aligned schedules (``acoupi.tasks.aligned_schedule``)
    then fire within a second of their slot."""

    task_time_limit: int = 60
    """Seconds before a task is killed."""

    @model_serializer(mode="wrap")
    def _standalone(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Dict[str, Any]:
        fields: Dict[str, Any] = handler(self)
        context = info.context or {}
        if info.mode_is_json() or context.get("acoupi_raw"):
            return fields
        # Imported here: the broker module imports this one.
        from acoupi.system.broker import place_embedded

        conf = place_embedded(fields, Settings())
        # A worker started without -Q (Celery's test worker) serves only the
        # queues declared when it starts; declare those acoupi's programs
        # route to, so a plugin's detection_task.delay() gets run.
        conf.setdefault(
            "task_queues",
            {q: {"exchange": q, "routing_key": q} for q in STANDARD_QUEUES},
        )
        return conf

    def as_celery_conf(self) -> dict[str, Any]:
        """Return the settings as stored, for ``Celery.config_from_object``.

        The embedded broker's bare URLs are kept: pass the result through
        :func:`acoupi.system.broker.celery_conf_for` to place them in a home.
        """
        return self.model_dump(context=RAW_DUMP)
