// The wall screen (the room's television): figures and charts over /ws/screen, nothing to press.
"use strict";

(() => {
  const { api, connect, now, duration, percent } = Hotline;
  const $ = (id) => document.getElementById(id);
  let screen = null;

  function draw() {
    if (!screen) return;
    const today = screen.today || {};
    $("s-waiting").textContent = String(screen.waiting);
    $("s-offered").textContent = String(today.offered ?? 0);
    $("s-answered").textContent = String(today.answered ?? 0);
    $("s-sl").textContent = percent(today.service_level);
    $("s-sl").dataset.low = today.service_level != null && today.service_level < screen.target ? "1" : "0";
    $("s-abandoned").textContent = String(today.abandoned ?? 0);
    $("s-free").textContent = String(screen.agents.filter((a) => a.state === "available").length);
    const trend = screen.trend || {};
    HotlineCharts.offered($("chart-offered"), trend);
    HotlineCharts.serviceLevel($("chart-sl"), trend, screen.target);
    HotlineCharts.waiting($("chart-waiting"), trend, screen.now);
    HotlineCharts.agents($("chart-agents"), today.agents, Object.fromEntries(screen.agents.map((a) => [a.agent_id, a.name])));
    tick();
  }

  function tick() {
    $("s-clock").textContent = new Date(now() * 1000).toLocaleTimeString("zh-CN", { hour12: false });
    if (!screen) return;
    const longest = screen.longest_since == null ? 0 : now() - screen.longest_since;
    $("s-longest").textContent = duration(longest);
    $("s-longest").dataset.alert = longest > screen.long_wait_alert ? "1" : "0";
  }
  setInterval(tick, 500);
  // Every few minutes the same figures over HTTP: they keep the session in use (a television runs for
  // days; the socket alone does not), and a lapsed session shows the login form instead of stale figures.
  setInterval(() => api("GET", "/api/wallscreen").then((message) => { screen = message; draw(); }).catch(() => {}), 300_000);
  document.addEventListener("hotline:lang", draw);

  connect((message) => {
    if (message.type === "wallscreen") { screen = message; draw(); }
  }, (up) => {
    const node = $("live-status");
    node.dataset.i18n = up ? "live.on" : "live.off";
    node.textContent = Hotline.t(node.dataset.i18n);
    node.dataset.up = up ? "1" : "0";
  }, "/ws/screen");
})();
