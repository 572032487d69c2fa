// The knowledge-base editor over the work-order API's /api/kb: search, add, edit (with history), CSV.
"use strict";

(() => {
  const { t, api, el, localTime, marked, replace, csrf } = Hotline;
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["question", "answer", "keywords", "category", "department"];
  let editing = null; // the entry on the form (null: a new one)

  function status(id, text, ok) {
    $(id).textContent = text;
    $(id).className = ok ? "ok" : "error";
  }

  function rows(entries, terms) {
    replace($("kb-entries").tBodies[0], entries.map((entry) => el("tr", { dataset: { id: entry.id } },
      el("td", {}, String(entry.id)),
      el("td", { class: "question" }, marked(entry.question, terms)),
      el("td", { class: "answer" }, marked(entry.answer.length > 200 ? `${entry.answer.slice(0, 200)}…` : entry.answer, terms)),
      el("td", {}, entry.category || "–"),
      el("td", {}, entry.department || "–"),
      el("td", {}, entry.updated_at ? `${localTime(entry.updated_at)} ${entry.updated_by || ""}` : "–"),
      el("td", { class: "actions" }, el("button", { type: "button", class: "small", dataset: { action: "edit" },
        onclick: () => edit(entry.id) }, t("kbadmin.edit"))))));
    if (!entries.length) status("kb-admin-status", t("kbadmin.none"), true);
  }

  async function search(event) {
    event && event.preventDefault();
    const q = $("kb-admin-q").value.trim();
    if (!q) return listAll();
    try {
      const data = await api("GET", `/api/kb/search?q=${encodeURIComponent(q)}&limit=50`);
      status("kb-admin-status", t("kb.found", { n: data.results.length }), true);
      rows(data.results, data.terms || [q]);
    } catch (error) {
      status("kb-admin-status", error.message, false);
    }
  }

  async function listAll() {
    try {
      const data = await api("GET", "/api/kb/entries?limit=500");
      status("kb-admin-status", t("kbadmin.count", { n: data.total }), true);
      rows(data.entries, []);
    } catch (error) {
      status("kb-admin-status", error.message, false);
    }
  }

  function openEditor(entry) {
    editing = entry;
    const form = $("kb-form");
    for (const name of FIELDS) form[name].value = entry ? entry[name] || "" : "";
    $("kb-editor").hidden = false;
    $("kb-editor-title").textContent = entry ? t("kbadmin.editing", { id: entry.id }) : t("kbadmin.new");
    $("kb-editor").dataset.id = entry ? String(entry.id) : "";
    $("kb-delete").hidden = !entry;
    $("kb-form-status").textContent = "";
    replace($("kb-history").tBodies[0]);
    form.question.focus();
  }

  async function edit(id) {
    try {
      const [entry, history] = await Promise.all([api("GET", `/api/kb/entries/${id}`), api("GET", `/api/kb/entries/${id}/history`)]);
      openEditor(entry);
      showHistory(history.history);
    } catch (error) {
      status("kb-admin-status", error.message, false);
    }
  }

  // Each edit: when, who, and every field it changed as "before → after" (text only).
  function showHistory(history) {
    replace($("kb-history").tBodies[0], [...history].reverse().map((rev) => {
      const before = rev.before || {}, after = rev.after || {};
      const changed = Object.keys({ ...before, ...after }).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
      const lines = changed.map((key) => el("div", { dataset: { field: key } },
        el("b", {}, `${t(`kbadmin.${key}`) === `kbadmin.${key}` ? key : t(`kbadmin.${key}`)}: `),
        el("del", {}, before[key] === undefined || before[key] === null ? "–" : String(before[key])), " → ",
        el("ins", {}, after[key] === undefined || after[key] === null ? "–" : String(after[key]))));
      return el("tr", { dataset: { action: rev.action } },
        el("td", {}, localTime(rev.at)), el("td", { class: "who" }, rev.by || "–"),
        el("td", {}, t(`kbadmin.action.${rev.action}`)), el("td", { class: "changes" }, lines));
    }));
  }

  async function save(event) {
    event.preventDefault();
    const form = $("kb-form");
    const body = {};
    for (const name of FIELDS) {
      const value = form[name].value;
      if (!editing || value !== (editing[name] || "")) body[name] = value;
    }
    try {
      if (editing && !Object.keys(body).length) { status("kb-form-status", t("kbadmin.saved"), true); return; }
      const entry = editing ? await api("PATCH", `/api/kb/entries/${editing.id}`, body) : await api("POST", "/api/kb/entries", body);
      await edit(entry.id);
      status("kb-form-status", t("kbadmin.saved"), true);
      $("kb-form-status").dataset.saved = String(entry.id);
      $("kb-admin-q").value.trim() ? search() : listAll();
    } catch (error) {
      const problems = (error.data && error.data.problems) || [];
      status("kb-form-status", problems.length ? problems.map((p) => `${p.field} ${p.problem}`).join("; ") : error.message, false);
    }
  }

  async function remove() {
    if (!editing) return;
    try {
      await api("DELETE", `/api/kb/entries/${editing.id}`);
      status("kb-admin-status", t("kbadmin.deleted"), true);
      $("kb-editor").hidden = true;
      editing = null;
      listAll();
    } catch (error) {
      status("kb-form-status", error.message, false);
    }
  }

  // CSV import: the file's bytes as text/csv, all or nothing; problems are listed by line.
  async function importCsv() {
    const file = $("kb-import").files[0];
    if (!file) return;
    try {
      const response = await fetch("/api/kb/import", {
        method: "POST", credentials: "same-origin", body: await file.arrayBuffer(),
        headers: { "Content-Type": "text/csv", "X-CSRF-Token": csrf, Accept: "application/json" },
      });
      const data = await response.json();
      if (!response.ok) {
        const problems = (data.problems || []).map((p) => `${p.field} ${p.problem}`).join("; ");
        status("kb-admin-status", `${data.message}${problems ? `: ${problems}` : ""}`, false);
        return;
      }
      status("kb-admin-status", t("kbadmin.imported", data), true);
      listAll();
    } catch (error) {
      status("kb-admin-status", error.message, false);
    } finally {
      $("kb-import").value = "";
    }
  }

  // The words search uses: the supervisors' dictionary terms (a change re-cuts every entry) and synonym groups.
  const groupTerms = (value) => value.split(/[,，、;；\s]+/).map((term) => term.trim()).filter(Boolean);

  async function loadWords() {
    try {
      const data = await api("GET", "/api/kb/words");
      $("kb-shipped").textContent = t("kbwords.shipped", { n: data.shipped_terms });
      replace($("kb-terms"), data.terms.length ? data.terms.map((term) => el("li", { dataset: { id: term.id } },
        el("span", {}, term.word), " ",
        el("button", { type: "button", class: "small link", title: t("kbwords.delete"), dataset: { action: "delete-term" },
          onclick: () => wordsCall("DELETE", `/api/kb/terms/${term.id}`, undefined, "kbwords.term_deleted") }, "×")))
        : [el("li", { class: "none" }, t("kbwords.none"))]);
      replace($("kb-groups").tBodies[0], data.synonyms.map((group) => {
        const input = el("input", { value: group.terms.join("，"), maxlength: "200", "aria-label": t("kbwords.group") });
        return el("tr", { dataset: { id: group.id } },
          el("td", {}, input),
          el("td", {}, `${localTime(group.updated_at)} ${group.updated_by || ""}`),
          el("td", { class: "actions" },
            el("button", { type: "button", class: "small", dataset: { action: "save-group" },
              onclick: () => wordsCall("PUT", `/api/kb/synonyms/${group.id}`, { terms: groupTerms(input.value) }, "kbwords.saved") },
            t("kbwords.save")), " ",
            el("button", { type: "button", class: "small", dataset: { action: "delete-group" },
              onclick: () => wordsCall("DELETE", `/api/kb/synonyms/${group.id}`, undefined, "kbwords.deleted") },
            t("kbwords.delete"))));
      }));
    } catch (error) {
      Hotline.say("kb-words-status", Hotline.problemText(error), false);
    }
  }

  async function wordsCall(method, url, body, done) {
    try {
      await api(method, url, body);
      Hotline.say("kb-words-status", t(done), true);
      await loadWords();
      return true;
    } catch (error) {
      Hotline.say("kb-words-status", Hotline.problemText(error), false);
      return false;
    }
  }

  $("kb-term-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await wordsCall("POST", "/api/kb/terms", { word: $("kb-term").value.trim() }, "kbwords.term_added")) $("kb-term").value = "";
  });
  $("kb-group-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await wordsCall("POST", "/api/kb/synonyms", { terms: groupTerms($("kb-group").value) }, "kbwords.saved")) $("kb-group").value = "";
  });

  $("kb-search").addEventListener("submit", search);
  $("kb-all").addEventListener("click", () => { $("kb-admin-q").value = ""; listAll(); });
  $("kb-new").addEventListener("click", () => openEditor(null));
  $("kb-form").addEventListener("submit", save);
  $("kb-delete").addEventListener("click", remove);
  $("kb-cancel").addEventListener("click", () => { $("kb-editor").hidden = true; editing = null; });
  $("kb-import").addEventListener("change", importCsv);
  listAll();
  loadWords();
})();
