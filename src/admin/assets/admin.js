// shopd admin: the overview's live tiles, tracker and charts. Other pages
// need no script. No inline code anywhere (the pages' CSP forbids it); the
// charts are SVG built with DOM calls.
"use strict";
(function () {
  const charts = document.getElementById("charts");
  if (!charts) return;
  const url = charts.dataset.live;
  const HOUR = 3600 * 1000;
  const NS = "http://www.w3.org/2000/svg";
  let samples = [];
  let last = 0;

  const num = (v, d) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
  const bytes = (b) => (b >= 1 << 30 ? num(b / (1 << 30), 2) + " GiB" : num(b / (1 << 20), 1) + " MiB");
  const secs = (s) => (s < 120 ? num(s, 1) + " s" : s < 7200 ? num(s / 60, 1) + " min" : num(s / 3600, 1) + " h");
  const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
  const cacheAll = (s) => {
    const v = s.cacheHitPct.map((k) => k[1]).filter((x) => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };

  // [title, unit, [[label, sample => value], ...]]
  const defs = [
    ["Requests/s", "", [["req/s", (s) => s.requestsPerSec]]],
    ["Latency", "ms", [["p50", (s) => s.p50Ms], ["p95", (s) => s.p95Ms], ["p99", (s) => s.p99Ms]]],
    ["Error rate", "%", [["5xx", (s) => s.errorPct]]],
    ["Cache hit rate", "%", null],
    ["Storage lookups per request", "", [["lookups", (s) => s.lookupsPerRequest]]],
    ["Search index lag", "s", [["lag", (s) => s.indexLagSecs]]],
    ["Job queue", "", [["due", (s) => s.jobsDue], ["oldest (s)", (s) => s.oldestJobSecs]]],
    ["Replication lag", "s", null],
    ["Memory", "MiB", [["resident", (s) => s.memoryBytes / (1 << 20)]]],
    ["Connections", "", [["open", (s) => s.connections]]],
  ];

  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // Series for charts whose series come from the data (per kind, per follower).
  function seriesOf(i) {
    if (defs[i][2]) return defs[i][2];
    const key = i === 3 ? "cacheHitPct" : "replicationLagSecs";
    const names = new Set();
    samples.forEach((s) => s[key].forEach((p) => names.add(p[0])));
    return [...names].map((n) => [n, (s) => { const p = s[key].find((x) => x[0] === n); return p ? p[1] : null; }]);
  }

  const figures = defs.map(([title, unit]) => {
    const fig = document.createElement("figure");
    fig.className = "chart";
    const cap = document.createElement("figcaption");
    const name = document.createElement("span");
    name.textContent = title + (unit ? " (" + unit + ")" : "");
    const legend = document.createElement("span");
    legend.className = "legend";
    cap.append(name, legend);
    const svg = el("svg", { viewBox: "0 0 300 120", preserveAspectRatio: "none", role: "img", "aria-label": title });
    fig.append(cap, svg);
    charts.appendChild(fig);
    return { svg, legend };
  });

  function draw() {
    const now = samples.length ? samples[samples.length - 1].t : Date.now();
    // The last hour, or less while there is less: at least five minutes.
    const span = Math.min(HOUR, Math.max(5 * 60 * 1000, samples.length ? now - samples[0].t : 0));
    const t0 = now - span;
    defs.forEach((d, i) => {
      const { svg, legend } = figures[i];
      const series = seriesOf(i);
      let max = 0;
      const pts = series.map(([, get]) => samples.map((s) => [s.t, get(s)]).filter((p) => p[1] !== null && p[1] >= 0));
      pts.forEach((p) => p.forEach(([, v]) => { if (v > max) max = v; }));
      max = max > 0 ? max * 1.1 : 1;
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      for (let g = 1; g <= 3; g++) el("line", { class: "grid", x1: 0, x2: 300, y1: g * 30, y2: g * 30 }, svg);
      el("text", { class: "axis", x: 2, y: 10 }, svg).textContent = num(max, max < 10 ? 2 : 0);
      pts.forEach((p, k) => {
        const line = p.map(([t, v]) => num(((t - t0) / span) * 300, 1) + "," + num(120 - (v / max) * 118, 1)).join(" ");
        el("polyline", { class: "s" + (k % 6), points: line, stroke: "currentColor" }, svg);
      });
      legend.textContent = "";
      series.forEach(([label, get], k) => {
        const item = document.createElement("span");
        item.className = "s" + (k % 6);
        const latest = samples.length ? get(samples[samples.length - 1]) : null;
        item.textContent = label + " " + num(latest, 2);
        legend.appendChild(item);
      });
    });
  }

  function tiles(o) {
    set("total-requests", String(o.totals.requests));
    set("uptime", secs(o.uptimeSecs));
    const s = samples[samples.length - 1];
    if (!s) return;
    set("t-rps", num(s.requestsPerSec, 1));
    set("t-lat", num(s.p50Ms, 2) + " / " + num(s.p95Ms, 2) + " / " + num(s.p99Ms, 2) + " ms");
    set("t-err", num(s.errorPct, 2) + " %");
    const c = cacheAll(s);
    set("t-cache", c === null ? "–" : num(c, 1) + " %");
    set("t-lookups", num(s.lookupsPerRequest, 2));
    set("t-index", secs(s.indexLagSecs));
    set("t-jobs", s.jobsDue + " / " + secs(s.oldestJobSecs));
    set("t-repl", s.replicationLagSecs.length ? s.replicationLagSecs.map((p) => p[0] + ": " + (p[1] < 0 ? "not caught up" : secs(p[1]))).join(", ") : "none");
    set("t-mem", bytes(s.memoryBytes));
    set("t-conns", String(s.connections));
  }

  function tracker(rows) {
    const body = document.querySelector("#tracker tbody");
    if (!body) return;
    body.textContent = "";
    rows.forEach((r) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = r.metric;
      const v = document.createElement("td");
      v.textContent = r.value;
      const t = document.createElement("td");
      t.textContent = r.target;
      const m = document.createElement("td");
      m.className = r.met === null ? "unjudged" : r.met ? "met" : "unmet";
      m.textContent = r.met === null ? "–" : r.met ? "met" : "not met";
      tr.append(th, v, t, m);
      body.appendChild(tr);
    });
  }

  async function poll() {
    try {
      const res = await fetch(url + "?since=" + last, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (res.redirected || !res.ok) {
        if (res.redirected || res.status === 401 || res.status === 403) { window.location.assign("/admin/login?next=/admin"); return; }
      } else {
        const o = await res.json();
        if (o.samples.length) {
          samples = samples.concat(o.samples);
          last = samples[samples.length - 1].t;
          const cut = last - HOUR;
          while (samples.length && samples[0].t < cut) samples.shift();
        }
        tiles(o);
        tracker(o.tracker);
        draw();
      }
    } catch (e) {
      // A missed poll (server restarting) is retried on the next tick.
    }
    setTimeout(poll, 2000);
  }
  poll();
})();
