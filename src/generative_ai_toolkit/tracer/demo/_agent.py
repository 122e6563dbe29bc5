"""The demo: a scripted agent, traced into SQLite and the terminal, then the commands to explore it.

```
python -m generative_ai_toolkit.tracer.demo [--db PATH] [--quiet]
```

No network and no real model: the agent calls Amazon Bedrock's Converse API through a real
boto3 client, against a local Bedrock-protocol server (``BedrockServer``) where a fake model
answers by script and calls a few tools (weather, a calculator, an order lookup that fails for
an unknown order, and a research sub-agent). The model calls are traced by
``instrument_bedrock`` (with the usage the server reports), turns and tools by ``agent_turn``
and ``@traced_tool``. Three
conversations of several turns each are traced with the notebook's attribute names into
``SqliteTracer`` (the default ``./traces.sqlite3``, ``$GAT_TRACES_DB`` or ``--db``) and a
``HumanReadableTracer`` at once. It ends by printing the ``gat-traces`` commands that show what
it recorded, with its tokens and (from the example pricing table it writes beside the database,
``demo-pricing.json``) their cost.
"""

from __future__ import annotations

import argparse
import inspect
import json
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
from ..instrument import agent_turn, instrument_bedrock, traced_tool, uninstrument_bedrock
from ..sqlite import DB_PATH_ENV, SqliteTracer, default_db_path
from ._bedrock_server import BedrockServer
from ._model import FakeModel, text_of
from ._output import PipeSafeOutput

MODEL_ID: Final = "amazon.nova-lite-v1:0"
#: The pricing table the demo writes beside its database, so its commands show cost too.
DEMO_PRICING: Final = {
    "currency": "USD",
    "per": 1_000_000,
    "date": "2025-06, Amazon Bedrock on-demand, us-east-1 (an example: see docs/cost.md)",
    "models": {MODEL_ID: {"input": 0.06, "output": 0.24}},
}
Message = dict[str, Any]
Tool = Callable[..., str]


@dataclass
class Agent:
    """A tool-using agent on Bedrock's Converse API: asks the model, runs the tools it asks for,
    until it answers. Its LLM calls are traced by ``instrument_bedrock``; its turns and tools by
    ``agent_turn`` and ``@traced_tool``."""

    name: str
    tracer: BaseTracer
    client: Any  # a boto3 bedrock-runtime client
    tools: dict[str, Tool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._traced = {
            name: traced_tool(name, tracer=self.tracer)(tool) for name, tool in self.tools.items()
        }
        self._tool_config = {
            "tools": [
                {
                    "toolSpec": {
                        "name": name,
                        "description": (tool.__doc__ or name).strip(),
                        "inputSchema": {"json": _schema(tool)},
                    }
                }
                for name, tool in self.tools.items()
            ]
        }

    def converse(
        self,
        user_input: str,
        *,
        conversation_id: str | None = None,
        auth_context: str | None = None,
        history: Sequence[Message] = (),
    ) -> tuple[str, list[Message]]:
        """One turn: the agent's answer and the updated message history."""
        with agent_turn(
            self.tracer,
            user_input,
            conversation_id=conversation_id,
            auth_context=auth_context,
            agent_name=self.name,
        ) as turn:
            messages = [*history, {"role": "user", "content": [{"text": user_input}]}]
            for _ in range(5):
                response = self.client.converse(
                    modelId=MODEL_ID,
                    messages=messages,
                    system=[{"text": f"You are {self.name}, a helpful agent."}],
                    inferenceConfig={"maxTokens": 512, "temperature": 0.2},
                    toolConfig=self._tool_config,
                )
                message = response["output"]["message"]
                messages.append(message)
                uses = [block["toolUse"] for block in message["content"] if "toolUse" in block]
                if not uses:
                    answer = text_of(message)
                    break
                messages.append({"role": "user", "content": [self.run_tool(u) for u in uses]})
            else:
                answer = "I could not finish that."
                messages.append({"role": "assistant", "content": [{"text": answer}]})
            turn.set_response(answer)
            return answer, messages

    def run_tool(self, use: dict[str, Any]) -> dict[str, Any]:
        """Run one tool; a failing tool's span is an error, and the model is told."""
        result: dict[str, Any] = {"toolUseId": use["toolUseId"]}
        try:
            output = self._traced[use["name"]](**use["input"])
        except Exception as exc:  # noqa: BLE001 - the model is told, as real agents do
            result.update(content=[{"text": str(exc)}], status="error")
        else:
            result.update(content=[{"text": output}])
        return {"toolResult": result}


def _schema(tool: Tool) -> dict[str, Any]:
    """A JSON schema of the tool's parameters (all strings here)."""
    parameters = list(inspect.signature(tool).parameters)
    return {
        "type": "object",
        "properties": {name: {"type": "string"} for name in parameters},
        "required": parameters,
    }


# -- the tools -------------------------------------------------------------------------------------

_WEATHER: Final = {"Amsterdam": "12°C, light rain", "Lisbon": "21°C, sunny", "Oslo": "-3°C, snow"}
_ORDERS: Final = {"A-100": "shipped on Monday, arrives Thursday", "A-200": "being packed"}
_NOTES: Final = {
    "tracing": "Spans nest by context; inheritable attributes flow to children.",
    "sqlite": "WAL mode lets readers and several writers share one file.",
}


def get_weather(city: str) -> str:
    """Weather by city, from a fixed table."""
    time.sleep(0.002)
    return f"{city}: {_WEATHER.get(city, '15°C, cloudy')}"


def calculator(expression: str) -> str:
    """Evaluates + - * / on numbers only."""
    if not re.fullmatch(r"[0-9 +*/().-]+", expression):
        raise ValueError(f"not arithmetic: {expression!r}")
    return f"{expression} = {eval(expression, {'__builtins__': {}})}"  # digits and operators only


def lookup_order(order_id: str) -> str:
    """An order's status; raises ``LookupError`` for an unknown order (the failing tool)."""
    time.sleep(0.003)
    order = str(order_id)
    if order not in _ORDERS:
        raise LookupError(f"order {order} does not exist")
    return f"Order {order} is {_ORDERS[order]}"


def search_notes(query: str) -> str:
    """The researcher's only tool: notes matching the query."""
    query = query.lower()
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
            "content": [
                {"text": f"Earlier message {i + 1}: " + "we talked about agents and tracing. " * 3}
            ],
        }
        for i in range(count)
    ]


def build_agent(tracer: BaseTracer, client: Any) -> Agent:
    """The demo agent, with its tools and a research sub-agent."""
    researcher = Agent("researcher", tracer, client, {"search_notes": search_notes})

    def research(topic: str) -> str:
        """Asks the research sub-agent."""
        answer, _ = researcher.converse(f"Find notes on {topic}")
        return answer

    tools: dict[str, Tool] = {
        "get_weather": get_weather,
        "calculator": calculator,
        "lookup_order": lookup_order,
        "research": research,
    }
    return Agent("assistant", tracer, client, tools)


def bedrock_client(endpoint_url: str) -> Any:
    """A boto3 ``bedrock-runtime`` client of the local Bedrock server at ``endpoint_url``."""
    try:
        import boto3  # noqa: PLC0415 - boto3 is optional: only the demo's model needs it
        from botocore.config import Config  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "the demo needs boto3: pip install 'generative-ai-toolkit-tracing[bedrock]'"
        ) from exc
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
        config=Config(retries={"total_max_attempts": 1}),
    )


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


def write_demo_pricing(db: Path) -> Path:
    """Write ``DEMO_PRICING`` as ``demo-pricing.json`` beside ``db``; its path."""
    path = db.parent / "demo-pricing.json"
    path.write_text(json.dumps(DEMO_PRICING, indent=2) + "\n", encoding="utf-8")
    return path


def commands(
    db: Path,
    ids: Sequence[str],
    trace_id: str,
    *,
    explicit_db: bool,
    pricing: Path,
    program: str = "gat-traces",
) -> list[str]:
    """The ``gat-traces`` commands that show what the demo recorded (the last one serves the
    viewer until Ctrl-C)."""
    source = f" --db {_quote(str(db))}" if explicit_db else ""
    priced = f" --pricing {_quote(str(pricing) if explicit_db else pricing.name)}"
    return [
        f"{program} list{priced}{source}",
        f"{program} show {ids[1]}{priced}{source}",
        f"{program} show {trace_id} --trace{source}",
        f"{program} list --errors --auth-context bob{source}",
        f"{program} export --conversation {ids[0]}{source}",
        f"{program} tail --all --count 5{source}",
        f"{program} serve{priced}{source}",
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
    pricing = write_demo_pricing(db)
    tracer = TeeTracer(store)
    if not args.quiet:
        tracer.add_tracer(HumanReadableTracer(stream=out))
    tracer.set_context(resource_attributes={"service.name": "DemoAgent"})
    server = BedrockServer(FakeModel(latency=args.latency).respond).start()
    instrument_bedrock(tracer)
    client = bedrock_client(server.endpoint_url)
    try:
        ids = run_script(build_agent(tracer, client), tag, out)
        tracer.flush()
        spans = store.conversation_spans(ids[1])
        total = sum(len(store.conversation_spans(i)) for i in ids)
    finally:
        uninstrument_bedrock()
        client.close()
        server.stop()
        tracer.shutdown()
    trace_id = spans[-1].trace_id  # the last turn of the orders conversation
    print(f"Recorded {len(ids)} conversations ({total} spans) in {db}.", file=out)
    print("Explore them with:\n", file=out)
    program = cli_program()
    for command in commands(
        db, ids, trace_id, explicit_db=args.db is not None, pricing=pricing, program=program
    ):
        print(f"  {command}", file=out)
    if program != "gat-traces":
        print("\n(or activate the virtualenv, and `gat-traces` is on your PATH)", file=out)
    out.flush()
    return 0
