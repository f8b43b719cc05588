"""Each installation's data folders are its own by default."""

from pathlib import Path

import pytest

from acoupi.programs.templates.basic import PathsConfiguration
from acoupi.programs.templates.messaging import MessagingConfig
from acoupi.system.folders import (
    OWNER_FILE,
    claim_folder,
    default_temp_dir,
    folder_owner,
    make_own_folder,
)


def test_default_installation_keeps_upstreams_storages(isolated_home: Path) -> None:
    # ACOUPI_HOME is ~/.acoupi here (the default): data in ~/storages.
    paths = PathsConfiguration()
    assert paths.tmp_audio == isolated_home / "storages" / "tmp_audio"
    assert paths.recordings == isolated_home / "storages" / "recordings"
    assert paths.db_metadata == isolated_home / "storages" / "metadata.db"
    assert MessagingConfig().messages_db == isolated_home / "storages" / "messages.db"


def test_a_second_installation_gets_its_own_folders(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = tmp_path / "second"
    monkeypatch.setenv("ACOUPI_HOME", str(second))
    paths = PathsConfiguration()
    assert paths.tmp_audio == second / "storages" / "tmp_audio" == default_temp_dir()
    assert paths.db_metadata == second / "storages" / "metadata.db"
    assert MessagingConfig().messages_db == second / "storages" / "messages.db"
    # Never the machine-wide RAM folder every installation used to share.
    assert not str(paths.tmp_audio).startswith("/run/shm")


def test_a_folder_made_for_an_installation_is_marked_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "waiting"
    make_own_folder(folder, "/a/metadata.db")
    assert folder_owner(folder) == "/a/metadata.db"
    assert claim_folder(folder, "/a/metadata.db")
    assert not claim_folder(folder, "/b/metadata.db")
    existing = tmp_path / "existing"
    existing.mkdir()
    make_own_folder(existing, "/a/metadata.db")  # there before: not claimed
    assert not (existing / OWNER_FILE).exists()


def test_shared_system_folders_are_never_claimed() -> None:
    assert not claim_folder(Path("/tmp"), "/a/metadata.db")
    assert not (Path("/tmp") / OWNER_FILE).exists()
