//! The shipped rules over the Softoft labelled ticket data (../shared/data/tickets-softoft,
//! CC BY-NC 4.0, evaluation only). Skips with a notice when the data is absent, except in CI.

use triage::eval::{data_dir, evaluate, load_softoft};

#[test]
fn shipped_rules_separate_billing_and_outage_tickets_from_the_rest() {
    let dir = data_dir().join("tickets-softoft");
    if !dir.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the evaluation data is missing at {}",
            dir.display()
        );
        eprintln!("skipping: no evaluation data at {}", dir.display());
        return;
    }
    let data = load_softoft(&dir).expect("data set readable");
    assert!(
        data.len() > 4000,
        "expected the two multi-language slices, got {}",
        data.len()
    );
    let rules = triage::rules::load_dir(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules"
    )))
    .unwrap();
    let report = evaluate(&rules.rules, &data);
    assert_eq!(report.tickets, data.len());

    // Share of a data-set queue that we put into a segment or category.
    let share = |tab: &triage::eval::CrossTab, queue: &str, value: &str| {
        tab.count(queue, value) as f64 / tab.row_total(queue) as f64
    };
    let seg = &report.queue_segment;
    let cat = &report.queue_category;
    // Billing tickets are recognised as commercial far more often than any other queue's.
    let billing = share(seg, "Billing and Payments", "commercial");
    for queue in seg.cells.keys().filter(|q| *q != "Billing and Payments") {
        assert!(billing > 3.0 * share(seg, queue, "commercial"), "{queue}");
    }
    // Outage tickets are recognised as outages more often than any other queue's.
    let outages = share(cat, "Service Outages and Maintenance", "outage");
    for queue in cat
        .cells
        .keys()
        .filter(|q| *q != "Service Outages and Maintenance")
    {
        assert!(outages > 2.0 * share(cat, queue, "outage"), "{queue}");
    }
    // Language detection agrees with a plain stopword vote on nearly every ticket.
    let lang = &report.language;
    let votes = &report.language_by_stopwords;
    for label in ["de", "en"] {
        for detected in ["de", "en"] {
            let diff = lang
                .count(label, detected)
                .abs_diff(votes.count(label, detected));
            assert!(
                diff * 50 < lang.row_total(label),
                "{label}/{detected}: {diff}"
            );
        }
    }
}
