"""The demo's model runs behind a real boto3 client, instrumented: its traces carry real usage."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

from generative_ai_toolkit.tracer.demo import main
from generative_ai_toolkit.tracer.sqlite import SqliteQuery


def test_the_demo_records_bedrock_calls_with_usage_tools_and_a_sub_agent(tmp_path: Path) -> None:
    """LLM calls are instrumented Converse calls with usage; tools and sub-agents nest."""
    db = tmp_path / "demo.sqlite3"
    with redirect_stdout(io.StringIO()):
        assert 0 == main(["--db", str(db), "--quiet", "--tag", "t", "--latency", "0"])
    query = SqliteQuery(db)
    try:
        research = query.conversation_spans("research-t")
        orders = query.conversation_spans("orders-t")
    finally:
        query.close()
    llm = [span for span in orders if span.span_name == "llm-invocation"]
    assert 6 == len(llm)
    for span in llm:
        attributes = span.attributes
        assert "Converse" == attributes["ai.llm.request.operation"]
        assert "llm:amazon.nova-lite-v1:0" == attributes["peer.service"]
        usage = attributes["ai.llm.response.usage"]
        assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0
    by_id = {span.span_id: span for span in research}
    (sub_turn,) = [
        span
        for span in research
        if span.span_name == "converse" and span.attributes["ai.agent.name"] == "researcher"
    ]
    tool = by_id[sub_turn.parent_span_id or ""]
    assert ("tool-invocation", "research") == (tool.span_name, tool.attributes["ai.tool.name"])
