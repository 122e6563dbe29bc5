"""A quick look at a container's ``marshal`` bytes: what it cannot hold, found without
rebuilding it (``Redactor.skips_frozen``).

A container's texts stand verbatim (UTF-8) in its ``marshal`` bytes, so necessary conditions of
the built-in kinds of secret can be checked there with a few passes in C: when none holds, the
container is neither rebuilt nor walked. Most checks run on the bytes with lowercase letters and
spaces deleted (``rest_of``: short for most text), the rest on the bytes themselves. A check
may say "maybe" of text holding no secret (the container is then walked); it never says "no" of
text holding one.
"""

from __future__ import annotations

import gc
import re
from typing import Any, Final

from ._freeze import unseen

#: What AWS access key ids start with.
AWS_KEY_PREFIXES: Final = ("AKIA", "ASIA", "AROA", "AIDA", "ANPA", "ANVA", "AGPA")

#: The rest: lowercase letters and spaces deleted, but ``l`` kept as ``\xec``, which is also how
#: marshal marks a long int (``_CARD_INTS``).
_REST_DELETES: Final = bytes(c for c in range(ord("a"), ord("z") + 1) if c != ord("l")) + b" "
_REST_TABLE: Final = bytes(c if c != ord("l") else 0xEC for c in range(256))
_UPPER_ANCHORS: Final = (
    *(prefix.encode() for prefix in AWS_KEY_PREFIXES),
    b"EARER",
    b"PRIVATEKEY",
)
#: The anchors above in one search (most of them start with ``A``), run on the capitals alone:
#: ordinary text has few of them, so this is short.
_UPPER_ANCHOR: Final = re.compile(b"|".join(re.escape(anchor) for anchor in _UPPER_ANCHORS))
_NOT_CAPITAL: Final = bytes(c for c in range(256) if not ord("A") <= c <= ord("Z"))
_GITHUB_ANCHORS: Final = (b"hp_", b"ho_", b"hu_", b"hs_", b"hr_", b"github_pat_")
_DASHED_ANCHORS: Final = (b"sk-", b"xox", b"glpat-")
#: Every byte that may be part of an AWS secret key becomes ``a``: 40 of them in a row or none.
_BASE64_RUNS: Final = bytes(
    0x61 if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "/+") else 0x20 for c in range(256)
)
_RUN_OF_40: Final = re.compile(rb"a{40,}")
_DIGIT_BYTE: Final = re.compile(rb"[0-9]")


#: With lowercase letters, ``/`` and ``+`` deleted, uppercase letters become ``U``, digits ``D``
#: and every other byte a space: a base64 run holding both leaves ``UD`` or ``DU`` behind.
_UPPER_OR_DIGIT: Final = bytes(
    0x55 if chr(c).isascii() and chr(c).isupper() else 0x44 if chr(c) in "0123456789" else 0x20
    for c in range(256)
)
_LOWER_BASE64: Final = bytes(range(ord("a"), ord("z") + 1)) + b"/+"


def _holds_aws_secret_run(blob: bytes) -> bool:
    """Whether some run of 40 or more base64 bytes mixes in an uppercase letter and a digit."""
    runs = blob.translate(_BASE64_RUNS)
    if b"a" * 40 not in runs:  # the common case, found by the fast substring search
        return False
    marks = blob.translate(_UPPER_OR_DIGIT, _LOWER_BASE64)
    if b"UD" not in marks and b"DU" not in marks:  # no run holds both, whatever its length
        return False
    for run in _RUN_OF_40.finditer(runs):
        chunk = blob[run.start() : run.end()]
        # islower(): cased letters, none uppercase (a long lowercase word, a run of "w"s).
        if not chunk.islower() and _DIGIT_BYTE.search(chunk) is not None:
            return True
    return False


#: Cards in text: digits and separators, with spaces (deleted) gone. First, faster: 13 of
#: them in a row, once every digit and ``-`` is ``0`` (and everything else ``x``).
_CARD_RUN: Final = re.compile(rb"[0-9][0-9-]{11,}[0-9]")
_CARD_CHARS: Final = bytes(0x30 if chr(c) in "0123456789-" else 0x78 for c in range(256))
_THIRTEEN: Final = b"0" * 13
#: Ints of 13 to 19 digits are marshalled as ``TYPE_LONG`` (``l``; ``\xec`` with the reference
#: flag; both ``\xec`` in the rest) followed by their count of 15-bit digits: 3 to 5 (negative
#: for negative ints) as a little-endian int32.
_CARD_INTS: Final = re.compile(rb"\xec[\x03-\x05\xfb-\xfd][\x00\xff][\x00\xff][\x00\xff]")
#: Past this many objects, each container is looked into once (``marshal`` keeps shared and
#: cyclic containers: a list holding the same list twice, 30 levels deep, is 2**30 paths).
_KEYS_UNIQUE_AFTER: Final = 10_000


def dict_keys_inside(value: Any, *, max_depth: int) -> set[Any]:
    """The keys of every dict inside ``value``, down to ``max_depth`` levels."""
    keys: set[Any] = set()
    level = [value]
    visited = 0
    seen: set[int] | None = None
    for _ in range(max_depth + 1):
        if not level:
            break
        dicts = [item for item in level if type(item) is dict]
        if dicts:
            keys.update(*dicts)
        visited += len(level)
        if seen is not None or visited > _KEYS_UNIQUE_AFTER:
            seen = seen or set()
            level = unseen(level, seen)
        level = gc.get_referents(*level)  # a level's items, in one C call
    return keys


def rest_of(blob: bytes) -> bytes:
    """``blob`` with lowercase letters and spaces deleted (``l`` kept, as ``\\xec``)."""
    return blob.translate(_REST_TABLE, _REST_DELETES)


def may_hold_secret(blob: bytes, rest: bytes) -> bool:
    """Whether ``blob`` may hold a secret of a built-in kind (``rest``: ``rest_of(blob)``)."""
    capitals = rest.translate(None, _NOT_CAPITAL)
    return (
        _UPPER_ANCHOR.search(capitals) is not None
        or b"earer" in blob
        or (b"J" in rest and b"eyJ" in blob)
        or (b"_" in rest and any(anchor in blob for anchor in _GITHUB_ANCHORS))
        or (b"-" in rest and any(anchor in blob for anchor in _DASHED_ANCHORS))
        or (b"AI" in capitals and b"AIza" in blob)
        or _holds_aws_secret_run(blob)
    )


def may_hold_card(rest: bytes) -> bool:
    """Whether a container may hold a card number, in text or as an int (``rest``: see
    ``rest_of``)."""
    return (
        _THIRTEEN in rest.translate(_CARD_CHARS) and _CARD_RUN.search(rest) is not None
    ) or _CARD_INTS.search(rest) is not None
