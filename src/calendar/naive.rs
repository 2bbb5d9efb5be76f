//! The definition the calendar arithmetic must agree with, stepping minute by minute and
//! asking [`Calendar::is_open`] about each one. Far too slow for use; it is the oracle of the
//! property tests and the baseline of `cargo bench --bench calendar`.

use chrono::{DateTime, Duration, Utc};

use super::Calendar;

/// The end of the `minutes`-th open minute from `start` on.
pub fn due_time(cal: &Calendar, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    let mut t = start;
    let mut rem = minutes;
    while rem > 0 {
        if cal.is_open(t) {
            rem -= 1;
        }
        t += Duration::minutes(1);
    }
    t
}

/// Open seconds in `[a, b)`, counted in whole minutes from `a`.
pub fn open_seconds(cal: &Calendar, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    let mut t = a;
    let mut n = 0;
    while t < b {
        n += i64::from(cal.is_open(t));
        t += Duration::minutes(1);
    }
    n * 60
}
