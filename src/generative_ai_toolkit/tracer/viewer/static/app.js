// gat-traces viewer: conversations list, conversation waterfall + tree, span panel, live updates.
// Vanilla JavaScript, no build step, no outside resources. Every value from a span reaches the
// page as text (textContent / text nodes); nothing from the server is ever parsed as HTML.
"use strict";

(() => {
  const ROW = 28; // px, keep in step with --row in app.css
  const PAGE = 50;
  const KINDS = ["SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER"];
  const IO_KEYS = [
    ["ai.user.input", "User input"],
    ["ai.agent.response", "Agent response"],
    ["ai.tool.name", "Tool"],
    ["ai.tool.input", "Tool input"],
    ["ai.tool.output", "Tool output"],
    ["ai.tool.error", "Tool error"],
    ["ai.llm.response.output", "Model output"],
  ];
  const RANGES = [
    ["", "Any time"],
    ["15m", "Last 15 minutes"],
    ["1h", "Last hour"],
    ["24h", "Last 24 hours"],
    ["7d", "Last 7 days"],
    ["custom", "Custom…"],
  ];
  const RANGE_MS = { "15m": 9e5, "1h": 36e5, "24h": 864e5, "7d": 6048e5 };

  const main = document.getElementById("main");
  const panel = document.getElementById("panel");
  const liveBadge = document.getElementById("live");
  let current = null; // the open view: { close() }
  // Features in their own files (extras.js, compare.js, loaded before this one) get this
  // file's helpers at the start (below) and are called at a few places here.
  const ext = window.gatViewer;
  let openTraces = null; // the open conversation's TraceViews by trace id (span breadcrumbs)

  // -- DOM helpers (text only) -------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = String(value);
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key === "style") Object.assign(node.style, value);
        else if (typeof value === "function") node.addEventListener(key.replace(/^on/, ""), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child)); // strings become text nodes
    }
    return node;
  }

  function cssIdent(text) {
    return String(text).replace(/[^A-Za-z0-9_-]/g, "");
  }

  // -- formatting --------------------------------------------------------------------------------

  function fmtDuration(ns) {
    if (!Number.isFinite(ns) || ns < 0) return "?";
    if (ns < 1e3) return `${Math.round(ns)}ns`;
    if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
    if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
    if (ns < 6e10) return `${trim(ns / 1e9)}s`;
    const s = Math.round(ns / 1e9);
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }

  function trim(value) {
    return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  }

  function pad(n, width = 2) {
    return String(n).padStart(width, "0");
  }

  // One rule for times: shown in the browser's time zone (named in the top bar), to the second
  // or, in the span panel, to the microsecond; the exact UTC time is in the tooltip.
  function fmtTime(us, { precise = false } = {}) {
    const d = new Date(us / 1000);
    const text =
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return precise ? `${text}.${pad(((us % 1e6) + 1e6) % 1e6, 6)}` : text;
  }

  function utcTitle(us) {
    const whole = Math.floor(us / 1e6);
    const iso = new Date(whole * 1000).toISOString().replace(/\.\d+Z$/, "");
    return `${iso}.${pad(us - whole * 1e6, 6)}Z (UTC)`;
  }

  // The zone by name (its offset differs between summer and winter), else today's offset.
  function zoneName() {
    const name = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (name) return name;
    const offset = -new Date().getTimezoneOffset();
    const sign = offset < 0 ? "-" : "+";
    return `UTC${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  }

  function timeEl(tag, us, props) {
    return el(tag, { ...props, title: utcTitle(us), text: fmtTime(us, { precise: props?.precise }), precise: null });
  }

  function fmtAgo(us) {
    const s = Math.max(0, (Date.now() - us / 1000) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  function pretty(value) {
    if (typeof value === "string") return value;
    const compact = JSON.stringify(value);
    return compact !== undefined && compact.length <= 80 ? compact : JSON.stringify(value, null, 2);
  }

  // -- server ------------------------------------------------------------------------------------

  async function getJSON(path, signal) {
    const response = await fetch(path, { signal, headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.error || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // -- live updates ------------------------------------------------------------------------------
  // Each page polls with short requests instead of holding an event stream open: a browser
  // allows six connections per host, shared by all its tabs, so held streams hang the 7th tab.

  const LIVE_WORDS = {
    wait: ["connecting…", "Connecting to the server"],
    on: ["live", "Live updates: new spans appear as they are stored"],
    retry: ["reconnecting…", "The server does not answer; trying again"],
    off: ["offline", "The server does not answer; still trying every few seconds"],
  };
  let pollMs = 1000;
  const infoReady = getJSON("/api/info").then((info) => {
    document.getElementById("source").textContent = info.title || "";
    if (info.poll_s > 0) pollMs = Math.max(250, info.poll_s * 1000);
  }).catch(() => {});

  function setLive(state) {
    if (liveBadge.dataset.state === state) return;
    liveBadge.dataset.state = state;
    liveBadge.textContent = LIVE_WORDS[state][0];
    liveBadge.title = LIVE_WORDS[state][1];
  }

  // Calls ``onData`` with each answer of ``address()`` every poll interval (slower while the
  // tab is hidden, backing off while the server does not answer) until closed.
  function poll(address, onData) {
    let timer = null;
    let controller = null;
    let failures = 0;
    let closed = false;
    async function tick() {
      timer = null;
      controller = new AbortController();
      try {
        const data = await getJSON(address(), controller.signal);
        if (closed) return;
        failures = 0;
        setLive("on");
        await onData(data);
      } catch (error) {
        if (closed || error.name === "AbortError") return;
        failures += 1;
        setLive(failures >= 3 ? "off" : "retry");
      }
      if (closed) return;
      const base = document.hidden ? Math.max(pollMs, 5000) : pollMs;
      timer = setTimeout(tick, failures ? Math.min(Math.max(pollMs, 2000), base * 2 ** failures) : base);
    }
    infoReady.then(() => {
      if (!closed) tick();
    });
    return {
      close() {
        closed = true;
        clearTimeout(timer);
        if (controller) controller.abort();
      },
    };
  }

  function showError(where, error) {
    where.replaceChildren(el("div", { class: "error-box", role: "alert", text: error.message }));
  }

  // -- routing -----------------------------------------------------------------------------------

  function parseHash() {
    const text = location.hash.replace(/^#/, "") || "/";
    const at = text.indexOf("?");
    const path = at < 0 ? text : text.slice(0, at);
    return { path, params: new URLSearchParams(at < 0 ? "" : text.slice(at + 1)) };
  }

  function setHashQuietly(hash) {
    history.replaceState(null, "", hash); // no hashchange: the view updates itself
  }

  function conversationHash(id) {
    return `#/c/${encodeURIComponent(id)}`;
  }

  function route() {
    if (current) current.close();
    current = null;
    closePanel();
    delete document.body.dataset.ready;
    delete document.body.dataset.drawn;
    let where;
    try {
      where = parseHash();
      if (where.path.startsWith("/c/")) where.id = decodeURIComponent(where.path.slice(3));
      if (where.path.startsWith("/t/")) where.trace = decodeURIComponent(where.path.slice(3));
    } catch {
      badAddress();
      return;
    }
    if (where.id !== undefined) current = conversationView(where.id, where.params);
    else if (where.trace !== undefined) current = traceView(where.trace);
    else if (where.path === "/compare") current = ext.compareView(main, where.params);
    else current = listView(where.params);
    if (navigated) focusHeading(main);
    navigated = true;
  }

  // After a navigation the page's heading has the focus, so it is announced and Tab goes on
  // from there (not from the top of the old page).
  let navigated = false;
  function focusHeading(box) {
    const heading = box.querySelector("h1, h2");
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }

  function badAddress() {
    document.title = "Not found · Traces";
    document.body.dataset.view = "bad";
    main.replaceChildren(
      el("div", { class: "crumbs" }, el("a", { href: "#/", text: "‹ Conversations" })),
      el("h1", { text: "This address is not valid" }),
      el("div", { class: "error-box", role: "alert" },
        "The part after # is not a conversation's address (it may have been cut short)."));
    document.body.dataset.ready = "bad";
    focusHeading(main);
  }

  // How an id is shown: an empty one in words, a very long one cut (the full id in a tooltip).
  const ID_SHOWN = 160;
  function idText(id) {
    if (id === "") return "(empty id)";
    return id.length > ID_SHOWN ? `${id.slice(0, ID_SHOWN - 1)}…` : id;
  }

  function idEl(tag, id, props) {
    return el(tag, {
      ...props,
      class: [props?.class, id === "" ? "empty-id" : ""].filter(Boolean).join(" ") || null,
      title: id.length > ID_SHOWN ? id : null,
      text: idText(id),
    });
  }

  // -- the conversations list --------------------------------------------------------------------

  function listView(params) {
    document.title = "Conversations · Traces";
    document.body.dataset.view = "list";
    const state = {
      search: params.get("search") || "",
      auth: params.get("auth") || "",
      errors: params.get("errors") === "1",
      range: params.get("range") || "",
      from: params.get("from") || "",
      to: params.get("to") || "",
      offset: Math.max(0, Number.parseInt(params.get("offset") || "0", 10) || 0),
    };
    let controller = null;
    let typing = null;
    let known = new Map(); // conversation id -> last_ended_us, to flash rows that changed
    let failed = false; // the last load failed: load again once the server answers
    let listMark = null;

    const search = el("input", {
      type: "search", id: "f-search", placeholder: "Conversation id contains…",
      value: state.search, "aria-label": "Search conversation ids", autocomplete: "off",
    });
    const auth = el("input", {
      type: "text", id: "f-auth", placeholder: "contains… (any case)", value: state.auth, autocomplete: "off",
    });
    const errors = el("input", { type: "checkbox", id: "f-errors" });
    errors.checked = state.errors;
    const range = el("select", { id: "f-range" },
      RANGES.map(([value, label]) => el("option", { value, text: label })));
    range.value = state.range;
    const from = el("input", { type: "datetime-local", id: "f-from", value: state.from });
    const to = el("input", { type: "datetime-local", id: "f-to", value: state.to });
    const fromLabel = el("label", null, "From", from);
    const toLabel = el("label", null, "To", to);
    const form = el("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      el("label", { class: "grow" }, "Conversation", search),
      el("label", null, "Auth context", auth),
      el("label", null, "Time", range),
      fromLabel, toLabel,
      el("label", { class: "check" }, errors, "Errors only"));
    const status = el("p", { class: "muted", id: "list-status" }, "Loading…");
    const tableBox = el("div", { id: "list" });
    const newer = el("button", { type: "button", id: "newer", text: "‹ Newer" });
    const older = el("button", { type: "button", id: "older", text: "Older ›" });
    const pageInfo = el("span", { class: "muted", id: "page-info" });
    const pager = el("nav", { class: "pager", "aria-label": "Pages" }, newer, pageInfo, older);
    main.replaceChildren(el("h1", { text: "Conversations" }), form, status, tableBox, pager);

    function showCustom() {
      const custom = range.value === "custom";
      fromLabel.hidden = !custom;
      toLabel.hidden = !custom;
    }
    showCustom();

    function readForm() {
      state.search = search.value.trim();
      state.auth = auth.value.trim();
      state.errors = errors.checked;
      state.range = range.value;
      state.from = from.value;
      state.to = to.value;
      state.offset = 0;
      showCustom();
      saveHash();
      load();
    }

    function saveHash() {
      const q = new URLSearchParams();
      if (state.search) q.set("search", state.search);
      if (state.auth) q.set("auth", state.auth);
      if (state.errors) q.set("errors", "1");
      if (state.range) q.set("range", state.range);
      if (state.range === "custom" && state.from) q.set("from", state.from);
      if (state.range === "custom" && state.to) q.set("to", state.to);
      if (state.offset) q.set("offset", String(state.offset));
      const text = q.toString();
      setHashQuietly(text ? `#/?${text}` : "#/");
    }

    // A local date-time as UTC ISO text; text no Date can hold goes as it is (the API says why).
    function isoTime(local) {
      const date = new Date(local);
      return Number.isNaN(date.getTime()) ? local : date.toISOString();
    }

    function apiQuery() {
      const q = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
      if (state.search) q.set("search", state.search);
      if (state.auth) q.set("auth_search", state.auth);
      if (state.errors) q.set("errors", "1");
      if (RANGE_MS[state.range]) {
        q.set("since", new Date(Date.now() - RANGE_MS[state.range]).toISOString());
      } else if (state.range === "custom") {
        if (state.from) q.set("since", isoTime(state.from));
        if (state.to) q.set("until", isoTime(state.to));
      }
      return q.toString();
    }

    async function load({ quiet = false } = {}) {
      if (controller) controller.abort();
      controller = new AbortController();
      if (!quiet) status.textContent = "Loading…";
      let data;
      try {
        data = await getJSON(`/api/conversations?${apiQuery()}`, controller.signal);
      } catch (error) {
        if (error.name !== "AbortError") {
          failed = !error.status || error.status >= 500; // retried; a 400 waits for new input
          status.textContent = "";
          showError(tableBox, error);
        }
        return;
      }
      failed = false;
      renderTable(data, quiet);
      document.body.dataset.ready = "list";
    }

    function renderTable(data, quiet) {
      const rows = data.conversations;
      const first = data.offset + 1;
      const last = data.offset + rows.length;
      status.textContent = rows.length
        ? `Showing ${first}–${last}${data.has_more ? "" : ` of ${last}`}, most recently active first`
        : "";
      pageInfo.textContent = rows.length ? `Page ${Math.floor(data.offset / PAGE) + 1}` : "";
      newer.disabled = data.offset === 0;
      older.disabled = !data.has_more;
      if (!rows.length) {
        const filtered = state.search || state.auth || state.errors || state.range;
        tableBox.replaceChildren(el("p", { class: "empty" }, filtered
          ? "No conversations match these filters."
          : "No conversations yet. Run an agent with a tracer that stores spans here " +
            "(try: python -m generative_ai_toolkit.tracer.demo)."));
        return;
      }
      const seen = new Map();
      const body = el("tbody", null, rows.map((c) => {
        seen.set(c.conversation_id, c.last_ended_us);
        const changed = quiet && known.get(c.conversation_id) !== c.last_ended_us;
        const href = conversationHash(c.conversation_id);
        return el("tr", {
          class: [c.error_count ? "has-errors" : "", changed ? "fresh" : ""].join(" ").trim(),
          dataset: { conversationId: c.conversation_id },
          onclick: (event) => {
            if (event.target.closest("a")) return;
            location.hash = href;
          },
        },
        el("td", { class: "id", "data-label": "Conversation" }, idEl("a", c.conversation_id, { href })),
        el("td", { "data-label": "Auth context", text: c.auth_context ?? "–" }),
        el("td", { "data-label": "Last activity", title: utcTitle(c.last_ended_us) },
          fmtTime(c.last_ended_us), " ", el("span", { class: "muted", text: `(${fmtAgo(c.last_ended_us)})` })),
        el("td", { class: "num", "data-label": "Turns", text: c.trace_count }),
        el("td", { class: "num", "data-label": "Spans", text: c.span_count }),
        el("td", { class: "num errors", "data-label": "Errors", text: c.error_count }),
        el("td", { class: "num", "data-label": "Duration", text: fmtDuration(c.total_duration_ns) }),
        el("td", { class: "num tokens", "data-label": "Tokens", text: listTokens(c) }),
        el("td", { class: "num cost", "data-label": "Cost" }, listCost(c)));
      }));
      known = seen;
      const head = el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "Conversation" }),
        el("th", { scope: "col", text: "Auth context" }),
        el("th", { scope: "col", text: "Last activity" }),
        el("th", { scope: "col", class: "num", text: "Turns" }),
        el("th", { scope: "col", class: "num", text: "Spans" }),
        el("th", { scope: "col", class: "num", text: "Errors" }),
        el("th", { scope: "col", class: "num", text: "Duration" }),
        el("th", { scope: "col", class: "num", text: "Tokens" }),
        el("th", { scope: "col", class: "num", text: "Cost" })));
      tableBox.replaceChildren(...ext.sortable(el("table", { class: "conversations" }, head, body), rows));
    }

    for (const input of [search, auth]) {
      input.addEventListener("input", () => {
        clearTimeout(typing);
        typing = setTimeout(readForm, 250);
      });
    }
    for (const input of [errors, range, from, to]) input.addEventListener("change", readForm);
    newer.addEventListener("click", () => {
      state.offset = Math.max(0, state.offset - PAGE);
      saveHash();
      load();
    });
    older.addEventListener("click", () => {
      state.offset += PAGE;
      saveHash();
      load();
    });

    load();
    const live = poll(() => "/api/updates", (data) => {
      if (failed || (listMark !== null && data.list_mark !== listMark)) load({ quiet: true });
      listMark = data.list_mark;
    });
    return {
      close() {
        live.close();
        clearTimeout(typing);
        if (controller) controller.abort();
      },
    };
  }

  // -- a trace by id: opened in its conversation -------------------------------------------------

  function traceView(traceId) {
    document.title = `Trace ${traceId} · Traces`;
    document.body.dataset.view = "trace";
    const controller = new AbortController();
    const box = el("div", null, el("p", { class: "muted", text: "Loading…" }));
    main.replaceChildren(
      el("div", { class: "crumbs" }, el("a", { href: "#/", text: "‹ Conversations" })),
      el("h1", { text: `Trace ${traceId}` }), box);
    (async () => {
      let data;
      try {
        data = await getJSON(`/api/traces/${encodeURIComponent(traceId)}`, controller.signal);
      } catch (error) {
        if (error.name === "AbortError") return;
        showError(box, error.status === 404 ? new Error("No trace has this id.") : error);
        document.body.dataset.ready = "trace";
        return;
      }
      const root = data.roots[0];
      const conversation = findAttribute(data.roots, "ai.conversation.id");
      if (conversation !== undefined) {
        location.replace(`${conversationHash(String(conversation))}?span=${data.trace_id}-${root.span_id}`);
        return;
      }
      box.replaceChildren(el("p", { class: "empty", text:
        "This trace belongs to no conversation (its spans have no ai.conversation.id); its first span is shown." }));
      openSpan(data.trace_id, root.span_id, null, null);
      document.body.dataset.ready = "trace";
    })();
    return { close() { controller.abort(); } };
  }

  function findAttribute(nodes, key) {
    for (const node of nodes) {
      const found = node.attributes.find((a) => a.key === key);
      if (found && found.value !== null) return found.value;
      const below = findAttribute(node.children, key);
      if (below !== undefined) return below;
    }
    return undefined;
  }

  // -- open spans (snapshots): a running clock until they end -------------------------------------

  // An open span whose latest snapshot is older than this is "unfinished" (its process likely
  // died); as in `gat-traces show --unfinished-after` (default 600 s).
  const UNFINISHED_US = 600e6;

  function nowUs() {
    return Date.now() * 1000;
  }

  function isUnfinished(s) {
    return Boolean(s.open) && nowUs() - s.end_us > UNFINISHED_US;
  }

  // Where an open span's bar ends: now while it runs (never before its last snapshot).
  function liveEnd(s) {
    return s.open && !isUnfinished(s) ? Math.max(s.end_us, nowUs()) : s.end_us;
  }

  function liveDuration(s) {
    return s.open ? (liveEnd(s) - s.start_us) * 1000 : s.duration_ns;
  }

  function durationText(s) {
    if (!s.open) return fmtDuration(s.duration_ns);
    return isUnfinished(s) ? `unfinished · ${fmtDuration(s.duration_ns)}+` : `running ${fmtDuration(liveDuration(s))}`;
  }

  // Whether a span just read replaces the one the page holds: a newer snapshot, or the end.
  function replacesHeld(held, span) {
    return Boolean(held.open) && (!span.open || span.end_us > held.end_us);
  }

  // -- token and cost totals --------------------------------------------------------------------
  // The server puts each LLM call's usage (and, with a pricing table, its cost: null when its
  // model has no price) on its outline; turns and the conversation add them up here, so live
  // spans update the totals too. A cost is partial when some call had no price.

  const USAGE_KEYS = ["input_tokens", "output_tokens", "total_tokens", "cache_read_tokens", "cache_write_tokens", "llm_calls"];

  function usageTotals(spans) {
    const usage = Object.fromEntries(USAGE_KEYS.map((k) => [k, 0]));
    let amount = 0;
    let currency = null;
    let partial = false;
    for (const s of spans) {
      if (!s.usage) continue;
      for (const k of USAGE_KEYS) usage[k] += s.usage[k] || 0;
      if (s.cost === undefined) continue; // served without a pricing table
      if (s.cost === null) { partial = true; continue; }
      amount += s.cost.amount;
      currency = s.cost.currency;
      if (s.cost.partial) partial = true;
    }
    return { usage, cost: currency === null ? null : { amount, currency, partial } };
  }

  function fmtCount(n) {
    return Number(n).toLocaleString("en-US");
  }

  function fmtCost(cost) {
    const digits = cost.amount >= 0.01 || cost.amount === 0 ? 4 : 6;
    return `${cost.partial ? "≥ " : ""}${cost.amount.toFixed(digits)} ${cost.currency}`;
  }

  const PARTIAL_COST = "Partial: some LLM calls have no price in the pricing table; this is the priced part";

  // A turn's or the conversation's chips: tokens (in, out, cache) and cost; none without calls.
  function usageChips(spans) {
    const { usage, cost } = usageTotals(spans);
    if (!usage.llm_calls) return [];
    const parts = [`in ${fmtCount(usage.input_tokens)}`, `out ${fmtCount(usage.output_tokens)}`];
    if (usage.cache_read_tokens) parts.push(`cache read ${fmtCount(usage.cache_read_tokens)}`);
    if (usage.cache_write_tokens) parts.push(`cache write ${fmtCount(usage.cache_write_tokens)}`);
    return [
      el("span", { class: "chip usage", text: `${fmtCount(usage.total_tokens)} tokens (${parts.join(", ")})` }),
      cost ? el("span", {
        class: `chip cost${cost.partial ? " partial" : ""}`,
        title: cost.partial ? PARTIAL_COST : "Cost from the pricing table",
        text: fmtCost(cost),
      }) : null,
    ];
  }

  function listTokens(c) {
    return c.usage && c.usage.llm_calls ? fmtCount(c.usage.total_tokens) : "–";
  }

  function listCost(c) {
    return c.cost ? el("span", { title: c.cost.partial ? PARTIAL_COST : null, text: fmtCost(c.cost) }) : "–";
  }

  // -- one trace: waterfall and tree -------------------------------------------------------------

  class TraceView {
    constructor(traceId, onSelect) {
      this.id = traceId;
      this.spans = new Map(); // span id -> outline
      this.collapsed = new Set();
      this.fresh = new Map(); // span id -> when it arrived (performance.now())
      this.onSelect = onSelect;
      // One callback per view, so the panel can tell a new span of the same turn from another
      // turn's (and unselect only the latter).
      this.onPanelClose = () => this.unselect();
      this.selected = null;
      this.rows = [];
      this.section = null;
      this.mounted = false;
      this.zoom = null; // { from, to } in epoch µs while the waterfall is zoomed in
      this.filter = null; // { match, keep } span ids while the turn's spans are filtered
    }

    // The time window the waterfall shows: the zoomed-in range, else the whole turn (µs).
    get v0() { return this.zoom ? this.zoom.from : this.t0; }
    get vw() { return this.zoom ? this.zoom.to - this.zoom.from : this.width; }

    add(span, fresh) {
      this.spans.set(span.span_id, span);
      if (fresh) this.fresh.set(span.span_id, performance.now());
    }

    hasOpen() {
      for (const s of this.spans.values()) if (s.open && !isUnfinished(s)) return true;
      return false;
    }

    get start() {
      let min = Infinity;
      for (const s of this.spans.values()) min = Math.min(min, s.start_us);
      return min;
    }

    get end() {
      let max = -Infinity;
      for (const s of this.spans.values()) max = Math.max(max, liveEnd(s));
      return max;
    }

    roots() {
      const out = [];
      for (const s of this.spans.values()) {
        if (!s.parent_span_id || !this.spans.has(s.parent_span_id)) out.push(s);
      }
      return out.sort(byStart);
    }

    rebuild() {
      const children = new Map();
      for (const s of this.spans.values()) {
        if (s.parent_span_id && this.spans.has(s.parent_span_id) && s.parent_span_id !== s.span_id) {
          if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
          children.get(s.parent_span_id).push(s);
        }
      }
      for (const list of children.values()) list.sort(byStart);
      const rows = [];
      const seen = new Set();
      const visit = (span, depth) => {
        if (seen.has(span.span_id)) return; // a cycle in bad data: show each span once
        if (this.filter && !this.filter.keep.has(span.span_id)) return;
        seen.add(span.span_id);
        const kids = children.get(span.span_id) || [];
        rows.push({ span, depth, kids: kids.length });
        if (!this.collapsed.has(span.span_id)) for (const kid of kids) visit(kid, depth + 1);
      };
      for (const root of this.roots()) visit(root, 0);
      this.rows = rows;
      this.t0 = this.start;
      this.width = Math.max(1, this.end - this.t0);
    }

    // The turn's card: header, user input and answer, then the waterfall (built when visible).
    section_(index) {
      const roots = this.roots();
      const root = roots[0];
      const errors = [...this.spans.values()].filter((s) => s.status === "ERROR").length;
      const duration = roots.reduce((sum, s) => sum + s.duration_ns, 0);
      const head = el("div", { class: "turn-head" },
        el("span", { class: "title", text: `Turn ${index + 1}` }),
        timeEl("span", this.start, { class: "when" }),
        el("span", { class: "spacer" }),
        el("span", { class: "chip", text: plural(this.spans.size, "span") }),
        errors ? el("span", { class: "chip error", text: plural(errors, "error") }) : null,
        el("span", { class: "chip", text: roots.some((r) => r.open) ? "running" : fmtDuration(duration) }),
        usageChips(this.spans.values()));
      const said = [];
      if (root && root.input !== undefined) said.push(say("user", root.input));
      if (root && root.response !== undefined) said.push(say(root.labels[0] || "agent", root.response));
      const body = el("div", { class: "trace", dataset: { traceId: this.id } });
      const section = el("section", {
        class: `turn${errors ? " error" : ""}`,
        dataset: { traceId: this.id },
        "aria-label": `Turn ${index + 1}`,
      }, head, said.length ? el("div", { class: "messages" }, said) : null, body);
      this.body = body;
      this.mounted = false;
      // Until it is scrolled near, a turn only reserves its height.
      body.style.height = `${Math.min(this.spans.size * ROW + 23, window.innerHeight * 0.62)}px`;
      this.section = section;
      return section;
    }

    mount() {
      if (this.mounted) return;
      this.mounted = true;
      this.body.style.height = "";
      const tools = ext.traceTools(this); // sets the filter before the rows are built
      this.rebuild();
      this.rowsBox = el("div", { class: "rows" });
      this.ticks = el("div", { class: "ticks" });
      this.grid = el("div", {
        class: "trace-grid",
        role: "tree",
        tabindex: 0,
        "aria-label": `Spans of trace ${this.id}`,
        onkeydown: (event) => this.key(event),
      },
      el("div", { class: "ruler", "aria-hidden": "true" },
        el("div", { class: "label-head", text: "Span" }), this.ticks),
      this.rowsBox);
      this.scroll = el("div", { class: "trace-scroll" }, this.grid);
      let frame = 0;
      this.scroll.addEventListener("scroll", () => {
        if (!frame) frame = requestAnimationFrame(() => { frame = 0; this.paint(); });
      });
      this.body.replaceChildren(tools, this.scroll);
      ext.zoomByPointer(this);
      if (this.scrolledTo) this.scroll.scrollTop = this.scrolledTo;
      this.paint();
    }

    // Far off screen a turn gives its rows back to the page and keeps only its height (and
    // where it was scrolled), so long conversations hold a few turns' rows, not all of them.
    unmount() {
      if (!this.mounted || this.body.contains(document.activeElement)) return;
      const height = this.body.getBoundingClientRect().height;
      this.scrolledTo = this.scroll.scrollTop;
      this.mounted = false;
      this.body.replaceChildren();
      this.body.style.height = `${height}px`;
      this.scroll = this.grid = this.rowsBox = this.ticks = null;
    }

    refresh() {
      if (!this.mounted) return;
      this.rebuild();
      this.paint();
    }

    paint() {
      if (!this.mounted) return; // a frame asked for before the turn was unmounted
      const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
        el("span", { class: "tick", style: { left: `${f * 100}%` }, text: fmtDuration((this.v0 - this.t0 + this.vw * f) * 1000) }));
      this.trackPx = this.ticks.clientWidth;
      this.ticks.replaceChildren(...ticks);
      const total = this.rows.length;
      this.rowsBox.style.height = `${total * ROW}px`;
      const top = Math.max(0, this.scroll.scrollTop - 22);
      const height = this.scroll.clientHeight || window.innerHeight;
      const first = Math.max(0, Math.floor(top / ROW) - 8);
      const last = Math.min(total, Math.ceil((top + height) / ROW) + 8);
      const nodes = [];
      for (let i = first; i < last; i++) nodes.push(this.rowEl(this.rows[i], i));
      this.rowsBox.replaceChildren(...nodes);
      if (nodes.length && !document.body.dataset.drawn) {
        // What the benchmark times: navigation to the first row on screen.
        document.body.dataset.drawn = "1";
        performance.mark("gat-interactive");
      }
      // The tree keeps focus; screen readers follow the selected row through this.
      const active = this.selected !== null ? this.rowsBox.querySelector("[aria-selected=true]") : null;
      if (active) this.grid.setAttribute("aria-activedescendant", active.id);
      else this.grid.removeAttribute("aria-activedescendant");
    }

    rowEl(row, index) {
      const s = row.span;
      const left = ((s.start_us - this.v0) / this.vw) * 100;
      const width = Math.max(((liveEnd(s) - s.start_us) / this.vw) * 100, 0.15);
      const open = !this.collapsed.has(s.span_id);
      const twisty = el("button", {
        type: "button",
        class: `twisty${row.kids ? "" : " leaf"}`,
        tabindex: -1,
        "aria-label": open ? "Collapse" : "Expand",
        text: row.kids ? (open ? "▾" : "▸") : "",
        onclick: (event) => {
          event.stopPropagation();
          this.toggle(s.span_id);
        },
      });
      // The labels give way first (a long model id is cut); tokens and the error badge never.
      const tokens = s.tokens ? `tokens ${s.tokens.input ?? "?"}/${s.tokens.output ?? "?"}` : null;
      const full = [s.name, ...s.labels, tokens].filter(Boolean).join(" · ");
      const label = el("div", { class: "label", title: full, style: { paddingLeft: `calc(6px + ${row.depth} * var(--indent, 16px))` } },
        twisty,
        el("span", { class: "name", text: s.name }),
        s.labels.length ? el("span", { class: "tag", text: s.labels.join(" · ") }) : null,
        tokens ? el("span", { class: "tag tokens", text: tokens }) : null,
        s.status === "ERROR" ? el("span", { class: "badge error", text: "error" }) : null);
      const dur = el("span", { class: `dur${s.open ? " running" : ""}`, text: durationText(s) });
      ext.placeDuration(dur, left, width, this.trackPx);
      const bar = el("div", {
        class: `bar kind-${cssIdent(s.kind)} status-${cssIdent(s.status)}${s.open ? " open" : ""}`,
        style: ext.barStyle(left, width),
        title: `${s.name} · ${s.kind} · ${s.status} · ${durationText(s)}`,
      });
      // A row drawn again while it still flashes (a scroll, the running clock) carries on from
      // where the flash was instead of starting it over.
      const freshFor = performance.now() - (this.fresh.get(s.span_id) ?? -Infinity);
      const fresh = freshFor < 2000;
      const node = el("div", {
        class: `row kind-${cssIdent(s.kind)} status-${cssIdent(s.status)}${fresh ? " fresh" : ""}${s.open ? " open" : ""}${ext.filterClass(this, s)}`,
        role: "treeitem",
        id: `row-${this.id}-${s.span_id}`,
        "aria-level": row.depth + 1,
        "aria-expanded": row.kids ? String(open) : null,
        "aria-selected": String(this.selected === s.span_id),
        dataset: { spanId: s.span_id, traceId: this.id, depth: row.depth, kind: s.kind, status: s.status, ...(s.open ? { open: "1" } : {}) },
        style: { top: `${index * ROW}px`, animationDelay: fresh ? `-${Math.round(freshFor)}ms` : null },
        title: s.error || null,
        onclick: () => {
          this.select(s.span_id);
          this.grid.focus({ preventScroll: true });
        },
      }, label, el("div", { class: "track" }, bar, dur));
      return node;
    }

    toggle(spanId) {
      if (this.collapsed.has(spanId)) this.collapsed.delete(spanId);
      else this.collapsed.add(spanId);
      this.refresh();
    }

    select(spanId, { open = true } = {}) {
      this.selected = spanId;
      if (!this.mounted) this.mount();
      const index = this.rows.findIndex((r) => r.span.span_id === spanId);
      if (index >= 0) {
        const top = index * ROW;
        const view = this.scroll.clientHeight;
        if (top < this.scroll.scrollTop || top + ROW + 22 > this.scroll.scrollTop + view) {
          this.scroll.scrollTop = Math.max(0, top - view / 3);
        }
      }
      this.paint();
      if (open) this.onSelect(this, spanId);
    }

    unselect() {
      if (this.selected === null) return;
      this.selected = null;
      if (this.mounted) this.paint();
    }

    key(event) {
      if (ext.traceKey(this, event)) return; // zooming, panning, finding
      const index = this.rows.findIndex((r) => r.span.span_id === this.selected);
      const row = this.rows[index];
      let next = null;
      if (event.key === "ArrowDown") next = this.rows[Math.min(this.rows.length - 1, index + 1)];
      else if (event.key === "ArrowUp") next = this.rows[Math.max(0, index - 1)];
      else if (event.key === "Home") next = this.rows[0];
      else if (event.key === "End") next = this.rows[this.rows.length - 1];
      else if (row && event.key === "ArrowRight" && row.kids && this.collapsed.has(row.span.span_id)) {
        this.toggle(row.span.span_id);
      } else if (row && event.key === "ArrowLeft" && row.kids && !this.collapsed.has(row.span.span_id)) {
        this.toggle(row.span.span_id);
      } else return;
      event.preventDefault();
      if (next) this.select(next.span.span_id);
    }
  }

  function byStart(a, b) {
    return a.start_us - b.start_us;
  }

  function say(who, text) {
    return el("div", { class: "say" }, el("div", { class: "who", text: who }), el("div", { class: "what", text }));
  }

  // -- one conversation --------------------------------------------------------------------------

  function conversationView(id, params) {
    document.title = `${idText(id)} · Traces`;
    document.body.dataset.view = "conversation";
    const traces = new Map(); // trace id -> TraceView
    openTraces = traces;
    const order = []; // TraceViews by start
    let authContext = null;
    let live = null;
    let closed = false;
    let loaded = false; // the first load answered (spans, or none yet)
    let failed = false; // it failed: load again once the server answers
    let mark = ""; // the conversation's mark as of the spans this page has
    let since = 0; // the newest end time this page has (µs)
    let healedMark = null;
    const controller = new AbortController();

    const chips = el("div", { class: "chips", id: "conversation-chips" });
    const turnsBox = el("div", { id: "turns" });
    const legend = el("div", { class: "legend", "aria-hidden": "true" },
      KINDS.map((k) => el("span", null, el("span", { class: `swatch bar kind-${k}`, style: { position: "static" } }), k.toLowerCase())),
      el("span", null, el("span", { class: "swatch bar status-ERROR", style: { position: "static" } }), "error"));
    main.replaceChildren(
      el("div", { class: "crumbs" }, el("a", { href: "#/", text: "‹ Conversations" }),
        ext.compareLink(id)),
      idEl("h1", id),
      chips, legend, turnsBox);

    // Turns within 800 px of the screen have their rows; others only reserve their height.
    const observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const view = traces.get(entry.target.dataset.traceId);
        if (!view || view.section !== entry.target) continue;
        if (entry.isIntersecting) view.mount();
        else view.unmount();
      }
    }, { rootMargin: "800px 0px" });

    function onSelect(view, spanId) {
      for (const other of order) if (other !== view) other.unselect();
      openSpan(view.id, spanId, view.onPanelClose, view.grid);
      setHashQuietly(`${conversationHash(id)}?span=${view.id}-${spanId}`);
    }

    function addSpans(spans, fresh) {
      const touched = new Set();
      const created = [];
      for (const span of spans) {
        let view = traces.get(span.trace_id);
        const held = view && view.spans.get(span.span_id);
        if (held && !replacesHeld(held, span)) continue;
        if (held) {
          view.add(span, false); // replaced in place: the same row, no flash
          touched.add(view);
          continue;
        }
        if (!view) {
          view = new TraceView(span.trace_id, onSelect);
          traces.set(span.trace_id, view);
          created.push(view);
        }
        view.add(span, fresh);
        touched.add(view);
      }
      return { touched, created };
    }

    function renderHeader() {
      let spans = 0;
      let errors = 0;
      let duration = 0;
      for (const view of order) {
        spans += view.spans.size;
        for (const s of view.spans.values()) if (s.status === "ERROR") errors += 1;
        for (const root of view.roots()) duration += root.duration_ns;
      }
      chips.replaceChildren(...[
        authContext !== null ? el("span", { class: "chip", text: `auth ${authContext}` }) : null,
        el("span", { class: "chip", id: "turn-count", text: plural(order.length, "turn") }),
        el("span", { class: "chip", id: "span-count", text: plural(spans, "span") }),
        el("span", { class: `chip${errors ? " error" : " ok"}`, text: plural(errors, "error") }),
        el("span", { class: "chip", text: `total ${fmtDuration(duration)}` }),
        ...usageChips(order.flatMap((view) => [...view.spans.values()])),
        order.length ? el("span", {
          class: "chip",
          title: `${utcTitle(order[0].start)} – ${utcTitle(order[order.length - 1].end)}`,
          text: `${fmtTime(order[0].start)} – ${fmtTime(order[order.length - 1].end)}`,
        }) : null,
      ].filter(Boolean)); // replaceChildren would show a null as the text "null"
    }

    // The first screenful is drawn at once, not a frame later when the observer reports.
    function mountNearScreen() {
      for (const view of order) {
        const box = view.section.getBoundingClientRect();
        if (box.top > window.innerHeight + 800) break;
        if (box.bottom >= -800) view.mount();
      }
    }

    function renderTurns() {
      order.sort((a, b) => a.start - b.start);
      const sections = order.map((view, i) => view.section_(i));
      turnsBox.replaceChildren(...sections);
      observer.disconnect();
      for (const section of sections) observer.observe(section);
    }

    // A live update draws turns again: the tree being used keeps the focus (and its selected
    // row), and every drawn turn stays scrolled where it was, so keyboard users keep their place.
    function keepingPlace(draw) {
      const focused = order.find((view) => view.mounted && view.grid === document.activeElement);
      for (const view of order) if (view.mounted && view.scroll) view.scrolledTo = view.scroll.scrollTop;
      draw();
      if (focused && focused.section.isConnected) {
        focused.mount();
        focused.grid.focus({ preventScroll: true });
      }
    }

    function applyLive(spans) {
      const { touched, created } = addSpans(spans, true);
      if (!touched.size) return;
      keepingPlace(() => redraw(touched, created));
      renderHeader();
      const empty = document.getElementById("no-spans");
      if (empty) empty.remove();
    }

    function redraw(touched, created) {
      if (created.length) {
        order.push(...created);
        const sorted = [...order].sort((a, b) => a.start - b.start);
        const appended = sorted.slice(0, order.length - created.length).every((v, i) => v === order[i]);
        if (appended) {
          for (const view of created) {
            const section = view.section_(order.indexOf(view));
            section.classList.add("fresh");
            turnsBox.append(section);
            observer.observe(section);
          }
        } else {
          order.splice(0, order.length, ...sorted);
          renderTurns();
        }
      }
      for (const view of touched) {
        if (created.includes(view)) continue;
        const mounted = view.mounted;
        const old = view.section;
        const section = view.section_(order.indexOf(view));
        old.replaceWith(section);
        observer.unobserve(old);
        observer.observe(section);
        if (mounted) view.mount();
      }
    }

    function spanTotal() {
      let total = 0;
      for (const view of order) total += view.spans.size;
      return total;
    }

    async function onUpdate(data) {
      if (!loaded) {
        if (failed) await load();
        return;
      }
      const news = data.conversation;
      if (!news) return;
      if (news.auth_context !== null && authContext === null) {
        authContext = news.auth_context;
        renderHeader();
      }
      if (news.mark === mark && news.mark) return;
      mark = news.mark;
      applyLive(news.spans);
      for (const s of news.spans) since = Math.max(since, s.end_us);
      // A span stored long after a later-ending one is outside the resent window: read all.
      if (news.span_count !== null && spanTotal() < news.span_count && healedMark !== mark) {
        healedMark = mark;
        const all = await getJSON(`/api/conversations/${encodeURIComponent(id)}`, controller.signal);
        if (!closed) applyLive(all.spans);
      }
    }

    async function load() {
      let data = null;
      try {
        data = await getJSON(`/api/conversations/${encodeURIComponent(id)}`, controller.signal);
      } catch (error) {
        if (error.name === "AbortError") return;
        if (error.status !== 404) {
          failed = !error.status || error.status >= 500;
          showError(turnsBox, error);
          return;
        }
        turnsBox.replaceChildren(el("p", { class: "empty", id: "no-spans" },
          "No spans for this conversation yet; they appear here as they are stored."));
      }
      if (closed) return;
      failed = false;
      loaded = true;
      if (data) {
        authContext = data.auth_context ?? null;
        mark = data.mark;
        const { created } = addSpans(data.spans, false);
        order.push(...created);
        for (const s of data.spans) since = Math.max(since, s.end_us);
        renderTurns();
        renderHeader();
        mountNearScreen();
        const wanted = params.get("span");
        if (wanted && wanted.includes("-")) {
          const [traceId, spanId] = wanted.split("-");
          const view = traces.get(traceId);
          if (view && view.spans.has(spanId)) {
            view.section.scrollIntoView({ block: "start" });
            view.select(spanId);
          }
        }
      }
      document.body.dataset.ready = "conversation";
    }

    // Polls start once the first load has answered (its spans and mark), not alongside it.
    function startLive() {
      if (live || closed) return;
      live = poll(
        () => `/api/updates?${new URLSearchParams({ conversation: id, mark, since_us: String(since) })}`,
        onUpdate);
    }

    load().finally(startLive);
    const clock = runningClock(order);
    return {
      close() {
        closed = true;
        openTraces = null;
        clock.stop();
        controller.abort();
        observer.disconnect();
        if (live) live.close();
      },
    };
  }

  // Once a second, the drawn turns holding spans still running are repainted, so their bars
  // and durations keep time between polls.
  function runningClock(views) {
    const timer = setInterval(() => {
      if (document.hidden) return;
      for (const view of views) if (view.mounted && view.hasOpen()) view.refresh();
    }, 1000);
    return { stop: () => clearInterval(timer) };
  }

  // -- the span panel ----------------------------------------------------------------------------

  let panelToken = 0;
  let panelOnClose = null;
  let panelOpener = null; // the tree whose row opened the panel
  const PANEL_COVERS = window.matchMedia("(max-width: 900px)"); // as in app.css

  function closePanel() {
    const hadFocus = panel.contains(document.activeElement);
    panel.hidden = true;
    panel.replaceChildren();
    document.body.classList.remove("has-panel");
    if (panelOnClose) panelOnClose();
    panelOnClose = null;
    if (hadFocus && panelOpener && panelOpener.isConnected) panelOpener.focus({ preventScroll: true });
  }

  async function openSpan(traceId, spanId, onClose, opener) {
    const token = ++panelToken;
    if (panelOnClose && panelOnClose !== onClose) panelOnClose();
    panelOnClose = onClose;
    panelOpener = opener;
    panel.hidden = false;
    document.body.classList.add("has-panel");
    panel.replaceChildren(el("p", { class: "muted", text: "Loading span…" }));
    let span;
    try {
      span = await getJSON(`/api/traces/${traceId}/spans/${spanId}`);
    } catch (error) {
      if (token === panelToken) showError(panel, error);
      return;
    }
    if (token !== panelToken) return;
    renderSpan(span);
  }

  function renderSpan(span) {
    const attrs = new Map(span.attributes.map((a) => [a.key, a.value]));
    const close = el("button", {
      type: "button", class: "panel-close", "aria-label": "Close span details", text: "×",
      onclick: () => {
        closePanel();
        const { path } = parseHash();
        setHashQuietly(`#${path}`);
      },
    });
    const parts = [
      ext.breadcrumb(span, openTraces && openTraces.get(span.trace_id)),
      el("div", { class: "panel-head" }, el("h2", { id: "span-title", text: span.name }), close),
      el("div", { class: "chips" },
        el("span", { class: `badge kind kind-${cssIdent(span.kind)}`, text: span.kind }),
        el("span", { class: `badge ${span.status === "ERROR" ? "error" : span.status === "OK" ? "ok" : ""}`, text: span.status }),
        span.labels.map((label) => el("span", { class: "badge", text: label }))),
      el("dl", { class: "meta" },
        meta("Duration", durationText(span)),
        meta("Started", timeEl("span", span.start_us, { precise: true })),
        span.open
          ? meta("Last seen open", timeEl("span", span.end_us, { precise: true }))
          : meta("Ended", timeEl("span", span.end_us, { precise: true })),
        meta("Trace", ext.copyable(span.trace_id, "trace id")),
        meta("Span", ext.copyable(span.span_id, "span id")),
        meta("Parent", span.parent_span_id ?? "none (root)"),
        meta("Scope", `${span.scope.name} ${span.scope.version}`.trim())),
    ];

    const failure = errorSection(span, attrs);
    if (failure) parts.push(failure);

    const io = IO_KEYS.filter(([key]) => attrs.has(key)).map(([key, title]) =>
      el("div", { class: "io-item" }, el("div", { class: "io-title", text: title }), ioValue(key, attrs.get(key))));
    if (io.length) parts.push(el("h3", { text: "Input and output" }), el("div", { class: "io" }, io));

    for (const [key, value] of attrs) {
      let toolNames = null;
      if (isChat(value)) {
        parts.push(el("h3", { text: `Messages (${value.length}) · ${key}` }),
          el("div", { class: "chat" }, ext.lastMessages(value, (m) => messageEl(m, toolNames ??= toolNamesOf(value)))));
      }
    }
    const tools = attrs.get("ai.llm.request.tools");
    if (Array.isArray(tools) && tools.length) {
      parts.push(el("h3", { text: "Tools offered" }),
        el("div", { class: "chips" }, tools.map((t) => el("span", { class: "chip mono", text: typeof t === "string" ? t : JSON.stringify(t) }))));
    }

    parts.push(el("h3", { text: `Attributes (${span.attributes.length})` }),
      el("table", { class: "attrs", id: "span-attributes" }, el("tbody", null, span.attributes.map((a) =>
        el("tr", { class: a.inherited ? "inherited" : "", dataset: { key: a.key } },
          el("td", { class: "key" }, a.key, a.inherited ? el("span", { class: "badge", title: "inherited from an ancestor span", text: "inherited" }) : null,
            ext.copyButton(a.value, a.key)),
          el("td", { class: "val" }, valueEl(a.value, a.key)))))));
    const resource = Object.entries(span.resource_attributes || {});
    if (resource.length) {
      parts.push(el("h3", { text: "Resource" }), el("table", { class: "attrs" }, el("tbody", null, resource.map(([k, v]) =>
        el("tr", null, el("td", { class: "key", text: k }), el("td", { class: "val" }, valueEl(v, k)))))));
    }
    panel.replaceChildren(...parts);
    panel.scrollTop = 0;
    // Where the panel covers the page, the focus goes into it (and back to the tree on close).
    if (PANEL_COVERS.matches) focusHeading(panel);
  }

  function meta(term, value) {
    return [el("dt", { text: term }), value instanceof Node ? el("dd", null, value) : el("dd", { text: value })];
  }

  // A value's box; it may scroll, so it is a labelled region keyboard users can reach.
  function preEl(text, label, extra = "") {
    return el("pre", { class: `value${extra}`, text, tabindex: 0, role: "region", "aria-label": label });
  }

  function valueEl(value, key) {
    if (ext.isTree(value)) return ext.jsonTree(value, key);
    const text = pretty(value);
    if (typeof value === "string" && !text.includes("\n") && text.length <= 200) {
      return el("span", { class: "plain", text });
    }
    return preEl(text, key);
  }

  function ioValue(key, value) {
    if (key === "ai.llm.response.output" && value && typeof value === "object" && !Array.isArray(value) && "tool_call" in value) {
      return el("div", { class: "toolcall", text: toolCallText(value.tool_call, value.arguments) });
    }
    return preEl(pretty(value), key);
  }

  function errorSection(span, attrs) {
    const type = attrs.get("exception.type");
    const message = attrs.get("exception.message");
    const traceback = attrs.get("exception.traceback");
    const toolError = attrs.get("ai.tool.error");
    if (type === undefined && message === undefined && traceback === undefined && span.status !== "ERROR") return null;
    const headline = type !== undefined || message !== undefined
      ? `${type ?? "Exception"}: ${message ?? ""}`
      : toolError !== undefined ? String(toolError) : "The span ended with status ERROR.";
    return el("section", { class: "exception", "aria-label": "Exception" },
      el("h3", { text: "Exception" }),
      el("div", { class: "error-box", text: headline }),
      traceback !== undefined ? preEl(String(traceback), "Traceback", " traceback") : null);
  }

  function isChat(value) {
    return Array.isArray(value) && value.length > 0 &&
      value.every((m) => m && typeof m === "object" && !Array.isArray(m) && "role" in m);
  }

  function toolCallText(tool, args) {
    const name = typeof tool === "string" ? tool : (tool && (tool.name || tool.function?.name)) || JSON.stringify(tool);
    let input = args;
    if (input === undefined && tool && typeof tool === "object") input = tool.arguments ?? tool.input ?? tool.function?.arguments;
    return `${name}(${input === undefined ? "" : typeof input === "string" ? input : JSON.stringify(input)})`;
  }

  // The tool names of a chat's tool calls by id (Bedrock's toolUseId, Anthropic's id), so a
  // tool result can say which tool it came from.
  function toolNamesOf(messages) {
    const names = new Map();
    for (const message of messages) {
      if (!Array.isArray(message.content)) continue;
      for (const block of message.content) {
        const use = block && (block.toolUse || (block.type === "tool_use" ? block : null));
        if (use && typeof use.name === "string") names.set(use.toolUseId ?? use.id, use.name);
      }
    }
    return names;
  }

  // A tool's result block (Bedrock toolResult, Anthropic tool_result) as one line of text.
  function toolResultEl(result, toolNames) {
    const failed = result.status === "error" || result.is_error === true;
    const name = toolNames.get(result.toolUseId ?? result.tool_use_id) || "tool";
    const parts = Array.isArray(result.content) ? result.content : [result.content];
    const text = parts.map((part) => {
      if (part && typeof part.text === "string") return part.text;
      if (part && part.json !== undefined) return JSON.stringify(part.json);
      return typeof part === "string" ? part : JSON.stringify(part);
    }).join("\n");
    return el("div", { class: `toolresult${failed ? " is-error" : ""}`, text: `${name}${failed ? " failed" : ""}: ${text}` });
  }

  function messageEl(message, toolNames = new Map()) {
    const role = String(message.role);
    const box = el("div", { class: `msg role-${cssIdent(role)}${message.error ? " is-error" : ""}` },
      el("div", { class: "role", text: message.error ? `${role} · error` : role }));
    const content = message.content;
    if (typeof content === "string") box.append(el("div", { class: "content", text: content }));
    else if (Array.isArray(content)) {
      for (const block of content) {
        if (block && typeof block.text === "string") box.append(el("div", { class: "content", text: block.text }));
        else if (block && (block.toolUse || block.type === "tool_use")) {
          const use = block.toolUse || block;
          box.append(el("div", { class: "toolcall", text: toolCallText(use.name, use.input) }));
        } else if (block && (block.toolResult || block.type === "tool_result")) {
          box.append(toolResultEl(block.toolResult || block, toolNames));
        } else box.append(preEl(pretty(block), `${role} message content`));
      }
    } else if (content !== undefined && content !== null) box.append(preEl(pretty(content), `${role} message content`));
    if (message.tool_call !== undefined) box.append(el("div", { class: "toolcall", text: toolCallText(message.tool_call, message.arguments) }));
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) box.append(el("div", { class: "toolcall", text: toolCallText(call) }));
    }
    const rest = Object.keys(message).filter((k) => !["role", "content", "tool_call", "tool_calls", "arguments", "error"].includes(k));
    if (rest.length) box.append(preEl(pretty(Object.fromEntries(rest.map((k) => [k, message[k]]))), `${role} message fields`));
    return box;
  }

  // -- start -------------------------------------------------------------------------------------

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      closePanel();
      const { path } = parseHash();
      setHashQuietly(`#${path}`);
    }
  });
  document.getElementById("zone").textContent = `Times in ${zoneName()}`;
  ext.init({ el, fmtDuration, fmtTime, utcTitle, plural, getJSON, showError, idText, idEl,
    conversationHash, setHashQuietly, focusHeading, preEl, pretty, byStart, usageTotals, fmtCost,
    liveEnd });
  window.addEventListener("hashchange", route);
  route();
})();
