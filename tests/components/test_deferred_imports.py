"""Components import their heavy libraries when they first need them.

Every command that loads a program builds its messenger and model; only a
worker sending a message or analysing audio needs httpx, paho or numpy.
Each case runs in a fresh interpreter and reports which of those libraries
are loaded before and after the component's first real use.
"""

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("httpx", "httpcore", "paho", "numpy", "ssl")

_PRELUDE = """
import json, sys
def loaded():
    return sorted(name for name in {heavy!r} if name in sys.modules)
"""

CASES = {
    "http": (
        """
        from acoupi import data
        from acoupi.components.messengers import HTTPConfig, HTTPMessenger
        messenger = HTTPMessenger.from_config(HTTPConfig(base_url="http://127.0.0.1:1/"))
        message = data.Message(content="{}")
        before = loaded()
        # Nothing listens on port 1: refused at once, and reported.
        response = messenger.send_message(message)
        assert response.status == data.ResponseStatus.FAILED, response
        """,
        {"httpx", "httpcore"},
    ),
    "mqtt": (
        """
        from acoupi.components.messengers import MQTTConfig, MQTTMessenger
        messenger = MQTTMessenger.from_config(MQTTConfig(host="127.0.0.1", port=1))
        before = loaded()
        assert not messenger.client.is_connected()
        """,
        {"paho"},
    ),
    "model": (
        """
        from acoupi.components.models.energy_detector import BandEnergyDetectorConfig
        from acoupi.system.health import without_self_tests
        detector = BandEnergyDetectorConfig().build()
        with without_self_tests():
            detector.check()  # the configuration only
        before = loaded()
        detector.check()  # and the self-test on a synthetic tone
        """,
        {"numpy"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_use_imports_what_building_did_not(case: str) -> None:
    code, needed = CASES[case]
    script = (
        _PRELUDE.format(heavy=HEAVY)
        + textwrap.dedent(code)
        + "print(json.dumps([before, loaded()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr

    before, after = json.loads(result.stdout.strip().splitlines()[-1])

    assert before == []
    assert needed <= set(after), after
