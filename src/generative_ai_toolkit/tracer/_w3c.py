"""W3C Trace Context (``traceparent``) helpers: one trace across agents that call each other.

The caller puts its current span into the outgoing request's headers; the callee continues
the trace from the incoming headers:

```python
inject_traceparent(headers, tracer)                    # agent A, before calling B
parent = extract_traceparent(request.headers)          # agent B, on receipt
with tracer.trace("handle", span_kind="SERVER", parent=parent): ...
```

``tracestate`` is left alone (we add no vendor state). Both helpers never raise.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from ._base import NoCurrentTraceError, Tracer
from ._trace import Trace
from ._unsampled import UnsampledSpan, unsampled_remote_parent

_log = logging.getLogger("generative_ai_toolkit.tracer")

TRACEPARENT: Final = "traceparent"
# Version 00 only: 2 hex version, 32 hex trace id, 16 hex parent id, 2 hex flags, lowercase.
_PATTERN: Final = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def format_traceparent(span: Trace) -> str:
    """The ``traceparent`` value naming ``span`` as the parent: flags ``01`` (sampled), or
    ``00`` when ``span`` is not recorded (sampled out)."""
    flags = "00" if isinstance(span, UnsampledSpan) else "01"
    return f"00-{span.trace_id}-{span.span_id}-{flags}"


def inject_traceparent(headers: MutableMapping[str, str], tracer: Tracer) -> None:
    """Set ``headers["traceparent"]`` to the current span of ``tracer``.

    Outside any span of ``tracer`` the headers are left unchanged (a ``traceparent`` already
    there is removed, so a stale one is never passed on). ``tracestate`` is not touched.
    """
    try:
        try:
            span: Trace | None = tracer.current_trace
        except NoCurrentTraceError:
            span = None
        for key in [k for k in headers if k.lower() == TRACEPARENT and k != TRACEPARENT]:
            del headers[key]
        if span is None:
            headers.pop(TRACEPARENT, None)
            return
        headers[TRACEPARENT] = format_traceparent(span)
    except Exception:  # noqa: BLE001 - propagation must never break the call it decorates
        _log.exception("could not inject traceparent")


def extract_traceparent(headers: Mapping[str, str] | Any) -> Trace | None:
    """The remote parent named by an incoming ``traceparent`` header, or ``None``.

    Pass the result as ``tracer.trace(name, parent=...)``. Header names match in any case;
    ``headers`` may be a dict or an ``email.message.Message`` (``http.server`` request headers).
    A missing, repeated or invalid header (another version, uppercase hex, all-zero ids) gives
    ``None``. A header whose sampled flag is off gives a parent that is not recorded: spans
    opened under it are not recorded either, whatever the tracer's sampler.
    """
    try:
        value = _single_header(headers)
        if value is None:
            return None
        match = _PATTERN.fullmatch(value.strip(" \t"))
        if match is None:
            return None
        trace_id, span_id, flags = match.groups()
        if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
            return None
        if not int(flags, 16) & 1:
            return unsampled_remote_parent(trace_id, span_id)
        return Trace.remote_parent(trace_id, span_id)
    except Exception:  # noqa: BLE001 - a malformed request must not break the agent
        _log.debug("could not read traceparent", exc_info=True)
        return None


def _single_header(headers: Mapping[str, str] | Any) -> str | None:
    get_all = getattr(headers, "get_all", None)
    if callable(get_all):  # email.message.Message: case-insensitive, may repeat
        values = get_all(TRACEPARENT) or []
    else:
        values = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == TRACEPARENT]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    value: str = values[0]
    return value
