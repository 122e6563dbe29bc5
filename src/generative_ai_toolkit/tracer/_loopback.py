"""Loopback-only serving: the bind-address and ``Host`` header rules of every local server.

The viewer and the OTLP receiver both hand out (or take in) traces, which carry prompts and
user data: they listen on a loopback address unless told otherwise, and answer only requests
whose ``Host`` names a loopback address, so a web page cannot reach them by DNS rebinding.
"""

from __future__ import annotations

import ipaddress


def check_bind_address(host: str, *, allow_remote: bool = False, what: str = "the viewer") -> None:
    """``ValueError`` unless ``host`` is a loopback address (or ``allow_remote``)."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"refusing to listen on {host}: not a loopback address; {what} would expose your "
            "traces to anyone who can reach it (use 127.0.0.1, or pass --allow-remote)"
        )


def is_loopback_host(header: str) -> bool:
    """Whether a ``Host`` header (``name[:port]``, ``[v6]:port``) names a loopback address."""
    host = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    if host.startswith("["):
        host = host[1 : host.find("]")]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
