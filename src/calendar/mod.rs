//! Business calendars: a time zone and weekly opening hours, used to decide whether a moment
//! lies inside a service window.
//!
//! Pure: takes instants as values and never reads the clock. Opening hours are kept as
//! minute intervals per local weekday; an overnight interval (`22:00-06:00`) is split at
//! midnight when the calendar is built, so lookups only ever look at one local day.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// Minutes in a day; `24:00` parses to this, so `00:00-24:00` covers a whole day.
const DAY: u16 = 24 * 60;

/// A half-open interval `[start, end)` of minutes after local midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: u16,
    pub end: u16,
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// A named calendar: a time zone and, per local weekday, sorted non-overlapping open intervals.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    name: String,
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    week: [Vec<Interval>; 7],
}

/// A calendar definition that cannot be built; the message says what is wrong in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CalendarError(pub String);

impl Calendar {
    /// Builds a calendar from `(days, intervals)` entries such as `("mon-fri", ["08:00-17:00"])`.
    ///
    /// Overnight intervals continue on the next day; overlapping intervals on one day are an
    /// error because they almost always mean a typo.
    pub fn new<'a, I, J>(name: &str, timezone: &str, hours: I) -> Result<Calendar, CalendarError>
    where
        I: IntoIterator<Item = (&'a str, J)>,
        J: IntoIterator<Item = &'a str>,
    {
        let tz: Tz = timezone.parse().map_err(|_| {
            CalendarError(format!(
                "unknown time zone \"{timezone}\" (use an IANA name such as \"Europe/Vienna\")"
            ))
        })?;
        let mut week: [Vec<Interval>; 7] = Default::default();
        for (days, intervals) in hours {
            let days = parse_days(days)?;
            for text in intervals {
                let (start, end) = parse_interval(text)?;
                for day in &days {
                    let d = day.num_days_from_monday() as usize;
                    if end > start {
                        week[d].push(Interval { start, end });
                    } else {
                        // Overnight: the evening part today, the morning part tomorrow.
                        week[d].push(Interval { start, end: DAY });
                        if end > 0 {
                            week[(d + 1) % 7].push(Interval { start: 0, end });
                        }
                    }
                }
            }
        }
        for (d, intervals) in week.iter_mut().enumerate() {
            intervals.sort();
            for pair in intervals.windows(2) {
                if pair[1].start < pair[0].end {
                    return Err(CalendarError(format!(
                        "opening hours {} and {} overlap on {}",
                        pair[0],
                        pair[1],
                        weekday_name(d)
                    )));
                }
            }
        }
        Ok(Calendar {
            name: name.to_owned(),
            tz,
            week,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The open intervals of a local weekday.
    pub fn hours(&self, day: Weekday) -> &[Interval] {
        &self.week[day.num_days_from_monday() as usize]
    }

    /// Whether `at` falls inside the opening hours, judged in the calendar's own time zone.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.hours(local.weekday())
            .iter()
            .any(|i| i.start <= minute && minute < i.end)
    }
}

fn weekday_name(d: usize) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d % 7]
}

fn parse_weekday(s: &str) -> Result<Weekday, CalendarError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "mon" => Ok(Weekday::Mon),
        "tue" => Ok(Weekday::Tue),
        "wed" => Ok(Weekday::Wed),
        "thu" => Ok(Weekday::Thu),
        "fri" => Ok(Weekday::Fri),
        "sat" => Ok(Weekday::Sat),
        "sun" => Ok(Weekday::Sun),
        other => Err(CalendarError(format!(
            "unknown day \"{other}\" (use mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)"
        ))),
    }
}

/// Parses `mon`, `mon-fri` or `mon,wed,fri`; a range may wrap (`fri-mon`).
pub fn parse_days(spec: &str) -> Result<Vec<Weekday>, CalendarError> {
    let mut days = Vec::new();
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let mut day = parse_weekday(from)?;
                let last = parse_weekday(to)?;
                loop {
                    days.push(day);
                    if day == last {
                        break;
                    }
                    day = day.succ();
                }
            }
            None => days.push(parse_weekday(part)?),
        }
    }
    Ok(days)
}

fn parse_time(s: &str) -> Result<u16, CalendarError> {
    let bad = || {
        CalendarError(format!(
            "invalid time \"{s}\" (expected HH:MM, 00:00 to 24:00)"
        ))
    };
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses `HH:MM-HH:MM`; an end at or before the start means the interval runs overnight.
pub fn parse_interval(s: &str) -> Result<(u16, u16), CalendarError> {
    let (a, b) = s.split_once('-').ok_or_else(|| {
        CalendarError(format!(
            "invalid opening hours \"{s}\" (expected HH:MM-HH:MM, e.g. 08:00-17:00)"
        ))
    })?;
    let (start, end) = (parse_time(a)?, parse_time(b)?);
    if start == end && start != 0 {
        return Err(CalendarError(format!(
            "opening hours \"{s}\" are empty (start equals end)"
        )));
    }
    if start == DAY {
        return Err(CalendarError(format!(
            "opening hours \"{s}\" start at 24:00; use 00:00 of the next day"
        )));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn vienna_office() -> Calendar {
        Calendar::new(
            "office",
            "Europe/Vienna",
            [("mon-fri", vec!["08:00-12:00", "13:00-17:00"])],
        )
        .unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn office_hours_are_judged_in_local_time() {
        let cal = vienna_office();
        // Monday 2026-11-23 07:30 UTC is 08:30 in Vienna (CET, UTC+1).
        assert!(cal.is_open(utc(2026, 11, 23, 7, 30)));
        // 06:59 UTC is 07:59 local: still closed.
        assert!(!cal.is_open(utc(2026, 11, 23, 6, 59)));
        // Lunch break 12:00-13:00 local.
        assert!(!cal.is_open(utc(2026, 11, 23, 11, 30)));
        // Saturday.
        assert!(!cal.is_open(utc(2026, 11, 28, 9, 0)));
    }

    #[test]
    fn summer_time_shifts_the_utc_opening() {
        let cal = vienna_office();
        // Monday 2026-07-06 06:30 UTC is 08:30 CEST.
        assert!(cal.is_open(utc(2026, 7, 6, 6, 30)));
        // 15:30 UTC is 17:30 CEST: closed.
        assert!(!cal.is_open(utc(2026, 7, 6, 15, 30)));
    }

    #[test]
    fn overnight_interval_continues_after_midnight() {
        let cal = Calendar::new("night", "UTC", [("fri", vec!["22:00-06:00"])]).unwrap();
        assert!(cal.is_open(utc(2026, 11, 27, 23, 0))); // Friday 23:00
        assert!(cal.is_open(utc(2026, 11, 28, 5, 59))); // Saturday 05:59
        assert!(!cal.is_open(utc(2026, 11, 28, 6, 0)));
        assert!(!cal.is_open(utc(2026, 11, 26, 23, 0))); // Thursday
    }

    #[test]
    fn whole_day_intervals_leave_no_gap_at_midnight() {
        let cal = Calendar::new(
            "always",
            "Europe/Vienna",
            [("mon-sun", vec!["00:00-24:00"])],
        )
        .unwrap();
        for h in 0..24 {
            assert!(cal.is_open(utc(2026, 3, 29, h, 0)), "hour {h}");
        }
    }

    #[test]
    fn bad_definitions_say_what_is_wrong() {
        let err = Calendar::new("x", "Europe/Wien", [("mon", vec!["08:00-17:00"])]).unwrap_err();
        assert!(err.0.contains("unknown time zone \"Europe/Wien\""), "{err}");
        let err = Calendar::new("x", "UTC", [("mon", vec!["8-17"])]).unwrap_err();
        assert!(err.0.contains("invalid time \"8\""), "{err}");
        let err = Calendar::new("x", "UTC", [("mo-fr", vec!["08:00-17:00"])]).unwrap_err();
        assert!(err.0.contains("unknown day \"mo\""), "{err}");
        let err =
            Calendar::new("x", "UTC", [("mon", vec!["08:00-12:00", "11:00-13:00"])]).unwrap_err();
        assert!(err.0.contains("overlap on mon"), "{err}");
    }

    #[test]
    fn day_ranges_may_wrap_around_the_week() {
        assert_eq!(
            parse_days("fri-mon").unwrap(),
            vec![Weekday::Fri, Weekday::Sat, Weekday::Sun, Weekday::Mon]
        );
        assert_eq!(
            parse_days("mon,wed").unwrap(),
            vec![Weekday::Mon, Weekday::Wed]
        );
    }
}
