"""Token and cost totals in the viewer (headless Chromium): the list's Tokens and Cost columns,
each turn's header and the conversation's header, kept current as live spans arrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generative_ai_toolkit.tracer.pricing import Pricing
from generative_ai_toolkit.tracer.sqlite._query import SqliteQuery
from generative_ai_toolkit.tracer.testing import ended_span
from values.test_rollups_everywhere import PRICING, SONNET, SPANS, T0
from viewer.conftest import Browsing, open_conversation, serving, store, wait_list

pytestmark = pytest.mark.integration

NONE = "\u2013"  # what an empty cell shows (an en dash)


def _chips(page: Any, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def _serve_usage(tmp_path: Path, pricing: Pricing | None) -> tuple[SqliteQuery, Any]:
    path = tmp_path / "usage.sqlite3"
    store(path, SPANS)
    query = SqliteQuery(path, create=False)
    return query, serving(query, pricing=pricing)


def test_list_turns_and_conversation_show_tokens_and_cost(browse: Browsing, tmp_path: Path) -> None:
    """Totals per conversation in the list and header, per turn in each turn's header; a cost
    with unpriced calls is marked partial (≥); a conversation without calls shows none."""
    query, server_context = _serve_usage(tmp_path, PRICING)
    with server_context as server:
        page = browse.page
        page.goto(f"{server.url}#/?range=all")
        wait_list(browse, 2)
        row = page.locator("tr[data-conversation-id='c-1']")
        assert "698" == row.locator("td.tokens").inner_text()
        assert "≥ 0.001396 USD" == row.locator("td.cost").inner_text()
        other = page.locator("tr[data-conversation-id='c-2']")
        assert (NONE, NONE) == (
            other.locator("td.tokens").inner_text(),
            other.locator("td.cost").inner_text(),
        )
        open_conversation(browse, server, "c-1")
        assert [
            "698 tokens (in 158, out 40, cache read 400, cache write 100)",
            "≥ 0.001396 USD",
        ] == _chips(page, "#conversation-chips .chip.usage, #conversation-chips .chip.cost")
        turns = page.locator("section.turn")
        assert [
            "680 tokens (in 150, out 30, cache read 400, cache write 100)",
            "0.001395 USD",
        ] == _chips(turns.nth(0), ".turn-head .chip.usage, .turn-head .chip.cost")
        assert ["18 tokens (in 8, out 10)", "≥ 0.000001 USD"] == _chips(
            turns.nth(1), ".turn-head .chip.usage, .turn-head .chip.cost"
        )
        title = page.locator("#conversation-chips .chip.cost").get_attribute("title") or ""
        assert title.startswith("Partial: some LLM calls have no price")
        assert [] == browse.errors

        # A new LLM call of turn 1 arrives while the page is open: both totals follow.
        late = ended_span(
            "llm-invocation",
            trace_id=1,
            span_id=199,
            parent_id=100,
            start_ns=T0 + 10_000_000_000 + 500_000_000,
            attributes={
                "ai.llm.request.model.id": SONNET,
                "ai.llm.response.usage": {"inputTokens": 1000, "outputTokens": 100},
            },
            inherited={"ai.conversation.id": "c-1", "ai.auth.context": "alice"},
        )
        store(query.db_path, [late])
        page.wait_for_function(
            "() => document.querySelector('#conversation-chips .chip.usage')"
            "?.textContent.startsWith('1,798 tokens')"
        )
        assert (
            "1,780 tokens (in 1,150, out 130, cache read 400, cache write 100)"
            == _chips(turns.nth(0), ".turn-head .chip.usage")[0]
        )
    query.close()


def test_without_pricing_tokens_show_and_no_cost(browse: Browsing, tmp_path: Path) -> None:
    """Served without a pricing table: tokens everywhere, never a cost."""
    query, server_context = _serve_usage(tmp_path, None)
    with server_context as server:
        page = browse.page
        page.goto(f"{server.url}#/?range=all")
        wait_list(browse, 2)
        row = page.locator("tr[data-conversation-id='c-1']")
        assert ("698", NONE) == (
            row.locator("td.tokens").inner_text(),
            row.locator("td.cost").inner_text(),
        )
        open_conversation(browse, server, "c-1")
        assert 0 == page.locator(".chip.cost").count()
        assert 3 == page.locator(".chip.usage").count()  # the conversation and both turns
    query.close()
