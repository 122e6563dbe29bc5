"""``OtlpTracer`` and its writer: batches encoded and POSTed by the background engine."""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Final

from .._clock import Clock
from .._export import DEFAULT_SCHEDULE_DELAY
from .._exporting import ExportingTracer
from .._ids import IdGenerator, XRayIdGenerator
from .._redact import Redact, chain, content_omitted
from .._sampling import Sampler
from .._span import Scope
from .._spanqueue import QueueFullPolicy
from .._trace import Trace
from .._writer import RetryableError
from ._config import DEFAULT_MAX_REQUEST_BYTES, OtlpSettings, resolve_settings

if TYPE_CHECKING:
    from ._encode import EncodedRequest, OtlpEncoder
    from ._http import OtlpHttpTransport

__all__ = ["OtlpSpanWriter", "OtlpTracer"]

_log = logging.getLogger("generative_ai_toolkit.tracer")

#: The GenAI semantic conventions' switch for capturing prompts and completions.
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

INSTALL_HINT: Final = (
    "OtlpTracer needs protobuf and opentelemetry-proto: "
    "pip install 'generative-ai-toolkit-tracing[otlp]'"
)


class OtlpSpanWriter:
    """The export engine's writer: encodes a batch and POSTs it, one request per batch (more
    when a batch exceeds the request size limit).

    When a later request of a split batch fails, the spans already delivered are reported as
    written (``RetryableError.remaining`` names the rest), so they are never sent twice. Spans a
    receiver rejects through OTLP partial success are logged and counted in ``rejected``.
    """

    def __init__(self, encoder: OtlpEncoder, transport: OtlpHttpTransport) -> None:
        self._encoder = encoder
        self._transport = transport
        self._rejected = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OtlpSpanWriter({self._transport.endpoint!r})"

    @property
    def rejected(self) -> int:
        """Spans the receiver accepted the request of but rejected (OTLP partial success)."""
        return self._rejected

    def write(self, batch: Sequence[Trace]) -> None:
        """Deliver every span of ``batch``; see ``SpanWriter``."""
        from ._encode import partial_success  # noqa: PLC0415 - protobuf is optional

        requests = self._encoder.encode(batch)
        for index, request in enumerate(requests):
            try:
                answer = self._transport.send(request.body)
            except RetryableError as exc:
                if index == 0:
                    raise
                raise RetryableError(
                    str(exc), remaining=_spans_of(requests[index:]), retry_after=exc.retry_after
                ) from None
            except Exception as exc:
                if index == 0:
                    raise
                # Report what went through; the rest comes back alone and fails (or is split
                # to find a poison span) on its own, without resending the delivered requests.
                raise RetryableError(
                    f"{exc}", remaining=_spans_of(requests[index:]), retry_after=0.0
                ) from None
            rejected, message = partial_success(answer)
            if rejected or message:
                with self._lock:
                    self._rejected += rejected
                _log.warning(
                    "%s: the receiver rejected %d of %d span(s): %s",
                    self,
                    rejected,
                    len(request.spans),
                    message or "(no message)",
                )

    def close(self) -> None:
        """Close the HTTP connection."""
        self._transport.close()


def _spans_of(requests: Sequence[EncodedRequest]) -> list[Trace]:
    return [span for request in requests for span in request.spans]


class OtlpTracer(ExportingTracer):
    """Sends spans as OTLP/HTTP protobuf, batched by a background worker; never blocks the agent.

    OTLP has no partial spans: ``Trace.emit_snapshot()`` does nothing here.

    The destination is ``endpoint`` (a full URL such as ``https://collector:4318/v1/traces``),
    else ``http://{host}:{port}/v1/traces``, else the ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` variables, else ``http://localhost:4318/v1/traces``.
    ``headers``, ``timeout`` (seconds) and ``compression`` (``"gzip"``) likewise fall back to the
    ``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS/TIMEOUT/COMPRESSION`` variables.

    ``genai_semconv`` adds OpenTelemetry GenAI semantic-convention keys (``gen_ai.*``) next to
    ours on export. ``capture_content=False`` keeps only metadata of LLM and tool spans (the
    GenAI conventions' default): prompts, answers and tool inputs/outputs become size markers
    (``redaction.content_omitted()``); unset, the ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_
    CONTENT`` variable decides (``false`` omits), and content is captured when it is unset too.
    ``redact=`` and ``sampler=`` work as on every tracer; redaction runs on the export worker.
    ``xray_ids`` makes trace ids AWS X-Ray accepts. A request never exceeds
    ``max_request_bytes``. Failed requests are retried with backoff (honouring ``Retry-After``)
    while the queue holds; see ``ExportingTracer`` for the queue options, ``stats`` for counts.
    """

    _takes_snapshots = False

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: str | None = None,
        genai_semconv: bool = True,
        capture_content: bool | None = None,
        xray_ids: bool = False,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        ssl_context: ssl.SSLContext | None = None,
        max_queue_size: int = 20_000,
        max_batch_size: int = 500,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        max_retry_delay: float = 5.0,
        shutdown_timeout: float = 10.0,
        on_queue_full: QueueFullPolicy = "drop",
        block_timeout: float = 5.0,
        clock: Clock | None = None,
        id_generator: IdGenerator | None = None,
        scope: Scope | None = None,
        redact: Redact | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        if not captures_content(capture_content):
            redact = content_omitted() if redact is None else chain(content_omitted(), redact)
        settings = resolve_settings(
            host=host,
            port=port,
            endpoint=endpoint,
            headers=headers,
            timeout=timeout,
            compression=compression,
        )
        if xray_ids:
            if id_generator is not None:
                raise ValueError("give either xray_ids=True or id_generator=, not both")
            id_generator = XRayIdGenerator()
        try:
            from ._encode import OtlpEncoder  # noqa: PLC0415 - optional dependency
            from ._http import OtlpHttpTransport  # noqa: PLC0415
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        encoder = OtlpEncoder(genai_semconv=genai_semconv, max_request_bytes=max_request_bytes)
        transport = OtlpHttpTransport(
            settings.endpoint,
            headers=settings.headers,
            timeout=settings.timeout,
            compression=settings.compression,
            ssl_context=ssl_context or _context_for(settings),
            user_agent=f"generative-ai-toolkit-tracing/{_version()}",
        )
        self._settings = settings
        self._writer = OtlpSpanWriter(encoder, transport)
        super().__init__(
            self._writer,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay=schedule_delay,
            max_retry_delay=max_retry_delay,
            shutdown_timeout=shutdown_timeout,
            on_queue_full=on_queue_full,
            block_timeout=block_timeout,
            clock=clock,
            id_generator=id_generator,
            scope=scope,
            redact=redact,
            sampler=sampler,
        )

    def __repr__(self) -> str:
        return f"OtlpTracer(endpoint={self._settings.endpoint!r})"

    @property
    def endpoint(self) -> str:
        """The URL spans are POSTed to."""
        return self._settings.endpoint

    @property
    def settings(self) -> OtlpSettings:
        """The resolved endpoint, headers, timeout, compression and CA certificate file."""
        return self._settings

    @property
    def stats(self) -> dict[str, int]:
        """``ExportingTracer.stats`` plus ``rejected``: spans a receiver refused through OTLP
        partial success (they are also counted as written: the request went through)."""
        return {**super().stats, "rejected": self._writer.rejected}


def captures_content(
    capture_content: bool | None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether content is exported: ``capture_content`` when given, else the variable (only
    ``false``, in any case, turns it off), else yes, as before the variable existed here."""
    if capture_content is not None:
        return bool(capture_content)
    value = (os.environ if environ is None else environ).get(CAPTURE_CONTENT_ENV, "")
    return value.strip().lower() != "false"


def _context_for(settings: OtlpSettings) -> ssl.SSLContext | None:
    if settings.certificate is None or not settings.endpoint.startswith("https:"):
        return None
    try:
        return ssl.create_default_context(cafile=settings.certificate)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load the OTLP CA certificate {settings.certificate!r}: {exc}"
        ) from exc


def _version() -> str:
    try:
        return metadata.version("generative-ai-toolkit-tracing")
    except metadata.PackageNotFoundError:
        return "unknown"
