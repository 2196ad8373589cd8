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
  const explain = el("div", {id: "explain"}, el("p", {}, "Comparing the SLO's bad events of the last hour with its good ones…"));
  const alerts = el("ul", {id: "alerts"});
  for (const a of await api("/api/v1/alerts?slo=" + encodeURIComponent(name))) {
    alerts.append(el("li", {}, `${a.severity} ${a.state}: ${new Date(a.started_at).toLocaleString()} — ${a.detail}`));
  }
  main.replaceChildren(
    el("h1", {}, def.name),
    el("p", {class: "description"}, def.description || ""),
    el("div", {class: "cards"},
      card("SLI over " + st.window, pct(st.sli), "sli"),
      card("target", def.target + " %"),
      card("error budget left", pct(st.budget_remaining_percent, 2), "budget"),
      card("runs out in", duration(st.exhaustion_seconds), "exhaustion"),
      card("burn rate 1h", (st.burn_rate["1h"] || 0).toFixed(2), "burn")),
    el("h2", {}, "Error budget burndown"), chart,
    el("h2", {}, "Daily compliance"), daily,
    el("h2", {}, "What sets the bad events apart"), explain,
    el("h2", {}, "Alerts"), alerts.childElementCount ? alerts : el("p", {}, "No alerts."));
  explainPanel(explain, def);
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
  const table = el("table", {id: "explain-table"},
    el("thead", {}, el("tr", {}, ...["Column", "Value", "Among bad events", "Among good events", "Score"].map(h => el("th", {scope: "col"}, h)))));
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
  box.replaceChildren(table);
}

async function route() {
  const h = location.hash || "#/";
  try {
    const me = await api("/1/auth");
    document.getElementById("who").textContent = (me.user || me.name || "key " + me.id) + " · " + me.scope;
    const m = h.match(/^#\/slo\/(.+)$/);
    if (m) await sloPage(decodeURIComponent(m[1]));
    else await overview();
    main.focus();
  } catch (e) {
    if (e.status === 401) signIn();
    else main.replaceChildren(el("p", {class: "error", role: "alert"}, "Error: " + e.message));
  }
}

window.addEventListener("hashchange", route);
route();
