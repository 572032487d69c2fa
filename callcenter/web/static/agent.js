// The operator's desktop: state controls, the screen-pop, the ticket form, knowledge-base search.
"use strict";

(() => {
  const { t, api, connect, now, el, duration, localTime, marked, replace } = Hotline;
  const $ = (id) => document.getElementById(id);
  const me = { agent: document.body.dataset.agent, state: null };
  let call = null; // the call on the form: {call_id, caller_number, waiting_since, offered_at, answered_at, ...}
  let kbIds = [];
  // Screen-pop timings for measurements (bench/screen_pop reads them): received and painted.
  window.hotlinePops = [];

  // -- state ------------------------------------------------------------------------------------
  function showState(message) {
    me.state = message;
    const badge = $("state");
    badge.dataset.state = message.state;
    badge.dataset.i18n = `state.${message.state}`;
    badge.textContent = t(`state.${message.state}`) + (message.reason ? ` · ${t(`reason.${message.reason}`)}` : "");
    $("btn-login").disabled = message.state !== "logged_out";
    $("btn-ready").disabled = !["paused", "wrap_up", "logged_out"].includes(message.state);
    $("btn-pause").disabled = message.state === "logged_out"; // while ringing or on a call it takes effect after
    $("btn-logout").disabled = message.state === "logged_out";
    $("wrap-up").hidden = message.state !== "wrap_up";
    if (message.state === "on_call" && call && message.call_id === call.call_id) setPopKind("on_call");
    if (message.state === "wrap_up" && call) setPopKind("ended");
  }

  async function changeState(op) {
    $("state-error").textContent = "";
    try {
      const body = { op };
      if (op === "pause") body.reason = $("pause-reason").value;
      const result = await api("POST", "/api/agent/state", body);
      showState(result.agent);
    } catch (error) {
      $("state-error").textContent = t("agent.refused", { op: t(`op.${op}`) });
      if (error.data && error.data.agent) showState(error.data.agent);
    }
  }
  for (const button of document.querySelectorAll(".controls button[data-op]")) {
    button.addEventListener("click", () => changeState(button.dataset.op));
  }

  // -- the screen-pop ---------------------------------------------------------------------------
  function setPopKind(kind) {
    const node = $("pop-kind");
    node.dataset.i18n = `pop.${kind}`;
    node.textContent = t(`pop.${kind}`);
    $("pop").dataset.kind = kind;
  }

  function showPop(message) {
    const received = Date.now();
    const fresh = !call || call.call_id !== message.call_id;
    call = message;
    const pop = $("pop");
    pop.hidden = false;
    pop.dataset.callId = message.call_id;
    $("pop-number").textContent = message.caller_number || t("pop.anonymous");
    $("pop-name").textContent = message.caller_name && message.caller_name !== message.caller_number ? message.caller_name : "";
    setPopKind(message.answered_at ? "on_call" : "ringing");
    $("ticket-call").textContent = `${message.caller_number || t("pop.anonymous")} · ${message.call_id}`;
    if (fresh) {
      $("ticket-form").reset();
      $("f-status").textContent = "";
      kbIds = [];
      replace($("pop-history").tBodies[0]);
      $("pop-no-history").hidden = true;
      $("pop-menu").textContent = "…";
      $("pop-seasonal").textContent = "…";
    }
    tick();
    requestAnimationFrame(() => {
      window.hotlinePops.push({ call_id: message.call_id, received, shown: Date.now(), sent: message.now * 1000 });
      pop.dataset.shown = "1";
    });
    if (!document.activeElement || !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
      $("f-category").focus();
    }
  }

  function showPopDetails(message) {
    if (!call || message.call_id !== call.call_id) return;
    const ivr = message.ivr || {};
    const menu = ivr.menu || {};
    const keys = (ivr.keys || []).join(" ");
    $("pop-menu").textContent = menu.choice ? `${t(`menu.${menu.choice}`)}${keys ? ` (${keys})` : ""}` : t("pop.no_menu");
    $("pop-seasonal").textContent = (ivr.seasonal || []).join("、") || "–";
    const rows = message.history.map((ticket) => historyRow(ticket, false));
    replace($("pop-history").tBodies[0], rows);
    $("pop-no-history").hidden = rows.length > 0;
    if (message.notes) fillForm(message.notes);
  }

  function historyRow(ticket, withCaller) {
    const notes = ticket.notes || {};
    return el("tr", { dataset: { uniqueid: ticket.uniqueid } },
      el("td", {}, localTime(ticket.arrived_at)),
      withCaller ? el("td", {}, ticket.caller_number || "–") : null,
      el("td", {}, t(`status.${ticket.call_status}`)),
      withCaller ? null : el("td", {}, ticket.agent_id || "–"),
      el("td", {}, notes.category ? t(`cat.${notes.category}`) : "–"),
      el("td", { class: "notes" }, [notes.notes, notes.answer].filter(Boolean).join(" / ") || "–"));
  }

  function fillForm(notes) {
    const form = $("ticket-form");
    form.category.value = notes.category || "";
    form.notes.value = notes.notes || "";
    form.answer.value = notes.answer || "";
    form.solved.checked = !!notes.solved;
    form.escalate_to.value = notes.escalate_to || "";
  }

  function ringStopped(message) {
    if (call && message.call_id === call.call_id && !call.answeredAt && (!me.state || me.state.state !== "on_call")) {
      call.stoppedAt = message.now;
      setPopKind("stopped");
    }
  }

  // -- the ticket form --------------------------------------------------------------------------
  async function save(event) {
    event && event.preventDefault();
    if (!call) { $("f-status").textContent = t("ticket.no_call"); return; }
    const form = $("ticket-form");
    const local = (value) => (value ? new Date(value).toISOString() : null);
    const body = {
      category: form.category.value,
      notes: form.notes.value,
      answer: form.answer.value,
      solved: form.solved.checked,
      escalate_to: form.escalate_to.value,
      promised_reply_at: local(form.promised_reply_at.value),
      callback_at: local(form.callback_at.value),
      kb_ids: kbIds,
      end_wrap_up: true,
    };
    $("f-status").textContent = t("ticket.saving");
    try {
      await api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/notes`, body);
      $("f-status").textContent = t("ticket.saved");
      $("f-status").dataset.saved = call.call_id;
      loadRecent();
    } catch (error) {
      $("f-status").textContent = `${t("ticket.failed")}: ${error.message}`;
    }
  }
  $("ticket-form").addEventListener("submit", save);
  $("ticket-form").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) save(event);
  });

  async function loadRecent() {
    try {
      const data = await api("GET", "/api/agent/recent");
      replace($("recent").tBodies[0], data.tickets.map((ticket) => historyRow(ticket, true)));
    } catch (_) { /* the desk works without it */ }
  }

  // -- knowledge base ---------------------------------------------------------------------------
  let kbTimer = null, kbSeq = 0;
  $("kb-q").addEventListener("input", () => {
    clearTimeout(kbTimer);
    kbTimer = setTimeout(searchKb, 120);
  });
  async function searchKb() {
    const q = $("kb-q").value.trim();
    const seq = ++kbSeq;
    if (!q) { replace($("kb-results")); $("kb-status").textContent = ""; return; }
    try {
      const data = await api("GET", `/api/kb/search?q=${encodeURIComponent(q)}&limit=8`);
      if (seq !== kbSeq) return; // a newer query is on its way
      const terms = data.terms || [q];
      $("kb-status").textContent = t("kb.found", { n: data.results.length });
      replace($("kb-results"), data.results.map((entry) => el("li", { dataset: { id: entry.id } },
        el("div", { class: "kb-q" }, marked(entry.question, terms)),
        el("div", { class: "kb-a" }, marked(entry.answer.length > 160 ? entry.answer.slice(0, 160) + "…" : entry.answer, terms)),
        el("button", { type: "button", class: "small", onclick: () => useAnswer(entry) }, t("kb.use")))));
    } catch (error) {
      if (seq !== kbSeq) return;
      $("kb-status").textContent = error.status === 404 ? t("kb.unavailable") : `${t("kb.failed")}: ${error.message}`;
      replace($("kb-results"));
    }
  }
  function useAnswer(entry) {
    const answer = $("f-answer");
    answer.value = answer.value ? `${answer.value}\n${entry.answer}` : entry.answer;
    if (!kbIds.includes(String(entry.id))) kbIds.push(String(entry.id));
    answer.focus();
  }

  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName);
    if (event.key === "/" && !typing) { event.preventDefault(); $("kb-q").focus(); }
  });

  // -- tickers ----------------------------------------------------------------------------------
  function tick() {
    const at = now();
    if (me.state && me.state.since) $("state-time").textContent = duration(at - me.state.since);
    if (me.state && me.state.wrap_up_until) $("wrap-up-left").textContent = String(Math.max(0, Math.ceil(me.state.wrap_up_until - at)));
    if (call) {
      const since = call.waiting_since || call.arrived_at;
      if (!call.answeredAt && me.state && me.state.state === "on_call" && me.state.call_id === call.call_id) call.answeredAt = me.state.since;
      if (!call.answeredAt && call.answered_at) call.answeredAt = call.answered_at;
      const end = call.answeredAt || call.stoppedAt || at;
      $("pop-waited").textContent = duration(end - since);
      $("pop-ring").textContent = duration(end - call.offered_at);
    }
  }
  setInterval(tick, 250);
  document.addEventListener("hotline:lang", () => { if (me.state) showState(me.state); });

  // -- live channel -----------------------------------------------------------------------------
  connect((message) => {
    switch (message.type) {
      case "agent": showState(message); break;
      case "pop": showPop(message); break;
      case "pop_details": showPopDetails(message); break;
      case "ring_stopped": ringStopped(message); break;
    }
  }, (up) => {
    const node = $("live-status");
    node.dataset.i18n = up ? "live.on" : "live.off";
    node.textContent = t(node.dataset.i18n);
    node.dataset.up = up ? "1" : "0";
  });
  loadRecent();
})();
