//! Events other systems report, through the real HTTP server and database (SQLite, and
//! PostgreSQL when `TRIAGE_TEST_DATABASE_URL` is set), under the shipped rules: tasks with
//! their reaction times, follow-ups on a ticket that the customer's answer ends, and
//! repeats that change nothing.

mod common;

use chrono::{DateTime, Utc};
use common::{clock, each_backend, get_json, post, post_ticket, time, TestServer};
use serde_json::{json, Value};

/// The line of a shipped rules file that `is` picks, 1-based.
fn line_in(file: &str, is: impl Fn(&str) -> bool) -> usize {
    let path = format!("{}/rules/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().position(is).unwrap() + 1
}

/// An e-mail ticket from `from`.
fn mail(from: &str, subject: &str, body: &str) -> Value {
    json!({"channel": "email", "subject": subject, "body": body, "from": {"email": from}})
}

/// A customer's quote request that arrived two days ago: events that happened since may
/// name it.
async fn quote_request_two_days_ago(server: &TestServer) -> Value {
    let mut asked = mail(
        "kanzlei@mueller-partner.example",
        "Preisanfrage",
        "Bitte um ein Angebot für 30 Server.",
    );
    asked["received_at"] = json!((Utc::now() - chrono::Duration::days(2)).to_rfc3339());
    post_ticket(&server.base, &asked, None).await.2
}

fn close(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    (a - b).num_seconds().abs() <= 2
}

#[tokio::test]
async fn a_webinar_participant_becomes_a_task_with_its_reaction_time_once() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let events = server.url("/api/v1/events");
        let occurred = DateTime::from_timestamp(Utc::now().timestamp() - 3600, 0).unwrap();
        let event = json!({
            "id": "hub-5521",
            "kind": "webinar-attended",
            "occurred_at": occurred.to_rfc3339(),
            "contact": {"email": "b.gruber@mueller-partner.example", "name": "Birgit Gruber"},
            "reference": "Webinar Dezember: Cloud-Backup",
            "note": "Fragte nach Preisen für 30 Arbeitsplätze",
            // A lead with what sales needs (tests/leads.rs: one without).
            "fields": {"need": "Cloud-Backup", "time-frame": "Q1 2027", "budget": "20k", "decision-maker": "Birgit Gruber"},
        });
        let (status, r) = post(events.clone(), event.clone()).await;
        assert_eq!(status, 201, "{r}");
        assert_eq!(
            (r["outcome"].as_str(), r["started"].as_str()),
            (Some("created"), Some("task"))
        );
        assert_eq!(r["policy"], "webinar-attended");
        let trigger_line = line_in("sla.toml", |l| l == "[trigger.webinar-attended]");
        assert!(
            r["trigger_at"]
                .as_str()
                .unwrap()
                .ends_with(&format!("sla.toml:{trigger_line}")),
            "{r}"
        );
        // Called within 72 hours of the webinar, not of the report.
        assert!(
            close(time(&r["due_at"]), occurred + chrono::Duration::hours(72)),
            "{r}"
        );
        let (_, t) = get_json(&server.url(&format!(
            "/api/v1/tickets/{}",
            r["ticket"].as_str().unwrap()
        )))
        .await;
        let d = &t["decision"];
        assert_eq!(
            (d["queue"].as_str(), d["automation"].as_str()),
            (Some("sales"), Some("human")),
            "{t}"
        );
        assert!(
            d["tags"]
                .as_array()
                .unwrap()
                .contains(&json!("trigger:webinar-attended")),
            "{d}"
        );
        // A task of a lead trigger with every field the rules' [lead] requires: to sales.
        assert_eq!(d["trace"]["queue"]["rule"], "lead");
        assert_eq!(d["trace"]["queue"]["by"], "lead");
        assert!(d["trace"]["queue"]["why"].as_str().unwrap().contains("handed to sales"), "{d}");
        assert_eq!(t["organisation"], "Müller & Partner Steuerberatung");
        assert_eq!(t["faq"]["article"], Value::Null);
        assert!(
            t["subject"].as_str().unwrap().contains("Cloud-Backup"),
            "{t}"
        );
        assert!(
            t["body"].as_str().unwrap().contains("30 Arbeitsplätze"),
            "{t}"
        );
        assert_eq!(time(&t["received_at"]), occurred);
        // The same id for another kind of event: the first stands.
        let (status, p) = post(
            events.clone(),
            json!({"id": "hub-5521", "kind": "link-clicked"}),
        )
        .await;
        assert_eq!(status, 409, "{p}");
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("already recorded as another kind"),
            "{p}"
        );
        // The same event again: nothing new.
        let (status, again) = post(events.clone(), event).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            (again["outcome"].as_str(), &again["ticket"]),
            (Some("duplicate"), &r["ticket"])
        );
        let (_, page) = get_json(&server.url("/api/v1/tickets?queue=sales")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        // Reclassified under the rules, it stays the trigger's task.
        let (status, re) = post(
            server.url(&format!(
                "/api/v1/tickets/{}/reclassify",
                r["ticket"].as_str().unwrap()
            )),
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{re}");
        assert_eq!(
            (
                re["decision"]["queue"].as_str(),
                re["sla"]["policy"].as_str()
            ),
            (Some("sales"), Some("webinar-attended")),
            "{re}"
        );

        // What the rules do not know, and what a kind cannot do, is refused with the reason.
        for (body, field, says) in [
            (
                json!({"id": "x1", "kind": "fax-received"}),
                "kind",
                "unknown event kind \"fax-received\"",
            ),
            (
                json!({"id": "x2", "kind": "quote-sent"}),
                "ticket",
                "starts a follow-up on a ticket",
            ),
            (
                json!({"id": "x3", "kind": "webinar-attended", "ticket": r["ticket"]}),
                "ticket",
                "starts a task of its own",
            ),
            (
                json!({"id": "", "kind": "webinar-attended"}),
                "id",
                "id must be 1 to 255 characters",
            ),
            (
                json!({"kind": "webinar-attended"}),
                "\"field\":\"id\"",
                "id is required",
            ),
            (
                json!({"id": "x4", "kind": "webinar-attended", "contact": {"email": "not-an-address"}}),
                "\"field\":\"contact.email\"",
                "contact.email",
            ),
            (
                json!({"id": "x5", "kind": "webinar-attended", "occurred_at": "gestern"}),
                "occurred_at",
                "RFC 3339",
            ),
        ] {
            let resp = common::client()
                .post(&events)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 422, "{body}");
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
            let p: Value = resp.json().await.unwrap();
            assert!(p["detail"].as_str().unwrap().contains(says), "{p}");
            assert!(p.to_string().contains(field), "{p}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_quote_sent_starts_a_follow_up_that_the_customers_answer_ends() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let events = server.url("/api/v1/events");
        let request = mail(
            "kanzlei@mueller-partner.example",
            "Preisanfrage Wartungsvertrag",
            "Was kostet ein Wartungsvertrag für unsere Server?",
        );
        let (_, _, ticket) = post_ticket(&server.base, &request, None).await;
        let number = ticket["number"].as_str().unwrap().to_owned();
        // The CRM sent the quote, and reports it twice at once: one follow-up.
        let sent = json!({"id": "crm-q-118", "kind": "quote-sent", "ticket": number, "reference": "Q-2026-118"});
        let (a, b) = tokio::join!(post(events.clone(), sent.clone()), post(events.clone(), sent.clone()));
        let mut outcomes = vec![a.1["outcome"].as_str().unwrap().to_owned(), b.1["outcome"].as_str().unwrap().to_owned()];
        outcomes.sort();
        assert_eq!(outcomes, ["created", "duplicate"], "{a:?} {b:?}");
        assert!([a.0, b.0].contains(&201) && [a.0, b.0].contains(&200));
        let receipt = if a.0 == 201 { &a.1 } else { &b.1 };
        assert_eq!(receipt["started"], "follow-up");
        assert!(close(time(&receipt["due_at"]), Utc::now() + chrono::Duration::days(7)), "{receipt}");
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{number}"))).await;
        let follow_ups: Vec<&Value> = t["sla"]["clocks"].as_array().unwrap().iter().filter(|c| c["metric"] == "follow_up").collect();
        assert_eq!(follow_ups.len(), 1, "{t}");
        assert_eq!(follow_ups[0]["state"], "running");
        // No reply of ours was sent: the first response still runs.
        assert_eq!(clock(&t, "first_response")["state"], "running");
        let (_, evs) = get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
        let recorded: Vec<&Value> = evs.as_array().unwrap().iter().filter(|e| e["kind"] == "event").collect();
        assert_eq!(recorded.len(), 1, "{evs}");
        assert_eq!(recorded[0]["data"]["reference"], "Q-2026-118");
        // The customer answers: nothing left to follow up.
        let (status, t) = post(
            server.url(&format!("/api/v1/tickets/{number}/messages")),
            json!({"body": "Danke, wir melden uns nächste Woche."}),
        )
        .await;
        assert_eq!(status, 200, "{t}");
        assert_eq!(clock(&t, "follow_up")["state"], "ended", "{t}");
        // The same id for another kind on that ticket: refused, the first stands.
        let (status, p) = post(events.clone(), json!({"id": "crm-q-118", "kind": "appointment-proposed", "ticket": number})).await;
        assert_eq!(status, 409, "{p}");
        // A quote sent to a customer served in extended hours is still followed up after 7
        // calendar days: the trigger counts in its own calendar.
        let (_, _, alpen) = post_ticket(
            &server.base,
            &mail("einkauf@alpen-logistik.example", "Angebot", "Bitte um ein Angebot."),
            None,
        )
        .await;
        assert_eq!(alpen["sla"]["calendar"], "extended", "{alpen}");
        let (status, r) = post(events.clone(), json!({"id": "crm-q-120", "kind": "quote-sent", "ticket": alpen["number"]})).await;
        assert_eq!(status, 201, "{r}");
        assert!(close(time(&r["due_at"]), Utc::now() + chrono::Duration::days(7)), "{r}");
        // An appointment proposed on the same ticket is asked about after two days.
        let (status, r) = post(events.clone(), json!({"id": "cal-77", "kind": "appointment-proposed", "ticket": number})).await;
        assert_eq!(status, 201, "{r}");
        assert!(close(time(&r["due_at"]), Utc::now() + chrono::Duration::days(2)), "{r}");
        // A ticket that is not there.
        let (status, p) = post(events.clone(), json!({"id": "crm-q-119", "kind": "quote-sent", "ticket": "T-999999"})).await;
        assert_eq!(status, 404, "{p}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn each_shipped_trigger_starts_its_clock_due_after_its_commitment() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let events = server.url("/api/v1/events");
        let request = quote_request_two_days_ago(&server).await;
        let occurred = DateTime::from_timestamp(Utc::now().timestamp() - 3600, 0).unwrap();
        // The commitments, as the shipped rules promise them (all in calendar time).
        for (i, (kind, started, metric, hours)) in [
            ("webinar-attended", "task", "first_response", 72),
            ("link-clicked", "task", "first_response", 24),
            ("contact-request", "task", "first_response", 48),
            ("quote-requested", "task", "first_response", 72),
            ("quote-sent", "follow-up", "follow_up", 7 * 24),
            ("appointment-proposed", "follow-up", "follow_up", 2 * 24),
        ]
        .into_iter()
        .enumerate()
        {
            let mut event = json!({"id": format!("e-{i}"), "kind": kind, "occurred_at": occurred.to_rfc3339(), "contact": {"email": "t.kurz@northwind.example"}});
            if started == "follow-up" {
                event["ticket"] = request["number"].clone();
            }
            let (status, r) = post(events.clone(), event).await;
            assert_eq!(status, 201, "{kind}: {r}");
            assert_eq!(r["started"], started, "{kind}: {r}");
            let due = occurred + chrono::Duration::hours(hours);
            assert!(close(time(&r["due_at"]), due), "{kind}: due {} not {due}", r["due_at"]);
            let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{}", r["ticket"].as_str().unwrap()))).await;
            let c = t["sla"]["clocks"].as_array().unwrap().iter().rev().find(|c| c["metric"] == metric).unwrap_or_else(|| panic!("{kind}: {t}")).clone();
            assert_eq!((c["state"].as_str(), c["calendar"].as_str()), (Some("running"), Some("always")), "{kind}: {c}");
            assert!(close(time(&c["due_at"]), due), "{kind}: {c}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_compliance_report_sets_each_trigger_beside_the_others() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let events = server.url("/api/v1/events");
        let request = quote_request_two_days_ago(&server).await;
        let (status, _) = post(events.clone(), json!({"id": "hub-1", "kind": "webinar-attended", "contact": {"email": "a@northwind.example"}})).await;
        assert_eq!(status, 201);
        // The CRM reports the quote a day late: the follow-up counts from when it was sent.
        let sent = DateTime::from_timestamp(Utc::now().timestamp() - 86_400, 0).unwrap();
        let (status, r) = post(
            events.clone(),
            json!({"id": "crm-q-7", "kind": "quote-sent", "ticket": request["number"], "occurred_at": sent.to_rfc3339()}),
        )
        .await;
        assert_eq!(status, 201, "{r}");
        assert!(close(time(&r["due_at"]), sent + chrono::Duration::days(7)), "{r}");
        let (_, report) = get_json(&server.url("/api/v1/sla/report?group_by=trigger")).await;
        let row = |group: &str| {
            report["rows"]
                .as_array()
                .or_else(|| report.as_array())
                .unwrap()
                .iter()
                .find(|r| r["group"] == group)
                .unwrap_or_else(|| panic!("no {group} in {report}"))
                .clone()
        };
        let inbound = row("inbound");
        assert_eq!((inbound["tickets"].as_u64(), inbound["first_response"]["open"].as_u64()), (Some(1), Some(1)), "{report}");
        let webinar = row("webinar-attended");
        assert_eq!((webinar["tickets"].as_u64(), webinar["first_response"]["open"].as_u64()), (Some(1), Some(1)), "{report}");
        let quote = row("quote-sent");
        assert_eq!(
            (quote["tickets"].as_u64(), quote["follow_up"]["open"].as_u64(), quote["first_response"]["open"].as_u64()),
            (Some(0), Some(1), Some(0)),
            "{report}"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn competitors_and_consultants_never_reach_sales() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let ask = |from: &str| {
            mail(
                from,
                "Preisanfrage",
                "Was kostet ein Wartungsvertrag für 30 Server? Bitte senden Sie uns ein Angebot.",
            )
        };
        let screen_line = line_in("catalogue.toml", |l| l.starts_with("screen = "));
        // A customer's quote request goes to sales.
        let (_, _, t) = post_ticket(&server.base, &ask("kanzlei@mueller-partner.example"), None).await;
        assert_eq!(t["decision"]["queue"], "sales", "{t}");
        // A competitor (customer-list tag), a consultant, a listed domain: review, with why.
        for (from, why) in [
            ("vertrieb@konkurrenz-it.example", "Konkurrenz IT-Service GmbH is a competitor in the customer list"),
            ("p.adler@adler-beratung.example", "Adler Unternehmensberatung is a consultant in the customer list"),
            ("info@sub.mitbewerber.example", "the sender's domain sub.mitbewerber.example is listed (mitbewerber.example)"),
        ] {
            let (_, _, t) = post_ticket(&server.base, &ask(from), None).await;
            let d = &t["decision"];
            assert_eq!((d["queue"].as_str(), d["automation"].as_str()), (Some("review"), Some("human")), "{t}");
            let q = &d["trace"]["queue"];
            assert_eq!((q["by"].as_str(), q["rule"].as_str()), (Some("screen"), Some("queue.sales.screen")), "{q}");
            assert_eq!(q["why"], format!("kept out of sales: {why}"));
            assert!(q["at"].as_str().unwrap().ends_with(&format!("catalogue.toml:{screen_line}")), "{q}");
        }
        // A task an event starts for sales is screened the same way.
        let (status, r) = post(
            server.url("/api/v1/events"),
            json!({"id": "hub-9", "kind": "quote-requested", "contact": {"email": "p.adler@adler-beratung.example"}}),
        )
        .await;
        assert_eq!(status, 201, "{r}");
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{}", r["ticket"].as_str().unwrap()))).await;
        assert_eq!(t["decision"]["queue"], "review", "{t}");
        let (_, page) = get_json(&server.url("/api/v1/tickets?queue=sales")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_potential_class_names_the_contact_medium_in_the_decision() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let ask = |from: &str| {
            mail(
                from,
                "Passwort vergessen",
                "Ich habe mein Passwort vergessen und kann mich nicht mehr anmelden. Wie kann ich es zurücksetzen?",
            )
        };
        let table_line =
            |class: &str| line_in("catalogue.toml", |l| l == format!("[potential.{class}]"));
        for (from, class, medium, automation) in [
            ("it@contoso-pharma.example", "I", "key-account-call", "human"),
            ("kanzlei@mueller-partner.example", "II", "personal-mail", "semi-automated"),
            ("amt@seewalchen.gv.example", "IV", "automatic", "automated"),
        ] {
            let (_, _, t) = post_ticket(&server.base, &ask(from), None).await;
            let d = &t["decision"];
            let c = &d["trace"]["contact"];
            assert_eq!((c["potential"].as_str(), c["medium"].as_str()), (Some(class), Some(medium)), "{t}");
            assert!(c["at"].as_str().unwrap().ends_with(&format!("catalogue.toml:{}", table_line(class))), "{c}");
            assert_eq!(d["automation"], automation, "{from}: {t}");
            if automation != "automated" {
                let why = d["trace"]["automation"]["why"].as_str().unwrap();
                assert!(why.contains(&format!("potential class {class}: {medium}")), "{why}");
                assert_ne!(t["status"], "answered-automatically", "{t}");
            } else {
                assert_eq!(t["status"], "answered-automatically", "{t}");
            }
        }
        // Class III is served the standard way; without a class there is no strategy.
        let (_, _, t) = post_ticket(&server.base, &ask("dispo@alpen-logistik.example"), None).await;
        assert_eq!(t["decision"]["trace"]["contact"]["medium"], "standard", "{t}");
        let (_, _, t) = post_ticket(&server.base, &ask("someone@unknown.example"), None).await;
        assert!(t["decision"]["trace"].get("contact").is_none(), "{t}");
        server.stop().await;
    })
    .await;
}
