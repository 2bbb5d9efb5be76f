//! The compliance report and its time series, counted from the clocks the store keeps with
//! every ticket write: buckets in a time zone across a daylight-saving change, series that
//! add up to the report, clocks that follow replies and transfers, and the one-time fill of
//! the kept clocks for tickets stored before they were kept.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{json, Value};
use triage::store::Store;

/// Five tickets around the end of summer time in Berlin (2026-10-25 01:00 UTC).
const CREATED: [&str; 5] = [
    "2026-10-24T21:30:00Z", // 23:30 CEST, 24 October
    "2026-10-24T22:30:00Z", // 00:30 CEST, 25 October
    "2026-10-25T22:30:00Z", // 23:30 CET, 25 October
    "2026-10-25T23:30:00Z", // 00:30 CET, 26 October
    "2026-10-26T10:00:00Z", // 11:00 CET, 26 October
];

async fn seed(db: &TestDb) {
    let store = Store::open(&db.url).await.unwrap();
    let rules = shipped_rules();
    let samples = triage::loadtest::sample_tickets(include_str!("../examples/tickets.jsonl"));
    for at in CREATED {
        let at: DateTime<Utc> = at.parse().unwrap();
        let new = triage::loadtest::decided_tickets(&rules, &samples[..1], at)
            .pop()
            .unwrap();
        store.create_ticket_unbatched(new, at).await.unwrap();
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// Per point of the first (only) group: clocks of `metric` met + breached + open.
fn counts(series: &Value, metric: &str) -> Vec<i64> {
    series["groups"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let f = &p[metric];
            ["met", "breached", "open"]
                .iter()
                .map(|k| f[k].as_i64().unwrap())
                .sum()
        })
        .collect()
}

async fn series(server: &TestServer, from: &str, to: &str, extra: &str) -> Value {
    let (status, body) = get_json(&server.url(&format!(
        "/api/v1/sla/report/series?from={}&to={}&group_by=channel{extra}",
        urlencode(from),
        urlencode(to)
    )))
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn series_buckets_are_the_days_of_the_zone_and_add_up_to_the_report() {
    each_backend(async |db| {
        seed(db).await;
        let server = TestServer::start(db).await;
        let (from, to) = ("2026-10-24T00:00:00+02:00", "2026-10-27T00:00:00+01:00");

        let berlin = series(&server, from, to, "&tz=Europe/Berlin").await;
        assert_eq!(
            berlin["starts"],
            json!([
                "2026-10-24T00:00:00+02:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00"
            ]),
            "{berlin}"
        );
        assert_eq!(berlin["groups"][0]["group"], "email");
        assert_eq!(counts(&berlin, "first_response"), [1, 2, 2], "{berlin}");
        let tickets: Vec<i64> = berlin["groups"][0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["tickets"].as_i64().unwrap())
            .collect();
        assert_eq!(tickets, [1, 2, 2], "{berlin}");

        // The same moments in UTC days.
        let utc = series(&server, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z", "").await;
        assert_eq!(utc["tz"], "UTC");
        assert_eq!(counts(&utc, "first_response"), [2, 2, 1], "{utc}");

        // Weeks start on Monday: 24 and 25 October are in the week of the 19th.
        let weeks = series(&server, from, to, "&tz=Europe/Berlin&bucket=week").await;
        assert_eq!(
            weeks["starts"],
            json!(["2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00"]),
            "{weeks}"
        );
        assert_eq!(counts(&weeks, "first_response"), [3, 2], "{weeks}");

        // The report over the same period has what the buckets add up to.
        let (status, report) = get_json(&server.url(&format!(
            "/api/v1/sla/report?from={}&to={}&group_by=channel",
            urlencode(from),
            urlencode(to)
        )))
        .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report[0]["group"], "email");
        assert_eq!(report[0]["tickets"], 5);
        for metric in ["first_response", "resolution"] {
            for k in ["met", "breached", "open"] {
                let sum: i64 = berlin["groups"][0]["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p[metric][k].as_i64().unwrap())
                    .sum();
                assert_eq!(report[0][metric][k].as_i64(), Some(sum), "{metric} {k}");
            }
        }

        // CSV: a line per bucket and group, the same counts.
        let csv = common::get_csv(&server.url(&format!(
            "/api/v1/sla/report/series?from={}&to={}&group_by=channel&tz=Europe/Berlin",
            urlencode(from),
            urlencode(to)
        )))
        .await;
        let lines: Vec<&str> = csv.lines().collect();
        assert!(
            lines[0].starts_with("start,group,tickets,attainment_pct,first_response_met,"),
            "{csv}"
        );
        assert_eq!(lines.len(), 4, "{csv}");
        assert!(
            lines[2].starts_with("2026-10-25T00:00:00+02:00,email,"),
            "{csv}"
        );

        // Bad parameters name themselves.
        for (query, field) in [
            ("tz=Mars/Olympus", "tz"),
            ("bucket=hour", "bucket"),
            ("group_by=weather", "group_by"),
            ("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ] {
            let (status, body) =
                get_json(&server.url(&format!("/api/v1/sla/report/series?{query}"))).await;
            assert_eq!(
                (status, body["field"].as_str()),
                (422, Some(field)),
                "{body}"
            );
        }
        server.stop().await;
    })
    .await;
}

/// The report's first-response counts and tickets for one group.
fn first_response(report: &Value, group: &str) -> Option<(i64, i64, i64, i64)> {
    let row = report.as_array()?.iter().find(|r| r["group"] == group)?;
    let f = &row["first_response"];
    Some((
        row["tickets"].as_i64()?,
        f["met"].as_i64()?,
        f["breached"].as_i64()?,
        f["open"].as_i64()?,
    ))
}

#[tokio::test]
async fn kept_clocks_follow_replies_and_transfers_and_are_filled_in_for_older_tickets() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let mut numbers = Vec::new();
        for i in 0..3 {
            let (status, _, t) = post_ticket(
                &server.base,
                &json!({"channel": "web", "subject": format!("Drucker {i} druckt nicht"),
                        "body": "Der Drucker im zweiten Stock druckt seit heute früh nicht.",
                        "from": {"email": "eva@kunde.example"}}),
                None,
            )
            .await;
            assert_eq!(status, 201, "{t}");
            numbers.push(t["number"].as_str().unwrap().to_owned());
        }
        let queue = |report: &Value| {
            report
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["group"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let (_, before) = get_json(&server.url("/api/v1/sla/report?group_by=queue")).await;
        let home = queue(&before)[0].clone();
        assert_eq!(
            first_response(&before, &home),
            Some((3, 0, 0, 3)),
            "{before}"
        );

        // A reply stops the first response in time: met.
        let (status, body) = post(
            server.url(&format!("/api/v1/tickets/{}/replies", numbers[0])),
            json!({"body": "Wir schicken jemanden vorbei."}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // A transfer moves a ticket to another queue's row.
        let (status, body) = post(
            server.url(&format!("/api/v1/tickets/{}/transfer", numbers[1])),
            json!({"queue": "security", "reason": "Verdacht auf Manipulation"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (_, after) = get_json(&server.url("/api/v1/sla/report?group_by=queue")).await;
        assert_eq!(first_response(&after, &home), Some((2, 1, 0, 1)), "{after}");
        assert_eq!(
            first_response(&after, "security"),
            Some((1, 0, 0, 1)),
            "{after}"
        );
        // The series has the minutes per bucket when asked for them.
        let point = |series: &Value| {
            let groups = series["groups"].as_array().unwrap();
            let g = groups.iter().find(|g| g["group"] == home.as_str()).unwrap();
            g["points"].as_array().unwrap().last().unwrap()["first_response"].clone()
        };
        let (_, plain) = get_json(&server.url("/api/v1/sla/report/series?group_by=queue")).await;
        assert_eq!(point(&plain)["met"], 1, "{plain}");
        assert_eq!(point(&plain)["median_minutes"], Value::Null, "{plain}");
        let (_, with) =
            get_json(&server.url("/api/v1/sla/report/series?group_by=queue&percentiles=true"))
                .await;
        let row = after
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == home.as_str());
        assert_eq!(point(&with)["median_minutes"], 0, "{with}");
        assert_eq!(
            point(&with)["median_minutes"],
            row.unwrap()["first_response"]["median_minutes"]
        );
        server.stop().await;

        // A database whose tickets were stored before clocks were kept: the store fills
        // them in when it opens, and the report is the same.
        forget_kept_clocks(db).await;
        let server = TestServer::start(db).await;
        let (_, again) = get_json(&server.url("/api/v1/sla/report?group_by=queue")).await;
        assert_eq!(again, after);
        server.stop().await;
    })
    .await;
}

/// The report and series calls compared before and after the days are counted.
const CALLS: [&str; 9] = [
    "/api/v1/sla/report?group_by=segment",
    "/api/v1/sla/report?group_by=channel",
    "/api/v1/sla/report?group_by=queue",
    "/api/v1/sla/report?group_by=category",
    "/api/v1/sla/report?group_by=policy",
    "/api/v1/sla/report?group_by=trigger",
    "/api/v1/sla/report/series?group_by=segment&tz=Europe/Berlin&percentiles=true",
    "/api/v1/sla/report/series?group_by=queue&tz=America/New_York&bucket=week",
    "/api/v1/sla/report/series?group_by=channel&tz=Asia/Kolkata&percentiles=true",
];

async fn answers(server: &TestServer, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
    let mut out = Vec::new();
    for call in CALLS {
        let url = format!(
            "{call}&from={}&to={}",
            urlencode(&from.to_rfc3339()),
            urlencode(&to.to_rfc3339())
        );
        let (status, body) = get_json(&server.url(&url)).await;
        assert_eq!(status, 200, "{url}: {body}");
        out.push(body);
    }
    out
}

#[tokio::test]
async fn counted_days_answer_as_the_kept_rows_do_and_follow_later_changes() {
    each_backend(async |db| {
        use sea_orm::ConnectionTrait;
        // The twelve sample tickets on each of the eight days before yesterday, at other
        // hours each day.
        let store = Store::open(&db.url).await.unwrap();
        let rules = shipped_rules();
        let samples = triage::loadtest::sample_tickets(include_str!("../examples/tickets.jsonl"));
        let now = Utc::now();
        let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
        let mut numbers = Vec::new();
        for day in 2..10 {
            for (i, sample) in samples.iter().enumerate() {
                let at = today - chrono::Duration::days(day)
                    + chrono::Duration::minutes((i as i64 * 113 + day * 37) % 1440);
                let new =
                    triage::loadtest::decided_tickets(&rules, std::slice::from_ref(sample), at)
                        .pop()
                        .unwrap();
                if let triage::store::Created::New(t) =
                    store.create_ticket_unbatched(new, at).await.unwrap()
                {
                    let waits =
                        t.first_response_due_at.is_some() && t.status != "answered-automatically";
                    numbers.push((t.seq, waits));
                }
            }
        }
        let server = TestServer::start(db).await;
        // A period that begins and ends within a day.
        let (from, to) = (
            today - chrono::Duration::days(12) + chrono::Duration::hours(7),
            now,
        );
        let before = answers(&server, from, to).await;
        assert!(before[0].as_array().unwrap().len() >= 2, "{}", before[0]);

        // Counting the days changes no answer; counted once, they are not counted again.
        assert_eq!(store.count_closed_days(now, 100).await.unwrap(), 8);
        assert_eq!(store.count_closed_days(now, 100).await.unwrap(), 0);
        let counted = answers(&server, from, to).await;
        for (call, (a, b)) in CALLS.iter().zip(before.iter().zip(&counted)) {
            assert_eq!(a, b, "{call}");
        }

        // A reply to a ticket of a counted day: its first response is decided now, the
        // report shows it at once (its day is read from the kept rows), and the day is
        // counted again with the same answer.
        let waiting = numbers
            .iter()
            .find(|(_, waits)| *waits)
            .map(|(seq, _)| triage::store::ticket_number(*seq))
            .expect("a ticket waiting for its first response");
        let (status, body) = post(
            server.url(&format!("/api/v1/tickets/{waiting}/replies")),
            json!({"body": "Wir kümmern uns darum."}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let changed = answers(&server, from, to).await;
        assert_ne!(changed[0], counted[0], "the reply is counted");
        // Two workers count the changed day at once (one may skip it); the answer stays.
        let other = Store::open(&db.url).await.unwrap();
        let (a, b) = tokio::join!(
            store.count_closed_days(now, 100),
            other.count_closed_days(now, 100)
        );
        assert!(a.unwrap() + b.unwrap() >= 1);
        assert_eq!(store.count_closed_days(now, 100).await.unwrap(), 0);
        let recounted = answers(&server, from, to).await;
        for (call, (a, b)) in CALLS.iter().zip(changed.iter().zip(&recounted)) {
            assert_eq!(a, b, "{call}");
        }

        // The counted days alone answer for those days: without their kept rows, every
        // call whose zone has whole-hour offsets gives the same figures.
        let conn = sea_orm::Database::connect(&db.url).await.unwrap();
        conn.execute_unprepared(&format!(
            "DELETE FROM sla_clocks WHERE created_us < {}",
            (today - chrono::Duration::days(1)).timestamp_micros()
        ))
        .await
        .unwrap();
        conn.close().await.unwrap();
        let alone = answers(&server, from, to).await;
        for (call, (a, b)) in CALLS.iter().zip(recounted.iter().zip(&alone)).take(8) {
            assert_eq!(a, b, "{call}");
        }
        assert_ne!(
            alone[8], recounted[8],
            "Kolkata's buckets are counted from the rows"
        );
        server.stop().await;
    })
    .await;
}
