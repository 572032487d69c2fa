// Account management for admins.
"use strict";

(() => {
  const { t, api, el, localTime, replace } = Hotline;
  const $ = (id) => document.getElementById(id);
  let users = [];
  let specialists = new Map(); // user id -> {departments, may_hear_recordings} (GET /api/desk/specialists)
  let departments = []; // GET /api/departments: names to ids

  // A specialist's departments as text: "心内科*, 皮肤科" (* = the department's head).
  const bindingText = (spec) => spec.departments.map((d) => d.name + (d.is_head ? "*" : "")).join(", ");

  function draw() {
    replace($("users").tBodies[0], users.map((u) => el("tr", { dataset: { user: u.username } },
      el("td", {}, u.username), el("td", {}, u.display_name || "–"), el("td", {}, t(`role.${u.role}`)),
      el("td", {}, u.agent_id || "–"),
      el("td", {}, u.active ? "✓" : "✗", u.locked ? ` · ${t("users.locked")}` : ""),
      el("td", { class: "departments" }, specialists.has(u.id) ? [bindingText(specialists.get(u.id)) || "–",
        specialists.get(u.id).may_hear_recordings ? ` · ${t("users.hears_recordings")}` : ""] : "–"),
      el("td", {}, localTime(u.last_login_at)),
      el("td", { class: "actions" },
        u.locked ? el("button", { type: "button", class: "small", onclick: () => act(`/api/admin/users/${u.id}/unlock`, "POST") }, t("users.unlock")) : null,
        el("button", { type: "button", class: "small", onclick: () => act(`/api/admin/users/${u.id}`, "PATCH", { active: !u.active }) }, t(u.active ? "users.disable" : "users.enable")),
        el("button", { type: "button", class: "small", onclick: () => reset(u) }, t("users.reset")),
        specialists.has(u.id) ? el("button", { type: "button", class: "small", onclick: () => bind(u) }, t("users.set_departments")) : null,
        specialists.has(u.id) ? el("button", { type: "button", class: "small", onclick: () => act(`/api/desk/specialists/${u.id}`, "PUT",
          { may_hear_recordings: !specialists.get(u.id).may_hear_recordings }) },
          t(specialists.get(u.id).may_hear_recordings ? "users.revoke_recordings" : "users.grant_recordings")) : null))));
  }

  async function load() {
    users = (await api("GET", "/api/admin/users")).users;
    specialists = new Map((await api("GET", "/api/desk/specialists")).specialists.map((spec) => [spec.id, spec]));
    departments = (await api("GET", "/api/departments")).departments;
    draw();
  }

  async function act(url, method, body) {
    try { await api(method, url, body); $("users-status").textContent = ""; }
    catch (error) { $("users-status").textContent = error.message; }
    load();
  }

  // Departments typed by name, comma-separated; a "*" after a name makes the specialist its head.
  function bind(user) {
    const typed = prompt(`${user.username}: ${t("users.departments_prompt")}`, bindingText(specialists.get(user.id)));
    if (typed === null) return;
    const chosen = [];
    for (const part of typed.split(/[,，、]/).map((p) => p.trim()).filter(Boolean)) {
      const name = part.replace(/\*$/, "").trim();
      const found = departments.find((d) => d.name === name);
      if (!found) { $("users-status").textContent = t("users.unknown_department", { name }); return; }
      chosen.push({ id: found.id, is_head: part.endsWith("*") });
    }
    act(`/api/desk/specialists/${user.id}`, "PUT", { departments: chosen });
  }

  function reset(user) {
    const password = prompt(`${user.username}: ${t("users.new_password")}`);
    if (password) act(`/api/admin/users/${user.id}/password`, "POST", { password });
  }

  $("add-user").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await api("POST", "/api/admin/users", Object.fromEntries(new FormData(form)));
      $("users-status").textContent = t("users.created");
      form.reset();
    } catch (error) {
      $("users-status").textContent = error.message;
    }
    load();
  });
  document.addEventListener("hotline:lang", draw);
  load();
})();
