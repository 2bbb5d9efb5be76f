//! Phone intake: a CTI webhook and agents logging calls, through the real server and
//! database (SQLite, and PostgreSQL when `TRIAGE_TEST_DATABASE_URL` is set).

mod common;

use common::{each_backend, post, post_ticket, TestServer};
use serde_json::json;

#[tokio::test]
async fn a_call_finds_its_customer_by_number_and_call_backs_join_its_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let url = server.url("/api/v1/intake/call");
        let call = json!({"caller": "+43 662 8080-12", "called": "Hotline 1",
            "started_at": "2026-11-24T10:15:00+01:00", "call_id": "pbx-1001",
            "note": "Die Lieferung von gestern fehlt, bitte um Rückruf"});
        let (s, v) = post(url.clone(), call.clone()).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["outcome"], "created");
        let t = &v["ticket"];
        assert_eq!(t["channel"], "phone");
        assert_eq!(t["from"]["phone"], "+43662808012");
        assert_eq!(t["organisation"], "Alpen Logistik GmbH", "{t}");
        assert_eq!(t["decision"]["segment"], "commercial");
        assert_eq!(t["received_at"], "2026-11-24T09:15:00Z");
        assert!(t["body"]
            .as_str()
            .unwrap()
            .contains("Die Lieferung von gestern fehlt"));
        // The language is the caller's, not that of the line written about the call.
        assert_eq!(t["language"], "de", "{t}");
        let number = t["number"].as_str().unwrap().to_owned();

        // The telephone system reports the same call again: the same ticket.
        let (s, v) = post(url.clone(), call).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("duplicate")), "{v}");
        assert_eq!(v["ticket"]["number"], number.as_str());

        // The customer calls back from the same number (written differently).
        let (s, v) = post(
            url.clone(),
            json!({"caller": "0662 808012", "called": "Hotline 1"}),
        )
        .await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("appended")), "{v}");
        assert_eq!(v["ticket"]["number"], number.as_str());

        // Not a number.
        let (s, v) = post(url, json!({"caller": "unknown", "called": "Hotline 1"})).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["field"], "caller");

        // An agent logs a call with the caller's local number.
        let (s, _, t) = post_ticket(
            &server.base,
            &json!({"channel": "phone", "subject": "Rückruf",
            "body": "Kunde fragt nach Rechnung", "from": {"phone": "0316 385 100"}}),
            None,
        )
        .await;
        assert_eq!(s, 201, "{t}");
        assert_eq!(t["organisation"], "LKH Nord", "{t}");
        assert_eq!(t["decision"]["segment"], "business-critical");
        assert_eq!(t["from"]["phone"], "+43316385100");
        // The telephone system reports that caller's call-back: it joins the agent's ticket.
        let (s, v) = post(
            server.url("/api/v1/intake/call"),
            json!({"caller": "+43 316 385100", "called": "Hotline 2"}),
        )
        .await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("appended")), "{v}");
        assert_eq!(v["ticket"]["number"], t["number"]);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_call_is_answered_automatically_only_where_the_answer_can_reach_the_caller() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        // The telephone system knows only the number: the answer is suggested to an agent.
        let (s, v) = post(
            server.url("/api/v1/intake/call"),
            json!({"caller": "+43 7662 2255-0", "called": "Hotline 1", "call_id": "pbx-77",
                   "note": "Ich habe mein Passwort vergessen und kann mich nicht anmelden."}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let t = &v["ticket"];
        assert_eq!(t["from"]["email"], serde_json::Value::Null, "{t}");
        assert_ne!(t["status"], "answered-automatically", "{t}");
        assert_eq!(t["faq"]["mode"], "suggested", "{t}");
        assert!(
            t["faq"]["reason"].as_str().unwrap().contains("would reach nobody"),
            "{t}"
        );
        // A call logged with the caller's address: answered, by mail to that address.
        let (s, _, t) = post_ticket(
            &server.base,
            &json!({"channel": "phone", "subject": "Passwort vergessen",
                    "body": "Ich habe mein Passwort vergessen und kann mich nicht anmelden.",
                    "from": {"email": "anna.berger@alpen-logistik.example", "phone": "+43 662 8080-12"}}),
            None,
        )
        .await;
        assert_eq!((s, t["status"].as_str()), (201, Some("answered-automatically")), "{t}");
        let (_, outbox) = common::get_json(&server.url(&format!(
            "/api/v1/mail/outbox?ticket={}",
            t["number"].as_str().unwrap()
        )))
        .await;
        assert_eq!(
            outbox[0]["recipient"], "anna.berger@alpen-logistik.example",
            "{outbox}"
        );
        server.stop().await;
    })
    .await;
}
