// The secretary's overview: every site coloured by status, village alerts and who has not acknowledged,
// sensor health, a site's temperature over 7 or 30 days, and the monthly summary for the notice board.
"use strict";
(() => {
  const { t, get, ago } = QYB;
  const EXTRA = {
    zh: { overview: "全村总览", greenhouses: "温棚", orchards: "果园", active_alerts: "进行中的告警", site: "地块",
      alert: "告警", since: "开始", ack_state: "确认", health: "设备健康", device: "设备", state: "状态",
      last_seen: "最后上报", battery: "电池", summary: "月度汇总（村务公开）", print: "打印", crop: "作物",
      hours_out: "超出适宜范围（小时）", alerts: "告警次数", critical_n: "其中危险", median_ack: "确认用时中位数（分钟）",
      not_acked: "未确认：", acked_by: "已确认：", offline_dev: "离线", low_battery: "电量低", all_ok: "全部正常",
      collector_silent: "采集程序没有应答：可能已停止运行，传感器数据没有入库。", risks: "病虫害风险", risk: "风险",
      high_risk_days: "病虫害高风险天数", no_risk: "没有中、高风险的地块", risk_of: "数据日期：",
      stages: "物候期（积温估计）", history: "温度历史", printed: "打印日期：", seal: "村委会（盖章）",
      signer: "负责人签字", sign_date: "日期" },
    en: { overview: "Village overview", greenhouses: "Greenhouses", orchards: "Orchards", active_alerts: "Active alerts",
      site: "Site", alert: "Alert", since: "Since", ack_state: "Acknowledged", health: "Sensor health",
      device: "Device", state: "State", last_seen: "Last seen", battery: "Battery", summary: "Monthly summary",
      print: "Print", crop: "Crop", hours_out: "Hours out of range", alerts: "Alerts", critical_n: "Critical",
      median_ack: "Median time to ack (min)", not_acked: "Not acknowledged: ", acked_by: "Acknowledged: ",
      offline_dev: "offline", low_battery: "low battery", all_ok: "all healthy",
      collector_silent: "the collector does not answer: it may have stopped, and no readings are stored.",
      risks: "Disease and pest risk", risk: "Risk", high_risk_days: "Days at high disease/pest risk",
      no_risk: "no site at moderate or high risk", risk_of: "for ", stages: "Stage from degree-days",
      history: "Temperature history", printed: "Printed: ", seal: "Village committee (seal)",
      signer: "Signature of the person in charge", sign_date: "Date" },
  };
  const tx = (k) => (EXTRA[QYB.lang()] || EXTRA.zh)[k] ?? t(k);
  const sites = new Map();
  const alerts = new Map();
  let me = null;
  let people = [];
  const names = {};
  const time = (ms) => new Date(ms).toLocaleString(QYB.lang() === "zh" ? "zh-CN" : "en", { month: "numeric",
    day: "numeric", hour: "2-digit", minute: "2-digit" });
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };

  function tile(s) {
    let el = document.getElementById(`tile-${s.id}`);
    if (!el) {
      el = document.createElement("div");
      el.id = `tile-${s.id}`;
      el.className = "tile";
      document.getElementById(`grid-${s.kind}`).append(el);
    }
    el.dataset.status = s.status;
    const temp = s.readings.find((r) => r.metric === "air_temp_c");
    const soil = s.readings.find((r) => r.metric === "soil_vwc_pct");
    el.replaceChildren();
    const b = document.createElement("b"); b.textContent = s.name;
    const v = document.createElement("span"); v.className = "t";
    v.textContent = temp?.value != null ? `${temp.value.toFixed(1)}°C` : soil?.value != null ? `${soil.value.toFixed(0)}%` : "--";
    const c = document.createElement("small"); c.textContent = `${t(s.crop)} · ${t(s.status)}`;
    el.title = `${s.name} ${ago(s.updated_ms)}`;
    el.append(b, v, c);
  }

  function responsible(siteId) {
    const site = sites.get(siteId);
    return people.filter((p) => p.role === "farmer" && ((site && site.owner && p.household === site.owner)
      || p.sites.includes(siteId) || p.watch.includes(siteId))).map((p) => p.name);
  }

  function renderAlerts() {
    const body = document.querySelector("#alerts tbody");
    body.replaceChildren();
    const firing = [...alerts.values()].filter((a) => a.state === "firing").sort(QYB.byUrgency);
    document.getElementById("alert-count").textContent = firing.length;
    for (const a of firing) {
      const tr = document.createElement("tr");
      tr.dataset.severity = a.severity;
      tr.dataset.id = a.id;
      const who = a.ack_by ? `${tx("acked_by")}${names[a.ack_by] || a.ack_by} ${time(a.ack_ms)}`
        : `${tx("not_acked")}${responsible(a.site).join("、") || "-"}`;
      tr.append(cell(a.site_name), cell(QYB.lang() === "zh" ? a.text_zh : a.text_en || a.text_zh),
        cell(time(a.fired_ms ?? a.started_ms)), cell(who, a.ack_by ? "" : "unacked"));
      body.append(tr);
    }
  }

  async function renderHealth() {
    const devices = await get(`/api/v1/villages/${me.village}/devices`);
    const bad = devices.filter((d) => d.status !== "ok");
    const body = document.querySelector("#health tbody");
    body.replaceChildren();
    document.getElementById("health-count").textContent = bad.length;
    const label = { offline: tx("offline_dev"), low_battery: tx("low_battery"), stale: t("stale"), unknown: t("unknown") };
    for (const d of bad) {
      const tr = document.createElement("tr");
      tr.dataset.status = d.status;
      tr.append(cell(`${sites.get(d.site)?.name ?? d.site} ${d.id}`), cell(label[d.status] || d.status),
        cell(ago(d.last_seen_ms)), cell(d.battery_v != null ? `${d.battery_v.toFixed(2)} V` : "-"));
      body.append(tr);
    }
    if (!bad.length) { const tr = document.createElement("tr"); tr.append(cell(tx("all_ok"))); body.append(tr); }
  }

  async function renderSummary() {
    const month = document.getElementById("month").value;
    const s = await get(`/api/v1/villages/${me.village}/summary?month=${month}`);
    document.getElementById("summary-title").textContent = `${s.village_name} ${s.month} ${tx("summary")}`;
    const body = document.querySelector("#summary tbody");
    body.replaceChildren();
    for (const r of s.sites) {
      const tr = document.createElement("tr");
      tr.append(cell(r.name), cell(t(r.crop)), cell(r.hours_out_of_range.toFixed(1)), cell(r.alerts),
        cell(r.critical), cell(r.median_ack_min == null ? "-" : r.median_ack_min.toFixed(0)),
        cell(r.high_risk_days == null ? "-" : r.high_risk_days, r.high_risk_days ? "high-risk" : ""));
      body.append(tr);
    }
  }

  // The printout's date (村务公开 needs it beside the signatures), in the page's language.
  function printDate() {
    document.getElementById("print-date").textContent = new Date().toLocaleDateString(
      QYB.lang() === "zh" ? "zh-CN" : "en", { year: "numeric", month: "long", day: "numeric" });
  }

  // One site's temperature over 7 or 30 days (hourly or 6-hourly buckets from the store's rollups).
  let histRange = "7d";
  function renderHistory() {
    document.querySelectorAll("#history-panel .ranges button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.r === histRange));
    });
    const site = sites.get(document.getElementById("hist-site").value);
    return site ? QYB.chart(document.getElementById("history"), me.village, site, histRange, 260) : null;
  }
  function setupHistory() {
    const select = document.getElementById("hist-site");
    select.replaceChildren(...[...sites.values()].map((s) => new Option(s.name, s.id)));
    select.onchange = renderHistory;
    document.querySelectorAll("#history-panel .ranges button").forEach((b) => {
      b.onclick = () => { histRange = b.dataset.r; renderHistory(); };
    });
    renderHistory();
  }

  // The newest computed day's disease and pest risks: the sites at moderate or high, the highest first.
  async function renderRisks() {
    const all = await get(`/api/v1/villages/${me.village}/risks`);
    const rows = all.filter((r) => r.risk >= 2 && r.model !== "phenology" && r.model !== "irrigation");
    const zh = QYB.lang() === "zh";
    renderStages(all.filter((r) => r.model === "phenology"), zh);
    const bySite = new Map();
    for (const r of rows) bySite.set(r.site, [...(bySite.get(r.site) || []), r]);
    const order = [...bySite.entries()].sort((a, b) => Math.max(...b[1].map((r) => r.risk))
      - Math.max(...a[1].map((r) => r.risk)) || a[0].localeCompare(b[0]));
    const body = document.querySelector("#risk-table tbody");
    body.replaceChildren();
    document.getElementById("risk-count").textContent = [...bySite.values()].filter((x) => x.some((r) => r.risk === 3)).length;
    document.getElementById("risk-day").textContent = rows.length ? `${tx("risk_of")}${rows[0].day}` : "";
    for (const [site, list] of order) {
      const tr = document.createElement("tr");
      tr.dataset.site = site;
      const ul = document.createElement("ul"); ul.className = "risks";
      for (const r of list.sort((a, b) => b.risk - a.risk)) {
        const li = document.createElement("li"); li.dataset.risk = r.risk; li.dataset.model = r.model;
        li.textContent = zh ? `${r.model_zh}：${r.risk_zh}` : `${r.model_en}: ${r.risk_en}`;
        ul.append(li);
      }
      const td = document.createElement("td"); td.append(ul);
      tr.append(cell(list[0].site_name), td);
      body.append(tr);
    }
    if (!order.length) { const tr = document.createElement("tr"); tr.append(cell(tx("no_risk"))); body.append(tr); }
  }

  // Each orchard's stage estimated from degree-days beside the configured one; more than one stage apart
  // is marked (the configured stage still sets the thresholds: someone should look at the block).
  function renderStages(list, zh) {
    const body = document.querySelector("#stage-table tbody");
    body.replaceChildren();
    let apart = 0;
    for (const r of list) {
      const tr = document.createElement("tr");
      tr.dataset.site = r.site;
      const off = r.detail.off_by ?? 0;
      if (off > 1 && r.risk === 0) { tr.className = "stage-off"; apart += 1; } // unknown: no estimate to disagree with
      tr.append(cell(r.site_name), cell(r.risk === -1 ? r.risk_zh : (zh ? r.note_zh : r.note_en) || ""));
      body.append(tr);
    }
    document.getElementById("stage-count").textContent = apart || "";
  }

  // The box's own problems (store, broker, collector), red and on top: they hide every other failure.
  async function renderProblems() {
    const p = await get(`/api/v1/villages/${me.village}/problems`);
    const lines = p.problems.map((x) => `${QYB.lang() === "zh" ? x.text_zh : x.text_en} · ${tx("since")} ${time(x.since_ms)}`);
    if (p.collector === "unreachable") lines.push(tx("collector_silent"));
    for (const c of p.box || []) lines.push(QYB.lang() === "zh" ? c.text_zh : c.text_en);
    const el = document.getElementById("problems");
    el.replaceChildren(...lines.map((text) => { const d = document.createElement("div"); d.textContent = text; return d; }));
    el.hidden = lines.length === 0;
  }

  async function load() {
    me = await get("/api/v1/me");
    document.getElementById("who").textContent = `${me.village_name} · ${me.name}`;
    people = await get(`/api/v1/villages/${me.village}/people`).catch(() => []);
    for (const p of people) names[p.id] = p.name;
    for (const s of await get(`/api/v1/villages/${me.village}/sites`)) { sites.set(s.id, s); tile(s); }
    // every active alert, not the list's default first 200: the badge counts them all
    for (const a of await get(`/api/v1/villages/${me.village}/alerts?limit=1000`).catch(() => [])) alerts.set(a.id, a);
    renderAlerts();
    const now = new Date();
    const month = document.getElementById("month");
    month.value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
    month.onchange = renderSummary;
    document.getElementById("print").onclick = () => window.print();
    printDate();
    window.addEventListener("beforeprint", printDate); // a page left open overnight prints today's date
    setupHistory();
    await Promise.all([renderHealth(), renderSummary().catch(() => {}), renderProblems().catch(() => {}),
      renderRisks().catch(() => {})]);
  }

  function live() {
    QYB.live(me.village, (es) => {
      es.addEventListener("site", (ev) => { const s = JSON.parse(ev.data); sites.set(s.id, s); tile(s); });
      es.addEventListener("alert", (ev) => { const a = JSON.parse(ev.data); alerts.set(a.id, a); renderAlerts(); });
      es.addEventListener("alert_ended", (ev) => { alerts.delete(JSON.parse(ev.data).id); renderAlerts(); });
    });
    setInterval(() => renderHealth().catch(() => {}), 60000);
    setInterval(() => renderProblems().catch(() => {}), 15000);
    setInterval(() => renderRisks().catch(() => {}), 300000); // the models run hourly
  }

  const applyLang = () => document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = tx(el.dataset.i18n); });
  const rerender = () => {
    applyLang(); for (const s of sites.values()) tile(s); renderAlerts();
    if (me) { renderRisks().catch(() => {}); renderSummary().catch(() => {}); printDate(); renderHistory(); }
  };
  QYB.setupLang(rerender);
  applyLang();
  if (!QYB.token) { document.getElementById("login").hidden = false; return; }
  load().then(live).catch(() => { document.getElementById("login").hidden = false; });
})();
