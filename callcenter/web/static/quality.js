// Quality review over /api/quality: supervisors list the week's calls to review, open one (recording
// beside the ticket) and score it on the form; operators read their own reviews (我的质检).
// Everything the server sends is drawn with textContent (Hotline.el), never as markup.
"use strict";

(() => {
  const { t, api, el, localTime, replace, problemText, say } = Hotline;
  const $ = (id) => document.getElementById(id);
  let form = null; // {version, items: [{key, label_zh, label_en, max_points}], forbidden_phrases}
  let current = null; // the ticket id on the review panel

  const label = (item) => (Hotline.lang === "zh" ? item.label_zh : item.label_en);
  const total = (value) => (value === null || value === undefined ? "–" : `${value.toFixed(1)}%`);
  const player = (id) => (id ? el("audio", { controls: true, preload: "none", src: `/api/recordings/${id}/audio` }) : t("quality.no_recording"));

  function scoreText(scores) {
    return form.items.filter((i) => i.key in scores).map((i) => `${label(i)} ${scores[i.key]}/${i.max_points}`).join(" · ");
  }

  async function loadWeek(event) {
    event && event.preventDefault();
    const week = $("week-form").week.value;
    try {
      const data = await api("GET", `/api/quality/calls${week ? `?week=${week}` : ""}`);
      if (!week) $("week-form").week.value = data.week;
      replace($("quality-calls").tBodies[0], data.calls.map((call) => el("tr", { dataset: { ticket: call.ticket_id } },
        el("td", {}, call.ticket_id), el("td", {}, call.agent_id), el("td", {}, localTime(call.answered_at)),
        el("td", { class: "why" }, call.reasons.map((r) => t(`quality.reason.${r}`)).join(" · ")),
        el("td", {}, call.recording_id ? t("quality.has_recording") : t("quality.no_recording")),
        el("td", { class: "reviewed" }, call.reviewed ? total(call.total) : t("quality.not_reviewed")),
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => open(call.ticket_id) }, t("quality.review"))))));
      say("week-status", data.calls.length ? t("quality.count", { n: data.calls.length }) : t("quality.none"), true);
    } catch (error) {
      say("week-status", problemText(error), false);
    }
  }

  async function open(ticketId) {
    try {
      const call = await api("GET", `/api/quality/calls/${ticketId}`);
      current = ticketId;
      const ticket = call.ticket;
      $("review-title").textContent = t("quality.review_of", { id: ticketId });
      replace($("review-player"), player(call.recording_id));
      $("r-agent").textContent = call.agent_id;
      $("r-time").textContent = localTime(call.answered_at);
      $("r-category").textContent = ticket.category ? t(`wo.${ticket.category}`) : "–";
      $("r-question").textContent = ticket.notes || "–";
      replace($("r-history"), ticket.contacts.map((c) => el("li", {}, `${localTime(c.at)} ${c.kind} ${c.agent_id || ""} ${c.outcome || ""} ${c.text || ""}`)));
      const scores = call.review ? call.review.scores : {};
      replace($("r-items"), form.items.map((item) => el("label", {},
        el("span", {}, `${label(item)} (0–${item.max_points})`),
        el("input", { type: "number", name: item.key, min: 0, max: item.max_points, step: 1, required: true,
                      value: item.key in scores ? scores[item.key] : "" }))));
      $("review-form").comments.value = call.review ? call.review.comments : "";
      say("review-status", call.review ? t("quality.saved_total", { total: total(call.review.total) }) : "", true);
      $("review").hidden = false;
      $("review").scrollIntoView();
    } catch (error) {
      say("week-status", problemText(error), false);
    }
  }

  async function save(event) {
    event.preventDefault();
    const scores = {};
    for (const item of form.items) {
      const raw = $("review-form").elements[item.key].value;
      if (raw !== "") scores[item.key] = Number(raw);
    }
    try {
      const review = await api("POST", `/api/quality/calls/${current}/review`,
                               { scores, comments: $("review-form").comments.value });
      say("review-status", t("quality.saved_total", { total: total(review.total) }), true);
      loadWeek();
    } catch (error) {
      say("review-status", problemText(error), false);
    }
  }

  async function loadMine() {
    try {
      const data = await api("GET", "/api/quality/reviews");
      replace($("my-reviews").tBodies[0], await Promise.all(data.reviews.map(async (review) => {
        let recording = null;
        try { recording = (await api("GET", `/api/quality/reviews/${review.id}`)).recording_id; } catch (_) { recording = null; }
        return el("tr", { dataset: { review: review.id } },
          el("td", {}, localTime(review.answered_at)), el("td", { class: "total" }, total(review.total)),
          el("td", {}, scoreText(review.scores)), el("td", { class: "comments" }, review.comments),
          el("td", {}, review.reviewer), el("td", {}, player(recording)));
      })));
      say("mine-status", data.reviews.length ? t("quality.count", { n: data.reviews.length }) : t("quality.none_mine"), true);
    } catch (error) {
      say("mine-status", problemText(error), false);
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    form = await api("GET", "/api/quality/form");
    if ($("quality").dataset.mine === "1") {
      loadMine();
      return;
    }
    $("r-forbidden").textContent = form.forbidden_phrases.map((p) => `“${p}”`).join(" ");
    $("week-form").addEventListener("submit", loadWeek);
    $("review-form").addEventListener("submit", save);
    loadWeek();
  });
})();
