// cairn's UI behaviour on top of server-rendered pages: everything here is optional
// (the pages read and work without it). Hover values, drag-to-zoom and series
// toggles on charts, auto-submitting selects, select-all and collapsing child runs.
"use strict";

// MLflow's UI links (`/#/experiments/1/runs/abc`, printed by `mlflow.start_run`) keep
// their route after `#`, which the server never sees: move it into the path, where
// the server redirects it to the matching page.
if (location.pathname === "/" && location.hash.startsWith("#/")) {
  location.replace(location.hash.slice(1));
}

document.addEventListener("change", (e) => {
  const el = e.target;
  if (el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
  if (el.matches("[data-select-all]")) {
    const table = el.closest("table");
    table.querySelectorAll("tbody input[type=checkbox][name=run]").forEach((b) => {
      if (!b.closest("tr").hidden) b.checked = el.checked;
    });
  }
});

document.addEventListener("input", (e) => {
  const el = e.target;
  if (el.type === "range") {
    const out = el.form && el.form.querySelector(`output[for="${el.id}"]`);
    if (out) out.value = el.value;
  }
});

document.addEventListener("click", (e) => {
  const toggle = e.target.closest("[data-toggle-children]");
  if (toggle) {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    setChildren(toggle.closest("tbody"), toggle.dataset.toggleChildren, open);
    return;
  }
  const legend = e.target.closest(".legend button[data-series]");
  if (legend) {
    const on = legend.getAttribute("aria-pressed") !== "true";
    legend.setAttribute("aria-pressed", String(on));
    const svg = legend.closest("figure").querySelector("svg.plot");
    const g = svg.querySelector(`g.series[data-i="${legend.dataset.series}"]`);
    if (g) g.classList.toggle("off", !on);
  }
});

// Hides or shows a run's children, and theirs.
function setChildren(tbody, parent, open) {
  tbody.querySelectorAll(`tr[data-child-of="${CSS.escape(parent)}"]`).forEach((tr) => {
    tr.hidden = !open;
    setChildren(tbody, tr.dataset.run, open && !tr.querySelector('[aria-expanded="false"]'));
  });
}

function fmt(v) {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(4);
  return String(+v.toPrecision(6));
}

// The SVG point under a mouse event, in the chart's own coordinates.
function svgPoint(svg, e) {
  const p = svg.createSVGPoint();
  p.x = e.clientX;
  p.y = e.clientY;
  return p.matrixTransform(svg.getScreenCTM().inverse());
}

function setupChart(fig) {
  const svg = fig.querySelector("svg.plot");
  const script = fig.querySelector("script.chart-data");
  if (!svg || !script || svg.dataset.x0 === undefined) return;
  const data = JSON.parse(script.textContent);
  const d = svg.dataset;
  const [x0, x1, px0, px1] = [+d.x0, +d.x1, +d.px0, +d.px1];
  const toX = (px) => x0 + ((px - px0) / (px1 - px0)) * (x1 - x0);
  const tip = fig.querySelector(".tip");
  const cursor = svg.querySelector(".cursor");
  let dragFrom = null;
  let band = null;

  svg.addEventListener("mousemove", (e) => {
    const p = svgPoint(svg, e);
    if (p.x < px0 || p.x > px1) {
      tip.hidden = true;
      cursor.style.visibility = "hidden";
      return;
    }
    const x = toX(p.x);
    if (dragFrom !== null && band) {
      band.setAttribute("x", Math.min(dragFrom, p.x));
      band.setAttribute("width", Math.abs(p.x - dragFrom));
    }
    const rows = [];
    let nearestX = null;
    data.series.forEach((s, i) => {
      const g = svg.querySelector(`g.series[data-i="${i}"]`);
      if (!s.pts.length || (g && g.classList.contains("off"))) return;
      let lo = 0, hi = s.pts.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (s.pts[mid][0] < x) lo = mid; else hi = mid;
      }
      const best = Math.abs(s.pts[lo][0] - x) <= Math.abs(s.pts[hi][0] - x) ? s.pts[lo] : s.pts[hi];
      if (nearestX === null || Math.abs(best[0] - x) < Math.abs(nearestX - x)) nearestX = best[0];
      rows.push([s.label, best, i]);
    });
    if (!rows.length) return;
    rows.sort((a, b) => b[1][1] - a[1][1]);
    const shown = rows.slice(0, 12);
    tip.replaceChildren();
    const head = document.createElement("b");
    head.textContent = `x = ${fmt(nearestX)}`;
    tip.append(head);
    shown.forEach(([label, pt]) => {
      const line = document.createElement("div");
      line.textContent = `${label}: ${fmt(pt[1])}` + (pt[0] !== nearestX ? ` (at ${fmt(pt[0])})` : "");
      tip.append(line);
    });
    if (rows.length > shown.length) {
      const more = document.createElement("div");
      more.textContent = `… and ${rows.length - shown.length} more`;
      tip.append(more);
    }
    const cx = px0 + ((nearestX - x0) / (x1 - x0)) * (px1 - px0);
    cursor.setAttribute("x1", cx);
    cursor.setAttribute("x2", cx);
    cursor.style.visibility = "visible";
    const r = fig.getBoundingClientRect();
    tip.hidden = false;
    const left = e.clientX - r.left + 14;
    tip.style.left = `${Math.min(left, r.width - tip.offsetWidth - 4)}px`;
    tip.style.top = `${e.clientY - r.top + 14}px`;
  });
  svg.addEventListener("mouseleave", () => {
    tip.hidden = true;
    cursor.style.visibility = "hidden";
  });

  // Drag across the plot to zoom into that x range: the range goes into the URL,
  // so a zoomed chart is a link like any other view. Double-click resets.
  svg.addEventListener("mousedown", (e) => {
    const p = svgPoint(svg, e);
    if (p.x < px0 || p.x > px1) return;
    dragFrom = p.x;
    band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    band.setAttribute("class", "zoom");
    band.setAttribute("y", svg.querySelector(".cursor").getAttribute("y1"));
    band.setAttribute("height", svg.querySelector(".cursor").getAttribute("y2") - band.getAttribute("y"));
    band.setAttribute("x", p.x);
    band.setAttribute("width", 0);
    svg.append(band);
  });
  window.addEventListener("mouseup", (e) => {
    if (dragFrom === null) return;
    const p = svgPoint(svg, e);
    const [a, b] = [toX(Math.min(dragFrom, p.x)), toX(Math.max(dragFrom, p.x))];
    const wide = Math.abs(p.x - dragFrom) > 6;
    dragFrom = null;
    if (band) band.remove();
    band = null;
    if (!wide) return;
    const url = new URL(location.href);
    url.searchParams.set("xmin", String(+a.toPrecision(8)));
    url.searchParams.set("xmax", String(+b.toPrecision(8)));
    url.hash = fig.id;
    location.assign(url);
  });
  svg.addEventListener("dblclick", () => {
    const url = new URL(location.href);
    if (!url.searchParams.has("xmin")) return;
    url.searchParams.delete("xmin");
    url.searchParams.delete("xmax");
    location.assign(url);
  });
}

document.querySelectorAll("figure.chart").forEach(setupChart);

// A running job run's page follows the run: step states and log lines from the
// REST API, polled; the page reloads once when the run ends (outputs, MLflow runs).
function followJobRun(root) {
  const id = root.dataset.jobRun;
  const logs = document.getElementById("job-logs");
  let after = Number((logs && logs.dataset.after) || 0);
  const api = "/api/2.0/cairn/jobs/runs/";
  const setState = (el, state) => {
    el.dataset.state = state;
    el.querySelectorAll(".state").forEach((s) => { s.textContent = state; });
  };
  async function tick() {
    try {
      const r = await fetch(api + "get?run_id=" + encodeURIComponent(id)).then((x) => x.json());
      for (const s of r.steps || []) {
        document.querySelectorAll("[data-step]").forEach((el) => {
          if (el.dataset.step === s.step_name) setState(el, s.state);
        });
      }
      const head = document.getElementById("run-state");
      if (head && r.run) { head.dataset.state = r.run.state; head.textContent = r.run.state; }
      const l = await fetch(api + "logs?run_id=" + encodeURIComponent(id) + "&after=" + after).then((x) => x.json());
      for (const line of l.lines || []) {
        after = line.id;
        if (logs) logs.append(document.createTextNode("[" + line.step_name + "] " + line.line + "\n"));
      }
      if (r.run && ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].includes(r.run.state)) {
        setTimeout(() => location.reload(), 300);
        return;
      }
    } catch (e) {
      // The server may be restarting; try again.
    }
    setTimeout(tick, 500);
  }
  setTimeout(tick, 500);
}

document.querySelectorAll("[data-job-run][data-final=false]").forEach(followJobRun);
