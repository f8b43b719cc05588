"""The forker's cases (``forker_cases.py``), each in a fresh interpreter.

Forking refuses while another thread runs, as it must; earlier tests in
this process may leave threads behind (a simulated microphone's, numpy's
BLAS pool), so the cases cannot share the suite's process.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CASES_FILE = Path(__file__).with_name("forker_cases.py")
CASES = [
    node.name
    for node in ast.parse(CASES_FILE.read_text()).body
    if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
]


@pytest.mark.parametrize("case", CASES)
def test_forker_case(case: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", f"{CASES_FILE}::{case}",
            "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "case"),
        ],
        capture_output=True,
        text=True,
        timeout=110,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
