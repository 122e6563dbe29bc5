"""The built-in ``Redactor``: secrets, e-mail addresses, card numbers and sensitive key names.

Text is searched in two steps: first for what every match of a kind contains (``ANCHORS``),
then, only where that is found, for the kinds in full. Containers a span holds are first given
a quick look in their ``marshal`` bytes (``_quick_look``) and at the set of their dict keys, so
message lists with nothing to redact are neither rebuilt nor walked (``skips_frozen``).
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ._quick_look import AWS_KEY_PREFIXES, dict_keys_inside, may_hold_card, may_hold_secret, rest_of
from ._trace import Trace

KEY_MARKER: Final = "[REDACTED:key]"

#: Key names whose whole value is a secret (compared without case, ``-``, ``_`` or ``.``, as
#: the whole key or its last dotted part: ``http.request.header.authorization`` matches).
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

#: The secrets found in text, by kind. Some are checked further, where a pattern alone would
#: catch ordinary text (see ``_CHECKS``).
SECRET_PATTERNS: Final[dict[str, str]] = {
    "aws-key": rf"\b(?:{'|'.join(AWS_KEY_PREFIXES)})[0-9A-Z]{{16}}\b",
    "aws-secret": r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    "bearer-token": r"\b(?:Bearer|bearer|BEARER)\s+[A-Za-z0-9\-._~+/]{8,}=*",
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

#: What every match of a kind contains, searched first: most text has none of them, and
#: searching for them costs a fraction of the full expressions. Kinds without one (AWS secret
#: keys: their own pattern is as cheap; users' patterns) are searched for directly.
ANCHORS: Final[dict[str, str]] = {
    "aws-key": "|".join(AWS_KEY_PREFIXES),
    "bearer-token": "earer|EARER",
    "jwt": "eyJ",
    "api-key": "sk-|gh[pousr]_|github_pat_|xox|AIza|glpat-",
    "private-key": "PRIVATE KEY",
    "email": "@",
    "card": r"\d[\d -]{11,}\d",
}

#: An AWS secret key holds an uppercase letter and a digit (``_looks_like_aws_secret``).
_AWS_SECRET_GATES: Final = (re.compile("[A-Z]"), re.compile("[0-9]"))

#: Ints below 13 digits are never card numbers (most ints: no text made, no Luhn check).
_CARD_MIN: Final = 10**12
#: No secret of a built-in kind is shorter (``a@b.co``); users' patterns may be.
_SHORTEST_SECRET: Final = 6
#: Key names whose verdict is remembered per redactor.
_KEYS_CACHED: Final = 4096
#: Deeper nesting than this is left as it is (the JSON encoders stop at 200 levels anyway).
_MAX_DEPTH: Final = 64


def luhn_valid(text: str) -> bool:
    """Whether the digits of ``text`` pass the Luhn check (as payment card numbers do)."""
    digits = [int(c) for c in text if "0" <= c <= "9"]
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


def _normal(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "").replace(".", "")


class Redactor:
    """The built-in redactor: secrets, e-mail addresses, card numbers, sensitive keys.

    Each kind is off unless asked for: ``secrets`` (AWS access and secret keys, bearer tokens,
    JWTs, API keys of OpenAI, Anthropic, GitHub, Slack, Google and GitLab, PEM private keys, and
    the sensitive key names), ``emails``, ``credit_cards`` (13 to 19 digits, Luhn-checked, in
    text or as an int) and ``sensitive_keys`` (only the key names). ``keys`` adds key names
    whose whole value is redacted; ``patterns`` adds kinds of text to find
    (``{"employee-id": r"\\bE\\d{6}\\b"}``, shown as ``[REDACTED:employee-id]``).

    Stateless and thread-safe. Each text is first searched for what secrets contain (``AKIA``,
    ``@``, a run of digits ...), and only text holding such an anchor is searched in full.
    """

    __slots__ = (
        "_has_cards",
        "_has_emails",
        "_has_patterns",
        "_has_secrets",
        "_key_cache",
        "_keys",
        "_names",
        "_passes",
        "_shortest",
    )

    def __init__(
        self,
        *,
        secrets: bool = False,
        emails: bool = False,
        credit_cards: bool = False,
        sensitive_keys: bool = False,
        keys: Iterable[str] = (),
        patterns: Mapping[str, str] | None = None,
    ) -> None:
        kinds: dict[str, str] = {}
        if secrets:
            kinds.update(SECRET_PATTERNS)
        if emails:
            kinds["email"] = EMAIL_PATTERN
        if credit_cards:
            kinds["card"] = CARD_PATTERN
        for kind, pattern in (patterns or {}).items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {kind!r} is not a valid regular expression: {exc}"
                ) from None
            kinds[kind] = pattern
        self._names = {f"k{i}": kind for i, kind in enumerate(kinds)}
        groups: dict[str, list[str]] = {}
        for name, kind in self._names.items():
            # Anchored kinds share one pass; cards (a costly gate) and the rest get their own.
            anchor = ANCHORS.get(kind) if kind not in (patterns or {}) else None
            group = "card" if kind == "card" and anchor else ("anchored" if anchor else name)
            groups.setdefault(group, []).append(name)
        # Each pass: the searches that must all find something before the full one runs.
        self._passes: list[tuple[tuple[re.Pattern[str], ...], re.Pattern[str]]] = []
        for group, members in groups.items():
            full = "|".join(f"(?P<{name}>{kinds[self._names[name]]})" for name in members)
            if group in ("card", "anchored"):
                gates: tuple[re.Pattern[str], ...] = (
                    re.compile("|".join(ANCHORS[self._names[n]] for n in members)),
                )
            elif self._names[members[0]] == "aws-secret" and "aws-secret" not in (patterns or {}):
                gates = _AWS_SECRET_GATES  # it mixes cases and digits: text without either has none
            else:
                gates = ()
            self._passes.append((gates, re.compile(full)))
        self._has_cards = credit_cards
        self._has_emails = emails
        self._has_secrets = secrets
        self._has_patterns = bool(patterns)
        self._shortest = 1 if patterns else _SHORTEST_SECRET
        names = {_normal(key) for key in keys}
        if sensitive_keys or secrets:
            names |= SENSITIVE_KEYS
        self._keys = frozenset(names)
        # Message lists repeat a few key names ("role", "content", "text") many times over.
        self._key_cache: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"Redactor(kinds={sorted(set(self._names.values()))}, keys={len(self._keys)})"

    def __call__(self, key: str, value: Any, span: Trace | None = None) -> Any:
        """``value`` with what this redactor finds replaced (the same object when nothing is)."""
        if self._is_sensitive(key):
            return KEY_MARKER
        return self._walk(value, 0, {})

    def skips_frozen(self, key: str, blob: bytes, value: Any = None) -> bool:
        """Whether a container, as its ``marshal`` bytes, certainly holds nothing to redact
        (so ``redact_span`` need not rebuild and walk it). ``value``: the container rebuilt,
        when the caller has it already (else it is rebuilt here if needed)."""
        if self._has_patterns or self._is_sensitive(key):
            return False
        rest = rest_of(blob)
        if self._has_secrets and may_hold_secret(blob, rest):
            return False
        if self._has_emails and b"@" in rest:
            return False
        if self._has_cards and may_hold_card(rest):
            return False
        if self._keys:
            # The dict keys inside, each compared once (message lists repeat a few names).
            inside = marshal.loads(blob) if value is None else value
            keys = dict_keys_inside(inside, max_depth=_MAX_DEPTH)
            return not any(self._is_sensitive(key) for key in keys if type(key) is str)
        return True

    def redact_text(self, text: str) -> str:
        """``text`` with every secret this redactor finds replaced by ``[REDACTED:<kind>]``."""
        if len(text) < self._shortest:
            return text
        for gates, regex in self._passes:
            for gate in gates:
                if gate.search(text) is None:
                    break
            else:
                text = regex.sub(self._replacement, text)
        return text

    def _is_sensitive(self, key: str) -> bool:
        known = self._key_cache.get(key)
        if known is not None:
            return known
        keys = self._keys
        sensitive = bool(keys) and (_normal(key) in keys or _normal(key.rpartition(".")[2]) in keys)
        if len(self._key_cache) < _KEYS_CACHED:
            self._key_cache[key] = sensitive
        return sensitive

    def _replacement(self, match: re.Match[str]) -> str:
        kind = self._names[match.lastgroup or ""]
        check = _CHECKS.get(kind)
        if check is not None and not check(match.group()):
            return match.group()
        return f"[REDACTED:{kind}]"

    def _walk(self, value: Any, depth: int, done: dict[int, tuple[Any, Any]]) -> Any:
        """``value`` redacted; ``done`` maps each container met to (it, its result), so a
        container held many times over (2**40 paths through 40 shared levels) is walked once;
        holding the container keeps its id from reuse."""
        kind = type(value)
        if kind is str or kind is int:
            return self._scalar(value)
        if depth > _MAX_DEPTH or not (kind is list or kind is tuple or isinstance(value, Mapping)):
            return value
        met = done.get(id(value))
        if met is None:
            met = done[id(value)] = (value, self._walk_container(value, depth, done))
        return met[1]

    def _scalar(self, value: str | int) -> Any:
        if isinstance(value, str):
            if not self._passes:
                return value
            text = self.redact_text(value)
            return value if text == value else text
        if self._has_cards and not -_CARD_MIN < value < _CARD_MIN and luhn_valid(str(value)):
            return "[REDACTED:card]"
        return value

    def _walk_container(self, value: Any, depth: int, done: dict[int, tuple[Any, Any]]) -> Any:
        kind = type(value)
        if kind is list or kind is tuple:
            items = [self._walk(item, depth + 1, done) for item in value]
            for item, old in zip(items, value, strict=True):
                if item is not old:
                    return kind(items)
            return value
        out: dict[Any, Any] = {}
        changed = False
        for item_key, item in value.items():
            if isinstance(item_key, str) and self._is_sensitive(item_key):
                new: Any = KEY_MARKER
            else:
                new = self._walk(item, depth + 1, done)
            changed = changed or new is not item
            out[item_key] = new
        return out if changed else value
