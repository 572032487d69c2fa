// The departments' desk: the departments' escalated tickets, one ticket's question and history,
// and the answers (reply, ask the hotline to call, hand over, finding, into the knowledge base).
// Everything the server sends is drawn with textContent (Hotline.el): a reply is text, never markup.
"use strict";

(() => {
  const { t, api, el, localTime, replace } = Hotline;
  const $ = (id) => document.getElementById(id);
  let list = null; // GET /api/desk/tickets
  let ticket = null; // GET /api/desk/tickets/{id}
  let departments = []; // where a ticket can be handed

  function kindLabel(kind) {
    switch (kind) {
      case "reply": return t("desk.kind_reply");
      case "handoff": return t("desk.kind_handoff");
      case "finding": return t("desk.kind_finding");
      case "note": return t("desk.kind_note");
      case "status": return t("desk.kind_status");
      case "escalation": return t("desk.kind_escalation");
      case "inbound": return t("desk.kind_inbound");
      case "callback": return t("desk.kind_callback");
      default: return kind;
    }
  }

  function due(row) {
    const parts = [localTime(row.due_at || row.promised_reply_at)];
    if (row.overdue) parts.push(t("desk.overdue"));
    if (row.ladder_level) parts.push(t("desk.ladder", { n: row.ladder_level }));
    return parts.join(" · ");
  }

  function ticketRow(row) {
    return el("tr", { dataset: { ticket: row.id, status: row.status }, class: row.overdue ? "overdue" : null },
      el("td", {}, el("a", { href: `#${row.id}`, onclick: (event) => { event.preventDefault(); open(row.id); } }, `#${row.id}`)),
      el("td", {}, row.department || "–"),
      el("td", { class: "question" }, row.question || "–"),
      el("td", {}, t(`wostatus.${row.status}`)),
      el("td", {}, localTime(row.promised_reply_at)),
      el("td", {}, due(row)));
  }

  function drawList() {
    if (!list) return;
    replace($("desk-departments"), list.departments.map((d) => d.name + (d.is_head ? ` (${t("desk.head")})` : "")).join("、") || t("desk.no_departments"));
    replace($("desk-tickets").tBodies[0], list.tickets.map(ticketRow));
    $("desk-empty").hidden = list.tickets.length > 0;
    $("desk-head").hidden = list.for_head.length === 0;
    replace($("desk-head-tickets").tBodies[0], list.for_head.map(ticketRow));
  }

  async function load() {
    try {
      list = await api("GET", `/api/desk/tickets?view=${encodeURIComponent($("desk-view").value)}`);
      $("desk-list-status").textContent = "";
      drawList();
    } catch (error) {
      $("desk-list-status").textContent = `${t("desk.failed")}: ${error.message}`;
    }
  }

  function drawTicket() {
    if (!ticket) return;
    $("desk-detail").hidden = false;
    $("d-id").textContent = `#${ticket.id}`;
    $("d-question").textContent = ticket.question || "–";
    $("d-department").textContent = ticket.department ? ticket.department.name : "–";
    $("d-status").textContent = t(`wostatus.${ticket.status}`);
    $("d-caller").textContent = [ticket.caller_name, ticket.caller_number].filter(Boolean).join(" ") || "–";
    $("d-promised").textContent = localTime(ticket.promised_reply_at);
    $("d-due").textContent = due(ticket);
    replace($("d-history").tBodies[0], ticket.contacts.map((c) => el("tr", { dataset: { kind: c.kind } },
      el("td", {}, localTime(c.at)), el("td", {}, kindLabel(c.kind)), el("td", {}, c.agent_id || "–"),
      el("td", { class: "text" }, c.text || c.outcome || ""))));
    const here = ticket.department_id;
    replace($("f-handoff-to"), departments.filter((d) => d.id !== here).map((d) => el("option", { value: d.id }, d.name)));
    const replied = ticket.contacts.some((c) => c.kind === "reply");
    $("f-promote-send").disabled = !replied;
    if (!$("f-promote-question").value) $("f-promote-question").value = (ticket.question || "").slice(0, 500);
  }

  // A specialist hears recordings only when a supervisor granted it (else 403): then the ticket's recordings.
  async function loadRecordings(id) {
    if ($("d-recordings").dataset.mayHear !== "1") return;
    let recordings = [];
    try { recordings = (await api("GET", `/api/recordings?ticket=${id}`)).recordings; } catch (_) { recordings = []; }
    const playable = recordings.filter((rec) => rec.audio_url);
    $("d-recordings").hidden = playable.length === 0;
    replace($("d-recording-list"), playable.map((rec) => el("li", { dataset: { recording: rec.recording_id } },
      `${localTime(rec.started_at)} `, el("audio", { controls: true, preload: "none", src: rec.audio_url }))));
  }

  async function open(id) {
    try {
      ticket = await api("GET", `/api/desk/tickets/${id}`);
      $("f-promote-question").value = "";
      $("d-status-line").textContent = "";
      drawTicket();
      loadRecordings(id);
    } catch (error) {
      $("desk-list-status").textContent = `${t("desk.failed")}: ${error.message}`;
    }
  }

  function problems(error) {
    const data = error.data || {};
    return (data.problems || []).length ? data.problems.map((p) => `${p.field} ${p.problem}`).join("; ") : (data.message || error.message);
  }

  // One action: POST the form's fields, show the outcome, then redraw the ticket and the list.
  function action(formId, path, body, done) {
    $(formId).addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!ticket) return;
      const form = event.target;
      const line = $("d-status-line");
      line.dataset.error = "";
      try {
        const result = await api("POST", `/api/desk/tickets/${ticket.id}/${path}`, body(form));
        line.textContent = done(result);
        form.reset();
        await load();
        if (path === "handoff") { ticket = null; $("desk-detail").hidden = true; return; }
        await open(ticket.id);
        line.textContent = done(result);
      } catch (error) {
        line.dataset.error = (error.data && error.data.error) || String(error.status || "");
        line.textContent = `${t("desk.failed")}: ${problems(error)}`;
      }
    });
  }

  action("f-reply", "reply", (f) => ({ text: f.text.value }), () => t("desk.replied"));
  action("f-ask", "callback", (f) => ({ note: f.note.value }), () => t("desk.asked"));
  action("f-handoff", "handoff", (f) => ({ department_id: Number(f.department_id.value), note: f.note.value }), () => t("desk.handed"));
  action("f-finding", "finding", (f) => ({ text: f.text.value }), () => t("desk.found"));
  action("f-promote", "promote", (f) => (f.question.value.trim() ? { question: f.question.value.trim() } : {}),
    (entry) => t("desk.promoted", { id: entry.id }));

  // Supervisors: the specialists, their departments and the recordings grant.
  async function loadSpecialists() {
    const data = await api("GET", "/api/desk/specialists");
    $("desk-specialists").hidden = false;
    replace($("desk-specialist-list").tBodies[0], data.specialists.map((spec) => el("tr", { dataset: { user: spec.username } },
      el("td", {}, spec.username), el("td", {}, spec.display_name || "–"),
      el("td", {}, spec.departments.map((d) => d.name + (d.is_head ? "*" : "")).join(", ") || "–"),
      el("td", {}, spec.may_hear_recordings ? "✓" : "✗"),
      el("td", {}, el("button", { type: "button", class: "small", onclick: () => grant(spec) },
        t(spec.may_hear_recordings ? "users.revoke_recordings" : "users.grant_recordings"))))));
  }

  async function grant(spec) {
    try {
      await api("PUT", `/api/desk/specialists/${spec.id}`, { may_hear_recordings: !spec.may_hear_recordings });
      $("desk-specialists-status").textContent = "";
    } catch (error) {
      $("desk-specialists-status").textContent = `${t("desk.failed")}: ${error.message}`;
    }
    loadSpecialists();
  }

  if (["supervisor", "admin"].includes(document.body.dataset.role)) loadSpecialists().catch(() => {});
  $("live-status").hidden = true; // the desk has no live channel: it reloads
  $("desk-view").addEventListener("change", load);
  $("desk-reload").addEventListener("click", load);
  document.addEventListener("hotline:lang", () => { drawList(); drawTicket(); });
  api("GET", "/api/desk/departments").then((data) => { departments = data.departments; drawTicket(); }).catch(() => {});
  load();
  setInterval(load, 60_000); // new escalations and the ladder's climbs show within a minute
})();
