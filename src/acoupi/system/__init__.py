"""Manage an acoupi installation: config, programs, workers and deployments.

Names are imported from their submodules on first use, so that commands
which only need a path or a config value do not pay for importing Celery.
"""

from typing import TYPE_CHECKING

from acoupi._lazy import lazy_exports

__all__ = [
    "AcoupiStatus",
    "Settings",
    "delete_recording",
    "disable_services",
    "dump_config",
    "enable_services",
    "end_deployment",
    "get_celery_app",
    "get_celery_status",
    "get_config_field",
    "get_current_deployment",
    "get_status",
    "get_system_timezone",
    "get_task_list",
    "get_temp_file_id",
    "get_temp_files",
    "is_configured",
    "load_config",
    "load_config_schema",
    "load_program",
    "load_program_class",
    "move_recording",
    "parse_config_from_args",
    "profile_task",
    "purge_queues",
    "restart_workers",
    "run_celery_command",
    "run_task",
    "services_are_installed",
    "set_config_field",
    "set_system_timezone",
    "setup_program",
    "start_deployment",
    "start_program",
    "start_services",
    "start_workers",
    "status_services",
    "stop_program",
    "stop_services",
    "stop_workers",
    "write_config",
    "write_program_file",
]

_SUBMODULE_OF = {
    "AcoupiStatus": "state",
    "Settings": "constants",
    "delete_recording": "files",
    "disable_services": "services",
    "dump_config": "config",
    "enable_services": "services",
    "end_deployment": "deployments",
    "get_celery_app": "apps",
    "get_celery_status": "celery",
    "get_config_field": "config",
    "get_current_deployment": "deployments",
    "get_status": "state",
    "get_system_timezone": "datetime",
    "get_task_list": "tasks",
    "get_temp_file_id": "files",
    "get_temp_files": "files",
    "is_configured": "state",
    "load_config": "config",
    "load_config_schema": "programs",
    "load_program": "programs",
    "load_program_class": "programs",
    "move_recording": "files",
    "parse_config_from_args": "config",
    "profile_task": "tasks",
    "purge_queues": "celery",
    "restart_workers": "celery",
    "run_celery_command": "celery",
    "run_task": "tasks",
    "services_are_installed": "services",
    "set_config_field": "config",
    "set_system_timezone": "datetime",
    "setup_program": "lifecycle",
    "start_deployment": "deployments",
    "start_program": "lifecycle",
    "start_services": "services",
    "start_workers": "celery",
    "status_services": "services",
    "stop_program": "lifecycle",
    "stop_services": "services",
    "stop_workers": "celery",
    "write_config": "config",
    "write_program_file": "programs",
}


__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE_OF)


if TYPE_CHECKING:
    from acoupi.system.apps import get_celery_app
    from acoupi.system.celery import (
        get_celery_status,
        purge_queues,
        restart_workers,
        run_celery_command,
        start_workers,
        stop_workers,
    )
    from acoupi.system.config import (
        dump_config,
        get_config_field,
        load_config,
        parse_config_from_args,
        set_config_field,
        write_config,
    )
    from acoupi.system.constants import Settings
    from acoupi.system.datetime import get_system_timezone, set_system_timezone
    from acoupi.system.deployments import (
        end_deployment,
        get_current_deployment,
        start_deployment,
    )
    from acoupi.system.files import (
        delete_recording,
        get_temp_file_id,
        get_temp_files,
        move_recording,
    )
    from acoupi.system.lifecycle import setup_program, start_program, stop_program
    from acoupi.system.programs import (
        load_config_schema,
        load_program,
        load_program_class,
        write_program_file,
    )
    from acoupi.system.services import (
        disable_services,
        enable_services,
        services_are_installed,
        start_services,
        status_services,
        stop_services,
    )
    from acoupi.system.state import AcoupiStatus, get_status, is_configured
    from acoupi.system.tasks import get_task_list, profile_task, run_task
