// The directory (/departments, supervisors): departments with their escalation contacts and the
// specialist accounts bound to them, edited over /api/departments and /api/specialists; the CSV
// import over /api/departments/import.  Everything the server sends is drawn with textContent
// (Hotline.el), never as markup.
"use strict";

(() => {
  const { t, api, el, replace, problemText, say } = Hotline;
  const $ = (id) => document.getElementById(id);
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  let departments = [];
  let accounts = {}; // department id -> [{username, display_name, is_head}]
  let current = null; // the department on the detail panel (null: a new one)

  function dutyText(duty) {
    const days = (duty && duty.weekdays) || [];
    const dayText = days.map((d) => t(`day.${DAYS.indexOf(d) + 1}`)).join(" ");
    const times = (duty && duty.times) || "";
    return [dayText, times].filter(Boolean).join(" ") || t("dir.always");
  }

  function accountText(list) {
    if (!list || !list.length) return t("dir.no_accounts");
    return list.map((a) => (a.display_name || a.username) + (a.is_head ? t("dir.head") : "")).join("、");
  }

  async function load() {
    try {
      const [directory, specialists] = await Promise.all([api("GET", "/api/departments"),
                                                          api("GET", "/api/desk/specialists")]);
      departments = directory.departments;
      accounts = {};
      for (const user of specialists.specialists) {
        for (const d of user.departments) {
          (accounts[d.id] = accounts[d.id] || []).push({ username: user.username, display_name: user.display_name,
                                                         is_head: d.is_head });
        }
      }
    } catch (error) {
      say("dept-status", problemText(error), false);
      return;
    }
    const rows = departments.map((d) => el("tr", { dataset: { id: d.id } },
      el("td", {}, d.name), el("td", {}, d.office_phone || "–"),
      el("td", {}, t(d.active ? "dir.yes" : "dir.no")),
      el("td", {}, d.specialists.map((s) => `${s.name} ${s.mobile}`).join("、") || "–"),
      el("td", {}, accountText(accounts[d.id])),
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => show(d) }, t("dir.edit")))));
    replace($("departments").tBodies[0], rows.length ? rows : el("tr", {}, el("td", { colspan: 6 }, t("dir.none"))));
    if (current) {
      const fresh = departments.find((d) => d.id === current.id);
      if (fresh) show(fresh, true);
    }
  }

  function show(dep, keepForm) {
    current = dep;
    $("dept-detail").hidden = false;
    $("dept-detail-title").textContent = dep ? dep.name : t("dir.new");
    const form = $("dept-form");
    if (!keepForm) {
      form.name.value = dep ? dep.name : "";
      form.office_phone.value = dep ? dep.office_phone : "";
      form.notes.value = dep ? dep.notes : "";
      form.active.checked = dep ? dep.active : true;
      say("dept-form-status", "", true);
      resetContact();
    }
    $("dept-contacts").hidden = !dep;
    if (!dep) return;
    replace($("contacts").tBodies[0], dep.specialists.map((s) => el("tr", { dataset: { id: s.id } },
      el("td", {}, s.rank), el("td", {}, s.name), el("td", {}, s.title || "–"), el("td", {}, s.mobile),
      el("td", {}, dutyText(s.duty)), el("td", {}, t(s.active ? "dir.yes" : "dir.no")),
      el("td", {},
        el("button", { type: "button", class: "link", onclick: () => editContact(s) }, t("dir.edit")), " ",
        el("button", { type: "button", class: "link", onclick: () => removeContact(s) }, t("dir.remove"))))));
  }

  async function saveDepartment(event) {
    event.preventDefault();
    const form = event.target;
    const body = { name: form.name.value.trim(), office_phone: form.office_phone.value.trim(),
                   notes: form.notes.value, active: form.active.checked };
    try {
      const saved = current ? await api("PATCH", `/api/departments/${current.id}`, body)
                            : await api("POST", "/api/departments", body);
      current = saved;
      say("dept-form-status", t("dir.saved"), true);
      await load();
      show(departments.find((d) => d.id === saved.id) || saved, true);
    } catch (error) {
      say("dept-form-status", problemText(error), false);
    }
  }

  function resetContact() {
    const form = $("contact-form");
    form.reset();
    form.id.value = "";
    $("contact-form-title").textContent = t("dir.add_contact");
    say("contact-status", "", true);
  }

  function editContact(s) {
    const form = $("contact-form");
    form.id.value = s.id;
    form.name.value = s.name;
    form.title.value = s.title;
    form.mobile.value = s.mobile;
    form.times.value = (s.duty && s.duty.times) || "";
    form.rank.value = s.rank;
    form.active.checked = s.active;
    const days = (s.duty && s.duty.weekdays) || [];
    for (const box of form.querySelectorAll('input[name="weekday"]')) box.checked = days.includes(box.value);
    $("contact-form-title").textContent = t("dir.edit_contact", { name: s.name });
    form.name.focus();
  }

  async function saveContact(event) {
    event.preventDefault();
    const form = event.target;
    const weekdays = [...form.querySelectorAll('input[name="weekday"]:checked')].map((box) => box.value);
    const duty = {};
    if (weekdays.length) duty.weekdays = weekdays;
    if (form.times.value.trim()) duty.times = form.times.value.trim();
    const body = { name: form.name.value.trim(), title: form.title.value.trim(), mobile: form.mobile.value.trim(),
                   duty, rank: Number(form.rank.value || 0), active: form.active.checked };
    try {
      if (form.id.value) await api("PATCH", `/api/specialists/${form.id.value}`, body);
      else await api("POST", `/api/departments/${current.id}/specialists`, body);
      resetContact();
      say("contact-status", t("dir.saved"), true);
      await load();
    } catch (error) {
      say("contact-status", problemText(error), false);
    }
  }

  async function removeContact(s) {
    if (!confirm(t("dir.remove_confirm", { name: s.name }))) return;
    try {
      await api("DELETE", `/api/specialists/${s.id}`);
      await load();
    } catch (error) {
      say("contact-status", problemText(error), false);
    }
  }

  async function importFile(event) {
    event.preventDefault();
    const file = $("import-file").files[0];
    replace($("import-problems"));
    if (!file) return;
    const dry = event.target.dry_run.checked;
    const response = await fetch(`/api/departments/import${dry ? "?dry_run=true" : ""}`, {
      method: "POST", body: file, credentials: "same-origin",
      headers: { "X-CSRF-Token": Hotline.csrf, "Content-Type": "text/csv", Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      say("import-status", data.message || response.statusText, false);
      replace($("import-problems"), (data.problems || []).map((p) => el("li", {}, `${p.field}: ${p.problem}`)));
      return;
    }
    say("import-status", t(dry ? "dir.checked" : "dir.imported", data), true);
    if (!dry) await load();
  }

  function start() {
    $("dept-new").addEventListener("click", () => show(null));
    $("dept-close").addEventListener("click", () => { $("dept-detail").hidden = true; current = null; });
    $("dept-form").addEventListener("submit", saveDepartment);
    $("contact-form").addEventListener("submit", saveContact);
    $("contact-cancel").addEventListener("click", resetContact);
    $("import-form").addEventListener("submit", importFile);
    document.addEventListener("hotline:lang", load);
    load();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
