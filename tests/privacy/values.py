"""Hypothesis strategies for the redaction tests: nested values, with and without secrets.

Clean text never looks like a secret: lowercase letters without ``b`` (no ``bearer``), spaces
and punctuation, no digits, ``@``, ``-`` or ``_``. Dict keys come from a list of harmless names.
"""

from __future__ import annotations

from typing import Any, Final

from hypothesis import strategies as st

#: One example of every kind the built-in redactor finds, and the marker it becomes.
SECRETS: Final[dict[str, str]] = {
    "AKIAIOSFODNN7EXAMPLE": "[REDACTED:aws-key]",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "[REDACTED:aws-secret]",
    "Bearer abcDEF123456ghiJKL": "[REDACTED:bearer-token]",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N": "[REDACTED:jwt]",
    "sk-proj-abcdefghijklmnopqrstuvwxyz123456": "[REDACTED:api-key]",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789": "[REDACTED:api-key]",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv": "[REDACTED:api-key]",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----": (
        "[REDACTED:private-key]"
    ),
    "jane.doe@example.com": "[REDACTED:email]",
    "4111 1111 1111 1111": "[REDACTED:card]",
    "5500-0000-0000-0004": "[REDACTED:card]",
    "378282246310005": "[REDACTED:card]",
}

clean_text = st.text(alphabet="acdefghijklmnopqrstuvwxyz ,.!?", max_size=30)
keys = st.sampled_from(["role", "content", "text", "items", "meta", "name", "args", "toolUse"])
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    clean_text,
)
nested: st.SearchStrategy[Any] = st.recursive(
    leaves,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=4),
    max_leaves=12,
)


@st.composite
def planted(draw: st.DrawFn) -> tuple[Any, str]:
    """A nested value with one secret planted in a text at a random position, and the secret."""
    secret = draw(st.sampled_from(sorted(SECRETS)))
    text = draw(clean_text) + " " + secret + " " + draw(clean_text)
    return _plant(draw(nested), text, draw), secret


def _plant(value: Any, text: str, draw: st.DrawFn) -> Any:
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return [_plant(v, text, draw) if i == index else v for i, v in enumerate(value)]
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        return {k: _plant(v, text, draw) if k == key else v for k, v in value.items()}
    return draw(st.sampled_from([text, [value, text], {"text": text, "meta": value}]))
