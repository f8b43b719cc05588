"""The run's own cap on native thread pools: numpy loaded under it starts none."""

import os
import subprocess
import sys

import pytest

from acoupi.runtime.native_threads import single_thread_pools
from acoupi.system.model_threads import THREAD_VARIABLES


def test_unset_variables_are_1_in_the_block_and_unset_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    others = [name for name in THREAD_VARIABLES if name != "OPENBLAS_NUM_THREADS"]
    with single_thread_pools() as before:
        assert os.environ["OPENBLAS_NUM_THREADS"] == "3"  # the user's, kept
        assert all(os.environ[name] == "1" for name in others)
        assert before["OPENBLAS_NUM_THREADS"] == "3"
        assert not any(name in before for name in others)
        assert before["ACOUPI_HOME"] == os.environ["ACOUPI_HOME"]
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
    assert not any(name in os.environ for name in others)


def _threads_after_importing_numpy(capped: bool) -> int:
    script = (
        "import os\n"
        "from acoupi.runtime.native_threads import single_thread_pools\n"
        f"if {capped}:\n"
        "    with single_thread_pools():\n"
        "        import numpy\n"
        "else:\n"
        "    import numpy\n"
        "print(len(os.listdir('/proc/self/task')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(result.stdout)


def test_numpy_loaded_in_the_block_starts_no_thread() -> None:
    if _threads_after_importing_numpy(capped=False) == 1:
        pytest.skip("numpy starts no thread here (one CPU): nothing to prevent")
    assert _threads_after_importing_numpy(capped=True) == 1
