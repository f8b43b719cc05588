"""Every public name of the reference documents imports from its documented
module, with the documented parameters (acoupi 0.3 programs rely on them)."""

import importlib
import inspect

import pytest

# module -> names documented there (../shared/reference/*).
NAMES = {
    "acoupi.system": [
        "AcoupiStatus", "Settings", "delete_recording", "disable_services",
        "dump_config", "enable_services", "end_deployment", "get_celery_app",
        "get_celery_status", "get_config_field", "get_current_deployment",
        "get_status", "get_task_list", "get_temp_file_id", "get_temp_files",
        "is_configured", "load_config", "load_config_schema", "load_program",
        "load_program_class", "move_recording", "parse_config_from_args",
        "profile_task", "purge_queues", "restart_workers", "run_celery_command",
        "run_task", "services_are_installed", "set_config_field",
        "setup_program", "start_deployment", "start_program", "start_services",
        "start_workers", "status_services", "stop_program", "stop_services",
        "stop_workers", "write_config", "write_program_file",
    ],
    "acoupi.system.apps": ["get_celery_app"],
    "acoupi.system.celery": [
        "CeleryState", "CeleryStatus", "WorkerState", "WorkerStatus",
        "get_celery_bin", "get_celery_status", "purge_queue", "purge_queues",
        "restart_workers", "run_celery_command", "start_workers", "stop_workers",
    ],
    "acoupi.system.config": [
        "dump_config", "get_config_field", "load_config", "set_config_field",
        "write_config", "parse_config_from_args",
    ],
    "acoupi.system.config.parsers": [
        "parse_config_from_args", "parse_field_from_args",
        "parse_pydantic_model_field_from_args", "parse_list_field_from_args",
        "parse_tuple_field_from_args", "build_simple_field_parser",
        "parse_simple_field_from_args", "parse_secret_str_field", "cast_to_bool",
        "parse_time", "parse_date", "should_prompt", "get_field_dtype",
        "get_field_default", "TIME_FORMAT", "FIELD_PARSERS",
    ],
    "acoupi.system.config.operations": ["PydanticJSONEncoder"],
    "acoupi.system.constants": ["CeleryConfig", "Settings"],
    "acoupi.system.deployments": [
        "end_deployment", "get_current_deployment", "load_deployment_from_file",
        "start_deployment", "write_deployment_to_file",
    ],
    "acoupi.system.exceptions": [
        "ConfigurationError", "DeploymentError", "HealthCheckError",
        "InvalidProgramError", "ParameterError", "ProgramNotFoundError",
    ],
    "acoupi.system.files": [
        "DEFAULT_AUDIO_STORAGE", "TEMP_PATH", "delete_recording", "get_temp_dir",
        "get_temp_file", "get_temp_file_id", "get_temp_files",
        "get_temp_files_paths", "move_recording",
    ],
    "acoupi.system.lifecycle": ["setup_program", "start_program", "stop_program"],
    "acoupi.system.programs": [
        "ProgramState", "get_program_state", "load_config_schema", "load_program",
        "load_program_class", "load_worker_config", "write_program_file",
    ],
    "acoupi.system.scripts": [
        "get_celery_bin", "give_executable_permissions", "write_beat_script",
        "write_scripts", "write_workers_restart_script",
        "write_workers_start_script", "write_workers_stop_script",
    ],
    "acoupi.system.services": [
        "ServiceStatus", "disable_services", "enable_services",
        "get_acoupi_beat_service_status", "get_acoupi_service_status",
        "get_service_status", "get_user_unit_dir", "install_services",
        "services_are_installed", "start_services", "status_services",
        "stop_services", "uninstall_services",
    ],
    "acoupi.system.state": [
        "AcoupiStatus", "ServicesStatus", "get_status", "is_configured",
    ],
    "acoupi.system.tasks": ["get_task_list", "profile_task", "run_task"],
    "acoupi.system.templates": ["env", "render_template"],
    "acoupi.data": [
        "TimeInterval", "Deployment", "Recording", "Tag", "PredictedTag",
        "Detection", "ModelOutput", "Message", "ResponseStatus", "Response",
        "BoundingBox",
    ],
    "acoupi.components": [
        "After_DawnDuskTimeInterval", "Before_DawnDuskTimeInterval",
        "DateFileManager", "DetectionTagValue", "DetectionTags",
        "DetectionThresholdMessageBuilder", "FrequencySchedule",
        "FullModelOutputMessageBuilder", "HTTPConfig", "HTTPMessenger",
        "IDFileManager", "IntervalScheduler", "IsInInterval", "IsInIntervals",
        "MQTTConfig", "MQTTMessenger", "MicrophoneConfig", "PyAudioRecorder",
        "SaveIfInInterval", "SaveRecordingManager", "SavingThreshold",
        "SqliteMessageStore", "SqliteStore", "StatisticsDetectionsSummariser",
        "ThresholdDetectionCleaner", "ThresholdsDetectionsSummariser",
    ],
    "acoupi.components.types": [
        "AudioRecorder", "MessageBuilder", "MessageStore", "Messenger", "Model",
        "ModelOutputCleaner", "P", "ProcessingFilter", "RecordingCondition",
        "RecordingSavingFilter", "RecordingSavingManager", "RecordingScheduler",
        "Store", "Summariser",
    ],
    "acoupi.components.audio_recorder": [
        "PyAudioRecorder", "MicrophoneConfig", "parse_microphone_config", "TMP_PATH",
    ],
    "acoupi.components.recording_conditions": [
        "IsInInterval", "IsInIntervals", "DawnTimeInterval",
    ],
    "acoupi.components.processing_filters": ["TrivialProcessingFilter"],
    "acoupi.components.model_template": ["TestModel"],
    "acoupi.components.saving_managers": ["BaseFileManager"],
    "acoupi.devices": [
        "get_rpi_serial_number", "get_rpi_host_name", "get_device_id", "is_rpi",
    ],
    "acoupi.devices.audio": [
        "DeviceInfo", "get_input_devices", "get_input_device_by_name",
        "has_input_audio_device", "get_default_microphone", "parse_device_name",
    ],
    "acoupi.tasks": [
        "generate_detection_task", "generate_file_management_task",
        "generate_recording_task", "generate_send_messages_task",
        "generate_summariser_task", "generate_heartbeat_task",
    ],
    "acoupi.tasks.heartbeat": ["Heartbeat"],
    "acoupi.programs": [
        "AcoupiProgram", "AcoupiWorker", "WorkerConfig", "ProgramConfig",
        "NoUserPrompt", "DEFAULT_WORKER_CONFIG",
    ],
    "acoupi.programs.templates": [
        "AudioConfiguration", "BasicProgram", "BasicProgramConfiguration",
        "DetectionProgram", "DetectionProgramConfiguration",
        "DetectionsConfiguration", "MessagingConfig", "MessagingProgram",
        "MessagingProgramConfiguration", "PathsConfiguration",
    ],
    "acoupi.programs.test": ["TestConfigSchema", "TestProgram"],
    "acoupi.programs.default": ["ConfigSchema", "Program", "SaveRecordingFilter"],
    "acoupi.programs.connected": [
        "Connected_ConfigSchema", "Program", "SaveRecordingFilter",
    ],
    "acoupi.cli": ["acoupi", "config", "deployment", "task", "workers"],
}  # fmt: skip

# callable -> its documented leading parameters, in order.
PARAMETERS = {
    "acoupi.system.config.get_config_field": ["config", "field"],
    "acoupi.system.config.set_config_field": [
        "config", "field", "value", "is_json", "strict", "from_attributes",
    ],
    "acoupi.system.config.parse_config_from_args": ["schema", "args", "prompt"],
    "acoupi.system.config.parsers.parse_field_from_args": [
        "field_name", "field", "args", "prompt", "prefix",
    ],
    "acoupi.system.config.load_config": ["path", "schema"],
    "acoupi.system.config.write_config": ["config", "path"],
    "acoupi.system.config.dump_config": ["config", "indent"],
    "acoupi.system.deployments.start_deployment": [
        "settings", "name", "latitude", "longitude",
    ],
    "acoupi.system.lifecycle.setup_program": [
        "settings", "program_name", "args", "prompt",
    ],
    "acoupi.system.lifecycle.start_program": [
        "settings", "name", "latitude", "longitude",
    ],
    "acoupi.system.celery.start_workers": ["settings", "pool", "log_level"],
    "acoupi.system.celery.stop_workers": ["settings", "log_level"],
    "acoupi.system.celery.restart_workers": ["settings", "log_level"],
    "acoupi.system.celery.run_celery_command": [
        "settings", "args", "with_app", "quiet",
    ],
    "acoupi.system.tasks.get_task_list": ["program", "include_celery_tasks"],
    "acoupi.system.tasks.run_task": ["program", "task_name", "recording"],
    "acoupi.system.tasks.profile_task": ["program", "task_name"],
    "acoupi.system.files.get_temp_dir": ["in_memory"],
    "acoupi.system.files.move_recording": ["recording", "dest", "logger"],
    "acoupi.system.services.install_services": ["settings", "path"],
    "acoupi.system.scripts.write_scripts": ["config", "settings", "celery_bin"],
    "acoupi.system.programs.write_program_file": ["program_name", "settings"],
    "acoupi.system.exceptions.ParameterError": ["value", "message", "help"],
    "acoupi.system.exceptions.ConfigurationError": ["message", "help"],
    "acoupi.components.PyAudioRecorder": [
        "duration", "samplerate", "audio_channels", "device_name", "chunksize",
        "audio_dir", "logger",
    ],
    "acoupi.components.MQTTMessenger": [
        "host", "topic", "port", "username", "password", "timeout", "logger",
    ],
    "acoupi.components.HTTPMessenger": [
        "base_url", "base_params", "headers", "timeout", "content_type", "logger",
    ],
    "acoupi.components.SaveRecordingManager": [
        "dirpath", "dirpath_true", "dirpath_false", "timeformat",
        "detection_threshold", "saving_threshold", "logger",
    ],
    "acoupi.components.StatisticsDetectionsSummariser": ["store", "interval"],
    "acoupi.components.ThresholdsDetectionsSummariser": [
        "store", "interval", "low_band_threshold", "mid_band_threshold",
        "high_band_threshold",
    ],
    "acoupi.tasks.generate_recording_task": [
        "recorder", "store", "logger", "recording_conditions",
    ],
    "acoupi.tasks.generate_detection_task": [
        "store", "model", "message_store", "logger", "output_cleaners",
        "processing_filters", "message_factories",
    ],
    "acoupi.tasks.generate_file_management_task": [
        "store", "file_managers", "logger", "file_filters", "required_models",
        "tmp_path",
    ],
    "acoupi.tasks.generate_send_messages_task": [
        "message_store", "messengers", "logger",
    ],
    "acoupi.tasks.generate_summariser_task": ["summarisers", "message_store", "logger"],
    "acoupi.tasks.generate_heartbeat_task": ["messengers", "logger"],
    "acoupi.programs.AcoupiProgram.add_task": [
        "self", "function", "callbacks", "schedule", "queue", "name",
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, ns in NAMES.items() for n in ns]
)
def test_name_imports_from_its_module(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name)


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(dotted)


@pytest.mark.parametrize("dotted", sorted(PARAMETERS))
def test_documented_parameters(dotted: str) -> None:
    parameters = list(inspect.signature(_resolve(dotted)).parameters)  # type: ignore[arg-type]
    expected = PARAMETERS[dotted]
    assert parameters[: len(expected)] == expected
