//! Business calendars: a time zone, weekly opening hours, holidays and special days; whether
//! a moment lies inside a service window, and business-time arithmetic for SLA clocks.
//!
//! Pure: takes instants as values and never reads the clock. Opening hours are kept as
//! minute intervals per local weekday; an overnight interval (`22:00-06:00`) is split at
//! midnight when the calendar is built, so lookups only ever look at one local day.
//!
//! A minute is open when its local wall-clock time lies in the hours of its local date, so
//! on the night clocks go back the repeated hour counts twice if it is open, and on the night
//! they go forward the skipped hour does not exist. Arithmetic ([`Calendar::add_business`],
//! [`Calendar::business_between`]) works in real seconds over a running total of open time
//! per day, so it looks at the first and the last day of a span and jumps the rest with a
//! binary search: its cost does not grow with the length of the target. It covers local
//! dates of the years 2000 to 2099; beyond them it answers `None`.

mod days;
pub mod naive;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

pub use days::{easter_sunday, parse_ics, DateSpec, IcsHoliday};

/// Minutes in a day; `24:00` parses to this, so `00:00-24:00` covers a whole day.
const DAY: u16 = 24 * 60;
const DAY_SECS: i64 = 86_400;
/// Day number (days since 1970-01-01) of 1970-01-01 counted from 0001-01-01.
const UNIX_EPOCH_CE: i32 = 719_163;
/// The first year calendars count in.
pub const FIRST_YEAR: i32 = 2000;
/// The last year calendars count in.
pub const LAST_YEAR: i32 = 2099;

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

/// A named calendar: a time zone, per local weekday sorted non-overlapping open intervals,
/// and the dates whose hours differ.
#[derive(Clone, Debug)]
pub struct Calendar {
    name: String,
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    week: [Vec<Interval>; 7],
    /// Holidays and special days, by local day number, sorted.
    specials: Vec<Special>,
    /// UTC offset in force from each instant on (Unix seconds), sorted; the first starts at
    /// `i64::MIN`.
    offsets: Vec<(i64, i32)>,
    /// Local day numbers on which arithmetic cannot use the weekly pattern: special days and
    /// days with a clock change, sorted.
    irregular: Vec<i32>,
    /// Instants covered by the arithmetic.
    range: (i64, i64),
    index: std::sync::OnceLock<DayIndex>,
}

/// Open seconds before each local day of the covered years: `prefix[k]` is the open time of
/// the days from `first_day` up to (not including) `first_day + k`. Due times become a
/// binary search, so a 30-day target costs what a 30-minute one does.
#[derive(Clone, Debug)]
struct DayIndex {
    first_day: i32,
    prefix: Vec<i64>,
}

impl DayIndex {
    /// Index into `prefix` of the start of `day`, if covered.
    fn position(&self, day: i32) -> Option<usize> {
        let k = usize::try_from(day - self.first_day).ok()?;
        (k < self.prefix.len()).then_some(k)
    }
}

impl PartialEq for Calendar {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.tz == other.tz
            && self.week == other.week
            && self.specials == other.specials
    }
}

/// A date with its own hours (empty: closed all day) and the name to show for it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Special {
    day: i32,
    hours: Vec<Interval>,
    name: Arc<str>,
}

/// One special-day definition: when, which hours (none: a holiday), and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecialDay {
    pub date: DateSpec,
    pub hours: Vec<Interval>,
    pub name: String,
}

impl SpecialDay {
    /// A holiday: closed all day.
    pub fn closed(date: DateSpec, name: impl Into<String>) -> SpecialDay {
        SpecialDay {
            date,
            hours: Vec::new(),
            name: name.into(),
        }
    }

    /// A day with other hours, e.g. `08:00-12:00` on 24 December; no overnight intervals,
    /// because the next day has its own definition.
    pub fn with_hours<'a>(
        date: DateSpec,
        name: impl Into<String>,
        intervals: impl IntoIterator<Item = &'a str>,
    ) -> Result<SpecialDay, CalendarError> {
        let mut hours = Vec::new();
        for text in intervals {
            let (start, end) = parse_interval(text)?;
            if end <= start {
                return Err(CalendarError(format!(
                    "special-day hours \"{text}\" run past midnight; give the next day its own hours"
                )));
            }
            hours.push(Interval { start, end });
        }
        check_overlaps(&mut hours, &date.to_string())?;
        Ok(SpecialDay {
            date,
            hours,
            name: name.into(),
        })
    }
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
            check_overlaps(intervals, weekday_name(d))?;
        }
        let offsets = offset_table(tz);
        let mut cal = Calendar {
            name: name.to_owned(),
            tz,
            week,
            specials: Vec::new(),
            offsets,
            irregular: Vec::new(),
            range: (
                day_number(FIRST_YEAR, 1, 1) as i64 * DAY_SECS,
                day_number(LAST_YEAR + 1, 1, 1) as i64 * DAY_SECS,
            ),
            index: std::sync::OnceLock::new(),
        };
        cal.index_irregular_days();
        Ok(cal)
    }

    /// Adds holidays and special days, expanded for every covered year. Where two fall on
    /// one date, a closed day wins over other hours, and otherwise the first one given.
    pub fn with_special_days(mut self, days: impl IntoIterator<Item = SpecialDay>) -> Calendar {
        let mut specials = std::mem::take(&mut self.specials);
        for def in days {
            let name: Arc<str> = def.name.as_str().into();
            for year in FIRST_YEAR..=LAST_YEAR {
                if let Some(date) = def.date.in_year(year) {
                    specials.push(Special {
                        day: date_day(date),
                        hours: def.hours.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
        // Stable: among equals the earlier definition stays first; closed days sort first.
        specials.sort_by_key(|s| (s.day, !s.hours.is_empty()));
        specials.dedup_by_key(|s| s.day);
        self.specials = specials;
        self.index_irregular_days();
        self.index = std::sync::OnceLock::new();
        self
    }

    fn index_irregular_days(&mut self) {
        let mut days: Vec<i32> = self.specials.iter().map(|s| s.day).collect();
        for pair in self.offsets.windows(2) {
            let (before, (at, after)) = (pair[0].1, pair[1]);
            days.push((at - 1 + i64::from(before)).div_euclid(DAY_SECS) as i32);
            days.push((at + i64::from(after)).div_euclid(DAY_SECS) as i32);
        }
        days.sort_unstable();
        days.dedup();
        self.irregular = days;
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

    /// The open intervals of a local date: its special hours if it has any, else its weekday's.
    pub fn hours_on(&self, date: NaiveDate) -> &[Interval] {
        self.day_hours(date_day(date))
    }

    /// The name of the holiday or special day on a local date.
    pub fn special_day(&self, date: NaiveDate) -> Option<&str> {
        self.special(date_day(date)).map(|s| &*s.name)
    }

    /// Whether `at` falls inside the opening hours, judged in the calendar's own time zone.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.hours_on(local.date_naive())
            .iter()
            .any(|i| i.start <= minute && minute < i.end)
    }

    /// The moment `seconds` of open time after `start` have passed: the due time of a target.
    /// `None` when the calendar has no such moment before the end of 2099.
    pub fn add_business(&self, start: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        if seconds <= 0 {
            return Some(start);
        }
        let t0 = start.timestamp();
        if t0 < self.range.0 || t0 >= self.range.1 {
            return None;
        }
        let mut pieces = Vec::with_capacity(4);
        let day = self.local_day(t0);
        self.pieces(day, &mut pieces);
        let mut rem = seconds;
        for &(a, b) in &pieces {
            if b <= t0 {
                continue;
            }
            let a = a.max(t0);
            if b - a >= rem {
                return DateTime::from_timestamp(a + rem, 0);
            }
            rem -= b - a;
        }
        // Whole days from here on: find the day the target falls in by a galloping search
        // over the running total of open time (near days first), then walk that one day.
        let index = self.day_index();
        let from = index.position(day + 1)?;
        let prefix = &index.prefix;
        let target = prefix[from] + rem;
        let mut step = 1;
        while from + step < prefix.len() && prefix[from + step] < target {
            step *= 2;
        }
        let lo = from + step / 2;
        let hi = (from + step + 1).min(prefix.len());
        let k = lo + prefix[lo..hi].partition_point(|&p| p < target);
        if k == 0 || k >= prefix.len() {
            return None;
        }
        let mut rem = target - index.prefix[k - 1];
        self.pieces(index.first_day + k as i32 - 1, &mut pieces);
        for &(a, b) in &pieces {
            if b - a >= rem {
                return DateTime::from_timestamp(a + rem, 0);
            }
            rem -= b - a;
        }
        None
    }

    /// Open seconds in `[from, to)`; zero when `to` is not after `from`. Clamped to the years
    /// the calendar covers.
    pub fn business_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        let a = from.timestamp().max(self.range.0);
        let b = to.timestamp().min(self.range.1);
        if b <= a {
            return 0;
        }
        let (first, last) = (self.local_day(a), self.local_day(b - 1));
        let mut pieces = Vec::with_capacity(4);
        let mut partial = |day: i32| {
            self.pieces(day, &mut pieces);
            pieces
                .iter()
                .map(|&(x, y)| (y.min(b) - x.max(a)).max(0))
                .sum::<i64>()
        };
        if first == last {
            return partial(first);
        }
        let index = self.day_index();
        let whole = match (index.position(first + 1), index.position(last)) {
            (Some(i), Some(j)) if j > i => index.prefix[j] - index.prefix[i],
            _ => 0,
        };
        partial(first) + whole + partial(last)
    }

    /// The first open moment at or after `at`, e.g. when a notification that must wait for
    /// office hours may go out.
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = at.timestamp();
        if t < self.range.0 || t >= self.range.1 {
            return None;
        }
        let last_day = (self.range.1 / DAY_SECS) as i32;
        let mut day = self.local_day(t);
        let mut pieces = Vec::with_capacity(4);
        while day <= last_day {
            self.pieces(day, &mut pieces);
            if let Some(&(a, _)) = pieces.iter().find(|(_, b)| *b > t) {
                return if a <= t {
                    Some(at)
                } else {
                    DateTime::from_timestamp(a, 0)
                };
            }
            day += 1;
        }
        None
    }

    /// The running total of open time per day, built on first use (arithmetic needs it,
    /// `is_open` does not).
    fn day_index(&self) -> &DayIndex {
        self.index.get_or_init(|| {
            let first_day = day_number(FIRST_YEAR, 1, 1) - 1;
            let last_day = day_number(LAST_YEAR + 1, 1, 1);
            let weekday_secs: Vec<i64> = self
                .week
                .iter()
                .map(|d| d.iter().map(|i| i64::from(i.end - i.start) * 60).sum())
                .collect();
            let mut prefix = Vec::with_capacity((last_day - first_day) as usize + 1);
            prefix.push(0);
            let mut total = 0;
            let mut pieces = Vec::new();
            let mut next = self.irregular.partition_point(|&d| d < first_day);
            for day in first_day..=last_day {
                let open = if self.irregular.get(next) == Some(&day) {
                    next += 1;
                    self.pieces(day, &mut pieces);
                    pieces.iter().map(|(a, b)| b - a).sum()
                } else {
                    weekday_secs[(day + 3).rem_euclid(7) as usize]
                };
                total += open;
                prefix.push(total);
            }
            DayIndex { first_day, prefix }
        })
    }

    /// The open stretches of a local day as Unix-second intervals, in order.
    fn pieces(&self, day: i32, out: &mut Vec<(i64, i64)>) {
        out.clear();
        let hours = self.day_hours(day);
        if hours.is_empty() {
            return;
        }
        let l0 = i64::from(day) * DAY_SECS;
        if self.irregular.binary_search(&day).is_err() || self.offsets.len() == 1 {
            let off = i64::from(self.day_offset(day));
            out.extend(hours.iter().map(|i| {
                (
                    l0 + i64::from(i.start) * 60 - off,
                    l0 + i64::from(i.end) * 60 - off,
                )
            }));
            return;
        }
        // A clock change: map the hours back through each offset in force around the day.
        let (lo, hi) = (l0 - 2 * DAY_SECS, l0 + 3 * DAY_SECS);
        let first = self.offsets.partition_point(|&(from, _)| from <= lo) - 1;
        for k in first..self.offsets.len() {
            let (from, off) = self.offsets[k];
            if from >= hi {
                break;
            }
            let to = self.offsets.get(k + 1).map_or(i64::MAX, |n| n.0);
            let off = i64::from(off);
            let (seg_lo, seg_hi) = (from.max(lo) + off, to.min(hi) + off);
            for i in hours {
                let s = (l0 + i64::from(i.start) * 60).max(seg_lo);
                let e = (l0 + i64::from(i.end) * 60).min(seg_hi);
                if s < e {
                    out.push((s - off, e - off));
                }
            }
        }
    }

    fn special(&self, day: i32) -> Option<&Special> {
        self.specials
            .binary_search_by_key(&day, |s| s.day)
            .ok()
            .map(|i| &self.specials[i])
    }

    fn day_hours(&self, day: i32) -> &[Interval] {
        match self.special(day) {
            Some(s) => &s.hours,
            None => &self.week[(day + 3).rem_euclid(7) as usize],
        }
    }

    fn offset_at(&self, t: i64) -> i32 {
        let i = self.offsets.partition_point(|&(from, _)| from <= t);
        self.offsets[i.saturating_sub(1)].1
    }

    /// The offset of a day without a clock change (taken at its local noon).
    fn day_offset(&self, day: i32) -> i32 {
        if self.offsets.len() == 1 {
            return self.offsets[0].1;
        }
        let noon = i64::from(day) * DAY_SECS + DAY_SECS / 2;
        self.offset_at(noon - i64::from(self.offset_at(noon)))
    }

    fn local_day(&self, t: i64) -> i32 {
        (t + i64::from(self.offset_at(t))).div_euclid(DAY_SECS) as i32
    }
}

fn check_overlaps(intervals: &mut [Interval], on: &str) -> Result<(), CalendarError> {
    intervals.sort();
    for pair in intervals.windows(2) {
        if pair[1].start < pair[0].end {
            return Err(CalendarError(format!(
                "opening hours {} and {} overlap on {on}",
                pair[0], pair[1]
            )));
        }
    }
    Ok(())
}

fn date_day(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_CE
}

fn day_number(year: i32, month: u32, day: u32) -> i32 {
    NaiveDate::from_ymd_opt(year, month, day).map_or(0, date_day)
}

/// The zone's UTC offsets over the covered years, found by sampling weekly and bisecting
/// each change to the second (zones do not change offset twice within a week).
fn offset_table(tz: Tz) -> Vec<(i64, i32)> {
    let offset = |t: i64| -> i32 {
        DateTime::from_timestamp(t, 0).map_or(0, |d| {
            tz.offset_from_utc_datetime(&d.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    let start = i64::from(day_number(FIRST_YEAR, 1, 1) - 7) * DAY_SECS;
    let end = i64::from(day_number(LAST_YEAR + 1, 1, 1) + 7) * DAY_SECS;
    let step = 7 * DAY_SECS;
    let mut prev = offset(start);
    let mut out = vec![(i64::MIN, prev)];
    let mut t = start;
    while t < end {
        let next = offset(t + step);
        if next != prev {
            let (mut lo, mut hi) = (t, t + step);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == prev {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((hi, next));
            prev = next;
        }
        t += step;
    }
    out
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

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn austrian_office() -> Calendar {
        vienna_office().with_special_days([
            SpecialDay::closed(DateSpec::parse("12-25").unwrap(), "Christtag"),
            SpecialDay::closed(DateSpec::parse("easter+1").unwrap(), "Ostermontag"),
            SpecialDay::with_hours(
                DateSpec::parse("12-24").unwrap(),
                "Heiliger Abend",
                ["08:00-12:00"],
            )
            .unwrap(),
        ])
    }

    #[test]
    fn holidays_and_special_days_change_the_hours() {
        let cal = austrian_office();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(cal.hours_on(d("2026-12-25")).is_empty());
        assert_eq!(cal.special_day(d("2026-12-25")), Some("Christtag"));
        assert_eq!(cal.special_day(d("2026-04-06")), Some("Ostermontag"));
        assert_eq!(cal.hours_on(d("2026-12-24")).len(), 1);
        assert!(cal.is_open(at("2026-12-24T11:30:00+01:00")));
        assert!(!cal.is_open(at("2026-12-24T13:30:00+01:00")));
        assert!(!cal.is_open(at("2026-04-06T10:00:00+02:00")));
    }

    #[test]
    fn due_time_skips_nights_weekends_and_holidays() {
        let cal = austrian_office();
        // Friday 16:00 + 2 h: one hour on Friday, one on Monday morning.
        assert_eq!(
            cal.add_business(at("2026-11-27T16:00:00+01:00"), 2 * 3600),
            Some(at("2026-11-30T09:00:00+01:00"))
        );
        // Wednesday 23 Dec 16:00 + 6 h: 1 h on Wednesday, 4 h on the 24th (open until
        // 12:00), the 25th is closed, the 26th a Saturday → the last hour on Monday 28th.
        assert_eq!(
            cal.add_business(at("2026-12-23T16:00:00+01:00"), 6 * 3600),
            Some(at("2026-12-28T09:00:00+01:00"))
        );
        // Ending exactly at closing time answers closing time, not the next opening.
        assert_eq!(
            cal.add_business(at("2026-11-23T16:00:00+01:00"), 3600),
            Some(at("2026-11-23T17:00:00+01:00"))
        );
        assert_eq!(
            cal.business_between(
                at("2026-12-23T16:00:00+01:00"),
                at("2026-12-28T09:00:00+01:00")
            ),
            6 * 3600
        );
    }

    #[test]
    fn twenty_four_seven_counts_the_real_length_of_clock_change_nights() {
        let cal = Calendar::new(
            "always",
            "Europe/Vienna",
            [("mon-sun", vec!["00:00-24:00"])],
        )
        .unwrap();
        // 2026-10-25 has 25 hours in Vienna; 2026-03-29 has 23.
        assert_eq!(
            cal.business_between(
                at("2026-10-25T00:00:00+02:00"),
                at("2026-10-26T00:00:00+01:00")
            ),
            25 * 3600
        );
        assert_eq!(
            cal.add_business(at("2026-03-28T12:00:00+01:00"), 24 * 3600),
            Some(at("2026-03-29T13:00:00+02:00"))
        );
    }

    #[test]
    fn next_open_waits_for_office_hours() {
        let cal = austrian_office();
        assert_eq!(
            cal.next_open(at("2026-12-24T12:30:00+01:00")),
            Some(at("2026-12-28T08:00:00+01:00"))
        );
        let inside = at("2026-11-23T10:15:00+01:00");
        assert_eq!(cal.next_open(inside), Some(inside));
    }

    #[test]
    fn a_calendar_without_hours_has_no_due_time() {
        let cal = Calendar::new("never", "UTC", Vec::<(&str, Vec<&str>)>::new()).unwrap();
        assert_eq!(cal.add_business(at("2026-01-01T00:00:00Z"), 60), None);
        assert_eq!(
            cal.business_between(at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z")),
            0
        );
    }

    mod oracle {
        //! The arithmetic against a deliberately naive oracle that steps minute by minute
        //! and asks `is_open` about each one.
        use super::*;
        use proptest::prelude::*;

        use crate::calendar::naive::{due_time as naive_add, open_seconds as naive_between};

        fn interval() -> impl Strategy<Value = String> {
            // Whole quarter hours, sometimes overnight, sometimes around 02:00-03:00.
            (0u16..96, 1u16..96).prop_map(|(s, len)| {
                let e = (s + len) % 96;
                let hm = |q: u16| format!("{:02}:{:02}", q / 4, q % 4 * 15);
                format!("{}-{}", hm(s), if e == 0 { "24:00".into() } else { hm(e) })
            })
        }

        fn calendar() -> impl Strategy<Value = Calendar> {
            let zone = prop::sample::select(vec!["Europe/Vienna", "America/New_York", "UTC"]);
            let days =
                prop::sample::select(vec!["mon-fri", "sat", "sun", "mon,wed", "fri-mon", "tue"]);
            let holidays = prop::collection::vec(
                prop::sample::select(vec![
                    "03-08", "03-29", "10-25", "11-01", "easter", "easter+1", "12-24", "03-30",
                ]),
                0..3,
            );
            (
                zone,
                prop::collection::vec((days, interval()), 1..4),
                holidays,
                any::<bool>(),
            )
                .prop_filter_map(
                    "overlapping hours",
                    |(zone, hours, holidays, always)| {
                        let hours: Vec<(&str, Vec<String>)> = if always {
                            vec![("mon-sun", vec!["00:00-24:00".to_owned()])]
                        } else {
                            hours.into_iter().map(|(d, i)| (d, vec![i])).collect()
                        };
                        let cal = Calendar::new(
                            "random",
                            zone,
                            hours
                                .iter()
                                .map(|(d, i)| (*d, i.iter().map(String::as_str))),
                        )
                        .ok()?;
                        let special = holidays.iter().enumerate().map(|(k, h)| {
                            let date = DateSpec::parse(h).unwrap();
                            if k == 1 {
                                SpecialDay::with_hours(date, "short", ["09:00-11:30"]).unwrap()
                            } else {
                                SpecialDay::closed(date, "holiday")
                            }
                        });
                        Some(cal.with_special_days(special))
                    },
                )
        }

        fn start() -> impl Strategy<Value = DateTime<Utc>> {
            // Minutes across 2026, weighted towards the clock-change weekends.
            prop_oneof![
                (0i64..365 * 1440)
                    .prop_map(|m| at("2026-01-01T00:00:00Z") + chrono::Duration::minutes(m)),
                (0i64..4 * 1440)
                    .prop_map(|m| at("2026-03-06T00:00:00Z") + chrono::Duration::minutes(m)),
                (0i64..4 * 1440)
                    .prop_map(|m| at("2026-03-27T00:00:00Z") + chrono::Duration::minutes(m)),
                (0i64..4 * 1440)
                    .prop_map(|m| at("2026-10-23T00:00:00Z") + chrono::Duration::minutes(m)),
                (0i64..4 * 1440)
                    .prop_map(|m| at("2026-10-30T00:00:00Z") + chrono::Duration::minutes(m)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn due_time_matches_the_minute_by_minute_oracle(
                cal in calendar(), start in start(), minutes in prop_oneof![0i64..600, 0i64..30_000]
            ) {
                let due = cal.add_business(start, minutes * 60).unwrap();
                prop_assert_eq!(due, naive_add(&cal, start, minutes));
                // And the inverse: exactly that much open time lies between.
                prop_assert_eq!(cal.business_between(start, due), minutes * 60);
            }

            #[test]
            fn elapsed_time_matches_the_oracle_and_pauses_add_up(
                cal in calendar(), a in start(), len in 0i64..40_000, cut in 0i64..40_000
            ) {
                let b = a + chrono::Duration::minutes(len);
                let whole = cal.business_between(a, b);
                prop_assert_eq!(whole, naive_between(&cal, a, b));
                // A pause splits the span in two; nothing is lost or counted twice.
                let m = a + chrono::Duration::minutes(cut.min(len));
                prop_assert_eq!(cal.business_between(a, m) + cal.business_between(m, b), whole);
            }
        }
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
