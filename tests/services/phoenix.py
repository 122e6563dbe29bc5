"""Arize Phoenix as a real OTLP/HTTP receiver for the integration tests.

Phoenix lives in a virtualenv of its own, outside the checkout and reused between runs
(``$GAT_SERVICES_DIR/phoenix-venv``, by default ``~/.cache/gat-tracing/phoenix-venv``), so
that none of its ~850 MB of dependencies reach the library's test environment. It is
started through ``phoenix_main.py`` (beside this file), which keeps its gRPC receiver on
loopback, and answers on one port for the UI, REST, GraphQL and OTLP/HTTP ``/v1/traces``.

    with Phoenix() as phoenix:
        ...send spans to phoenix.endpoint...
        spans = phoenix.wait_for_spans(lambda spans: len(spans) >= 2)

Spans come back from ``GET /v1/projects/default/spans/otlpv1`` as OTLP-shaped JSON:
hex ``trace_id``/``span_id``/``parent_span_id``, ``attributes`` as ``[{"key", "value":
{"string_value"|"int_value"|"bool_value"|"double_value"|"array_value": ...}}]`` (the other
members null), ``events``, and ``status`` as ``{"code": 0|1|2, "message"}``. Resource
attributes, scope and span kind are not given back. ``attribute_values`` and
``attribute_value`` decode the attribute lists into plain Python values.

Command line: ``python tests/services/phoenix.py install`` installs Phoenix ahead of the
tests (idempotent); ``python tests/services/phoenix.py serve [--port N]`` runs it in the
foreground until interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

PHOENIX_VERSION = "20.26.1"
PHOENIX_REQUIREMENT = f"arize-phoenix=={PHOENIX_VERSION}"
DEFAULT_PORT = 4318
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
REST_PAGE_LIMIT = 1000  # the most Phoenix's span search returns in one page

WRAPPER = Path(__file__).resolve().with_name("phoenix_main.py")
_MARKER_NAME = ".gat-installed"
_LOG_TAIL_LINES = 40

Span = dict[str, Any]


class PhoenixError(RuntimeError):
    """Phoenix could not be installed, started or read."""


# --------------------------------------------------------------------------- install


def services_dir() -> Path:
    """Where the services' environments are kept between runs (``$GAT_SERVICES_DIR``)."""
    configured = os.environ.get("GAT_SERVICES_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "gat-tracing"


def venv_dir() -> Path:
    """Phoenix's own virtualenv."""
    return services_dir() / "phoenix-venv"


def venv_python() -> Path:
    """The Python of Phoenix's virtualenv (it exists once ``install()`` has run)."""
    return venv_dir() / "bin" / "python"


def configured_port() -> int:
    """The port the suite runs Phoenix on: ``$GAT_PHOENIX_PORT``, else 4318 (OTLP/HTTP's)."""
    return int(os.environ.get("GAT_PHOENIX_PORT") or DEFAULT_PORT)


def _base_python() -> str:
    """The machine's Python to build the virtualenv from (``$GAT_PHOENIX_BASE_PYTHON``)."""
    configured = os.environ.get("GAT_PHOENIX_BASE_PYTHON")
    if configured:
        return configured
    return shutil.which("python3.11") or shutil.which("python3") or sys.executable


def _is_installed(marker: Path) -> bool:
    try:
        recorded = marker.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return bool(recorded) and recorded[0] == PHOENIX_REQUIREMENT and venv_python().exists()


def _run_logged(command: list[str], log: IO[str], *, env: dict[str, str] | None = None) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    completed = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        log.flush()
        raise PhoenixError(
            f"{command[0]} exited with {completed.returncode} while installing "
            f"{PHOENIX_REQUIREMENT}; see {log.name}\n{_tail(Path(log.name))}"
        )


def install() -> Path:
    """Install Phoenix into its own virtualenv unless it is there already; return its Python.

    Idempotent: a marker recording the version is written after a successful install, and a
    version change reinstalls from scratch. Safe when several processes race: they queue
    on a file lock and all but the first find the marker.
    """
    marker = venv_dir() / _MARKER_NAME
    if _is_installed(marker):
        return venv_python()
    root = services_dir()
    root.mkdir(parents=True, exist_ok=True)
    with (root / "phoenix-venv.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_installed(marker):
            return venv_python()
        print(
            f"installing {PHOENIX_REQUIREMENT} into {venv_dir()} (a few minutes, once)",
            file=sys.stderr,
            flush=True,
        )
        started = time.monotonic()
        shutil.rmtree(venv_dir(), ignore_errors=True)
        log_path = root / "phoenix-install.log"
        with log_path.open("w", encoding="utf-8") as log:
            _run_logged([_base_python(), "-m", "venv", str(venv_dir())], log)
            python = str(venv_python())
            env = _isolated_environ()
            _run_logged(
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    PHOENIX_REQUIREMENT,
                ],
                log,
                env=env,
            )
            # Checked without importing phoenix: its import creates ~/.phoenix.
            _run_logged(
                [
                    python,
                    "-I",
                    "-c",
                    "import importlib.metadata as m, grpc.aio; "
                    f"assert m.version('arize-phoenix') == {PHOENIX_VERSION!r}",
                ],
                log,
                env=env,
            )
        temporary = marker.with_suffix(".tmp")
        temporary.write_text(f"{PHOENIX_REQUIREMENT}\n{python}\n", encoding="utf-8")
        temporary.replace(marker)
        print(
            f"installed {PHOENIX_REQUIREMENT} in {time.monotonic() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return venv_python()


# --------------------------------------------------------------------------- helpers


def _isolated_environ() -> dict[str, str]:
    """The environment without anything that would leak the caller's Python or Phoenix setup."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")
    return {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith("PHOENIX_")
    }


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"(no log: {error})"
    return "\n".join(text.splitlines()[-lines:])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The same option uvicorn binds with, so lingering TIME_WAIT sockets don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` that has the child sent SIGTERM if its parent dies (even by SIGKILL).

    Linux ties this to the thread that started the child: start Phoenix from a thread that
    outlives it (the main thread, as pytest fixtures do).
    """

    def preexec() -> None:
        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _http_get(url: str, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --------------------------------------------------------------------------- listeners


@dataclass(frozen=True)
class Listener:
    """A socket a process listens on (TCP) or is bound to (UDP)."""

    protocol: str  # "tcp", "tcp6", "udp" or "udp6"
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can reach it (``::ffff:127.x`` counts as loopback)."""
        mapped = getattr(self.address, "ipv4_mapped", None)
        return self.address.is_loopback or (mapped is not None and mapped.is_loopback)

    def __str__(self) -> str:
        host = str(self.address)
        return f"{self.protocol} {host if self.address.version == 4 else f'[{host}]'}:{self.port}"


def process_group(pgid: int) -> list[int]:
    """The ids of the live processes in a process group (from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _socket_inodes(pids: list[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(int(target[8:-1]))
    return inodes


def _decode_proc_address(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    # /proc/net prints each 32-bit word of the address in host byte order.
    packed = b"".join(
        int.from_bytes(raw[i : i + 4], sys.byteorder).to_bytes(4, "big")
        for i in range(0, len(raw), 4)
    )
    address = ipaddress.IPv4Address(packed) if len(packed) == 4 else ipaddress.IPv6Address(packed)
    return address, int(port, 16)


def listeners(pgid: int) -> list[Listener]:
    """The TCP sockets listening and the UDP sockets bound in a process group (from /proc)."""
    inodes = _socket_inodes(process_group(pgid))
    found = []
    for protocol, wanted_state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{protocol}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == wanted_state and int(fields[9]) in inodes:
                    address, port = _decode_proc_address(fields[1])
                    found.append(Listener(protocol, address, port))
    return found


# --------------------------------------------------------------------------- attributes


def attribute_value(value: dict[str, Any]) -> Any:
    """Decode one OTLP JSON ``AnyValue`` as Phoenix gives it back into a Python value."""
    for kind, member in value.items():
        if member is None:
            continue
        if kind == "array_value":
            return [attribute_value(item) for item in member.get("values") or []]
        if kind == "kvlist_value":
            return {
                pair["key"]: attribute_value(pair["value"]) for pair in member.get("values") or []
            }
        return member
    return None


def attribute_values(attributes: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Decode an OTLP JSON attribute list (a span's or an event's) into a dict."""
    return {pair["key"]: attribute_value(pair["value"]) for pair in attributes or []}


# --------------------------------------------------------------------------- Phoenix


class Phoenix:
    """One Phoenix server on loopback, in a fresh working directory, for as long as needed."""

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        *,
        grpc_port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        keep_working_dir: bool | None = None,
    ) -> None:
        self.port = port
        self.grpc_port = grpc_port  # the one in use once started, when it was left to us
        self._requested_grpc_port = grpc_port
        self.startup_timeout = startup_timeout
        self.keep_working_dir = (
            bool(os.environ.get("GAT_PHOENIX_KEEP"))
            if keep_working_dir is None
            else keep_working_dir
        )
        self.working_dir: Path | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- addresses

    @property
    def base_url(self) -> str:
        """UI, REST and GraphQL root."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def endpoint(self) -> str:
        """OTLP/HTTP traces endpoint (protobuf or JSON)."""
        return f"{self.base_url}/v1/traces"

    @property
    def log_path(self) -> Path | None:
        """Phoenix's own output (stdout and stderr)."""
        return None if self.working_dir is None else self.working_dir / "phoenix.log"

    @property
    def pid(self) -> int | None:
        """Process id of the server, also its process group id; None when not running."""
        return None if self._process is None else self._process.pid

    # -- lifecycle

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        """Install if needed, start Phoenix and wait until ``/healthz`` answers 200."""
        if self._process is not None:
            raise PhoenixError(f"Phoenix is already running on port {self.port}")
        if _port_in_use(self.port):
            raise PhoenixError(
                f"port {self.port} on {LOOPBACK} is already in use; stop whatever holds it "
                f"(`ss -ltnp 'sport = :{self.port}'`) or set GAT_PHOENIX_PORT"
            )
        python = install()
        self.working_dir = Path(tempfile.mkdtemp(prefix="gat-phoenix-"))
        temporary = self.working_dir / "tmp"  # Phoenix keeps pid files under $TMPDIR
        temporary.mkdir()
        grpc_port = self.grpc_port = self._requested_grpc_port or _free_port()
        env = _isolated_environ() | {
            "PHOENIX_HOST": LOOPBACK,
            "PHOENIX_PORT": str(self.port),
            "PHOENIX_GRPC_PORT": str(grpc_port),
            "PHOENIX_WORKING_DIR": str(self.working_dir),
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
            "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
            "PHOENIX_AGENTS_DISABLE_BASH": "true",
            "TMPDIR": str(temporary),
        }
        assert self.log_path is not None
        self._log = self.log_path.open("wb")
        started = time.monotonic()
        # -I: the wrapper's folder (which holds this phoenix.py) must not shadow the package.
        self._process = subprocess.Popen(
            [str(python), "-I", str(WRAPPER), "serve"],
            cwd=self.working_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - prctl only
        )
        atexit.register(self.stop)
        process = self._process
        try:
            problem = self._wait_until_healthy(process, started + self.startup_timeout)
        except BaseException:
            self.keep_working_dir = True  # for whoever looks into why
            self.stop()
            raise
        if problem is not None:
            self.keep_working_dir = True  # the error message points at the log inside it
            self.stop()
            raise PhoenixError(
                f"{problem} (exit status {process.returncode}); "
                f"last lines of {self.log_path}:\n{self.log_tail()}"
            )
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_until_healthy(self, process: subprocess.Popen[bytes], deadline: float) -> str | None:
        """None once our server answers ``/healthz``; otherwise what went wrong."""
        while True:
            # Not poll(): the leader stays unreaped, so its group id can't be reused before stop.
            if _exited(process.pid):
                return f"Phoenix exited before it became healthy on port {self.port}"
            with contextlib.suppress(OSError):
                status, _ = _http_get(f"{self.base_url}/healthz", timeout=2)
                # The answer must come from our process group, not from a squatter on the port.
                if status == 200 and any(
                    listener.port == self.port for listener in listeners(process.pid)
                ):
                    return None
            if time.monotonic() > deadline:
                return (
                    f"Phoenix did not answer /healthz on port {self.port} within "
                    f"{self.startup_timeout:.0f} s"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop Phoenix and everything it started; safe to call more than once."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            _stop_group(process)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.working_dir is not None and not self.keep_working_dir:
            shutil.rmtree(self.working_dir, ignore_errors=True)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of Phoenix's output."""
        return "(not started)" if self.log_path is None else _tail(self.log_path, lines)

    def listeners(self) -> list[Listener]:
        """Every socket the server's process group listens on."""
        if self._process is None:
            raise PhoenixError("Phoenix is not running")
        return listeners(self._process.pid)

    # -- reading spans back

    def spans(self, limit: int = 1000, *, project: str = "default") -> list[Span]:
        """The spans stored so far, newest first (by arrival), as decoded JSON."""
        found: list[Span] = []
        cursor: str | None = None
        while len(found) < limit:
            query = {"limit": str(min(REST_PAGE_LIMIT, limit - len(found)))}
            if cursor:
                query["cursor"] = cursor
            url = (
                f"{self.base_url}/v1/projects/{urllib.parse.quote(project, safe='')}"
                f"/spans/otlpv1?{urllib.parse.urlencode(query)}"
            )
            status, body = _http_get(url, timeout=30)
            if status == 404 and not found:  # the project does not exist (yet)
                return []
            if status != 200:
                raise PhoenixError(f"GET {url} answered {status}: {body[:500]!r}")
            page = json.loads(body)
            found.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return found

    def wait_for_spans(
        self,
        predicate: Callable[[list[Span]], bool],
        timeout: float = 30,
        *,
        limit: int = 1000,
        project: str = "default",
        interval: float = 0.5,
    ) -> list[Span]:
        """Poll ``spans()`` until ``predicate`` holds (ingestion is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(limit, project=project)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({str(span.get("name")) for span in spans})[:20]
                raise TimeoutError(
                    f"Phoenix did not hold the expected spans within {timeout} s: it has "
                    f"{len(spans)} spans, named {names}; last lines of its log:\n"
                    f"{self.log_tail(15)}"
                )
            time.sleep(interval)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it after STOP_TIMEOUT, and sweep any stragglers.

    The leader is only reaped at the end, so its pid (the group id) cannot be reused by an
    unrelated process while we still signal the group.
    """
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and not _exited(process.pid):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    process.wait()


def _exited(pid: int) -> bool:
    """Whether a child has exited, without reaping it."""
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return result is not None


@contextlib.contextmanager
def running(port: int | None = None) -> Iterator[Phoenix]:
    """A started Phoenix on ``port`` (default: ``configured_port()``), stopped afterwards."""
    with Phoenix(configured_port() if port is None else port) as phoenix:
        yield phoenix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phoenix.py", description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="install Phoenix into its own virtualenv if needed")
    serve = commands.add_parser("serve", help="run Phoenix in the foreground until Ctrl-C")
    serve.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "install":
        print(install())
        return 0
    with running(args.port) as phoenix:
        print(
            f"Phoenix {PHOENIX_VERSION} ready in {phoenix.startup_seconds:.1f} s at "
            f"{phoenix.base_url} (OTLP/HTTP {phoenix.endpoint}); log {phoenix.log_path}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while phoenix.pid is not None and not _exited(phoenix.pid):
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
