"""The demo: a scripted agent, traced into SQLite and the terminal, then the commands to explore it.

```
python -m generative_ai_toolkit.tracer.demo [--db PATH] [--quiet]
```

No network and no real model: a fake model answers by script and calls a few tools (weather, a
calculator, an order lookup that fails for an unknown order, and a research sub-agent). Three
conversations of several turns each are traced with the notebook's attribute names into
``SqliteTracer`` (the default ``./traces.sqlite3``, ``$GAT_TRACES_DB`` or ``--db``) and a
``HumanReadableTracer`` at once. It ends by printing the ``gat-traces`` commands that show what
it recorded.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO, cast

from .._base import BaseTracer
from .._console import HumanReadableTracer
from .._tee import TeeTracer
from .._traced import traced
from ..sqlite import DB_PATH_ENV, SqliteTracer, default_db_path
from ._output import PipeSafeOutput

MODEL_ID: Final = "fake-model-1"
Message = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asks for ``tool`` with ``arguments``."""

    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ModelReply:
    """What the fake model returns: text, or a tool call."""

    text: str | None = None
    tool_call: ToolCall | None = None


class FakeModel:
    """A deterministic stand-in for an LLM: picks a tool by keyword, then words an answer from
    the tool's result. ``latency`` seconds per call make durations look real."""

    def __init__(self, *, latency: float = 0.004) -> None:
        self._latency = latency

    def reply(  # noqa: PLR0911 - one scripted rule per return
        self, messages: Sequence[Message], tools: Sequence[str]
    ) -> ModelReply:
        """The next message given the conversation so far."""
        if self._latency:
            time.sleep(self._latency)
        last = messages[-1]
        if last["role"] == "tool":
            return ModelReply(text=self._answer(last))
        text = str(last["content"])
        lowered = text.lower()
        if "weather" in lowered and "get_weather" in tools:
            city = _after(text, "in ") or "Amsterdam"
            return ModelReply(tool_call=ToolCall("get_weather", {"city": city}))
        match = re.search(r"[0-9(][0-9 +*/().-]*[0-9)]", text)
        if match and "calculator" in tools and "order" not in lowered:
            return ModelReply(tool_call=ToolCall("calculator", {"expression": match[0]}))
        if "order" in lowered and "lookup_order" in tools:
            order = re.search(r"[A-Z]-\d+", text)
            return ModelReply(
                tool_call=ToolCall("lookup_order", {"order_id": order[0] if order else "?"})
            )
        if ("research" in lowered or "find out" in lowered) and "research" in tools:
            topic = _after(text, "about ") or text
            return ModelReply(tool_call=ToolCall("research", {"topic": topic}))
        if "search_notes" in tools and not any(m["role"] == "tool" for m in messages):
            return ModelReply(tool_call=ToolCall("search_notes", {"query": text}))
        turns = sum(1 for m in messages if m["role"] == "user")
        return ModelReply(text=f"Noted. (That was message {turns} of this conversation.)")

    @staticmethod
    def _answer(tool_message: Message) -> str:
        if tool_message.get("error"):
            return f"Sorry, that did not work: {tool_message['content']}"
        content = str(tool_message["content"])
        return content if content.startswith("Here is") else f"Here is what I found: {content}"


def _after(text: str, marker: str) -> str | None:
    index = text.find(marker)
    return text[index + len(marker) :].strip(" ?.!") if index >= 0 else None


def _tokens(messages: Sequence[Message]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)


@dataclass
class Agent:
    """A tool-using agent: asks the model, runs the tools it asks for, until it answers.

    ``tracer`` is read by the bare ``@traced`` methods.
    """

    name: str
    tracer: BaseTracer
    model: FakeModel
    tools: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)

    def converse(
        self,
        user_input: str,
        *,
        conversation_id: str | None = None,
        auth_context: str | None = None,
        history: Sequence[Message] = (),
    ) -> tuple[str, list[Message]]:
        """One turn: the agent's answer and the updated message history."""
        with self.tracer.trace("converse", span_kind="SERVER") as span:
            span.add_attribute("ai.trace.type", "converse")
            if conversation_id is not None:
                span.add_attribute("ai.conversation.id", conversation_id, inheritable=True)
            if auth_context is not None:
                span.add_attribute("ai.auth.context", auth_context, inheritable=True)
            span.add_attribute("ai.agent.name", self.name)
            span.add_attribute("ai.user.input", user_input)
            messages = [*history, {"role": "user", "content": user_input}]
            for _ in range(5):
                reply = self.invoke_llm(messages)
                if reply.tool_call is None:
                    answer = reply.text or ""
                    break
                messages.append({"role": "assistant", "tool_call": reply.tool_call.tool})
                messages.append(self.run_tool(reply.tool_call))
            else:
                answer = "I could not finish that."
            messages.append({"role": "assistant", "content": answer})
            span.add_attribute("ai.agent.response", answer)
            span.set_status("OK")
            return answer, messages

    @traced("llm-invocation", span_kind="CLIENT")
    def invoke_llm(self, messages: list[Message]) -> ModelReply:
        """Ask the model; traced with the request messages, the output and token usage."""
        span = self.tracer.current_trace
        span.add_attribute("ai.trace.type", "llm-invocation")
        span.add_attribute("ai.llm.request.model.id", MODEL_ID)
        span.add_attribute("ai.agent.name", self.name)
        span.add_attribute("ai.llm.request.messages", messages)
        span.add_attribute("ai.llm.request.tools", sorted(self.tools))
        reply = self.model.reply(messages, list(self.tools))
        output = (
            reply.text
            if reply.tool_call is None
            else {"tool_call": reply.tool_call.tool, "arguments": reply.tool_call.arguments}
        )
        span.add_attribute("ai.llm.response.output", output)
        tokens_in, tokens_out = _tokens(messages), len(str(output).split())
        span.add_attribute(
            "ai.llm.response.usage",  # as Bedrock's Converse API reports it
            {
                "inputTokens": tokens_in,
                "outputTokens": tokens_out,
                "totalTokens": tokens_in + tokens_out,
            },
        )
        return reply

    @traced("tool-invocation")
    def run_tool(self, call: ToolCall) -> Message:
        """Run one tool; a failing tool marks its span as an error and tells the model."""
        span = self.tracer.current_trace
        span.add_attribute("ai.trace.type", "tool-invocation")
        span.add_attribute("ai.tool.name", call.tool)
        span.add_attribute("ai.tool.input", call.arguments)
        try:
            result = self.tools[call.tool](call.arguments)
        except Exception as exc:  # noqa: BLE001 - the model is told, as real agents do
            span.add_attribute("ai.tool.error", f"{type(exc).__name__}: {exc}")
            span.record_exception(exc)
            return {"role": "tool", "content": str(exc), "error": True}
        span.add_attribute("ai.tool.output", result)
        return {"role": "tool", "content": result}


# -- the tools -------------------------------------------------------------------------------------

_WEATHER: Final = {"Amsterdam": "12°C, light rain", "Lisbon": "21°C, sunny", "Oslo": "-3°C, snow"}
_ORDERS: Final = {"A-100": "shipped on Monday, arrives Thursday", "A-200": "being packed"}
_NOTES: Final = {
    "tracing": "Spans nest by context; inheritable attributes flow to children.",
    "sqlite": "WAL mode lets readers and several writers share one file.",
}


def get_weather(arguments: dict[str, Any]) -> str:
    """Weather by city, from a fixed table."""
    time.sleep(0.002)
    city = str(arguments["city"])
    return f"{city}: {_WEATHER.get(city, '15°C, cloudy')}"


def calculator(arguments: dict[str, Any]) -> str:
    """Evaluates + - * / on numbers only."""
    expression = str(arguments["expression"])
    if not re.fullmatch(r"[0-9 +*/().-]+", expression):
        raise ValueError(f"not arithmetic: {expression!r}")
    return f"{expression} = {eval(expression, {'__builtins__': {}})}"  # digits and operators only


def lookup_order(arguments: dict[str, Any]) -> str:
    """An order's status; raises ``LookupError`` for an unknown order (the failing tool)."""
    time.sleep(0.003)
    order = str(arguments["order_id"])
    if order not in _ORDERS:
        raise LookupError(f"order {order} does not exist")
    return f"Order {order} is {_ORDERS[order]}"


def search_notes(arguments: dict[str, Any]) -> str:
    """The researcher's only tool: notes matching the query."""
    query = str(arguments["query"]).lower()
    hits = [text for key, text in _NOTES.items() if key in query]
    return " ".join(hits) or "No notes on that."


# -- the script ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """A scripted conversation: its id suffix, user, and turns."""

    name: str
    auth_context: str
    turns: tuple[str, ...]
    history: int = 0  # prior messages, for an LLM call with a long history


SCRIPT: Final = (
    Conversation(
        "weather",
        "alice",
        ("What is the weather in Lisbon?", "And the weather in Oslo?", "Thanks!"),
    ),
    Conversation(
        "orders",
        "bob",
        (
            "Where is my order A-100?",
            "And order A-999?",  # the failing tool
            "Please calculate 3 * (4 + 5)",
        ),
    ),
    Conversation(
        "research",
        "alice",
        ("Research notes about tracing and sqlite", "Thanks, that is all for today."),
        history=40,
    ),
)


def _long_history(count: int) -> list[Message]:
    return [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"Earlier message {i + 1}: " + "we talked about agents and tracing. " * 3,
        }
        for i in range(count)
    ]


def build_agent(tracer: BaseTracer, model: FakeModel) -> Agent:
    """The demo agent, with its tools and a research sub-agent."""
    researcher = Agent("researcher", tracer, model, {"search_notes": search_notes})

    def research(arguments: dict[str, Any]) -> str:
        answer, _ = researcher.converse(f"Find notes on {arguments['topic']}")
        return answer

    tools: dict[str, Callable[[dict[str, Any]], str]] = {
        "get_weather": get_weather,
        "calculator": calculator,
        "lookup_order": lookup_order,
        "research": research,
    }
    return Agent("assistant", tracer, model, tools)


def run_script(agent: Agent, tag: str, out: TextIO) -> list[str]:
    """Run every scripted conversation; returns the conversation ids."""
    ids = []
    for conversation in SCRIPT:
        conversation_id = f"{conversation.name}-{tag}"
        ids.append(conversation_id)
        history = _long_history(conversation.history)
        for turn in conversation.turns:
            answer, history = agent.converse(
                turn,
                conversation_id=conversation_id,
                auth_context=conversation.auth_context,
                history=history,
            )
            print(f"# {conversation.auth_context}: {turn}\n# assistant: {answer}\n", file=out)
    return ids


def commands(
    db: Path, ids: Sequence[str], trace_id: str, *, explicit_db: bool, program: str = "gat-traces"
) -> list[str]:
    """The ``gat-traces`` commands that show what the demo recorded."""
    source = f" --db {_quote(str(db))}" if explicit_db else ""
    return [
        f"{program} list{source}",
        f"{program} show {ids[1]}{source}",
        f"{program} show {trace_id} --trace{source}",
        f"{program} list --errors --auth-context bob{source}",
        f"{program} export --conversation {ids[0]}{source}",
        f"{program} tail --all --count 5{source}",
    ]


def cli_program() -> str:
    """How to call ``gat-traces`` from here: by name when it is on ``PATH``, else the console
    script beside this interpreter (``.venv/bin/gat-traces`` after ``scripts/demo``), else
    ``python -m``."""
    if shutil.which("gat-traces") is not None:
        return "gat-traces"
    script = Path(sys.executable).parent / "gat-traces"
    if not script.exists():
        return f"{_quote(sys.executable)} -m generative_ai_toolkit.tracer"
    try:
        return _quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return _quote(str(script))


def _quote(text: str) -> str:
    return text if re.fullmatch(r"[\w@%+=:,./-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m generative_ai_toolkit.tracer.demo",
        description="Trace a scripted agent into SQLite and the terminal, then show how to "
        "explore the traces with gat-traces.",
    )
    parser.add_argument(
        "--db", type=Path, help=f"SQLite file (default: ${DB_PATH_ENV} or ./traces.sqlite3)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the spans as they end")
    parser.add_argument("--tag", help="suffix of the conversation ids (default: random)")
    parser.add_argument("--latency", type=float, default=0.004, help="fake model seconds per call")
    args = parser.parse_args(argv)
    db: Path = args.db or default_db_path()
    tag = args.tag or uuid.uuid4().hex[:6]
    out = cast(TextIO, PipeSafeOutput(sys.stdout))  # a TextIOBase: what TextIO users call

    store = SqliteTracer(db)
    tracer = TeeTracer(store)
    if not args.quiet:
        tracer.add_tracer(HumanReadableTracer(stream=out))
    tracer.set_context(resource_attributes={"service.name": "DemoAgent"})
    try:
        ids = run_script(build_agent(tracer, FakeModel(latency=args.latency)), tag, out)
        tracer.flush()
        spans = store.conversation_spans(ids[1])
        total = sum(len(store.conversation_spans(i)) for i in ids)
    finally:
        tracer.shutdown()
    trace_id = spans[-1].trace_id  # the last turn of the orders conversation
    print(f"Recorded {len(ids)} conversations ({total} spans) in {db}.", file=out)
    print("Explore them with:\n", file=out)
    program = cli_program()
    for command in commands(db, ids, trace_id, explicit_db=args.db is not None, program=program):
        print(f"  {command}", file=out)
    if program != "gat-traces":
        print("\n(or activate the virtualenv, and `gat-traces` is on your PATH)", file=out)
    out.flush()
    return 0
