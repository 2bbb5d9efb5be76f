//! The workflows as a new user meets them, through the real server and database (SQLite,
//! and PostgreSQL when `TRIAGE_TEST_DATABASE_URL` is set): reading a conversation, an
//! automatic answer by mail whichever intake made the ticket, who counts as the actor,
//! decisions a person made surviving reclassification, clocks ending with a resolved
//! ticket, and the answers a newcomer gets.

mod common;

use common::{client, client_with, clock, each_backend, get_json, post, post_ticket, TestServer};
use serde_json::{json, Value};
use triage::model::Role;

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = c.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    let h = r.headers().clone();
    (s, h, r.json().await.unwrap_or(Value::Null))
}

/// A web form's ticket from an administrative customer: a printer that does not print.
async fn printer_ticket(server: &TestServer) -> Value {
    let (s, _, t) = post_ticket(
        &server.base,
        &json!({"channel": "web", "subject": "Drucker",
            "body": "Der Drucker druckt nicht.", "from": {"email": "max@stadt.example"}}),
        None,
    )
    .await;
    assert_eq!(s, 201, "{t}");
    t
}

fn password_mail() -> String {
    "From: Anna Berger <anna.berger@alpen-logistik.example>\r\n\
     To: helpdesk@example.com\r\n\
     Subject: Drucker im Lager\r\n\
     Message-ID: <lager-1@alpen-logistik.example>\r\n\
     MIME-Version: 1.0\r\n\
     Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
     --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
     Der Etikettendrucker im Lager druckt seit heute nur leere Etiketten.\r\n\
     --b\r\nContent-Type: text/plain; name=\"log.txt\"\r\n\
     Content-Disposition: attachment; filename=\"log.txt\"\r\n\r\nFehler 42\r\n--b--\r\n"
        .to_owned()
}

#[tokio::test]
async fn the_conversation_reads_oldest_first_with_directions_authors_and_mail_ids() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (s, v) = common::deliver_mail(&client(), &server, password_mail()).await;
        assert_eq!(s, 201, "{v}");
        let number = v["ticket"]["number"].as_str().unwrap().to_owned();
        let url = |p: &str| server.url(&format!("/api/v1/tickets/{number}{p}"));
        let (s, _) = post(url("/replies"), json!({"body": "Wir sehen uns das an."})).await;
        assert_eq!(s, 200);
        let (s, _) = post(
            url("/replies"),
            json!({"body": "Treiber prüfen", "internal": true}),
        )
        .await;
        assert_eq!(s, 200);
        let (s, _) = post(url("/messages"), json!({"body": "Danke!"})).await;
        assert_eq!(s, 200);

        let (s, page) = get_json(&url("/messages")).await;
        assert_eq!(s, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        let summary: Vec<(&str, bool, &str)> = items
            .iter()
            .map(|m| {
                (
                    m["direction"].as_str().unwrap(),
                    m["internal"].as_bool().unwrap(),
                    m["author"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("inbound", false, "anna.berger@alpen-logistik.example"),
                ("outbound", false, "admin"),
                ("note", true, "admin"),
                ("inbound", false, "anna.berger@alpen-logistik.example"),
            ]
        );
        assert_eq!(items[0]["message_id"], "<lager-1@alpen-logistik.example>");
        assert_eq!(items[0]["channel"], "email");
        assert_eq!(items[0]["attachments"][0]["name"], "log.txt");
        assert!(items[1]["body"]
            .as_str()
            .unwrap()
            .starts_with("Wir sehen uns das an."));
        // The agent's reply went out by mail: it has a Message-ID of ours and its outbox
        // entry shows the text sent.
        let ours = items[1]["message_id"].as_str().unwrap();
        assert!(
            ours.starts_with('<') && ours.ends_with("@example.com>"),
            "{ours}"
        );
        assert!(page["next_cursor"].is_null());

        // Pages of two: the cursor continues where the first page ended.
        let (_, first) = get_json(&url("/messages?limit=2")).await;
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap();
        let (_, second) = get_json(&url(&format!("/messages?limit=2&cursor={cursor}"))).await;
        assert_eq!(second["items"][0]["direction"], "note");
        assert!(second["next_cursor"].is_null(), "{second}");

        let (s, outbox) =
            get_json(&server.url(&format!("/api/v1/mail/outbox?ticket={number}"))).await;
        assert_eq!(s, 200);
        assert!(
            outbox[0]["body"]
                .as_str()
                .unwrap()
                .starts_with("Wir sehen uns das an."),
            "{outbox}"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_automatic_answer_to_an_email_ticket_from_json_reaches_the_outbox_as_text_and_html() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (s, _, t) = post_ticket(&server.base, &json!({"channel": "email",
            "subject": "Passwort vergessen",
            "body": "Guten Morgen, ich habe mein Passwort vergessen und kann mich nicht mehr anmelden. Wie kann ich es zurücksetzen?",
            "from": {"email": "anna.berger@alpen-logistik.example"}}), None).await;
        assert_eq!(s, 201, "{t}");
        assert_eq!(t["status"], "answered-automatically", "{t}");
        let number = t["number"].as_str().unwrap();
        let (_, outbox) =
            get_json(&server.url(&format!("/api/v1/mail/outbox?ticket={number}"))).await;
        let mail = &outbox[0];
        assert_eq!(mail["recipient"], "anna.berger@alpen-logistik.example", "{outbox}");
        assert_eq!(mail["automatic"], true);
        assert_eq!(mail["html"], true);
        let body = mail["body"].as_str().unwrap();
        assert!(body.contains(number), "{body}");
        assert!(!body.contains("**") && !body.contains("]("), "Markdown reached the mail: {body}");
        // A web ticket has no address to mail: its answer stays a message.
        let (_, _, w) = post_ticket(&server.base, &json!({"channel": "web",
            "subject": "Passwort vergessen",
            "body": "Ich habe mein Passwort vergessen. Wie kann ich es zurücksetzen?",
            "from": {"email": "anna.berger@alpen-logistik.example"}}), None).await;
        let (_, none) = get_json(&server.url(&format!(
            "/api/v1/mail/outbox?ticket={}",
            w["number"].as_str().unwrap()
        )))
        .await;
        assert_eq!(none.as_array().unwrap().len(), 0, "{none}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_actor_is_the_token_and_only_managers_act_for_an_agent() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let store = &server.state.desk.store;
        store
            .add_token("eva", Role::Agent, "token-eva", chrono::Utc::now())
            .await
            .unwrap();
        let (s, _, _) = send(
            &client(),
            reqwest::Method::PUT,
            server.url("/api/v1/agents/eva"),
            Some(json!({"name": "Eva", "capacity": 5, "languages": ["de"]})),
        )
        .await;
        assert_eq!(s, 200);
        let t = printer_ticket(&server).await;
        let number = t["number"].as_str().unwrap();
        let replies = server.url(&format!("/api/v1/tickets/{number}/replies"));
        let eva = client_with("token-eva");

        // An agent naming someone else is refused; without a name the reply is theirs.
        let (s, _, p) = send(
            &eva,
            reqwest::Method::POST,
            replies.clone(),
            Some(json!({"body": "Erledigt", "author": "boss"})),
        )
        .await;
        assert_eq!(
            (s, p["type"].as_str()),
            (403, Some("/problems/forbidden")),
            "{p}"
        );
        let (s, _, _) = send(
            &eva,
            reqwest::Method::POST,
            replies.clone(),
            Some(json!({"body": "Wir sind dran", "internal": true})),
        )
        .await;
        assert_eq!(s, 200);
        // A manager acts for a registered agent, recorded as such; an unknown one is 422.
        let manager = client_with("test-manager-token");
        let (s, _, _) = send(
            &manager,
            reqwest::Method::POST,
            replies.clone(),
            Some(json!({"body": "Treiber neu installiert", "author": "eva"})),
        )
        .await;
        assert_eq!(s, 200);
        let (s, _, p) = send(
            &manager,
            reqwest::Method::POST,
            replies.clone(),
            Some(json!({"body": "x", "author": "nobody"})),
        )
        .await;
        assert_eq!((s, p["field"].as_str()), (422, Some("author")), "{p}");
        let (s, _, p) = send(
            &eva,
            reqwest::Method::POST,
            server.url(&format!("/api/v1/tickets/{number}/status")),
            Some(json!({"status": "pending-customer", "actor": "boss"})),
        )
        .await;
        assert_eq!(s, 403, "{p}");

        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
        let events = events.as_array().unwrap();
        let note = events.iter().find(|e| e["kind"] == "note").unwrap();
        assert_eq!(note["actor"], "eva");
        let reply = events.iter().find(|e| e["kind"] == "reply").unwrap();
        assert_eq!(
            (
                reply["actor"].as_str(),
                reply["data"]["on_behalf_of"].as_str()
            ),
            (Some("manager"), Some("eva")),
            "{reply}"
        );
        let (_, page) = get_json(&server.url(&format!("/api/v1/tickets/{number}/messages"))).await;
        let authors: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["author"].as_str())
            .collect();
        assert_eq!(authors, ["max@stadt.example", "eva", "eva"]);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reclassify_keeps_the_queue_an_agent_transferred_to() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let t = printer_ticket(&server).await;
        let number = t["number"].as_str().unwrap();
        let rules_queue = t["decision"]["queue"].as_str().unwrap().to_owned();
        let rules = server.state.rules();
        let other = rules
            .queues
            .keys()
            .find(|q| ***q != *rules_queue)
            .unwrap()
            .to_string();
        let (s, moved) = post(
            server.url(&format!("/api/v1/tickets/{number}/transfer")),
            json!({"queue": other, "reason": "Lager-Drucker betreut das Netzwerk-Team"}),
        )
        .await;
        assert_eq!(s, 200, "{moved}");
        assert_eq!(
            moved["decision"]["trace"]["queue"]["by"], "agent",
            "{moved}"
        );

        let (s, again) = post(
            server.url(&format!("/api/v1/tickets/{number}/reclassify")),
            json!({}),
        )
        .await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(again["decision"]["queue"], other.as_str());
        assert_eq!(again["decision"]["trace"]["queue"]["by"], "agent");
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
        let re = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "reclassified")
            .unwrap();
        assert_eq!(
            re["data"]["kept"]["queue"]["rules"],
            rules_queue.as_str(),
            "{re}"
        );
        assert!(re["data"]["changes"].get("queue").is_none(), "{re}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn resolving_ends_a_waiting_next_reply_clock_and_the_report_counts_nothing_open() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let t = printer_ticket(&server).await;
        let number = t["number"].as_str().unwrap();
        let url = |p: &str| server.url(&format!("/api/v1/tickets/{number}{p}"));
        post(url("/replies"), json!({"body": "Welches Modell?"})).await;
        let (_, asked) = post(url("/messages"), json!({"body": "Das im 2. Stock"})).await;
        assert_eq!(clock(&asked, "next_reply")["state"], "running", "{asked}");
        let (_, waiting) = post(url("/status"), json!({"status": "pending-customer"})).await;
        assert_eq!(clock(&waiting, "next_reply")["state"], "paused");
        let (s, done) = post(url("/status"), json!({"status": "resolved"})).await;
        assert_eq!(s, 200, "{done}");
        assert_eq!(clock(&done, "next_reply")["state"], "ended", "{done}");
        assert_ne!(done["sla"]["state"], "paused", "{done}");

        let (_, report) = get_json(&server.url("/api/v1/sla/report?group_by=channel")).await;
        let row = report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == "web")
            .unwrap();
        assert_eq!(row["next_reply"]["open"], 0, "{row}");
        assert_eq!(row["resolution"]["open"], 0, "{row}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_newcomer_gets_etags_and_answers_that_say_what_to_do() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (s, headers, t) = post_ticket(
            &server.base,
            &json!({"channel": "web", "subject": "Drucker",
            "body": "Der Drucker druckt nicht.", "from": {"email": "max@stadt.example"}}),
            None,
        )
        .await;
        assert_eq!(s, 201);
        assert_eq!(headers["etag"], "\"1\"");
        let number = t["number"].as_str().unwrap();
        // A claim with a token no agent stands behind says how to give the ticket instead.
        let (s, _, p) = send(
            &client(),
            reqwest::Method::POST,
            server.url(&format!("/api/v1/tickets/{number}/claim")),
            None,
        )
        .await;
        assert_eq!(
            (s, p["type"].as_str()),
            (422, Some("/problems/not-an-agent")),
            "{p}"
        );
        assert!(p["detail"].as_str().unwrap().contains("/assign"), "{p}");

        // Feedback twice on an automatic answer: the second says what the first was.
        let (_, _, a) = post_ticket(
            &server.base,
            &json!({"channel": "web", "subject": "Passwort vergessen",
            "body": "Ich habe mein Passwort vergessen. Wie kann ich es zurücksetzen?",
            "from": {"email": "anna.berger@alpen-logistik.example"}}),
            None,
        )
        .await;
        assert_eq!(a["status"], "answered-automatically", "{a}");
        let feedback = server.url(&format!(
            "/api/v1/tickets/{}/feedback",
            a["number"].as_str().unwrap()
        ));
        let (s, _) = post(feedback.clone(), json!({"helped": true})).await;
        assert_eq!(s, 200);
        let (s, p) = post(feedback, json!({"helped": true})).await;
        assert_eq!(s, 409);
        assert!(
            p["detail"].as_str().unwrap().contains("already given"),
            "{p}"
        );
        assert!(p["detail"].as_str().unwrap().contains("it helped"), "{p}");
        // Only the best suggestion carries a confidence; none shows a made-up 0.
        for s in a["faq"]["suggestions"].as_array().unwrap().iter().skip(1) {
            assert!(s.get("confidence").is_none(), "{s}");
            assert!(s["relative_score"].as_f64().unwrap() > 0.0, "{s}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_automatic_answer_waits_for_the_verdict_and_silence_resolves_it() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let ask = |subject: &str| {
            json!({"channel": "web", "subject": subject,
                   "body": "Ich habe mein Passwort vergessen. Wie kann ich es zurücksetzen?",
                   "from": {"email": "anna.berger@alpen-logistik.example"}})
        };
        let mut numbers = Vec::new();
        for subject in ["Passwort vergessen", "Passwort weg"] {
            let (s, _, t) = post_ticket(&server.base, &ask(subject), None).await;
            assert_eq!(
                (s, t["status"].as_str()),
                (201, Some("answered-automatically")),
                "{t}"
            );
            // First response met; the resolution waits for the customer, not breaching.
            assert_eq!(clock(&t, "first_response")["state"], "met", "{t}");
            assert_eq!(clock(&t, "resolution")["state"], "paused", "{t}");
            numbers.push(t["number"].as_str().unwrap().to_owned());
        }
        // The second one did not help: back to people, the resolution clock running again.
        let (s, t) = post(
            server.url(&format!("/api/v1/tickets/{}/feedback", numbers[1])),
            json!({"helped": false}),
        )
        .await;
        assert_eq!(s, 200, "{t}");
        assert_eq!(clock(&t, "resolution")["state"], "running", "{t}");

        let store = &server.state.desk.store;
        let rules = server.state.rules();
        let config = triage::worker::WorkerConfig::default();
        let http = triage::worker::http_client(&config);
        let round = |days: i64, store: triage::store::Store| {
            let (rules, config, http) = (rules.clone(), config.clone(), http.clone());
            async move {
                let at = chrono::Utc::now() + chrono::Duration::days(days);
                triage::worker::round(&store, &rules, &config, &http, None, at)
                    .await
                    .unwrap()
                    .resolved
            }
        };
        // Six days of silence: still waiting. Eight: resolved by one of two workers, once.
        assert_eq!(round(6, store.clone()).await, 0);
        let other = triage::store::Store::open(&db.url).await.unwrap();
        let (a, b) = tokio::join!(round(8, store.clone()), round(8, other));
        assert_eq!(a + b, 1);
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{}", numbers[0]))).await;
        assert_eq!(t["status"], "resolved", "{t}");
        assert_eq!(clock(&t, "resolution")["state"], "met", "{t}");
        let (_, events) =
            get_json(&server.url(&format!("/api/v1/tickets/{}/events", numbers[0]))).await;
        let why = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "status")
            .map(|e| e["data"]["reason"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>();
        assert_eq!(why.len(), 1, "{events}");
        assert!(why[0].contains("resolve-after-days"), "{events}");
        // The ticket people work on stays theirs.
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{}", numbers[1]))).await;
        assert_eq!(t["status"], "open", "{t}");
        server.stop().await;
    })
    .await;
}
