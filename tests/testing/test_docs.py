"""The examples in docs/testing.md run as shown, failure message included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).parents[2] / "docs" / "testing.md"
#: A fenced block: its info string and its text.
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
#: The file a Python block stands for, named in its first line.
FILE_NAME = re.compile(r"# (\w+\.py)\n")


def blocks() -> list[tuple[str, str]]:
    """The fenced blocks of the page, in order: (info string, text)."""
    return [(match[1], match[2]) for match in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_documented_tests_run_as_shown(pytester: pytest.Pytester) -> None:
    """Every ``# name.py`` block is written out; the test files pass, except the one named
    ``*_fails.py``, whose failure reads as the block after it shows."""
    shown_failure = None
    files: dict[str, str] = {}
    page = blocks()
    for i, (info, text) in enumerate(page):
        named = FILE_NAME.match(text)
        if info == "python" and named:
            files[named[1]] = text
            if named[1].endswith("_fails.py"):
                shown_failure = page[i + 1][1]
    assert {
        "weather_agent.py",
        "test_weather_agent.py",
        "test_weather_agent_fails.py",
        "test_capture_example.py",
    } == set(files)
    for name, text in files.items():
        pytester.makepyfile(**{name.removesuffix(".py"): text})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_weather_agent_fails.py::*"])
    assert shown_failure is not None
    assert shown_failure in result.stdout.str() + "\n"
