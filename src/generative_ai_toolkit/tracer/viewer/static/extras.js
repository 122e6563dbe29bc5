// gat-traces viewer, features beside app.js: finding and filtering a turn's spans, zooming and
// panning its waterfall, the span panel's breadcrumb, JSON trees, copy buttons and long chats,
// sortable list columns, and opening a trace by id from the top bar. app.js calls these at a
// few places and hands over its helpers with init(). Text only, as in app.js: nothing from a
// span is ever parsed as HTML.
"use strict";

window.gatViewer = (() => {
  const ns = { kit: null }; // kit: app.js's helpers (el, fmtDuration, getJSON, ...)
  const MIN_ZOOM_US = 1; // the narrowest window the waterfall zooms to
  const SHOWN_MESSAGES = 6; // a chat longer than LONG_CHAT shows its last SHOWN_MESSAGES
  const LONG_CHAT = 8;
  const SMALL_NODE = 12; // a JSON tree this small opens its second level too

  function el(...args) {
    return ns.kit.el(...args);
  }

  ns.init = (kit) => {
    ns.kit = kit;
    wireTraceJump();
  };

  // -- opening a trace by id from any page (the top bar) ----------------------------------------

  function wireTraceJump() {
    const form = document.getElementById("jump");
    const input = document.getElementById("jump-id");
    if (!form || !input) return;
    input.addEventListener("input", () => input.setCustomValidity(""));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const wanted = input.value.trim().toLowerCase().replace(/-/g, "");
      if (!/^[0-9a-f]{32}$/.test(wanted)) {
        input.setCustomValidity("A trace id is 32 hex digits.");
        input.reportValidity();
        return;
      }
      input.value = "";
      location.hash = `#/t/${wanted}`;
    });
  }

  // -- finding and filtering the spans of a turn -------------------------------------------------

  // A turn's toolbar: find (name, attribute key or value), errors only, next/previous match,
  // and the zoom controls. Built when the turn is drawn; its state lives on the view.
  ns.traceTools = (view) => {
    const state = (view.tools ??= { query: "", errorsOnly: false });
    computeFilter(view);
    const find = el("input", {
      type: "search", class: "find", value: state.query, autocomplete: "off", spellcheck: "false",
      placeholder: "Find spans: name, attribute key or value",
      "aria-label": `Find spans in turn ${view.id}: name, attribute key or value`,
    });
    const errors = el("input", { type: "checkbox", class: "errors-only" });
    errors.checked = state.errorsOnly;
    const status = el("span", { class: "find-status muted", role: "status" });
    const next = el("button", { type: "button", class: "find-next", text: "Next", title: "Next match (Enter)" });
    const previous = el("button", { type: "button", class: "find-previous", text: "Previous", title: "Previous match (Shift+Enter)" });
    const zoomText = el("span", { class: "zoom-text muted" });
    const button = (cls, text, label, action) =>
      el("button", { type: "button", class: cls, text, "aria-label": label, title: label, onclick: action });
    const zoomGroup = el("div", { class: "zoom", role: "group", "aria-label": "Timeline zoom" },
      button("zoom-out", "−", "Zoom out (-)", () => zoomBy(view, 2)),
      button("zoom-in", "+", "Zoom in (+)", () => zoomBy(view, 0.5)),
      button("pan-left", "◀", "Pan left (Shift+←)", () => panBy(view, -0.25)),
      button("pan-right", "▶", "Pan right (Shift+→)", () => panBy(view, 0.25)),
      button("zoom-reset", "Reset", "Reset zoom (0)", () => zoomTo(view, null)),
      zoomText);
    const bar = el("div", { class: "trace-tools" },
      el("div", { class: "finder", role: "search", "aria-label": "Find spans" },
        find, el("label", { class: "check" }, errors, "Errors only"), previous, next, status),
      zoomGroup);
    view.toolsUi = { find, errors, status, zoomText, zoomGroup, next, previous };
    const update = () => {
      state.query = find.value;
      state.errorsOnly = errors.checked;
      refilter(view);
    };
    find.addEventListener("input", update);
    find.addEventListener("focus", () => loadAttributes(view), { once: true });
    find.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        step(view, event.shiftKey ? -1 : 1);
      }
    });
    // A live update draws the turn again: the find box being typed in keeps the focus.
    find.addEventListener("blur", () => {
      const { selectionStart, selectionEnd } = find;
      queueMicrotask(() => {
        const now = view.toolsUi && view.toolsUi.find;
        if (find.isConnected || !now || now === find || !now.isConnected) return;
        now.focus({ preventScroll: true });
        now.setSelectionRange(selectionStart, selectionEnd);
      });
    });
    errors.addEventListener("change", update);
    next.addEventListener("click", () => step(view, 1));
    previous.addEventListener("click", () => step(view, -1));
    showFilterStatus(view);
    showZoom(view);
    return bar;
  };

  function searchText(view, span) {
    const full = view.attributeText && view.attributeText.get(span.span_id);
    if (full !== undefined) return full;
    return [span.name, ...span.labels, span.input, span.response, span.error]
      .filter((part) => part !== undefined).join("\n").toLowerCase();
  }

  function computeFilter(view) {
    const { query, errorsOnly } = view.tools;
    const wanted = query.trim().toLowerCase();
    if (!wanted && !errorsOnly) {
      view.filter = null;
      return;
    }
    const match = new Set();
    for (const span of view.spans.values()) {
      if (errorsOnly && span.status !== "ERROR" && span.error === undefined) continue;
      if (wanted && !searchText(view, span).includes(wanted)) continue;
      match.add(span.span_id);
    }
    // Matches are shown with their ancestors (dimmed), so each keeps its place in the tree.
    const keep = new Set(match);
    const walked = new Set();
    for (const id of match) {
      let parent = view.spans.get(id).parent_span_id;
      while (parent && view.spans.has(parent) && !walked.has(parent)) {
        walked.add(parent);
        keep.add(parent);
        parent = view.spans.get(parent).parent_span_id;
      }
    }
    view.filter = { match, keep };
    view.collapsed.clear(); // every match in view
  }

  function refilter(view) {
    computeFilter(view);
    view.refresh();
    showFilterStatus(view);
  }

  function showFilterStatus(view) {
    const ui = view.toolsUi;
    if (!ui) return;
    const matches = view.filter ? view.filter.match.size : 0;
    ui.next.disabled = ui.previous.disabled = !matches;
    let text = "";
    if (view.filter) {
      text = matches
        ? `${matches.toLocaleString("en")} of ${ns.kit.plural(view.spans.size, "span")} match`
        : "No span matches";
      if (view.tools.query.trim() && !view.attributeText) text += " (names only, attributes loading…)";
    }
    ui.status.textContent = text;
  }

  // The turn's attributes, read once (on the first focus of its find box) for searching.
  async function loadAttributes(view) {
    if (view.attributeText || view.attributesLoading) return;
    view.attributesLoading = true;
    try {
      const data = await ns.kit.getJSON(`/api/traces/${view.id}`);
      const text = new Map();
      const visit = (node) => {
        const parts = [node.name, ...node.labels];
        for (const a of node.attributes) {
          parts.push(`${a.key}=${typeof a.value === "string" ? a.value : JSON.stringify(a.value)}`);
        }
        text.set(node.span_id, parts.join("\n").toLowerCase());
        node.children.forEach(visit);
      };
      data.roots.forEach(visit);
      view.attributeText = text;
    } catch {
      view.attributesLoading = false; // tried again on the next search
      return;
    }
    if (view.filter) refilter(view);
    else showFilterStatus(view);
  }

  function step(view, direction) {
    if (!view.filter || !view.filter.match.size) return;
    const rows = view.rows;
    const at = rows.findIndex((r) => r.span.span_id === view.selected);
    for (let i = 1; i <= rows.length; i++) {
      const row = rows[(((at + direction * i) % rows.length) + rows.length) % rows.length];
      if (view.filter.match.has(row.span.span_id)) {
        view.select(row.span.span_id);
        return;
      }
    }
  }

  ns.filterClass = (view, span) => {
    if (!view.filter) return "";
    return view.filter.match.has(span.span_id) ? " match" : " context";
  };

  // -- zooming and panning the waterfall ---------------------------------------------------------

  function zoomTo(view, range) {
    if (range) {
      const start = view.t0;
      const end = view.t0 + view.width;
      let width = Math.max(range.to - range.from, MIN_ZOOM_US);
      width = Math.min(width, view.width);
      const from = Math.min(Math.max(range.from, start), end - width);
      view.zoom = width >= view.width ? null : { from, to: from + width };
    } else view.zoom = null;
    reposition(view);
    showZoom(view);
  }

  // Zooming moves the bars, labels and ticks of the rows drawn (as TraceView.rowEl places
  // them) without building the rows again: a zoom step costs a few style changes per row.
  function reposition(view) {
    if (!view.mounted) return;
    const fmt = ns.kit.fmtDuration;
    [...view.ticks.children].forEach((tick, i, all) => {
      tick.textContent = fmt((view.v0 - view.t0 + (view.vw * i) / (all.length - 1)) * 1000);
    });
    for (const row of view.rowsBox.children) {
      const span = view.spans.get(row.dataset.spanId);
      if (!span) continue;
      const left = ((span.start_us - view.v0) / view.vw) * 100;
      const width = Math.max(((ns.kit.liveEnd(span) - span.start_us) / view.vw) * 100, 0.15);
      Object.assign(row.querySelector(".bar").style, ns.barStyle(left, width));
      const dur = row.querySelector(".dur");
      dur.classList.remove("inside");
      dur.style.left = dur.style.right = "";
      ns.placeDuration(dur, left, width, view.trackPx);
    }
  }

  // Zoom by ``factor`` (0.5: in) around ``center`` µs (default: the selected span, else the
  // middle of the window).
  function zoomBy(view, factor, center) {
    let middle = center;
    if (middle === undefined) {
      const span = view.selected !== null ? view.spans.get(view.selected) : null;
      middle = span ? (span.start_us + span.end_us) / 2 : view.v0 + view.vw / 2;
      middle = Math.min(Math.max(middle, view.v0), view.v0 + view.vw);
    }
    const ratio = (middle - view.v0) / view.vw;
    const width = view.vw * factor;
    zoomTo(view, { from: middle - width * ratio, to: middle - width * ratio + width });
  }

  function panBy(view, fraction) {
    if (!view.zoom) return;
    const shift = view.vw * fraction;
    zoomTo(view, { from: view.v0 + shift, to: view.v0 + view.vw + shift });
  }

  function showZoom(view) {
    const ui = view.toolsUi;
    if (!ui) return;
    const fmt = ns.kit.fmtDuration;
    const zoomed = Boolean(view.zoom);
    ui.zoomGroup.querySelector(".zoom-reset").disabled = !zoomed;
    ui.zoomGroup.querySelector(".pan-left").disabled = !zoomed || view.v0 <= view.t0;
    ui.zoomGroup.querySelector(".pan-right").disabled = !zoomed || view.v0 + view.vw >= view.t0 + view.width;
    ui.zoomGroup.querySelector(".zoom-out").disabled = !zoomed;
    ui.zoomText.textContent = zoomed
      ? `${fmt((view.v0 - view.t0) * 1000)} – ${fmt((view.v0 - view.t0 + view.vw) * 1000)} of ${fmt(view.width * 1000)}`
      : "";
  }

  // Keys on the tree: + and - zoom around the selected span, 0 resets, Shift+← → pan,
  // / finds. True when the key was one of these.
  ns.traceKey = (view, event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    if (event.key === "+" || event.key === "=") zoomBy(view, 0.5);
    else if (event.key === "-" || event.key === "_") zoomBy(view, 2);
    else if (event.key === "0") zoomTo(view, null);
    else if (event.shiftKey && event.key === "ArrowLeft") panBy(view, -0.25);
    else if (event.shiftKey && event.key === "ArrowRight") panBy(view, 0.25);
    else if (event.key === "/" && view.toolsUi) view.toolsUi.find.focus();
    else return false;
    event.preventDefault();
    return true;
  };

  // The pointer: drag across the timeline to zoom into that range, Ctrl+wheel zooms around
  // the pointer, Shift+wheel (or a sideways wheel) pans a zoomed waterfall.
  ns.zoomByPointer = (view) => {
    const grid = view.grid;
    const timeAt = (x) => {
      const box = view.ticks.getBoundingClientRect();
      return view.v0 + ((x - box.left) / Math.max(box.width, 1)) * view.vw;
    };
    let drag = null;
    grid.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || event.pointerType !== "mouse") return;
      if (!event.target.closest(".track, .ticks")) return;
      event.preventDefault(); // no text selection; the row's click still selects it
      drag = { x: event.clientX, band: null };
    });
    grid.addEventListener("pointermove", (event) => {
      if (!drag) return;
      if (!drag.band && Math.abs(event.clientX - drag.x) < 5) return;
      const box = view.ticks.getBoundingClientRect();
      const gridBox = grid.getBoundingClientRect();
      const a = Math.min(Math.max(Math.min(drag.x, event.clientX), box.left), box.right);
      const b = Math.min(Math.max(Math.max(drag.x, event.clientX), box.left), box.right);
      if (!drag.band) {
        // Captured only once it is a drag: a captured click would miss its row.
        grid.setPointerCapture(event.pointerId);
        drag.band = el("div", { class: "zoom-band", "aria-hidden": "true" });
        grid.append(drag.band);
      }
      Object.assign(drag.band.style, { left: `${a - gridBox.left}px`, width: `${b - a}px` });
      drag.range = { from: timeAt(a), to: timeAt(b) };
    });
    const end = () => {
      if (!drag) return;
      const { band, range } = drag;
      drag = null;
      if (!band) return;
      band.remove();
      // The click that ends a drag comes before any timer: it zoomed, it does not select.
      view.dragged = true;
      setTimeout(() => { view.dragged = false; }, 0);
      if (range) zoomTo(view, range);
    };
    grid.addEventListener("pointerup", end);
    grid.addEventListener("pointercancel", end);
    grid.addEventListener("click", (event) => {
      if (view.dragged) event.stopPropagation();
    }, { capture: true });
    view.scroll.addEventListener("wheel", (event) => {
      if (event.ctrlKey) {
        event.preventDefault();
        zoomBy(view, event.deltaY > 0 ? 1.25 : 0.8, timeAt(event.clientX));
      } else if (view.zoom && (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY))) {
        event.preventDefault();
        const delta = event.shiftKey && !event.deltaX ? event.deltaY : event.deltaX;
        panBy(view, delta / Math.max(view.trackPx || 400, 1));
      }
    }, { passive: false });
  };

  // A bar's position in % of the window; zoomed in, bars reach past the track (which clips).
  ns.barStyle = (left, width) => {
    const from = Math.max(left, -1);
    const to = Math.min(left + width, 101);
    return { left: `${from}%`, width: `${Math.max(to - from, 0.15)}%` };
  };

  // The duration label goes right of the bar, else left of it, else over it, wherever it fits
  // in the track's pixels (a phone's track is a hundred pixels wide): never cut off.
  let measure = null;
  function textPx(text) {
    if (!measure) {
      measure = document.createElement("canvas").getContext("2d");
      measure.font = `11px ${getComputedStyle(document.body).fontFamily}`; // .dur's font
    }
    return measure.measureText(text).width;
  }

  ns.placeDuration = (dur, left, width, trackPx) => {
    const px = Math.max(trackPx || 0, 1);
    const need = ((textPx(dur.textContent) + 14) / px) * 100; // with its gap and padding, in %
    const from = Math.min(Math.max(left, 0), 100);
    const to = Math.min(Math.max(left + width, 0), 100);
    if (to + need <= 100) dur.style.left = `calc(${to}% + 4px)`;
    else if (from - need >= 0) dur.style.right = `calc(${100 - from}% + 4px)`;
    else {
      // No room outside the bar: inside it, at its end, where the labels beside bars are.
      dur.classList.add("inside");
      if (to - need >= 0) dur.style.right = `calc(${100 - to}% + 2px)`;
      else dur.style.left = "2px";
    }
  };

  // -- the span panel: breadcrumb, copy buttons, JSON trees, long chats -------------------------

  // The selected span's ancestors, root first, each a button that selects it.
  ns.breadcrumb = (span, view) => {
    if (!view) return null;
    const chain = [];
    const seen = new Set([span.span_id]);
    let parent = span.parent_span_id;
    while (parent && view.spans.has(parent) && !seen.has(parent)) {
      seen.add(parent);
      chain.unshift(view.spans.get(parent));
      parent = view.spans.get(parent).parent_span_id;
    }
    if (!chain.length) return null;
    const name = (s) => [s.name, s.labels[0]].filter(Boolean).join(" · ");
    return el("nav", { class: "span-path", "aria-label": "Span ancestors" },
      el("ol", null,
        chain.map((s) => el("li", null, el("button", {
          type: "button", class: "link", text: name(s), dataset: { spanId: s.span_id },
          onclick: () => {
            view.select(s.span_id);
            if (view.grid) view.grid.focus({ preventScroll: true });
          },
        }))),
        el("li", { "aria-current": "location", text: name(span) })));
  };

  let announcer = null;
  function announce(text) {
    if (!announcer) {
      announcer = el("div", { class: "visually-hidden", role: "status", id: "announce" });
      document.body.append(announcer);
    }
    announcer.textContent = "";
    announcer.textContent = text;
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // No clipboard API where the page is not a secure context (a remote --allow-remote host).
      const area = el("textarea", { class: "visually-hidden", "aria-hidden": "true" });
      area.value = text;
      document.body.append(area);
      area.select();
      const done = document.execCommand("copy");
      area.remove();
      return done;
    }
  }

  // A button that copies ``value`` (text as it is, anything else as JSON).
  ns.copyButton = (value, what) => {
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    const button = el("button", {
      type: "button", class: "copy", text: "Copy", "aria-label": `Copy ${what}`, title: `Copy ${what}`,
      onclick: async (event) => {
        event.stopPropagation();
        const done = await copyText(text ?? "");
        button.textContent = done ? "Copied" : "Copy failed";
        announce(done ? `Copied ${what}` : `Could not copy ${what}`);
        setTimeout(() => { button.textContent = "Copy"; }, 1500);
      },
    });
    return button;
  };

  ns.copyable = (text, what) => el("span", { class: "copyable" }, el("span", { text }), ns.copyButton(text, what));

  // Objects, arrays, and text that holds a JSON object or array, show as trees.
  ns.isTree = (value) => treeValue(value) !== undefined;

  function treeValue(value) {
    if (value && typeof value === "object") return value;
    if (typeof value !== "string") return undefined;
    const text = value.trim();
    if (!(text.startsWith("{") && text.endsWith("}")) && !(text.startsWith("[") && text.endsWith("]"))) return undefined;
    try {
      const parsed = JSON.parse(text);
      return parsed && typeof parsed === "object" ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  // A collapsible tree (``details`` elements: Enter and Space fold them); a node's entries are
  // built when it is first opened, so a long message list costs nothing until looked at.
  ns.jsonTree = (value, label) => {
    const data = treeValue(value);
    const box = el("div", { class: "json-tree", tabindex: 0, role: "region", "aria-label": label });
    if (typeof value === "string") box.append(el("div", { class: "json-note muted", text: "JSON text" }));
    box.append(node(data, null, "open"));
    return box;
  };

  function summaryText(value) {
    return Array.isArray(value) ? `[${value.length} ${value.length === 1 ? "item" : "items"}]` : `{${Object.keys(value).length} ${Object.keys(value).length === 1 ? "key" : "keys"}}`;
  }

  // ``open``: "open" (the root), "small" (opened below a small root), "" (folded).
  function node(value, key, open) {
    const keyEl = key === null ? null : el("span", { class: "json-key", text: `${key}: ` });
    if (!value || typeof value !== "object") {
      const type = value === null ? "null" : typeof value;
      const text = typeof value === "string" ? JSON.stringify(value) : String(value);
      return el("div", { class: "json-leaf" }, keyEl, el("span", { class: `json-${type}`, text }));
    }
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const details = el("details", { class: "json-node" },
      el("summary", null, keyEl, el("span", { class: "json-summary muted", text: summaryText(value) })));
    let built = false;
    const build = () => {
      if (built) return;
      built = true;
      const below = open === "open" && entries.length <= SMALL_NODE ? "small" : "";
      details.append(el("div", { class: "json-children" }, entries.map(([k, v]) => node(v, k, below))));
    };
    details.addEventListener("toggle", () => { if (details.open) build(); });
    if (open === "open" || (open === "small" && entries.length <= SMALL_NODE)) {
      details.open = true;
      build();
    }
    return details;
  }

  // A long chat shows its last few messages and a button for the earlier ones.
  ns.lastMessages = (messages, build) => {
    if (messages.length <= LONG_CHAT) return messages.map(build);
    const hidden = messages.length - SHOWN_MESSAGES;
    const more = el("button", {
      type: "button", class: "show-all", text: `Show all ${messages.length} messages (${hidden} earlier)`,
      onclick: () => {
        const earlier = messages.slice(0, hidden).map(build);
        more.replaceWith(...earlier);
        earlier[0].tabIndex = -1;
        earlier[0].focus();
      },
    });
    return [more, ...messages.slice(hidden).map(build)];
  };

  // -- sortable list columns ---------------------------------------------------------------------

  // By the conversations' values where a column is known, else by the cell's text.
  const SORT_KEYS = {
    "Conversation": (c) => c.conversation_id,
    "Auth context": (c) => c.auth_context ?? "",
    "Last activity": (c) => c.last_ended_us,
    "Turns": (c) => c.trace_count,
    "Spans": (c) => c.span_count,
    "Errors": (c) => c.error_count,
    "Duration": (c) => c.total_duration_ns,
    "Tokens": (c) => (c.usage ? c.usage.total_tokens : -1),
    "Cost": (c) => (c.cost ? c.cost.amount : -1),
  };
  const TEXT_COLUMNS = new Set(["Conversation", "Auth context"]); // first click: A to Z
  const DEFAULT_SORT = { label: "Last activity", descending: true }; // the server's order
  let listSort = DEFAULT_SORT; // kept while the list reloads (live updates, pages)

  // Header buttons sort the rows of the page shown (``aria-sort`` says how); the pages
  // themselves follow last activity, the order every store lists in. At phone width, where
  // the rows are cards without a header, a "Sort by" box and a Reverse button do the same.
  // Returns the nodes to show: the box, then the table.
  ns.sortable = (table, conversations) => {
    const body = table.tBodies[0];
    const pairs = [...body.rows].map((tr, i) => ({ tr, c: conversations[i], i }));
    const heads = [...table.tHead.rows[0].cells];
    const caption = el("caption", { class: "sort-note" });
    table.prepend(caption);
    const labels = heads.map((th) => th.textContent);
    const choose = el("select", { id: "sort-by" }, labels.map((label) => el("option", { value: label, text: label })));
    const reverse = el("button", { type: "button", class: "sort-reverse", text: "Reverse" });
    const sortBy = el("div", { class: "sort-by" },
      el("label", { for: "sort-by", text: "Sort by" }), choose, reverse);
    choose.addEventListener("change", () => {
      listSort = { label: choose.value, descending: !TEXT_COLUMNS.has(choose.value) };
      apply();
    });
    reverse.addEventListener("click", () => {
      listSort = { label: listSort.label, descending: !listSort.descending };
      apply();
    });
    const keyOf = (th, index) => {
      const label = th.dataset.label;
      if (SORT_KEYS[label]) return (pair) => SORT_KEYS[label](pair.c);
      return (pair) => {
        const text = pair.tr.cells[index] ? pair.tr.cells[index].textContent.trim() : "";
        const number = Number.parseFloat(text.replace(/,/g, ""));
        return Number.isNaN(number) ? text : number;
      };
    };
    const apply = () => {
      const index = heads.findIndex((th) => th.dataset.label === listSort.label);
      if (index < 0) listSort = DEFAULT_SORT;
      const at = Math.max(0, heads.findIndex((th) => th.dataset.label === listSort.label));
      const key = keyOf(heads[at], at);
      const sign = listSort.descending ? -1 : 1;
      pairs.sort((a, b) => {
        const x = key(a);
        const y = key(b);
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return order ? sign * order : a.i - b.i;
      });
      body.append(...pairs.map((p) => p.tr));
      heads.forEach((th, i) => {
        if (i === at) th.setAttribute("aria-sort", listSort.descending ? "descending" : "ascending");
        else th.removeAttribute("aria-sort");
        th.querySelector(".sort-mark").textContent = i === at ? (listSort.descending ? " ▼" : " ▲") : "";
      });
      const byDefault = listSort.label === DEFAULT_SORT.label && listSort.descending;
      const how = TEXT_COLUMNS.has(listSort.label)
        ? (listSort.descending ? "Z to A" : "A to Z")
        : `${listSort.descending ? "highest" : "lowest"} first`;
      caption.textContent = byDefault ? "" : `Sorted by ${listSort.label.toLowerCase()}, ${how}, within this page`;
      caption.hidden = byDefault;
      choose.value = heads[at].dataset.label;
      reverse.setAttribute("aria-label", `Reverse the order (now ${how})`);
    };
    heads.forEach((th) => {
      const label = th.textContent;
      th.dataset.label = label;
      const button = el("button", {
        type: "button", class: "sort",
        onclick: () => {
          listSort = listSort.label === label
            ? { label, descending: !listSort.descending }
            : { label, descending: !TEXT_COLUMNS.has(label) }; // numbers and times: highest first
          apply();
        },
      }, label, el("span", { class: "sort-mark", "aria-hidden": "true" }));
      th.replaceChildren(button);
    });
    apply();
    return [sortBy, table];
  };

  // -- links to the compare view ------------------------------------------------------------------

  ns.compareLink = (conversationId) =>
    el("a", { class: "compare-link", href: `#/compare?${new URLSearchParams({ a: conversationId })}`, text: "Compare with…" });

  return ns;
})();
