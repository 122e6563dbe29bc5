"""The package layout is the architecture: imports flow one way, into the core.

The core is every module directly in ``generative_ai_toolkit/tracer/`` (``_base``, ``_trace``,
``_export`` ...). Each folder below it is one part; ``testing`` is one too, and like the stores it
imports only the core. The package's own ``__init__`` is the public facade and may re-export any
part (``SqliteTracer``); nothing else in the core may import a part, and a part imports the core
and, for the application parts only, the parts it composes. Every import counts: module-level,
inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import generative_ai_toolkit.tracer as package

ROOT = Path(package.__file__).parent
PREFIX = "generative_ai_toolkit.tracer"

#: The parts each part may import, beside the core and itself.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "sqlite": set(),
    "dynamodb": set(),
    "otlp": set(),
    "viewer": set(),
    "testing": set(),
    "instrument": set(),
    # The applications compose the stores and the viewer; they read only through TraceQuery.
    "cli": {"sqlite", "dynamodb", "otlp", "viewer"},
    "demo": {"sqlite", "instrument"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PREFIX, *parts])


def _part(module: str) -> str:
    """The part a module of the package belongs to: a subpackage's name, or ``core``."""
    rest = module.removeprefix(PREFIX).lstrip(".").split(".")
    first = rest[0]
    return first if first and (ROOT / first).is_dir() else "core"


def _imports(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, resolved to absolute names."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from . import x` and `from .pkg import mod` may name modules too.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith(PREFIX) and _exists(name)}


def _exists(module: str) -> bool:
    rel = module.removeprefix(PREFIX).lstrip(".").replace(".", "/")
    return (ROOT / f"{rel}.py").is_file() or (ROOT / rel / "__init__.py").is_file()


SOURCES = sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_into_the_core(path: Path) -> None:
    """A module imports the core, its own part, and only the parts its part may compose."""
    module = _module_name(path)
    if module in {PREFIX, f"{PREFIX}.__main__"}:
        return  # the public facade re-exports the parts; ``python -m`` runs the command line
    part = _part(module)
    wrong = sorted(
        target
        for target in _imports(path)
        if _part(target) not in {"core", part} | ALLOWED[part]
        or (part != "core" and target == PREFIX)  # parts use the core's modules, not the facade
    )
    assert [] == wrong, f"{module} ({part}) imports {wrong}"


def test_every_part_is_known() -> None:
    """A new folder must say what it may import before it can land."""
    folders = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert folders <= set(ALLOWED)


def test_no_import_cycles_in_the_core() -> None:
    """The core's modules form a hierarchy (``_base`` -> ``_trace`` -> ``_span`` ...)."""
    core = {
        _module_name(p): _imports(p)
        for p in SOURCES
        if p.parent == ROOT and p.name not in {"__init__.py", "__main__.py"}
    }
    graph = {m: {t for t in targets if t in core and t != m} for m, targets in core.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert [] == cycles


def test_modules_read_in_one_sitting() -> None:
    """No module is past about 400 lines."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in SOURCES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert {} == long


#: The public surface: what users import, module by module. Removing a name breaks users.
PUBLIC: dict[str, set[str]] = {
    PREFIX: {
        "BaseTracer",
        "Clock",
        "ContextPropagatingExecutor",
        "ConversationFilter",
        "ConversationSummary",
        "HumanReadableTracer",
        "IdGenerator",
        "InMemoryTracer",
        "IterableTracer",
        "NoCurrentTraceError",
        "NoopTracer",
        "RandomIdGenerator",
        "Scope",
        "SpanListQuery",
        "SpanNode",
        "SqliteTracer",
        "StructuredLogsTracer",
        "TeeTracer",
        "Trace",
        "TraceQuery",
        "Tracer",
        "TurnSummary",
        "Usage",
        "XRayIdGenerator",
        "extract_traceparent",
        "flush_on_sigterm",
        "inject_traceparent",
        "traced",
        "turn_summaries",
        "with_current_context",
    },
    f"{PREFIX}.pricing": {
        "PRICING_ENV",
        "Cost",
        "ModelPrice",
        "Pricing",
        "PricingError",
        "PricingSource",
    },
    f"{PREFIX}.otlp": {"OtlpReceiver", "OtlpSpanWriter", "OtlpTracer"},
    f"{PREFIX}.redaction": {
        "CONTENT_KEYS",
        "REDACTED_KEYS_ATTRIBUTE",
        "Redact",
        "Redactor",
        "chain",
        "content_omitted",
        "redact_span",
    },
    f"{PREFIX}.sampling": {"ConversationRatio", "Sampler", "TailSampler", "TraceIdRatio"},
    f"{PREFIX}.dynamodb": {
        "ConversationPage",
        "DynamoDbTraceQuery",
        "DynamoDbTracer",
        "TableSetupError",
        "dynamodb_client",
    },
    f"{PREFIX}.sqlite": {
        "DB_PATH_ENV",
        "SqliteQuery",
        "SqliteTracer",
        "TraceDatabaseError",
        "default_db_path",
    },
    f"{PREFIX}.testing": {
        "SequentialIds",
        "Spans",
        "StepClock",
        "TokenUsage",
        "assert_called_tool",
        "assert_no_errors",
        "assert_tool_order",
        "capture_spans",
        "ended_span",
    },
    f"{PREFIX}.testing.pytest_plugin": {"gat_tracer"},
    f"{PREFIX}.viewer": {
        "CONTENT_SECURITY_POLICY",
        "ReloadingQuery",
        "ViewerServer",
        "check_bind_address",
    },
    f"{PREFIX}.cli": {"build_parser", "main"},
    f"{PREFIX}.instrument": {
        "Turn",
        "agent_turn",
        "instrument_bedrock",
        "record_llm_call",
        "traced_tool",
        "uninstrument_bedrock",
    },
    f"{PREFIX}.demo": {
        "BedrockError",
        "BedrockRequest",
        "BedrockServer",
        "ModelAnswer",
        "Responder",
        "ToolUse",
        "echo",
        "main",
        "throttling",
        "validation",
    },
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_surface(module: str) -> None:
    """Each public module exports exactly its names, and each is importable."""
    imported = importlib.import_module(module)
    assert PUBLIC[module] == set(imported.__all__)
    for name in PUBLIC[module]:
        assert getattr(imported, name) is not None


def test_console_script_and_module_entry_points() -> None:
    """``gat-traces`` and ``python -m generative_ai_toolkit.tracer`` run the same ``main``."""
    from importlib.metadata import entry_points  # noqa: PLC0415

    from generative_ai_toolkit.tracer.cli import main  # noqa: PLC0415

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "gat-traces"]
    assert main is script.load()
    main_module = (ROOT / "__main__.py").read_text(encoding="utf-8")
    assert "from .cli import main" in main_module
