// The day at a glance: the wallboard's and wall screen's charts, drawn as SVG with DOM calls from the
// live message's "trend" and "today" (no markup from data; every mark carries its figure in data-*
// attributes and a <title>, which the browser tests read back against the JSON).
"use strict";

const HotlineCharts = (() => {
  const { t, percent } = Hotline;
  const NS = "http://www.w3.org/2000/svg";
  const W = 960, H = 220, PAD = { l: 56, r: 12, t: 12, b: 30 };

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const title = (text) => svg("title", {}, text);
  const even = (values) => Math.max(2, Math.ceil(Math.max(...values) / 2) * 2);  // a count axis with whole ticks

  function frame(host, label) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label });
    host.replaceChildren(root);
    return root;
  }

  function axis(root, max, format) {
    const y = (v) => H - PAD.b - (max ? (v / max) * (H - PAD.t - PAD.b) : 0);
    for (const v of [0, max / 2, max]) {
      root.append(svg("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: "grid" }),
        svg("text", { x: PAD.l - 4, y: y(v) + 4, class: "tick", "text-anchor": "end" }, format(v)));
    }
    return y;
  }

  // Calls offered per quarter hour: today's bars, last week's same weekday as a line.
  function offered(host, trend) {
    const root = frame(host, t("wb.chart_offered"));
    const today = trend.today || [], last = trend.last_week || [];
    const max = even([...today.map((b) => b.offered), ...last.map((b) => b.offered)]);
    const y = axis(root, max, (v) => String(Math.round(v)));
    const step = (W - PAD.l - PAD.r) / 96;
    const x = (i) => PAD.l + i * step;
    today.forEach((b, i) => {
      if (i > trend.now_bin) return;
      root.append(svg("rect", { x: x(i) + 1, y: y(b.offered), width: step - 2, height: H - PAD.b - y(b.offered),
        class: "bar today", dataset: { bin: i, start: b.start, offered: b.offered } },
      title(`${b.start} ${t("wb.today")} ${b.offered} · ${t("wb.last_week")} ${last[i] ? last[i].offered : 0}`)));
    });
    root.append(svg("polyline", { class: "line last-week", points: last.map((b, i) => `${x(i) + step / 2},${y(b.offered)}`).join(" "),
      dataset: { series: "last_week", values: last.map((b) => b.offered).join(",") } }, title(`${t("wb.last_week")} ${trend.last_week_day}`)));
    for (let h = 0; h < 24; h += 3) root.append(svg("text", { x: x(h * 4), y: H - 8, class: "tick" }, `${String(h).padStart(2, "0")}:00`));
  }

  // Service level per quarter hour (answered within two rings / offered to an operator), today and last week.
  function serviceLevel(host, trend, target) {
    const root = frame(host, t("wb.chart_sl"));
    const y = axis(root, 1, (v) => `${Math.round(v * 100)}%`);
    const step = (W - PAD.l - PAD.r) / 96;
    const x = (i) => PAD.l + i * step + step / 2;
    if (typeof target === "number") root.append(svg("line", { x1: PAD.l, x2: W - PAD.r, y1: y(target), y2: y(target), class: "target" }));
    const path = (bins, upTo) => bins.map((b, i) => [b, i]).filter(([b, i]) => b.service_level !== null && i <= upTo);
    const last = path(trend.last_week || [], 95);
    root.append(svg("polyline", { class: "line last-week", points: last.map(([b, i]) => `${x(i)},${y(b.service_level)}`).join(" ") }));
    const today = path(trend.today || [], trend.now_bin);
    root.append(svg("polyline", { class: "line today", points: today.map(([b, i]) => `${x(i)},${y(b.service_level)}`).join(" ") }));
    for (const [b, i] of today) {
      root.append(svg("circle", { cx: x(i), cy: y(b.service_level), r: 3, class: "point today",
        dataset: { bin: i, start: b.start, sl: b.service_level, within: b.within_two_rings, offeredToAgent: b.offered_to_agent } },
      title(`${b.start} ${percent(b.service_level)} (${b.within_two_rings}/${b.offered_to_agent})`)));
    }
    for (let h = 0; h < 24; h += 3) root.append(svg("text", { x: PAD.l + h * 4 * step, y: H - 8, class: "tick" }, `${String(h).padStart(2, "0")}:00`));
  }

  // Callers on hold over the last hour (the controller's samples; empty after a restart).
  function waiting(host, trend, now) {
    const root = frame(host, t("wb.chart_waiting"));
    const samples = trend.waiting || [];
    const max = even(samples.map((s) => s[1]));
    const y = axis(root, max, (v) => String(Math.round(v)));
    const x = (at) => PAD.l + (1 - Math.min(3600, Math.max(0, now - at)) / 3600) * (W - PAD.l - PAD.r);
    root.append(svg("polyline", { class: "line today", points: samples.map((s) => `${x(s[0])},${y(s[1])}`).join(" "),
      dataset: { series: "waiting", values: samples.map((s) => s[1]).join(",") } }));
    const lastSample = samples[samples.length - 1];
    if (lastSample) root.append(svg("circle", { cx: x(lastSample[0]), cy: y(lastSample[1]), r: 4, class: "point today",
      dataset: { waiting: lastSample[1] } }, title(`${t("wb.waiting")} ${lastSample[1]}`)));
    for (const m of [60, 45, 30, 15, 0]) root.append(svg("text", { x: x(now - m * 60), y: H - 8, class: "tick", "text-anchor": "middle" }, m ? `-${m}′` : t("wb.now")));
  }

  // Each operator's calls answered today (bar) and two-ring rate (text), every ring of their phone counting.
  function agents(host, figures, names) {
    const rows = figures || [];
    const rowH = 34, height = Math.max(rowH, rows.length * rowH) + 4;
    const root = svg("svg", { viewBox: `0 0 ${W} ${height}`, class: "chart agents", role: "img", "aria-label": t("wb.chart_agents") });
    host.replaceChildren(root);
    const max = Math.max(1, ...rows.map((a) => a.offered));
    const left = 200, right = 190, span = W - left - right;
    rows.forEach((a, i) => {
      const top = i * rowH + 2;
      root.append(svg("g", { class: "agent", dataset: { agent: a.agent_id, answered: a.answered, offered: a.offered, sl: a.service_level ?? "" } },
        title(`${a.agent_id} ${names[a.agent_id] || ""}: ${a.answered}/${a.offered} · ${percent(a.service_level)}`),
        svg("text", { x: 4, y: top + 23, class: "name" }, `${a.agent_id} ${names[a.agent_id] || ""}`),
        svg("rect", { x: left, y: top + 3, width: (a.offered / max) * span, height: rowH - 8, class: "bar offered" }),
        svg("rect", { x: left, y: top + 3, width: (a.answered / max) * span, height: rowH - 8, class: "bar today" }),
        svg("text", { x: W - right + 8, y: top + 23, class: "value" }, `${a.answered}/${a.offered} · ${percent(a.service_level)}`)));
    });
  }

  return { offered, serviceLevel, waiting, agents };
})();
