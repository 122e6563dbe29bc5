"""The pytest plugin, run the way users run it: pytest on a test file, through ``pytester``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import generative_ai_toolkit.tracer as package
from generative_ai_toolkit.tracer.testing import pytest_plugin

pytest_plugins = ["pytester"]

PLUGIN = "generative_ai_toolkit_tracer"

AGENT_TESTS = """
from generative_ai_toolkit.tracer.testing import Spans, assert_called_tool, assert_no_errors


def weather_agent(tracer, city):
    with tracer.trace("converse", span_kind="SERVER") as turn:
        turn.add_attribute("ai.trace.type", "converse")
        with tracer.trace("tool-invocation") as tool:
            tool.add_attribute("ai.trace.type", "tool-invocation")
            tool.add_attribute("ai.tool.name", "get_weather")
            tool.add_attribute("ai.tool.input", {"city": city})


def test_calls_the_weather_tool(gat_tracer):
    weather_agent(gat_tracer, "Paris")
    spans = Spans(gat_tracer.get_traces())
    assert_called_tool(spans, "get_weather", input={"city": "Paris"}, times=1)
    assert_no_errors(spans)


def test_asks_for_the_wrong_city(gat_tracer):
    weather_agent(gat_tracer, "Lisbon")
    assert_called_tool(gat_tracer.get_traces(), "get_weather", input={"city": "Paris"})
"""


def test_the_fixture_is_a_fresh_deterministic_in_memory_tracer(pytester: pytest.Pytester) -> None:
    """Each test gets its own InMemoryTracer whose ids and times start over."""
    pytester.makepyfile(
        """
        import datetime
        from generative_ai_toolkit.tracer import InMemoryTracer

        def test_first(gat_tracer):
            assert isinstance(gat_tracer, InMemoryTracer)
            with gat_tracer.trace("a") as span:
                pass
            assert "0" * 31 + "1" == span.trace_id
            assert "0" * 15 + "1" == span.span_id
            assert datetime.datetime(
                2025, 4, 15, 20, 24, 45, 208275, tzinfo=datetime.timezone.utc
            ) == span.started_at
            assert 1_000_000 == span.duration_ns

        def test_second_starts_over(gat_tracer):
            assert [] == gat_tracer.get_traces()
            with gat_tracer.trace("b") as span:
                pass
            assert "0" * 15 + "1" == span.span_id
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_failing_assertion_shows_the_spans_as_a_tree(pytester: pytest.Pytester) -> None:
    """pytest reports the message with the tree, not the helper's own code."""
    pytester.makepyfile(AGENT_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: expected tool 'get_weather' to be called at least once with input "
            "{'city': 'Paris'}, but it was called once, never with that input.",
            "E       The spans (> marks its calls):",
            "E           converse SERVER",
            'E         >   tool-invocation tool=get_weather input={"city": "Lisbon"}',
        ]
    )
    # The assertion's frames are hidden: the traceback ends in the user's test.
    result.stdout.no_fnmatch_line("*__tracebackhide__*")
    result.stdout.no_fnmatch_line("*_assertions.py*")


def test_the_fixture_comes_from_the_installed_entry_point(pytester: pytest.Pytester) -> None:
    """Blocking the plugin by its entry-point name removes the fixture; where plugins are not
    loaded automatically, ``-p`` with that name loads it, and so does ``pytest_plugins``."""
    pytester.makepyfile(AGENT_TESTS)
    blocked = pytester.runpytest("-p", f"no:{PLUGIN}")
    blocked.assert_outcomes(errors=2)
    blocked.stdout.fnmatch_lines(["*fixture 'gat_tracer' not found*"])

    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        pytester.runpytest("-p", PLUGIN).assert_outcomes(passed=1, failed=1)
        pytester.makeconftest(
            'pytest_plugins = ["generative_ai_toolkit.tracer.testing.pytest_plugin"]'
        )
        pytester.runpytest().assert_outcomes(passed=1, failed=1)


def test_suites_that_do_not_use_it_run_as_without_it(pytester: pytest.Pytester) -> None:
    """The plugin only defines a fixture: no hooks; other suites' results and output are the
    same with it blocked."""
    assert [] == [name for name in vars(pytest_plugin) if name.startswith("pytest_")]
    pytester.makepyfile(
        """
        import warnings

        def test_passes():
            assert 1 + 1 == 2

        def test_fails():
            assert [1, 2] == [1, 3]

        def test_warns():
            warnings.warn("careful", UserWarning)
        """
    )

    def outcome(*args: str) -> tuple[dict[str, int], list[str]]:
        result = pytester.runpytest(*args)
        lines = [
            line
            for line in result.outlines
            if " in " not in line  # the summary's timing
            and not line.startswith(("platform ", "rootdir:", "plugins:", "cachedir:"))
        ]
        return result.parseoutcomes(), lines

    assert outcome("-p", f"no:{PLUGIN}") == outcome()


def test_the_library_imports_pytest_only_in_the_plugin() -> None:
    """No module but ``testing/pytest_plugin.py`` names pytest, and importing ``testing``
    leaves pytest unimported."""
    root = Path(package.__file__).parent
    importers = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(m.split(".")[0] in {"pytest", "_pytest"} for m in modules):
                importers.append(str(path.relative_to(root)))
    assert ["testing/pytest_plugin.py"] == importers
    code = "import sys, generative_ai_toolkit.tracer.testing; print('pytest' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "False" == result.stdout.strip()
