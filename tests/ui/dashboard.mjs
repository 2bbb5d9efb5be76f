// The dashboard in Debian's Chromium against a running server with a seeded database
// (started by tests/browser.rs): sign in, every page shows the figures the API answers,
// a filter changes the chart, the CSV matches the table, German and English, an agent
// cannot open the managers' pages, sign-out ends the session, and no console errors.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const { BASE, MANAGER_TOKEN, AGENT_TOKEN, CHROMIUM, SCREENSHOTS } = process.env;
assert.ok(BASE && MANAGER_TOKEN && AGENT_TOKEN && CHROMIUM, "BASE, MANAGER_TOKEN, AGENT_TOKEN and CHROMIUM are needed");

let checks = 0;
function check(what, fn) {
  fn();
  checks += 1;
  console.log("ok", what);
}

async function api(path, token = MANAGER_TOKEN, accept = "application/json") {
  const resp = await fetch(BASE + path, { headers: { Authorization: "Bearer " + token, Accept: accept } });
  assert.equal(resp.status, 200, path + " answered " + resp.status);
  return accept === "application/json" ? resp.json() : resp.text();
}

/// The page's own request for `prefix` (its JSON), while `action` runs.
async function answer(page, prefix, action) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(BASE + prefix)),
    action(),
  ]);
  return { url: resp.url(), body: await resp.json() };
}

const num = (text) => {
  const t = text.trim();
  if (t === "—") return null;
  return Number(t.replace(/[,\s%]/g, "").replace(/\u202f/g, ""));
};

async function cells(page, tableId, keyAttr) {
  return page.$$eval(`#${tableId} tbody tr`, (rows, keyAttr) => rows.map((r) => {
    const out = { key: r.getAttribute(keyAttr) };
    for (const td of r.querySelectorAll("td[data-k]")) out[td.dataset.k] = td.textContent;
    return out;
  }), keyAttr);
}

async function shot(page, name) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: false });
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
const context = await browser.newContext({
  viewport: { width: 1280, height: 860 }, locale: "en-GB", timezoneId: "Europe/Vienna", acceptDownloads: true,
});
const page = await context.newPage();
const problems = [];
page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(m.type() + ": " + m.text()); });
page.on("pageerror", (e) => problems.push("page error: " + e.message));

try {
  // ---- sign in as a manager: the compliance page ------------------------------------
  await page.goto(BASE + "/ui/");
  await page.waitForSelector("#token");
  await shot(page, "sign-in");
  await page.fill("#token", MANAGER_TOKEN);
  const [series, report] = await Promise.all([
    answer(page, "/api/v1/sla/report/series?", async () => {}),
    answer(page, "/api/v1/sla/report?", async () => {}),
    page.click("#signin"),
  ]);
  await page.waitForSelector("#report tbody tr");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "triage_session");
  check("the session cookie is HttpOnly and SameSite=Strict", () => {
    assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
    assert.notEqual(session.value, MANAGER_TOKEN);
  });
  const query = report.url.slice(report.url.indexOf("?"));
  const direct = await api("/api/v1/sla/report" + query);
  check("the page asked the report for the last 30 days by segment", () => {
    const u = new URL(report.url);
    assert.equal(u.searchParams.get("group_by"), "segment");
    const days = (Date.parse(u.searchParams.get("to")) - Date.parse(u.searchParams.get("from"))) / 86400000;
    assert.equal(Math.round(days), 30);
    assert.equal(new URL(series.url).searchParams.get("tz"), "Europe/Vienna");
  });
  check("the API's report has the seeded tickets", () => {
    assert.ok(direct.length >= 3, JSON.stringify(direct));
    assert.ok(direct.reduce((n, r) => n + r.tickets, 0) > 100);
    assert.deepEqual(direct.map((r) => r.tickets), report.body.map((r) => r.tickets));
  });
  const table = await cells(page, "report", "data-group");
  check("the compliance table shows the report's figures", () => {
    assert.deepEqual(table.map((r) => r.key), direct.map((r) => r.group));
    for (const [i, r] of direct.entries()) {
      const row = table[i];
      assert.equal(num(row.tickets), r.tickets, r.group);
      for (const m of ["first_response", "resolution"]) {
        assert.equal(num(row[m + ".met"]), r[m].met, r.group + " " + m);
        assert.equal(num(row[m + ".breached"]), r[m].breached, r.group + " " + m);
        assert.equal(num(row[m + ".median_minutes"]), r[m].median_minutes, r.group + " " + m);
        assert.equal(num(row[m + ".p90_minutes"]), r[m].p90_minutes, r.group + " " + m);
        const pct = r[m].attainment_pct === null ? null : Math.round(r[m].attainment_pct * 10) / 10;
        assert.equal(num(row[m + ".attainment_pct"]), pct, r.group + " " + m);
      }
    }
  });
  const legend = () => page.$$eval(".u-legend .u-series .u-label", (ls) => ls.map((l) => l.textContent).slice(1));
  // uPlot draws on the next frame.
  await page.waitForFunction((n) => document.querySelectorAll("#chart .u-legend .u-series").length === n, series.body.groups.length + 1);
  const lines = await legend();
  check("the chart draws a line per group of the series", () => {
    assert.deepEqual(lines, series.body.groups.map((g) => g.group));
  });
  // Hovering a bucket shows each group's attainment with the clocks it counts: the bucket
  // where the first group decided most (the x scale runs from the first bucket to the last).
  const decided = (p) => p.first_response.met + p.first_response.breached;
  const points0 = series.body.groups[0].points;
  const at = points0.reduce((best, p, i) => (decided(p) > decided(points0[best]) ? i : best), 0);
  const xs = series.body.starts.map((s) => Date.parse(s));
  const box = await (await page.$("#chart .u-over")).boundingBox();
  const frac = xs.length > 1 ? (xs[at] - xs[0]) / (xs[xs.length - 1] - xs[0]) : 0;
  await page.mouse.move(box.x + frac * (box.width - 1), box.y + box.height / 2);
  const hovered = await page.$$eval("#chart .u-legend .u-series .u-value", (vs) => vs.map((v) => v.textContent).slice(1));
  check("the chart's legend names how many clocks a bucket's attainment counts", () => {
    let seen = 0;
    series.body.groups.forEach((g, i) => {
      if (g.points[at].first_response.attainment_pct === null) return;
      assert.ok(hovered[i].endsWith("(" + decided(g.points[at]) + ")"), g.group + ": " + hovered[i]);
      seen += 1;
    });
    assert.ok(seen > 0, "no group decided a clock in bucket " + at);
  });
  const seriesTotal = series.body.groups.reduce((n, g) => n + g.points.reduce((m, p) => m + p.tickets, 0), 0);
  check("the series adds up to the report", () => {
    assert.equal(seriesTotal, direct.reduce((n, r) => n + r.tickets, 0));
  });
  await shot(page, "compliance");

  // The CSV is the table.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  const csvPath = await download.path();
  const csv = readFileSync(csvPath, "utf8").trim().split("\n").map((l) => l.split(","));
  const header = csv[0];
  const col = (name) => header.indexOf(name);
  check("the CSV download matches the table", () => {
    assert.equal(csv.length - 1, table.length);
    for (const [i, line] of csv.slice(1).entries()) {
      assert.equal(line[col("group")], table[i].key);
      assert.equal(Number(line[col("tickets")]), num(table[i].tickets));
      assert.equal(Number(line[col("first_response_met")]), num(table[i]["first_response.met"]));
      assert.equal(Number(line[col("resolution_breached")]), num(table[i]["resolution.breached"]));
    }
  });

  // A filter changes the chart: grouped by channel, a line per channel.
  const [byChannel] = await Promise.all([
    answer(page, "/api/v1/sla/report/series?", async () => {}),
    page.selectOption("#group", "channel"),
  ]);
  await page.waitForFunction((groups) => {
    const chart = document.querySelector("#chart");
    return chart && chart.dataset.groups === groups && chart.querySelectorAll(".u-legend .u-series").length > 1;
  }, byChannel.body.groups.map((g) => g.group).join("|"));
  const channels = await legend();
  check("grouping by channel redraws the chart with the channels", () => {
    assert.equal(new URL(byChannel.url).searchParams.get("group_by"), "channel");
    assert.deepEqual(channels, byChannel.body.groups.map((g) => g.group));
    assert.ok(channels.includes("email"), channels.join());
    assert.notDeepEqual(channels, series.body.groups.map((g) => g.group));
  });
  // Per policy, each row names where its policy is written and the calendar it counts in.
  const [byPolicy] = await Promise.all([
    answer(page, "/api/v1/sla/report?", async () => {}),
    page.selectOption("#group", "policy"),
  ]);
  await page.waitForFunction(() => {
    const group = document.querySelector("#group");
    return group && group.value === "policy" && document.querySelectorAll("#report thead th").length > 15;
  });
  const policyRows = await page.$$eval("#report tbody tr", (rs) => rs.map((r) => [r.dataset.group, r.children[1].textContent, r.children[2].textContent]));
  const rulesNow = await api("/api/v1/rules");
  check("grouped by policy, each row names the policy's file:line and calendar", () => {
    assert.deepEqual(policyRows.map((r) => r[0]), byPolicy.body.map((r) => r.group));
    for (const [id, at, calendar] of policyRows) {
      const p = rulesNow.policies.find((x) => x.id === id);
      if (!p) continue; // `(none)`: tickets without a policy
      assert.equal(at, p.at, id);
      assert.ok(calendar.startsWith(p.zone ? p.calendar : "the "), id + ": " + calendar);
      if (p.zone) assert.ok(calendar.includes(p.zone), calendar);
    }
    assert.ok(policyRows.some(([id]) => rulesNow.policies.some((p) => p.id === id)));
  });
  const byWeek = await answer(page, "/api/v1/sla/report/series?", () => page.selectOption("#bucket", "week"));
  check("weekly buckets ask for weeks", () => {
    assert.equal(new URL(byWeek.url).searchParams.get("bucket"), "week");
    assert.ok(byWeek.body.starts.length <= 6, byWeek.body.starts.length);
  });

  // ---- now ------------------------------------------------------------------------
  const [queues] = await Promise.all([
    answer(page, "/api/v1/queues/load", async () => {}),
    page.click('#nav a[data-page="now"]'),
  ]);
  await page.waitForSelector("#queues tbody tr");
  const shown = await cells(page, "queues", "data-queue");
  const load = await api("/api/v1/queues/load");
  check("the queues table shows the API's queue load", () => {
    assert.deepEqual(shown.map((q) => q.key), load.map((q) => q.id));
    for (const [i, q] of load.entries()) {
      assert.equal(num(shown[i].open), q.open, q.id);
      assert.equal(num(shown[i].unassigned), q.unassigned, q.id);
      assert.equal(num(shown[i].overdue), q.overdue, q.id);
      assert.equal(num(shown[i].in_shift), q.staffing.in_shift, q.id);
      assert.equal(num(shown[i].capacity), q.staffing.capacity, q.id);
    }
    assert.ok(load.some((q) => q.open > 0), JSON.stringify(load));
    assert.deepEqual(queues.body.map((q) => q.open), load.map((q) => q.open));
  });
  const due = await answer(page, "/api/v1/tickets?", () => page.selectOption("#hours", "24"));
  await page.waitForFunction(() => document.querySelector("#hours") && document.querySelector("#hours").value === "24");
  const dueRows = await page.$$eval("#due tbody tr", (rs) => rs.map((r) => r.dataset.ticket));
  check("the breaching list is the API's running clocks due in 24 h, soonest first", () => {
    assert.equal(new URL(due.url).searchParams.get("sla_state"), "running");
    assert.deepEqual(dueRows, due.body.items.map((t) => t.number));
    const dues = due.body.items.map((t) => t.sla.due_at);
    assert.deepEqual(dues, [...dues].sort());
    for (const d of dues) assert.ok(Date.parse(d) > Date.now() - 60000 && Date.parse(d) < Date.now() + 24.1 * 3600000, d);
  });
  await shot(page, "now");

  // ---- automation -------------------------------------------------------------------
  const [auto] = await Promise.all([
    answer(page, "/api/v1/automation/report?", async () => {}),
    page.click('#nav a[data-page="automation"]'),
  ]);
  await page.waitForSelector("#automation tbody tr");
  const autoRows = await cells(page, "automation", "data-group");
  const autoDirect = await api("/api/v1/automation/report" + auto.url.slice(auto.url.indexOf("?")));
  check("the automation table shows the API's shares per category", () => {
    assert.deepEqual(autoRows.map((r) => r.key), autoDirect.rows.map((r) => r.group));
    for (const [i, r] of autoDirect.rows.entries()) {
      for (const k of ["tickets", "automated", "suggested", "no_article", "by_rules"]) assert.equal(num(autoRows[i][k]), r[k], r.group + " " + k);
    }
    assert.ok(autoDirect.rows.some((r) => r.automated > 0));
  });
  const articles = await api("/api/v1/faq");
  const articleRows = await cells(page, "articles", "data-article");
  check("the articles table shows what each article sent, helped and deflected", () => {
    assert.equal(articleRows.length, articles.length);
    for (const a of articles) {
      const row = articleRows.find((r) => r.key === a.id);
      assert.equal(num(row.sent), a.sent, a.id);
      assert.equal(num(row.helped), a.helped, a.id);
      assert.equal(num(row.deflected), a.deflected, a.id);
    }
  });
  const categories = await page.$$eval("#unanswered details", (ds) => ds.map((d) => d.dataset.category));
  const counted = await page.$$eval("#unanswered td[data-k=count]", (tds) => tds.reduce((n, td) => n + Number(td.textContent.replace(/\D/g, "")), 0));
  check("the questions no article fits are listed by category", () => {
    assert.deepEqual(categories, [...new Set(autoDirect.unanswered.map((q) => q.category))]);
    assert.equal(counted, autoDirect.unanswered.length);
  });
  await shot(page, "automation");

  // ---- rules ------------------------------------------------------------------------
  await page.click('#nav a[data-page="rules"]');
  await page.waitForSelector("#policies tbody tr");
  const rules = await api("/api/v1/rules");
  const version = await page.textContent("#version");
  const policies = await page.$$eval("#policies tbody tr", (rs) => rs.map((r) => [r.dataset.policy, r.children[1].textContent]));
  check("the rules page names the version and every policy with its file:line", () => {
    assert.equal(version, rules.version);
    assert.deepEqual(policies, rules.policies.map((p) => [p.id, p.at]));
    assert.ok(policies.every(([, at]) => /sla\.toml:\d+$/.test(at)), JSON.stringify(policies));
  });
  // A candidate change tried on the past tickets: every outage is now a P1.
  await page.waitForFunction(() => { const t = document.querySelector("#sim-text"); return t && t.value.length > 0; });
  const sla = rules.files.find((f) => f.name.endsWith("sla.toml"));
  await page.selectOption("#sim-file", sla.name);
  await page.waitForFunction(() => { const t = document.querySelector("#sim-text"); return t && t.value.includes("[[policy]]"); });
  const text = await page.inputValue("#sim-text");
  // A candidate change tried on the past tickets: commercial customers' policy is dropped,
  // so their tickets fall to the next policy that fits.
  const changed = text.replace('id = "commercial"', 'id = "commercial-2027"');
  assert.notEqual(changed, text);
  await page.fill("#sim-text", changed);
  const sim = await answer(page, "/api/v1/rules/simulate", () => page.click("#sim-run"));
  await page.waitForSelector("#sim-summary");
  const simFields = await page.$$eval("#sim-table tbody tr", (rs) => rs.map((r) => [r.dataset.field, r.children[1].textContent, r.children[2].textContent]));
  check("a candidate rules change is tried on past tickets and shown per field", () => {
    assert.ok(sim.body.tickets > 0 && sim.body.changed > 0, JSON.stringify(sim.body).slice(0, 300));
    const policy = sim.body.fields.sla_policy;
    assert.ok(policy && policy.changed > 0, Object.keys(sim.body.fields).join());
    const shownPolicy = simFields.filter(([f]) => f === "sla_policy");
    assert.ok(shownPolicy.some(([, change, n]) => change.includes("commercial-2027") && num(n) > 0), JSON.stringify(shownPolicy));
  });
  await shot(page, "rules");

  // ---- German -----------------------------------------------------------------------
  await page.click("#lang");
  await page.waitForFunction(() => document.documentElement.lang === "de");
  const navDe = (await page.textContent('#nav a[data-page="compliance"]')).trim();
  await page.click('#nav a[data-page="compliance"]');
  await page.waitForSelector("#report tbody tr");
  const titleDe = await page.textContent("main h1");
  check("the page switches to German", () => {
    assert.equal(navDe, "SLA-Einhaltung");
    assert.equal(titleDe, "SLA-Einhaltung");
  });
  await shot(page, "compliance-de");

  // ---- sign out; an agent signs in ----------------------------------------------------
  // Switching back to English reloads the page; its report is held until the user has
  // signed out, so the page is still loading then and must not replace the sign-in form.
  let release, fetched;
  const held = new Promise((r) => { release = r; });
  const answered = new Promise((r) => { fetched = r; });
  let fulfilled;
  const isReport = (url) => url.pathname === "/api/v1/sla/report";
  await page.route(isReport, (route) => {
    fulfilled = route.fetch().then(async (response) => { fetched(); await held; await route.fulfill({ response }); });
  });
  await page.click("#lang");
  await page.waitForFunction(() => document.documentElement.lang === "en");
  await answered;
  await page.click("#signout");
  await page.waitForSelector("#token");
  const finished = page.waitForEvent("requestfinished", (r) => isReport(new URL(r.url())));
  release();
  await fulfilled;
  await finished;
  await page.unroute(isReport);
  // The page's own handling of that answer runs in its next tasks.
  await page.evaluate(() => new Promise((r) => setTimeout(() => requestAnimationFrame(() => setTimeout(r, 0)), 0)));
  const formStays = await page.$("#token");
  check("a page still loading at sign-out leaves the sign-in form in place", () => assert.ok(formStays));
  const left = (await context.cookies()).filter((c) => c.name === "triage_session");
  const stale = await context.request.get(BASE + "/api/v1/sla/report", { headers: { Cookie: "triage_session=" + session.value } });
  check("signing out removes the session cookie and ends the session", () => {
    assert.equal(left.length, 0);
    assert.equal(stale.status(), 401);
  });

  await page.fill("#token", AGENT_TOKEN);
  await page.click("#signin");
  await page.waitForSelector("#queues tbody tr");
  const hidden = await page.$$eval("#nav a", (as) => as.filter((a) => a.hidden).map((a) => a.dataset.page));
  check("an agent sees only the now page", () => {
    assert.deepEqual(hidden.sort(), ["automation", "compliance", "rules"]);
  });
  await page.evaluate(() => { location.hash = "#compliance"; });
  await page.waitForSelector("#forbidden");
  const asAgent = await context.request.get(BASE + "/api/v1/sla/report");
  const asAgentLoad = await context.request.get(BASE + "/api/v1/queues/load");
  check("the agent's session cannot read the managers' report", () => {
    assert.equal(asAgent.status(), 403);
    assert.equal(asAgentLoad.status(), 200);
  });

  // A phone-sized screen shows the page without a horizontal scroll of the whole page.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(BASE + "/ui/#now");
  await page.waitForSelector("#queues tbody tr");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check("the page fits a phone's width", () => assert.ok(overflow <= 1, "overflow " + overflow));
  await shot(page, "now-phone");

  check("no console errors or page errors", () => assert.deepEqual(problems, []));
} finally {
  await browser.close();
}
console.log(`dashboard: ${checks} checks passed`);
