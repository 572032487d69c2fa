// The rota: shifts and operators' skills, edited over /api/rota (effective as soon as saved).
"use strict";

(() => {
  const { t, api, el, replace } = Hotline;
  const $ = (id) => document.getElementById(id);
  let rota = null;

  const checkboxes = (name, values, chosen, label) => el("span", { class: "checks", dataset: { field: name } },
    values.map((value) => el("label", { class: "inline check" },
      el("input", { type: "checkbox", value: String(value), checked: chosen.includes(value) }), label(value))));
  const checked = (cell, field, asNumber) => [...cell.querySelectorAll(`[data-field='${field}'] input:checked`)]
    .map((input) => (asNumber ? Number(input.value) : input.value));

  function draw() {
    if (!rota) return;
    const names = Object.fromEntries(rota.agents.map((a) => [a.id, a.name]));
    const onDuty = rota.agents.filter((a) => a.shift);
    $("rota-now").textContent = onDuty.map((a) => `${a.id} ${a.name} (${a.shift})`).join("、") || "–";
    replace($("shifts").tBodies[0], rota.shifts.map((shift) => {
      const start = el("input", { type: "time", value: shift.start, required: true, "aria-label": t("rota.start") });
      const end = el("input", { type: "time", value: shift.end, required: true, "aria-label": t("rota.end") });
      const row = el("tr", { dataset: { shift: shift.name, origin: shift.origin } },
        el("td", {}, shift.name),
        el("td", {}, start), el("td", {}, end),
        el("td", {}, checkboxes("days", [1, 2, 3, 4, 5, 6, 7], shift.days, (d) => t(`day.${d}`))),
        el("td", {}, checkboxes("agents", rota.agents.map((a) => a.id), shift.agents, (id) => `${id} ${names[id] || ""}`)),
        el("td", {}, t(`rota.origin.${shift.origin}`), shift.updated_by ? el("small", { class: "muted" }, ` · ${shift.updated_by}`) : null),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "small", dataset: { action: "save" },
            onclick: () => save(shift.name, { start: start.value, end: end.value, days: checked(row, "days", true), agents: checked(row, "agents") }) },
          t("rota.save")),
          el("button", { type: "button", class: "small", dataset: { action: "delete" }, onclick: () => remove(shift.name) }, t("rota.delete"))));
      return row;
    }));
    const skills = [...new Set([...rota.menu_skills, ...rota.agents.flatMap((a) => a.skills)])];
    replace($("skills").tBodies[0], rota.agents.map((agent) => {
      const row = el("tr", { dataset: { agent: agent.id } },
        el("td", {}, `${agent.id} ${agent.name}`),
        el("td", {}, agent.shift || t("wb.not_scheduled")),
        el("td", {}, el("span", { class: "badge", dataset: { state: agent.state } }, t(`state.${agent.state}`))),
        el("td", {}, checkboxes("skills", skills, agent.skills, (s) => t(`skill.${s}`) === `skill.${s}` ? s : t(`skill.${s}`)),
          agent.skills_edited ? el("small", { class: "muted" }, ` (${t("rota.edited")})`) : null),
        el("td", { class: "actions" }, el("button", { type: "button", class: "small", dataset: { action: "skills" },
          onclick: () => saveSkills(agent.id, checked(row, "skills")) }, t("rota.save"))));
      return row;
    }));
  }

  async function load() {
    try {
      rota = await api("GET", "/api/rota");
      draw();
    } catch (error) {
      $("rota-status").textContent = error.message;
    }
  }

  function said(text, ok) {
    $("rota-status").textContent = text;
    $("rota-status").className = ok ? "ok" : "error";
  }

  async function save(name, shift) {
    try {
      await api("PUT", `/api/rota/shifts/${encodeURIComponent(name)}`, shift);
      said(t("rota.saved"), true);
    } catch (error) {
      said(`${name}: ${error.message}`, false);
    }
    await load();
  }

  async function remove(name) {
    if (!confirm(t("rota.confirm_delete", { name }))) return;
    try {
      await api("DELETE", `/api/rota/shifts/${encodeURIComponent(name)}`);
      said(t("rota.deleted"), true);
    } catch (error) {
      said(error.message, false);
    }
    await load();
  }

  async function saveSkills(agentId, skills) {
    try {
      await api("PUT", `/api/rota/agents/${encodeURIComponent(agentId)}/skills`, { skills });
      said(t("rota.saved"), true);
    } catch (error) {
      said(`${agentId}: ${error.message}`, false);
    }
    await load();
  }

  $("add-shift").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    save(form.name.value.trim(), { start: form.start.value, end: form.end.value, days: [1, 2, 3, 4, 5, 6, 7], agents: [] })
      .then(() => form.reset());
  });
  document.addEventListener("hotline:lang", draw);
  load();
  setInterval(load, 30000); // who is on duty moves with the clock
})();
