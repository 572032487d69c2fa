// The feedback ledger (台账) over /api/ledger: list with filters, one item with its history,
// measure/owner/deadline, the lifecycle moves, classification and the catalogue import.
// Everything the server sends is drawn with textContent (Hotline.el), never as markup.
"use strict";

(() => {
  const { t, api, el, localTime, replace, problemText, say } = Hotline;
  const $ = (id) => document.getElementById(id);
  const supervisor = ["supervisor", "admin"].includes(document.body.dataset.role);
  let departments = []; // [{id, name}]
  let catalogue = []; // [{id, department_id, code, item}]
  let current = null; // the item on the detail panel

  function departmentName(item) {
    return item.department || (item.department_id ? `#${item.department_id}` : t("ledger.unclassified"));
  }

  function query() {
    const form = $("ledger-filter");
    const params = new URLSearchParams();
    const department = form.department.value;
    if (department === "unclassified") params.set("unclassified", "true");
    else if (department) params.set("department_id", department);
    if (form.status.value) params.set("status", form.status.value);
    if (form.source.value) params.set("source", form.source.value);
    if (form.overdue.checked) params.set("overdue", "true");
    if (form.institution.value.trim()) params.set("institution", form.institution.value.trim());
    return params.toString();
  }

  async function load(event) {
    event && event.preventDefault();
    try {
      const data = await api("GET", `/api/ledger/items?${query()}`);
      replace($("ledger-items").tBodies[0], data.items.map(row));
      say("ledger-status", data.items.length ? t("ledger.count", { n: data.items.length }) : t("ledger.none"), true);
    } catch (error) {
      say("ledger-status", problemText(error), false);
    }
  }

  function row(item) {
    return el("tr", { dataset: { id: item.id, status: item.status, overdue: item.overdue ? "yes" : "" } },
      el("td", {}, String(item.id)),
      el("td", {}, localTime(item.created_at)),
      el("td", {}, t(`ledger.source.${item.source}`) + (item.score ? ` (${item.score})` : "")),
      el("td", {}, departmentName(item)),
      el("td", { class: "description" }, item.description.length > 120 ? `${item.description.slice(0, 120)}…` : item.description),
      el("td", {}, item.owner || "–"),
      el("td", {}, item.deadline ? localTime(item.deadline) : "–",
        item.overdue ? el("span", { class: "badge overdue" }, ` ${t("ledger.overdue")}`) : null),
      el("td", {}, t(`ledger.status.${item.status}`)),
      el("td", { class: "actions" }, el("button", { type: "button", class: "small", dataset: { action: "open" },
        onclick: () => open(item.id) }, t("ledger.open_item"))));
  }

  async function open(id) {
    try {
      show(await api("GET", `/api/ledger/items/${id}`));
    } catch (error) {
      say("ledger-status", problemText(error), false);
    }
  }

  function localInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  function show(item) {
    current = item;
    $("ledger-detail").hidden = false;
    $("ledger-detail").dataset.id = String(item.id);
    $("ledger-detail").dataset.status = item.status;
    $("ledger-item-title").textContent = t("ledger.item", { id: item.id });
    $("item-status").textContent = t(`ledger.status.${item.status}`) + (item.overdue ? ` · ${t("ledger.overdue")}` : "");
    $("item-source").textContent = t(`ledger.source.${item.source}`) + (item.score ? ` (${t("ledger.score")} ${item.score})` : "");
    $("item-ticket").textContent = item.ticket_id ? `#${item.ticket_id}` : "–";
    $("item-department").textContent = departmentName(item);
    $("item-catalogue").textContent = item.catalogue ? `${item.catalogue.code} ${item.catalogue.item}` : "–";
    $("item-institution").textContent = item.institution || "–";
    $("item-description").textContent = item.description;
    const form = $("measure-form");
    form.measure.value = item.measure;
    form.owner.value = item.owner;
    form.deadline.value = localInput(item.deadline);
    const struck = item.status === "struck_off";
    for (const field of form.elements) field.disabled = struck;
    if (supervisor) {
      for (const field of $("classify-form").elements) field.disabled = struck;
      fillClassify(item);
    }
    const mine = supervisor ? item.allowed : item.allowed.filter((move) => move === "rectify");
    replace($("move-buttons"), mine.map((move) => el("button", { type: "button", dataset: { move },
      onclick: () => moveItem(move) }, t(`ledger.move.${move}`))));
    $("item-status-line").textContent = "";
    replace($("item-events").tBodies[0], item.events.map(eventRow));
  }

  // A status move shows "from → to" and its note; the first step the source; a change what it set.
  function eventRow(e) {
    const status = (s) => t(`ledger.status.${s}`);
    let change, note = e.text;
    if (e.from_status) change = `${status(e.from_status)} → ${status(e.to_status)}`;
    else if (e.to_status) { change = t("ledger.event.open"); note = t(`ledger.source.${e.text}`); }
    else {
      const details = e.details || {};
      change = t(`ledger.event.${e.text === "classified" ? "classified" : "updated"}`);
      if (e.text === "classified") note = [details.names?.department, details.names?.catalogue].filter(Boolean).join(" · ");
      else note = Object.entries(details.after || {}).map(([k, v]) => `${t(`ledger.${k}`)}: ${k === "deadline" && v ? localTime(v) : v || "–"}`).join(" · ");
    }
    return el("tr", {}, el("td", {}, localTime(e.at)), el("td", {}, e.by || "–"), el("td", {}, change), el("td", {}, note));
  }

  function fillClassify(item) {
    const form = $("classify-form");
    replace(form.department_id, departments.map((d) => el("option", { value: d.id }, d.name)));
    form.department_id.value = item.department_id ? String(item.department_id) : (departments[0] ? String(departments[0].id) : "");
    fillCatalogue(item.catalogue_id);
  }

  function fillCatalogue(selected) {
    const form = $("classify-form");
    const wanted = Number(form.department_id.value);
    replace(form.catalogue_id, el("option", { value: "" }, "–"),
      catalogue.filter((c) => c.department_id === wanted).map((c) => el("option", { value: c.id }, `${c.code} ${c.item}`)));
    form.catalogue_id.value = selected ? String(selected) : "";
  }

  async function act(promise) {
    try {
      show(await promise);
      say("item-status-line", t("ledger.saved"), true);
      load();
    } catch (error) {
      say("item-status-line", problemText(error), false);
    }
  }

  function moveItem(move) {
    const text = $("move-form").text.value.trim();
    $("move-form").text.value = "";
    act(api("POST", `/api/ledger/items/${current.id}/${move.replace("_", "-")}`, { text }));
  }

  function saveMeasure(event) {
    event.preventDefault();
    const form = event.target;
    const body = { measure: form.measure.value, owner: form.owner.value };
    if (form.deadline.value) body.deadline = new Date(form.deadline.value).toISOString();
    act(api("PATCH", `/api/ledger/items/${current.id}`, body));
  }

  function classify(event) {
    event.preventDefault();
    const form = event.target;
    const body = { department_id: Number(form.department_id.value) };
    if (form.catalogue_id.value) body.catalogue_id = Number(form.catalogue_id.value);
    act(api("POST", `/api/ledger/items/${current.id}/classify`, body));
  }

  async function createItem(event) {
    event.preventDefault();
    const form = event.target;
    try {
      const body = { description: form.description.value, institution: form.institution.value.trim() };
      if (form.department_id.value) body.department_id = Number(form.department_id.value);
      const item = await api("POST", "/api/ledger/items", body);
      form.reset();
      $("ledger-new-item").hidden = true;
      show(item);
      load();
    } catch (error) {
      say("ledger-status", problemText(error), false);
    }
  }

  async function importCatalogue(event) {
    event.preventDefault();
    const file = $("catalogue-file").files[0];
    replace($("catalogue-problems"));
    if (!file) return;
    const dry = event.target.dry_run.checked;
    const response = await fetch(`/api/ledger/catalogue/import${dry ? "?dry_run=true" : ""}`, {
      method: "POST", body: file, credentials: "same-origin",
      headers: { "X-CSRF-Token": Hotline.csrf, "Content-Type": "text/csv", Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      say("catalogue-status", data.message || response.statusText, false);
      replace($("catalogue-problems"), (data.problems || []).map((p) => el("li", {}, `${p.field}: ${p.problem}`)));
      return;
    }
    say("catalogue-status", t(dry ? "ledger.checked" : "ledger.imported", data), true);
    if (!dry) await loadCatalogue();
  }

  async function loadCatalogue() {
    if (!supervisor) return;
    catalogue = (await api("GET", "/api/ledger/catalogue")).catalogue;
  }

  async function start() {
    if (!supervisor) for (const node of document.querySelectorAll("[data-supervisor]")) node.remove();
    $("ledger-filter").addEventListener("submit", load);
    $("measure-form").addEventListener("submit", saveMeasure);
    $("ledger-close").addEventListener("click", () => { $("ledger-detail").hidden = true; current = null; });
    if (supervisor) {
      $("classify-form").addEventListener("submit", classify);
      $("classify-form").department_id.addEventListener("change", () => fillCatalogue(null));
      $("new-form").addEventListener("submit", createItem);
      $("ledger-new").addEventListener("click", () => { $("ledger-new-item").hidden = false; });
      $("catalogue-form").addEventListener("submit", importCatalogue);
      try {
        departments = (await api("GET", "/api/departments")).departments.map((d) => ({ id: d.id, name: d.name }));
        await loadCatalogue();
      } catch (error) {
        say("ledger-status", problemText(error), false);
      }
      for (const select of [$("ledger-filter").department, $("new-form").department_id]) {
        for (const d of departments) select.append(el("option", { value: d.id }, d.name));
      }
    }
    document.addEventListener("hotline:lang", () => current && show(current));
    await load();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
