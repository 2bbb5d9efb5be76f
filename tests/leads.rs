//! Leads handed to sales, through the real HTTP server and database (SQLite, and PostgreSQL
//! when `TRIAGE_TEST_DATABASE_URL` is set), under the shipped rules: a lead without the
//! required fields goes back to marketing with them named, marketing hands it over, sales
//! records an outcome, and the report and export count outcomes per trigger and source.

mod common;

use common::{client_with, each_backend, get_json, post, TestServer};
use serde_json::{json, Value};

/// Every field the shipped `[lead]` requires.
fn complete() -> Value {
    json!({
        "need": "Cloud-Backup für 30 Arbeitsplätze",
        "time-frame": "Q1 2027",
        "budget": "20.000 EUR",
        "decision-maker": "Birgit Gruber (Geschäftsführung)",
    })
}

async fn lead_event(
    server: &TestServer,
    id: &str,
    kind: &str,
    email: &str,
    fields: Value,
    source: &str,
) -> Value {
    let (status, r) = post(
        server.url("/api/v1/events"),
        json!({"id": id, "kind": kind, "contact": {"email": email}, "reference": "Webinar Dezember", "source": source, "fields": fields}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    r
}

async fn ticket(server: &TestServer, number: &str) -> Value {
    let (status, t) = get_json(&server.url(&format!("/api/v1/tickets/{number}"))).await;
    assert_eq!(status, 200, "{t}");
    t
}

async fn outcome(server: &TestServer, number: &str, body: Value) -> (u16, Value) {
    post(
        server.url(&format!("/api/v1/tickets/{number}/outcome")),
        body,
    )
    .await
}

#[tokio::test]
async fn a_lead_without_the_required_fields_goes_back_to_marketing_with_them_named() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let r = lead_event(
            &server,
            "hub-1",
            "webinar-attended",
            "b.gruber@mueller-partner.example",
            json!({"need": "Cloud-Backup", "budget": " "}),
            "webinar-2026-12",
        )
        .await;
        assert_eq!(
            r["missing"],
            json!(["time-frame", "budget", "decision-maker"]),
            "{r}"
        );
        let number = r["ticket"].as_str().unwrap().to_owned();
        let t = ticket(&server, &number).await;
        let d = &t["decision"];
        assert_eq!(d["queue"], "marketing", "{t}");
        assert_eq!(d["trace"]["queue"]["by"], "lead");
        assert!(
            d["trace"]["queue"]["at"]
                .as_str()
                .unwrap()
                .contains("sla.toml:"),
            "{d}"
        );
        let why = d["trace"]["queue"]["why"].as_str().unwrap();
        assert!(
            why.contains("time-frame, budget, decision-maker") && why.contains("marketing"),
            "{why}"
        );
        assert!(
            d["tags"].as_array().unwrap().contains(&json!("lead")),
            "{d}"
        );
        // Sales cannot decide a lead that never reached it.
        let (status, p) = outcome(
            &server,
            &number,
            json!({"outcome": "accept", "opportunity": "OPP-1"}),
        )
        .await;
        assert_eq!(status, 409, "{p}");
        assert!(p["detail"].as_str().unwrap().contains("time-frame"), "{p}");
        // Marketing adds two fields: still with marketing, one named missing.
        let lead_url = server.url(&format!("/api/v1/tickets/{number}/lead"));
        let (status, l) = post(
            lead_url.clone(),
            json!({"fields": {"time-frame": "Q1 2027", "budget": "20k"}}),
        )
        .await;
        assert_eq!(status, 200, "{l}");
        assert_eq!(
            (
                l["missing"].clone(),
                l["queue"].as_str(),
                l["handed_at"].is_null()
            ),
            (json!(["decision-maker"]), Some("marketing"), true),
            "{l}"
        );
        // The last one: handed to sales, and the ticket's trail says so.
        let (status, l) = post(
            lead_url.clone(),
            json!({"fields": {"decision-maker": "Birgit Gruber"}}),
        )
        .await;
        assert_eq!(status, 200, "{l}");
        assert_eq!(
            (l["missing"].clone(), l["queue"].as_str()),
            (json!([]), Some("sales")),
            "{l}"
        );
        assert!(!l["handed_at"].is_null());
        assert_eq!(l["fields"]["budget"], "20k");
        // With sales, a required field cannot be taken away; nothing to add is no handover.
        let (status, p) = post(lead_url.clone(), json!({"fields": {"budget": " "}})).await;
        assert_eq!(
            (status, p["field"].as_str()),
            (422, Some("fields.budget")),
            "{p}"
        );
        let (status, p) = post(lead_url.clone(), json!({})).await;
        assert_eq!((status, p["field"].as_str()), (422, Some("fields")), "{p}");
        let kinds = common::event_kinds(&server, &number).await;
        assert!(
            kinds.contains(&"lead.fields".to_owned())
                && kinds.contains(&"lead.handed-over".to_owned()),
            "{kinds:?}"
        );
        let t = ticket(&server, &number).await;
        assert_eq!(t["decision"]["queue"], "sales", "{t}");
        // Reclassified under the rules, it stays where its fields put it.
        let (status, re) = post(
            server.url(&format!("/api/v1/tickets/{number}/reclassify")),
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{re}");
        assert_eq!(re["decision"]["queue"], "sales", "{re}");
        // A lead's view; a ticket that is no lead has none.
        let (status, _) = get_json(&lead_url).await;
        assert_eq!(status, 200);
        let (_, _, plain) = common::post_ticket(
            &server.base,
            &json!({"channel": "web", "subject": "Frage", "body": "Wie geht das?"}),
            None,
        )
        .await;
        let (status, p) = get_json(&server.url(&format!(
            "/api/v1/tickets/{}/lead",
            plain["number"].as_str().unwrap()
        )))
        .await;
        assert_eq!(status, 404, "{p}");
        let (status, p) = outcome(
            &server,
            plain["number"].as_str().unwrap(),
            json!({"outcome": "accept", "opportunity": "X"}),
        )
        .await;
        assert_eq!(status, 409, "{p}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn each_outcome_is_recorded_reported_and_exported_per_trigger_and_source() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let mut numbers = Vec::new();
        for (i, (kind, source)) in [
            ("webinar-attended", "webinar-2026-12"),
            ("webinar-attended", "webinar-2026-12"),
            ("webinar-attended", "webinar-2026-11"),
            ("link-clicked", "newsletter-47"),
        ]
        .into_iter()
        .enumerate()
        {
            let r = lead_event(
                &server,
                &format!("hub-{i}"),
                kind,
                &format!("p{i}@northwind.example"),
                complete(),
                source,
            )
            .await;
            assert_eq!(r["missing"], json!([]), "{r}");
            numbers.push(r["ticket"].as_str().unwrap().to_owned());
            assert_eq!(
                ticket(&server, &numbers[i]).await["decision"]["queue"],
                "sales"
            );
        }
        // Accept needs the opportunity; disqualify a reason from the rules' list.
        let (status, p) = outcome(&server, &numbers[0], json!({"outcome": "accept"})).await;
        assert_eq!(
            (
                status,
                p["errors"][0]["field"].as_str().or(p["field"].as_str())
            ),
            (422, Some("opportunity")),
            "{p}"
        );
        let (status, p) = outcome(
            &server,
            &numbers[1],
            json!({"outcome": "disqualify", "reason": "zu klein"}),
        )
        .await;
        assert_eq!(status, 422, "{p}");
        assert!(
            p["detail"].as_str().unwrap().contains("no-need, no-budget"),
            "{p}"
        );
        let (status, p) = outcome(&server, &numbers[1], json!({"outcome": "won"})).await;
        assert_eq!(status, 422, "{p}");

        let (status, a) = outcome(
            &server,
            &numbers[0],
            json!({"outcome": "accept", "opportunity": "OPP-2026-311"}),
        )
        .await;
        assert_eq!(status, 200, "{a}");
        assert_eq!(
            (
                a["outcome"].as_str(),
                a["opportunity"].as_str(),
                a["status"].as_str(),
                a["within_sla"].as_bool()
            ),
            (
                Some("accept"),
                Some("OPP-2026-311"),
                Some("resolved"),
                Some(true)
            ),
            "{a}"
        );
        // Acting on the lead was its first response (the promised call), the outcome resolved it.
        let t = ticket(&server, &numbers[0]).await;
        assert_eq!(common::clock(&t, "resolution")["state"], "met", "{t}");
        assert_eq!(common::clock(&t, "first_response")["state"], "met", "{t}");
        let (status, p) = outcome(&server, &numbers[1], json!({})).await;
        assert_eq!((status, p["field"].as_str()), (422, Some("outcome")), "{p}");
        // Once decided, decided.
        let (status, p) = outcome(
            &server,
            &numbers[0],
            json!({"outcome": "disqualify", "reason": "no-budget"}),
        )
        .await;
        assert_eq!(status, 409, "{p}");
        // Six days on: the 5-day target has run out for the rest.
        server.state.clock().advance(chrono::Duration::days(6));
        let (status, d) = outcome(
            &server,
            &numbers[1],
            json!({"outcome": "disqualify", "reason": "no-budget"}),
        )
        .await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(
            (d["reason"].as_str(), d["within_sla"].as_bool()),
            (Some("no-budget"), Some(false)),
            "{d}"
        );
        let (status, q) = outcome(
            &server,
            &numbers[3],
            json!({"outcome": "requalify", "reason": "erst nach der Budgetplanung im März"}),
        )
        .await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(q["queue"], "marketing", "{q}");
        let t = ticket(&server, &numbers[3]).await;
        assert!(
            t["decision"]["trace"]["queue"]["why"]
                .as_str()
                .unwrap()
                .contains("Budgetplanung"),
            "{t}"
        );
        // Decided again under the rules, it stays with marketing.
        let (status, re) = post(
            server.url(&format!("/api/v1/tickets/{}/reclassify", numbers[3])),
            json!({}),
        )
        .await;
        assert_eq!(
            (status, re["decision"]["queue"].as_str()),
            (200, Some("marketing")),
            "{re}"
        );

        let report = |group: &str| {
            let url = server.url(&format!("/api/v1/leads/report?group_by={group}"));
            async move {
                let (status, r) = get_json(&url).await;
                assert_eq!(status, 200, "{r}");
                r["rows"].as_array().unwrap().clone()
            }
        };
        let by_trigger = report("trigger").await;
        let webinar = by_trigger
            .iter()
            .find(|r| r["group"] == "webinar-attended")
            .unwrap();
        assert_eq!(
            [
                &webinar["leads"],
                &webinar["handed_to_sales"],
                &webinar["accepted"],
                &webinar["disqualified"],
                &webinar["open"],
                &webinar["within_sla"],
                &webinar["late"]
            ],
            [
                &json!(3),
                &json!(3),
                &json!(1),
                &json!(1),
                &json!(1),
                &json!(1),
                &json!(1)
            ],
            "{webinar}"
        );
        assert_eq!(webinar["acceptance_rate"], 50.0);
        assert_eq!(webinar["disqualify_reasons"]["no-budget"], 1);
        let link = by_trigger
            .iter()
            .find(|r| r["group"] == "link-clicked")
            .unwrap();
        assert_eq!(
            (
                link["requalified"].as_u64(),
                link["acceptance_rate"].as_f64()
            ),
            (Some(1), Some(0.0)),
            "{link}"
        );
        let by_source = report("source").await;
        let dec = by_source
            .iter()
            .find(|r| r["group"] == "webinar-2026-12")
            .unwrap();
        assert_eq!(
            (dec["leads"].as_u64(), dec["accepted"].as_u64()),
            (Some(2), Some(1)),
            "{dec}"
        );
        let (status, p) = get_json(&server.url("/api/v1/leads/report?group_by=weather")).await;
        assert_eq!(status, 422, "{p}");

        // The export: one row per lead, as JSON and CSV, for managers only.
        let (status, rows) = get_json(&server.url("/api/v1/leads/export")).await;
        assert_eq!(status, 200, "{rows}");
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 4);
        let first = rows.iter().find(|r| r["ticket"] == numbers[0]).unwrap();
        assert_eq!(
            (
                first["outcome"].as_str(),
                first["opportunity"].as_str(),
                first["trigger"].as_str()
            ),
            (
                Some("accept"),
                Some("OPP-2026-311"),
                Some("webinar-attended")
            ),
            "{first}"
        );
        assert_eq!(
            (
                first["event"].as_str(),
                first["organisation"].as_str(),
                first["contact"].as_str()
            ),
            (
                Some("hub-0"),
                Some("Northwind Traders Ltd"),
                Some("p0@northwind.example")
            ),
            "{first}"
        );
        assert!(
            first["minutes_to_outcome"].as_i64().is_some_and(|m| m >= 0),
            "{first}"
        );
        let csv = common::get_csv(&server.url("/api/v1/leads/export")).await;
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5, "{csv}");
        assert!(
            lines[0].starts_with("ticket,event,organisation,contact,created_at,trigger,source,"),
            "{csv}"
        );
        assert!(
            lines.iter().any(|l| l.contains(&numbers[1])
                && l.contains("disqualify,no-budget")
                && l.ends_with(",false")),
            "{csv}"
        );
        let agent = client_with("test-agent-token")
            .get(server.url("/api/v1/leads/export"))
            .send()
            .await
            .unwrap();
        assert_eq!(agent.status(), 403);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_competitors_lead_never_reaches_sales_even_with_every_field() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let r = lead_event(
            &server,
            "hub-c",
            "contact-request",
            "vertrieb@konkurrenz-it.example",
            complete(),
            "linkedin",
        )
        .await;
        let number = r["ticket"].as_str().unwrap();
        let t = ticket(&server, number).await;
        assert_eq!(t["decision"]["queue"], "review", "{t}");
        assert_eq!(t["decision"]["trace"]["queue"]["by"], "screen", "{t}");
        // It never reached sales: not handed over, no outcome for sales to record.
        let (_, l) = get_json(&server.url(&format!("/api/v1/tickets/{number}/lead"))).await;
        assert!(l["handed_at"].is_null(), "{l}");
        let (status, p) = outcome(
            &server,
            number,
            json!({"outcome": "disqualify", "reason": "competitor"}),
        )
        .await;
        assert_eq!(status, 409, "{p}");
        assert!(p["detail"].as_str().unwrap().contains("kept out"), "{p}");
        // Sent back first, then completed: the handover is screened as well.
        let r = lead_event(
            &server,
            "hub-d",
            "contact-request",
            "info@mitbewerber.example",
            json!({}),
            "linkedin",
        )
        .await;
        let number = r["ticket"].as_str().unwrap();
        assert_eq!(
            ticket(&server, number).await["decision"]["queue"],
            "marketing"
        );
        let (status, l) = post(
            server.url(&format!("/api/v1/tickets/{number}/lead")),
            json!({"fields": complete()}),
        )
        .await;
        assert_eq!(status, 200, "{l}");
        assert_eq!(
            (l["queue"].as_str(), l["handed_at"].is_null()),
            (Some("review"), true),
            "{l}"
        );
        let kinds = common::event_kinds(&server, number).await;
        assert!(
            kinds.contains(&"lead.kept-out".to_owned())
                && !kinds.contains(&"lead.handed-over".to_owned()),
            "{kinds:?}"
        );
        let (_, report) = get_json(&server.url("/api/v1/leads/report")).await;
        let row = &report["rows"][0];
        assert_eq!(
            (
                row["group"].as_str(),
                row["leads"].as_u64(),
                row["kept_out"].as_u64(),
                row["handed_to_sales"].as_u64()
            ),
            (Some("contact-request"), Some(2), Some(2), Some(0)),
            "{report}"
        );
        server.stop().await;
    })
    .await;
}
