"""A module for forked children in tests: reports what it sees, then acts.

``main([action, ...])``: ``report`` prints its session, name, folder, an
environment variable and its parent, then exits with code 7; ``sleep``
sleeps (to be signalled); ``exit N`` calls ``sys.exit(N)``; ``modules M...``
prints which of the modules are imported; ``raise`` raises.
"""

import os
import sys
import time
from pathlib import Path
from typing import List


def main(args: List[str]) -> int:
    action = args[0]
    if action == "report":
        print(f"session leader: {os.getsid(0) == os.getpid()}")
        print(f"name: {Path('/proc/self/comm').read_text().strip()}")
        print(f"cwd: {os.getcwd()}")
        print(f"PROBE_VALUE: {os.environ.get('PROBE_VALUE')}")
        print(f"parent: {os.getppid()}")
        print("stderr works", file=sys.stderr)
        return 7
    if action == "sleep":
        print("sleeping", flush=True)
        time.sleep(600)
        return 0
    if action == "exit":
        sys.exit(int(args[1]))
    if action == "modules":
        for name in args[1:]:
            print(f"{name}: {name in sys.modules}")
        return 0
    raise RuntimeError("the probe was told to fail")
