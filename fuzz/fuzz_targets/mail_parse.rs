//! Any bytes through mail intake as far as a decision: the parser returns a mail or an
//! error, never panics, and what it returns is text the store can take; a mail that is a
//! request becomes a ticket the shipped rules classify, with its clocks started.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use triage::intake::mail::{parse, subject_tag, Limits};
use triage::rules::CompiledRules;

fn rules() -> &'static CompiledRules {
    static RULES: OnceLock<CompiledRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        triage::rules::load_dir(&dir).expect("the shipped rules load").rules
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        attachment: 4096,
        message: 16384,
    };
    let Ok(m) = parse(data, &limits) else {
        return;
    };
    assert!(!m.subject.is_empty());
    assert!(!m.subject.contains('\0') && !m.body.contains('\0'));
    let stored: usize = m
        .attachments
        .iter()
        .filter_map(|a| a.content.as_ref().map(Vec::len))
        .sum();
    assert!(stored <= limits.message);
    let _ = subject_tag(&m.subject);
    if triage::desk::mail::is_request(&m).is_ok() {
        let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let body = triage::desk::mail::body_with_notes(m.body.clone(), &m.attachments);
        let ticket = triage::desk::mail::new_ticket(&m, body, now);
        let row = triage::desk::intake::decide(rules(), ticket, now);
        assert!(!row.decision.queue.is_empty());
    }
});
