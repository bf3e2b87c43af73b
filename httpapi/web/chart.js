// PromoChart draws the dashboard's charts as SVG, by hand: no library.
"use strict";
(function (global) {
  const NS = "http://www.w3.org/2000/svg";
  const DAY_MS = 86400000;

  function svgEl(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function isoDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function dayMs(iso) { return Date.parse(iso + "T00:00:00Z"); }

  // fillDays returns one entry per UTC day from the first to the last day of
  // series (days with no activity are zero), at most maxDays (the latest).
  function fillDays(series, maxDays) {
    if (!series.length) return [];
    const byDate = new Map(series.map((d) => [d.date, d]));
    const dates = series.map((d) => dayMs(d.date)).sort((a, b) => a - b);
    let first = dates[0];
    const last = dates[dates.length - 1];
    first = Math.max(first, last - (maxDays - 1) * DAY_MS);
    const out = [];
    for (let t = first; t <= last; t += DAY_MS) {
      const d = byDate.get(isoDay(t)) || {};
      out.push({ date: isoDay(t), assigned: d.assigned || 0, redeemed: d.redeemed || 0 });
    }
    return out;
  }

  // niceMax rounds up to 1, 2 or 5 times a power of ten, for the y axis.
  function niceMax(v) {
    if (v <= 5) return 5;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // daily draws grouped bars of assignments and redemptions per day into
  // container, as an SVG of class "daily-chart". Each bar is a <rect> of
  // class "bar assigned" or "bar redeemed" with data-date and data-value,
  // and a <title> for the tooltip.
  function daily(container, series, opts) {
    const maxDays = (opts && opts.maxDays) || 60;
    const days = fillDays(series || [], maxDays);
    container.replaceChildren();
    if (!days.length) {
      const p = document.createElement("p");
      p.className = "muted empty-chart";
      p.textContent = "No assignments or redemptions yet.";
      container.append(p);
      return;
    }
    const W = 860, H = 280, L = 44, R = 12, T = 14, B = 34;
    const plotW = W - L - R, plotH = H - T - B;
    const top = niceMax(Math.max(1, ...days.map((d) => Math.max(d.assigned, d.redeemed))));
    const band = plotW / days.length;
    const barW = Math.max(1, Math.min(28, band * 0.38));
    const y = (v) => T + plotH - (v / top) * plotH;

    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "daily-chart", role: "img",
      "aria-label": `Assignments and redemptions on ${days.length} days` });
    svg.append(svgEl("title", {}, "Assignments and redemptions by day"));

    const grid = svgEl("g", { class: "grid" });
    for (let i = 0; i <= 5; i++) {
      const v = (top / 5) * i;
      const yy = y(v);
      grid.append(svgEl("line", { x1: L, x2: W - R, y1: yy, y2: yy }));
      grid.append(svgEl("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, Number.isInteger(v) ? v : v.toFixed(1)));
    }
    svg.append(grid);

    const bars = svgEl("g", { class: "bars" });
    const labels = svgEl("g", { class: "xlabels" });
    const every = Math.ceil(days.length / 10);
    days.forEach((d, i) => {
      const cx = L + band * i + band / 2;
      for (const [k, dx] of [["assigned", -barW], ["redeemed", 0]]) {
        const v = d[k];
        const h = Math.max(v > 0 ? 1.5 : 0, T + plotH - y(v));
        const r = svgEl("rect", { class: "bar " + k, x: cx + dx, y: T + plotH - h, width: barW, height: h,
          "data-date": d.date, "data-value": v });
        r.append(svgEl("title", {}, `${d.date}: ${v} ${k}`));
        bars.append(r);
      }
      if (i % every === 0 || i === days.length - 1) {
        labels.append(svgEl("text", { x: cx, y: H - B + 18, "text-anchor": "middle" }, d.date.slice(5)));
      }
    });
    svg.append(bars, labels);
    svg.append(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: T + plotH, y2: T + plotH }));
    container.append(svg);
    if (series.length && days.length === maxDays && dayMs(days[0].date) > Math.min(...series.map((d) => dayMs(d.date)))) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = `The last ${maxDays} days.`;
      container.append(p);
    }
  }

  global.PromoChart = Object.freeze({ daily, fillDays });
})(globalThis);
