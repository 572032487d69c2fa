// 未诉先办: what callers asked more this week, and hotline messages made from knowledge-base entries.
"use strict";

(() => {
  const { t, api, el, replace, problemText, say } = Hotline;
  const $ = (id) => document.getElementById(id);
  const MAX = 240; // characters a spoken message may have (the API refuses more)
  const CATEGORIES = ["registration", "reports", "guidance", "medical", "urgent", "complaint", "suggestion",
    "lost_property", "billing", "hotline_12345", "other"];
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  let report = null, entry = null;

  const signed = (n) => (n > 0 ? `+${n}` : String(n));
  const cat = (key) => (key ? t(`wo.${key}`) : "–");

  async function load() {
    const form = $("period");
    const params = new URLSearchParams();
    if (form.from.value) params.set("from", form.from.value);
    if (form.to.value) params.set("to", form.to.value);
    try {
      report = await api("GET", `/api/prevention${params.size ? `?${params}` : ""}`);
      $("prevention-status").textContent = "";
    } catch (error) {
      $("prevention-status").textContent = error.message;
      return;
    }
    draw();
  }

  function draw() {
    if (!report) return;
    $("period-shown").textContent = `${report.period.from} – ${report.period.to}`;
    $("before-shown").textContent = `${report.before.from} – ${report.before.to}`;
    replace($("categories").tBodies[0], report.categories.length ? report.categories.map((row) =>
      el("tr", {}, el("td", {}, cat(row.category)), el("td", {}, row.before), el("td", {}, row.now),
        el("td", {}, signed(row.change)))) : el("tr", {}, el("td", { colspan: 4 }, t("prevention.none"))));
    replace($("entries").tBodies[0], report.entries.length ? report.entries.map((row) =>
      el("tr", { dataset: { entry: row.entry_id } }, el("td", {}, row.question), el("td", {}, row.category || "–"),
        el("td", {}, row.before), el("td", {}, row.now), el("td", {}, signed(row.change)),
        el("td", { class: "actions" }, el("button", { type: "button", class: "small make",
          onclick: () => start(row.entry_id) }, t("prevention.make"))))) :
      el("tr", {}, el("td", { colspan: 6 }, t("prevention.none"))));
    replace($("messages").tBodies[0], report.messages.length ? report.messages.map((m) =>
      el("tr", { dataset: { rule: m.rule } }, el("td", {}, m.rule), el("td", {}, cat(m.category)),
        el("td", {}, `${m.from} – ${m.to}`), el("td", {}, m.texts.zh || "–"),
        el("td", {}, m.effect.before), el("td", {}, m.effect.after), el("td", {}, signed(m.effect.change)))) :
      el("tr", {}, el("td", { colspan: 7 }, t("prevention.none"))));
  }

  // Step one: the texts, prefilled from the entry's answer (cut to what a spoken prompt may hold).
  async function start(entryId) {
    try {
      entry = await api("GET", `/api/kb/entries/${entryId}`);
    } catch (error) {
      $("prevention-status").textContent = error.message;
      return;
    }
    const form = $("step-text");
    $("maker-entry").textContent = `#${entry.id} ${entry.question}`;
    form.zh.value = entry.answer.slice(0, MAX);
    form.en.value = "";
    const when = $("step-when");
    const today = new Date().toISOString().slice(0, 10);
    when.first_day.value = today;
    when.last_day.value = new Date(Date.now() + 30 * 86400e3).toISOString().slice(0, 10);
    replace(when.category, el("option", { value: "" }, t("prevention.category_auto")),
      CATEGORIES.map((key) => el("option", { value: key }, cat(key))));
    for (const box of document.querySelectorAll("#weekdays input")) box.checked = false;
    counts();
    $("maker-status").textContent = "";
    $("maker-status").className = "error";
    $("maker").hidden = false;
    form.hidden = false;
    when.hidden = true;
    form.zh.focus();
  }

  function counts() {
    const form = $("step-text");
    $("count-zh").textContent = form.zh.value.length;
    $("count-en").textContent = form.en.value.length;
  }

  $("step-text").addEventListener("input", counts);
  $("step-text").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    if (!form.zh.value.trim() || !form.en.value.trim()) {
      $("maker-status").textContent = t("prevention.text_needed");
      return;
    }
    $("maker-status").textContent = "";
    form.hidden = true;
    $("step-when").hidden = false;
  });
  $("step-back").addEventListener("click", () => {
    $("step-when").hidden = true;
    $("step-text").hidden = false;
  });

  // Step two: when it plays; saving builds the prompt audio and adds the schedule rule.
  $("step-when").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target, text = $("step-text");
    const body = { entry_id: entry.id, texts: { zh: text.zh.value, en: text.en.value },
      first_day: form.first_day.value, last_day: form.last_day.value };
    const days = [...document.querySelectorAll("#weekdays input:checked")].map((box) => box.value);
    if (days.length) body.weekdays = days;
    if (form.time_from.value && form.time_to.value) body.times = `${form.time_from.value}-${form.time_to.value}`;
    if (form.category.value) body.category = form.category.value;
    $("maker-status").textContent = t("prevention.saving");
    $("maker-status").className = "";
    try {
      const made = await api("POST", "/api/prevention/messages", body);
      $("maker-status").textContent = t("prevention.saved", { rule: made.rule });
      $("maker-status").className = "ok";
      $("step-when").hidden = true;
      load();
    } catch (error) {
      say("maker-status", problemText(error), false);
    }
  });

  function weekdayBoxes() {
    const checked = new Set([...document.querySelectorAll("#weekdays input:checked")].map((box) => box.value));
    replace($("weekdays"), el("legend", { "data-i18n": "prevention.weekdays" }, t("prevention.weekdays")),
      DAYS.map((day, n) => el("label", { class: "inline" },
        el("input", { type: "checkbox", value: day, checked: checked.has(day) }), t(`day.${n + 1}`))));
  }

  $("period").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  document.addEventListener("hotline:lang", () => { weekdayBoxes(); draw(); });
  weekdayBoxes();
  load();
})();
