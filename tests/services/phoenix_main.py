"""Start Phoenix (``phoenix serve``) with its gRPC receiver bound to loopback only.

Run by the Python of Phoenix's own virtualenv, never by the library's, as
``python phoenix_main.py serve``. Phoenix binds its gRPC receiver to ``[::]:<port>``
whatever ``PHOENIX_HOST`` says; this rewrites any address a ``grpc.aio`` server is
asked to bind to ``127.0.0.1:<same port>`` before handing over to Phoenix's own entry point.
"""

import sys
from pathlib import Path
from typing import Any

# This folder also holds the harness's phoenix.py, which must not shadow the phoenix package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from grpc.aio import _server  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: E402

LOOPBACK = "127.0.0.1"


def _loopback(address: str) -> str:
    return f"{LOOPBACK}:{address.rpartition(':')[2]}"


def _patch() -> None:
    server_class: Any = _server.Server
    insecure = server_class.add_insecure_port
    secure = server_class.add_secure_port

    def add_insecure_port(self: Any, address: str) -> int:
        return int(insecure(self, _loopback(address)))

    def add_secure_port(self: Any, address: str, credentials: Any) -> int:
        return int(secure(self, _loopback(address), credentials))

    server_class.add_insecure_port = add_insecure_port
    server_class.add_secure_port = add_secure_port


if __name__ == "__main__":
    _patch()
    from phoenix.server.main import main  # type: ignore[import-not-found,import-untyped,unused-ignore]

    sys.argv[0] = "phoenix"
    main()
