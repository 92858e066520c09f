// voxscope live page: one EventSource, one event per frame named after its view.
// The DOM is built with createElement only (the Content-Security-Policy allows no
// inline style or script); charts are uPlot.
"use strict";

(function () {
  const body = document.body;
  const base = body.dataset.base;
  const alertmanager = body.dataset.alertmanager;
  const VIEWS = ["operations", "providers", "http", "summary", "business", "forecast", "alerts", "traces"];
  const PALETTE = ["#1f6feb", "#e3a008", "#3fb950", "#f85149", "#a371f7", "#39c5cf", "#db61a2", "#8b949e"];
  const charts = new Map();
  // Each metric view's chart window, [from, to] in unix seconds, from its newest frame.
  const windows = {};
  // What tests and curious operators read: when the first frame arrived, each view's
  // newest frame time.
  const state = { firstDataMs: null, frames: {}, selectedTrace: null };
  window.voxscopeLive = state;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // ---- tabs ----
  function show() {
    const wanted = location.hash.slice(1);
    const view = VIEWS.includes(wanted) ? wanted : "operations";
    for (const section of document.querySelectorAll(".view")) {
      section.classList.toggle("active", section.dataset.view === view);
    }
    for (const tab of document.querySelectorAll("#tabs a")) {
      tab.classList.toggle("active", tab.dataset.view === view);
    }
    body.dataset.view = view;
    // Charts drawn while hidden have no width: size them now.
    for (const chart of charts.values()) resize(chart);
  }
  window.addEventListener("hashchange", show);

  // ---- numbers ----
  function format(value, unit) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "–";
    const abs = Math.abs(value);
    switch (unit) {
      case "s":
        if (abs === 0) return "0 s";
        if (abs < 1) return `${(value * 1000).toPrecision(3)} ms`;
        return `${value.toPrecision(3)} s`;
      case "percentunit":
        return `${(value * 100).toFixed(abs < 0.1 ? 2 : 1)} %`;
      case "bytes":
        if (abs >= 1 << 30) return `${(value / (1 << 30)).toFixed(2)} GiB`;
        if (abs >= 1 << 20) return `${(value / (1 << 20)).toFixed(1)} MiB`;
        return `${value.toFixed(0)} B`;
      case "reqps":
        return `${value.toPrecision(3)} /s`;
      case "cpm":
        return `${value.toPrecision(3)} /min`;
      case "share":
        return `${(value * 100).toFixed(1)} %`;
      case "time":
        return utcClock(value);
      default:
        return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+$/, "");
    }
  }

  // 0 fine, 1 past the first threshold, 2 past the second.
  function level(value, thresholds, lowerIsWorse) {
    if (!Number.isFinite(value) || !thresholds.length) return 0;
    const sorted = [...thresholds].sort((a, b) => a - b);
    if (lowerIsWorse) {
      const passed = sorted.filter((t) => value < t).length;
      return Math.min(passed, 2);
    }
    const passed = sorted.filter((t) => value >= t).length;
    return sorted.length === 1 ? passed * 2 : passed;
  }

  // ---- metric views ----
  function panelNode(section, panel) {
    let node = section.querySelector(`[data-panel="${panel.id}"]`);
    if (!node) {
      node = el("article", { class: `panel ${panel.shape}`, "data-panel": panel.id },
        el("h2", { text: panel.title }), el("div", { class: "content" }), el("p", { class: "error" }));
      section.append(node);
    }
    node.querySelector(".error").textContent = panel.errors.join("; ");
    return node;
  }

  function renderStat(node, panel) {
    const values = el("div", { class: "values" });
    if (!panel.series.length) {
      values.append(el("span", { class: "value none", "data-value": "", text: "no data" }));
    }
    for (const s of panel.series) {
      const v = el("span", {
        class: "value",
        "data-series": s.name,
        "data-value": s.value === null ? "" : String(s.value),
        "data-level": String(level(s.value, panel.thresholds, panel.lower_is_worse)),
        text: format(s.value, panel.unit),
      });
      if (panel.series.length > 1 || s.name !== "value") v.append(el("small", { text: s.name }));
      values.append(v);
    }
    node.querySelector(".content").replaceChildren(values);
  }

  function renderTable(node, panel) {
    const keys = [...new Set(panel.series.flatMap((s) => Object.keys(s.labels)))].sort();
    const head = el("tr", {}, ...keys.map((k) => el("th", { text: k })), el("th", { text: "value" }));
    const rows = panel.series.map((s) =>
      el("tr", { "data-labels": JSON.stringify(s.labels), "data-value": s.value === null ? "" : String(s.value) },
        ...keys.map((k) => el("td", { text: s.labels[k] ?? "" })),
        el("td", { class: "num", text: format(s.value, panel.unit) })));
    const table = panel.series.length
      ? el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))
      : el("p", { class: "muted", text: "nothing counted yet" });
    node.querySelector(".content").replaceChildren(table);
  }

  function chartData(panel) {
    const times = [...new Set(panel.series.flatMap((s) => (s.points || []).map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columns = panel.series.map((s) => {
      const column = new Array(times.length).fill(null);
      for (const [t, v] of s.points || []) column[index.get(t)] = v;
      return column;
    });
    return [times.map((t) => t / 1000), ...columns];
  }

  function resize(chart) {
    const width = chart.host.clientWidth;
    if (width > 0 && width !== chart.width) {
      chart.width = width;
      chart.plot.setSize({ width, height: 200 });
    }
  }

  function renderChart(node, panel, view) {
    const host = node.querySelector(".content");
    const names = panel.series.map((s) => s.name).join("\u0000");
    const data = chartData(panel);
    let chart = charts.get(panel.id);
    if (chart && chart.names !== names) {
      chart.plot.destroy();
      charts.delete(panel.id);
      chart = null;
    }
    if (!panel.series.length) {
      host.replaceChildren(el("p", { class: "muted", text: "no data in the window" }));
      return;
    }
    if (chart) {
      chart.plot.setData(data);
      return;
    }
    host.replaceChildren();
    const axis = { stroke: css("--muted"), grid: { stroke: css("--grid") }, ticks: { stroke: css("--grid") } };
    const thresholds = panel.thresholds;
    const plot = new uPlot({
      width: Math.max(host.clientWidth, 200),
      height: 200,
      series: [{}, ...panel.series.map((s, i) => ({
        label: s.name,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        value: (u, v) => format(v, panel.unit),
      }))],
      axes: [axis, { ...axis, size: 70, values: (u, ticks) => ticks.map((t) => format(t, panel.unit)) }],
      // The whole window, however few points it has so far.
      scales: { x: { time: true, range: () => windows[view] } },
      hooks: {
        draw: [(u) => {
          // Threshold lines, dashed, as the Grafana panel draws them.
          const ctx = u.ctx;
          ctx.save();
          ctx.setLineDash([6, 4]);
          ctx.lineWidth = 1;
          thresholds.forEach((t, i) => {
            const y = u.valToPos(t, "y", true);
            if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
            ctx.strokeStyle = i === thresholds.length - 1 ? css("--bad") : css("--warn");
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
          });
          ctx.restore();
        }],
      },
    }, data, host);
    chart = { plot, host, names, width: host.clientWidth };
    charts.set(panel.id, chart);
  }

  function renderMetricView(frame) {
    const section = document.getElementById(`view-${frame.view}`);
    section.querySelector(".wait")?.remove();
    section.dataset.atMs = String(frame.at_ms);
    windows[frame.view] = [(frame.at_ms - frame.window_ms) / 1000, frame.at_ms / 1000];
    for (const panel of frame.panels) {
      const node = panelNode(section, panel);
      if (panel.shape === "stat") renderStat(node, panel);
      else if (panel.shape === "table") renderTable(node, panel);
      else renderChart(node, panel, frame.view);
    }
  }

  // ---- forecast ----
  // `14:20 UTC on 2026-11-30`, as the recommendations write times.
  function utcClock(ms) {
    const text = new Date(ms).toISOString();
    return `${text.slice(11, 16)} UTC on ${text.slice(0, 10)}`;
  }

  // A count with thousands grouped: 1,000,000.
  function count(value) {
    return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "–";
  }

  function inTime(seconds) {
    const minutes = Math.round(seconds / 60);
    if (minutes < 90) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  // A figure by its name: times, shares, counts.
  function figure(name, value) {
    if (name.endsWith("_at_ms")) return format(value, "time");
    if (name.endsWith("share")) return format(value, "share");
    if (name.startsWith("seconds")) return inTime(value);
    return Number.isInteger(value) ? count(value) : format(Math.round(value * 100) / 100);
  }

  function recommendationList(frame) {
    const section = document.getElementById("view-forecast");
    section.dataset.recommendations = String(frame.recommendations.length);
    const days = frame.period_ms / 86400000;
    const period = days >= 1 ? `${days} d` : `${frame.period_ms / 3600000} h`;
    if (!frame.recommendations.length) {
      return el("p", { class: "muted", id: "no-recommendations",
        text: `Nothing to recommend: no provider falls back often, and no trend reaches its limit within the horizon (last ${period}).` });
    }
    return el("ol", { class: "recommendations" }, ...frame.recommendations.map((r) => el("li", {
      "data-key": r.key, "data-figures": JSON.stringify(r.figures), "data-runbook": r.runbook },
    el("p", { class: "text", text: r.text }),
    el("dl", {}, ...Object.entries(r.figures).flatMap(([name, value]) =>
      [el("dt", { text: name }), el("dd", { "data-figure": name, text: figure(name, value) })])),
    el("a", { href: r.runbook, rel: "noopener noreferrer", text: "runbook" }))));
  }

  function projectionText(p) {
    const limit = `${count(p.limit)} ${p.unit}`;
    if (p.line === null) return `Nothing recorded to fit a trend to; the limit is ${limit}.`;
    if (p.seconds_to_limit === 0) return `At or over ${limit} now.`;
    if (!p.within_horizon) return `The trend does not reach ${limit} within ${inTime(p.horizon_ms / 1000)}.`;
    return `Reaches ${limit} around ${utcClock(p.limit_at_ms)} (in ${inTime(p.seconds_to_limit)}) at the trend of the last ${inTime(p.trend_ms / 1000)}.`;
  }

  // The quantity, the trend to the horizon and the limit, on the times of any of them.
  function projectionData(p) {
    const times = [...new Set([...p.points.map((q) => q[0]), ...p.projection.map((q) => q[0]),
      p.at_ms - p.trend_ms, p.at_ms + p.horizon_ms])].sort((a, b) => a - b);
    const column = (pairs) => {
      const at = new Map(pairs);
      return times.map((t) => (at.has(t) ? at.get(t) : null));
    };
    const edges = [[times[0], p.limit], [times[times.length - 1], p.limit]];
    return [times.map((t) => t / 1000), column(p.points), column(p.projection), column(edges)];
  }

  function renderProjection(section, p) {
    let node = section.querySelector(`[data-projection="${p.id}"]`);
    if (!node) {
      node = el("article", { class: "panel chart projection", "data-projection": p.id },
        el("h2", { text: p.title }), el("p", { class: "eta" }), el("div", { class: "content" }));
      section.append(node);
    }
    node.dataset.limitAtMs = p.within_horizon ? String(p.limit_at_ms) : "";
    node.dataset.withinHorizon = String(p.within_horizon);
    node.dataset.current = p.current === null ? "" : String(p.current);
    node.querySelector(".eta").textContent = projectionText(p);
    const key = `forecast-${p.id}`;
    windows[key] = [(p.at_ms - p.trend_ms) / 1000, (p.at_ms + p.horizon_ms) / 1000];
    const data = projectionData(p);
    const chart = charts.get(key);
    if (chart) {
      chart.plot.setData(data);
      return;
    }
    const host = node.querySelector(".content");
    const axis = { stroke: css("--muted"), grid: { stroke: css("--grid") }, ticks: { stroke: css("--grid") } };
    const value = (u, v) => format(v);
    const plot = new uPlot({
      width: Math.max(host.clientWidth, 200),
      height: 200,
      series: [{},
        { label: p.unit, stroke: PALETTE[0], width: 1.5, value },
        { label: "trend", stroke: PALETTE[1], width: 1.5, dash: [6, 4], spanGaps: true, value },
        { label: "limit", stroke: css("--bad"), width: 1, spanGaps: true, value }],
      axes: [axis, { ...axis, size: 70, values: (u, ticks) => ticks.map((t) => format(t)) }],
      scales: { x: { time: true, range: () => windows[key] } },
      hooks: {
        draw: [(u) => {
          // Now, and when the trend reaches the limit.
          const marks = [[p.at_ms, css("--muted")]];
          const at = Number(node.dataset.limitAtMs);
          if (at) marks.push([at, css("--bad")]);
          const ctx = u.ctx;
          ctx.save();
          ctx.setLineDash([2, 3]);
          for (const [ms, colour] of marks) {
            const x = u.valToPos(ms / 1000, "x", true);
            ctx.strokeStyle = colour;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          }
          ctx.restore();
        }],
      },
    }, data, host);
    charts.set(key, { plot, host, names: "", width: host.clientWidth });
  }

  function renderForecast(frame) {
    const section = document.getElementById("view-forecast");
    section.querySelector(".wait")?.remove();
    section.dataset.atMs = String(frame.at_ms);
    let advice = section.querySelector(".advice");
    if (!advice) {
      advice = el("article", { class: "panel advice" }, el("h2", { text: "Recommendations" }), el("div", { class: "content" }));
      section.prepend(advice);
    }
    advice.querySelector(".content").replaceChildren(recommendationList(frame));
    for (const p of frame.projections) renderProjection(section, p);
    let note = section.querySelector(".note");
    const text = frame.errors.length ? frame.errors.join("; ")
      : frame.projections.length ? "" : "Set [capacity] max_concurrent_calls and daily budgets in the alert config to see projections.";
    if (!note) {
      note = el("p", { class: "note muted" });
      section.append(note);
    }
    note.textContent = text;
  }

  // ---- alerts ----
  function engineToken() {
    return sessionStorage.getItem("voxscope-engine-token") || "";
  }

  document.getElementById("engine-token").addEventListener("submit", (event) => {
    event.preventDefault();
    const { token, by } = event.target.elements;
    sessionStorage.setItem("voxscope-engine-token", token.value.trim());
    sessionStorage.setItem("voxscope-engine-by", by.value.trim());
    token.value = "";
    report("token kept for this tab");
  });

  function report(text) {
    document.getElementById("action-result").textContent = text;
  }

  async function engineWrite(method, path, payload, done) {
    const token = engineToken();
    if (!token) {
      report("enter the engine API token first");
      return;
    }
    try {
      const response = await fetch(path, {
        method,
        headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(payload),
        credentials: "same-origin",
      });
      report(response.ok ? done : `refused: ${response.status} ${await response.text()}`);
    } catch (error) {
      report(`failed: ${error}`);
    }
  }

  function acknowledge(alert) {
    const by = sessionStorage.getItem("voxscope-engine-by") || "live page";
    engineWrite("POST", `/api/v1/alerts/${alert.fingerprint}/ack`, { by, comment: "from the live page" },
      `${alert.alertname} acknowledged`);
  }

  function silence(alert) {
    const now = Date.now();
    const matchers = Object.entries(alert.labels).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
    engineWrite("POST", `${alertmanager}/api/v2/silences`, {
      matchers,
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 3600 * 1000).toISOString(),
      createdBy: sessionStorage.getItem("voxscope-engine-by") || "live page",
      comment: `silenced for 1 h from the live page`,
    }, `${alert.alertname} silenced for 1 h`);
  }

  function since(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 90) return `${s} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  function renderAlerts(frame) {
    const holder = document.getElementById("alerts-body");
    const firing = frame.alerts.filter((a) => a.state === "firing" && !a.silenced_by.length);
    const count = document.getElementById("alert-count");
    count.dataset.count = String(firing.length);
    count.textContent = firing.length ? String(firing.length) : "";
    const rows = frame.alerts.map((a) => {
      const status = [];
      if (a.silenced_by.length) status.push("silenced");
      if (a.inhibited_by.length) status.push("inhibited");
      if (a.acknowledged) status.push(`acknowledged by ${a.acknowledged.by || "someone"}`);
      const actions = el("td", {});
      if (a.state === "firing" && !a.acknowledged) {
        actions.append(el("button", { type: "button", text: "Ack", onclick: () => acknowledge(a) }));
      }
      if (!a.silenced_by.length) {
        actions.append(el("button", { type: "button", text: "Silence 1 h", onclick: () => silence(a) }));
      }
      return el("tr", { "data-alertname": a.alertname, "data-state": a.state, "data-fingerprint": a.fingerprint,
        "data-silenced": a.silenced_by.length ? "true" : "false",
        "data-acknowledged": a.acknowledged ? "true" : "false" },
        el("td", { text: a.alertname }), el("td", { text: a.severity }), el("td", { text: a.state }),
        el("td", { text: a.summary }), el("td", { text: since(a.fired_at_ms ?? a.active_at_ms) }),
        el("td", { class: "muted", text: status.join(", ") }), actions);
    });
    const head = el("tr", {}, ...["alert", "severity", "state", "summary", "since", "status", ""].map((h) => el("th", { text: h })));
    const table = rows.length
      ? el("table", { class: "panel" }, el("thead", {}, head), el("tbody", {}, ...rows))
      : el("p", { class: "muted", text: "No alert is pending or firing." });
    const silences = frame.silences.map((s) =>
      el("li", { text: `${s.matchers.join(", ")} until ${new Date(s.ends_at_ms).toLocaleTimeString()} (${s.created_by || "?"}: ${s.comment})` }));
    holder.replaceChildren(table,
      el("h2", { text: `Silences (${frame.silences.length})` }),
      silences.length ? el("ul", {}, ...silences) : el("p", { class: "muted", text: "none" }));
  }

  // ---- traces ----
  function renderTraces(frame) {
    const section = document.getElementById("view-traces");
    if (!frame.traces.length) {
      section.replaceChildren(el("p", { class: "muted", text: "No kept trace yet." }));
      return;
    }
    if (!frame.traces.some((t) => t.trace_id === state.selectedTrace)) state.selectedTrace = frame.traces[0].trace_id;
    const list = el("ul", {}, ...frame.traces.map((t) => el("li", {},
      el("button", {
        type: "button",
        class: `${t.error ? "error" : ""} ${t.trace_id === state.selectedTrace ? "active" : ""}`,
        "data-trace": t.trace_id,
        text: `${t.root ?? "?"} · ${format((t.duration_ms ?? t.span_ms) / 1000, "s")} · ${t.kept}`,
        onclick: () => { state.selectedTrace = t.trace_id; renderTraces(frame); },
      }))));
    const trace = frame.traces.find((t) => t.trace_id === state.selectedTrace);
    const total = Math.max(trace.span_ms, 0.001);
    const rows = trace.spans.map((s) => {
      const bar = el("div", { class: `bar ${s.status === "error" ? "error" : ""}`, title: s.status_message || "" });
      bar.style.left = `${(s.offset_ms / total) * 100}%`;
      bar.style.width = `${(s.duration_ms / total) * 100}%`;
      return el("div", { class: "row", "data-span": s.name },
        el("span", { text: `${s.name} · ${format(s.duration_ms / 1000, "s")}` }),
        el("div", { class: "track" }, bar));
    });
    section.replaceChildren(el("div", { class: "traces" },
      el("div", { class: "panel" }, el("h2", { text: "Recent kept traces" }), list),
      el("div", { class: "panel waterfall", "data-trace": trace.trace_id },
        el("h2", { text: `Trace ${trace.trace_id}` }), ...rows)));
  }

  // ---- the stream ----
  function received(frame) {
    if (state.firstDataMs === null) {
      state.firstDataMs = performance.now();
      body.dataset.firstDataMs = String(Math.round(state.firstDataMs));
    }
    state.frames[frame.view] = frame.at_ms;
    const status = document.getElementById("status");
    status.dataset.state = "live";
    status.textContent = `live · ${frame.view} at ${new Date(frame.at_ms).toLocaleTimeString()}`;
  }

  const source = new EventSource(`${base}/events`);
  for (const view of VIEWS) {
    source.addEventListener(view, (event) => {
      const frame = JSON.parse(event.data);
      received(frame);
      if (view === "alerts") renderAlerts(frame);
      else if (view === "traces") renderTraces(frame);
      else if (view === "forecast") renderForecast(frame);
      else renderMetricView(frame);
      document.getElementById(`view-${view}`).dataset.frames =
        String(Number(document.getElementById(`view-${view}`).dataset.frames || 0) + 1);
    });
  }
  source.addEventListener("error", () => {
    const status = document.getElementById("status");
    status.dataset.state = "error";
    status.textContent = "disconnected: retrying";
  });
  window.addEventListener("resize", () => { for (const chart of charts.values()) resize(chart); });
  show();
})();
