// Prodex web UI. Every value reaches the page through textContent (el()),
// never as HTML, so markup in names and values is shown as text.
"use strict";

const main = document.getElementById("main");

// el builds an element: el("td", {class: "num"}, "text", child…).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// api fetches JSON from the API with the session cookie; the custom header
// marks the request as the UI's own (cross-site pages cannot send it).
async function api(path, opts) {
  const r = await fetch(path, Object.assign({credentials: "same-origin", headers: {"X-Prodex-UI": "1"}}, opts || {}));
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(body.error || r.statusText);
    err.status = r.status;
    throw err;
  }
  return body;
}

function pct(v, digits) {
  return v === null || v === undefined ? "–" : v.toFixed(digits === undefined ? 3 : digits) + " %";
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "not running out";
  const h = seconds / 3600;
  if (h < 1) return Math.round(seconds / 60) + " min";
  if (h < 48) return h.toFixed(1) + " h";
  return (h / 24).toFixed(1) + " days";
}

// alertState is the worst open alert of a status: page, ticket or ok.
function alertState(st) {
  const sev = (st.alerts || []).map(a => a.severity);
  return sev.includes("page") ? "page" : sev.includes("ticket") ? "ticket" : "ok";
}

function signIn(message) {
  document.getElementById("who").textContent = "";
  document.getElementById("signout").hidden = true;
  const input = el("input", {name: "key", type: "password", autocomplete: "off", "aria-label": "API key", required: ""});
  const form = el("form", {class: "signin", method: "get", action: "/"},
    el("h1", {}, "Sign in"),
    el("p", {}, message || "Paste an API key of Prodex (prodex keys create)."),
    input, el("button", {type: "submit"}, "Sign in"));
  main.replaceChildren(form);
  input.focus();
}

// overview lists every SLO, the most urgent first: paging, then ticketing,
// then by budget left.
async function overview() {
  const slos = await api("/api/v1/slos");
  const rows = await Promise.all(slos.map(async d => ({def: d, st: await api("/api/v1/slos/" + encodeURIComponent(d.name) + "/status")})));
  const rank = {page: 0, ticket: 1, ok: 2};
  rows.sort((a, b) => rank[alertState(a.st)] - rank[alertState(b.st)] || a.st.budget_remaining_percent - b.st.budget_remaining_percent);
  const table = el("table", {id: "slos"},
    el("thead", {}, el("tr", {}, ...["SLO", "Dataset", "Target", "SLI", "Budget left", "Runs out in", "Alerts"].map(h => el("th", {scope: "col"}, h)))));
  const tbody = el("tbody");
  for (const {def, st} of rows) {
    const state = alertState(st);
    tbody.append(el("tr", {"data-slo": def.name},
      el("td", {}, el("a", {href: "#/slo/" + encodeURIComponent(def.name)}, def.name)),
      el("td", {}, def.dataset),
      el("td", {class: "num"}, def.target + " %"),
      el("td", {class: "num sli"}, pct(st.sli)),
      el("td", {class: "num budget"}, pct(st.budget_remaining_percent, 2)),
      el("td", {class: "num exhaustion"}, duration(st.exhaustion_seconds)),
      el("td", {class: "alert"}, el("span", {class: "state-" + state}, state === "ok" ? "ok" : state + " firing"))));
  }
  table.append(tbody);
  main.replaceChildren(el("h1", {}, "Service level objectives"), rows.length ? table : el("p", {}, "No SLOs yet: prodex apply -f slos.yaml"));
}

// sloPage shows one SLO: its numbers, the budget burndown over the window
// with the markers of its dataset, and its alerts.
async function sloPage(name) {
  const [def, st] = await Promise.all([api("/api/v1/slos/" + encodeURIComponent(name)), api("/api/v1/slos/" + encodeURIComponent(name) + "/status")]);
  const card = (k, v, cls) => el("div", {class: "card " + (cls || "")}, el("div", {class: "v"}, v), el("div", {class: "k"}, k));
  const chart = el("div", {class: "chart", id: "burndown", role: "img", "aria-label": "Error budget remaining over the window"});
  const daily = el("div", {class: "chart", id: "daily", role: "img", "aria-label": "SLI per day against the target"});
  const burn = el("div", {class: "chart", id: "burn", role: "img", "aria-label": "Burn rates of the last day against the paging thresholds"});
  const heat = el("div", {id: "slo-heat"});
  const explain = el("div", {id: "explain"}, el("p", {}, "Comparing the SLO's bad events of the last hour with its good ones…"));
  const alerts = el("ul", {id: "alerts"});
  for (const a of await api("/api/v1/alerts?slo=" + encodeURIComponent(name))) {
    alerts.append(el("li", {}, `${a.severity} ${a.state}: ${new Date(a.started_at).toLocaleString()} — ${a.detail}`));
  }
  main.replaceChildren(
    el("h1", {}, def.name),
    el("p", {class: "description"}, def.description || ""),
    el("p", {}, el("a", {href: "#/risks/" + encodeURIComponent(def.name), id: "risk-link"}, "Risk register"), " · ", el("a", {href: "#/incidents"}, "Incidents")),
    el("div", {class: "cards"},
      card("SLI over " + st.window, pct(st.sli), "sli"),
      card("target", def.target + " %"),
      card("error budget left", pct(st.budget_remaining_percent, 2), "budget"),
      card("runs out in", duration(st.exhaustion_seconds), "exhaustion"),
      card("burn rate 1h", (st.burn_rate["1h"] || 0).toFixed(2), "burn")),
    el("h2", {}, "Error budget burndown"), chart,
    el("h2", {}, "Burn rate, last day"), burn,
    el("h2", {}, "Its events, last 6 hours (bad ones in red)"), heat,
    el("h2", {}, "Daily compliance"), daily,
    el("h2", {}, "What sets the bad events apart"), explain,
    el("h2", {}, "Alerts"), alerts.childElementCount ? alerts : el("p", {}, "No alerts."));
  explainPanel(explain, def);
  sloHeatmap(heat, def).catch(e => heat.replaceChildren(el("p", {class: "error"}, "Heatmap: " + e.message)));
  // Burn rates with the page thresholds of the rules on the same windows.
  const bs = st.burn_series || [];
  const pageRule = long => ((def.alerts && def.alerts.burn_rates) || []).find(r => r.severity === "page" && r.long_window === long);
  const th1h = pageRule("1h"), th6h = pageRule("6h");
  const bx = bs.map(p => Date.parse(p.time) / 1000);
  const burnSeries = [{}, {label: "5m", stroke: "#90caf9"}, {label: "1h", stroke: "#1565c0", width: 2}, {label: "6h", stroke: "#2e7d32", width: 2}];
  const burnData = [bx, bs.map(p => p["5m"]), bs.map(p => p["1h"]), bs.map(p => p["6h"])];
  if (th1h) { burnSeries.push({label: "page at 1h ≥ " + th1h.burn_rate, stroke: "#c62828", dash: [6, 4]}); burnData.push(bx.map(() => th1h.burn_rate)); }
  if (th6h) { burnSeries.push({label: "page at 6h ≥ " + th6h.burn_rate, stroke: "#ef6c00", dash: [6, 4]}); burnData.push(bx.map(() => th6h.burn_rate)); }
  if (bx.length) new uPlot({width: Math.min(1100, main.clientWidth - 20), height: 240, series: burnSeries, axes: [{}, {label: "× budget rate"}],
    hooks: {draw: [markerHook(st.markers)]}}, burnData, burn);
  const days = st.daily || [];
  if (days.length) {
    new uPlot({
      width: Math.min(1100, main.clientWidth - 20), height: 200,
      series: [{}, {label: "SLI %", stroke: "#2e7d32", width: 2, points: {show: true}}, {label: "target %", stroke: "#c62828", dash: [6, 4]}],
      axes: [{}, {label: "%"}],
    }, [days.map(d => Date.parse(d.day + "T00:00:00Z") / 1000), days.map(d => d.sli), days.map(() => def.target)], daily);
  }
  const pts = st.burndown || [];
  const xs = pts.map(p => Date.parse(p.time) / 1000), ys = pts.map(p => p.budget_remaining_percent);
  const marks = (st.markers || []).map(m => m.start_time);
  new uPlot({
    width: Math.min(1100, main.clientWidth - 20), height: 280,
    series: [{}, {label: "budget left %", stroke: "#1565c0", width: 2}],
    axes: [{}, {label: "%"}],
    hooks: {draw: [u => {
      // Markers (deploys, incidents) as vertical lines on the time axis.
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#7b1fa2";
      for (const t of marks) {
        const x = u.valToPos(t, "x", true);
        if (x >= u.bbox.left && x <= u.bbox.left + u.bbox.width) {
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        }
      }
      ctx.restore();
    }]},
  }, [xs, ys], chart);
}

// sloHeatmap draws a heatmap of the SLO's eligible events over a numeric
// column its SLI reads (else duration_ms), its bad events in red; dragging a
// region explains it.
async function sloHeatmap(box, def) {
  const cols = await api("/1/columns/" + encodeURIComponent(def.dataset));
  const numeric = cols.filter(c => c.type === "integer" || c.type === "float").map(c => c.key_name);
  const column = numeric.find(n => (def.sli.good || "").includes(n) && n !== "status_code") || numeric.find(n => n === "duration_ms");
  if (!column) {
    box.replaceChildren(el("p", {}, "No numeric column to draw."));
    return;
  }
  const spec = {time_range: 21600, calculations: [{op: "HEATMAP", column}]};
  const ask = events => api("/api/v1/query/" + encodeURIComponent(def.dataset), {method: "POST",
    headers: {"X-Prodex-UI": "1", "Content-Type": "application/json"}, body: JSON.stringify(Object.assign({slo: {name: def.name, events}}, spec))});
  const [all, bad] = await Promise.all([ask("eligible"), ask("bad")]);
  const key = `HEATMAP(${column})`;
  const times = [...new Set((all.series || []).map(p => Date.parse(p.time) / 1000))].sort((a, b) => a - b);
  const chart = el("div", {class: "chart", "data-calc": key});
  box.replaceChildren(chart);
  box.append(heatmap(chart, def.dataset, spec, all, key, times, Math.min(1100, main.clientWidth - 20), bad));
}

// explainPanel ranks the columns of the SLO's dataset by how differently
// they are distributed among its bad events than among its good ones (the
// last hour), each with the value most over-represented among the bad.
async function explainPanel(box, def) {
  let ex;
  try {
    ex = await api("/api/v1/explain/" + encodeURIComponent(def.dataset), {method: "POST",
      headers: {"X-Prodex-UI": "1", "Content-Type": "application/json"},
      body: JSON.stringify({time_range: 3600, selection: {slo: def.name}})});
  } catch (e) {
    box.replaceChildren(el("p", {}, e.status === 400 ? "No bad events in the last hour to explain." : "Explain failed: " + e.message));
    return;
  }
  box.replaceChildren(explainTable(ex, "explain-table"), el("p", {}, el("a", {href: explainLink(def.dataset, {slo: def.name}, 3600), id: "explain-link"}, "Open in the explain view")));
}

// explainTable lists explain's columns, each with the value most
// over-represented in the selection.
function explainTable(ex, id) {
  const table = el("table", {id},
    el("thead", {}, el("tr", {}, ...["Column", "Value", "In the selection", "In the rest", "Score"].map(h => el("th", {scope: "col"}, h)))));
  const tbody = el("tbody");
  for (const col of (ex.columns || []).slice(0, 8)) {
    if (!col.values || !col.values.length) continue;
    let v = col.values[0];
    for (const x of col.values) if (x.selection_share - x.baseline_share > v.selection_share - v.baseline_share) v = x;
    tbody.append(el("tr", {"data-column": col.column},
      el("td", {}, col.column), el("td", {class: "value"}, String(v.value)),
      el("td", {class: "num"}, (100 * v.selection_share).toFixed(1) + " %"),
      el("td", {class: "num"}, (100 * v.baseline_share).toFixed(1) + " %"),
      el("td", {class: "num"}, col.score.toFixed(2))));
  }
  table.append(tbody);
  return table;
}



// ---- Query builder ----

const OPS = [">=", "<=", "!=", "=", ">", "<", "starts-with", "does-not-start-with", "ends-with", "does-not-end-with",
  "contains", "does-not-contain", "not-in", "in", "does-not-exist", "exists"];

// parseCalcs reads "COUNT, P99(duration_ms), HEATMAP(duration_ms)".
function parseCalcs(text) {
  return text.split(",").map(x => x.trim()).filter(Boolean).map(x => {
    const m = x.match(/^([A-Za-z_0-9]+)\s*(?:\((.*)\))?$/);
    if (!m) throw new Error("calculation " + JSON.stringify(x) + ": want OP or OP(column)");
    return m[2] ? {op: m[1].toUpperCase(), column: m[2].trim()} : {op: m[1].toUpperCase()};
  });
}

// parseFilters reads "status_code >= 500; service = checkout; host exists".
function parseFilters(text) {
  return text.split(";").map(x => x.trim()).filter(Boolean).map(x => {
    for (const op of OPS) {
      const i = x.indexOf(" " + op);
      if (i > 0 && (x.length === i + op.length + 1 || x[i + op.length + 1] === " ")) {
        const column = x.slice(0, i).trim(), raw = x.slice(i + op.length + 1).trim();
        if (op === "exists" || op === "does-not-exist") return {column, op};
        const val = v => (v !== "" && !isNaN(Number(v)) ? Number(v) : v);
        const value = op === "in" || op === "not-in" ? raw.split(",").map(v => val(v.trim())) : val(raw);
        return {column, op, value};
      }
    }
    throw new Error("filter " + JSON.stringify(x) + ": want 'column op value'");
  });
}

function calcKey(c) { return c.name || (c.column ? `${c.op}(${c.column})` : c.op); }

// specText turns a spec back into the form's text.
function specForm(spec) {
  return {
    calcs: (spec.calculations || [{op: "COUNT"}]).map(calcKey).join(", "),
    where: (spec.filters || []).map(f => [f.column, f.op, Array.isArray(f.value) ? f.value.join(",") : (f.value === undefined ? "" : f.value)].join(" ").trim()).join("; "),
    by: (spec.breakdowns || []).join(", "),
  };
}

async function queryPage(permalink, params) {
  const datasets = await api("/api/v1/datasets");
  let stored = null;
  if (permalink) stored = await api("/api/v1/queries/" + encodeURIComponent(permalink));
  const f = stored ? specForm(stored.spec) : {calcs: "COUNT, HEATMAP(duration_ms)", where: (params && params.get("where")) || "", by: (params && params.get("by")) || ""};
  const ds = el("select", {id: "q-dataset", "aria-label": "dataset"}, ...datasets.map(d => el("option", {value: d.name}, d.name)));
  if (stored) ds.value = stored.dataset;
  else if (params && params.get("ds")) ds.value = params.get("ds");
  const calcs = el("input", {id: "q-calcs", "aria-label": "calculations", size: "40"}); calcs.value = f.calcs;
  const where = el("input", {id: "q-where", "aria-label": "filters", size: "40", placeholder: "status_code >= 500; service = checkout"}); where.value = f.where;
  const by = el("input", {id: "q-by", "aria-label": "group by", size: "20", placeholder: "service"}); by.value = f.by;
  const range = el("select", {id: "q-range", "aria-label": "time range"},
    ...[["15 min", 900], ["1 hour", 3600], ["6 hours", 21600], ["1 day", 86400], ["7 days", 604800]].map(([l, v]) => el("option", {value: v}, l)));
  range.value = "3600";
  const out = el("div", {id: "q-out"});
  const form = el("form", {class: "query", id: "q-form"},
    el("label", {}, "Dataset ", ds), " ", el("label", {}, "Calculate ", calcs), " ",
    el("label", {}, "Where ", where), " ", el("label", {}, "Group by ", by), " ", el("label", {}, "Last ", range), " ",
    el("button", {type: "submit", id: "q-run"}, "Run"));
  main.replaceChildren(el("h1", {}, "Query"), form, out);
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    let spec;
    try {
      spec = {time_range: Number(range.value), calculations: parseCalcs(calcs.value), filters: parseFilters(where.value),
        breakdowns: by.value.split(",").map(x => x.trim()).filter(Boolean)};
    } catch (e) {
      out.replaceChildren(el("p", {class: "error", role: "alert"}, e.message));
      return;
    }
    runQuery(ds.value, spec, out).catch(e => out.replaceChildren(el("p", {class: "error", role: "alert"}, "Error: " + e.message)));
  });
  if (stored) {
    const ans = await api("/api/v1/queries/" + encodeURIComponent(permalink) + "/run", {method: "POST", headers: {"X-Prodex-UI": "1"}});
    renderAnswer(stored.dataset, stored.spec, ans, out);
  } else if (params && params.get("ds")) {
    form.requestSubmit(); // opened from another view with its question
  }
}

async function runQuery(dataset, spec, out) {
  const ans = await api("/api/v1/query/" + encodeURIComponent(dataset), {method: "POST",
    headers: {"X-Prodex-UI": "1", "Content-Type": "application/json"}, body: JSON.stringify(spec)});
  renderAnswer(dataset, spec, ans, out);
  if (ans.query_id) history.replaceState(null, "", "#/q/" + ans.query_id);
}

// markerHook draws markers as vertical lines on a chart's time axis.
function markerHook(markers) {
  return u => {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#7b1fa2";
    for (const m of markers || []) {
      const x = u.valToPos(m.start_time, "x", true);
      if (x >= u.bbox.left && x <= u.bbox.left + u.bbox.width) {
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      }
    }
    ctx.restore();
  };
}

const PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e"];

function renderAnswer(dataset, spec, ans, out) {
  const calcs = spec.calculations && spec.calculations.length ? spec.calculations : [{op: "COUNT"}];
  const groupOf = d => (spec.breakdowns || []).map(b => String(d[b])).join(" / ") || "all";
  const times = [...new Set((ans.series || []).map(p => Date.parse(p.time) / 1000))].sort((a, b) => a - b);
  const idx = new Map(times.map((t, i) => [t, i]));
  const groups = [...new Set((ans.results || []).map(r => groupOf(r.data)))];
  const width = Math.min(1100, main.clientWidth - 20);
  const blocks = [];
  if (ans.permalink) blocks.push(el("p", {}, "Permalink: ", el("a", {href: "#/q/" + ans.query_id, id: "q-permalink"}, location.origin + "/#/q/" + ans.query_id)));
  for (const c of calcs) {
    const key = calcKey(c);
    const box = el("div", {class: "chart", "data-calc": key});
    blocks.push(el("h2", {}, key), box);
    if (c.op === "HEATMAP") {
      blocks.push(heatmap(box, dataset, spec, ans, key, times, width));
      continue;
    }
    const data = [times];
    for (const g of groups) {
      const ys = new Array(times.length).fill(null);
      for (const p of ans.series || []) if (groupOf(p.data) === g) ys[idx.get(Date.parse(p.time) / 1000)] = p.data[key];
      data.push(ys);
    }
    new uPlot({width, height: 220, series: [{}, ...groups.map((g, i) => ({label: g, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false}))],
      hooks: {draw: [markerHook(ans.markers)]}}, data, box);
  }
  // Results table.
  const cols = [...(spec.breakdowns || []), ...calcs.filter(c => c.op !== "HEATMAP").map(calcKey)];
  const table = el("table", {id: "q-results"}, el("thead", {}, el("tr", {}, ...cols.map(c => el("th", {scope: "col"}, c)))));
  const tbody = el("tbody");
  for (const r of ans.results || []) {
    tbody.append(el("tr", {}, ...cols.map(c => {
      const v = r.data[c];
      return el("td", {class: typeof v === "number" ? "num" : ""}, v === undefined || v === null ? "" : (typeof v === "number" ? +v.toFixed(3) : String(v)));
    })));
  }
  table.append(tbody);
  blocks.push(el("h2", {}, "Results"), table);
  out.replaceChildren(...blocks);
}

// heatmap draws a HEATMAP calculation: time across, value up (log
// spaced buckets), darker where more events fell. Dragging a region runs
// explain on the events in it.
function heatmap(box, dataset, spec, ans, key, times, width, overlay) {
  const column = key.slice("HEATMAP(".length, -1);
  let lo = Infinity, hi = -Infinity, most = 0;
  const step = ans.granularity || 60;
  const cellsOf = a => {
    const out = []; // {t, min, max, count}
    for (const p of (a && a.series) || []) {
      const t = Date.parse(p.time) / 1000;
      for (const b of (p.data[key] && p.data[key].buckets) || []) {
        out.push({t, min: b.min, max: b.max, count: b.count});
        lo = Math.min(lo, b.min); hi = Math.max(hi, b.max); most = Math.max(most, b.count);
      }
    }
    return out;
  };
  const cells = cellsOf(ans), bad = cellsOf(overlay);
  const result = el("div", {class: "explain-result", "aria-live": "polite"}, el("p", {}, "Drag across the heatmap to explain a region."));
  if (!cells.length) return result;
  const u = new uPlot({
    width, height: 260,
    scales: {x: {time: true}, y: {auto: false, range: [Math.max(lo, 1e-3), hi], distr: lo > 0 ? 3 : 1}},
    series: [{}, {label: column, stroke: "transparent", points: {show: false}}],
    cursor: {drag: {x: true, y: true, setScale: false}},
    hooks: {
      draw: [u => {
        const ctx = u.ctx;
        ctx.save();
        ctx.beginPath();
        ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
        ctx.clip();
        const paint = (list, rgb) => {
          for (const c of list) {
            const x0 = u.valToPos(c.t, "x", true), x1 = u.valToPos(c.t + step, "x", true);
            const y0 = u.valToPos(Math.max(c.min, u.scales.y.min), "y", true), y1 = u.valToPos(Math.min(c.max, u.scales.y.max), "y", true);
            ctx.fillStyle = `rgba(${rgb}, ${0.15 + 0.85 * Math.sqrt(c.count / most)})`;
            ctx.fillRect(x0, y1, Math.max(1, x1 - x0), Math.max(1, y0 - y1));
          }
        };
        paint(cells, "21, 101, 192");
        paint(bad, "198, 40, 40"); // an SLO's bad events, over the rest
        ctx.restore();
      }, markerHook(ans.markers)],
      setSelect: [u => {
        const s = u.select;
        if (s.width < 3 || s.height < 3) return;
        const sel = {column, start_time: Math.floor(u.posToVal(s.left, "x")), end_time: Math.ceil(u.posToVal(s.left + s.width, "x")),
          min: u.posToVal(s.top + s.height, "y"), max: u.posToVal(s.top, "y")};
        result.replaceChildren(el("p", {}, `Explaining ${column} from ${sel.min.toFixed(1)} to ${sel.max.toFixed(1)}…`));
        api("/api/v1/explain/" + encodeURIComponent(dataset), {method: "POST", headers: {"X-Prodex-UI": "1", "Content-Type": "application/json"},
          body: JSON.stringify({time_range: spec.time_range, start_time: spec.start_time, end_time: spec.end_time, filters: spec.filters, selection: {heatmap: sel}})})
          .then(ex => result.replaceChildren(el("p", {}, `The selected region against the rest (${column} ${sel.min.toFixed(1)}–${sel.max.toFixed(1)}):`), explainTable(ex, "heatmap-explain"),
            el("p", {}, el("a", {href: explainLink(dataset, {heatmap: sel}, spec.time_range), id: "heatmap-explain-link"}, "Open in the explain view"))))
          .catch(e => result.replaceChildren(el("p", {class: "error", role: "alert"}, "Explain: " + e.message)));
      }],
    },
  }, [times, times.map(() => null)], box);
  box.dataset.ready = "1";
  return result;
}

// ---- Risk register ----

async function riskPage(sloName) {
  const reg = await api("/api/v1/slos/" + encodeURIComponent(sloName) + "/risks");
  const verdict = reg.achievable ? "fit in the budget" : "exceed the budget: the SLO is not achievable with these risks";
  const table = el("table", {id: "risks"}, el("thead", {}, el("tr", {},
    ...["#", "Risk", "Status", "ETTD", "ETTR", "Per year", "Impact", "Bad min / year", "% of budget", "Cumulative %", "Flags"].map(h => el("th", {scope: "col"}, h)))));
  const tbody = el("tbody");
  const whatIf = el("div", {id: "what-if"}, el("p", {}, "Select a risk to try other estimates."));
  for (const e of reg.risks) {
    const flags = [e.threatens_slo ? "threatens the SLO" : "", e.incident_too_costly ? `one incident = ${e.incident_budget_percent.toFixed(0)} % of a window's budget` : ""].filter(Boolean).join("; ");
    const name = el("button", {type: "button", class: "linkish"}, e.risk.name);
    name.addEventListener("click", () => whatIfPanel(whatIf, e));
    tbody.append(el("tr", {"data-risk": e.risk.name},
      el("td", {class: "num"}, e.rank), el("td", {}, name), el("td", {}, e.risk.status), el("td", {}, e.risk.ettd), el("td", {}, e.risk.ettr),
      el("td", {class: "num"}, +e.risk.frequency_per_year.toFixed(3)), el("td", {class: "num"}, e.risk.impact_percent + " %"),
      el("td", {class: "num per-year"}, e.bad_minutes_per_year.toFixed(1)), el("td", {class: "num"}, e.year_budget_percent.toFixed(1) + " %"),
      el("td", {class: "num"}, e.cumulative_percent.toFixed(1) + " %"), el("td", {}, flags)));
  }
  table.append(tbody);
  // The stack: each risk's share of the yearly budget, against the budget.
  const stack = el("div", {class: "chart", id: "stack", role: "img", "aria-label": "Risks stacked against the yearly error budget"});
  main.replaceChildren(el("h1", {}, "Risks to " + reg.slo),
    el("p", {id: "risk-total"}, `Budget ${reg.year_budget_minutes.toFixed(1)} bad minutes a year. All risks together cost ${reg.total_bad_minutes_per_year.toFixed(1)} (${reg.total_budget_percent.toFixed(1)} %) and ${verdict}; headroom ${reg.headroom_minutes.toFixed(1)} minutes.`),
    stack, table, el("h2", {}, "What if"), whatIf);
  if (reg.risks.length) {
    const xs = reg.risks.map((_, i) => i + 1);
    new uPlot({width: Math.min(1100, main.clientWidth - 20), height: 220, scales: {x: {time: false}},
      axes: [{values: (u, ticks) => ticks.map(t => (reg.risks[t - 1] || {risk: {name: ""}}).risk.name)}, {label: "% of yearly budget"}],
      series: [{}, {label: "cumulative % of budget", stroke: "#c62828", width: 2, points: {show: true}}, {label: "budget", stroke: "#2e7d32", dash: [6, 4]}]},
      [xs, reg.risks.map(e => e.cumulative_percent), xs.map(() => 100)], stack);
  }
}

// whatIfPanel tries other estimates for a risk without saving them.
function whatIfPanel(box, e) {
  const mins = d => { const m = String(d).match(/^(\d+(?:\.\d+)?)(m|h|d)$/); return m ? Number(m[1]) * {m: 1, h: 60, d: 1440}[m[2]] : 30; };
  const slider = (label, id, max, value, unit) => {
    const input = el("input", {type: "range", id, min: "0", max: String(max), step: "1", value: String(Math.min(max, Math.round(value)))});
    const shown = el("output", {for: id}, input.value + unit);
    input.addEventListener("input", () => { shown.textContent = input.value + unit; schedule(); });
    return {input, row: el("label", {class: "slider"}, label + " ", input, " ", shown)};
  };
  const ettd = slider("time to detect", "wi-ettd", 240, mins(e.risk.ettd), " min");
  const ettr = slider("time to repair", "wi-ettr", 480, mins(e.risk.ettr), " min");
  const freq = slider("incidents a year", "wi-freq", 52, e.risk.frequency_per_year, "");
  const impact = slider("users hit", "wi-impact", 100, e.risk.impact_percent, " %");
  const result = el("p", {id: "what-if-result", "aria-live": "polite"});
  let timer;
  const schedule = () => { clearTimeout(timer); timer = setTimeout(run, 150); };
  const run = async () => {
    const change = {ettd: ettd.input.value + "m", ettr: ettr.input.value + "m", frequency_per_year: Math.max(0.01, Number(freq.input.value)), impact_percent: Math.max(1, Number(impact.input.value))};
    try {
      const w = await api("/api/v1/risks/" + encodeURIComponent(e.risk.name) + "/what-if", {method: "POST",
        headers: {"X-Prodex-UI": "1", "Content-Type": "application/json"}, body: JSON.stringify(change)});
      result.textContent = `${w.before.bad_minutes_per_year.toFixed(1)} → ${w.after.bad_minutes_per_year.toFixed(1)} bad minutes a year; ` +
        `saves ${w.bad_minutes_saved_per_year.toFixed(1)} (${w.budget_percent_freed.toFixed(1)} % of the budget); rank ${w.before.rank} → ${w.after.rank}. Nothing is saved.`;
    } catch (err) {
      result.textContent = "What-if: " + err.message;
    }
  };
  box.replaceChildren(el("h3", {}, e.risk.name), ettd.row, ettr.row, freq.row, impact.row, result);
  run();
}

// ---- Incidents ----

async function incidentsPage() {
  const incs = await api("/api/v1/incidents");
  const table = el("table", {id: "incidents"}, el("thead", {}, el("tr", {}, ...["Incident", "Severity", "Status", "Detected", "TTD", "TTR", "Commander"].map(h => el("th", {scope: "col"}, h)))));
  const tbody = el("tbody");
  for (const i of incs) {
    tbody.append(el("tr", {"data-incident": i.id}, el("td", {}, el("a", {href: "#/incident/" + encodeURIComponent(i.id)}, i.title)),
      el("td", {}, i.severity), el("td", {}, i.status), el("td", {}, new Date(i.detected_at).toLocaleString()),
      el("td", {}, i.ttd), el("td", {}, i.ttr || "–"), el("td", {}, i.commander || "–")));
  }
  table.append(tbody);
  main.replaceChildren(el("h1", {}, "Incidents"), incs.length ? table : el("p", {}, "No incidents."));
}

async function incidentPage(id) {
  const {incident: i, timeline} = await api("/api/v1/incidents/" + encodeURIComponent(id) + "/timeline");
  const list = el("ol", {id: "timeline"});
  for (const e of timeline) {
    list.append(el("li", {"data-kind": e.kind}, el("time", {}, new Date(e.time).toLocaleString()), " ", el("strong", {}, e.kind), " ", e.author ? "(" + e.author + ") " : "", e.text));
  }
  main.replaceChildren(el("h1", {}, i.title),
    el("p", {}, `${i.severity}, ${i.status}; commander ${i.commander || "–"}, scribe ${i.scribe || "–"}; time to detect ${i.ttd}, to repair ${i.ttr || "not yet"}` + (i.risk ? `; risk ${i.risk}` : "")),
    el("h2", {}, "Timeline"), list);
}

// ---- Explain view ----

// explainLink is the address of the explain view for a selection.
function explainLink(dataset, selection, range) {
  return "#/explain/" + encodeURIComponent(dataset) + "?range=" + (range || 3600) + "&sel=" + encodeURIComponent(JSON.stringify(selection));
}

// explainPage ranks every column by how differently it is distributed in
// the selection than in the rest, with a bar chart of its values' shares in
// each, and one click to filter to a value or group by the column.
async function explainPage(dataset, params) {
  const selection = JSON.parse(params.get("sel") || "{}");
  const range = Number(params.get("range") || 3600);
  const ex = await api("/api/v1/explain/" + encodeURIComponent(dataset), {method: "POST",
    headers: {"X-Prodex-UI": "1", "Content-Type": "application/json"},
    body: JSON.stringify({time_range: range, selection, values: 6})});
  const blocks = [el("h1", {}, "Explain " + dataset),
    el("p", {}, `${ex.selection_count} selected events against ${ex.baseline_count} others (selection ${JSON.stringify(selection)}).`)];
  const width = Math.min(1100, main.clientWidth - 20);
  const charts = [];
  for (const col of (ex.columns || []).slice(0, 12)) {
    const values = (col.values || []).slice(0, 6);
    if (!values.length) continue;
    const top = values.reduce((a, x) => (x.selection_share - x.baseline_share > a.selection_share - a.baseline_share ? x : a), values[0]);
    // A pooled value or a numeric range is not one value to filter to.
    const plain = top.value !== "(other values)" && !/ – /.test(String(top.value));
    const filter = plain ? el("a", {href: queryLink(dataset, `${col.column} = ${top.value}`, ""), class: "action"}, `filter to ${col.column} = ${top.value}`) : "";
    const group = el("a", {href: queryLink(dataset, "", col.column), class: "action"}, `group by ${col.column}`);
    const box = el("div", {class: "chart", "data-column": col.column});
    blocks.push(el("h2", {}, `${col.column} `, el("small", {}, `score ${col.score.toFixed(2)}`)), el("p", {}, filter, " · ", group), box);
    charts.push([box, values]);
  }
  main.replaceChildren(...blocks);
  const bars = uPlot.paths.bars;
  for (const [box, values] of charts) {
    const xs = values.map((_, i) => i);
    new uPlot({width, height: 160, scales: {x: {time: false, range: [-0.5, values.length - 0.5]}, y: {range: [0, 1]}},
      axes: [{values: (u, ticks) => ticks.map(t => (values[t] ? String(values[t].value).slice(0, 24) : ""))}, {values: (u, ticks) => ticks.map(t => Math.round(t * 100) + " %")}],
      series: [{}, {label: "in the selection", fill: "#c62828aa", stroke: "#c62828", paths: bars({size: [0.35], align: -1})},
        {label: "in the rest", fill: "#1565c0aa", stroke: "#1565c0", paths: bars({size: [0.35], align: 1})}]},
      [xs, values.map(v => v.selection_share), values.map(v => v.baseline_share)], box);
  }
}

// queryLink opens the query builder on a dataset with filters and a
// group-by filled in.
function queryLink(dataset, where, by) {
  return "#/query?ds=" + encodeURIComponent(dataset) + "&where=" + encodeURIComponent(where) + "&by=" + encodeURIComponent(by);
}

async function route() {
  const h = location.hash || "#/";
  try {
    const me = await api("/1/auth");
    document.getElementById("who").textContent = (me.user || me.name || "key " + me.id) + " · " + me.scope;
    document.getElementById("signout").hidden = false;
    const m = h.match(/^#\/slo\/(.+)$/), q = h.match(/^#\/q\/([0-9a-f]+)$/);
    const rk = h.match(/^#\/risks\/(.+)$/), inc = h.match(/^#\/incident\/(.+)$/);
    const xp = h.match(/^#\/explain\/([^?]+)\?(.*)$/);
    if (xp) await explainPage(decodeURIComponent(xp[1]), new URLSearchParams(xp[2]));
    else if (rk) await riskPage(decodeURIComponent(rk[1]));
    else if (inc) await incidentPage(decodeURIComponent(inc[1]));
    else if (h.startsWith("#/incidents")) await incidentsPage();
    else if (m) await sloPage(decodeURIComponent(m[1]));
    else if (q) await queryPage(q[1]);
    else if (h.startsWith("#/query")) await queryPage(null, new URLSearchParams(h.split("?")[1] || ""));
    else await overview();
    main.focus();
  } catch (e) {
    if (e.status === 401) signIn();
    else main.replaceChildren(el("p", {class: "error", role: "alert"}, "Error: " + e.message));
  }
}

window.addEventListener("hashchange", route);
route();
