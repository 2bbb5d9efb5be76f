//! Any bytes through the mail intake parser: it returns a mail or an error, never panics,
//! and what it returns is text the store can take.

#![no_main]

use libfuzzer_sys::fuzz_target;
use triage::intake::mail::{parse, subject_tag, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        attachment: 4096,
        message: 16384,
    };
    if let Ok(m) = parse(data, &limits) {
        assert!(!m.subject.is_empty());
        assert!(!m.subject.contains('\0') && !m.body.contains('\0'));
        let stored: usize = m
            .attachments
            .iter()
            .filter_map(|a| a.content.as_ref().map(Vec::len))
            .sum();
        assert!(stored <= limits.message);
        let _ = subject_tag(&m.subject);
    }
});
