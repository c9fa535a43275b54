// The farmer's phone page: a card per site, big numbers, a 24-hour chart (7 and 30 days on a tap), alerts to
// acknowledge, live updates, and the latest notices (what the phone was told) at the top.
"use strict";
(() => {
  const { t, get, post, ago } = QYB;
  const sites = new Map(); // id -> site as the API returns it
  const alerts = new Map(); // episode id -> episode
  const cards = new Map(); // id -> card element
  const risks = new Map(); // site id -> the day's disease and pest risks (computed by the collector)
  const NOTICES_SHOWN = 5;
  let notices = []; // newest first, as the stream's `notice` events bring them
  let me = null;

  const fmt = (v, digits) => (v == null ? "--" : v.toFixed(digits));

  function card(site) {
    let el = cards.get(site.id);
    if (!el) {
      el = document.getElementById("card").content.firstElementChild.cloneNode(true);
      el.id = `site-${site.id}`;
      document.getElementById("sites").append(el);
      cards.set(site.id, el);
    }
    return el;
  }

  function renderSite(site) {
    const el = card(site);
    el.dataset.status = site.status;
    el.querySelector(".name").textContent = site.name;
    el.querySelector(".crop").textContent = t(site.crop);
    el.querySelector(".pill").textContent = t(site.status);
    const by = Object.fromEntries(site.readings.map((r) => [r.metric, r]));
    for (const m of ["air_temp_c", "air_rh_pct", "soil_vwc_pct"]) {
      const box = el.querySelector(`[data-m=${m}]`);
      box.querySelector("b").textContent = fmt(by[m]?.value, m === "air_temp_c" ? 1 : 0);
      box.querySelector("small").textContent = t(m);
      box.dataset.status = by[m]?.status ?? "unknown";
      box.hidden = !by[m];
    }
    const vpd = el.querySelector("[data-m=vpd]");
    vpd.querySelector("b").textContent = fmt(site.vpd_kpa, 2);
    vpd.querySelector("small").textContent = t("vpd");
    vpd.hidden = !by.air_temp_c || !by.air_rh_pct;
    el.querySelector(".ago").textContent = ago(site.updated_ms);
    el.querySelector(".ago").dataset.ms = site.updated_ms ?? "";
    for (const b of el.querySelectorAll(".ranges button")) {
      b.textContent = t(`r${b.dataset.r}`);
      b.onclick = () => chart(sites.get(site.id), b.dataset.r);
    }
    renderAlerts(site.id);
    renderRisks(site.id);
  }

  // disease and pest risks of the newest computed day; "none" is left out (it is also what other crops get);
  // the stage estimated from degree-days is a plain line beside them
  function renderRisks(siteId) {
    const el = cards.get(siteId);
    if (!el) return;
    const ul = el.querySelector(".risks");
    ul.replaceChildren();
    const zh = QYB.lang() === "zh";
    const words = { phenology: ["物候", "Stage"], irrigation: ["灌溉", "Water"] };
    for (const r of (risks.get(siteId) || []).filter((r) => words[r.model] && r.risk >= 0)) {
      const li = document.createElement("li");
      li.dataset.model = r.model;
      if (r.model === "irrigation") li.dataset.risk = r.risk; // how soon: coloured like a risk
      li.textContent = `${words[r.model][zh ? 0 : 1]}：${zh ? r.note_zh : r.note_en}`;
      if (r.valve_mode === "automatic") li.append(t("auto"));
      if (r.valve_mode === "confirm" && r.valve_minutes > 0) li.append(waterButton(siteId, r.valve_minutes));
      ul.append(li);
    }
    for (const r of (risks.get(siteId) || []).filter((r) => r.risk !== 0 && !words[r.model])) {
      const li = document.createElement("li");
      li.dataset.risk = r.risk;
      li.dataset.model = r.model;
      li.textContent = zh ? `${r.model_zh}风险：${r.risk_zh}（${r.day}）` : `${r.model_en} risk: ${r.risk_en} (${r.day})`;
      ul.append(li);
    }
  }

  // 确认灌溉: ask the block's valve to open for the advised time; the collector checks every interlock
  const asked = new Map(); // site id -> what the tap got (kept across re-renders)
  function waterButton(siteId, minutes) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "water";
    const done = asked.get(siteId);
    b.textContent = done ?? t("water", { n: minutes });
    b.disabled = !!done;
    // the card re-renders on every live reading: the tap's state lives in `asked`, and the answer re-renders the
    // card, so a button drawn while the request is in flight is disabled and shows the answer once it comes
    b.onclick = async () => {
      asked.set(siteId, t("sending"));
      renderRisks(siteId);
      try {
        await post(`/api/v1/villages/${me.village}/sites/${siteId}/irrigation/request`, { minutes });
        asked.set(siteId, t("watering"));
      } catch (e) {
        asked.set(siteId, t("refused", { why: e.detail || e.message }));
      }
      renderRisks(siteId);
    };
    return b;
  }

  function renderAlerts(siteId) {
    const el = cards.get(siteId);
    if (!el) return;
    const ul = el.querySelector(".alerts");
    ul.replaceChildren();
    for (const a of [...alerts.values()].filter((a) => a.site === siteId && a.state === "firing").sort(QYB.byUrgency)) {
      const li = document.createElement("li");
      li.dataset.severity = a.severity;
      li.dataset.id = a.id;
      li.className = a.ack_by ? "acked" : "";
      const text = document.createElement("span");
      text.textContent = QYB.lang() === "zh" ? a.text_zh : a.text_en || a.text_zh;
      li.append(text, ackButton(a));
      ul.append(li);
    }
  }

  function ackButton(a) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "ack";
    b.textContent = a.ack_by ? t("acked") : t("ack");
    b.disabled = !!a.ack_by;
    b.onclick = async () => {
      b.disabled = true;
      try {
        const done = await post(`/api/v1/villages/${me.village}/alerts/${encodeURIComponent(a.id)}/ack`);
        alerts.set(done.id, done);
        renderAlerts(done.site);
        renderNotices();
      } catch (e) { b.disabled = false; }
    };
    return b;
  }

  const noticesKey = () => `qyb_notices:${me.id}`;
  function renderNotices() {
    const ul = document.getElementById("notices");
    ul.replaceChildren();
    ul.hidden = !notices.length;
    const zh = QYB.lang() === "zh";
    for (const n of notices) {
      const li = document.createElement("li");
      li.dataset.id = n.id;
      li.dataset.state = n.state.split("-")[0]; // repeat-2 -> repeat
      li.dataset.severity = n.severity;
      const text = document.createElement("p");
      const when = document.createElement("time");
      const d = new Date(n.ts_ms);
      when.textContent = d.toLocaleString(zh ? "zh-CN" : "en", Date.now() - n.ts_ms > 20 * 3600e3
        ? { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" });
      text.append(when, " ", zh ? n.text_zh : n.text_en || n.text_zh);
      li.append(text);
      const a = alerts.get(n.episode); // still firing: it can be acknowledged from here
      if (a && a.state === "firing" && li.dataset.state !== "resolved") {
        li.className = a.ack_by ? "acked" : "";
        li.append(ackButton(a));
      }
      const x = document.createElement("button");
      x.type = "button";
      x.className = "x";
      x.textContent = "×";
      x.title = t("dismiss");
      x.setAttribute("aria-label", t("dismiss"));
      x.onclick = () => { notices = notices.filter((m) => m.id !== n.id); keepNotices(); renderNotices(); };
      li.append(x);
      ul.append(li);
    }
  }
  function keepNotices() {
    try { localStorage.setItem(noticesKey(), JSON.stringify(notices)); } catch (e) { /* full */ }
  }

  // today's 24 hours on load; 7 and 30 days only when tapped (a few KB each, from the store's rollups)
  function chart(site, range) {
    const el = card(site);
    const box = el.querySelector(".chart");
    const r = range || box.dataset.range || "24h";
    el.querySelectorAll(".ranges button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.r === r)));
    return QYB.chart(box, me.village, site, r, 150);
  }

  async function load() {
    me = await get("/api/v1/me");
    document.getElementById("who").textContent = `${me.village_name} · ${me.name}`;
    const list = await get(`/api/v1/villages/${me.village}/sites`);
    const active = await get(`/api/v1/villages/${me.village}/alerts`).catch(() => []);
    for (const a of active) alerts.set(a.id, a);
    const dayRisks = await get(`/api/v1/villages/${me.village}/risks`).catch(() => []);
    for (const r of dayRisks) risks.set(r.site, [...(risks.get(r.site) || []), r]);
    for (const s of list) { sites.set(s.id, s); renderSite(s); }
    try { notices = JSON.parse(localStorage.getItem(noticesKey()) || "[]"); } catch (e) { notices = []; }
    renderNotices();
    list.forEach((s) => chart(s));
  }

  function live() {
    QYB.live(me.village, (es) => {
      es.addEventListener("site", (ev) => {
        const s = JSON.parse(ev.data);
        const had = sites.get(s.id);
        sites.set(s.id, s);
        renderSite(s);
        QYB.keep(`/api/v1/villages/${me.village}/sites`, [...sites.values()]);
        const el = cards.get(s.id);
        const days = (el.querySelector(".chart").dataset.range || "24h") !== "24h"; // a new reading hardly shows
        if (had && had.updated_ms !== s.updated_ms && !days && Date.now() - (el.dataset.charted || 0) > 300000) {
          el.dataset.charted = Date.now();
          chart(s);
        }
      });
      const keepAlerts = () => QYB.keep(`/api/v1/villages/${me.village}/alerts`, [...alerts.values()]);
      es.addEventListener("alert", (ev) => {
        const a = JSON.parse(ev.data);
        alerts.set(a.id, a);
        renderAlerts(a.site);
        renderNotices();
        keepAlerts();
      });
      es.addEventListener("alert_ended", (ev) => {
        const { id } = JSON.parse(ev.data);
        const a = alerts.get(id);
        alerts.delete(id);
        if (a) renderAlerts(a.site);
        renderNotices();
        keepAlerts();
      });
      // what the phone was told (the outbox's feed); the browser resumes after the last id when it reconnects
      es.addEventListener("notice", (ev) => {
        const n = JSON.parse(ev.data);
        if (notices.some((m) => m.id === n.id)) return;
        notices = [n, ...notices].slice(0, NOTICES_SHOWN);
        keepNotices();
        renderNotices();
      });
    });
  }

  const rerender = () => { for (const s of sites.values()) renderSite(s); if (me) renderNotices(); };
  QYB.setupLang(rerender);
  setInterval(() => document.querySelectorAll(".ago").forEach((p) => {
    p.textContent = ago(p.dataset.ms ? Number(p.dataset.ms) : null);
  }), 30000);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  if (!QYB.token) { document.getElementById("login").hidden = false; return; }
  load().then(live).catch(() => { document.getElementById("login").hidden = false; });
})();
