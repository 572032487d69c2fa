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
    badge.dataset.reason = message.reason || "";
    badge.dataset.i18n = `state.${message.state}`;
    badge.textContent = t(`state.${message.state}`) + (message.reason ? ` · ${t(`reason.${message.reason}`)}` : "");
    $("btn-login").disabled = message.state !== "logged_out";
    $("btn-ready").disabled = !["paused", "wrap_up", "logged_out"].includes(message.state);
    $("btn-pause").disabled = message.state === "logged_out"; // while ringing or on a call it takes effect after
    $("btn-logout").disabled = message.state === "logged_out";
    $("wrap-up").hidden = message.state !== "wrap_up";
    if (message.state === "on_call" && call && message.call_id === call.call_id) setPopKind("on_call");
    if (message.state === "wrap_up" && call) setPopKind("ended");
    if (message.state !== "ringing") stopRingAlert(); // answered, or the ring ended: the core has moved on
    showAutoPause(message);
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
    $("pop-name").textContent = (message.callback ? `${t("pop.callback")} ` : "") +
      (message.caller_name && message.caller_name !== message.caller_number ? message.caller_name : "");
    pop.dataset.callback = message.callback ? "1" : "0";  // a kept place: the caller is dialled once answered
    setPopKind(message.answered_at ? "on_call" : "ringing");
    $("ticket-call").textContent = `${message.caller_number || t("pop.anonymous")} · ${message.call_id}`;
    if (fresh) {
      showRecording(false);
      resetTicket();
      kbIds = [];
      resetKb();
      replace($("pop-history").tBodies[0]);
      $("pop-no-history").hidden = true;
      $("pop-menu").textContent = "…";
      $("pop-seasonal").textContent = "…";
    }
    if (message.answered_at) stopRingAlert(message.call_id);
    else startRingAlert(message);
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
    ringAlertDetails(message.call_id, menu.choice ? t(`menu.${menu.choice}`) : "", (ivr.seasonal || []).join("、"));
    const rows = message.history.map((ticket) => historyRow(ticket, false));
    replace($("pop-history").tBodies[0], rows);
    $("pop-no-history").hidden = rows.length > 0;
    if (message.ticket_id) {
      call.ticketId = message.ticket_id;
      loadSuggestions(message.ticket_id);
      loadTicket(message.ticket_id).catch((error) => { $("f-status").textContent = `${t("ticket.load_failed")}: ${error.message}`; });
    }
  }

  // A ticket row: its work order (status, category, notes) and, for calls from before work orders,
  // the notes the desk kept on the call.
  function historyRow(ticket, withCaller) {
    const notes = ticket.notes || {};
    const work = ticket.work || {};
    const category = work.category ? t(`wo.${work.category}`) : notes.category ? t(`cat.${notes.category}`) : "–";
    const text = work.notes || [notes.notes, notes.answer].filter(Boolean).join(" / ");
    return el("tr", { dataset: { uniqueid: ticket.uniqueid, ticket: work.id ?? "" } },
      el("td", {}, localTime(ticket.arrived_at)),
      withCaller ? el("td", {}, ticket.caller_number || "–") : null,
      el("td", {}, t(`status.${ticket.call_status}`) + (work.status ? ` · ${t(`wostatus.${work.status}`)}` : "")),
      withCaller ? null : el("td", {}, ticket.agent_id || "–"),
      el("td", {}, category),
      el("td", { class: "notes" }, text || "–"));
  }

  function ringStopped(message) {
    stopRingAlert(message.call_id);
    if (call && message.call_id === call.call_id && !call.answeredAt && (!me.state || me.state.state !== "on_call")) {
      call.stoppedAt = message.now;
      setPopKind("stopped");
    }
  }

  // -- the ring alert: a sound, a browser notification and a flashing title while the phone rings ----
  // So an operator looking at another window still answers within two rings.  It starts with the
  // pop and stops when the ring stops (ring_stopped), when the core moves the operator on (answered,
  // taken elsewhere, missed), when another call pops, or at the latest shortly after the ring window.
  const baseTitle = document.title;
  const FLASH_EVERY = 800; // ms between the two titles
  const CHIME_EVERY = 3000; // ms between two chimes while ringing
  const SAFETY = 5000; // ms after the ring window the alert stops by itself, if no message said so
  let ring = null; // {callId, number, menu, seasonal, notification, timers}
  let audio = null; // one AudioContext, made on the operator's first gesture (browsers refuse it before)

  function audioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }
  for (const kind of ["click", "keydown"]) { // any gesture unlocks the sound (a click, so the button is not hidden under the pointer)
    document.addEventListener(kind, () => { const ctx = audioContext(); if (ctx) ctx.resume().then(showNotifyState, () => {}); },
      { once: true, capture: true });
  }

  // Two short tones made by an oscillator: no file, nothing fetched.
  function chime() {
    if (!audio || audio.state !== "running") return; // not unlocked by a gesture yet: title and notification still work
    const start = audio.currentTime + 0.01;
    for (const [offset, frequency] of [[0, 880], [0.22, 660]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
      tone.connect(gain).connect(audio.destination);
      tone.start(start + offset);
      tone.stop(start + offset + 0.2);
    }
  }

  const canNotify = () => "Notification" in window && Notification.permission === "granted";

  function notifyRing(renotify) {
    if (!ring || !canNotify()) return;
    const lines = [];
    if (ring.name) lines.push(ring.name);
    if (ring.menu) lines.push(t("ring.notify_menu", { menu: ring.menu }));
    if (ring.seasonal) lines.push(t("ring.notify_seasonal", { seasonal: ring.seasonal }));
    lines.push(t("ring.notify_click"));
    if (ring.notification) { ring.notification.onclick = null; ring.notification.close(); ring.notification = null; }
    try {
      // One tag: an update takes the old one's place (silently, unless renotify).
      const shown = new Notification(t("ring.notify_title", { number: ring.number }),
        { body: lines.join("\n"), tag: "hotline-ring", renotify, requireInteraction: true, lang: document.documentElement.lang });
      shown.onclick = () => { window.focus(); shown.close(); };
      ring.notification = shown;
    } catch (_) { /* a browser that refuses page notifications: sound and title still work */ }
  }

  function startRingAlert(message) {
    if (ring && ring.callId === message.call_id) return; // the same ring again (a reconnect)
    stopRingAlert();
    const number = message.caller_number || t("pop.anonymous");
    ring = {
      callId: message.call_id, number, notification: null, timers: [],
      name: message.caller_name && message.caller_name !== message.caller_number ? message.caller_name : "",
      menu: message.skill ? t(`skill.${message.skill}`) : "", seasonal: "",
    };
    document.body.dataset.ringing = message.call_id;
    let flashed = true;
    document.title = t("ring.title", { number });
    ring.timers.push(setInterval(() => {
      flashed = !flashed;
      document.title = flashed ? t("ring.title", { number }) : baseTitle;
    }, FLASH_EVERY));
    chime();
    ring.timers.push(setInterval(chime, CHIME_EVERY));
    const window_ = (Number(message.ring_timeout) || 30) * 1000;
    ring.timers.push(setTimeout(() => stopRingAlert(message.call_id), window_ + SAFETY));
    notifyRing(true);
  }

  // The menu choice and seasonal messages come with the pop's details: the notification says them too.
  function ringAlertDetails(callId, menu, seasonal) {
    if (!ring || ring.callId !== callId) return;
    if ((menu || ring.menu) === ring.menu && seasonal === ring.seasonal) return;
    ring.menu = menu || ring.menu;
    ring.seasonal = seasonal;
    if (ring.notification) notifyRing(false);
  }

  // Stop the alert (only the one of ``callId`` when given).
  function stopRingAlert(callId) {
    if (!ring || (callId && ring.callId !== callId)) return;
    for (const timer of ring.timers) { clearInterval(timer); clearTimeout(timer); }
    if (ring.notification) ring.notification.close();
    ring = null;
    document.title = baseTitle;
    delete document.body.dataset.ringing;
  }

  function showNotifyState() {
    const node = $("notify-state");
    const button = $("btn-notify");
    const permission = "Notification" in window ? Notification.permission : "unsupported";
    node.dataset.permission = permission;
    const key = { granted: "ring.enabled", denied: "ring.denied", unsupported: "ring.unsupported" }[permission];
    node.dataset.i18n = key || "";
    node.textContent = key ? t(key) : "";
    const silent = !audio || audio.state !== "running";
    button.hidden = !(permission === "default" || silent);
    button.dataset.i18n = permission === "default" ? "ring.enable" : "ring.enable_sound";
    button.textContent = t(button.dataset.i18n);
  }
  // A click (a user gesture) may ask for notifications and unlock the sound; it chimes once as a sample.
  $("btn-notify").addEventListener("click", async () => {
    audioContext();
    if ("Notification" in window && Notification.permission === "default") {
      try { await Notification.requestPermission(); } catch (_) { /* answered through the state below */ }
    }
    if (audio) await audio.resume().catch(() => {});
    chime();
    showNotifyState();
  });
  showNotifyState();

  // -- paused for missed calls: say why, resume with one click ---------------------------------
  let autoPaused = null; // the notification that asked, while the banner shows
  function showAutoPause(message) {
    const paused = message.state === "paused" && message.reason === "missed_calls";
    const banner = $("auto-paused");
    const was = !banner.hidden;
    banner.hidden = !paused;
    if (paused && !was && canNotify()) {
      try {
        autoPaused = new Notification(t("autopause.title"), { body: t("autopause.hint"), tag: "hotline-paused", requireInteraction: true });
        autoPaused.onclick = () => { window.focus(); autoPaused && autoPaused.close(); };
      } catch (_) { autoPaused = null; }
    }
    if (!paused && autoPaused) { autoPaused.close(); autoPaused = null; }
    tickAutoPause();
  }
  function tickAutoPause() {
    const node = $("auto-resume");
    const at = me.state && me.state.resume_at;
    node.hidden = $("auto-paused").hidden || !at;
    if (!node.hidden) node.textContent = t("autopause.resume_in", { left: duration(Math.max(0, at - now())) });
  }
  $("btn-resume").addEventListener("click", () => changeState("ready"));

  // -- recording: pause while the caller gives sensitive details -------------------------------
  let recPaused = false;
  function showRecording(paused) {
    recPaused = paused;
    $("rec-state").dataset.i18n = paused ? "rec.paused" : "rec.on";
    $("rec-state").textContent = t($("rec-state").dataset.i18n);
    $("btn-rec").dataset.i18n = paused ? "rec.resume" : "rec.pause";
    $("btn-rec").textContent = t($("btn-rec").dataset.i18n);
    $("rec-error").textContent = "";
  }
  $("btn-rec").addEventListener("click", async () => {
    try {
      const result = await api("POST", "/api/agent/recording", { paused: !recPaused });
      showRecording(result.paused);
    } catch (error) {
      $("rec-error").textContent = error.status === 409 ? t("rec.not_live") : error.message;
    }
  });

  // -- the ticket form: the call's work order over /api/tickets/{id} ----------------------------------
  // The form edits the work ticket (the caller's open ticket when this call was merged into it).
  // Saving: PATCH the fields and at most one status move (new -> in progress, solved, reopened);
  // the answer given becomes a note in the contact history; then escalation and a scheduled callback.
  // The API's refusals are shown on the form: a missing promised reply time beside its field.
  let ticket = null; // GET /api/tickets/{id} of the work ticket
  let dirty = false; // the operator typed since the ticket was shown
  let savedAnswer = "", scheduledCallback = null;
  const form = $("ticket-form");
  const toLocalInput = (iso) => {
    if (!iso) return "";
    const d = new Date(iso);
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  };
  const fromLocalInput = (value) => (value ? new Date(value).toISOString() : null);

  function resetTicket() {
    form.reset();
    ticket = null; dirty = false; savedAnswer = ""; scheduledCallback = null;
    $("ticket-id").textContent = "–";
    $("ticket-status").textContent = "–";
    $("ticket-status").dataset.status = "";
    $("f-status").textContent = "";
    $("f-promised-error").textContent = "";
    $("f-callback-info").textContent = "";
  }
  form.addEventListener("input", () => { dirty = true; });

  async function loadTicket(ticketId) {
    let data = await api("GET", `/api/tickets/${ticketId}`);
    if (data.work_ticket_id && data.work_ticket_id !== data.id) data = await api("GET", `/api/tickets/${data.work_ticket_id}`);
    if (!call || (call.ticketId !== ticketId && (!ticket || ticket.id !== data.id))) return; // another call by now
    showTicket(data, !dirty);
  }

  function showTicket(data, fill) {
    ticket = data;
    $("ticket-id").textContent = `#${data.id}` + (data.revisits ? ` (${t("ticket.revisits", { n: data.revisits })})` : "");
    $("ticket-status").dataset.status = data.status;
    $("ticket-status").textContent = t(`wostatus.${data.status}`);
    const pending = (data.tasks || []).filter((task) => task.kind === "callback" && task.state === "pending");
    $("f-callback-info").textContent = pending.length
      ? t("ticket.callback_scheduled", { at: pending.map((task) => localTime(task.not_before)).join("、") }) : "";
    if (data.needs_promise && !$("f-promised-error").textContent) $("f-promised-error").textContent = t("ticket.promise_required");
    if (!fill) return;
    form.category.value = data.category || "";
    form.notes.value = data.notes || "";
    form.solved.checked = ["solved", "callback_due", "closed"].includes(data.status);
    form.promised_reply_at.value = toLocalInput(data.promised_reply_at);
    form.escalate_to.value = data.status === "escalated" && data.department_id ? String(data.department_id) : "";
    dirty = false;
  }

  // The one status move the form asks for, if any.
  function wantedStatus(solved, escalating) {
    const status = ticket.status;
    if (escalating) return null; // the escalate call moves it
    if (solved) return ["new", "in_progress", "escalated"].includes(status) ? "solved" : null;
    if (status === "new") return "in_progress";
    if (["solved", "callback_due", "closed"].includes(status)) return "in_progress"; // reopened
    return null;
  }

  function showError(error) {
    const data = error.data || {};
    const problems = data.problems || [];
    const promise = data.error === "ticket.promise_required" || problems.some((p) => p.field === "promised_reply_at");
    if (promise) {
      $("f-promised-error").textContent = `${t("ticket.promise_required")} (${data.message || error.message})`;
      form.promised_reply_at.focus();
    }
    const detail = problems.length ? problems.map((p) => `${p.field} ${p.problem}`).join("; ") : (data.message || error.message);
    $("f-status").textContent = `${t("ticket.failed")}: ${detail}`;
    $("f-status").dataset.error = data.error || String(error.status || "");
  }

  async function save(event) {
    event && event.preventDefault();
    if (!call) { $("f-status").textContent = t("ticket.no_call"); return; }
    $("f-status").textContent = t("ticket.saving");
    $("f-status").dataset.error = "";
    $("f-promised-error").textContent = "";
    try {
      if (!ticket && call.ticketId) await loadTicket(call.ticketId);
      if (!ticket) { $("f-status").textContent = t("ticket.not_yet"); return; }
      const id = ticket.id;
      const promised = fromLocalInput(form.promised_reply_at.value);
      const escalateTo = form.escalate_to.value;
      const escalating = escalateTo && !(ticket.status === "escalated" && String(ticket.department_id) === escalateTo);
      const patch = { category: form.category.value || null, notes: form.notes.value, promised_reply_at: promised };
      const status = wantedStatus(form.solved.checked, escalating);
      if (status && status !== ticket.status && ticket.allowed_status.includes(status)) patch.status = status;
      await api("PATCH", `/api/tickets/${id}`, patch);
      const answer = form.answer.value.trim();
      if (answer && answer !== savedAnswer) {
        const refs = kbIds.length ? ` [${t("kb.title")} #${kbIds.join(", #")}]` : "";
        await api("POST", `/api/tickets/${id}/notes`, { text: `${t("ticket.answer")}：${answer}${refs}`.slice(0, 4000) });
        savedAnswer = answer;
      }
      if (escalating) {
        const body = { department_id: Number(escalateTo), call: form.escalate_call.checked, reason: form.notes.value.slice(0, 1000) };
        if (promised) body.promised_reply_at = promised;
        await api("POST", `/api/tickets/${id}/escalate`, body);
      }
      const callbackAt = fromLocalInput(form.callback_at.value);
      if (callbackAt && callbackAt !== scheduledCallback) {
        await api("POST", `/api/tickets/${id}/callback`, { at: callbackAt });
        scheduledCallback = callbackAt;
      }
      showTicket(await api("GET", `/api/tickets/${id}`), true);
      $("f-status").textContent = t("ticket.saved");
      $("f-status").dataset.saved = call.call_id;
      if (me.state && me.state.state === "wrap_up") {
        const result = await api("POST", "/api/agent/state", { op: "ready" }); // saved: wrap-up is over
        showState(result.agent);
      }
      loadRecent();
      loadTodo();
    } catch (error) {
      showError(error);
      if (ticket) api("GET", `/api/tickets/${ticket.id}`).then((data) => showTicket(data, false)).catch(() => {});
    }
  }

  async function loadDepartments() {
    try {
      const data = await api("GET", "/api/departments");
      const options = data.departments.filter((d) => d.active).map((d) => el("option", { value: String(d.id) }, d.name));
      replace($("f-escalate"), el("option", { value: "", dataset: { i18n: "cat.none" } }, t("cat.none")), options);
    } catch (_) { /* escalation is then unavailable; the rest of the form works */ }
  }
  $("ticket-form").addEventListener("submit", save);
  $("ticket-form").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) save(event);
  });

  async function loadRecent() {
    try {
      const data = await api("GET", "/api/agent/recent");
      const rows = data.tickets.map((ticket) => historyRow(ticket, true));
      replace($("recent").tBodies[0], rows);
      const recordings = (await api("GET", "/api/recordings?limit=50")).recordings;
      for (const row of rows) {
        const rec = recordings.find((r) => r.kind === "inbound" && r.uniqueid === row.dataset.uniqueid);
        row.append(el("td", { class: "recording" }, rec ? recordingCell(rec) : "–"));
      }
    } catch (_) { /* the desk works without it */ }
  }

  function recordingCell(rec) {
    if (!rec.audio_url) return t(`rec.status.${rec.status}`);
    // The player fetches only when played (preload none): each play is logged on the server.
    return el("span", {},
      el("audio", { controls: true, preload: "none", src: rec.audio_url }),
      el("a", { href: `${rec.audio_url}?download=1`, download: "" }, t("rec.download")));
  }

  // -- to-do panel (待办): my overdue tickets (the ladder) and the callback tasks for me or nobody ------
  // Refreshed when the live channel says a ticket climbed or a task was made, after each save, and
  // every minute.  A click loads the ticket into the form above (not during a call); "call back"
  // rings my phone, then the caller, for that task (POST /api/tickets/{id}/callback).
  async function loadTodo() {
    try {
      const [overdue, tasks] = await Promise.all([
        api("GET", "/api/tickets?ladder=1&mine=true&limit=100"),
        api("GET", "/api/callbacks?kind=callback&mine=true&limit=100"),
      ]);
      const items = [...overdue.tickets.map(overdueItem), ...tasks.tasks.map(taskItem)];
      replace($("todo-list"), items);
      $("todo-empty").hidden = items.length > 0;
      $("todo-count").textContent = items.length ? String(items.length) : "";
    } catch (_) { /* the desk works without it; the next refresh tries again */ }
  }

  function todoItem(kind, ticketId, callerNumber, head, lines, actions) {
    const open = el("button", { type: "button", class: "link", onclick: () => openFromTodo(ticketId, callerNumber) },
      t("todo.ticket", { id: ticketId }));
    return el("li", { class: `todo-item ${kind}`, dataset: { kind, ticket: String(ticketId) } },
      el("div", { class: "todo-head" }, open, ...head),
      ...lines.filter(Boolean).map((line) => el("p", { class: line.cls }, line.text)),
      actions.length ? el("div", { class: "todo-actions" }, ...actions) : null);
  }

  function overdueItem(ticket) {
    // The ladder's deadline: the earlier of the time limit and the promised reply.
    const due = [ticket.due_at, ticket.promised_reply_at].filter(Boolean).sort((a, b) => new Date(a) - new Date(b))[0];
    return todoItem("overdue", ticket.id, ticket.caller_number, [
      el("span", { class: "badge level", dataset: { level: String(ticket.ladder_level) } }, t(`todo.level.${ticket.ladder_level}`)),
      el("span", { class: "category" }, ticket.category ? t(`wo.${ticket.category}`) : "–"),
      el("span", { class: "caller" }, ticket.caller_number || t("pop.anonymous")),
    ], [due ? { cls: "due", text: t("todo.due", { at: localTime(due) }) } : null], []);
  }

  function taskItem(task) {
    const details = task.details || {};
    const reason = details.reply ? t("todo.reply", { text: details.reply })
      : details.note ? t("todo.asked", { text: details.note }) : t("todo.callback");
    const button = el("button", { type: "button", class: "small", dataset: { op: "call-back" },
      onclick: () => callBack(task) }, t("todo.call_back"));
    return todoItem("task", task.ticket_id, task.number, [
      el("span", { class: "badge" }, t("todo.task")),
      el("span", { class: "category" }, task.category ? t(`wo.${task.category}`) : "–"),
      el("span", { class: "caller" }, task.name ? `${task.number} ${task.name}` : task.number),
    ], [
      { cls: "reason", text: reason },
      { cls: "due", text: [task.due_at ? t("todo.due", { at: localTime(task.due_at) }) : "",
        t("todo.call_at", { at: localTime(task.not_before) })].filter(Boolean).join(" · ") },
    ], [button]);
  }

  function openFromTodo(ticketId, callerNumber) {
    if (call && !call.fromTodo && me.state && ["ringing", "on_call"].includes(me.state.state)) {
      $("todo-status").textContent = t("todo.busy");
      return;
    }
    $("todo-status").textContent = "";
    call = { call_id: `todo-${ticketId}`, caller_number: callerNumber, ticketId, fromTodo: true };
    resetTicket();
    resetKb();
    loadSuggestions(ticketId);
    $("ticket-call").textContent = `${callerNumber || t("pop.anonymous")} · ${t("todo.ticket", { id: ticketId })}`;
    loadTicket(ticketId).catch((error) => { $("f-status").textContent = `${t("ticket.load_failed")}: ${error.message}`; });
  }

  async function callBack(task) {
    $("todo-status").textContent = t("todo.calling", { id: task.ticket_id });
    try {
      await api("POST", `/api/tickets/${task.ticket_id}/callback`, { task_id: task.id });
      openFromTodo(task.ticket_id, task.number);
    } catch (error) {
      const data = error.data || {};
      $("todo-status").textContent = t("todo.failed", { detail: data.message || error.message });
    }
    loadTodo();
  }
  setInterval(loadTodo, 60000);
  document.addEventListener("hotline:lang", loadTodo);
  loadTodo();

  // -- knowledge base ---------------------------------------------------------------------------
  // Before the operator types, the panel shows the entries suggested for the ticket's caller
  // (GET /api/kb/suggestions: the message heard, the menu choice, the last ticket), each with why;
  // typing replaces them with search results, clearing the box brings them back.  Every entry
  // opened (its whole answer shown, or its answer used) counts one lookup per ticket.
  let kbTimer = null, kbSeq = 0;
  let kbSuggested = null; // {ticketId, entries} of the call on the desk
  let kbViewed = new Set(); // entries counted for this ticket
  function resetKb() {
    kbSuggested = null;
    kbViewed = new Set();
    kbSeq++;
    $("kb-q").value = "";
    replace($("kb-results"));
    $("kb-status").textContent = "";
  }
  async function loadSuggestions(ticketId) {
    try {
      const data = await api("GET", `/api/kb/suggestions?ticket_id=${encodeURIComponent(ticketId)}&limit=8`);
      if (!call || call.ticketId !== ticketId) return; // another call by now
      kbSuggested = { ticketId, entries: data.entries };
      if (!$("kb-q").value.trim()) showSuggestions();
    } catch (_) { /* the search box still works */ }
  }
  function showSuggestions() {
    const entries = kbSuggested ? kbSuggested.entries : [];
    $("kb-results").dataset.mode = "suggested";
    $("kb-status").textContent = entries.length ? t("kb.suggested", { n: entries.length }) : "";
    replace($("kb-results"), entries.map((entry) => kbItem(entry, [], entry.reasons)));
  }
  function reasonText(reason) {
    const value = reason.kind === "menu" ? t(`menu.${reason.value}`)
      : reason.kind === "last_ticket" ? t(`wo.${reason.value}`)
        : reason.value.length > 16 ? `${reason.value.slice(0, 16)}…` : reason.value;
    return t(`kb.reason.${reason.kind}`, { value });
  }
  function kbItem(entry, terms, reasons) {
    const short = entry.answer.length > 160;
    const answer = el("div", { class: "kb-a" }, marked(short ? entry.answer.slice(0, 160) + "…" : entry.answer, terms));
    const open = () => { // the whole answer, counted as a lookup
      replace(answer, marked(entry.answer, terms));
      countView(entry);
    };
    return el("li", { dataset: { id: entry.id } },
      (reasons || []).length ? el("span", { class: "kb-reason", dataset: { kind: reasons[0].kind } }, reasonText(reasons[0])) : null,
      el("button", { type: "button", class: "link kb-q", title: t("kb.open"), onclick: open }, marked(entry.question, terms)),
      answer,
      el("button", { type: "button", class: "small kb-use", onclick: () => useAnswer(entry) }, t("kb.use")));
  }
  $("kb-q").addEventListener("input", () => {
    clearTimeout(kbTimer);
    kbTimer = setTimeout(searchKb, 120);
  });
  async function searchKb() {
    const q = $("kb-q").value.trim();
    const seq = ++kbSeq;
    if (!q) { showSuggestions(); return; }
    try {
      const data = await api("GET", `/api/kb/search?q=${encodeURIComponent(q)}&limit=8`);
      if (seq !== kbSeq) return; // a newer query is on its way
      const terms = data.terms || [q];
      $("kb-results").dataset.mode = "search";
      $("kb-status").textContent = t("kb.found", { n: data.results.length });
      replace($("kb-results"), data.results.map((entry) => kbItem(entry, terms, [])));
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
    countView(entry);
  }
  // Counted for 未诉先办 and popularity (kb_views), once per entry and ticket; a failed count never
  // gets in the operator's way.
  function countView(entry) {
    const ticketId = (ticket && ticket.id) || (call && call.ticketId) || null;
    const key = `${ticketId}:${entry.id}`;
    if (kbViewed.has(key)) return;
    kbViewed.add(key);
    api("POST", `/api/kb/entries/${entry.id}/views`, ticketId ? { ticket_id: ticketId } : {}).catch(() => kbViewed.delete(key));
  }

  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName);
    if (event.key === "/" && !typing) { event.preventDefault(); $("kb-q").focus(); }
  });

  // -- tickers ----------------------------------------------------------------------------------
  function tick() {
    const at = now();
    if (me.state && me.state.since) $("state-time").textContent = duration(at - me.state.since);
    tickAutoPause();
    if (me.state && me.state.wrap_up_until) $("wrap-up-left").textContent = String(Math.max(0, Math.ceil(me.state.wrap_up_until - at)));
    if (call && !call.fromTodo) {
      const since = call.waiting_since || call.arrived_at;
      if (!call.answeredAt && me.state && me.state.state === "on_call" && me.state.call_id === call.call_id) call.answeredAt = me.state.since;
      if (!call.answeredAt && call.answered_at) call.answeredAt = call.answered_at;
      const end = call.answeredAt || call.stoppedAt || at;
      $("pop-waited").textContent = duration(end - since);
      $("pop-ring").textContent = duration(end - call.offered_at);
    }
  }
  setInterval(tick, 250);
  document.addEventListener("hotline:lang", () => { if (me.state) showState(me.state); showNotifyState(); });

  // -- live channel -----------------------------------------------------------------------------
  connect((message) => {
    switch (message.type) {
      case "agent": showState(message); break;
      case "pop": showPop(message); break;
      case "pop_details": showPopDetails(message); break;
      case "ring_stopped": ringStopped(message); break;
      case "todo": loadTodo(); break;
      case "supervision": $("supervised").hidden = !message.active; break; // [supervision] show_operator
    }
  }, (up) => {
    const node = $("live-status");
    node.dataset.i18n = up ? "live.on" : "live.off";
    node.textContent = t(node.dataset.i18n);
    node.dataset.up = up ? "1" : "0";
  });
  loadRecent();
  loadDepartments();
})();
