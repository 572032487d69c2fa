// Account management for admins.
"use strict";

(() => {
  const { t, api, el, localTime, replace } = Hotline;
  const $ = (id) => document.getElementById(id);
  let users = [];

  function draw() {
    replace($("users").tBodies[0], users.map((u) => el("tr", { dataset: { user: u.username } },
      el("td", {}, u.username), el("td", {}, u.display_name || "–"), el("td", {}, t(`role.${u.role}`)),
      el("td", {}, u.agent_id || "–"),
      el("td", {}, u.active ? "✓" : "✗", u.locked ? ` · ${t("users.locked")}` : ""),
      el("td", {}, localTime(u.last_login_at)),
      el("td", { class: "actions" },
        u.locked ? el("button", { type: "button", class: "small", onclick: () => act(`/api/admin/users/${u.id}/unlock`, "POST") }, t("users.unlock")) : null,
        el("button", { type: "button", class: "small", onclick: () => act(`/api/admin/users/${u.id}`, "PATCH", { active: !u.active }) }, t(u.active ? "users.disable" : "users.enable")),
        el("button", { type: "button", class: "small", onclick: () => reset(u) }, t("users.reset"))))));
  }

  async function load() {
    users = (await api("GET", "/api/admin/users")).users;
    draw();
  }

  async function act(url, method, body) {
    try { await api(method, url, body); $("users-status").textContent = ""; }
    catch (error) { $("users-status").textContent = error.message; }
    load();
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
