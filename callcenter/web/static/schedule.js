// The seasonal-message schedule, edited over the IVR's /api/ivr/rules.
"use strict";

(() => {
  const { t, api, el, replace } = Hotline;
  const $ = (id) => document.getElementById(id);

  async function load() {
    try {
      const [rules, preview] = await Promise.all([api("GET", "/api/ivr/rules"), api("GET", "/api/ivr/preview")]);
      $("preview").textContent = preview.messages.join("、") || "–";
      replace($("rules").tBodies[0], rules.rules.map((rule) => {
        const spec = rule.spec || rule;
        const box = el("textarea", { rows: 3 }, JSON.stringify(spec, null, 0));
        return el("tr", { dataset: { rule: rule.name } },
          el("td", {}, rule.name), el("td", {}, rule.origin || "–"), el("td", {}, box),
          el("td", { class: "actions" },
            el("button", { type: "button", class: "small", onclick: () => save(rule.name, box.value) }, t("schedule.save")),
            el("button", { type: "button", class: "small", onclick: () => remove(rule.name) }, t("schedule.delete"))));
      }));
    } catch (error) {
      $("schedule-status").textContent = error.message;
    }
  }

  async function save(name, text) {
    try {
      await api("PUT", `/api/ivr/rules/${encodeURIComponent(name)}`, JSON.parse(text));
      $("schedule-status").textContent = t("schedule.saved");
    } catch (error) {
      $("schedule-status").textContent = error.message;
    }
    load();
  }

  async function remove(name) {
    try { await api("DELETE", `/api/ivr/rules/${encodeURIComponent(name)}`); } catch (error) { $("schedule-status").textContent = error.message; }
    load();
  }

  $("new-rule").addEventListener("submit", (event) => {
    event.preventDefault();
    let rule;
    try { rule = JSON.parse(event.target.rule.value); } catch (error) { $("schedule-status").textContent = error.message; return; }
    save(rule.name, JSON.stringify(rule));
  });
  document.addEventListener("hotline:lang", load);
})();
