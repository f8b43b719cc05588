"""Run the acoupi command line with ``python -m acoupi``."""

from acoupi.cli import acoupi

if __name__ == "__main__":
    acoupi(prog_name="acoupi")
