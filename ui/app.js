// The service manager's dashboard: four pages over the REST API, signed in with a session
// cookie. No framework: the pages are tables and one chart (uPlot), built from the API's
// answers as they are, so what the page shows is what the API says.
"use strict";

const T = {
  en: {
    loading: "Loading…", signout: "Sign out", switchLang: "Deutsch",
    "nav.compliance": "Compliance", "nav.now": "Now", "nav.automation": "Automation", "nav.rules": "Rules",
    "signin.title": "Sign in", "signin.token": "API token (agent, manager or admin)",
    "signin.go": "Sign in", "signin.note": "The token is exchanged for a session cookie; the page never keeps it.",
    forbidden: "Your role ({role}) may not open this page: it is for managers and admins.",
    period: "Period", days: "last {n} days", bucket: "Buckets", day: "days", week: "weeks",
    groupBy: "Group by", metric: "Chart", segment: "segment", channel: "channel", queue: "queue",
    category: "category", policy: "policy", trigger: "trigger", first_response: "first response", resolution: "resolution",
    next_reply: "next reply", follow_up: "follow-up",
    "compliance.title": "SLA compliance",
    "compliance.chart": "Attainment of {metric} per {bucket}, in percent (met of met + breached; in brackets, how many were decided: a day of two clocks swings far)",
    "compliance.zone": "Days and times in {zone} (your zone); business minutes are counted in each policy's calendar.",
    "compliance.table": "Report for the period", csv: "Download CSV",
    group: "Group", tickets: "Tickets", attainment: "Attainment", met: "met", breached: "breached",
    open: "open", p50: "p50 min", p90: "p90 min", definedAt: "Defined at", calendar: "Calendar",
    "now.title": "Now", "now.window": "Breaching within", hours: "{n} h",
    "now.due": "Running clocks due soonest", ticket: "Ticket", subject: "Subject", due: "Due",
    clock: "Clock", status: "Status", noneDue: "No running clock falls due in this window (the queues below count what is already overdue).",
    "now.queues": "Queues", unassigned: "unassigned", overdue: "overdue", skilled: "agents",
    available: "available", inShift: "in shift", capacity: "capacity", load: "load",
    "now.dead": "Notifications that could not be delivered", target: "Target", kind: "Kind",
    attempts: "Attempts", lastError: "Last error", at: "At", noneDead: "No dead notifications.",
    "automation.title": "Automation",
    automated: "answered automatically", suggested: "suggested to an agent",
    no_article: "left to people: no article fits", by_rules: "left to people by the rules",
    share: "Share", "automation.articles": "FAQ articles", article: "Article", sent: "sent",
    helped: "helped", notHelped: "not helped", deflected: "deflected", deflectionRate: "deflection rate",
    "automation.unanswered": "Questions no article fits, by category — write articles for these",
    noneUnanswered: "Every question in this period had an article or went to people by rule.",
    reason: "Why",
    "rules.title": "Rules", "rules.version": "Version in force here", instance: "Instance",
    version: "Version", alive: "alive", lost: "no heartbeat", loadedAt: "Loaded",
    "rules.instances": "Instances", "rules.loads": "Loads and refused reloads", trigger: "Trigger",
    error: "Error", "rules.policies": "SLA policies",
    "rules.sameVersion": "All live instances run the same version.",
    "rules.differentVersions": "Live instances run different versions.",
    "rules.try": "Try a change on past tickets", file: "File", limit: "Tickets (most)",
    "rules.run": "Try it", "rules.changed": "{changed} of {tickets} tickets change",
    "rules.noChange": "No decision changes on these tickets.", field: "Field", change: "Change",
    count: "Tickets", examples: "Examples", current: "now", candidate: "with the change",
    "per.day": "day", "per.week": "week", bucketStart: "From",
    "calendar.window": "the time window's", "calendar.customer": "the customer's",
    yes: "yes", no: "no", none: "—",
  },
  de: {
    loading: "Wird geladen…", signout: "Abmelden", switchLang: "English",
    "nav.compliance": "SLA-Einhaltung", "nav.now": "Jetzt", "nav.automation": "Automatisierung", "nav.rules": "Regeln",
    "signin.title": "Anmelden", "signin.token": "API-Token (Agent, Manager oder Admin)",
    "signin.go": "Anmelden", "signin.note": "Das Token wird gegen ein Sitzungs-Cookie getauscht; die Seite behält es nicht.",
    forbidden: "Ihre Rolle ({role}) darf diese Seite nicht öffnen: sie ist für Manager und Admins.",
    period: "Zeitraum", days: "letzte {n} Tage", bucket: "Einteilung", day: "Tage", week: "Wochen",
    groupBy: "Gruppiert nach", metric: "Diagramm", segment: "Segment", channel: "Kanal", queue: "Queue",
    category: "Kategorie", policy: "Richtlinie", trigger: "Auslöser", first_response: "Erstreaktion", resolution: "Lösung",
    next_reply: "nächste Antwort", follow_up: "Nachfassen",
    "compliance.title": "SLA-Einhaltung",
    "compliance.chart": "Einhaltung der {metric} je {bucket}, in Prozent (eingehalten von eingehalten + verletzt; in Klammern, wie viele entschieden wurden: ein Tag mit zwei Uhren schwankt stark)",
    "compliance.zone": "Tage und Zeiten in {zone} (Ihre Zone); Geschäftsminuten zählen im Kalender der jeweiligen Richtlinie.",
    "compliance.table": "Bericht für den Zeitraum", csv: "CSV herunterladen",
    group: "Gruppe", tickets: "Tickets", attainment: "Einhaltung", met: "eingehalten", breached: "verletzt",
    open: "offen", p50: "p50 Min.", p90: "p90 Min.", definedAt: "Definiert in", calendar: "Kalender",
    "now.title": "Jetzt", "now.window": "Verletzung innerhalb", hours: "{n} Std.",
    "now.due": "Laufende Uhren, die am frühesten fällig sind", ticket: "Ticket", subject: "Betreff", due: "Fällig",
    clock: "Uhr", status: "Status", noneDue: "In diesem Zeitraum wird keine laufende Uhr fällig (die Queues unten zählen, was schon überfällig ist).",
    "now.queues": "Queues", unassigned: "nicht zugewiesen", overdue: "überfällig", skilled: "Agents",
    available: "verfügbar", inShift: "im Dienst", capacity: "Kapazität", load: "Auslastung",
    "now.dead": "Benachrichtigungen, die nicht zugestellt werden konnten", target: "Ziel", kind: "Art",
    attempts: "Versuche", lastError: "Letzter Fehler", at: "Zeit", noneDead: "Keine unzustellbaren Benachrichtigungen.",
    "automation.title": "Automatisierung",
    automated: "automatisch beantwortet", suggested: "einem Agenten vorgeschlagen",
    no_article: "an Menschen: kein Artikel passt", by_rules: "an Menschen laut Regeln",
    share: "Anteil", "automation.articles": "FAQ-Artikel", article: "Artikel", sent: "gesendet",
    helped: "geholfen", notHelped: "nicht geholfen", deflected: "abgefangen", deflectionRate: "Abfangquote",
    "automation.unanswered": "Fragen ohne passenden Artikel, nach Kategorie — dafür Artikel schreiben",
    noneUnanswered: "Jede Frage dieses Zeitraums hatte einen Artikel oder ging laut Regeln an Menschen.",
    reason: "Grund",
    "rules.title": "Regeln", "rules.version": "Hier geltende Version", instance: "Instanz",
    version: "Version", alive: "aktiv", lost: "kein Lebenszeichen", loadedAt: "Geladen",
    "rules.instances": "Instanzen", "rules.loads": "Ladevorgänge und abgelehnte Neuladungen", trigger: "Auslöser",
    error: "Fehler", "rules.policies": "SLA-Richtlinien",
    "rules.sameVersion": "Alle aktiven Instanzen laufen mit derselben Version.",
    "rules.differentVersions": "Aktive Instanzen laufen mit verschiedenen Versionen.",
    "rules.try": "Eine Änderung an vergangenen Tickets ausprobieren", file: "Datei", limit: "Tickets (höchstens)",
    "rules.run": "Ausprobieren", "rules.changed": "{changed} von {tickets} Tickets ändern sich",
    "rules.noChange": "An diesen Tickets ändert sich keine Entscheidung.", field: "Feld", change: "Änderung",
    count: "Tickets", examples: "Beispiele", current: "jetzt", candidate: "mit der Änderung",
    "per.day": "Tag", "per.week": "Woche", bucketStart: "Ab",
    "calendar.window": "des Zeitfensters", "calendar.customer": "des Kunden",
    yes: "ja", no: "nein", none: "—",
  },
};

let lang = localStorage.getItem("triage.lang") || document.documentElement.lang || "en";
if (!T[lang]) lang = "en";
let session = null;
const MANAGER_PAGES = ["compliance", "automation", "rules"];
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function t(key, vars) {
  let s = (T[lang] && T[lang][key]) || T.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
}

// Elements: el("td", {class: "num"}, "12").
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmtNum = (n) => (n === null || n === undefined ? t("none") : new Intl.NumberFormat(lang).format(n));
const fmtPct = (p) => (p === null || p === undefined ? t("none") : new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(p) + " %");
// Dates in the browser's own variant of the page's language (en-GB: 3/11), else the language's.
const dateLocale = () => (navigator.language && navigator.language.startsWith(lang) ? navigator.language : lang);
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString(dateLocale(), { dateStyle: "short", timeStyle: "short" }) : t("none"));

function cookie(name) {
  const m = document.cookie.split(";").map((c) => c.trim().split("=")).find(([k]) => k === name);
  return m ? decodeURIComponent(m.slice(1).join("=")) : "";
}

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
    // Rules rejected: every error with its file:line.
    this.errors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
  }
}

async function api(path, opts = {}) {
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  if (opts.body !== undefined && typeof opts.body !== "string") {
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.body);
  }
  if (opts.method && opts.method !== "GET") headers["X-CSRF-Token"] = cookie("triage_csrf");
  const resp = await fetch(path, Object.assign({}, opts, { headers, credentials: "same-origin" }));
  if (resp.status === 204) return null;
  const text = await resp.text();
  const isJson = (resp.headers.get("content-type") || "").includes("json");
  const body = isJson && text ? JSON.parse(text) : text;
  if (!resp.ok) {
    // A page still loading when its session ended finds the sign-in form already shown.
    if (resp.status === 401 && session && !path.endsWith("/session")) showSignIn();
    throw new ApiError(resp.status, body);
  }
  return body;
}

function query(params) {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => k + "=" + encodeURIComponent(v))
    .join("&");
}

function table(columns, rows, attrs) {
  return el("div", { class: "scroll" },
    el("table", attrs || {},
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : null }, c.label)))),
      el("tbody", {}, rows)));
}

function select(id, options, value, onchange) {
  return el("select", { id, onchange },
    options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
}

function control(label, input) {
  return el("label", {}, label, input);
}

function setMain(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
}

function showError(e) {
  setMain(el("p", { class: "error", role: "alert" }, e.message));
}

// ---- sign-in ---------------------------------------------------------------------------

function showSignIn(message) {
  session = null;
  rendering++; // a page still loading must not replace the form when its answer comes
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true });
  const err = el("p", { class: "error", id: "signin-error", role: "alert" }, message || "");
  const form = el("form", {
    class: "card signin",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        session = await api("/api/v1/session", { method: "POST", body: { token: input.value.trim() } });
        input.value = "";
        started();
      } catch (e) {
        err.textContent = e.message;
      }
    },
  },
  el("h1", {}, t("signin.title")),
  el("label", { for: "token" }, t("signin.token")), input,
  el("button", { type: "submit", id: "signin" }, t("signin.go")),
  el("p", { class: "note" }, t("signin.note")), err);
  setMain(form);
  input.focus();
}

async function signOut() {
  session = null; // requests still out that now answer 401 leave the form to this
  try {
    await api("/api/v1/session", { method: "DELETE" });
  } finally {
    showSignIn();
  }
}

function started() {
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("who").textContent = session.name + " · " + session.role;
  for (const a of document.querySelectorAll("#nav a")) {
    a.hidden = session.role === "agent" && MANAGER_PAGES.includes(a.dataset.page);
  }
  const page = location.hash.slice(1);
  const home = session.role === "agent" ? "now" : "compliance";
  // An agent signing in where a manager was lands on the page an agent has.
  if (!pages[page] || (session.role === "agent" && MANAGER_PAGES.includes(page))) {
    location.hash = "#" + home; // routes on hashchange
    return;
  }
  route();
}

// ---- pages -----------------------------------------------------------------------------

const pages = { compliance, now, automation, rules };
let rendering = 0;

async function route() {
  if (!session) return;
  const page = (location.hash || "#compliance").slice(1).split("?")[0];
  const render = pages[page] || compliance;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (session.role === "agent" && MANAGER_PAGES.includes(page)) {
    setMain(el("p", { class: "error", id: "forbidden", role: "alert" }, t("forbidden", { role: session.role })));
    return;
  }
  const mine = ++rendering;
  setMain(el("p", {}, t("loading")));
  try {
    const nodes = await render();
    if (mine !== rendering) return;
    setMain(...nodes);
    document.body.dataset.page = page;
  } catch (e) {
    if (mine === rendering && e.status !== 401) showError(e);
  }
}

const state = {
  days: 30, bucket: "day", group: "segment", metric: "first_response",
  hours: 4, autoDays: 30, autoGroup: "category",
};

function period(days) {
  const to = new Date();
  const from = new Date(to.getTime() - days * 86400000);
  return { from: from.toISOString(), to: to.toISOString() };
}

function rerender(key, value) {
  state[key] = value;
  route();
}

async function compliance() {
  const p = period(state.days);
  const common = { from: p.from, to: p.to, group_by: state.group };
  const [series, report, rulesInfo] = await Promise.all([
    api("/api/v1/sla/report/series?" + query(Object.assign({ bucket: state.bucket, tz: zone }, common))),
    api("/api/v1/sla/report?" + query(common)),
    state.group === "policy" ? api("/api/v1/rules") : Promise.resolve(null),
  ]);
  const groups = ["segment", "channel", "queue", "category", "policy", "trigger"];
  const controls = el("div", { class: "controls" },
    control(t("period"), select("days", [["30", t("days", { n: 30 })], ["90", t("days", { n: 90 })]], String(state.days), (e) => rerender("days", Number(e.target.value)))),
    control(t("bucket"), select("bucket", [["day", t("day")], ["week", t("week")]], state.bucket, (e) => rerender("bucket", e.target.value))),
    control(t("groupBy"), select("group", groups.map((g) => [g, t(g)]), state.group, (e) => rerender("group", e.target.value))),
    control(t("metric"), select("metric", [["first_response", t("first_response")], ["resolution", t("resolution")], ["follow_up", t("follow_up")]], state.metric, (e) => rerender("metric", e.target.value))),
    el("button", { type: "button", id: "csv", onclick: () => downloadCsv(common) }, t("csv")));

  const chartBox = el("div", { id: "chart", "data-groups": series.groups.map((g) => g.group).join("|") });
  requestAnimationFrame(() => drawChart(chartBox, series));

  const policies = new Map(((rulesInfo && rulesInfo.policies) || []).map((p) => [p.id, p]));
  const metricCells = (f, group, m) => [
    el("td", { class: "num", "data-k": m + ".met" }, fmtNum(f.met)),
    el("td", { class: "num" + (f.breached ? " bad" : ""), "data-k": m + ".breached" }, fmtNum(f.breached)),
    el("td", { class: "num", "data-k": m + ".open" }, fmtNum(f.open)),
    el("td", { class: "num", "data-k": m + ".attainment_pct" }, fmtPct(f.attainment_pct)),
    el("td", { class: "num", "data-k": m + ".median_minutes" }, fmtNum(f.median_minutes)),
    el("td", { class: "num", "data-k": m + ".p90_minutes" }, fmtNum(f.p90_minutes)),
  ];
  const lead = [{ label: t("group") }];
  if (state.group === "policy") lead.push({ label: t("definedAt") }, { label: t("calendar") });
  lead.push({ label: t("tickets"), num: true }, { label: t("attainment"), num: true });
  const sub = ["met", "breached", "open", "attainment", "p50", "p90"];
  const head = el("thead", {},
    el("tr", {}, lead.map((c) => el("th", { rowspan: 2, class: c.num ? "num" : null }, c.label)),
      ["first_response", "resolution"].map((m) => el("th", { colspan: sub.length, class: "span" }, t(m)))),
    el("tr", {}, ["first_response", "resolution"].map(() => sub.map((k) => el("th", { class: "num" }, t(k))))));
  const rows = report.map((r) => el("tr", { "data-group": r.group },
    el("td", {}, r.group),
    state.group === "policy" ? el("td", { class: "note" }, (policies.get(r.group) || {}).at || t("none")) : null,
    state.group === "policy" ? el("td", { class: "note" }, policies.has(r.group) ? calendarName(policies.get(r.group)) : t("none")) : null,
    el("td", { class: "num", "data-k": "tickets" }, fmtNum(r.tickets)),
    el("td", { class: "num", "data-k": "attainment_pct" }, fmtPct(r.attainment_pct)),
    metricCells(r.first_response, r.group, "first_response"),
    metricCells(r.resolution, r.group, "resolution")));

  return [
    el("h1", {}, t("compliance.title")),
    controls,
    el("div", { class: "card" },
      el("p", { class: "note" }, t("compliance.chart", { metric: t(state.metric), bucket: t("per." + state.bucket) })),
      chartBox,
      el("p", { class: "note", id: "zone" }, t("compliance.zone", { zone }))),
    el("h2", {}, t("compliance.table")),
    el("div", { class: "card" }, el("div", { class: "scroll" }, el("table", { id: "report" }, head, el("tbody", {}, rows)))),
  ];
}

const PALETTE = ["#1f5fbf", "#c77700", "#227a3d", "#b3261e", "#6b3fa0", "#00838f", "#8a94a6", "#ad1457", "#5d4037", "#33691e"];

function drawChart(box, series) {
  if (!box.isConnected || typeof uPlot === "undefined") return;
  const xs = series.starts.map((s) => Date.parse(s) / 1000);
  const data = [xs];
  const day = (secs) => new Date(secs * 1000).toLocaleDateString(dateLocale(), { day: "numeric", month: "numeric" });
  const lines = [{ label: t("bucketStart"), value: (u, v) => (v === null ? "–" : day(v)) }];
  series.groups.forEach((g, i) => {
    data.push(g.points.map((p) => p[state.metric].attainment_pct));
    // The hovered bucket's attainment with the clocks it counts.
    const decided = g.points.map((p) => p[state.metric].met + p[state.metric].breached);
    lines.push({
      label: g.group, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, points: { show: true, size: 4 },
      value: (u, v, si, idx) => (v === null || v === undefined ? "–" : fmtPct(v) + (idx == null ? "" : " (" + fmtNum(decided[idx]) + ")")),
    });
  });
  const width = Math.max(280, box.clientWidth || 600);
  box.replaceChildren();
  new uPlot({
    width, height: 300, series: lines,
    scales: { y: { range: [0, 100] } },
    axes: [{ values: (u, v) => v.map(day) }, { values: (u, v) => v.map((x) => x + " %") }],
  }, data, box);
}

async function downloadCsv(common) {
  const resp = await fetch("/api/v1/sla/report?" + query(common), { headers: { Accept: "text/csv" }, credentials: "same-origin" });
  const text = await resp.text();
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "sla-report-" + common.group_by + ".csv", id: "csv-link" });
  a.dataset.csv = text;
  document.body.append(a);
  a.click();
  setTimeout(() => a.remove(), 60000);
}

async function now() {
  const due = new Date(Date.now() + state.hours * 3600000).toISOString();
  const [tickets, queues, dead] = await Promise.all([
    api("/api/v1/tickets?" + query({ due_before: due, sla_state: "running", limit: 50 })),
    api("/api/v1/queues/load"),
    api("/api/v1/notifications?status=dead&limit=50"),
  ]);
  const list = tickets.items;
  const queueNames = new Map(queues.map((q) => [q.id, q.name || q.id]));
  // The clock that falls due first is the one the ticket's `sla.due_at` names.
  const dueClock = (tk) => ((tk.sla && tk.sla.clocks) || []).find((c) => c.due_at && c.due_at === tk.sla.due_at) || { due_at: tk.sla && tk.sla.due_at };
  const dueRows = list.map((tk) => {
    const c = dueClock(tk);
    const late = c.due_at && Date.parse(c.due_at) < Date.now();
    return el("tr", { "data-ticket": tk.number },
      el("td", {}, el("a", { href: "/api/v1/tickets/" + tk.number, target: "_blank", rel: "noopener" }, tk.number)),
      el("td", {}, tk.subject),
      el("td", {}, tk.status),
      el("td", {}, queueNames.get(tk.decision.queue) || tk.decision.queue),
      el("td", {}, tk.decision.segment),
      el("td", {}, c.metric ? t(c.metric) : t("none")),
      el("td", { class: "num" + (late ? " bad" : "") }, fmtTime(c.due_at)));
  });
  const queueRows = queues.map((q) => el("tr", { "data-queue": q.id },
    el("td", {}, q.name || q.id),
    el("td", { class: "num", "data-k": "open" }, fmtNum(q.open)),
    el("td", { class: "num", "data-k": "unassigned" }, fmtNum(q.unassigned)),
    el("td", { class: "num" + (q.overdue ? " bad" : ""), "data-k": "overdue" }, fmtNum(q.overdue)),
    el("td", { class: "num", "data-k": "skilled" }, fmtNum(q.staffing.skilled)),
    el("td", { class: "num", "data-k": "available" }, fmtNum(q.staffing.available)),
    el("td", { class: "num", "data-k": "in_shift" }, fmtNum(q.staffing.in_shift)),
    el("td", { class: "num", "data-k": "capacity" }, fmtNum(q.staffing.capacity)),
    el("td", { class: "num" + (q.load_pct > 100 ? " bad" : q.load_pct > 80 ? " warn" : ""), "data-k": "load_pct" }, fmtPct(q.load_pct))));
  const deadRows = dead.map((n) => el("tr", { "data-notification": n.id },
    el("td", {}, fmtTime(n.fire_at)),
    el("td", {}, n.ticket_number),
    el("td", {}, n.level + " · " + t(n.metric)),
    el("td", {}, n.target || t("none")),
    el("td", { class: "num" }, fmtNum(n.attempts)),
    el("td", { class: "note" }, n.last_error || t("none"))));
  return [
    el("h1", {}, t("now.title")),
    el("div", { class: "controls" },
      control(t("now.window"), select("hours", [1, 4, 24].map((h) => [String(h), t("hours", { n: h })]), String(state.hours), (e) => rerender("hours", Number(e.target.value))))),
    el("h2", {}, t("now.due")),
    el("div", { class: "card" }, dueRows.length
      ? table([{ label: t("ticket") }, { label: t("subject") }, { label: t("status") }, { label: t("queue") }, { label: t("segment") }, { label: t("clock") }, { label: t("due"), num: true }], dueRows, { id: "due" })
      : el("p", { class: "note", id: "due" }, t("noneDue"))),
    el("h2", {}, t("now.queues")),
    el("div", { class: "card" }, table([{ label: t("queue") }, { label: t("open"), num: true }, { label: t("unassigned"), num: true }, { label: t("overdue"), num: true },
      { label: t("skilled"), num: true }, { label: t("available"), num: true }, { label: t("inShift"), num: true }, { label: t("capacity"), num: true }, { label: t("load"), num: true }], queueRows, { id: "queues" })),
    el("h2", {}, t("now.dead")),
    el("div", { class: "card" }, deadRows.length
      ? table([{ label: t("at") }, { label: t("ticket") }, { label: t("kind") }, { label: t("target") }, { label: t("attempts"), num: true }, { label: t("lastError") }], deadRows, { id: "dead" })
      : el("p", { class: "note", id: "dead" }, t("noneDead"))),
  ];
}

const HANDLING = ["automated", "suggested", "no_article", "by_rules"];

async function automation() {
  const p = period(state.autoDays);
  const [report, articles] = await Promise.all([
    api("/api/v1/automation/report?" + query({ from: p.from, to: p.to, group_by: state.autoGroup })),
    api("/api/v1/faq"),
  ]);
  const rows = report.rows.map((r) => el("tr", { "data-group": r.group },
    el("td", {}, r.group),
    el("td", { class: "num", "data-k": "tickets" }, fmtNum(r.tickets)),
    HANDLING.map((h) => el("td", { class: "num", "data-k": h }, fmtNum(r[h]))),
    el("td", { class: "num", "data-k": "automated_pct" }, fmtPct(r.automated_pct)),
    el("td", {}, el("div", { class: "bar", title: r.group },
      HANDLING.map((h) => el("span", { class: h, style: null, "data-w": r.tickets ? (100 * r[h]) / r.tickets : 0 }))))));
  const articleRows = articles.map((a) => el("tr", { "data-article": a.id },
    el("td", {}, a.title, el("div", { class: "note" }, a.id + " · " + a.category + " · " + a.language)),
    el("td", { class: "num", "data-k": "sent" }, fmtNum(a.sent)),
    el("td", { class: "num", "data-k": "helped" }, fmtNum(a.helped)),
    el("td", { class: "num", "data-k": "not_helped" }, fmtNum(a.not_helped)),
    el("td", { class: "num", "data-k": "deflected" }, fmtNum(a.deflected)),
    el("td", { class: "num", "data-k": "deflection_rate" }, a.deflection_rate === null ? t("none") : fmtPct(100 * a.deflection_rate))));
  // The same question asked again is one line, with how often and the newest tickets.
  const byCategory = new Map();
  for (const q of report.unanswered) {
    if (!byCategory.has(q.category)) byCategory.set(q.category, new Map());
    const questions = byCategory.get(q.category);
    const key = q.subject.trim().toLowerCase();
    if (!questions.has(key)) questions.set(key, { q, tickets: [] });
    questions.get(key).tickets.push(q.ticket);
  }
  const unanswered = [...byCategory.entries()].map(([cat, questions]) => {
    const list = [...questions.values()].sort((a, b) => b.tickets.length - a.tickets.length);
    const total = list.reduce((n, x) => n + x.tickets.length, 0);
    return el("details", { open: true, "data-category": cat },
      el("summary", {}, cat + " (" + total + ")"),
      table([{ label: t("subject") }, { label: t("count"), num: true }, { label: t("ticket") }, { label: t("reason") }],
        list.map(({ q, tickets }) => el("tr", { "data-question": q.subject },
          el("td", {}, q.subject + " [" + q.language + "]"),
          el("td", { class: "num", "data-k": "count" }, fmtNum(tickets.length)),
          el("td", { class: "note" }, tickets.slice(0, 3).join(", ") + (tickets.length > 3 ? " …" : "")),
          el("td", { class: "note" }, q.reason || "")))));
  });
  const nodes = [
    el("h1", {}, t("automation.title")),
    el("div", { class: "controls" },
      control(t("period"), select("auto-days", [["30", t("days", { n: 30 })], ["90", t("days", { n: 90 })]], String(state.autoDays), (e) => rerender("autoDays", Number(e.target.value)))),
      control(t("groupBy"), select("auto-group", ["category", "segment", "channel"].map((g) => [g, t(g)]), state.autoGroup, (e) => rerender("autoGroup", e.target.value)))),
    el("div", { class: "card" },
      el("div", { class: "legend" }, HANDLING.map((h) => el("span", {}, el("i", { class: h }), t(h)))),
      table([{ label: t("group") }, { label: t("tickets"), num: true }, ...HANDLING.map((h) => ({ label: t(h), num: true })), { label: t("share"), num: true }, { label: "" }], rows, { id: "automation" })),
    el("h2", {}, t("automation.articles")),
    el("div", { class: "card" }, table([{ label: t("article") }, { label: t("sent"), num: true }, { label: t("helped"), num: true }, { label: t("notHelped"), num: true }, { label: t("deflected"), num: true }, { label: t("deflectionRate"), num: true }], articleRows, { id: "articles" })),
    el("h2", {}, t("automation.unanswered")),
    el("div", { class: "card", id: "unanswered" }, unanswered.length ? unanswered : el("p", { class: "note" }, t("noneUnanswered"))),
  ];
  // Bar widths through the CSS object model: the page's policy allows no inline styles.
  requestAnimationFrame(() => {
    for (const s of document.querySelectorAll(".bar span[data-w]")) s.style.width = s.dataset.w + "%";
  });
  return nodes;
}

async function rules() {
  const r = await api("/api/v1/rules");
  const instanceRows = r.instances.map((i) => el("tr", { "data-instance": i.instance },
    el("td", {}, i.instance),
    el("td", {}, el("code", {}, i.version.slice(0, 19))),
    el("td", { class: i.alive ? "good" : "bad" }, i.alive ? t("alive") : t("lost")),
    el("td", {}, fmtTime(i.loaded_at)),
    el("td", { class: "error" }, i.last_reload_error ? fmtTime(i.last_reload_error.at) + ": " + i.last_reload_error.message : "")));
  const loadRows = r.recent_loads.map((l) => el("tr", {},
    el("td", {}, fmtTime(l.at)), el("td", {}, l.instance), el("td", {}, l.trigger + (l.token ? " (" + l.token + ")" : "")),
    el("td", {}, l.version ? el("code", {}, l.version.slice(0, 19)) : ""),
    el("td", { class: "error" }, l.error || "")));
  const policyRows = r.policies.map((p) => el("tr", { "data-policy": p.id },
    el("td", {}, p.id), el("td", { class: "note" }, p.at || t("none")),
    el("td", { class: "num" }, fmtNum(p.first_response_minutes)), el("td", { class: "num" }, fmtNum(p.resolution_minutes)),
    el("td", {}, calendarName(p))));

  const fileSelect = select("sim-file", r.files.map((f) => [f.name, f.name.split("/").pop()]), r.files[0] && r.files[0].name, () => loadFile());
  const text = el("textarea", { id: "sim-text", spellcheck: "false" });
  const limit = el("input", { id: "sim-limit", type: "number", min: 1, value: 10000 });
  const out = el("div", { id: "sim-result" });
  let version = null;
  async function loadFile() {
    version = version || (await api("/api/v1/rules/versions/" + encodeURIComponent(r.version)));
    const f = version.files.find((x) => x.name === fileSelect.value);
    text.value = f ? f.text : "";
  }
  async function run() {
    out.replaceChildren(el("p", {}, t("loading")));
    try {
      const files = {};
      files[fileSelect.value] = text.value;
      const d = await api("/api/v1/rules/simulate", { method: "POST", body: { files, limit: Number(limit.value) || 10000 } });
      out.replaceChildren(...diffView(d));
    } catch (e) {
      const errors = e.errors.map((x) => el("li", {}, typeof x === "string" ? x : (x.message || JSON.stringify(x))));
      out.replaceChildren(el("p", { class: "error", role: "alert", id: "sim-error" }, e.message), errors.length ? el("ul", { class: "error" }, errors) : null);
    }
  }
  // The file's text in force, to edit; without it the box stays empty and says why.
  setTimeout(() => loadFile().catch((e) => out.replaceChildren(el("p", { class: "error", role: "alert" }, e.message))), 0);
  return [
    el("h1", {}, t("rules.title")),
    el("div", { class: "card" },
      el("p", {}, t("rules.version") + ": ", el("code", { id: "version" }, r.version), " · " + r.instance),
      el("p", { class: r.all_same_version ? "good" : "bad" }, r.all_same_version ? t("rules.sameVersion") : t("rules.differentVersions")),
      r.last_reload_error ? el("p", { class: "error" }, fmtTime(r.last_reload_error.at) + ": " + r.last_reload_error.message) : null),
    el("h2", {}, t("rules.instances")),
    el("div", { class: "card" }, table([{ label: t("instance") }, { label: t("version") }, {}, { label: t("loadedAt") }, { label: t("error") }].map((c) => ({ label: c.label || "" })), instanceRows, { id: "instances" })),
    el("h2", {}, t("rules.loads")),
    el("div", { class: "card" }, table([{ label: t("at") }, { label: t("instance") }, { label: t("trigger") }, { label: t("version") }, { label: t("error") }], loadRows, { id: "loads" })),
    el("h2", {}, t("rules.policies")),
    el("div", { class: "card" }, table([{ label: t("policy") }, { label: t("definedAt") }, { label: t("first_response") + " min", num: true }, { label: t("resolution") + " min", num: true }, { label: t("calendar") }], policyRows, { id: "policies" })),
    el("h2", {}, t("rules.try")),
    el("div", { class: "card" },
      el("div", { class: "controls" }, control(t("file"), fileSelect), control(t("limit"), limit),
        el("button", { type: "button", id: "sim-run", onclick: run }, t("rules.run"))),
      text, out),
  ];
}

// A policy's calendar with its zone, or what decides it per ticket.
function calendarName(p) {
  if (p.zone) return p.calendar + " (" + p.zone + ")";
  return t("calendar." + p.calendar);
}

function diffView(d) {
  const fields = Object.entries(d.fields || {}).filter(([, f]) => f.changed > 0);
  const head = el("p", { id: "sim-summary" }, fields.length ? t("rules.changed", { changed: fmtNum(d.changed), tickets: fmtNum(d.tickets) }) : t("rules.noChange"));
  // Due times in the viewer's zone, as every other time on the pages.
  const value = (v) => (/^\d{4}-\d\d-\d\dT/.test(v) ? fmtTime(v) : v);
  const side = (s) => [el("strong", {}, value(s.value)), " ", el("span", { class: "note" }, s.why + (s.at ? " (" + s.at + ")" : ""))];
  const rows = [];
  for (const [name, f] of fields) {
    const transitions = Object.entries(f.transitions).sort((a, b) => b[1].count - a[1].count);
    for (const [change, tr] of transitions) {
      rows.push(el("tr", { "data-field": name },
        el("td", {}, name), el("td", {}, change), el("td", { class: "num" }, fmtNum(tr.count)),
        el("td", {}, tr.examples.slice(0, 2).map((ex) => el("div", {},
          el("code", {}, ex.ticket), " " + ex.subject, el("div", {}, t("current") + ": ", side(ex.current)), el("div", {}, t("candidate") + ": ", side(ex.candidate)))))));
    }
  }
  return [head, rows.length ? table([{ label: t("field") }, { label: t("change") }, { label: t("count"), num: true }, { label: t("examples") }], rows, { id: "sim-table" }) : null];
}

// ---- start -----------------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  document.getElementById("lang").textContent = t("switchLang");
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "de" ? "en" : "de";
  localStorage.setItem("triage.lang", lang);
  applyLanguage();
  if (session) route();
  else showSignIn();
});
document.getElementById("signout").addEventListener("click", signOut);
window.addEventListener("hashchange", route);

applyLanguage();
// 204: not signed in (no error in the console for a page that simply asks).
api("/api/v1/session")
  .then((s) => {
    if (!s) return showSignIn();
    session = s;
    started();
  })
  .catch((e) => showSignIn(e.message));
