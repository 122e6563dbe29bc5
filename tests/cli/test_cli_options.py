"""gat-traces options: what --help offers, and values out of range as usage errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from .conftest import Run


def test_serve_on_a_busy_port_says_what_to_do(run: Run, sample_db: Path) -> None:
    """A port in use is one line naming the port and the way out, exit 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--db", sample_db.name, "--port", str(port))
    expected = (
        f"gat-traces: error: cannot listen on 127.0.0.1 port {port}: it is in use (another "
        "`gat-traces serve`?); pass another --port, or --port 0 for any free one\n"
    )
    assert (1, expected) == (result.returncode, result.stderr)


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(run: Run, sample_db: Path, port: str) -> None:
    """--port outside 0-65535 exits 2 with argparse's usage message, not a traceback."""
    result = run("serve", "--db", sample_db.name, "--port", port)
    assert 2 == result.returncode
    assert "argument --port: not a port number" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("since", "expected"), [("1w", 0), ("1000w", 3), ("-1000w", 3), ("52000h", 3), ("-5m", 0)]
)
def test_since_takes_an_age_in_weeks_and_with_a_minus_sign(
    run: Run, sample_db: Path, since: str, expected: int
) -> None:
    """--since 1w is a week ago; --since -5m is 5m ago, not a missing argument."""
    result = run("list", "--db", sample_db.name, "--since", since, "--json")
    assert (0, expected) == (result.returncode, len(result.stdout.splitlines())), result.stderr


def test_list_help_names_the_time_units(run: Run) -> None:
    """`list --help` says which ages --since understands."""
    result = run("list", "--help")
    assert "an age: 30s, 15m, 2h, 7d, 1w" in " ".join(result.stdout.split())


def _help_section(help_text: str, title: str) -> str:
    """The options listed under ``title`` in a --help text."""
    section = help_text.split(f"\n{title}", 1)[1].split("\n\n", 1)[0]
    return " ".join(line.split()[0] for line in section.splitlines()[1:] if line[2:3] == "-")


@pytest.mark.parametrize(
    ("command", "title", "expected"),
    [
        ("list", "source", "--db --dynamodb --jsonl --gsi"),
        ("show", "source", "--db --dynamodb --jsonl --gsi"),
        ("export", "source", "--db --dynamodb --jsonl --gsi"),
        ("serve", "source", "--db --dynamodb --jsonl --gsi"),
        ("tail", "source", "--db --jsonl"),
        ("import", "where to store", "--db --dynamodb --gsi"),
    ],
)
def test_help_groups_the_sources_each_command_supports(
    run: Run, command: str, title: str, expected: str
) -> None:
    """Every source option is in the source group, and only those the command supports."""
    result = run(command, "--help")
    assert expected == _help_section(result.stdout, title)


@pytest.mark.parametrize(
    ("command", "has_color"),
    [
        ("list", True),
        ("show", True),
        ("tail", True),
        ("export", False),
        ("import", False),
        ("serve", False),
    ],
)
def test_only_commands_that_print_for_people_offer_color(
    run: Run, command: str, has_color: bool
) -> None:
    """--color is offered where it changes the output."""
    assert has_color == ("--color" in run(command, "--help").stdout)


@pytest.mark.parametrize(
    ("args", "rejected"),
    [
        (["import", "f.jsonl", "--jsonl", "g.jsonl"], "--jsonl"),
        (["tail", "--dynamodb", "T"], "--dynamodb"),
    ],
)
def test_options_a_command_does_not_support_are_usage_errors(
    run: Run, args: list[str], rejected: str
) -> None:
    """import cannot store into a JSON-lines file, tail cannot follow DynamoDB: exit 2."""
    result = run(*args)
    assert (2, True) == (result.returncode, f"unrecognized arguments: {rejected}" in result.stderr)


def test_version(run: Run) -> None:
    """--version prints the installed version."""
    from importlib.metadata import version  # noqa: PLC0415

    result = run("--version")
    expected = (0, f"gat-traces {version('generative-ai-toolkit-tracing')}\n")
    assert expected == (result.returncode, result.stdout)
