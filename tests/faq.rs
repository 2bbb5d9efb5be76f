//! Automatic answers from the FAQ through the real HTTP server and database (SQLite always,
//! PostgreSQL when `TRIAGE_TEST_DATABASE_URL` is set), with the shipped rules and articles.

mod common;

use chrono::Utc;
use common::{client, clock, each_backend, get_json, post, post_ticket, time, TestServer};
use serde_json::{json, Value};

/// A commercial customer (Alpen Logistik) asks how to reset a password.
fn password(lang: &str, received: &str) -> Value {
    let (subject, body) = if lang == "de" {
        (
            "Passwort vergessen",
            "Guten Morgen, ich habe mein Passwort vergessen und kann mich nicht mehr anmelden. Wie kann ich es zurücksetzen?",
        )
    } else {
        (
            "Forgot my password",
            "Hello, I forgot my password and cannot sign in any more. How can I reset it?",
        )
    };
    json!({"channel": "email", "subject": subject, "body": body,
           "from": {"email": "anna.berger@alpen-logistik.example"}, "received_at": received})
}

async fn messages_of(server: &TestServer, id: &str) -> Vec<(String, String)> {
    let record = server.state.desk.store.get(id).await.unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    entity::messages::Entity::find()
        .filter(entity::messages::Column::TicketId.eq(record.id))
        .order_by_asc(entity::messages::Column::Id)
        .all(server.state.desk.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.direction, m.body))
        .collect()
}

#[tokio::test]
async fn password_questions_are_answered_automatically_in_german_and_english() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        for (lang, article, greeting) in [
            ("de", "password-reset-de", "Guten Tag"),
            ("en", "password-reset-en", "Hello"),
        ] {
            let now = Utc::now().to_rfc3339();
            let (status, _, t) = post_ticket(&server.base, &password(lang, &now), None).await;
            assert_eq!(status, 201, "{t}");
            assert_eq!(t["status"], "answered-automatically", "{t}");
            let faq = &t["faq"];
            assert_eq!(
                (faq["mode"].as_str(), faq["article"].as_str()),
                (Some("automated"), Some(article)),
                "{faq}"
            );
            assert!(faq["confidence"].as_f64().unwrap() >= 0.95, "{faq}");
            assert!(
                faq["reason"]
                    .as_str()
                    .unwrap()
                    .contains("automatic threshold"),
                "{faq}"
            );
            // The answer went out as a message naming the ticket, and met the first response.
            let number = t["number"].as_str().unwrap();
            let msgs = messages_of(&server, number).await;
            let (dir, text) = &msgs[1];
            assert_eq!(dir, "outbound");
            assert!(text.starts_with(greeting), "{text}");
            assert!(text.contains(number), "{text}");
            assert!(text.contains("passwort.servicedesk.example"), "{text}");
            assert_eq!(clock(&t, "first_response")["state"], "met");
            let (_, events) =
                get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
            let answered = events
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["kind"] == "faq.answered")
                .unwrap();
            assert_eq!(answered["data"]["article"], article);
        }
        let (_, articles) = get_json(&server.url("/api/v1/faq")).await;
        let sent: i64 = articles
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["sent"].as_i64().unwrap())
            .sum();
        assert_eq!(sent, 2);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn business_critical_tickets_get_suggestions_never_an_automatic_answer() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let mut t = password("de", &Utc::now().to_rfc3339());
        t["from"] = json!({"email": "stationsleitung@lkh-nord.example"});
        let (_, _, t) = post_ticket(&server.base, &t, None).await;
        assert_eq!(t["decision"]["segment"], "business-critical");
        assert_eq!(t["status"], "open");
        let faq = &t["faq"];
        assert_eq!(faq["mode"], "suggested", "{faq}");
        assert!(faq["reason"].as_str().unwrap().contains("business-critical"), "{faq}");
        assert_eq!(faq["suggestions"][0]["article"], "password-reset-de");
        assert!(faq["suggestions"].as_array().unwrap().len() <= 3);
        assert_eq!(clock(&t, "first_response")["state"], "running");
        // Feedback is only for automatic answers.
        let (status, body) = post(server.url(&format!("/api/v1/tickets/{}/feedback", t["id"].as_str().unwrap())), json!({"helped": true})).await;
        assert_eq!(status, 409, "{body}");
        // A question no article answers stays with people and says why.
        let (_, _, other) = post_ticket(
            &server.base,
            &json!({"channel": "web", "subject": "Drucker", "body": "Der Drucker im 2. Stock zieht das Papier schief ein."}),
            None,
        )
        .await;
        assert_eq!(other["faq"]["mode"], "human", "{}", other["faq"]);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_unhelpful_answer_goes_to_people_with_the_clock_from_the_original_arrival() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        // Arrived 3 hours ago (a mail the gateway delivered late); answered automatically.
        let arrived = (Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
        let (_, _, t) = post_ticket(&server.base, &password("en", &arrived), None).await;
        assert_eq!(t["status"], "answered-automatically");
        let url = |what: &str| {
            server.url(&format!(
                "/api/v1/tickets/{}/{what}",
                t["number"].as_str().unwrap()
            ))
        };
        let (status, back) = post(url("feedback"), json!({"helped": false})).await;
        assert_eq!(status, 200, "{back}");
        assert_eq!(back["status"], "open");
        assert_eq!(back["decision"]["queue"], t["decision"]["queue"]);
        let first = clock(&back, "first_response");
        assert_ne!(first["state"], "met", "{first}");
        // The due time is the original one: counted from arrival, not from the feedback.
        let original_due = clock(&t, "first_response")["due_at"].clone();
        assert_eq!(first["due_at"], original_due, "{first}");
        let kinds = common::event_kinds(&server, t["number"].as_str().unwrap()).await;
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        assert!(
            kinds.contains(&"faq.not_helped") && kinds.contains(&"status"),
            "{kinds:?}"
        );
        // A second verdict is refused: the ticket is with people now.
        let (status, _) = post(url("feedback"), json!({"helped": true})).await;
        assert_eq!(status, 409);

        // Helped: resolved, and counted for the article.
        let (_, _, u) = post_ticket(&server.base, &password("de", &arrived), None).await;
        let (_, done) = post(
            server.url(&format!(
                "/api/v1/tickets/{}/feedback",
                u["id"].as_str().unwrap()
            )),
            json!({"helped": true}),
        )
        .await;
        assert_eq!(done["status"], "resolved");
        assert_eq!(clock(&done, "resolution")["state"], "met");

        // A customer reply to an automatic answer counts as "did not help".
        let (_, _, v) = post_ticket(&server.base, &password("de", &arrived), None).await;
        let (_, replied) = post(
            server.url(&format!(
                "/api/v1/tickets/{}/messages",
                v["id"].as_str().unwrap()
            )),
            json!({"body": "Das hat leider nicht funktioniert, ich bekomme keine SMS."}),
        )
        .await;
        assert_eq!(replied["status"], "open", "{replied}");
        assert_ne!(clock(&replied, "first_response")["state"], "met");

        let (_, de) = get_json(&server.url("/api/v1/faq/password-reset-de")).await;
        assert_eq!(
            (
                de["sent"].as_i64(),
                de["helped"].as_i64(),
                de["not_helped"].as_i64()
            ),
            (Some(2), Some(1), Some(1)),
            "{de}"
        );
        assert_eq!(de["deflection_rate"], 0.5);
        let (_, en) = get_json(&server.url("/api/v1/faq/password-reset-en")).await;
        assert_eq!(en["not_helped"], 1);
        assert!(time(&t["received_at"]) < Utc::now());
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn managers_edit_articles_and_the_index_follows() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let url = server.url("/api/v1/faq/excel-pivot-de");
        let article = json!({
            "language": "de", "category": "office-howto",
            "title": "Excel: Pivot-Tabelle erstellen",
            "questions": ["Wie erstelle ich eine Pivot-Tabelle?", "Pivot in Excel anlegen", "Daten mit einer Pivottabelle auswerten"],
            "keywords": ["pivot", "pivottabelle", "auswertung"],
            "body": "Markieren Sie die Daten, dann Einfügen → PivotTable → OK, und ziehen Sie die Felder in Zeilen, Spalten und Werte."
        });
        let resp = client().put(&url).json(&article).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let (_, _, t) = post_ticket(
            &server.base,
            &json!({"channel": "email", "subject": "Frage zu Excel", "body": "Wie erstelle ich in Excel eine Pivottabelle aus meiner Umsatzliste?",
                    "from": {"email": "b@alpen-logistik.example"}}),
            None,
        )
        .await;
        assert_eq!(t["faq"]["suggestions"][0]["article"], "excel-pivot-de", "{}", t["faq"]);
        // Invalid input names the field; unknown articles are 404.
        let mut bad = article.clone();
        bad["language"] = json!("fr");
        let resp = client().put(&url).json(&bad).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 422);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["field"], "language");
        let mut bad = article.clone();
        bad["category"] = json!("astrology");
        assert_eq!(client().put(&url).json(&bad).send().await.unwrap().status().as_u16(), 422);
        assert_eq!(client().delete(&url).send().await.unwrap().status().as_u16(), 204);
        assert_eq!(client().delete(&url).send().await.unwrap().status().as_u16(), 404);
        let (status, _) = get_json(&url).await;
        assert_eq!(status, 404);
        let (_, _, t2) = post_ticket(
            &server.base,
            &json!({"channel": "email", "subject": "Frage zu Excel", "body": "Wie erstelle ich in Excel eine Pivottabelle aus meiner Umsatzliste?"}),
            None,
        )
        .await;
        let first = t2["faq"]["suggestions"].get(0).map(|s| s["article"].clone());
        assert_ne!(first, Some(json!("excel-pivot-de")));
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn another_instance_picks_up_changed_articles() {
    each_backend(async |db| {
        let a = TestServer::start(db).await;
        let b = TestServer::start(db).await;
        let article = json!({
            "language": "en", "category": "office-howto",
            "title": "Teams: share your screen",
            "questions": ["How do I share my screen in Teams?", "Present my screen in a Teams meeting"],
            "keywords": ["teams", "share screen", "present"],
            "body": "In the meeting, click Share (the arrow in the square) and pick the screen or window."
        });
        let resp = client()
            .put(a.url("/api/v1/faq/teams-share-en"))
            .json(&article)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        // B notices the changed articles (its periodic check does this every few seconds).
        assert!(b.state.refresh_faq().await.unwrap());
        assert!(!b.state.refresh_faq().await.unwrap(), "nothing changed since");
        let (_, _, t) = post_ticket(
            &b.base,
            &json!({"channel": "web", "subject": "Teams", "body": "How do I share my screen in a Teams meeting?",
                    "from": {"email": "j.smith@northwind.example"}}),
            None,
        )
        .await;
        assert_eq!(t["faq"]["suggestions"][0]["article"], "teams-share-en", "{}", t["faq"]);
        a.stop().await;
        b.stop().await;
    })
    .await;
}

/// Questions that share words with a shipped article but ask for something no article
/// answers, in German and English: never answered automatically. Paraphrases of what the
/// articles do answer: answered.
#[tokio::test]
async fn questions_no_article_answers_get_no_automatic_answer_and_paraphrases_do() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let ask = |subject: &str, body: &str| {
            json!({"channel": "web", "subject": subject, "body": body,
                   "from": {"email": "anna.berger@alpen-logistik.example"}})
        };
        let out_of_scope = [
            ("Wo bekomme ich Adobe Acrobat?", "Ich brauche Adobe Acrobat Pro für meine Arbeit. Wo kann ich das herunterladen?", Some("Acrobat")),
            ("Where do I get Adobe Acrobat?", "I need Adobe Acrobat Pro for my work. Where can I download it?", Some("Acrobat")),
            ("Wo bekomme ich einen Parkausweis?", "Wo kann ich einen Parkausweis für die Tiefgarage bekommen?", None),
            ("Where can I get a parking permit?", "Where do I get a parking permit for the garage?", None),
            ("Passwortabfrage nervt", "Outlook fragt mich ständig immer wieder nach meinem Passwort, obwohl es richtig ist.", None),
            ("Password prompt keeps appearing", "Outlook keeps asking me for my password again and again although it is correct.", None),
            ("Excel friert ein", "Excel friert ständig ein, wenn ich eine große Datei öffne.", None),
            ("Excel macro", "How do I write an Excel macro that sends an email every day?", None),
        ];
        for (subject, body, named) in out_of_scope {
            let (status, _, t) = post_ticket(&server.base, &ask(subject, body), None).await;
            assert_eq!(status, 201, "{t}");
            let faq = &t["faq"];
            assert_ne!(faq["mode"], "automated", "{subject}: {faq}");
            assert_ne!(t["status"], "answered-automatically", "{subject}");
            if let Some(word) = named {
                let reason = faq["reason"].as_str().unwrap();
                assert!(
                    reason.contains(&format!("names {}", "Adobe")) && reason.contains(word),
                    "{subject}: the reason names what no article covers: {reason}"
                );
            }
        }
        let answered = [
            ("Wo bekomme ich den VPN-Client?", "Ich brauche den VPN-Client für das Homeoffice. Wo kann ich ihn herunterladen?", "vpn-client-de"),
            ("Where do I get the VPN client?", "I need the VPN client to work from home. Where can I download it?", "vpn-client-en"),
            ("Where is my order?", "I ordered a week ago. When will my delivery arrive?", "order-status-en"),
            ("Abwesenheitsnotiz", "Wie richte ich in Outlook eine Abwesenheitsnotiz ein?", "outlook-ooo-de"),
            ("Out of office", "How do I set up an out of office reply in Outlook?", "outlook-ooo-en"),
            ("Serienbrief", "Wie mache ich in Word einen Serienbrief?", "word-mailmerge-de"),
        ];
        for (subject, body, article) in answered {
            let (status, _, t) = post_ticket(&server.base, &ask(subject, body), None).await;
            assert_eq!(status, 201, "{t}");
            let faq = &t["faq"];
            assert_eq!(
                (faq["mode"].as_str(), faq["article"].as_str()),
                (Some("automated"), Some(article)),
                "{subject}: {faq}"
            );
        }
        server.stop().await;
    })
    .await;
}

/// A web form's backend asks before a ticket exists: the gateway token gets the articles
/// with their text and the best one's confidence, records that the person went away
/// satisfied, and is held to its per-minute allowance.
#[tokio::test]
async fn self_service_search_finds_articles_counts_deflections_and_is_rate_limited() {
    each_backend(async |db| {
        let config = triage::api::ApiConfig {
            faq_search_per_minute: 4,
            ..Default::default()
        };
        let server = TestServer::start_with(db, config).await;
        let gateway = common::client_with("test-gateway-token");
        let search = |q: &str, lang: Option<&str>| {
            let mut url = reqwest::Url::parse(&server.url("/api/v1/faq/search")).unwrap();
            url.query_pairs_mut().append_pair("q", q);
            if let Some(l) = lang {
                url.query_pairs_mut().append_pair("lang", l);
            }
            gateway.get(url).send()
        };
        // German, detected from the text.
        let r = search(
            "Ich habe mein Passwort vergessen und kann mich nicht anmelden",
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let found: Value = r.json().await.unwrap();
        assert_eq!(found["language"], "de", "{found}");
        let best = &found["results"][0];
        assert_eq!(best["article"], "password-reset-de", "{found}");
        assert!(best["confidence"].as_f64().unwrap() >= 0.95, "{found}");
        assert!(
            best["body"].as_str().unwrap().len() > 40,
            "the article's text: {found}"
        );
        assert!(found["results"][1]["confidence"].is_null(), "{found}");
        // Out of scope: a low confidence, and what the best article lacks.
        let r = search("Where do I get Adobe Acrobat?", Some("en"))
            .await
            .unwrap();
        let found: Value = r.json().await.unwrap();
        let best = &found["results"][0];
        assert!(best["confidence"].as_f64().unwrap() < 0.95, "{found}");
        assert!(
            best["missing"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w == "Acrobat"),
            "{found}"
        );
        // The person read the article and did not submit the form.
        let deflect = |id: &str| {
            gateway
                .post(server.url(&format!("/api/v1/faq/{id}/deflections")))
                .send()
        };
        assert_eq!(deflect("password-reset-de").await.unwrap().status(), 204);
        assert_eq!(deflect("no-such-article").await.unwrap().status(), 404);
        let (_, article) = get_json(&server.url("/api/v1/faq/password-reset-de")).await;
        assert_eq!(article["deflected"], 1, "{article}");
        // Four requests this minute were allowed; the fifth is refused with Retry-After.
        let r = search("Passwort", Some("de")).await.unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["type"], "/problems/too-many-requests", "{p}");
        // Another token has its own allowance; a gateway still cannot read articles.
        let agent = common::client_with("test-agent-token");
        let r = agent
            .get(server.url("/api/v1/faq/search?q=VPN-Client&lang=de"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = gateway
            .get(server.url("/api/v1/faq/password-reset-de"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        // A question is required.
        let r = agent
            .get(server.url("/api/v1/faq/search?q=%20"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        server.stop().await;
    })
    .await;
}

/// A report that something is down or failing is never answered by a machine, whatever
/// routine product it names; the trace says which guarantee held it.
#[tokio::test]
async fn outage_reports_naming_a_routine_product_are_never_answered_automatically() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        for (subject, body) in [
            ("Webshop", "Seit heute früh zeigt der Webshop beim Bezahlen nur Fehler 500, wir verlieren Bestellungen."),
            ("VPN-Client", "Der VPN-Client geht nicht mehr, seit dem Update kann sich im Büro keiner verbinden."),
            ("Passwort zurücksetzen", "Die Seite zum Passwort zurücksetzen ist nicht erreichbar."),
            ("Order status", "The order status page is not working, our customers cannot see their orders."),
            ("Webshop checkout", "Checkout went down an hour ago and we are losing orders."),
        ] {
            let t = json!({"channel": "web", "subject": subject, "body": body,
                           "from": {"email": "someone@unknown-firm.example"}});
            let (status, _, t) = post_ticket(&server.base, &t, None).await;
            assert_eq!(status, 201, "{t}");
            let d = &t["decision"];
            assert_ne!(d["automation"], "automated", "{body}: {d}");
            assert_ne!(t["faq"]["mode"], "automated", "{body}");
            assert_ne!(t["status"], "answered-automatically", "{body}");
            let by = d["trace"]["automation"]["by"].as_str().unwrap();
            assert!(by == "cap" || d["category"] == "outage", "{body}: {}", d["trace"]["automation"]);
        }
        server.stop().await;
    })
    .await;
}
