"""The ``application/vnd.amazon.eventstream`` framing that Bedrock's streaming operations use.

One message: a 12-byte prelude (total length, headers length, both big-endian uint32, then the
CRC32 of those 8 bytes), the headers, the payload, and the CRC32 of everything before it. A
header is a 1-byte name length, the name, a type byte (7: string), a 2-byte value length and
the value. Only string headers are written, which is all Bedrock sends.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any, Final

_STRING: Final = 7


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with ``headers`` (all strings) and ``payload``."""
    encoded = b"".join(
        struct.pack(">B", len(name_bytes))
        + name_bytes
        + struct.pack(">BH", _STRING, len(value_bytes))
        + value_bytes
        for name_bytes, value_bytes in (
            (name.encode("utf-8"), value.encode("utf-8")) for name, value in headers.items()
        )
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return head + struct.pack(">I", zlib.crc32(head))


def event_frame(event_type: str, body: Mapping[str, Any]) -> bytes:
    """An ``event`` message of ``event_type`` whose payload is ``body`` as JSON."""
    return frame(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        json.dumps(body).encode("utf-8"),
    )


def exception_frame(exception_type: str, message: str) -> bytes:
    """An ``exception`` message (e.g. ``modelStreamErrorException``) carrying ``message``."""
    return frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode("utf-8"),
    )
