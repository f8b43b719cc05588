"""``acoupi logs``: show what the workers and the scheduler wrote."""

import time
from pathlib import Path
from typing import Dict, List, Optional

import click

from acoupi.cli.context import get_settings, needs_setup

__all__ = ["logs"]


def _tail(path: Path, lines: int) -> List[str]:
    # Log files can grow large over a season: read only the end.
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        start = max(0, size - 256 * 1024)
        handle.seek(start)
        text = handle.read().decode("utf-8", errors="replace")
    found = text.splitlines()
    if start > 0:
        found = found[1:]  # begins mid-line
    return found[-lines:] if lines else []


def _log_files(log_dir: Path, name: Optional[str]) -> List[Path]:
    files = sorted(log_dir.glob("*.log"))
    if name is not None:
        files = [path for path in files if path.stem == name]
    return files


@click.command(short_help="Show the workers' and scheduler's logs.")
@click.option(
    "-n", "--lines", default=20, show_default=True, help="Lines per log to show."
)
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C."
)
@click.argument("name", required=False)
@click.pass_context
@needs_setup
def logs(ctx: click.Context, lines: int, follow: bool, name: Optional[str]) -> None:
    """Show the end of each log (or only NAME, e.g. `recording` or `beat`).

    Workers and the scheduler write to files in the log folder whether they
    run as systemd services or under `acoupi run`; services also log to
    the journal (`journalctl --user -u acoupi`).
    """
    log_dir = get_settings(ctx).log_dir
    files = _log_files(log_dir, name)
    if not files:
        known = ", ".join(path.stem for path in _log_files(log_dir, None))
        raise click.ClickException(
            f"No log {'named ' + repr(name) + ' ' if name else ''}in {log_dir}"
            + (f" (logs: {known})." if known else ": nothing has run yet.")
        )
    for path in files:
        click.secho(f"==> {path} <==", bold=True)
        for line in _tail(path, lines):
            click.echo(line)
    if follow:
        _follow(files)


def _follow(files: List[Path]) -> None:
    offsets: Dict[Path, int] = {path: path.stat().st_size for path in files}
    try:
        while True:
            for path in files:
                size = path.stat().st_size
                if size < offsets[path]:  # rotated or truncated
                    offsets[path] = 0
                if size > offsets[path]:
                    with path.open("rb") as handle:
                        handle.seek(offsets[path])
                        chunk = handle.read(size - offsets[path])
                    offsets[path] = size
                    for line in chunk.decode("utf-8", errors="replace").splitlines():
                        click.echo(f"{path.stem}: {line}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
