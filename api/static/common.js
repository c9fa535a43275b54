// Shared by the phone page and the overview: token, language, API calls with an offline cache.
"use strict";
const QYB = (() => {
  const T = {
    zh: { title: "晴雨表", login: "请用村里发给您的登录链接打开本页。", ok: "正常", warning: "注意", critical: "危险",
      stale: "数据中断", unknown: "无数据", offline: "网络断开，显示的是 {t} 的数据", ack: "我知道了", acked: "已确认",
      air_temp_c: "气温", air_rh_pct: "空气湿度", soil_vwc_pct: "土壤含水量", vpd: "饱和差 VPD", never: "还没有数据",
      now: "刚刚更新", min: "{n} 分钟前更新", hour: "{n} 小时前更新", day: "{n} 天前更新",
      tomato: "番茄", cucumber: "黄瓜", pepper: "辣椒", strawberry: "草莓", apple: "苹果", pear: "梨",
      greenhouse: "温棚", orchard: "果园", dismiss: "关闭", lang: "EN", water: "确认灌溉 {n} 分钟",
      sending: "正在发送…", watering: "已发送，阀门将打开", auto: "（自动灌溉）", refused: "不能开阀：{why}",
      r24h: "24小时", r7d: "7天", r30d: "30天", high: "最高", low: "最低" },
    en: { title: "Qingyubiao", login: "Open this page with the login link the village sent you.", ok: "OK",
      warning: "Warning", critical: "Critical", stale: "No data", unknown: "Unknown",
      offline: "Offline: showing data from {t}", ack: "Got it", acked: "Acknowledged",
      air_temp_c: "Air temp", air_rh_pct: "Humidity", soil_vwc_pct: "Soil moisture", vpd: "VPD", never: "no data yet",
      now: "updated just now", min: "updated {n} min ago", hour: "updated {n} h ago", day: "updated {n} d ago",
      greenhouse: "greenhouse", orchard: "orchard", dismiss: "Dismiss", lang: "中文", water: "Water {n} min",
      sending: "Sending…", watering: "Sent: the valve opens", auto: " (watered automatically)", refused: "Cannot open: {why}",
      r24h: "24 h", r7d: "7 days", r30d: "30 days", high: "high", low: "low" },
  };
  let lang = localStorage.getItem("qyb_lang") || "zh";
  const t = (k, vars) => {
    let s = T[lang][k] ?? T.zh[k] ?? k;
    for (const [n, v] of Object.entries(vars || {})) s = s.replace(`{${n}}`, v);
    return s;
  };
  // A login link carries the token in the #fragment (never sent to servers or logs): keep it, then hide it.
  const m = location.hash.match(/token=([\w-]+)/);
  if (m) {
    localStorage.setItem("qyb_token", m[1]);
    localStorage.removeItem("qyb_renewed");
    history.replaceState(null, "", location.pathname);
  }
  const token = localStorage.getItem("qyb_token");
  // A token lives half a year from its last renewal: opening the page (or the login link again) renews it,
  // at most once a day, so a farmer who uses the page never has to log in again.
  if (token && Date.now() - Number(localStorage.getItem("qyb_renewed") || 0) > 86400000) {
    fetch("/api/v1/me/renew", { method: "POST", headers: { Authorization: `Bearer ${token}` } })
      .then((r) => { if (r.ok) localStorage.setItem("qyb_renewed", String(Date.now())); })
      .catch(() => { /* offline: next time */ });
  }
  const logout = () => {
    localStorage.removeItem("qyb_token");
    const el = document.getElementById("login");
    if (el) el.hidden = false;
  };
  // The village's live stream. It ends with `logout` when the token is revoked or expired: back to the login
  // message. A refused (re)connect closes the EventSource without an event, so ask /me why: 401 is a logout
  // too, anything else (the server restarting) is tried again in a while.
  function live(village, attach) {
    const es = new EventSource(`/api/v1/villages/${village}/stream?access_token=${encodeURIComponent(token)}`);
    attach(es);
    es.addEventListener("logout", () => { es.close(); logout(); });
    es.addEventListener("error", () => {
      if (es.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
      fetch("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } })
        .then((r) => { if (r.status === 401) logout(); else setTimeout(() => live(village, attach), 5000); })
        .catch(() => setTimeout(() => live(village, attach), 5000));
    });
  }
  const offline = (stamp) => {
    const el = document.getElementById("offline");
    if (!el) return;
    el.hidden = !stamp;
    if (stamp) el.textContent = t("offline", { t: new Date(stamp).toLocaleString(lang === "zh" ? "zh-CN" : "en") });
  };
  // GET with a localStorage copy: when the network drops, the last answer is shown with a banner.
  async function get(path) {
    try {
      const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
      if (r.status === 401) { localStorage.removeItem("qyb_token"); throw new Error("401"); }
      if (!r.ok) throw new Error(`${r.status}`);
      const body = await r.json();
      try { localStorage.setItem(`qyb:${path}`, JSON.stringify({ at: Date.now(), body })); } catch (e) { /* full */ }
      offline(null);
      return body;
    } catch (e) {
      const kept = localStorage.getItem(`qyb:${path}`);
      if (!kept || e.message === "401") throw e;
      const { at, body } = JSON.parse(kept);
      offline(at);
      return body;
    }
  }
  // keep what the live stream brought, so the offline page shows the newest values, not the first load's
  function keep(path, body) {
    try { localStorage.setItem(`qyb:${path}`, JSON.stringify({ at: Date.now(), body })); } catch (e) { /* full */ }
  }
  async function post(path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok) {
      const e = new Error(`${r.status}`);
      try { e.detail = (await r.json()).detail; } catch (x) { /* not JSON */ }
      throw e;
    }
    return r.json();
  }
  const RANK = { emergency: 0, critical: 1, warning: 2 };
  // most urgent first, then the oldest: what to go and look at first
  const byUrgency = (a, b) => (RANK[a.severity] ?? 3) - (RANK[b.severity] ?? 3) || a.started_ms - b.started_ms;
  function ago(ms) {
    if (ms == null) return t("never");
    const min = Math.floor((Date.now() - ms) / 60000);
    if (min < 1) return t("now");
    if (min < 60) return t("min", { n: min });
    if (min < 48 * 60) return t("hour", { n: Math.floor(min / 60) });
    return t("day", { n: Math.floor(min / 1440) });
  }
  function setupLang(rerender) {
    const b = document.getElementById("lang");
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    if (b) {
      b.textContent = t("lang");
      b.onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("qyb_lang", lang); setupLang(rerender); rerender(); };
    }
  }
  // A site's history (uPlot): its temperature (else its first metric) and air humidity, gaps left as gaps.
  // 7 and 30 days are hourly and 6-hourly buckets, which the store answers from its hourly rollups (a few KB
  // a range, fetched only when asked for); they draw each bucket's low-high as a band, with the range's
  // highest and lowest in the key.
  const RANGES = { "24h": ["-24h", 900000], "7d": ["-7d", 3600000], "30d": ["-30d", 21600000] };
  async function chart(el, village, site, range, height) {
    const [start, step] = RANGES[range];
    const base = `/api/v1/villages/${village}/sites/${site.id}/history?start=${start}&step_ms=${step}&metric=`;
    const has = (m) => site.readings.some((r) => r.metric === m);
    const metric = has("air_temp_c") ? "air_temp_c" : site.readings[0]?.metric;
    if (!metric) return;
    el.dataset.range = range;
    let h;
    try { h = await get(base + metric); } catch (e) { return; }
    const hum = has("air_rh_pct") && metric !== "air_rh_pct" ? await get(base + "air_rh_pct").catch(() => null) : null;
    if (el.dataset.range !== range) return; // another range was asked for meanwhile
    if (!h.points.length && !(hum && hum.points.length)) { el.replaceChildren(); return; }
    // every bucket of the range on the x axis; a bucket without readings is null, so gaps stay gaps
    const xs = [];
    for (let x = h.start_ms; x < h.end_ms; x += h.step_ms) xs.push(x);
    const col = (pts, i) => { const m = new Map(pts.map((p) => [p[0], p[i]])); return xs.map((x) => m.get(x) ?? null); };
    const long = range !== "24h";
    const data = [xs.map((x) => x / 1000), col(h.points, 1)];
    const series = [{}, { label: `${t(metric)} ${h.unit}`, stroke: "#c0392b", width: 2 }];
    const bands = [];
    if (long) { // point rows are [bucket, mean, min, max, count]
      data.push(col(h.points, 3), col(h.points, 2));
      const edge = { stroke: "#c0392b55", width: 1, points: { show: false } };
      series.push(edge, edge);
      bands.push({ series: [2, 3], fill: "#c0392b22" });
    }
    const pad = (n) => String(n).padStart(2, "0");
    const tick = long ? (d) => `${d.getMonth() + 1}/${d.getDate()}` : (d) => `${d.getHours()}:${pad(d.getMinutes())}`;
    // wide enough for the longest tick label ("-17.5" would be clipped at a fixed 36 px)
    const fit = (u, labels) => Math.max(28, 14 + 7 * Math.max(0, ...(labels || []).map((s) => String(s).length)));
    const axes = [{ values: (u, vals) => vals.map((v) => tick(new Date(v * 1000))) }, { size: fit }];
    const scales = { "%": { range: [0, 100] } };
    if (hum) {
      data.push(col(hum.points, 1));
      series.push({ label: `${t("air_rh_pct")} %`, stroke: "#2471a3", width: 1.5, scale: "%" });
      axes.push({ scale: "%", side: 1, size: fit, grid: { show: false } });
    }
    el.replaceChildren();
    const key = document.createElement("p");
    key.className = "key";
    for (const s of series.filter((s) => s.label)) {
      const mark = document.createElement("span");
      mark.style.color = s.stroke;
      mark.textContent = "━";
      key.append(mark, ` ${s.label}　`);
    }
    if (long && h.points.length) {
      const hl = document.createElement("b");
      hl.className = "hl";
      const hi = Math.max(...h.points.map((p) => p[3])), lo = Math.min(...h.points.map((p) => p[2]));
      hl.textContent = `${t(`r${range}`)} ${t("high")} ${hi.toFixed(1)}${h.unit} ${t("low")} ${lo.toFixed(1)}${h.unit}`;
      key.append(hl);
    }
    el.append(key);
    new uPlot({ width: el.clientWidth || 320, height, series, axes, scales, bands, legend: { show: false },
      cursor: { drag: { x: false, y: false } } }, data, el);
  }
  return { t, token, get, post, keep, ago, byUrgency, setupLang, live, chart, lang: () => lang };
})();
