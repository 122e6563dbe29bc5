// gat-traces viewer: two conversations, or two turns, side by side (durations, tokens, tool
// calls). Address: #/compare?a=<conversation>&at=<trace id>&b=<conversation>&bt=<trace id>
// (a turn's trace id is optional: without it, the whole conversation). Text only, as app.js.
"use strict";

(() => {
  const ns = window.gatViewer;
  const SIDES = ["a", "b"];

  // What is compared: each row reads one figure off a side's totals (``totalsOf``); ``null``
  // shows as "–". ``kind``: a count, a duration in ns, or a cost (its amount).
  const METRICS = [
    { label: "Turns", get: (t) => t.turns },
    { label: "Spans", get: (t) => t.spans },
    { label: "Errors", get: (t) => t.errors },
    { label: "Duration (turns summed)", get: (t) => t.durationNs, kind: "time" },
    { label: "Wall time (first start to last end)", get: (t) => t.wallNs, kind: "time" },
    { label: "LLM calls", get: (t) => t.llmCalls },
    { label: "Tool calls", get: (t) => t.toolCalls },
    { label: "Failed tool calls", get: (t) => t.toolErrors },
    { label: "Input tokens", get: (t) => t.tokens.input },
    { label: "Output tokens", get: (t) => t.tokens.output },
    { label: "Cache read tokens", get: (t) => t.tokens.cacheRead },
    { label: "Cache write tokens", get: (t) => t.tokens.cacheWrite },
    { label: "Total tokens", get: (t) => t.tokens.total },
    { label: "Cost", get: (t) => (t.cost ? t.cost.amount : null), kind: "cost" },
  ];

  function isLlmCall(span) {
    return span.type === "llm-invocation" || span.tokens !== undefined;
  }

  // Totals of a set of span outlines (one turn, or every turn of a conversation); tokens and
  // cost added up as the conversation view adds them (the outlines' usage and cost).
  function totalsOf(spans) {
    const ids = new Set(spans.map((s) => `${s.trace_id}/${s.span_id}`));
    const roots = spans.filter((s) => !s.parent_span_id || !ids.has(`${s.trace_id}/${s.parent_span_id}`));
    const tools = new Map(); // tool name -> { calls, ns, errors }
    const { usage, cost } = ns.kit.usageTotals(spans);
    const counted = (value) => (usage.llm_calls ? value : null); // no LLM call: "–", not 0
    const tokens = {
      input: counted(usage.input_tokens),
      output: counted(usage.output_tokens),
      cacheRead: counted(usage.cache_read_tokens),
      cacheWrite: counted(usage.cache_write_tokens),
      total: counted(usage.total_tokens),
    };
    let start = Infinity;
    let end = -Infinity;
    for (const s of spans) {
      start = Math.min(start, s.start_us);
      end = Math.max(end, s.end_us);
      if (s.tool !== undefined) {
        const tool = tools.get(s.tool) ?? { calls: 0, ns: 0, errors: 0 };
        tool.calls += 1;
        tool.ns += s.duration_ns;
        if (s.status === "ERROR" || s.error !== undefined) tool.errors += 1;
        tools.set(s.tool, tool);
      }
    }
    return {
      turns: new Set(spans.map((s) => s.trace_id)).size,
      spans: spans.length,
      errors: spans.filter((s) => s.status === "ERROR").length,
      durationNs: roots.reduce((sum, s) => sum + s.duration_ns, 0),
      wallNs: spans.length ? (end - start) * 1000 : null,
      llmCalls: spans.filter(isLlmCall).length,
      toolCalls: [...tools.values()].reduce((sum, t) => sum + t.calls, 0),
      toolErrors: [...tools.values()].reduce((sum, t) => sum + t.errors, 0),
      tokens,
      cost,
      tools,
    };
  }

  // A conversation's turns (by start) from its span outlines.
  function turnsOf(spans) {
    const byTrace = new Map();
    for (const s of spans) {
      if (!byTrace.has(s.trace_id)) byTrace.set(s.trace_id, []);
      byTrace.get(s.trace_id).push(s);
    }
    const turns = [...byTrace.entries()].map(([traceId, list]) => {
      const ids = new Set(list.map((s) => s.span_id));
      const root = list.find((s) => !s.parent_span_id || !ids.has(s.parent_span_id)) ?? list[0];
      return { traceId, spans: list, root, start: Math.min(...list.map((s) => s.start_us)) };
    });
    return turns.sort((x, y) => x.start - y.start);
  }

  function figure(value, metric, totals) {
    if (value === null || value === undefined) return "–";
    if (metric.kind === "cost") return ns.kit.fmtCost(totals.cost);
    return metric.kind === "time" ? ns.kit.fmtDuration(value) : value.toLocaleString("en");
  }

  function difference(a, b, metric, totals) {
    if (typeof a !== "number" || typeof b !== "number") return "–";
    if (metric.kind === "cost" && totals[0].cost.currency !== totals[1].cost.currency) return "–";
    const delta = b - a;
    if (delta === 0) return "same";
    const sign = delta > 0 ? "+" : "−";
    let amount = Math.abs(delta).toLocaleString("en");
    let note = "";
    if (metric.kind === "time") amount = ns.kit.fmtDuration(Math.abs(delta));
    if (metric.kind === "cost") {
      amount = ns.kit.fmtCost({ amount: Math.abs(delta), currency: totals[0].cost.currency, partial: false });
      if (totals[0].cost.partial || totals[1].cost.partial) note = ", of partial costs";
    }
    const percent = a ? ` (${sign}${Math.round((Math.abs(delta) / a) * 100)}%${note})` : "";
    return `${sign}${amount}${percent}`;
  }

  ns.compareView = (main, params) => {
    const { el, getJSON, showError, fmtDuration, fmtTime, utcTitle, setHashQuietly } = ns.kit;
    document.title = "Compare · Traces";
    document.body.dataset.view = "compare";
    const controller = new AbortController();
    const loaded = { a: null, b: null }; // side -> { id, turns } of the conversation read
    const suggestions = el("datalist", { id: "compare-conversations" });
    const pickers = {};
    const result = el("div", { id: "compare-result", "aria-live": "polite" });

    for (const side of SIDES) {
      const name = side.toUpperCase();
      const conversation = el("input", {
        type: "text", id: `compare-${side}`, list: "compare-conversations", autocomplete: "off",
        spellcheck: "false", value: params.get(side) ?? "", placeholder: "conversation id",
      });
      const turn = el("select", { id: `compare-${side}-turn` }, el("option", { value: "", text: "All turns" }));
      turn.dataset.wanted = params.get(`${side}t`) ?? "";
      pickers[side] = { conversation, turn };
      conversation.addEventListener("change", () => load(side));
      turn.addEventListener("change", () => render());
    }
    const form = el("form", { class: "compare-form", onsubmit: (event) => {
      event.preventDefault();
      Promise.all(SIDES.map(load));
    } },
    SIDES.map((side) => el("fieldset", null, el("legend", { text: side.toUpperCase() }),
      el("label", null, "Conversation", pickers[side].conversation),
      el("label", null, "Turn", pickers[side].turn))),
    el("div", { class: "compare-actions" },
      el("button", { type: "submit", text: "Compare" }),
      el("button", { type: "button", text: "Swap A and B", onclick: swap })));
    main.replaceChildren(
      el("div", { class: "crumbs" }, el("a", { href: "#/", text: "‹ Conversations" })),
      el("h1", { text: "Compare" }),
      el("p", { class: "muted", text: "Two conversations, or two turns, side by side: pick a conversation for A and for B, and a turn of each (or all turns)." }),
      form, suggestions, result);

    getJSON("/api/conversations?limit=200", controller.signal).then((data) => {
      suggestions.replaceChildren(...data.conversations.map((c) => el("option", { value: c.conversation_id })));
    }).catch(() => {}); // suggestions only

    function saveHash() {
      const q = new URLSearchParams();
      for (const side of SIDES) {
        const { conversation, turn } = pickers[side];
        if (conversation.value) q.set(side, conversation.value);
        if (turn.value) q.set(`${side}t`, turn.value);
      }
      setHashQuietly(`#/compare?${q}`);
    }

    function swap() {
      const a = pickers.a;
      const b = pickers.b;
      [a.conversation.value, b.conversation.value] = [b.conversation.value, a.conversation.value];
      [a.turn.dataset.wanted, b.turn.dataset.wanted] = [b.turn.value, a.turn.value];
      [loaded.a, loaded.b] = [loaded.b, loaded.a];
      for (const side of SIDES) fillTurns(side);
      render();
    }

    function fillTurns(side) {
      const { turn } = pickers[side];
      const wanted = turn.dataset.wanted || turn.value;
      const turns = loaded[side] ? loaded[side].turns : [];
      turn.replaceChildren(el("option", { value: "", text: `All turns (${turns.length})` }),
        ...turns.map((t, i) => el("option", {
          value: t.traceId,
          text: `Turn ${i + 1} · ${fmtTime(t.start)}${t.root.input ? ` · ${t.root.input.slice(0, 60)}` : ""}`,
        })));
      turn.value = turns.some((t) => t.traceId === wanted) ? wanted : "";
      turn.dataset.wanted = "";
    }

    async function load(side) {
      const id = pickers[side].conversation.value;
      if (loaded[side] && loaded[side].id === id) return render();
      loaded[side] = null;
      if (id) {
        try {
          const data = await getJSON(`/api/conversations/${encodeURIComponent(id)}`, controller.signal);
          loaded[side] = { id, turns: turnsOf(data.spans), data };
        } catch (error) {
          if (error.name === "AbortError") return undefined;
          loaded[side] = { id, turns: [], error: error.status === 404 ? new Error(`No conversation "${id}".`) : error };
        }
      }
      fillTurns(side);
      return render();
    }

    // The spans a side compares: the chosen turn, else every turn.
    function chosen(side) {
      const got = loaded[side];
      if (!got || got.error) return null;
      const traceId = pickers[side].turn.value;
      const turns = traceId ? got.turns.filter((t) => t.traceId === traceId) : got.turns;
      return { turns, spans: turns.flatMap((t) => t.spans) };
    }

    function sideTitle(side) {
      const got = loaded[side];
      const turn = pickers[side].turn;
      const index = got ? got.turns.findIndex((t) => t.traceId === turn.value) : -1;
      return `${side.toUpperCase()}: ${ns.kit.idText(got ? got.id : "")}${index >= 0 ? `, turn ${index + 1}` : ""}`;
    }

    function render() {
      saveHash();
      const errors = SIDES.map((side) => loaded[side] && loaded[side].error).filter(Boolean);
      const picked = SIDES.map(chosen);
      if (errors.length) {
        showError(result, errors[0]);
      } else if (picked.some((p) => !p)) {
        result.replaceChildren(el("p", { class: "empty", text: "Pick a conversation for A and for B." }));
      } else {
        const [a, b] = picked.map((p) => totalsOf(p.spans));
        const titles = SIDES.map(sideTitle);
        result.replaceChildren(...[
          el("h2", { text: "Totals" }),
          el("table", { class: "compare", id: "compare-totals" },
            el("thead", null, el("tr", null,
              el("th", { scope: "col", text: "Metric" }),
              titles.map((t) => el("th", { scope: "col", class: "num", text: t })),
              el("th", { scope: "col", class: "num", text: "B − A" }))),
            el("tbody", null, METRICS.map((m) => el("tr", { dataset: { metric: m.label } },
              el("th", { scope: "row", text: m.label }),
              el("td", { class: "num", text: figure(m.get(a), m, a) }),
              el("td", { class: "num", text: figure(m.get(b), m, b) }),
              el("td", { class: "num delta", text: difference(m.get(a), m.get(b), m, [a, b]) }))))),
          toolTable(a, b, titles),
          turnTable(picked[0].turns, picked[1].turns)].flat().filter(Boolean));
      }
      document.body.dataset.ready = "compare";
    }

    function toolTable(a, b, titles) {
      const names = [...new Set([...a.tools.keys(), ...b.tools.keys()])].sort();
      if (!names.length) return el("p", { class: "muted", text: "No tool calls on either side." });
      const cell = (tool) => el("td", { class: "num", text: tool
        ? `${tool.calls} × · ${fmtDuration(tool.ns)}${tool.errors ? ` · ${tool.errors} failed` : ""}` : "–" });
      return [el("h2", { text: "Tool calls" }),
        el("table", { class: "compare", id: "compare-tools" },
          el("thead", null, el("tr", null, el("th", { scope: "col", text: "Tool" }),
            titles.map((t) => el("th", { scope: "col", class: "num", text: t })))),
          el("tbody", null, names.map((name) => el("tr", { dataset: { tool: name } },
            el("th", { scope: "row", class: "mono", text: name }), cell(a.tools.get(name)), cell(b.tools.get(name))))))];
    }

    // Turn by turn, when either side has more than one: duration, tokens, tool calls.
    function turnTable(turnsA, turnsB) {
      const count = Math.max(turnsA.length, turnsB.length);
      if (count < 2) return null;
      const cells = (turn) => {
        if (!turn) return [el("td", { class: "num", text: "–" }), el("td", { class: "num", text: "–" }), el("td", { class: "num", text: "–" })];
        const t = totalsOf(turn.spans);
        return [
          el("td", { class: "num", title: utcTitle(turn.start), text: fmtDuration(t.durationNs) }),
          el("td", { class: "num", text: t.tokens.total ?? "–" }),
          el("td", { class: "num", text: t.toolCalls }),
        ];
      };
      const heads = (side) => ["duration", "tokens", "tool calls"].map((what) =>
        el("th", { scope: "col", class: "num", text: `${side} ${what}` }));
      return [el("h2", { text: "Turn by turn" }),
        el("div", { class: "compare-scroll", tabindex: 0, role: "region", "aria-label": "Turn by turn" },
          el("table", { class: "compare", id: "compare-turns" },
            el("thead", null, el("tr", null, el("th", { scope: "col", text: "Turn" }), heads("A"), heads("B"))),
            el("tbody", null, Array.from({ length: count }, (_, i) => el("tr", null,
              el("th", { scope: "row", text: String(i + 1) }), cells(turnsA[i]), cells(turnsB[i]))))))];
    }

    Promise.all(SIDES.map(load));
    return { close() { controller.abort(); } };
  };
})();
