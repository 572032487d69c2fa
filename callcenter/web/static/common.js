// Shared by every page: translations, the CSRF-carrying fetch, the live websocket, DOM helpers.
// Everything is drawn with textContent: no text from the server ever becomes markup.
"use strict";

const Hotline = (() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  let lang = localStorage.getItem("hotline.lang") || "zh";
  let clockOffset = 0; // server time - browser time, seconds

  function t(key, vars) {
    const table = HOTLINE_I18N[lang] || HOTLINE_I18N.zh;
    let text = table[key] ?? HOTLINE_I18N.zh[key] ?? key;
    for (const [name, value] of Object.entries(vars || {})) text = text.replaceAll(`{${name}}`, String(value));
    return text;
  }

  function applyLang() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-ph]")) node.placeholder = t(node.dataset.i18nPh);
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.textContent = lang === "zh" ? "English" : "中文";
    document.dispatchEvent(new CustomEvent("hotline:lang"));
  }

  function setLang(next) {
    lang = next;
    localStorage.setItem("hotline.lang", lang);
    applyLang();
  }

  async function api(method, url, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    if (response.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname);
      throw new Error("login required");
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.message) || response.statusText);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  // The live channel: reconnects with back-off; every message goes to onMessage(data).
  function connect(onMessage, onStatus, path = "/ws") {
    let delay = 500;
    let socket = null;
    const open = () => {
      socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`);
      socket.onopen = () => { delay = 500; onStatus && onStatus(true); };
      socket.onmessage = (event) => {
        const data = JSON.parse(event.data);
        if (typeof data.now === "number") clockOffset = data.now - Date.now() / 1000;
        onMessage(data);
      };
      socket.onclose = (event) => {
        onStatus && onStatus(false);
        if (event.code === 4401) { location.href = "/login"; return; }
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    open();
    return { send: (data) => socket && socket.readyState === 1 && socket.send(JSON.stringify(data)) };
  }

  // Server "now" in Unix seconds, as the page sees it.
  const now = () => Date.now() / 1000 + clockOffset;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
  }

  function localTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
  }

  // Text with the search terms wrapped in <mark>, built from text nodes only.
  function marked(text, terms) {
    const span = el("span");
    const wanted = (terms || []).filter(Boolean).map((term) => term.toLowerCase());
    let rest = String(text || "");
    while (rest && wanted.length) {
      let best = -1, length = 0;
      for (const term of wanted) {
        const at = rest.toLowerCase().indexOf(term);
        if (at >= 0 && (best < 0 || at < best)) { best = at; length = term.length; }
      }
      if (best < 0) break;
      span.append(rest.slice(0, best), el("mark", {}, rest.slice(best, best + length)));
      rest = rest.slice(best + length);
    }
    span.append(rest);
    return span;
  }

  function replace(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  }

  // An API error as one line: its message, then each field's problem.
  function problemText(error) {
    const problems = (error.data && error.data.problems) || [];
    return [error.message, ...problems.map((p) => `${p.field}: ${p.problem}`)].join(" · ");
  }

  // A status line: the text, marked as a success or an error.
  function say(id, text, ok) {
    const line = document.getElementById(id);
    line.textContent = text;
    line.className = ok ? "ok" : "error";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.addEventListener("click", () => setLang(lang === "zh" ? "en" : "zh"));
    const rank = { specialist: 0, operator: 1, supervisor: 2, admin: 3 };
    const role = document.body.dataset.role;
    const mine = rank[role] ?? -1;
    for (const link of document.querySelectorAll("[data-min-role]")) {
      if ((rank[link.dataset.minRole] ?? 9) > mine) link.remove();
    }
    for (const link of document.querySelectorAll("[data-roles]")) {
      if (!link.dataset.roles.split(" ").includes(role)) link.remove();
    }
    applyLang();
  });

  return { t, api, connect, now, el, duration, localTime, percent, marked, replace, problemText, say, csrf, get lang() { return lang; } };
})();
