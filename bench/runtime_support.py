"""Helpers for ``runtime_bench.py``: homes, processes, audio source, readings.

Everything a run touches lives in a throwaway folder: each implementation
gets its own ``HOME`` and ``ACOUPI_HOME`` (``<home>/.acoupi``), so the real
``~/.acoupi`` is never read or written. Every process started here is a
child of this script, started in its own process group and stopped by that
group's id, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import threading
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OURS_BIN = ROOT / ".venv" / "bin"
UPSTREAM_BIN = Path("/tmp/upstream-venv/bin")
RABBITMQ_URL = "pyamqp://guest:guest@127.0.0.1:5672//"
SINK = "acoupi_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------
# Audio source: a private PulseAudio with a null sink playing a counter ramp
# --------------------------------------------------------------------------


def ramp_block(start: int, n: int) -> np.ndarray:
    """Samples ``start .. start+n`` of a 16-bit counter ramp (wraps)."""
    counter = (np.arange(start, start + n, dtype=np.int64) % 65536) - 32768
    return counter.astype("<i2")


class PulseSource:
    """A private PulseAudio server whose null sink plays an endless ramp.

    Capture clients reach it through the ALSA "pulse" device
    (libasound2-plugins) with ``PULSE_SERVER`` pointing at our socket. The
    ramp is fed to ``pacat`` from a thread, so it never ends while the
    bench runs; the sink's monitor is the default source.
    """

    def __init__(self, root: Path, samplerate: int) -> None:
        self.root = root
        self.samplerate = samplerate
        self.server: Optional[subprocess.Popen] = None
        self.player: Optional[subprocess.Popen] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        runtime = root / "runtime"
        self.socket = runtime / "native"
        client_conf = root / "client.conf"
        self.env = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_CLIENTCONFIG": str(client_conf),
            "PULSE_COOKIE": str(root / "cookie"),
            "PULSE_RUNTIME_PATH": str(runtime),
            "XDG_RUNTIME_DIR": str(runtime),
        }

    def start(self) -> PulseSource:
        runtime = self.root / "runtime"
        home = self.root / "home"
        for folder in (runtime, home, self.root / "state"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        script = self.root / "server.pa"
        script.write_text(
            "load-module module-native-protocol-unix "
            f"socket={self.socket} auth-anonymous=1\n"
            f"load-module module-null-sink sink_name={SINK} "
            f"rate={self.samplerate} channels=1 format=s16le\n"
            f"set-default-sink {SINK}\n"
            f"set-default-source {SINK}.monitor\n"
        )
        (self.root / "client.conf").write_text(
            f"autospawn = no\ndefault-server = unix:{self.socket}\n"
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "PULSE_STATE_PATH": str(self.root / "state"),
            **self.env,
        }
        log_file = open(self.root / "pulseaudio.log", "wb")
        self.server = subprocess.Popen(
            [
                "pulseaudio",
                "-n",
                f"--file={script}",
                "--daemonize=no",
                "--system=false",
                "--use-pid-file=no",
                "--exit-idle-time=-1",
                "--disallow-module-loading=yes",
                "--log-target=stderr",
                "--log-level=notice",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "PulseAudio did not start:\n"
                    + (self.root / "pulseaudio.log").read_text()
                )
            time.sleep(0.05)
        self.player = subprocess.Popen(
            [
                "pacat",
                "--playback",
                f"--device={SINK}",
                f"--rate={self.samplerate}",
                "--channels=1",
                "--format=s16le",
                "--raw",
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()
        time.sleep(0.5)
        return self

    def _feed(self) -> None:
        assert self.player is not None and self.player.stdin is not None
        block = self.samplerate // 10
        position = 0
        try:
            while not self._stop.is_set():
                self.player.stdin.write(ramp_block(position, block).tobytes())
                position += block
        except (BrokenPipeError, ValueError, OSError):
            pass

    def stop(self) -> None:
        self._stop.set()
        for process in (self.player, self.server):
            if process is not None and process.poll() is None:
                stop_group(process)


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


def stop_group(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM the process group of ``process`` (its own), then SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def children_map() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(roots: Iterable[int]) -> List[int]:
    """``roots`` and all their descendants that are alive."""
    tree = children_map()
    found: List[int] = []
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if Path(f"/proc/{pid}").exists():
            found.append(pid)
            stack.extend(tree.get(pid, []))
    return found


def proc_name(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")[:120]
            .decode(errors="replace")
        )
    except OSError:
        return "?"


def rss_bytes(pid: int) -> int:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * PAGE


def cpu_ticks(pid: int) -> int:
    """User + system ticks of ``pid`` itself (threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def find_pids(needle: str) -> List[int]:
    """Pids whose command line contains ``needle`` (read-only lookup)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and needle in proc_name(int(entry)):
            found.append(int(entry))
    return found


def rabbitmq_pids() -> List[int]:
    """The RabbitMQ Erlang VM (beam.smp), the broker's own process."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if not comm.startswith("beam"):
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"rabbit" in cmdline:
            pids.append(int(entry))
    return pids


# --------------------------------------------------------------------------
# Installations
# --------------------------------------------------------------------------


@dataclass
class Install:
    """One implementation, in its own throwaway home."""

    kind: str  # "ours" or "upstream"
    label: str
    home: Path
    audio_env: Dict[str, str] = field(default_factory=dict)
    processes: List[subprocess.Popen] = field(default_factory=list)
    bin_dir: Optional[Path] = None
    """The venv's ``bin`` (e.g. of upstream 0.8.0); default by ``kind``."""

    @property
    def acoupi_home(self) -> Path:
        return self.home / ".acoupi"

    @property
    def bin(self) -> Path:
        if self.bin_dir is not None:
            return self.bin_dir
        return OURS_BIN if self.kind == "ours" else UPSTREAM_BIN

    @property
    def env(self) -> Dict[str, str]:
        env = {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.home),
            "ACOUPI_HOME": str(self.acoupi_home),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "C_FORCE_ROOT": "1",
            "PYTHONUNBUFFERED": "1",
            **self.audio_env,
        }
        return env

    def log_path(self, name: str) -> Path:
        path = self.home / "bench-logs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def command(self, args: Sequence[str], timeout: float = 300) -> str:
        """Run ``acoupi ARGS`` to completion; raise with its output if it fails."""
        command = [str(self.bin / "acoupi"), *args]
        return self._run(command, " ".join(command), timeout)

    def _run(self, command: Sequence[str], what: str, timeout: float = 300) -> str:
        """Run ``command`` in this install's home; raise with its output if it fails."""
        result = subprocess.run(
            command,
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{what} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def setup(self, program: str, options: Sequence[str]) -> List[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        args = ["setup", "--program", program, "--no-prompt", *options]
        self.command(args)
        return ["acoupi", *args]

    def setup_from_schema(self, program: str, options: Sequence[str]) -> List[str]:
        """What ``acoupi setup`` does, the configuration read by the schema.

        For upstream 0.8.0, whose ``acoupi setup`` cannot set up any
        messaging or detection program (its option parser fails on the
        ``Literal`` field ``messaging.message_order``: ``TypeError:
        issubclass() arg 1 must be a class``). The same ``--a.b value``
        options become a nested dict validated by the program's own
        configuration schema; ``--broker_url`` goes to its Celery
        configuration. Files are written by upstream's own functions;
        systemd units are not installed (not used here).
        """
        self.home.mkdir(parents=True, exist_ok=True)
        values: Dict[str, object] = {}
        celery: Dict[str, str] = {}
        pairs = list(options)
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            name = key.removeprefix("--")
            if name == "broker_url":
                celery[name] = value
                continue
            *parents, leaf = name.split(".")
            node = values
            for parent in parents:
                node = node.setdefault(parent, {})  # type: ignore[assignment]
            node[leaf] = value
        snippet = (
            "import json, sys; "
            "from acoupi.system import programs; "
            "from acoupi.system.config import write_config; "
            "from acoupi.system.constants import CeleryConfig, Settings; "
            "from acoupi.system.scripts import write_scripts; "
            "name = sys.argv[1]; s = Settings(); "
            "c = programs.load_program_class(name); "
            "programs.write_program_file(name, s); "
            "s.program_name_file.parent.mkdir(parents=True, exist_ok=True); "
            "s.program_name_file.write_text(name); "
            "schema = c.get_config_schema(); "
            "write_config(schema.model_validate(json.loads(sys.argv[2])), "
            "s.program_config_file); "
            "write_scripts(c.get_worker_config(), s); "
            "write_config(CeleryConfig(**json.loads(sys.argv[3])), "
            "s.celery_config_file); "
            "s.run_dir.mkdir(parents=True, exist_ok=True); "
            "s.log_dir.mkdir(parents=True, exist_ok=True)"
        )
        command = [
            str(self.bin / "python"), "-c", snippet, program,
            json.dumps(values), json.dumps(celery),
        ]  # fmt: skip
        self._run(command, f"setting up {program} from its schema")
        return [f"python -c {snippet!r} {program} {json.dumps(values)!r}"]

    # -- starting and stopping ------------------------------------------

    def spawn(self, command: Sequence[str], name: str, cwd: Path) -> subprocess.Popen:
        out = open(self.log_path(name + ".log"), "ab")
        process = subprocess.Popen(
            list(command),
            env=self.env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start(
        self, duration: Optional[float] = None, run_options: Sequence[str] = ()
    ) -> List[str]:
        """Start the program; returns the command lines used.

        ``run_options`` go to ours' ``acoupi run`` (e.g. ``--lean``).
        """
        if self.kind == "ours":
            command = [str(self.bin / "acoupi"), "run", "--no-live", *run_options]
            if duration is not None:
                command += ["--duration", str(duration)]
            self.spawn(command, "run", self.home)
            return [" ".join(["acoupi", *command[1:]])]
        return self._start_upstream()

    def _start_upstream(self) -> List[str]:
        # What `acoupi deployment start` does, minus systemd: start the
        # deployment and call the program's on_start, then the workers that
        # the generated acoupi-workers-start.sh / acoupi-beat.sh would run.
        snippet = (
            "from acoupi.system import programs; "
            "from acoupi.system.constants import Settings; "
            "from acoupi.system.deployments import start_deployment; "
            "s = Settings(); d = start_deployment(s, 'bench'); "
            "programs.load_program(s).on_start(d)"
        )
        subprocess.run(
            [str(self.bin / "python"), "-c", snippet],
            env=self.env,
            cwd=self.acoupi_home,
            check=True,
            capture_output=True,
            timeout=120,
        )
        celery = str(self.bin / "celery")
        run_dir = self.acoupi_home / "run"
        log_dir = self.acoupi_home / "log"
        commands = {}
        # The workers the program declares (what the generated
        # acoupi-workers-start.sh passes to `celery multi start`).
        for worker in self.upstream_workers():
            command = [celery, "-A", "app", "worker", "-n", f"{worker['name']}@%h"]
            if worker.get("queues"):
                command += ["-Q", ",".join(worker["queues"])]
            if worker.get("concurrency"):
                command += ["-c", str(worker["concurrency"])]
            command += [
                "--pool=threads",
                "--loglevel=INFO",
                f"--pidfile={run_dir}/{worker['name']}.pid",
                f"--logfile={log_dir}/{worker['name']}.log",
            ]
            commands[f"worker-{worker['name']}"] = command
        commands["beat"] = [
            celery, "-A", "app", "beat", f"--pidfile={run_dir}/beat.pid",
            f"--logfile={log_dir}/beat.log", "--loglevel=INFO",
            f"--schedule={run_dir}/celerybeat-schedule",
        ]  # fmt: skip
        lines = [f"python -c {snippet!r}  (cwd {self.acoupi_home})"]
        for name, command in commands.items():
            self.spawn(command, name, self.acoupi_home)
            lines.append(" ".join(["celery", *command[1:]]))
        return lines

    def upstream_workers(self) -> List[dict]:
        snippet = (
            "import json; from acoupi.system import programs; "
            "from acoupi.system.constants import Settings; "
            "s = Settings(); "
            "c = programs.load_program_class(s.program_name_file.read_text()); "
            "print(c.get_worker_config().model_dump_json())"
        )
        out = subprocess.run(
            [str(self.bin / "python"), "-c", snippet],
            env=self.env,
            cwd=self.acoupi_home,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])["workers"]

    def root_pids(self) -> List[int]:
        return [p.pid for p in self.processes if p.poll() is None]

    def wait(self, timeout: float) -> None:
        for process in self.processes:
            process.wait(timeout=timeout)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                stop_group(process, timeout=40)
        if self.kind == "upstream":
            # `acoupi deployment stop` minus systemd: end the deployment and
            # let the program tidy up (file management of leftovers).
            snippet = (
                "from acoupi.system import programs; "
                "from acoupi.system.constants import Settings; "
                "from acoupi.system.deployments import end_deployment; "
                "s = Settings(); d = end_deployment(s); "
                "programs.load_program(s).on_end(d)"
            )
            subprocess.run(
                [str(self.bin / "python"), "-c", snippet],
                env=self.env,
                cwd=self.acoupi_home,
                capture_output=True,
                timeout=300,
            )

    # -- results --------------------------------------------------------

    @property
    def metadata_db(self) -> Path:
        return self.home / "storages" / "metadata.db"

    @property
    def messages_db(self) -> Path:
        return self.home / "storages" / "messages.db"

    @property
    def recordings_dir(self) -> Path:
        return self.home / "storages" / "recordings"


# --------------------------------------------------------------------------
# Reading the stores (both schemas)
# --------------------------------------------------------------------------


def parse_time(value) -> float:
    """A stored datetime (text, naive = UTC) as a POSIX timestamp."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace("T", " ")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def columns(db: sqlite3.Connection, table: str) -> List[str]:
    return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]


def tables(db: sqlite3.Connection) -> List[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type='table'")
    return [row[0] for row in rows]


def pick(options: Sequence[str], available: Sequence[str]) -> str:
    lowered = {name.lower(): name for name in available}
    for option in options:
        if option.lower() in lowered:
            return lowered[option.lower()]
    raise KeyError(f"none of {options} in {list(available)}")


@dataclass
class StoredRecording:
    id: object
    start: float
    duration: float
    path: str


def read_recordings(db_path: Path) -> List[StoredRecording]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        table = pick(["recording"], tables(db))
        cols = columns(db, table)
        start = pick(["datetime", "created_on"], cols)
        duration = pick(["duration_s", "duration"], cols)
        path = pick(["path"], cols)
        rows = db.execute(
            f'SELECT id, "{start}", "{duration}", "{path}" FROM "{table}"'
        ).fetchall()
    finally:
        db.close()
    recordings = [
        StoredRecording(r[0], parse_time(r[1]), float(r[2]), str(r[3])) for r in rows
    ]
    return sorted(recordings, key=lambda r: r.start)


def read_model_outputs(db_path: Path) -> Dict[object, float]:
    """recording id -> first model output's created_on."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        table = pick(["model_output", "modeloutput"], tables(db))
        cols = columns(db, table)
        recording = pick(["recording_id", "recording"], cols)
        created = pick(["created_on"], cols)
        rows = db.execute(f'SELECT "{recording}", "{created}" FROM "{table}"')
        found: Dict[object, float] = {}
        for rec, moment in rows:
            t = parse_time(moment)
            found[rec] = min(t, found.get(rec, t))
    finally:
        db.close()
    return found


def read_messages(db_path: Path) -> List[dict]:
    """Messages with their first status-0 response time (or None)."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = tables(db)
        message = pick(["message"], names)
        response = pick(["response"], names)
        mcols = columns(db, message)
        rcols = columns(db, response)
        rows = db.execute(
            f'SELECT id, content, "{pick(["created_on"], mcols)}" FROM "{message}"'
        ).fetchall()
        acks: Dict[object, float] = {}
        rmsg = pick(["message_id", "message"], rcols)
        rtime = pick(["received_on", "created_on"], rcols)
        for mid, status, moment in db.execute(
            f'SELECT "{rmsg}", status, "{rtime}" FROM "{response}"'
        ):
            if str(status) in ("0", "SUCCESS", "ResponseStatus.SUCCESS"):
                t = parse_time(moment)
                acks[mid] = min(t, acks.get(mid, t))
    finally:
        db.close()
    return [
        {
            "id": r[0],
            "content": r[1],
            "created_on": parse_time(r[2]),
            "acked_on": acks.get(r[0]),
        }
        for r in rows
    ]


def wav_info(path: Path) -> Optional[dict]:
    """Frames, rate and ramp continuity of a WAV written from the ramp."""
    try:
        with wave.open(str(path), "rb") as handle:
            rate = handle.getframerate()
            channels = handle.getnchannels()
            raw = handle.readframes(handle.getnframes())
    except (OSError, wave.Error, EOFError):
        return None
    samples = np.frombuffer(raw, "<i2")[::channels].astype(np.int64)
    steps = np.diff(samples) % 65536 if samples.size > 1 else np.zeros(0)
    return {
        "frames": int(samples.size),
        "samplerate": rate,
        "first": int(samples[0]) if samples.size else None,
        "last": int(samples[-1]) if samples.size else None,
        "breaks": int(np.count_nonzero(steps != 1)),
    }


def find_wav(install: Install, stored_path: str) -> Optional[Path]:
    path = Path(stored_path)
    if path.exists():
        return path
    matches = list(install.recordings_dir.rglob(path.name))
    return matches[0] if matches else None


# --------------------------------------------------------------------------
# Small statistics
# --------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def provenance() -> dict:
    """What was measured: our checkout (read-only git queries) and the host."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        return result.stdout.strip()

    return {
        "when": datetime.now(timezone.utc).isoformat(),
        "git_head": git("rev-parse", "HEAD"),
        "git_status": git("status", "--short").splitlines(),
        "cpus": os.cpu_count(),
        "upstream_bin": str(UPSTREAM_BIN),
    }


def write_json(path: Path, payload: dict) -> None:
    payload = {**payload, "provenance": provenance()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    log(f"wrote {path}")


class RabbitVhosts:
    """Throwaway RabbitMQ virtual hosts, one per installation.

    Upstream's queues are always named ``recording`` and ``celery``: two
    installations on the same vhost would run each other's tasks (and a
    later run would receive an earlier one's leftovers). Each gets its own
    vhost, deleted again by ``close``.
    """

    def __init__(self) -> None:
        self.names: List[str] = []

    def url(self, label: str) -> str:
        name = f"acoupi-bench-{os.getpid()}-{len(self.names)}"
        for command in (
            ["rabbitmqctl", "add_vhost", name],
            ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        ):
            subprocess.run(command, check=True, capture_output=True, timeout=60)
        self.names.append(name)
        log(f"RabbitMQ vhost {name} for {label}")
        return f"pyamqp://guest:guest@127.0.0.1:5672/{name}"

    def close(self) -> None:
        for name in self.names:
            subprocess.run(
                ["rabbitmqctl", "delete_vhost", name],
                capture_output=True,
                timeout=60,
            )
        self.names = []


def pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` (shared pages split between users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def peak_rss_bytes(pid: int) -> int:
    """Highest RSS ``pid`` ever had (``VmHWM``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def forked_worker_name(pid: int) -> Optional[str]:
    """Name of a worker ``acoupi run`` forked, else None.

    A forked worker keeps its parent's command line; it is named
    ``acoupi-<worker>`` (cut to 15 bytes) and works in the acoupi home,
    whose ``run/<worker>.pid`` holds its pid.
    """
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        home = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None
    if not comm.startswith("acoupi-"):
        return None
    for pidfile in sorted((home / "run").glob("*.pid")):
        try:
            if int(pidfile.read_text().strip()) == pid:
                return pidfile.stem
        except (OSError, ValueError):
            continue
    return comm[len("acoupi-") :]


def process_role(pid: int) -> str:
    """Short role of an acoupi process: ``run``, ``worker <name>``, ``beat``."""
    forked = forked_worker_name(pid)
    if forked is not None:
        return f"worker {forked}"
    try:  # whole: a venv's long path pushed the role out of proc_name's cut
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    command = raw.replace(b"\0", b" ").decode(errors="replace")
    words = command.split()
    if " beat" in command:
        return "beat"
    if " worker" in command or ".worker_process" in command:
        for index, word in enumerate(words):
            if word == "-n" and index + 1 < len(words):
                return "worker " + words[index + 1].split("@")[0]
        return "worker"
    if "acoupi" in command and " run" in command:
        return "run (supervisor)"
    return command[:40]
