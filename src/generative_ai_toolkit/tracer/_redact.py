"""Redaction: what a span may carry out of the process, decided once per span before it is stored.

A redactor is any callable ``(key, value, span) -> value to store``; it sees every attribute of
an ended span (values as the span holds them: lists and dicts included) and returns the value
unchanged, or another one. The built-in ``Redactor`` walks nested lists and dicts, replaces
secrets it finds in text with ``[REDACTED:<kind>]`` and the whole value of sensitive keys
(``password``, ``authorization`` ...) with ``[REDACTED:key]``. Every kind is opt-in:

```python
from generative_ai_toolkit.tracer import SqliteTracer, redaction

tracer = SqliteTracer(redact=redaction.Redactor(secrets=True, emails=True, credit_cards=True))
```

``redact_span`` applies a redactor to a span: the result is a new ended span whose changed keys
are listed in ``ai.redacted.keys``. A redactor that raises never loses the span: that value
becomes ``[REDACTED:error]`` and the failure is reported to the caller, who counts and logs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ._trace import Trace, stored_span

#: A redactor: ``(key, value, span) -> the value to store``.
Redact = Callable[[str, Any, Trace], Any]

#: The attribute listing the keys a redactor changed on a span.
REDACTED_KEYS_ATTRIBUTE: Final = "ai.redacted.keys"
ERROR_MARKER: Final = "[REDACTED:error]"

#: Key names whose whole value is a secret (compared without case, ``-``, ``_`` or ``.``).
SENSITIVE_KEYS: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "clientsecret",
        "authorization",
        "proxyauthorization",
        "apikey",
        "xapikey",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "token",
        "sessiontoken",
        "privatekey",
        "credentials",
        "cookie",
        "setcookie",
        "awssecretaccesskey",
        "secretaccesskey",
        "awssessiontoken",
    }
)

#: The secrets found in text, by kind. Each is checked further where a pattern alone would
#: catch ordinary text (see ``_CHECKS``).
SECRET_PATTERNS: Final[dict[str, str]] = {
    "aws-key": r"\b(?:AKIA|ASIA|AROA|AIDA|ANPA|ANVA|AGPA)[0-9A-Z]{16}\b",
    "aws-secret": r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    "bearer-token": r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*",
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
    "api-key": (
        r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"
        r"|gh[pousr]_[A-Za-z0-9]{36,}"
        r"|github_pat_[A-Za-z0-9_]{40,}"
        r"|xox[abposr]-[A-Za-z0-9-]{10,}"
        r"|AIza[0-9A-Za-z_-]{35}"
        r"|glpat-[A-Za-z0-9_-]{20,})"
    ),
    "private-key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
}
EMAIL_PATTERN: Final = r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
CARD_PATTERN: Final = r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"


def luhn_valid(text: str) -> bool:
    """Whether the digits of ``text`` pass the Luhn check (as payment card numbers do)."""
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if index % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return 13 <= len(digits) <= 19 and total % 10 == 0


def _looks_like_aws_secret(text: str) -> bool:
    # 40 base64 characters are also hashes and ids: a secret key mixes cases and digits and is
    # not hexadecimal.
    return (
        any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
        and not all(c in "0123456789abcdefABCDEF" for c in text)
    )


_CHECKS: Final[dict[str, Callable[[str], bool]]] = {
    "aws-secret": _looks_like_aws_secret,
    "card": luhn_valid,
}


@dataclass(frozen=True)
class Redactor:
    """The built-in redactor: secrets, e-mail addresses, card numbers, sensitive keys.

    Each kind is off unless asked for. ``keys`` adds key names whose whole value is redacted
    (compared without case, ``-``, ``_`` or ``.``); ``patterns`` adds kinds of text to find
    (``{"employee-id": r"\\bE\\d{6}\\b"}``). One pass of one regular expression over each text.
    """

    secrets: bool = False
    emails: bool = False
    credit_cards: bool = False
    sensitive_keys: bool = False
    keys: Iterable[str] = ()
    patterns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kinds: dict[str, str] = {}
        if self.secrets:
            kinds.update(SECRET_PATTERNS)
        if self.emails:
            kinds["email"] = EMAIL_PATTERN
        if self.credit_cards:
            kinds["card"] = CARD_PATTERN
        kinds.update(self.patterns)
        names = {f"k{i}": kind for i, kind in enumerate(kinds)}
        combined = "|".join(f"(?P<{name}>{kinds[kind]})" for name, kind in names.items())
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_regex", re.compile(combined) if combined else None)
        keys = {_normal(key) for key in self.keys}
        if self.sensitive_keys or self.secrets:
            keys |= SENSITIVE_KEYS
        object.__setattr__(self, "_keys", frozenset(keys))

    def __call__(self, key: str, value: Any, span: Trace | None = None) -> Any:
        """``value`` with what this redactor finds replaced (the same object when nothing is)."""
        if _normal(key) in self._keys:  # type: ignore[attr-defined]
            return "[REDACTED:key]"
        return self._walk(value, 0)

    def redact_text(self, text: str) -> str:
        """``text`` with every secret this redactor finds replaced by ``[REDACTED:<kind>]``."""
        regex: re.Pattern[str] | None = self._regex  # type: ignore[attr-defined]
        if regex is None:
            return text
        return regex.sub(self._replacement, text)

    def _replacement(self, match: re.Match[str]) -> str:
        kind: str = self._names[match.lastgroup or ""]  # type: ignore[attr-defined]
        check = _CHECKS.get(kind)
        if check is not None and not check(match.group()):
            return match.group()
        return f"[REDACTED:{kind}]"

    def _walk(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.redact_text(value)
        if depth > 32:
            return value
        if kind is list or kind is tuple:
            items = [self._walk(item, depth + 1) for item in value]
            changed = any(new is not old for new, old in zip(items, value, strict=True))
            return kind(items) if changed else value
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            changed = False
            for item_key, item in value.items():
                if isinstance(item_key, str) and _normal(item_key) in self._keys:  # type: ignore[attr-defined]
                    new: Any = "[REDACTED:key]"
                else:
                    new = self._walk(item, depth + 1)
                changed = changed or new is not item
                out[item_key] = new
            return out if changed else value
        if kind is int and self.credit_cards and luhn_valid(str(value)):
            return "[REDACTED:card]"
        return value


def _normal(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "").replace(".", "")


def chain(*redactors: Redact) -> Redact:
    """One redactor applying ``redactors`` in order, each to what the previous returned."""

    def redact(key: str, value: Any, span: Trace) -> Any:
        for redactor in redactors:
            value = redactor(key, value, span)
        return value

    return redact


@dataclass
class RedactionResult:
    """A redacted span and the failures met on the way (for the tracer to count and log)."""

    span: Trace
    errors: list[tuple[str, Exception]] = field(default_factory=list)


def redact_span(span: Trace, redact: Redact) -> RedactionResult:
    """A new ended span: ``span`` with ``redact`` applied to every attribute value.

    The keys whose values changed are listed in ``ai.redacted.keys`` (appended to what an
    earlier redaction listed). Returns ``span`` itself when nothing changed.
    """
    attrs = span._attrs
    out: dict[str, Any] = {}
    changed: list[str] = []
    errors: list[tuple[str, Exception]] = []
    for key, value in attrs.items():
        try:
            new = redact(key, value, span)
        except Exception as exc:  # noqa: BLE001 - a broken redactor must not lose the span
            errors.append((key, exc))
            new = ERROR_MARKER
        if new is not value:
            changed.append(key)
        out[key] = new
    if not changed:
        return RedactionResult(span, errors)
    listed = out.get(REDACTED_KEYS_ATTRIBUTE)
    before = list(listed) if isinstance(listed, (list, tuple)) else []
    inherited = len(span.inherited_attribute_keys)
    own_keys = list(out)[: len(out) - inherited]
    ordered = {key: out[key] for key in own_keys}
    ordered[REDACTED_KEYS_ATTRIBUTE] = before + [k for k in changed if k not in before]
    ordered.update((key, out[key]) for key in list(out)[len(out) - inherited :])
    redacted = stored_span(
        span._name,
        span._kind,
        span._trace_id,
        span._span_id,
        span._parent_id,
        span._start_ns,
        span._end_ns,
        ordered,
        span._status,
        span._resource,
        span._scope,
        inherited,
    )
    return RedactionResult(redacted, errors)
