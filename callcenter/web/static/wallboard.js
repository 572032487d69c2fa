// The supervisor's wallboard: live queue and agents over the websocket, waits ticking locally.
"use strict";

(() => {
  const { t, api, connect, now, el, duration, percent, replace, localTime } = Hotline;
  const $ = (id) => document.getElementById(id);
  let board = null;
  let spies = {}; // agent id -> the live listen/whisper/barge session on their call (GET /api/supervision/sessions)

  function draw() {
    if (!board) return;
    const today = board.today || {};
    // Callers on hold, and beside them the kept places (pressed 1, hung up) waiting for their callback.
    const waiting = board.calls.filter((c) => !c.callback && (c.state === "waiting" || c.state === "offered"));
    $("t-waiting").textContent = String(waiting.length);
    $("t-callbacks").textContent = String(board.calls.filter((c) => c.callback && c.state === "waiting").length);
    $("t-offered").textContent = String(today.offered ?? 0);
    $("t-answered").textContent = String(today.answered ?? 0);
    $("t-sl").textContent = percent(today.service_level);
    $("t-sl").dataset.low = today.service_level !== null && today.service_level !== undefined && today.service_level < board.target ? "1" : "0";
    $("t-sl-detail").textContent = today.offered_to_agent ? `${today.within_two_rings}/${today.offered_to_agent}` : "";
    $("t-avg-wait").textContent = today.avg_wait === null || today.avg_wait === undefined ? "–" : `${today.avg_wait}s`;
    $("t-max-wait").textContent = today.max_wait === null || today.max_wait === undefined ? "–" : `${today.max_wait}s`;
    $("t-abandoned").textContent = String(today.abandoned ?? 0);
    // Scheduled operators (the rota) who are logged in, of all scheduled now.
    const scheduled = board.agents.filter((a) => a.shift);
    $("t-scheduled").textContent = `${scheduled.filter((a) => a.state !== "logged_out").length}/${scheduled.length}`;

    replace($("queue").tBodies[0], board.calls.map((c) => el("tr", { dataset: { callId: c.call_id, state: c.state, callback: c.callback ? "1" : "0" } },
      el("td", {}, c.caller_number || t("pop.anonymous")),
      el("td", {}, t(`call.${c.state}`) + (c.callback ? ` · ${t("wb.callback")}` : "")),
      el("td", { class: "ticker wait", dataset: { since: c.waiting_since, until: c.answered_at ?? "" } }, "–"),
      el("td", {}, c.state === "connected" ? c.agent_id : c.ringing.join(", ") || "–"))));
    $("queue-empty").hidden = board.calls.length > 0;

    // An operator the core paused for missed calls stands out (reason on the row and badge, red), with
    // the automatic resume's countdown when the core has one.
    replace($("agents").tBodies[0], board.agents.map((a) => el("tr", { dataset: { agent: a.agent_id, state: a.state, reason: a.reason || "" } },
      el("td", {}, `${a.agent_id} ${a.name || ""}`),
      el("td", { class: "shift", dataset: { scheduled: a.shift ? "1" : "0" } }, a.shift || t("wb.not_scheduled")),
      el("td", {}, el("span", { class: "badge", dataset: { state: a.state, reason: a.reason || "" } },
        t(`state.${a.state}`) + (a.reason ? ` · ${t(`reason.${a.reason}`)}` : "") + (a.registered ? "" : ` · ${t("wb.no_phone")}`)),
        a.resume_at ? el("span", { class: "resume-in", dataset: { until: a.resume_at } }, "") : null),
      el("td", { class: "ticker", dataset: { since: a.since ?? "" } }, "–"),
      answeredCell(a, (today.agents || []).find((f) => f.agent_id === a.agent_id)),
      el("td", { class: "actions" }, actions(a), spyButtons(a)))));

    replace($("alerts"), board.alerts.map((alert) => el("li", { class: `alert ${alert.kind}`, dataset: { kind: alert.kind } }, alertText(alert))));
    $("no-alerts").hidden = board.alerts.length > 0;

    // Overdue tickets the ladder has taken to the supervisor (level 2) or the department's head (3).
    const ladder = board.ladder || [];
    replace($("ladder").tBodies[0], ladder.map((r) => el("tr", { dataset: { ticket: String(r.ticket_id), level: String(r.level) } },
      el("td", {}, `#${r.ticket_id}`),
      el("td", {}, r.caller_number || t("pop.anonymous")),
      el("td", {}, r.category ? t(`wo.${r.category}`) : "–"),
      el("td", {}, t(`todo.level.${r.level}`)),
      el("td", {}, localTime(r.due_at)),
      el("td", {}, r.agent_id || "–"))));
    $("ladder-empty").hidden = ladder.length > 0;
    drawCharts();
    tick();
  }

  // The day at a glance (charts.js): quarter hours today against last week, the last hour's queue, operators.
  function drawCharts() {
    const trend = board.trend || {};
    HotlineCharts.offered($("chart-offered"), trend);
    HotlineCharts.serviceLevel($("chart-sl"), trend, board.target);
    HotlineCharts.waiting($("chart-waiting"), trend, board.now);
    HotlineCharts.agents($("chart-agents"), (board.today || {}).agents, Object.fromEntries(board.agents.map((a) => [a.agent_id, a.name])));
  }

  // Today's figures of one operator from the tickets (every ring of their phone counts):
  // answered of rung, the misses, and the two-ring rate; the core's count when there are none yet.
  function answeredCell(agent, figures) {
    const memory = answerMemory(agent.answer);
    if (!figures) return el("td", {}, String(agent.calls_answered ?? 0), memory);
    const missed = figures.missed ? ` · ${t("wb.missed_n", { n: figures.missed })}` : "";
    return el("td", { class: "agent-figures", title: t("wb.agent_figures_title") },
      `${figures.answered}/${figures.offered}${missed} · ${percent(figures.service_level)}`, memory);
  }

  // What the ACD remembers of the operator's recent rings: the chance they answer within two rings
  // (it rings likely answerers first) and how fast they usually answer.
  function answerMemory(answer) {
    if (!answer) return null;
    const seconds = answer.typical_answer == null ? "–" : answer.typical_answer.toFixed(1);
    return el("div", { class: "answer-memory", dataset: { likely: answer.likely ? "1" : "0" }, title: t("wb.answer_memory_title") },
      t("wb.answer_memory", { p: Math.round(answer.p_within_window * 100), s: seconds }));
  }

  function actions(agent) {
    const button = (op, label) => el("button", { type: "button", class: "small", dataset: { op }, onclick: () => control(agent.agent_id, op) }, t(label));
    const out = [];
    if (agent.state === "logged_out") out.push(button("login", "op.login"));
    if (["paused", "wrap_up"].includes(agent.state)) out.push(button("ready", "op.ready"));
    if (["available", "wrap_up", "ringing", "on_call"].includes(agent.state)) out.push(button("pause", "op.pause"));
    if (agent.state !== "logged_out") out.push(button("logout", "op.logout"));
    return out;
  }

  // Listen, whisper, barge (docs/supervision.md): the supervisor's own phone rings, then hears the call.
  const SPY_MODES = ["listen", "whisper", "barge"];
  function spyButtons(agent) {
    const button = (key, label, go) => el("button", { type: "button", class: "small spy", dataset: { spy: key }, onclick: go }, t(label));
    const session = spies[agent.agent_id];
    if (session) {
      const path = `/api/supervision/sessions/${session.id}`;
      return [el("span", { class: "spy-mode", dataset: { mode: session.mode } }, t(`spy.on_${session.mode}`)),
        ...SPY_MODES.filter((m) => m !== session.mode).map((m) => button(m, `spy.${m}`, () => spy("POST", `${path}/mode`, { mode: m }))),
        button("end", "spy.end", () => spy("DELETE", path))];
    }
    if (agent.state !== "on_call") return [];
    return SPY_MODES.map((m) => button(m, `spy.${m}`, () => spy("POST", "/api/supervision/sessions", { agent_id: agent.agent_id, mode: m })));
  }

  async function spy(method, path, body) {
    $("wb-error").textContent = "";
    try {
      await api(method, path, body);
    } catch (error) {
      $("wb-error").textContent = error.message;
    }
    await loadSpies();
  }

  async function loadSpies() {
    try {
      const data = await api("GET", "/api/supervision/sessions");
      spies = Object.fromEntries(data.sessions.map((s) => [s.agent_id, s]));
    } catch (_) {
      spies = {};
    }
    draw();
  }

  async function control(agentId, op) {
    $("wb-error").textContent = "";
    try {
      await api("POST", `/api/supervisor/agents/${encodeURIComponent(agentId)}`, { op, reason: "admin" });
    } catch (error) {
      $("wb-error").textContent = `${agentId}: ${t("agent.refused", { op: t(`op.${op}`) })}`;
    }
  }

  function alertText(alert) {
    switch (alert.kind) {
      case "service_level": return t("alert.service_level", { value: percent(alert.value), target: percent(alert.target) });
      case "long_wait": return t("alert.long_wait", { caller: alert.caller_number || t("pop.anonymous"), wait: duration(now() - alert.since) });
      case "auto_paused": return t("alert.auto_paused", { agent: `${alert.agent_id} ${alert.name || ""}` });
      case "absent": return t("alert.absent", { agent: `${alert.agent_id} ${alert.name || ""}`, shift: alert.shift });
      case "overdue": return t("alert.overdue", {
        id: alert.ticket_id, caller: alert.caller_number || t("pop.anonymous"), deadline: localTime(alert.deadline),
        days: alert.days > 0 ? t("alert.overdue_days", { n: alert.days }) : "" });
      case "overdue_more": return t("alert.overdue_more", { n: alert.count });
      case "recording_failed": return t(`alert.recording_${alert.reason === "disk_full" ? "disk_full" : "failed"}`, { calls: alert.calls || 0, detail: alert.detail || "" });
      case "dial_refused": return t("alert.dial_refused", {
        number: alert.number || "?", reason: t(`refused.${alert.reason}`), by: alert.by || "?", ago: duration(now() - alert.since) });
      case "dial_refused_more": return t("alert.dial_refused_more", { n: alert.count });
      default: return alert.kind;
    }
  }

  function tick() {
    if (!board) return;
    const at = now();
    for (const cell of document.querySelectorAll("td.ticker[data-since]")) {
      const since = parseFloat(cell.dataset.since);
      const until = parseFloat(cell.dataset.until);
      cell.textContent = Number.isNaN(since) ? "–" : duration((Number.isNaN(until) ? at : until) - since);
    }
    for (const node of document.querySelectorAll(".resume-in[data-until]")) {
      node.textContent = t("wb.auto_resume_in", { left: duration(Math.max(0, parseFloat(node.dataset.until) - at)) });
    }
    const waiting = board.calls.filter((c) => !c.callback && (c.state === "waiting" || c.state === "offered"));
    const longest = waiting.length ? Math.max(...waiting.map((c) => at - c.waiting_since)) : 0;
    $("t-longest-now").textContent = duration(longest);
    $("t-longest-now").dataset.alert = longest > board.long_wait_alert ? "1" : "0";
  }
  setInterval(tick, 250);
  document.addEventListener("hotline:lang", draw);

  connect((message) => {
    if (message.type === "wallboard") {
      const busy = board ? board.agents.filter((a) => a.state === "on_call").length : -1;
      board = message;
      // A call that ended takes its session with it: ask again when who is on a call changed.
      if (board.agents.filter((a) => a.state === "on_call").length !== busy || Object.keys(spies).length) loadSpies(); else draw();
    }
  }, (up) => {
    const node = $("live-status");
    node.dataset.i18n = up ? "live.on" : "live.off";
    node.textContent = t(node.dataset.i18n);
    node.dataset.up = up ? "1" : "0";
  });
})();
