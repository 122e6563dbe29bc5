"""Redaction: what a span may carry out of the process, decided once per span before it is stored.

A redactor is any callable ``(key, value, span) -> value to store``; it sees every attribute of
an ended span (values as the span holds them: lists and dicts included, each a copy of its
own) and returns the value unchanged (the same object), or another one; a copy it changed in
place and returned is kept as changed. The built-in ``Redactor`` walks nested lists and dicts,
replaces secrets it finds in text with ``[REDACTED:<kind>]`` and the whole value of sensitive
keys (``password``, ``authorization`` ...) with ``[REDACTED:key]``. Every kind is opt-in.
``content_omitted()`` keeps LLM and tool spans' metadata and replaces their content with a size
marker.

``redact_span`` applies a redactor to a span: the result is a new ended span whose changed keys
are listed in ``ai.redacted.keys``. A redactor that raises never loses the span: that value
becomes ``[REDACTED:error]`` and the failure is handed back for the tracer to count and log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final

from ._freeze import ATOMIC_TYPES, Frozen, freeze, safe_str, thaw
from ._redactor import Redactor
from ._snapshot import SpanSnapshot, stored_snapshot
from ._trace import Trace

#: A redactor: ``(key, value, span) -> the value to store``.
Redact = Callable[[str, Any, Trace], Any]

#: The attribute listing the keys a redactor changed on a span.
REDACTED_KEYS_ATTRIBUTE: Final = "ai.redacted.keys"
ERROR_MARKER: Final = "[REDACTED:error]"

#: The attributes that hold what was said and done (prompts, answers, tool arguments and
#: results): what ``content_omitted()`` replaces.
CONTENT_KEYS: Final = frozenset(
    {
        "ai.llm.request.messages",
        "ai.llm.request.system",
        "ai.llm.response.output",
        "ai.tool.input",
        "ai.tool.output",
        "ai.user.input",
        "ai.agent.response",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
    }
)


def content_omitted(keys: Iterable[str] = CONTENT_KEYS) -> Redact:
    """A redactor keeping only metadata: each content attribute becomes a size marker.

    Model, token usage, durations, statuses and errors stay; prompts, answers and tool inputs
    and outputs (``CONTENT_KEYS``, or ``keys``) become ``[REDACTED:content] 1234 chars``, the
    length of the value as text (JSON for lists and dicts).
    """
    omitted = frozenset(keys)

    def omit(key: str, value: Any, span: Trace) -> Any:
        if key not in omitted or value is None:
            return value
        if type(value) is str:
            size = len(value)
        else:
            size = len(json.dumps(value, ensure_ascii=False, default=safe_str))
        return f"[REDACTED:content] {size} chars"

    return _leaves_its_input(omit)


def chain(*redactors: Redact) -> Redact:
    """One redactor applying ``redactors`` in order, each to what the previous returned."""
    if len(redactors) == 1:
        return redactors[0]

    def redact(key: str, value: Any, span: Trace) -> Any:
        for redactor in redactors:
            value = redactor(key, value, span)
        return value

    return _leaves_its_input(redact) if all(map(_never_changes_its_input, redactors)) else redact


#: Marks the library's redactors, which never change the value they are given in place, so
#: ``redact_span`` need not compare what they return with the span's value.
_UNCHANGING: Final = "_gat_never_changes_its_input"


def _leaves_its_input(redact: Redact) -> Redact:
    setattr(redact, _UNCHANGING, True)
    return redact


def _never_changes_its_input(redact: Redact) -> bool:
    return isinstance(redact, Redactor) or getattr(redact, _UNCHANGING, False) is True


class RedactedSpan(Trace):
    """A span as a redactor left it: a new ended span, never redacted again."""

    __slots__ = ()


def redact_span(
    span: Trace, redact: Redact, *, thaw_once: bool = False
) -> tuple[Trace, list[tuple[str, Exception]]]:
    """``span`` with ``redact`` applied to every attribute value, and the failures met.

    Returns a new ended span (a ``RedactedSpan``) listing the keys whose values changed in
    ``ai.redacted.keys`` (after the keys an earlier redaction listed), or ``span`` itself when
    nothing changed. A value whose redactor raised becomes ``[REDACTED:error]``.

    ``thaw_once``: when a writer encodes the span next, the built-in ``Redactor`` (which never
    changes what it reads) reads the values the span caches for its readers (``_attrs``), so
    the writer does not rebuild them again; other redactors always get copies of their own.
    """
    raw = span._raw
    skips = redact.skips_frozen if isinstance(redact, Redactor) else None
    shared = span._attrs if thaw_once and skips is not None else None
    check_in_place = not _never_changes_its_input(redact)
    out: dict[str, Any] | None = None
    changed: list[str] = []
    errors: list[tuple[str, Exception]] = []
    for index, (key, stored) in enumerate(raw.items()):
        if type(stored) is Frozen:
            value = None if shared is None else shared[key]  # a container: never None
            if skips is not None and skips(key, stored.blob, value):
                if out is not None:
                    out[key] = stored
                continue
            if value is None:
                value = stored.thaw()
        else:
            value = stored
        try:
            new = redact(key, value, span)
        except Exception as exc:  # noqa: BLE001 - a broken redactor must not lose the span
            errors.append((key, exc))
            new = ERROR_MARKER
        if new is value and not (check_in_place and _changed_in_place(value, stored)):
            if out is not None:
                out[key] = raw[key]
            continue
        if out is None:
            # Unchanged values are taken as the span holds them (frozen), never shared thawed.
            out = {k: raw[k] for k in list(raw)[:index]}
        changed.append(key)
        # A new container is frozen like any attribute value, so readers get copies.
        out[key] = new if type(new) in ATOMIC_TYPES else freeze(new)
    if out is None:
        return span, errors
    return _as_open(span, _redacted_copy(span, out, changed)), errors


def _changed_in_place(value: Any, stored: Any) -> bool:
    """Whether a redactor changed the copy of a container it was given and returned it, rather
    than a new value (a change the span must keep: it may be what hides a secret)."""
    if type(stored) is not Frozen:
        return False
    try:
        return bool(value != stored.thaw())
    except Exception:  # noqa: BLE001 - a comparison that raises: take it as changed
        return True


def _redacted_copy(span: Trace, out: dict[str, Any], changed: list[str]) -> RedactedSpan:
    """A new ended span of ``span`` holding ``out``, listing the ``changed`` keys."""
    raw = span._raw
    inherited = len(span.inherited_attribute_keys)
    keys = list(out)
    own = keys[: len(keys) - inherited]
    ordered = {key: out[key] for key in own if key != REDACTED_KEYS_ATTRIBUTE}
    listed = thaw(raw.get(REDACTED_KEYS_ATTRIBUTE))
    before = [str(k) for k in listed] if isinstance(listed, (list, tuple)) else []
    ordered[REDACTED_KEYS_ATTRIBUTE] = freeze(
        before + [k for k in changed if k not in before and k != REDACTED_KEYS_ATTRIBUTE]
    )
    for key in keys[len(keys) - inherited :]:
        ordered[key] = out[key]
    redacted = RedactedSpan._shell_of(span)
    redacted._end_ns = span._end_ns
    redacted._raw = ordered
    redacted._status = span._status
    if inherited:
        redacted._n_own = len(ordered) - inherited
    return redacted


def _as_open(span: Trace, redacted: Trace) -> Trace:
    # A redacted snapshot stays a snapshot: stores tell open spans from ended ones by it.
    return stored_snapshot(redacted, span._snapshot_ns) if type(span) is SpanSnapshot else redacted
