// Sampled satisfaction campaigns: draw a sample of closed tickets (preview first), follow the calls' progress.
"use strict";

(() => {
  const { t, api, el, replace } = Hotline;
  const $ = (id) => document.getElementById(id);
  const windows = (text) => text.split(/[,，\s]+/).filter(Boolean);
  const department = (row) => row.department || t("campaign.no_department");
  const dash = (value) => (value === null || value === undefined ? "–" : String(value));
  const day = (iso) => new Date(iso).toLocaleDateString("sv-SE"); // YYYY-MM-DD, the browser's (hospital's) day

  // Dates are the browser's local days (the hospital's): from the start of `from` to the end of `to`.
  function request(dryRun) {
    const form = $("campaign-form");
    const body = {
      from: new Date(`${form.from.value}T00:00:00`).toISOString(),
      to: new Date(`${form.to.value}T23:59:59`).toISOString(),
      dry_run: dryRun,
    };
    if (form.per_department.value) body.per_department = Number(form.per_department.value);
    if (form.share.value) body.share = Number(form.share.value) / 100;
    if (form.seed.value) body.seed = Number(form.seed.value);
    if (form.until.value) body.until = new Date(`${form.until.value}T23:59:59`).toISOString();
    if (form.name.value.trim()) body.name = form.name.value.trim();
    const chosen = {};
    if (form.workday.value.trim()) chosen.workday = windows(form.workday.value);
    if (form.holiday.value.trim()) chosen.holiday = windows(form.holiday.value);
    if (Object.keys(chosen).length) body.windows = chosen;
    return body;
  }

  async function submit(dryRun) {
    const form = $("campaign-form");
    if (!form.reportValidity()) return;
    $("campaign-status").textContent = "";
    $("campaign-status").className = "error";
    replace($("campaign-problems"));
    let report;
    try {
      report = await api("POST", "/api/campaigns", request(dryRun));
    } catch (error) {
      $("campaign-status").textContent = error.message;
      const problems = (error.data && error.data.problems) || [];
      replace($("campaign-problems"), problems.map((p) => el("li", {}, `${p.field}: ${p.problem}`)));
      return;
    }
    $("sample").hidden = false;
    $("sample-closed").textContent = report.closed;
    $("sample-drawn").textContent = report.drawn;
    $("sample-seed").textContent = report.seed;
    form.seed.value = report.seed; // the same seed draws the same sample when created after the preview
    replace($("sample-departments").tBodies[0], report.by_department.map((row) =>
      el("tr", {}, el("td", {}, department(row)), el("td", {}, row.closed), el("td", {}, row.drawn))));
    $("campaign-status").className = "";
    $("campaign-status").textContent = dryRun ? t("campaign.previewed") : t("campaign.created", { id: report.id });
    if (!dryRun) await load();
  }

  async function load() {
    let data;
    try {
      data = await api("GET", "/api/campaigns");
    } catch (error) {
      $("campaign-status").textContent = error.message;
      return;
    }
    replace($("campaigns").tBodies[0], data.campaigns.length ? data.campaigns.map((c) =>
      el("tr", { dataset: { campaign: c.id } },
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => show(c.id) }, c.name || `#${c.id}`)),
        el("td", {}, `${day(c.from)} – ${day(c.to)}`), el("td", {}, c.seed), el("td", {}, c.drawn),
        el("td", {}, c.called), el("td", {}, c.reached), el("td", {}, c.scored), el("td", {}, dash(c.mean)))) :
      el("tr", {}, el("td", { colspan: 8 }, t("campaign.none"))));
  }

  async function show(id) {
    let c;
    try {
      c = await api("GET", `/api/campaigns/${id}`);
    } catch (error) {
      $("campaign-status").textContent = error.message;
      return;
    }
    $("detail").hidden = false;
    $("detail-title").textContent = `${c.name} (${t("campaign.seed")} ${c.seed})`;
    replace($("detail-departments").tBodies[0], c.departments.map((row) =>
      el("tr", {}, el("td", {}, department(row)), el("td", {}, row.drawn), el("td", {}, row.called),
        el("td", {}, row.reached), el("td", {}, row.scored),
        ["1", "2", "3", "4", "5"].map((k) => el("td", {}, row.scores[k])), el("td", {}, dash(row.mean)))));
  }

  $("campaign-form").addEventListener("submit", (event) => { event.preventDefault(); submit(false); });
  $("preview").addEventListener("click", () => submit(true));
  load();
})();
